"""Number formatting and plain-language verdicts shared by the HTML page, the charts and the tests.

Fractions (accuracies, rates) are shown as percentages with one decimal; differences of fractions as
percentage points ("pts"). Negative numbers use the true minus sign (U+2212) so they read well in print.
"""

from __future__ import annotations

import math
from typing import Any

MINUS = "\u2212"


def _num(value: float, digits: int, *, sign: bool = False) -> str:
    text = f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"
    if text.lstrip("+-").strip("0.") == "":  # -0.0 / +0.0 -> 0.0 with a neutral sign
        return text.lstrip("+-")
    return text.replace("-", MINUS)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def pct(value: Any, digits: int = 1) -> str:
    """``0.853 -> '85.3%'``; ``None -> '–'``."""
    return _num(100 * value, digits) + "%" if is_number(value) else "\u2013"


def pts(value: Any, digits: int = 1) -> str:
    """Signed percentage points for a difference of fractions: ``0.061 -> '+6.1 pts'``."""
    return _num(100 * value, digits, sign=True) + " pts" if is_number(value) else "\u2013"


def signed_pts_bare(value: Any, digits: int = 1) -> str:
    return _num(100 * value, digits, sign=True) if is_number(value) else "\u2013"


def num(value: Any, digits: int = 1) -> str:
    """Plain number (queries, seconds); integers print without decimals (``85``, not ``85.0``), and so do whole
    numbers from 100 up."""
    if not is_number(value):
        return "\u2013"
    if isinstance(value, int) or (float(value).is_integer() and abs(value) >= 100):
        return _num(value, 0)
    return _num(value, digits)


def signed_num(value: Any, digits: int = 1) -> str:
    return _num(value, digits, sign=True) if is_number(value) else "\u2013"


def duration(seconds: Any) -> str:
    """``3725 -> '1 h 2 min'``, ``95 -> '1 min 35 s'``, ``7.2 -> '7.2 s'``."""
    if not is_number(seconds):
        return "unknown"
    seconds = float(seconds)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {sec} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def value_text(value: Any, unit: str) -> str:
    """A metric value as its unit reads: ``share`` 0.853 -> ``85.3%``, ``percent`` 12.5 -> ``12.5%``,
    ``seconds`` -> ``12.3 s``, ``score`` -> three decimals, ``count`` -> plain."""
    if not is_number(value):
        return "\u2013"
    if unit == "share":
        return pct(value)
    if unit == "percent":
        return num(value) + "%"
    if unit == "seconds":
        return num(value) + " s"
    if unit == "score":
        return _num(value, 3)
    if unit == "count" and float(value).is_integer():
        return _num(value, 0)  # a count read back as a float (results tables hold floats): 61, not 61.0
    return num(value)


def diff_text(value: Any, unit: str) -> str:
    """A signed difference: ``share`` in percentage points (``+6.1 pts``), ``percent`` in points too,
    ``seconds`` in s, ``score`` with three decimals."""
    if not is_number(value):
        return "\u2013"
    if unit == "share":
        return pts(value)
    if unit == "percent":
        return signed_num(value) + " pts"
    if unit == "seconds":
        return signed_num(value) + " s"
    if unit == "score":
        return _num(value, 3, sign=True)
    if unit == "count" and float(value).is_integer():
        return _num(value, 0, sign=True)
    return signed_num(value)


def pm_text(mean: Any, low: Any, high: Any, unit: str) -> str:
    """An interval beside its mean: ``± 3.5`` when symmetric, ``[99.6%, 100.0%]`` when not (near 0% or 100% a share's
    interval is lopsided, and a ``±`` would claim room above 100%); ``''`` without an interval.

    Example:
        >>> pm_text(0.5, 0.465, 0.535, "share"), pm_text(1.0, 0.996, 1.0, "share")
        ('± 3.5', '[99.6%, 100.0%]')
    """
    if not (is_number(mean) and is_number(low) and is_number(high)):
        return ""
    below, above = mean - low, high - mean
    if abs(above - below) <= 0.1 * max(above, below, 1e-12):
        return "\u00b1 " + half_width(low, high, unit)
    return f"[{value_text(low, unit)}, {value_text(high, unit)}]"


def half_width(low: Any, high: Any, unit: str) -> str:
    """``± x`` half-width of an interval, in the unit's display scale (shares in points)."""
    if not (is_number(low) and is_number(high)):
        return ""
    half = (high - low) / 2
    if unit == "share":
        return num(100 * half)
    return _num(half, 3) if unit == "score" else num(half)


