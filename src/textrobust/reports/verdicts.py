"""The verdict table a person reads at a glance: one row per judged metric — metric (with its direction), change,
interval, verdict, and what would decide it — from a comparison's JSON (``compare.json``, ``fix.json``).

Pure formatting of numbers the statistics already computed (nothing is re-estimated); the HTML report, the
Markdown summary and the JUnit file all read these rows, so they always say the same thing. Any report with
``summary.json``-style rows can reuse :func:`comparison_row` and :func:`gate_row`.

Example:
    >>> row = gate_row({"label": "clean accuracy", "unit": "share", "delta": 0.01, "estimate": -0.002,
    ...                 "lower": -0.008, "upper": 0.004, "verdict": "pass", "mde": 0.025, "method": "examples"})
    >>> row["verdict"], row["interval"]
    ('non-inferior', 'lower bound −0.8 pts (one-sided 95%)')
"""

from __future__ import annotations

from typing import Any

from .fmt import diff_text, is_number, p_text

#: The arrow each direction reads with (↑ higher is better, ↓ lower is better).
ARROWS = {True: "\u2191", False: "\u2193"}
GATE_WORDS = {"pass": "non-inferior", "fail": "worse by more than the margin", "inconclusive": "inconclusive"}
VERDICT_WORDS = {
    "better": "better",
    "worse": "worse",
    "no_change": "no detectable change",
    "too_few_seeds": "too few seeds",
    "missing": "not measured",
}


def arrow(higher_is_better: Any) -> str:
    return ARROWS.get(higher_is_better, "") if isinstance(higher_is_better, bool) else ""


def metric_name(label: str, higher_is_better: Any) -> str:
    """``'clean accuracy ↑'``: every metric with its direction."""
    a = arrow(higher_is_better)
    return f"{label} {a}" if a else label


def _bare(value: Any, unit: str) -> str:
    return diff_text(value, unit).lstrip("+")


def interval_text(low: Any, high: Any, unit: str) -> str:
    """``[−1.2, +3.4] pts`` (shares in points), or ``–`` without an interval."""
    if not (is_number(low) and is_number(high)):
        return "\u2013"
    lo, hi = diff_text(low, unit), diff_text(high, unit)
    if unit in ("share", "percent"):
        return f"[{lo.removesuffix(' pts')}, {hi.removesuffix(' pts')}] pts"
    return f"[{lo}, {hi}]"


def _decide(cell: dict[str, Any], unit: str) -> str:
    """What would settle a comparison that is not settled, or the evidence of one that is."""
    verdict = cell.get("verdict")
    q, family = cell.get("diff_p_adjusted"), cell.get("family_size")
    if verdict in ("better", "worse"):
        over = f" over {family}" if is_number(family) else ""
        return f"Holm-adjusted {p_text(q)}{over}" if is_number(q) else ""
    parts = []
    if is_number(cell.get("diff_mde")):
        parts.append(f"detects {_bare(cell['diff_mde'], unit)} or more (80% power)")
    diff = cell.get("diff_mean")
    if is_number(cell.get("seeds_needed")) and is_number(diff) and diff:
        parts.append(f"~{cell['seeds_needed']} seeds would detect {diff_text(diff, unit)}")
    elif is_number(cell.get("examples_needed")) and is_number(diff) and diff:
        parts.append(f"~{cell['examples_needed']:,} test examples would detect {diff_text(diff, unit)}")
    if verdict == "too_few_seeds":
        parts.insert(0, "3 or more seeds")
    return "; ".join(parts)


