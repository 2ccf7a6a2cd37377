"""The summary table, the headline, verdicts and per-evaluation detail tables, all driven by the metric metadata in
``summary.json`` (label, unit, range, direction, headline, role): a new evaluation appears here untouched.

The headline claims no more than the statistics: it names, per condition, the judged metrics whose comparison with
the baseline detected a difference (after Holm's correction), and counts the rest as no detectable change. There is
no composite score and no "best" condition: no test compares conditions other than with the baseline.
"""

from __future__ import annotations

from typing import Any

from .fmt import diff_text, is_number, judged_kind, verdict

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
            }
        )
    for row in table:
        row["verdicts"] = verdicts(row, cols, confidence)
    return table


def findings(table: list[dict[str, Any]], cols: list[dict[str, Any]], baseline: str) -> list[dict[str, Any]]:
    """The headline, per condition: the judged metrics whose comparison with the baseline detected a difference
    (``better`` / ``worse``: label and change), how many showed no detectable change, how many have no test, and
    whether the detections are about these training runs only (fewer seeds than a claim about the condition needs).

    Example:
        >>> cell = {"mean": 0.8, "diff_mean": -0.05, "verdict": "worse"}
        >>> col = {"key": "a.acc", "label": "accuracy", "unit": "share", "role": "clean", "higher_is_better": True}
        >>> rows = [{"name": "base", "is_baseline": True, "cells": {}}, {"name": "x", "is_baseline": False,
        ...          "cells": {"a.acc": cell}}]
        >>> findings(rows, [col], "base")[0]["text"]
        'x: worse accuracy (−5.0 pts) than base'
    """
    judged = [c for c in cols if c.get("role") in JUDGED_ROLES and c.get("higher_is_better") is not None]
    out = []
    for row in table:
        if row["is_baseline"]:
            continue
        found: dict[str, Any] = {"condition": row["name"], "better": [], "worse": [], "no_change": 0, "untested": 0}
        runs_only = False
        for col in judged:
            cell = row["cells"].get(col["key"])
            if not cell or not is_number(cell.get("mean")):
                continue
            kind, runs = judged_kind(cell, col.get("higher_is_better"))
            if kind in ("better", "worse"):
                found[kind].append(
                    {"key": col["key"], "label": col["label"], "change": diff_text(cell.get("diff_mean"), col["unit"])}
                )
                runs_only = runs_only or runs
            elif kind == "no_change":
                found["no_change"] += 1
            else:
                found["untested"] += 1
        found["runs_only"] = runs_only
        found["n_seeds"] = row.get("n_seeds")
        found["text"] = _finding_text(found, baseline)
        out.append(found)
    return out


def _finding_text(f: dict[str, Any], baseline: str) -> str:
    def listed(items: list[dict[str, str]]) -> str:
        return ", ".join(f"{i['label']} ({i['change']})" for i in items)

    parts = [f"{kind} {listed(f[kind])}" for kind in ("better", "worse") if f[kind]]
    tested = len(f["better"]) + len(f["worse"]) + f["no_change"]
    if parts:
        text = f"{f['condition']}: " + "; ".join(parts) + f" than {baseline}"
        if f["runs_only"]:
            seeds = f"{f['n_seeds']} seeds are" if f.get("n_seeds") else "its seeds are"
            text += f" on these training runs ({seeds} too few to say it of {f['condition']} in general)"
        if f["no_change"]:
            text += f"; no detectable change in the {f['no_change']} other judged metric{'s' * (f['no_change'] > 1)}"
    elif tested:
        text = f"{f['condition']}: no detectable change from {baseline} in any of the {tested} judged metrics"
    else:
        text = f"{f['condition']}: no judged metric could be compared with {baseline}"
    if f["untested"]:
        text += f"; {f['untested']} without a test (no interval)"
    return text


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