def ci_text(low: Any, high: Any, confidence: float, *, unit: str = "pts", adjusted: bool | None = None) -> str:
    """``'95% CI −1.2 to +2.8'`` for a difference interval (``unit``: ``pts``/``share`` shows fractions as
    points, ``score`` three decimals, anything else plain signed numbers). ``adjusted=False`` says
    ``unadjusted 95% CI``: an interval per comparison, shown beside verdicts corrected for many comparisons (it may
    exclude zero where the corrected verdict finds no change)."""
    level = ("unadjusted " if adjusted is False else "") + f"{confidence * 100:g}%"
    if unit in ("pts", "share"):
        return f"{level} CI {signed_pts_bare(low)} to {signed_pts_bare(high)}"
    if unit == "score":
        return f"{level} CI {_num(low, 3, sign=True)} to {_num(high, 3, sign=True)}"
    return f"{level} CI {signed_num(low)} to {signed_num(high)}"


def p_text(p: Any) -> str:
    """``p = 0.034``, ``p < 0.001``."""
    if not is_number(p):
        return "p = \u2013"
    return "p < 0.001" if p < 0.001 else f"p = {p:.2g}" if p < 0.1 else f"p = {p:.2f}"


def design_text(cell: dict[str, Any]) -> str:
    """What varied in a difference's interval, with the numbers behind it: seeds and test examples, test examples
    only, or seeds on this test set."""
    method, examples = cell.get("diff_method"), cell.get("n_examples")
    seeds = cell.get("diff_n_seeds") if is_number(cell.get("diff_n_seeds")) else cell.get("n_seeds")
    ex = f"{examples} test examples" if is_number(examples) else "the test examples"
    if method == "seeds+examples":
        return f"over {seeds} seeds and {ex}"
    if method == "examples":
        return f"over {ex}" + (" (fixed models)" if cell.get("models_fixed") else ", seeds held fixed")
    if method == "seeds":
        return f"over {seeds} seeds, on this test set"
    return ""


def collapsed_text(cell: dict[str, Any]) -> str:
    """``seed 2 left out: its model collapsed to chance on the clean test set`` for runs the statistics set aside
    (or, when every run of the condition collapsed, that its numbers are those of failed runs)."""
    seeds = [s for s in cell.get("collapsed_seeds") or [] if is_number(s)]
    if not seeds:
        return ""
    which = ", ".join(str(s) for s in seeds)
    plural = len(seeds) > 1
    if cell.get("collapsed_left_out") is False:
        return f"every run of this condition collapsed to chance on the clean test set (seeds {which}): failed runs"
    return (
        f"seed{'s' if plural else ''} {which} left out: "
        f"{'their models' if plural else 'its model'} collapsed to chance on the clean test set"
    )


def seeds_tally(cell: dict[str, Any], higher_is_better: bool) -> str:
    """The per-seed picture, said for what it is: a description of these trained models, not a test of the
    condition (with large seed variance a tally like "3 of 3" turns up often when nothing changed). Two given
    models (a scan): the exact McNemar test on the examples where they disagree, which is the evidence there."""
    by_seed = [r for r in cell.get("by_seed") or [] if is_number(r.get("diff"))]
    if not by_seed:
        return ""
    if cell.get("models_fixed") and len(by_seed) == 1:  # two given models: one McNemar test, no seeds
        r = by_seed[0]
        if not is_number(r.get("p")):
            return ""
        mine, theirs = (r["b"], r["c"]) if higher_is_better else (r["c"], r["b"])
        return (
            f"exact McNemar on the {r['b'] + r['c']} examples where the two disagree: {mine} favour this model, "
            f"{theirs} the baseline, {p_text(r['p'])}"
        )
    good = [r for r in by_seed if (r["diff"] > 0) == higher_is_better and r["diff"] != 0]
    return f"seed by seed, better in {len(good)} of {len(by_seed)} (describes these trained models; not a test)"


