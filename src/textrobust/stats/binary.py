"""Intervals for 0/1 outcomes that stay honest at 0% / 100% and on a handful of examples, and the test that says a
training run collapsed to chance.

The two-level t interval of a mean is built from sample variances: when every outcome is 1 (100% on 2 examples, an
invariance nobody broke) the variance is 0 and so is the width. A proportion's score interval does not collapse:
Wilson's (1927) for a share, and for a difference of paired shares Wilson's for the two discordant cells combined
by MOVER (Zou & Donner 2008).
Both are computed over the ``S x N`` cells as if they were independent pairs; seeds and examples only add variance
(every variance component is >= 0), so where events are sparse (fewer than :data:`SPARSE`) the two-level interval
is widened to contain them, never narrowed. (Applied everywhere, the floor would also catch the runs whose seed
variance came out small by chance, and over-cover by 1-3 points at 3 seeds: the Behrens-Fisher interval already
handles those.)

Example:
    >>> [round(float(v), 3) for v in wilson(np.array(2.0), np.array(2.0))]  # 2 of 2: not [1, 1]
    [0.342, 1.0]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .levels import CONFIDENCE

#: One-sided level of "not better than chance" for a training run (see :func:`runs_at_chance`).
CHANCE_LEVEL = 0.01
#: Fewer events than this (successes or failures of a share; discordant cells of a paired difference) and the
#: normal approximation behind a t interval fails (the usual "n p >= 10" rule): the score interval takes over.
SPARSE = 10


def _z(confidence: float) -> float:
    from scipy import stats

    return float(stats.norm.isf((1 - confidence) / 2))


def wilson(
    count: np.ndarray, n: np.ndarray, confidence: float = CONFIDENCE, z: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval ``(low, high)`` of ``count`` successes in ``n`` trials; ``z``: the critical multiplier
    (default: the normal one).

    Example:
        >>> [round(float(v), 3) for v in wilson(np.array(8.0), np.array(10.0))]
        [0.49, 0.943]
    """
    count, n = np.asarray(count, dtype=float), np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(n > 0, count / np.where(n > 0, n, 1.0), 0.5)
    return wilson_share(p, n, confidence, z)


