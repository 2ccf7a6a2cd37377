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
    """Plain number (queries, seconds); integers print without decimals."""
    if not is_number(value):
        return "\u2013"
    if float(value).is_integer() and abs(value) >= 100:
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
    return signed_num(value)


def half_width(low: Any, high: Any, unit: str) -> str:
    """``± x`` half-width of an interval, in the unit's display scale (shares in points)."""
    if not (is_number(low) and is_number(high)):
        return ""
    half = (high - low) / 2
    if unit == "share":
        return num(100 * half)
    return _num(half, 3) if unit == "score" else num(half)


def ci_text(low: Any, high: Any, confidence: float, *, unit: str = "pts") -> str:
    """``'95% CI −1.2 to +2.8'`` for a difference interval (``unit``: ``pts``/``share`` shows fractions as
    points, ``score`` three decimals, anything else plain signed numbers)."""
    level = f"{confidence * 100:g}%"
    if unit in ("pts", "share"):
        return f"{level} CI {signed_pts_bare(low)} to {signed_pts_bare(high)}"
    if unit == "score":
        return f"{level} CI {_num(low, 3, sign=True)} to {_num(high, 3, sign=True)}"
    return f"{level} CI {signed_num(low)} to {signed_num(high)}"


def verdict(cell: dict[str, Any] | None, *, what: str, better: str, worse: str, confidence: float,
            unit: str = "share", higher_is_better: bool = True) -> dict[str, str]:
    """Plain-language judgement of one difference to the baseline, stating its uncertainty.

    ``what`` names the measure ("accuracy under textfooler attack"), ``better``/``worse`` the phrase for a
    difference whose interval excludes zero. For metrics where lower is better (failure rates, calibration error)
    a negative difference is the better one. Returns ``{"kind", "text"}`` where kind is ``better``, ``worse``,
    ``no_change``, ``too_few_seeds`` or ``missing``.
    """
    if cell is None or not is_number(cell.get("mean")):
        return {"kind": "missing", "text": f"{what}: not measured"}
    diff, low, high = cell.get("diff_mean"), cell.get("diff_ci_low"), cell.get("diff_ci_high")
    n_seeds = cell.get("n_seeds")
    shown = diff_text(diff, unit)
    if (is_number(n_seeds) and n_seeds < 2) or not (is_number(low) and is_number(high)):
        if is_number(diff):
            return {"kind": "too_few_seeds", "text": f"{what}: {shown}, too few seeds for an interval"}
        return {"kind": "too_few_seeds", "text": f"{what}: too few seeds for an interval"}
    interval = ci_text(low, high, confidence, unit=unit)
    includes_zero = cell.get("diff_includes_zero")
    if not isinstance(includes_zero, bool):  # the harness's flag wins; derive it only when absent
        includes_zero = low <= 0 <= high
    if includes_zero:
        return {"kind": "no_change", "text": f"no detectable change in {what} ({shown}, {interval})"}
    up = (diff if is_number(diff) else low) > 0
    kind, phrase = ("better", better) if up == higher_is_better else ("worse", worse)
    return {"kind": kind, "text": f"{phrase}: {shown} ({interval})"}