def _planning_text(cell: dict[str, Any], unit: str, diff: Any) -> str:
    parts = []
    if is_number(cell.get("diff_mde")):
        text = f"this design detects changes of {diff_text(cell['diff_mde'], unit).lstrip('+')} or more (80% power"
        low, high = cell.get("diff_mde_low"), cell.get("diff_mde_high")
        if is_number(low) and is_number(high):
            seeds = cell.get("diff_n_seeds") if is_number(cell.get("diff_n_seeds")) else cell.get("n_seeds")
            text += (
                f"; {diff_text(low, unit).lstrip('+')} to {diff_text(high, unit).lstrip('+')} "
                f"as far as {seeds} seeds can tell"
            )
        parts.append(text + ")")
    if is_number(diff) and diff != 0:
        if is_number(cell.get("seeds_needed")):
            parts.append(f"about {cell['seeds_needed']} seeds would detect {diff_text(diff, unit)}")
        elif is_number(cell.get("examples_needed")):
            parts.append(
                f"more seeds alone would not; about {cell['examples_needed']:,} test examples would detect "
                f"{diff_text(diff, unit)}"
            )
    return "; ".join(parts)


def verdict(
    cell: dict[str, Any] | None,
    *,
    what: str,
    better: str,
    worse: str,
    confidence: float,
    unit: str = "share",
    higher_is_better: bool = True,
) -> dict[str, str]:
    """Plain-language judgement of one difference to the baseline: what was compared, the interval (and what varied
    in it), the Holm-adjusted p-value, and what the design can detect.

    ``what`` names the measure ("accuracy under textfooler attack"), ``better``/``worse`` the phrase for a detected
    difference. The kind is the harness's ``verdict`` (``better``, ``worse``, ``no_change``, ``too_few_seeds``);
    without one (older summaries) it is derived from whether the interval includes zero. ``missing`` when there is
    no value.
    """
    if cell is None or not is_number(cell.get("mean")):
        return {"kind": "missing", "text": f"{what}: not measured"}
    diff, low, high = cell.get("diff_mean"), cell.get("diff_ci_low"), cell.get("diff_ci_high")
    shown = diff_text(diff, unit)
    kind = cell.get("verdict") or _legacy_kind(cell, diff, low, high, higher_is_better)
    has_ci = is_number(low) and is_number(high)
    # Corrected for many comparisons: beside that verdict the per-comparison interval is "unadjusted".
    judged = is_number(cell.get("family_size")) and cell["family_size"] > 0
    raw = ci_text(low, high, confidence, unit=unit, adjusted=False if judged else None)
    interval = " ".join(x for x in (raw, design_text(cell)) if x)
    q = cell.get("diff_p_adjusted")
    family = cell.get("family_size")
    test_set = cell.get("scope") == "test_set"
    kind_of = " test-set" if test_set else ""
    holm = (
        f"Holm-adjusted {p_text(q)} across {family}{kind_of} comparisons" if is_number(q) and is_number(family) else ""
    )
    tally = "; ".join(x for x in (seeds_tally(cell, higher_is_better), collapsed_text(cell)) if x)
    plan = _planning_text(cell, unit, diff)
    where = " on this test set" if test_set else ""
    n_seeds = cell.get("diff_n_seeds") if is_number(cell.get("diff_n_seeds")) else cell.get("n_seeds")
    if kind == "too_few_seeds":
        if not has_ci:
            count = f" ({n_seeds} seed{'' if n_seeds == 1 else 's'})" if is_number(n_seeds) else ""
            # Given models (a scan) have no seeds: a metric that is not a mean over examples has no interval.
            why = (
                "no interval for this metric (not a mean over test examples)"
                if cell.get("models_fixed")
                else (f"too few seeds for an interval{count}")
            )
            head = f"{what}: {shown}, {why}" if is_number(diff) else f"{what}: {why}"
            return {"kind": kind, "text": head + (f"; {tally}" if tally else "")}
        runs = {"better": "better", "worse": "worse", "no_change": "no detectable change"}.get(
            cell.get("these_runs") or "", ""
        )
        text = (
            f"{what}: {shown} on these {n_seeds} training runs ({interval}"
            + (f"; {runs} on these runs, {holm}" if runs and holm else "")
            + "); "
            + f"{n_seeds} seeds cannot tell this from seed-to-seed variation"
            + (f"; {tally}" if tally else "")
            + (f"; {plan}" if plan else "")
        )
        return {"kind": kind, "text": text}
    stats = "; ".join(x for x in (p_text(cell.get("diff_p")) if is_number(cell.get("diff_p")) else "", holm) if x)
    detail = ", ".join(x for x in (interval, stats) if x)
    if kind == "no_change":
        corrected = is_number(cell.get("diff_p")) and cell["diff_p"] < 1 - confidence
        head = f"no detectable change in {what}{where}" + (
            f" after correcting for {family}{kind_of} comparisons" if corrected and family else ""
        )
        extra = "; ".join(x for x in (plan, collapsed_text(cell)) if x)
        return {"kind": kind, "text": f"{head} ({shown}, {detail})" + (f"; {extra}" if extra else "")}
    phrase = (better if kind == "better" else worse) + where
    return {"kind": kind, "text": f"{phrase}: {shown} ({detail})" + (f"; {tally}" if tally else "")}


