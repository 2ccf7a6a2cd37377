"""Per-example attack results and the run summary; JSONL / Parquet output written atomically.

One vocabulary everywhere: the summary's ``success_rate`` is the results table's ``success_rate``, and an attacked
example is written as one record schema (:meth:`AttackResult.to_record`) both by ``textrobust attack -o`` and in a
run directory's ``examples.jsonl``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from textrobust.data.atomic import atomic_path
from textrobust.data.records import example_record

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
    # Filled by textrobust.adversarial.assess for successful attacks: quality columns (similarity, modification
    # rates, perplexity, edit summary) and the validity judge's {"p", "verdict", "judge"}.
    quality: dict[str, Any] = field(default_factory=dict)
    judge: dict[str, Any] | None = None

    @property
    def valid(self) -> bool | None:
        """Whether a successful attack counts as valid (None: no judge ran on it)."""
        return None if self.judge is None else bool(self.judge.get("valid"))

    @property
    def perturbed_fraction(self) -> float:
        return len(self.modified_indices) / self.num_words if self.num_words else 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_record(
        self, label_names: Sequence[str] | None = None, *, evaluation: str = "attack", recipe: str = "custom"
    ) -> dict[str, Any]:
        """This result in the per-example record schema (:mod:`textrobust.data.records`): labels as names
        (``label_names``; index strings without), ``model_failed`` = the attack succeeded, the report's columns in
        ``info`` and the rest, lossless, under ``attack``.

        Example:
            >>> r = AttackResult(0, "a good film", "a g00d film", 1, 1, 0, [0.1, 0.9], [0.6, 0.4], [1], 3, 7,
            ...                  "succeeded")
            >>> rec = r.to_record(["neg", "pos"], evaluation="attack:deepwordbug", recipe="deepwordbug")
            >>> rec["model_failed"], rec["info"]["status"], rec["label"], rec["pred"], rec["info"]["queries"]
            (True, 'succeeded', 'pos', 'neg', 7)
        """

        def name(i: int) -> str:
            return str(label_names[i]) if label_names is not None else str(i)

        rec = example_record(
            evaluation,
            str(self.index),
            model_failed=self.status == "succeeded",
            original=self.original_text,
            text=self.perturbed_text,
            label=name(self.label),
            pred_original=name(self.original_pred),
            pred=name(self.perturbed_pred),
            conf_original=max(self.original_probs, default=0.0),
            conf=max(self.perturbed_probs, default=0.0),
            recipe=recipe,
            status=self.status,
            queries=self.num_queries,
            words_perturbed_pct=round(100.0 * self.perturbed_fraction, 2),
            **_shown(self.quality, self.judge),
        )
        rec["attack"] = {
            "label_id": self.label,
            "pred_original_id": self.original_pred,
            "pred_id": self.perturbed_pred,
            "probs_original": [float(p) for p in self.original_probs],
            "probs": [float(p) for p in self.perturbed_probs],
            "modified_indices": [int(i) for i in self.modified_indices],
            "num_words": self.num_words,
        }
        if self.quality:
            rec["attack"]["quality"] = dict(self.quality)
        if self.judge is not None:
            rec["attack"]["judge"] = dict(self.judge)
        return rec

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> AttackResult:
        """Inverse of :meth:`to_record`."""
        if "attack" not in rec or "info" not in rec:
            from textrobust.errors import DataError

            raise DataError(
                "not an attack record (no 'attack' and 'info' fields; files of textrobust 0.1 held flat fields): "
                "write it again with 'textrobust attack -o'"
            )
        a, info = rec["attack"], rec["info"]
        return cls(
            int(rec["item"]),
            rec["original"],
            rec["text"],
            int(a["label_id"]),
            int(a["pred_original_id"]),
            int(a["pred_id"]),
            _plain(a["probs_original"]),
            _plain(a["probs"]),
            [int(i) for i in a["modified_indices"]],
            int(a["num_words"]),
            int(info["queries"]),
            info["status"],
            _plain(a.get("quality") or {}),
            _plain(a["judge"]) if a.get("judge") is not None else None,
        )


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
            "success_rate": ok / len(attacked) if attacked else 0.0,
            "avg_words_perturbed_pct": 100.0 * sum(r.perturbed_fraction for r in wins) / len(wins) if wins else 0.0,
            "avg_queries": sum(r.num_queries for r in attacked) / len(attacked) if attacked else 0.0,
            "examples_per_s": n / self.elapsed_s if self.elapsed_s > 0 else float("inf"),
            "elapsed_s": self.elapsed_s,
            "model_texts": self.model_texts,
            "model_calls": self.model_calls,
            **_validity_summary(self.results),
        }

    def successful(self) -> list[AttackResult]:
        return [r for r in self.results if r.status == "succeeded"]

    def records(self, label_names: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Every result as a record (:meth:`AttackResult.to_record`), evaluation ``attack:<attack name>``."""
        return [
            r.to_record(label_names, evaluation=f"attack:{self.attack_name}", recipe=self.attack_name)
            for r in self.results
        ]

    def to_jsonl(self, path: str | os.PathLike, label_names: Sequence[str] | None = None) -> Path:
        """Write one record per example (atomic: temp file + rename); pass the model's ``label_names`` to
        write labels as names."""
        path = Path(path)
        with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in self.records(label_names))
        return path

    def to_parquet(self, path: str | os.PathLike, label_names: Sequence[str] | None = None) -> Path:
        """Write the records as a Parquet table (atomic; ``info`` and ``attack`` become struct columns)."""
        import pandas as pd

        path = Path(path)
        df = pd.DataFrame(self.records(label_names))
        with atomic_path(path) as tmp:
            df.to_parquet(tmp, index=False)
        return path