def comparison_row(
    cell: dict[str, Any], *, label: str, unit: str, higher_is_better: Any, interval: tuple[Any, Any] | None = None
) -> dict[str, str]:
    """One row from a ``summary.json``-style difference (``diff_mean``, ``diff_ci_low/high``, ``verdict``,
    ``diff_p_adjusted``, ``family_size``, ``diff_mde``, ``seeds_needed``, ``examples_needed``); ``interval``
    replaces the 95% interval (e.g. by a simultaneous one)."""
    low, high = interval if interval is not None else (cell.get("diff_ci_low"), cell.get("diff_ci_high"))
    verdict = cell.get("verdict") or "missing"
    word = VERDICT_WORDS.get(verdict, verdict)
    if verdict == "too_few_seeds" and cell.get("these_runs"):
        word = f"on these runs: {VERDICT_WORDS.get(cell['these_runs'], cell['these_runs'])}"
    return {
        "metric": metric_name(label, higher_is_better),
        "change": diff_text(cell.get("diff_mean"), unit),
        "interval": interval_text(low, high, unit),
        "verdict": word,
        "kind": verdict,
        "decide": _decide(cell, unit),
    }


def gate_row(g: dict[str, Any]) -> dict[str, str]:
    """One row for a non-inferiority gate (:mod:`textrobust.stats.gate`): the change in the good direction, the
    one-sided bound that decided, and the margin and MDE that would decide an inconclusive gate."""
    unit, delta = g.get("unit", "share"), g.get("delta")
    verdict = g.get("verdict") or "inconclusive"
    margin = f"margin \u2212{_bare(delta, unit)}"
    if verdict == "fail":
        bound = f"upper bound {diff_text(g.get('upper'), unit)} (one-sided 95%)"
        decide = f"{margin}: worse beyond it with 95% confidence"
    else:
        bound = f"lower bound {diff_text(g.get('lower'), unit)} (one-sided 95%)"
        decide = f"{margin}"
        if verdict == "inconclusive":
            mde = g.get("mde")
            decide += f"; catches a worsening of {_bare(mde, unit)} or more (80% power)" if is_number(mde) else ""
            needed = g.get("needed") or {}
            if is_number(needed.get("seeds")):
                decide += f"; ~{needed['seeds']} seeds would decide it"
            elif is_number(needed.get("examples")):
                decide += f"; ~{needed['examples']:,} test examples would decide it"
    if g.get("lower") is None and g.get("upper") is None:
        bound, decide = "\u2013", "no interval: 3 or more seeds, or per-example outcomes, are needed"
    return {
        "metric": metric_name(str(g.get("label") or g.get("metric")), True) + " (gate)",
        "change": diff_text(g.get("estimate"), unit),
        "interval": bound,
        "verdict": GATE_WORDS.get(verdict, verdict),
        "kind": verdict,
        "decide": decide,
    }


def fix_rows(result: dict[str, Any]) -> list[dict[str, str]]:
    """The fix report's verdict table: the clean-accuracy gate, then the targeted categories, then the others
    (changes in each metric's own direction; intervals simultaneous over the categories)."""
    rows = [gate_row(result["clean"])] if result.get("clean") else []
    ordered = sorted(result.get("verdicts", []), key=lambda v: (not v["targeted"], v["name"]))
    for v in ordered:
        cell = {**v, "family_size": result.get("family_size")}
        row = comparison_row(
            cell,
            label=v["label"],
            unit=v["unit"],
            higher_is_better=v["higher_is_better"],
            interval=(v.get("adj_ci_low"), v.get("adj_ci_high")),
        )
        if v["verdict"] == "better" and v["targeted"]:
            row["verdict"] = "improved"
        if v["verdict"] == "worse" and not v["targeted"]:
            row["verdict"] = "worse (collateral damage)"
        row["metric"] = ("targeted: " if v["targeted"] else "") + row["metric"]
        rows.append(row)
    return rows


def compare_rows(result: dict[str, Any]) -> list[dict[str, str]]:
    """The compare report's verdict table: the gates first, then every judged metric."""
    rows = [gate_row(g) for g in result.get("gates", [])]
    for m in result.get("metrics", []):
        if m.get("in_family"):
            rows.append(
                comparison_row(
                    {**m, "family_size": result.get("family_size")},
                    label=m["label"],
                    unit=m["unit"],
                    higher_is_better=m["higher_is_better"],
                )
            )
    return rows
