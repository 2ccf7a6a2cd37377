"""The Behrens-Fisher (fiducial) distribution behind the two-level intervals, p-values and power.

The variance of a mean over seeds and test examples is estimated as ``A + B``: ``A`` (seed effects plus each seed's
own example noise) is a scaled chi-square with only ``S - 1`` degrees of freedom, ``B`` (the example component every
seed shares) has about ``N - 1``. Satterthwaite's t plugs the *estimated* share of ``A`` into its degrees of freedom;
with 2 or 4 of them, a seed component that comes out small by chance raises the df exactly when ``|t|`` is large,
and the tail probabilities Holm works with (0.8% for six comparisons) come out 2-4 times too small. Here nothing
about the distribution is read off the sample: the seed variance is integrated over its fiducial distribution
``A / W`` with ``W ~ chi2(S - 1) / (S - 1)`` (Fisher 1935's solution of the Behrens-Fisher problem), so

    P(|mean - mu| >= x) = E_W[ 2 * t_sf(x / sqrt(A / W + B)) ]

— exactly Student's t with S - 1 df when the example part is absent, the paired t over examples when the seed part
is, and conservative in between (never liberal: Robinson 1976). The price is width when both parts matter; the
simulation in ``benchmarks/stats_sim.py`` states it.

Pure numerics: arrays in, arrays out, vectorised; the quadrature and the quantile tables are cached per degrees of
freedom.

Example:
    >>> import numpy as np
    >>> float(np.round(two_sided_p(np.array(4.303), np.array(1.0), np.array(0.0), 2, 1000), 3))  # t(2) at 97.5%
    0.05
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

#: Nodes of the quadrature over the seed variance (trapezoid on log W: relative error below 1e-7 in the tails used).
_NODES = 64
#: Grid of the seed share rho = A / (A + B) for the critical-value table (interpolated linearly; smooth in rho).
_RHO = np.linspace(0.0, 1.0, 101)
#: Above this the example part's df make no difference (its t is a normal to 4 decimals in the tails used).
_NU2_CAP = 4096.0


@lru_cache(maxsize=32)
def chi2_nodes(nu: float) -> tuple[np.ndarray, np.ndarray]:
    """Nodes ``w`` of ``W = chi2(nu) / nu`` and weights summing to 1 (trapezoid on a log grid: both tails matter)."""
    from scipy import stats

    lo, hi = stats.chi2.ppf(1e-12, nu) / nu, stats.chi2.isf(1e-14, nu) / nu
    logw = np.linspace(math.log(lo), math.log(hi), _NODES)
    w = np.exp(logw)
    dens = stats.chi2.pdf(w * nu, nu) * nu * w  # density of log W
    return w, dens / dens.sum()


def two_sided_p(x: np.ndarray, a: np.ndarray, b: np.ndarray, nu1: float, nu2: float) -> np.ndarray:
    """``P(|T| >= x)`` for ``T = (mean - mu)`` when its variance is ``a`` (``nu1`` df) + ``b`` (``nu2`` df).

    Elementwise over broadcast arrays. ``a = b = 0``: 1 where ``x == 0``, else 0.
    """
    from scipy import special

    x, a, b = (np.asarray(v, dtype=float)[..., None] for v in (x, a, b))
    w, q = chi2_nodes(float(nu1))
    nu2 = min(float(nu2), _NU2_CAP)
    var = a / w + b
    with np.errstate(divide="ignore", invalid="ignore"):
        # The example part's own uncertainty: Satterthwaite over a known seed part and b's nu2 df (safe: nu2 is
        # large whenever b matters, and its share here does not come from the seed sample).
        df = np.where(b > 0, nu2 * (var / np.where(b > 0, b, 1.0)) ** 2, np.inf)
        z = np.where(var > 0, np.abs(x) / np.sqrt(np.where(var > 0, var, 1.0)), np.where(x == 0, 0.0, np.inf))
    p = (q * 2 * special.stdtr(np.minimum(df, 1e12), -z)).sum(-1)
    return np.clip(p, 0.0, 1.0)


@lru_cache(maxsize=64)
def _quantile_table(nu1: float, nu2: float, alpha: float) -> np.ndarray:
    """Critical multipliers ``h(rho)`` on :data:`_RHO`: ``P(|T| >= h sqrt(A + B)) = alpha`` with ``A = rho``."""
    from scipy import stats

    ends = stats.t.isf(alpha / 2, nu1), stats.t.isf(alpha / 2, nu2)  # the multiplier lies between the two t's
    lo, hi = np.full_like(_RHO, 0.99 * min(ends)), np.full_like(_RHO, 1.01 * max(ends))
    for _ in range(32):  # bisection: the tail probability falls as the multiplier grows
        mid = (lo + hi) / 2
        above = two_sided_p(mid, _RHO, 1.0 - _RHO, nu1, nu2) > alpha
        lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
    return (lo + hi) / 2


def critical(a: np.ndarray, b: np.ndarray, nu1: float, nu2: float, alpha: float) -> np.ndarray:
    """Half-width multiplier of the ``1 - alpha`` interval in units of ``sqrt(a + b)`` (elementwise).

    Example:
        >>> round(float(critical(np.array(0.0), np.array(1.0), 2, 1e9, 0.05)), 2)  # no seed part: normal
        1.96
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = np.where(a + b > 0, a / np.where(a + b > 0, a + b, 1.0), 0.0)
    return np.interp(rho, _RHO, _quantile_table(float(nu1), min(float(nu2), _NU2_CAP), round(float(alpha), 12)))


