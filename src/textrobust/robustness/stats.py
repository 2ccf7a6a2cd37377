"""Statistics over seeds: mean with a Student-t confidence interval, and paired differences to the baseline.

With few seeds (3-5 is typical) the t interval is the honest choice: a bootstrap over 3 values cannot express the
uncertainty. Paired differences use the same seed (same data order and initial head) in both conditions, which
removes the seed-to-seed variance that both share.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np


def t_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """``(mean, low, high)``; the interval is NaN with fewer than two values.

    Example:
        >>> m, lo, hi = t_interval([0.80, 0.82, 0.84])
        >>> round(m, 3), round(lo, 4), round(hi, 4)   # 0.82 -+ 4.303 * 0.02 / sqrt(3)
        (0.82, 0.7703, 0.8697)
    """
    from scipy import stats

    x = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    if len(x) == 0:
        return math.nan, math.nan, math.nan
    mean = float(x.mean())
    if len(x) < 2:
        return mean, math.nan, math.nan
    half = float(stats.t.ppf(0.5 + confidence / 2, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x)))
    return mean, mean - half, mean + half


def summarise(results: Any, baseline: str = "baseline", confidence: float = 0.95) -> list[dict[str, Any]]:
    """Per (condition, evaluation, metric): mean and CI over seeds, and the paired difference to ``baseline``.

    ``results`` is the tidy table (``condition, seed, evaluation, metric, value``) as a DataFrame.
    """
    rows: list[dict[str, Any]] = []
    base = results[results.condition == baseline]
    base_map = {(r.evaluation, r.metric, r.seed): r.value for r in base.itertuples()}
    for (cond, ev, metric), group in results.groupby(["condition", "evaluation", "metric"], sort=False):
        values = group.sort_values("seed").value.tolist()
        mean, lo, hi = t_interval(values, confidence)
        row: dict[str, Any] = {
            "condition": cond, "evaluation": ev, "metric": metric, "n_seeds": len(values),
            "mean": mean, "ci_low": lo, "ci_high": hi,
            "diff_mean": None, "diff_ci_low": None, "diff_ci_high": None, "diff_includes_zero": None,
        }
        if cond != baseline:
            diffs = [v - base_map[(ev, metric, s)] for s, v in zip(group.seed, group.value)
                     if (ev, metric, s) in base_map]
            if diffs:
                d, dlo, dhi = t_interval(diffs, confidence)
                row.update(diff_mean=d, diff_ci_low=dlo, diff_ci_high=dhi,
                           diff_includes_zero=None if math.isnan(dlo) else bool(dlo <= 0 <= dhi))
        rows.append({k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()})
    return rows
