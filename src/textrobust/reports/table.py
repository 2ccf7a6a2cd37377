"""The summary table, verdicts, "best" badges and per-evaluation detail tables, all driven by the metric metadata
in ``summary.json`` (label, unit, range, direction, headline, role): a new evaluation appears here untouched."""

from __future__ import annotations

from typing import Any

from .fmt import is_number, verdict

CELL_FIELDS = (
    "n_seeds",
    "n_examples",
    "mean",
    "ci_low",
    "ci_high",
    "ci_method",
    "diff_mean",
    "diff_ci_low",
    "diff_ci_high",
    "diff_includes_zero",
    "diff_method",
    "diff_p",
    "diff_p_adjusted",
    "verdict",
    "these_runs",
    "family_size",
    "diff_mde",
    "seeds_needed",
    "examples_needed",
    "by_seed",
    "seed_view",
    "models_fixed",
    "scope",
    "diff_n_seeds",
    "diff_mde_low",
    "diff_mde_high",
    "collapsed_seeds",
    "collapsed_left_out",
)
#: The order verdicts are listed in: the questions a reader asks first come first.
ROLE_ORDER = {"robustness": 0, "clean": 1, "calibration": 2, "cost": 3, "info": 4}
JUDGED_ROLES = ("robustness", "clean", "calibration")


class Cells:
    """Summary rows by (condition, evaluation, metric), returned as report cells (JSON-safe copies)."""

    def __init__(self, rows: list[dict[str, Any]], clean: Any) -> None:
        self._index = {(str(r["condition"]), str(r["evaluation"]), str(r["metric"])): r for r in rows}
        self._clean = clean

    def __call__(self, condition: str, evaluation: str, metric: str) -> dict[str, Any] | None:
        row = self._index.get((condition, evaluation, metric))
        return None if row is None else {k: _tree(row.get(k), self._clean) for k in CELL_FIELDS}

    def conditions(self) -> list[str]:
        return list(dict.fromkeys(c for c, _, _ in self._index))


def columns(metrics: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One column per headline metric, in the order the evaluations were declared."""
    return [{**m, "key": f"{m['evaluation']}.{m['metric']}"} for m in metrics if m.get("headline")]


def summary_rows(
    conditions: list[str], baseline: str, cols: list[dict[str, Any]], cells: Cells, confidence: float
) -> list[dict[str, Any]]:
    table = []
    for name in conditions:
        row_cells = {c["key"]: cells(name, c["evaluation"], c["metric"]) for c in cols}
        counts = [c["n_seeds"] for c in row_cells.values() if c and is_number(c.get("n_seeds"))]
        table.append(
            {
                "name": name,
                "is_baseline": name == baseline,
                "cells": row_cells,
                "n_seeds": int(max(counts)) if counts else None,
                "verdicts": [],
                "is_best": False,
            }
        )
    mark_best_cells(table, cols)
    for row in table:
        row["verdicts"] = verdicts(row, cols, confidence)
    return table


def mark_best_cells(table: list[dict[str, Any]], cols: list[dict[str, Any]]) -> None:
    """Flag the best mean in every judged column (only when at least two conditions have a value)."""
    for col in cols:
        direction = col.get("higher_is_better")
        values = [(r["cells"][col["key"]] or {}).get("mean") for r in table]
        numbers = [v for v in values if is_number(v)]
        judged = direction is not None and col.get("role") in JUDGED_ROLES and len(numbers) >= 2
        top = (max(numbers) if direction else min(numbers)) if judged else None
        for row, value in zip(table, values, strict=True):
            if row["cells"][col["key"]] is not None:
                row["cells"][col["key"]]["is_best"] = top is not None and value == top


def best_condition(table: list[dict[str, Any]], cols: list[dict[str, Any]]) -> dict[str, Any]:
    """The most robust condition: the highest mean over the headline robustness metrics that are shares, each
    oriented so that higher is better (a failure rate counts as 1 - rate); clean accuracy when there are none."""
    keys = [
        c
        for c in cols
        if c.get("role") == "robustness" and c.get("unit") == "share" and c.get("higher_is_better") is not None
    ]
    if keys:
        criterion = (
            "mean of the headline robustness scores (" + ", ".join(c["label"] for c in keys) + ")"
            if len(keys) > 1
            else keys[0]["label"]
        )
    else:
        keys = [c for c in cols if c.get("role") == "clean" and c.get("unit") == "share"][:1]
        criterion = keys[0]["label"] if keys else "no comparable metric"
    scores = {}
    for row in table:
        values = [(row["cells"].get(c["key"]) or {}).get("mean") for c in keys]
        if keys and all(is_number(v) for v in values):
            oriented = [v if c["higher_is_better"] is not False else 1 - v for c, v in zip(keys, values, strict=True)]
            scores[row["name"]] = sum(oriented) / len(oriented)
    winner = max(scores, key=lambda name: scores[name]) if len(scores) >= 2 else None
    for row in table:
        row["is_best"] = row["name"] == winner
    return {"condition": winner, "criterion": criterion, "score": scores.get(winner) if winner else None}


def verdicts(row: dict[str, Any], cols: list[dict[str, Any]], confidence: float) -> list[dict[str, str]]:
    """One plain-language verdict per judged headline column (robustness first, then clean, then calibration)."""
    if row["is_baseline"]:
        return [{"key": "baseline", "kind": "baseline", "text": "reference condition: the others are compared to it"}]
    out = []
    for col in sorted(cols, key=lambda c: ROLE_ORDER.get(c.get("role", "info"), 9)):
        if col.get("role") not in JUDGED_ROLES or col.get("higher_is_better") is None:
            continue
        label = col["label"]
        v = verdict(
            row["cells"][col["key"]],
            what=label,
            better=f"better {label}",
            worse=f"worse {label}",
            confidence=confidence,
            unit=col.get("unit", "share"),
            higher_is_better=col["higher_is_better"],
        )
        out.append({"key": col["key"], **v})
    return out


def details(metrics: list[dict[str, Any]], conditions: list[str], cells: Cells) -> list[dict[str, Any]]:
    """Every metric, grouped by the evaluation entry that emitted it: ``[{"group", "kind", "metrics": [...]}]``
    where each metric carries a cell per condition."""
    groups: dict[str, dict[str, Any]] = {}
    for m in metrics:
        g = groups.setdefault(
            m.get("group") or m["evaluation"],
            {"group": m.get("group") or m["evaluation"], "kind": m.get("kind", ""), "metrics": []},
        )
        g["metrics"].append(
            {
                **m,
                "key": f"{m['evaluation']}.{m['metric']}",
                "cells": {c: cells(c, m["evaluation"], m["metric"]) for c in conditions},
            }
        )
    return list(groups.values())


def _tree(value: Any, clean: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _tree(v, clean) for k, v in value.items()}
    if isinstance(value, list):
        return [_tree(v, clean) for v in value]
    return clean(value)
