"""Per-example attack results and the run summary; JSONL / Parquet output written atomically."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from textrobust.data.atomic import atomic_path

STATUSES = ("succeeded", "failed", "skipped", "budget_exhausted")


@dataclass
class AttackResult:
    """One attacked example. ``status``: ``succeeded`` (prediction flipped), ``failed`` (search ended without
    success), ``skipped`` (the model was already wrong), ``budget_exhausted`` (query budget hit first)."""

    index: int
    original_text: str
    perturbed_text: str
    label: int
    original_pred: int
    perturbed_pred: int
    original_probs: list[float]
    perturbed_probs: list[float]
    modified_indices: list[int]
    num_words: int
    num_queries: int
    status: str

    @property
    def perturbed_fraction(self) -> float:
        return len(self.modified_indices) / self.num_words if self.num_words else 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class AttackReport:
    """All results of one :func:`run_attack` call plus timing; ``summary()`` gives the headline numbers."""

    results: list[AttackResult]
    elapsed_s: float
    attack_name: str = "custom"
    model_calls: int = 0  # predict_proba calls (one per lockstep step that needed the model)
    model_texts: int = 0  # texts actually sent to the model after the run-wide cache
    extra: dict[str, Any] = field(default_factory=dict)

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)

    def summary(self) -> dict[str, Any]:
        """Original accuracy, accuracy under attack, attack success rate (over examples the model got right),
        average % words perturbed (successes), average queries (non-skipped), examples/s."""
        n = len(self.results)
        ok = self.count("succeeded")
        attacked = [r for r in self.results if r.status != "skipped"]
        wins = [r for r in self.results if r.status == "succeeded"]
        return {
            "attack": self.attack_name,
            "num_examples": n,
            "succeeded": ok,
            "failed": self.count("failed"),
            "skipped": self.count("skipped"),
            "budget_exhausted": self.count("budget_exhausted"),
            "original_accuracy": len(attacked) / n if n else 0.0,
            "accuracy_under_attack": (len(attacked) - ok) / n if n else 0.0,
            "attack_success_rate": ok / len(attacked) if attacked else 0.0,
            "avg_words_perturbed_pct": 100.0 * sum(r.perturbed_fraction for r in wins) / len(wins) if wins else 0.0,
            "avg_queries": sum(r.num_queries for r in attacked) / len(attacked) if attacked else 0.0,
            "examples_per_s": n / self.elapsed_s if self.elapsed_s > 0 else float("inf"),
            "elapsed_s": self.elapsed_s,
            "model_texts": self.model_texts,
            "model_calls": self.model_calls,
        }

    def successful(self) -> list[AttackResult]:
        return [r for r in self.results if r.status == "succeeded"]

    def to_jsonl(self, path: str | os.PathLike) -> Path:
        """Write one JSON object per example (atomic: temp file + rename)."""
        path = Path(path)
        with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(r.to_dict(), ensure_ascii=False) + "\n" for r in self.results)
        return path

    def to_parquet(self, path: str | os.PathLike) -> Path:
        """Write the results as a Parquet table (atomic)."""
        import pandas as pd

        path = Path(path)
        df = pd.DataFrame([r.to_dict() for r in self.results], columns=list(AttackResult.__dataclass_fields__))
        with atomic_path(path) as tmp:
            df.to_parquet(tmp, index=False)
        return path


def read_results(path: str | os.PathLike) -> list[AttackResult]:
    """Read results written by :meth:`AttackReport.to_jsonl` or :meth:`AttackReport.to_parquet`."""
    path = Path(path)
    if path.suffix == ".parquet":
        import pandas as pd

        rows: Sequence[dict[str, Any]] = pd.read_parquet(path).to_dict("records")
        rows = [{k: (list(v) if hasattr(v, "tolist") else v) for k, v in row.items()} for row in rows]
        rows = [{k: ([x.item() if hasattr(x, "item") else x for x in v] if isinstance(v, list) else v)
                 for k, v in row.items()} for row in rows]
    else:
        with open(path, encoding="utf-8") as fh:
            rows = [json.loads(line) for line in fh if line.strip()]
    return [AttackResult(**{k: (int(v) if k in ("index", "label", "original_pred", "perturbed_pred",
                                                "num_words", "num_queries") else v)
                            for k, v in row.items()}) for row in rows]