def wilson_near_boundary(
    count: np.ndarray, n: np.ndarray, confidence: float = CONFIDENCE
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson's interval with Brown, Cai & DasGupta's (2001) repair near 0% and 100%: with 1-3 events (or misses)
    Wilson's bound on that side dips below the stated coverage (91% for 9 of 10 at a true 99%), so it is replaced by
    the one-sided Poisson bound ``chi2(2 x, alpha / 2) / (2 n)``.

    Example:
        >>> [round(float(v), 4) for v in wilson_near_boundary(np.array(9.0), np.array(10.0))]
        [0.5958, 0.9975]
    """
    from scipy import stats

    count, n = np.asarray(count, dtype=float), np.asarray(n, dtype=float)
    low, high = wilson(count, n, confidence)
    alpha = 1 - confidence
    with np.errstate(divide="ignore", invalid="ignore"):
        poisson = lambda x: stats.chi2.ppf(alpha / 2, 2 * np.maximum(x, 1)) / (2 * np.maximum(n, 1))  # noqa: E731
        near = lambda x: (x >= 1) & (x <= 3) & (x < n / 2)  # noqa: E731 - a few events, at the boundary's side
        miss = n - count
        low = np.where(near(count), np.minimum(low, poisson(count)), low)
        high = np.where(near(miss), np.maximum(high, 1 - poisson(miss)), high)
    return low, high


def wilson_share(
    p: np.ndarray, n: np.ndarray, confidence: float = CONFIDENCE, z: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson's interval of a share ``p`` observed on ``n`` trials (``n`` may be an effective sample size, fractional
    or infinite); ``n <= 0``: the whole of [0, 1]."""
    k: float | np.ndarray = _z(confidence) if z is None else np.asarray(z, dtype=float)
    p, n = np.asarray(p, dtype=float), np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        m = np.where(n > 0, n, 1.0)
        denom = 1 + k**2 / m
        centre = (p + k**2 / (2 * m)) / denom
        half = k / denom * np.sqrt(p * (1 - p) / m + k**2 / (4 * m**2))
    low, high = np.where(n > 0, centre - half, 0.0), np.where(n > 0, centre + half, 1.0)
    return np.clip(low, 0.0, 1.0), np.clip(high, 0.0, 1.0)


def paired_counts(cond: np.ndarray, base: np.ndarray) -> tuple[np.ndarray, ...]:
    """``(both right, cond only, base only, neither)`` over the last two axes of 0/1 tables."""
    c, b = np.asarray(cond, dtype=bool), np.asarray(base, dtype=bool)
    axes = (-2, -1)
    return (
        (c & b).sum(axes).astype(float),
        (c & ~b).sum(axes).astype(float),
        (~c & b).sum(axes).astype(float),
        (~c & ~b).sum(axes).astype(float),
    )


def discordant_interval(
    only_c: np.ndarray, only_b: np.ndarray, n: np.ndarray, confidence: float = CONFIDENCE
) -> tuple[np.ndarray, np.ndarray]:
    """Score interval for ``P(cond right) - P(base right) = P(only cond right) - P(only base right)`` from ``n``
    pairs: Wilson intervals for the two discordant cells, combined by MOVER (Zou & Donner 2008) with their
    multinomial correlation. Where both discordant counts are small it stays honest — two models that agree on all
    120 examples differ by at most about 3% (``z^2 / (n + z^2)``), not by exactly 0 — which Newcombe's (1998)
    method 10 does not (its phi reaches 1 when every pair is concordant, and its width 0).

    Example:
        >>> [round(float(v), 3) for v in discordant_interval(np.array(0.0), np.array(0.0), np.array(120.0))]
        [-0.031, 0.031]
    """
    b, c, n = (np.asarray(v, dtype=float) for v in (only_c, only_b, n))
    p10, p01 = b / np.maximum(n, 1), c / np.maximum(n, 1)
    l10, u10 = wilson_near_boundary(b, n, confidence)
    l01, u01 = wilson_near_boundary(c, n, confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = -np.sqrt(np.where((p10 < 1) & (p01 < 1), p10 * p01 / ((1 - p10) * (1 - p01)), 0.0))
    diff = p10 - p01
    below = np.sqrt(np.maximum((p10 - l10) ** 2 + (u01 - p01) ** 2 - 2 * corr * (p10 - l10) * (u01 - p01), 0.0))
    above = np.sqrt(np.maximum((u10 - p10) ** 2 + (p01 - l01) ** 2 - 2 * corr * (u10 - p10) * (p01 - l01), 0.0))
    return np.maximum(diff - below, -1.0), np.minimum(diff + above, 1.0)


def mcnemar_score_p(only_c: np.ndarray, only_b: np.ndarray) -> np.ndarray:
    """Two-sided score (McNemar) p-value of the discordant counts pooled over cells; 1 without discordant pairs."""
    from scipy import special

    b, c = np.asarray(only_c, dtype=float), np.asarray(only_b, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(b + c > 0, np.abs(b - c) / np.sqrt(np.where(b + c > 0, b + c, 1.0)), 0.0)
    return 2 * special.ndtr(-z)


def is_binary(table: np.ndarray) -> np.ndarray:
    """Whether every value of each ``(..., S, N)`` table is 0 or 1."""
    x = np.asarray(table, dtype=float)
    return ((x == 0) | (x == 1)).all(axis=(-2, -1))


def balanced_accuracy(recalls: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per run (row): the mean of the per-class recalls and its standard error *at chance*.

    ``recalls`` holds one ``(..., S, N)`` table per class: 0/1 correct on the examples of that class, NaN elsewhere
    (what the clean evaluation stores as ``recall:<label>``). A model that predicts one class for everything, or
    guesses, has a balanced accuracy of 1/K whatever the class sizes; its standard error there is
    ``sqrt(sum_k (1/K)(1 - 1/K) / n_k) / K``.
    """
    k = len(recalls)
    tables = [np.asarray(t, dtype=float) for t in recalls]
    counts = [np.isfinite(t).sum(-1) for t in tables]
    means = [np.where(n > 0, np.nansum(t, -1) / np.maximum(n, 1), np.nan) for t, n in zip(tables, counts, strict=True)]
    ba = np.mean(means, axis=0)
    se0 = np.sqrt(sum((1 / k) * (1 - 1 / k) / np.maximum(n, 1) for n in counts)) / k
    return ba, se0


def runs_at_chance(recalls: Sequence[np.ndarray], level: float = CHANCE_LEVEL) -> np.ndarray:
    """Runs (rows) whose balanced accuracy is not above chance (one-sided test at ``level``): a collapsed training
    run — the failure mode of fine-tuning that Dodge et al. (2020) and Mosbach et al. (2021) describe, where a seed's
    model ends predicting the majority class.

    Example:
        >>> gap = np.full((2, 10), np.nan)
        >>> recall_a = np.hstack([[[1.0] * 10, [1.0] * 9 + [0.0]], gap])  # 10 examples of class a, then 10 of b
        >>> recall_b = np.hstack([gap, [[0.0] * 10, [1.0] * 9 + [0.0]]])
        >>> runs_at_chance([recall_a, recall_b]).tolist()  # seed 0 says "a" for everything; seed 1 gets 90% of each
        [True, False]
    """
    from scipy import stats

    if len(recalls) < 2:
        return np.zeros(np.asarray(recalls[0]).shape[:-1], dtype=bool) if recalls else np.zeros(0, dtype=bool)
    ba, se0 = balanced_accuracy(recalls)
    return ~(ba > 1 / len(recalls) + stats.norm.isf(level) * se0)
