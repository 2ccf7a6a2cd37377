"""What a seeds x examples design can detect: variance components, minimum detectable effects and planning.

A comparison's variance splits into a seed part ``a`` (estimated with S - 1 degrees of freedom) and an example part
``b`` (N - 1); :mod:`textrobust.stats.fiducial` gives the test that uses them and its power. Two things make a
minimum detectable effect (MDE) printed from one run differ from the power it promises:

* **where the change would take the metric.** The variance of a share depends on its level (p(1 - p)): at 97%
  accuracy a fall of 3 points adds variance, a rise removes it; at 15% under attack a rise adds it. For a difference
  of shares the variance is rescaled to the level the change would reach, in the harder direction (toward 50%), and
  never taken below what the ``S x N`` cells would give as independent pairs — so no design "detects 0.0 pts".
* **what a few seeds can tell.** The seed part is a chi-square with S - 1 df: from 3 seeds its 80% interval spans a
  factor of 22. The MDE is therefore also given as a range, from that interval (``mde_low``, ``mde_high``).

Example:
    >>> c = Components(3, 400, ms_seed=0.8, ms_item=0.3, ms_resid=0.25)
    >>> detectable(c, 5, 400) < detectable(c, 3, 400)
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict

import numpy as np

from . import fiducial
from .levels import CONFIDENCE, MIN_SEEDS, POWER

if TYPE_CHECKING:  # pragma: no cover - typing.Unpack is Python 3.11+
    from typing_extensions import Unpack

#: Two-sided coverage of the MDE range (from the chi-square interval of the seed part).
MDE_RANGE = 0.8


@dataclass(frozen=True)
class Components:
    """Mean squares of the seeds x examples table and the variance components they imply.

    Example:
        >>> c = components(np.array([[1., 0, 1, 1], [1, 0, 0, 1]]))
        >>> round(c.ms_seed, 3), round(c.ms_item, 3), round(c.ms_resid, 3)
        (0.125, 0.458, 0.125)
    """

    n_seeds: int
    n_items: int
    ms_seed: float
    ms_item: float
    ms_resid: float

    @property
    def seed(self) -> float:  # sigma2_seed
        return max(self.ms_seed - self.ms_resid, 0.0) / self.n_items

    @property
    def item(self) -> float:  # sigma2_item
        return max(self.ms_item - self.ms_resid, 0.0) / self.n_seeds

    @property
    def resid(self) -> float:
        return self.ms_resid

    def parts(
        self, seeds_random: bool, n_seeds: int | None = None, n_items: int | None = None
    ) -> tuple[float, float, float, float]:
        """``(a, b, nu1, nu2)`` expected for a design with ``n_seeds`` x ``n_items`` (default: this one): the seed
        part of the grand mean's variance and its df, the example part and its df. Seeds fixed: no seed part."""
        S, N = n_seeds or self.n_seeds, n_items or self.n_items
        if not seeds_random or S < 2:
            return 0.0, (self.resid + S * self.item) / (S * N), 1.0, float(max(N - 1, 1))
        return (self.resid + N * self.seed) / (S * N), self.item / N, float(S - 1), float(max(N - 1, 1))


def components(table: np.ndarray) -> Components:
    """ANOVA mean squares of an ``S x N`` table (rows: seeds, columns: examples), no missing values."""
    x = np.asarray(table, dtype=float)
    S, N = x.shape
    grand, rows, cols = x.mean(), x.mean(1), x.mean(0)
    ms_seed = N * rows.var(ddof=1) if S > 1 else 0.0
    ms_item = S * cols.var(ddof=1) if N > 1 else 0.0
    resid = x - rows[:, None] - cols[None, :] + grand
    ms_resid = (
        float((resid**2).sum() / ((S - 1) * (N - 1))) if S > 1 and N > 1 else float(cols.var(ddof=1) if N > 1 else 0.0)
    )
    return Components(S, N, float(ms_seed), float(ms_item), ms_resid)


