"""How long each unit of a plan will take, for ``--dry-run``: from measured runs where there are some, else from a
rough default.

A finished unit's ``done.json`` keeps the seconds of each phase (training, each evaluation) and what the phase
worked through (example-epochs of training, test examples per evaluation). Divided, they are rates; multiplied by
this plan's work, an estimate. The measured runs are a ``--pilot`` run directory, else the units this run directory
already finished (a resumed run, same machine). Without either, a default measured once on 2 shared CPU cores with a
MiniLM-size model is used, scaled by ``max_length``, and said to be rough; on a GPU there is no default.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..layout import RunLayout

#: Seconds per training example-epoch and per scored test example (attacks: per attacked example), and for an
#: evaluation with its own fixed set (a behaviour pack), for a MiniLM-size model at max_length 64 on 2 CPU cores:
#: the quickstart's measured phases (55 s for 1,860 example-epochs; clean accuracy 3.4 s for 310 examples;
#: DeepWordBug 16.6 s for 50 examples; the behaviour packs 2-7 s).
DEFAULT_CPU = {"train": 0.03, "evaluate": 0.011, "attack": 0.35, "fixed": 7.0}
DEFAULT_MAX_LENGTH = 64


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def _epochs(run_dir: Path) -> int | None:
    config = _read_json(RunLayout(run_dir).config_json) or {}
    epochs = (((config.get("model") or {}).get("train")) or {}).get("epochs")
    return int(epochs) if isinstance(epochs, int) else None


def _unit_metrics(done_path: Path) -> dict[str, float]:
    """``evaluation.metric -> value`` of a unit (for pilots written before ``done.json`` kept its work)."""
    rows = _read_json(done_path.with_name("metrics.json")) or []
    return {f"{r['evaluation']}.{r['metric']}": float(r["value"]) for r in rows if isinstance(r, dict)}


def measured_rates(run_dir: str | Path) -> dict[str, dict[str, float]] | None:
    """Rates from the finished units of ``run_dir``: ``{"train": {"per_example_epoch": s}, "<evaluation>":
    {"fixed": s, "per_example": s}}`` (medians over units; ``per_example`` where the phase's example count is known);
    None when it has no finished unit with timings."""
    root = Path(run_dir)
    epochs = _epochs(root)
    samples: dict[str, dict[str, list[float]]] = {}
    for done_path in sorted(root.glob("units/*/seed*/done.json")):
        done = _read_json(done_path)
        if not isinstance(done, dict) or not isinstance(done.get("phase_seconds"), dict):
            continue
        work = done.get("work") if isinstance(done.get("work"), dict) else None
        metrics = _unit_metrics(done_path) if work is None else {}
        for phase, seconds in done["phase_seconds"].items():
            if phase == "train":
                count = work.get("train_example_epochs") if work else None
                if count is None and work is None and epochs and "train.train_size" in metrics:
                    count = metrics["train.train_size"] * epochs
                if count:
                    samples.setdefault("train", {}).setdefault("per_example_epoch", []).append(seconds / count)
                continue
            if work is not None:
                count = (work.get("examples") or {}).get(phase, 0)
            else:  # an older pilot: the evaluation's own example count, if it reported one
                count = metrics.get(f"{phase}.n") or max(
                    (v for k, v in metrics.items() if k.startswith(f"{phase}:") and k.endswith(".n")), default=0
                )
            kinds = samples.setdefault(phase, {})
            kinds.setdefault("fixed", []).append(seconds)  # for a plan whose evaluation works on a set of its own
            if count:
                kinds.setdefault("per_example", []).append(seconds / count)
    if not samples:
        return None
    return {phase: {k: statistics.median(v) for k, v in kinds.items()} for phase, kinds in samples.items()}


def estimate_units(
    rows: list[dict[str, Any]],
    evaluations: Sequence[Any],
    n_test: int,
    *,
    epochs: int,
    max_length: int,
    device: str,
    pilot: str | Path | None = None,
    run_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Add ``estimated_seconds`` to each plan row (``train_examples`` for trained units) and return where the rates
    came from: ``{"source", "rough", "total_seconds", "note"}``.

    Example:
        >>> rows = [{"unit": "baseline/seed0", "train_examples": 1000}]
        >>> info = estimate_units(rows, [], 500, epochs=2, max_length=64, device="cpu")
        >>> rows[0]["estimated_seconds"], info["rough"]
        (60.0, True)
    """
    measured, source = None, "default"
    for candidate, name in ((pilot, "pilot"), (run_dir, "this run's finished units")):
        if candidate is not None and (rates := measured_rates(candidate)) is not None:
            measured, source = rates, (f"pilot {candidate}" if name == "pilot" else name)
            break
    default = DEFAULT_CPU if device == "cpu" else None
    scale = max_length / DEFAULT_MAX_LENGTH
    missing: set[str] = set()

    def phase_seconds(phase: str, count: int | None, default_key: str) -> float | None:
        got = (measured or {}).get(phase, {})
        if count is None and "fixed" in got:
            return got["fixed"]
        if count is not None and "per_example" in got:
            return got["per_example"] * count
        if default is None:
            missing.add(phase)
            return None
        if measured is not None:
            missing.add(phase)
        return default["fixed"] if count is None else default[default_key] * scale * count

    total: float | None = 0.0
    for row in rows:
        parts: list[float | None] = []
        if "train_examples" in row:
            got = (measured or {}).get("train", {})
            if "per_example_epoch" in got:
                parts.append(got["per_example_epoch"] * row["train_examples"] * epochs)
            elif default is not None:
                if measured is not None:
                    missing.add("train")
                parts.append(default["train"] * scale * row["train_examples"] * epochs)
            else:
                missing.add("train")
                parts.append(None)
        for ev in evaluations:
            count = ev.examples_scored(n_test)
            parts.append(phase_seconds(ev.name, count, "attack" if ev.kind == "attack" else "evaluate"))
        seconds = None if any(p is None for p in parts) else round(sum(p for p in parts if p is not None), 1)
        row["estimated_seconds"] = seconds
        total = None if total is None or seconds is None else total + seconds
    rough = measured is None or bool(missing)
    if measured is None and default is None:
        note = f"no default for device {device}: pass --pilot RUN_DIR (a finished run on this machine)"
    elif measured is None:
        note = (
            "rough default (a MiniLM-size model on 2 CPU cores, scaled by max_length); pass --pilot RUN_DIR "
            "(a finished run on this machine) for a measured estimate"
        )
    else:
        note = "measured rates scaled to this plan's examples" + (
            f"; not measured there, so rough defaults: {', '.join(sorted(missing))}" if missing else ""
        )
    return {
        "source": source,
        "rough": rough,
        "total_seconds": None if total is None else round(total, 1),
        "note": note,
    }


__all__ = ["DEFAULT_CPU", "estimate_units", "measured_rates"]
