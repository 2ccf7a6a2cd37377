"""Fine-tuning hyper-parameters: one set of defaults for the library, the CLI and experiment specs (standard library
only, so the CLI can show them in ``--help`` without loading torch)."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError


@dataclass(frozen=True)
class TrainConfig:
    """Fine-tuning hyper-parameters (stored next to saved weights).

    ``early_stopping_patience``: stop after this many epochs without a better eval accuracy (needs an eval
    split); ``None`` trains all epochs.
    """

    epochs: int = 3
    lr: float = 5e-5
    batch_size: int = 32
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    max_grad_norm: float = 1.0
    seed: int = 0
    early_stopping_patience: int | None = None

    def __post_init__(self) -> None:
        checks = {
            "epochs": self.epochs >= 1,
            "lr": self.lr > 0,
            "batch_size": self.batch_size >= 1,
            "weight_decay": self.weight_decay >= 0,
            "warmup_ratio": 0 <= self.warmup_ratio < 1,
            "max_grad_norm": self.max_grad_norm > 0,
        }
        for name, ok in checks.items():
            if not ok:
                raise ConfigError(f"invalid training parameter {name}={getattr(self, name)!r}")
        if self.early_stopping_patience is not None and self.early_stopping_patience < 1:
            raise ConfigError("early_stopping_patience must be >= 1 or None")