def n_text(cells: list[dict[str, Any] | None], models_fixed: bool = False) -> str:
    """What one figure of a metric rests on: ``n = 310 examples x 2 seeds`` (trained models), ``n = 200 examples``
    (given models), ``n = 2 seeds`` (a metric with no per-example outcomes); ``''`` when unknown.

    Example:
        >>> n_text([{"n_examples": 310, "n_seeds": 2}]), n_text([{"n_seeds": 3}]), n_text([{"n_examples": 9}], True)
        ('n = 310 examples × 2 seeds', 'n = 3 seeds', 'n = 9 examples')
    """
    examples = max((c["n_examples"] for c in cells if c and is_number(c.get("n_examples"))), default=None)
    seeds = max((c["n_seeds"] for c in cells if c and is_number(c.get("n_seeds"))), default=None)
    parts = [f"{examples:,} examples"] if examples is not None else []
    if seeds is not None and not models_fixed:
        parts.append(f"{seeds} seed{'s' * (seeds != 1)}")
    return ("n = " + " \u00d7 ".join(parts)) if parts else ""


def judged_kind(cell: dict[str, Any] | None, higher_is_better: bool | None = None) -> tuple[str | None, bool]:
    """What a comparison with the baseline concluded, after Holm's correction: ``better``, ``worse``, ``no_change``
    or None (no test), and whether that is about these training runs only (fewer seeds than a claim about the
    condition needs: the harness's ``these_runs``). A summary written before verdicts existed is read from its
    interval, as :func:`verdict` reads it (``higher_is_better`` given).

    Example:
        >>> judged_kind({"verdict": "too_few_seeds", "these_runs": "better"}), judged_kind({"verdict": "no_change"})
        (('better', True), ('no_change', False))
    """
    legacy = cell and cell.get("verdict") is None and cell.get("family_size") is None  # no verdict field at all
    if legacy and higher_is_better is not None:
        if not is_number(cell.get("diff_mean")):
            return None, False
        kind = _legacy_kind(
            cell, cell["diff_mean"], cell.get("diff_ci_low"), cell.get("diff_ci_high"), higher_is_better
        )
        return (None if kind == "too_few_seeds" else kind), False
    v = (cell or {}).get("verdict")
    if v == "too_few_seeds":
        runs = (cell or {}).get("these_runs")
        return (runs, True) if runs in ("better", "worse", "no_change") else (None, False)
    return (v, False) if v in ("better", "worse", "no_change") else (None, False)


def verdict_word(cell: dict[str, Any] | None, higher_is_better: bool | None = None) -> str:
    """A verdict in a few words, for table cells: ``better``, ``worse``, ``no detectable change``, with ``runs:`` when
    it is about these training runs only; ``no test`` where there is none.

    Example:
        >>> verdict_word({"verdict": "too_few_seeds", "these_runs": "no_change"})
        'runs: no detectable change'
    """
    kind, runs = judged_kind(cell, higher_is_better)
    if kind is None:
        return "too few seeds" if (cell or {}).get("verdict") == "too_few_seeds" else ""
    word = {"no_change": "no detectable change"}.get(kind, kind)
    return f"runs: {word}" if runs else word


def _legacy_kind(cell: dict[str, Any], diff: Any, low: Any, high: Any, higher_is_better: bool) -> str:
    """The verdict of a summary written without one: from the interval alone."""
    n_seeds = cell.get("n_seeds")
    if (is_number(n_seeds) and n_seeds < 2) or not (is_number(low) and is_number(high)):
        return "too_few_seeds"
    includes_zero = cell.get("diff_includes_zero")
    if not isinstance(includes_zero, bool):
        includes_zero = low <= 0 <= high
    if includes_zero:
        return "no_change"
    up = (diff if is_number(diff) else low) > 0
    return "better" if up == higher_is_better else "worse"
