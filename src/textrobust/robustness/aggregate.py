"""Collect finished units into the run's tables: ``results.csv/parquet`` (tidy), ``summary.json`` (statistics,
metric metadata, unit status)."""

from __future__ import annotations

import json
import logging
from typing import Any

from .evaluations import MetricInfo
from .unit import Unit, Workspace, write_json

log = logging.getLogger(__name__)

RESULT_COLUMNS = ["condition", "seed", "evaluation", "metric", "value"]


def results_table(ws: Workspace, units: list[Unit]) -> Any:
    """The tidy table of every finished unit (``condition, seed, evaluation, metric, value``)."""
    import pandas as pd

    rows: list[dict[str, Any]] = []
    for u in units:
        if ws.is_done(u):
            rows += json.loads(ws.layout.unit(u.condition, u.seed).metrics.read_text())
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)


def outcomes_table(ws: Workspace, units: list[Unit]) -> Any:
    """Per-example outcomes of every finished unit: ``condition, seed, evaluation, metric, item, value``."""
    import pandas as pd

    parts = []
    for u in units:
        path = ws.layout.unit(u.condition, u.seed).outcomes
        if ws.is_done(u) and path.exists():
            frame = pd.read_parquet(path)
            parts.append(frame.assign(condition=u.condition, seed=u.seed))
    columns = ["condition", "seed", "evaluation", "metric", "item", "value"]
    return pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)


def metric_metadata(ws: Workspace, table: Any) -> list[dict[str, Any]]:
    """Metadata of every metric in ``table``, in declaration order (the order of the spec's evaluations)."""
    present = set(zip(table.evaluation, table.metric, strict=True))
    infos = [m for m in ws.metric_infos() if (m.evaluation, m.metric) in present]
    known = {(m.evaluation, m.metric) for m in infos}
    for ev, metric in sorted(present - known):  # a metric nobody declared (an evaluation bug): shown, never judged
        log.warning("metric %s.%s has no metadata; it is reported as a plain number", ev, metric)
        infos.append(
            MetricInfo(
                ev, metric, f"{ev} {metric}", unit="score", range=(None, None), higher_is_better=None, role="info"
            )
        )
    return [m.to_dict() for m in infos]


def test_inputs(test: Any) -> dict[str, Any]:
    """The test set's identity: a digest of its texts and labels, its size and label names."""
    from .fingerprint import digest

    return {
        "test_digest": digest([list(test.texts), [int(y) for y in test.labels]]),
        "test_size": len(test),
        "labels": list(test.label_names),
    }


def aggregate(ws: Workspace, units: list[Unit]) -> Any:
    """Write ``results.csv``, ``results.parquet`` and ``summary.json``; return the tidy table."""
    from ..data import save_frame
    from ..stats.crossed import CONFIDENCE, MIN_SEEDS
    from ..stats.summary import METHOD, METHOD_FIXED, family_sizes, summarise

    run = ws.layout
    table = results_table(ws, units)
    save_frame(table, run.results_csv)
    save_frame(table, run.results_parquet)
    outcomes = outcomes_table(ws, units)
    save_frame(outcomes, run.outcomes)
    failed = [
        {"unit": f["unit"], "error": f["error"], "attempts": f.get("attempts", 1)}
        for u in units
        if not ws.is_done(u) and (f := ws.failure(u))
    ]
    done = sum(ws.is_done(u) for u in units)
    metrics = metric_metadata(ws, table)
    fixed = ws.exp.fixed_models
    rows = summarise(table, ws.exp.baseline, outcomes, metrics, models_fixed=fixed) if len(table) else []
    sizes = family_sizes(rows)
    write_json(
        run.summary,
        {
            "confidence": CONFIDENCE,
            "method": METHOD_FIXED if fixed else METHOD,
            "min_seeds": MIN_SEEDS,
            "models_fixed": fixed,
            "baseline": ws.exp.baseline,
            "correction": {
                "method": "holm",
                "alpha": round(1 - CONFIDENCE, 10),
                "family": sizes["general"],
                "scope": "every judged headline comparison with the baseline (the report's verdicts) whose "
                "interval is over seeds and test examples",
                "family_test_set": sizes["test_set"],
                "scope_test_set": "judged comparisons whose interval is over seeds only (ECE and other metrics "
                "without per-example outcomes): claims about this test set, corrected separately",
            },
            "rows": rows,
            "metrics": metrics,
            # What the runs were scored on, so that `textrobust compare` can refuse runs on different data.
            "inputs": test_inputs(ws.data.test),
            "units": {"total": len(units), "done": done, "failed": failed, "missing": len(units) - done - len(failed)},
        },
    )
    return table