#: Quality columns copied into a record's ``info`` (the report's example tables show them).
_INFO_QUALITY = ("similarity", "word_mod_pct", "char_mod_pct", "ppl_log_ratio", "edit_summary")


def _shown(quality: dict[str, Any], judge: dict[str, Any] | None) -> dict[str, Any]:
    out = {k: quality[k] for k in _INFO_QUALITY if k in quality}
    if judge is not None:
        out["judge"] = judge.get("verdict")
        out["judge_p"] = round(float(judge.get("p", float("nan"))), 3)
    return out


def _validity_summary(results: Sequence[AttackResult]) -> dict[str, Any]:
    """Valid-ASR and accuracy under valid attack (when a judge ran) and mean quality columns over successes."""
    wins = [r for r in results if r.status == "succeeded"]
    out: dict[str, Any] = {}
    numeric = sorted({k for r in wins for k, v in r.quality.items() if isinstance(v, (int, float))})
    for k in numeric:
        vals = [float(r.quality[k]) for r in wins if k in r.quality]
        out[f"avg_{k}"] = sum(vals) / len(vals) if vals else float("nan")
    judged = [r for r in wins if r.judge is not None]
    if judged:
        n = len(results)
        attacked = [r for r in results if r.status != "skipped"]
        valid = sum(bool(r.valid) for r in judged)
        out["valid_success_rate"] = valid / len(attacked) if attacked else 0.0
        out["accuracy_under_valid_attack"] = (len(attacked) - valid) / n if n else 0.0
        out["judge_rejected"] = sum((r.judge or {}).get("verdict") == "rejected" for r in judged)
        out["judge_abstained"] = sum((r.judge or {}).get("verdict") == "abstained" for r in judged)
    return out


def read_results(path: str | os.PathLike) -> list[AttackResult]:
    """Read results written by :meth:`AttackReport.to_jsonl` or :meth:`AttackReport.to_parquet`."""
    path = Path(path)
    if path.suffix == ".parquet":
        import pandas as pd

        rows: Sequence[dict[str, Any]] = pd.read_parquet(path).to_dict("records")
    else:
        with open(path, encoding="utf-8") as fh:
            rows = [json.loads(line) for line in fh if line.strip()]
    return [AttackResult.from_record(row) for row in rows]


def _plain(value: Any) -> Any:
    """Numpy arrays and scalars from Parquet as plain lists and numbers (dicts recursively)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, list):
        return [x.item() if hasattr(x, "item") else x for x in value]
    return value