class PowerOptions(TypedDict, total=False):
    """The keyword arguments :func:`detectable_effect` and :func:`predictive_power` share (see the former)."""

    a_df: float | None
    resid: np.ndarray | float
    resid_design: np.ndarray | float | None
    cells: np.ndarray | float
    base: np.ndarray | float
    cond: np.ndarray | float
    alpha: float


class Design(TypedDict):
    """The variance parts of an ``S x N`` design (:func:`_design`): the first arguments of :func:`detectable_effect`
    and the options that say how the seed part was measured."""

    a: np.ndarray | float
    b: float
    nu1: float
    nu2: float
    a_df: float
    resid: float
    resid_design: float


def _variance_at(
    effect: np.ndarray, a: np.ndarray, b: np.ndarray, cells: np.ndarray, base: np.ndarray, cond: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Seed and example parts when a difference of shares is ``effect`` toward 50% (NaN ``base``: not shares)."""
    shares = np.isfinite(base)
    level = np.where(shares, base, 0.5)
    v = lambda p: np.clip(p, 0, 1) * (1 - np.clip(p, 0, 1))  # noqa: E731 - binomial variance of a share
    toward = np.where(level < 0.5, 1.0, -1.0)
    now = v(level) + v(np.where(shares, cond, 0.5))
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(shares & (now > 0), (v(level) + v(level + toward * effect)) / np.where(now > 0, now, 1), 1.0)
    a2, b2 = a * scale, b * scale
    floor = np.where(shares, np.clip(effect, 0, 1) * (1 - np.clip(effect, 0, 1)) / cells, 0.0)
    return a2, np.maximum(b2, floor - a2)


def detectable_effect(
    a: np.ndarray | float,
    b: np.ndarray | float,
    nu1: float,
    nu2: float,
    *,
    a_df: float | None = None,
    resid: np.ndarray | float = 0.0,
    resid_design: np.ndarray | float | None = None,
    cells: np.ndarray | float = np.inf,
    base: np.ndarray | float = np.nan,
    cond: np.ndarray | float = np.nan,
    alpha: float = 1 - CONFIDENCE,
    power: float = POWER,
) -> np.ndarray:
    """Smallest change detected with probability ``power`` by the two-sided test at ``alpha`` (elementwise).

    ``a``, ``b``: the seed and example parts of the variance of the design assessed, tested with ``nu1`` and ``nu2``
    df. ``a`` is an estimate from ``a_df`` df (default ``nu1``; ``inf``: known) that contains ``resid``, the
    residual share the many cells pin down (``resid_design`` in the design assessed; default the same): the power
    is averaged over what the seed part could be given that estimate — its fiducial distribution
    ``resid_design + max(a / W - resid, 0)`` — so that a run whose few seeds happened to agree does not print an MDE
    it cannot keep. For a difference of shares give ``base`` and ``cond`` (the two means) and ``cells`` (S x N):
    the variance follows the change toward 50% and has a floor. NaN where no change within the share's range would
    be detected, or where nothing varies (not a share).

    Example:
        >>> round(float(detectable_effect(np.array(0.0), np.array(1e-4), 2, 1e9)), 4)  # (1.96 + 0.84) x 1 pt
        0.028
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    args = _prepared(a, b, nu1, nu2, a_df, resid, resid_design, cells, base, cond, alpha)
    base = args["base"]
    scale = np.sqrt(np.asarray(a, dtype=float) + np.asarray(b, dtype=float))  # not a share: 200 SE is plenty
    reach = np.where(np.isfinite(base), np.where(base < 0.5, 1 - base, base), 200 * scale)

    def detects(effect: np.ndarray) -> np.ndarray:
        return _power(effect, args) >= power

    lo, hi = np.zeros_like(reach), reach.copy()
    ok = (hi > 0) & detects(hi)
    for _ in range(30):
        mid = (lo + hi) / 2
        yes = detects(mid)
        lo, hi = np.where(yes, lo, mid), np.where(yes, mid, hi)
    return np.where(ok, hi, np.nan)


def predictive_power(
    effect: np.ndarray | float,
    a: np.ndarray | float,
    b: np.ndarray | float,
    nu1: float,
    nu2: float,
    **options: Unpack[PowerOptions],
) -> np.ndarray:
    """The power :func:`detectable_effect` inverts, at ``effect`` (same arguments)."""
    args = _prepared(np.asarray(a, dtype=float), np.asarray(b, dtype=float), nu1, nu2, **options)
    return _power(np.broadcast_to(np.asarray(effect, dtype=float), args["base"].shape), args)


def _prepared(
    a: np.ndarray,
    b: np.ndarray,
    nu1: float,
    nu2: float,
    a_df: float | None = None,
    resid: np.ndarray | float = 0.0,
    resid_design: np.ndarray | float | None = None,
    cells: np.ndarray | float = np.inf,
    base: np.ndarray | float = np.nan,
    cond: np.ndarray | float = np.nan,
    alpha: float = 1 - CONFIDENCE,
) -> dict[str, Any]:
    resid_design = resid if resid_design is None else resid_design
    values = (a, b, resid, resid_design, cells, base, cond)
    a, b, resid, resid_design, cells, base, cond = (
        v[..., None] for v in np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in values))
    )
    df = nu1 if a_df is None else a_df
    w, q = fiducial.chi2_nodes(float(df)) if np.isfinite(df) else (np.ones(1), np.ones(1))
    draws = resid_design + np.maximum(a / w - resid, 0.0)
    return {
        "draws": draws,
        "q": q,
        "b": b,
        "cells": cells,
        "base_": base,
        "cond": cond,
        "base": base[..., 0],
        "nu1": nu1,
        "nu2": nu2,
        "alpha": alpha,
    }