def _round_df(nu: float) -> float:
    """The example part's df, rounded down to a coarse grid (a table per distinct value is cached; rounding down
    is conservative by less than 1% of the multiplier)."""
    nu = min(float(nu), _NU2_CAP)
    if nu <= 32:
        return float(math.floor(nu))
    return float(2 ** (math.floor(4 * math.log2(nu)) / 4))


def equivalent_df(multiplier: np.ndarray, confidence: float) -> np.ndarray:
    """The Student df whose two-sided ``confidence`` quantile equals ``multiplier`` (what ``diff_df`` reports)."""
    from scipy import stats

    m = np.asarray(multiplier, dtype=float)
    lo, hi = np.full(m.shape, math.log(0.5)), np.full(m.shape, math.log(1e7))
    for _ in range(50):
        mid = (lo + hi) / 2
        too_wide = stats.t.ppf(0.5 + confidence / 2, np.exp(mid)) > m  # df too small
        lo, hi = np.where(too_wide, mid, lo), np.where(too_wide, hi, mid)
    return np.exp((lo + hi) / 2)


def power(effect: np.ndarray, a: np.ndarray, b: np.ndarray, nu1: float, nu2: float, alpha: float) -> np.ndarray:
    """Probability that the two-sided test at ``alpha`` rejects when the true difference is ``effect`` and the
    variance components are ``a`` (expected seed part, estimated with ``nu1`` df) and ``b`` (example part).
    ``nu2`` is rounded down to a coarse grid here, so that planning over many designs builds few tables.

    The estimated seed part varies as ``a W`` from run to run, and with it the critical value; the power averages
    over it (normal mean, ``b`` known).

    Example:
        >>> round(float(power(np.array(2.8), np.array(0.0), np.array(1.0), 2, 1e9, 0.05)), 2)
        0.8
    """
    from scipy import special

    effect, a, b = (np.asarray(v, dtype=float)[..., None] for v in (effect, a, b))
    w, q = chi2_nodes(float(nu1))
    sampled = a * w
    c = critical(sampled, np.broadcast_to(b, sampled.shape), nu1, _round_df(nu2), alpha) * np.sqrt(sampled + b)
    sd = np.sqrt(a + b)
    with np.errstate(divide="ignore", invalid="ignore"):
        up = np.where(sd > 0, special.ndtr((effect - c) / np.where(sd > 0, sd, 1.0)), (np.abs(effect) > c) * 1.0)
        down = np.where(sd > 0, special.ndtr((-effect - c) / np.where(sd > 0, sd, 1.0)), 0.0)
    return (q * (up + down)).sum(-1)
