"""Goal functions: what counts as a successful attack, and how close a candidate is.

Goals are stateless: ``score(probs, label)`` (higher is closer to the goal) and ``done(probs, label)`` take one
probability row or a 2-D array of rows. The query budget is enforced by the runner, not here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from textrobust.errors import ConfigError


@dataclass(frozen=True)
class UntargetedClassification:
    """Succeed when the predicted label differs from the true one (with ``1 - p[true] >= min_confidence``)."""

    requires_gradients: ClassVar[bool] = False

    min_confidence: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_confidence < 1.0:
            raise ConfigError(f"min_confidence must be in [0, 1), got {self.min_confidence}")

    def score(self, probs: np.ndarray, label: int) -> np.ndarray:
        return 1.0 - np.asarray(probs)[..., label]

    def done(self, probs: np.ndarray, label: int) -> np.ndarray:
        probs = np.asarray(probs)
        ok = probs.argmax(axis=-1) != label
        if self.min_confidence > 0:
            ok &= (1.0 - probs[..., label]) >= self.min_confidence
        return ok


@dataclass(frozen=True)
class TargetedClassification:
    """Succeed when the model predicts ``target`` (with ``p[target] >= min_confidence``)."""

    requires_gradients: ClassVar[bool] = False

    target: int
    min_confidence: float = 0.0

    def __post_init__(self) -> None:
        if self.target < 0:
            raise ConfigError(f"target must be a label index >= 0, got {self.target}")
        if not 0.0 <= self.min_confidence < 1.0:
            raise ConfigError(f"min_confidence must be in [0, 1), got {self.min_confidence}")

    def score(self, probs: np.ndarray, label: int) -> np.ndarray:
        return np.asarray(probs)[..., self.target]

    def done(self, probs: np.ndarray, label: int) -> np.ndarray:
        probs = np.asarray(probs)
        ok = probs.argmax(axis=-1) == self.target
        if self.min_confidence > 0:
            ok &= probs[..., self.target] >= self.min_confidence
        return ok