def _power(effect: np.ndarray, args: dict[str, Any]) -> np.ndarray:
    """Power at ``effect``, averaged over the seed part's draws."""
    a2, b2 = _variance_at(effect[..., None], args["draws"], args["b"], args["cells"], args["base_"], args["cond"])
    p = fiducial.power(effect[..., None], a2, b2, args["nu1"], args["nu2"], args["alpha"])
    return (args["q"] * p).sum(-1)


def mde_range(
    a: float, b: float, nu1: float, nu2: float, *, base: float = math.nan, cond: float = math.nan
) -> tuple[float | None, float | None]:
    """The MDE if the seed part were at either end of its :data:`MDE_RANGE` chi-square interval (taken as known):
    how far the printed MDE could be off given what the seeds at hand tell (``base``/``cond``: the shares' levels,
    as in :func:`detectable_effect`). ``(None, None)`` without a seed part."""
    from scipy import stats

    if not a > 0 or not math.isfinite(nu1):
        return None, None
    tail = (1 - MDE_RANGE) / 2
    ends = np.array([a * nu1 / stats.chi2.isf(tail, nu1), a * nu1 / stats.chi2.ppf(tail, nu1)])
    low, high = detectable_effect(ends, np.full(2, b), nu1, nu2, a_df=np.inf, base=base, cond=cond)
    return (None if not math.isfinite(low) else float(low)), (None if not math.isfinite(high) else float(high))


def _design(comp: Components, seeds_random: bool, S: int, N: int) -> Design:
    """Arguments of :func:`detectable_effect` for an ``S x N`` design from the components ``comp`` measured: the seed
    part's estimate keeps the df it was measured with."""
    if not seeds_random or S < MIN_SEEDS:
        _, b, nu1, nu2 = comp.parts(False, S, N)
        # No seed part: no residual share in it either (detectable_effect's defaults).
        return {"a": 0.0, "b": b, "nu1": nu1, "nu2": nu2, "a_df": np.inf, "resid": 0.0, "resid_design": 0.0}
    # a(S, N) = resid / (S N) + sigma2_seed / S with sigma2_seed = (E[MS_seed] - resid) / n, E[MS_seed] known
    # through the measured MS_seed with its n_seeds - 1 df (n: the examples it was measured on).
    n = comp.n_items
    return {
        "a": comp.ms_seed / (S * n),
        "resid": comp.resid / (S * n),
        "resid_design": comp.resid / (S * N),
        "b": comp.item / N,
        "nu1": float(S - 1),
        "nu2": float(max(N - 1, 1)),
        # From fewer than MIN_SEEDS seeds the seed variance has 1 df: averaging over it says "never"; take it as
        # measured instead (the verdict already says those seeds cannot tell), and give the range beside it.
        "a_df": float(comp.n_seeds - 1) if comp.n_seeds >= MIN_SEEDS else np.inf,
    }


def detectable(
    comp: Components,
    n_seeds: int,
    n_items: int,
    base: float | None = None,
    cond: float | None = None,
    predictive: bool = True,
) -> float:
    """The minimum detectable effect (5% two-sided, 80% power) of a design with ``n_seeds`` x ``n_items`` (seeds
    random from MIN_SEEDS on, fixed below), from the variance components; ``base``/``cond``: the shares' levels.
    ``predictive``: average the power over what the measured seed variance could be (NaN when even the largest
    change would not reach 80% on average); otherwise take it as measured.

    Example:
        >>> c = Components(3, 400, ms_seed=0.8, ms_item=0.3, ms_resid=0.25)
        >>> detectable(c, 5, 400) < detectable(c, 3, 400)
        True
    """
    level, changed = _levels(base, cond)
    args = _design(comp, n_seeds >= MIN_SEEDS, n_seeds, n_items)
    if not predictive:
        args["a_df"] = np.inf
    return float(detectable_effect(**args, cells=n_seeds * n_items, base=level, cond=changed))


def _levels(base: float | None, cond: float | None) -> tuple[float, float]:
    """``(base, cond)`` for :func:`detectable_effect`: NaN (not shares) without ``base``; ``cond`` defaults to it."""
    if base is None:
        return math.nan, math.nan
    return base, base if cond is None else cond


def detectable_range(
    comp: Components, n_seeds: int, n_items: int, base: float | None = None, cond: float | None = None
) -> tuple[float | None, float | None]:
    """The MDE of :func:`detectable` with the measured seed part at either end of its :data:`MDE_RANGE` interval
    (chi-square with ``comp.n_seeds - 1`` df, also from a 2-seed pilot); ``(None, None)`` when the design holds
    seeds fixed or nothing varied."""
    from scipy import stats

    args = _design(comp, n_seeds >= MIN_SEEDS, n_seeds, n_items)
    if not (args["a"] > 0 and comp.n_seeds >= 2):
        return None, None
    tail, df = (1 - MDE_RANGE) / 2, float(comp.n_seeds - 1)
    level, changed = _levels(base, cond)
    ends = np.array([args["a"] * df / stats.chi2.isf(tail, df), args["a"] * df / stats.chi2.ppf(tail, df)])
    known: Design = {**args, "a": ends, "a_df": np.inf}
    out = detectable_effect(**known, cells=n_seeds * n_items, base=level, cond=changed)
    return (float(out[0]) if math.isfinite(out[0]) else None), (float(out[1]) if math.isfinite(out[1]) else None)


def planning(
    comp: Components, effect: float, seeds_random: bool, max_seeds: int = 50, max_items: int = 1_000_000
) -> dict[str, int | None]:
    """Seeds (examples fixed) and test examples (seeds fixed) needed to detect ``effect`` with 80% power at the
    5% level, from the variance components; None when no number up to the caps would do."""

    def detects(S: int, N: int) -> bool:
        args = _design(comp, seeds_random, S, N)
        return bool(predictive_power(abs(effect), **args) >= POWER)

    if effect == 0 or not math.isfinite(effect):
        return {"seeds_needed": None, "examples_needed": None}
    seeds = _smallest(
        max(comp.n_seeds, MIN_SEEDS if seeds_random else 1), max_seeds, lambda S: detects(S, comp.n_items)
    )
    items = _smallest(comp.n_items, max_items, lambda N: detects(comp.n_seeds, N))
    return {"seeds_needed": seeds, "examples_needed": items}


def _smallest(lo: int, hi: int, ok: Callable[[int], bool]) -> int | None:
    """The smallest ``n`` in ``[lo, hi]`` with ``ok(n)`` (``ok`` is monotone: more seeds or examples never hurt)."""
    if lo > hi or not ok(hi):
        return None
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if ok(mid) else (mid + 1, hi)
    return lo
