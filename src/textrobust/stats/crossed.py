"""Paired two-level inference over training seeds and test examples.

Every condition of an experiment is trained with the same seeds and scored on the same test examples, so a
comparison with the baseline is a crossed *seeds x examples* table of paired per-example differences
``d[s, i] = y_condition[s, i] - y_baseline[s, i]``. Both factors are samples: seeds from the distribution of
training runs (fine-tuning is notoriously seed-sensitive: Dodge et al. 2020), examples from the distribution the
test set was drawn from (treating examples as fixed is Clark's 1973 "language-as-fixed-effect fallacy"; see
Baayen, Davidson & Bates 2008 for crossed random effects of subjects and items). Bouthillier et al. (2021) show
that ML benchmark comparisons must account for both; Dror et al. (2018) survey the significance tests NLP uses.

The model is the two-way crossed random-effects model of generalizability theory (Brennan 2001)::

    d[s, i] = mu + a[s] + b[i] + e[s, i],   Var(mean d) = sigma2_seed / S + sigma2_item / N + sigma2_resid / (S N)

estimated as the variance of the per-seed mean differences over S (seed effects plus each seed's own example
noise: an exact chi-square with S - 1 degrees of freedom) plus the example component that every seed shares
(ANOVA method of moments, floored at 0). The two parts are combined by the Behrens-Fisher distribution
(:mod:`textrobust.stats.fiducial`) rather than Satterthwaite's (1946) degrees of freedom: Satterthwaite's df come
from the same sample, rise when the seed part comes out small by chance — exactly when |t| is large — and let
Holm's family-wise error reach 8-12% at 3 seeds in simulation. Two other choices failed too: plugging all three
ANOVA components into one Satterthwaite sum was liberal (coverage 90-93% at 3 seeds when seeds vary a lot), and a
bootstrap over 2-5 seeds cannot represent seed variance at all (the bootstrap variance of a mean of S values is
(S-1)/S of the truth and takes a handful of distinct values).

For 0/1 outcomes the interval is widened, where needed, to a score interval over the S x N cells
(:mod:`textrobust.stats.binary`): at 0% or 100%, or on a handful of examples, sample variances are 0 and a t
interval has no width.

With fewer than :data:`MIN_SEEDS` seeds the seed component has at most one degree of freedom: the crossed interval
is then both unreliable (it covered 87-90% in simulation) and absurdly wide, so the estimand becomes the effect
*for the trained models at hand*, averaged over the population of test examples (seeds fixed, examples random), and
every verdict says so. Metrics that are not means of per-example outcomes (macro-F1, ECE, queries) get the
seed-only view: a t interval over per-seed values, from :data:`MIN_SEEDS` seeds on — about *this test set* only.

Intervals of bounded metrics are intersected with the metric's range (a mean accuracy cannot leave [0, 1], a
difference of accuracies cannot leave [-1, 1]); since the true value lies in the range, this never lowers coverage.
Verdicts control the family-wise error rate with Holm's (1979) procedure (``textrobust.stats.summary``).

Example:
    >>> rng = np.random.default_rng(0)
    >>> base = (rng.random((3, 400)) < 0.70).astype(float)
    >>> cond = (rng.random((3, 400)) < 0.80).astype(float)
    >>> est = difference(cond, base, (0.0, 1.0))
    >>> est.method, round(est.estimate, 3), est.low < est.estimate < est.high
    ('seeds+examples', 0.127, True)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, TypedDict

import numpy as np

from . import fiducial
from .binary import (
    SPARSE,
    discordant_interval,
    is_binary,
    mcnemar_score_p,
    paired_counts,
    wilson_near_boundary,
    wilson_share,
)
from .design import Components, components, detectable, detectable_effect, detectable_range, mde_range, planning
from .levels import CONFIDENCE, MIN_SEEDS, POWER

__all__ = [
    "CONFIDENCE",
    "MIN_SEEDS",
    "POWER",
    "Components",
    "Estimate",
    "components",
    "crossed_t",
    "decide",
    "detectable",
    "difference",
    "difference_arrays",
    "holm",
    "mcnemar_by_seed",
    "mean_arrays",
    "mean_estimate",
    "planning",
    "seed_estimate",
]

Bounds = tuple[float | None, float | None]


class CrossedArrays(TypedDict):
    """What :func:`crossed_t` and :func:`mean_arrays` return: one value per table of the stack, but the df."""

    estimate: np.ndarray
    se: np.ndarray
    a: np.ndarray
    b: np.ndarray
    resid: np.ndarray
    nu1: float
    nu2: float
    low: np.ndarray
    high: np.ndarray
    p: np.ndarray


class _Shares(CrossedArrays):
    base_mean: np.ndarray
    cond_mean: np.ndarray


class DifferenceArrays(_Shares, total=False):
    """What :func:`difference_arrays` returns: :class:`CrossedArrays`, the two means where the outcomes are 0/1
    (NaN elsewhere) and, when asked for, the minimum detectable effect."""

    mde: np.ndarray


def crossed_t(tables: np.ndarray, seeds_random: bool, confidence: float = CONFIDENCE) -> CrossedArrays:
    """The interval arithmetic of :func:`difference` / :func:`mean_estimate`, vectorised over a stack of complete
    ``(..., S, N)`` tables: ``estimate, se, a, b, nu1, nu2, low, high, p`` (no floors, no range clipping).

    Seeds random: the seed part ``a = MS_seed / (S N)`` — the variance of the per-seed means (seed effects and each
    seed's own example noise, an exact chi-square with S - 1 df) — and the example part ``b = max(MS_item -
    MS_resid, 0) / (S N)`` shared by every seed (which the per-seed means cannot show, since every seed sees the same
    examples), combined by the Behrens-Fisher distribution of :mod:`textrobust.stats.fiducial`: no degrees of
    freedom are estimated from the sample. Seeds fixed: ``b = MS_item / (S N)`` with N - 1 df (a paired t over
    examples of the seed-averaged difference).
    """
    x = np.asarray(tables, dtype=float)
    S, N = x.shape[-2:]
    rows, cols, grand = x.mean(-1), x.mean(-2), x.mean((-2, -1))
    ms_item = S * cols.var(-1, ddof=1) if N > 1 else np.zeros_like(grand)
    if seeds_random and S > 1:
        ms_seed = N * rows.var(-1, ddof=1)
        resid = x - rows[..., None] - cols[..., None, :] + grand[..., None, None]
        ms_resid = (resid**2).sum((-2, -1)) / ((S - 1) * max(N - 1, 1))
        a, b, nu1 = ms_seed / (S * N), np.maximum(ms_item - ms_resid, 0.0) / (S * N), float(S - 1)
        resid = ms_resid / (S * N)
    else:
        a, b, nu1, resid = np.zeros_like(grand), ms_item / (S * N), 1.0, np.zeros_like(grand)
    nu2 = float(max(N - 1, 1))
    se = np.sqrt(a + b)
    half = fiducial.critical(a, b, nu1, nu2, 1 - confidence) * se
    p = fiducial.two_sided_p(grand, a, b, nu1, nu2)
    return {
        "estimate": grand,
        "se": se,
        "a": a,
        "b": b,
        "resid": resid,
        "nu1": nu1,
        "nu2": nu2,
        "low": grand - half,
        "high": grand + half,
        "p": p,
    }


def _clip(low: np.ndarray, high: np.ndarray, bounds: Bounds) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = bounds
    return (low if lo is None else np.maximum(low, lo)), (high if hi is None else np.minimum(high, hi))


def mean_arrays(
    tables: np.ndarray, bounds: Bounds = (None, None), confidence: float = CONFIDENCE, seeds_random: bool | None = None
) -> CrossedArrays:
    """Mean of each complete ``(..., S, N)`` table with its interval (vectorised :func:`mean_estimate`): two-level
    from MIN_SEEDS seeds (``seeds_random`` overrides), inside ``bounds``.

    For 0/1 outcomes the interval is Wilson's at the design's effective sample size ``p (1 - p) / Var`` (Kish's
    design effect) with the same critical multiplier — near 0% or 100% a symmetric t interval undercovers — and,
    with fewer than :data:`SPARSE` successes or failures, contains Wilson's over the S x N cells as independent
    trials (at exactly 0% or 100% sample variances are 0), repaired near the boundary (Brown, Cai & DasGupta)."""
    x = np.asarray(tables, dtype=float)
    S, N = x.shape[-2:]
    r = crossed_t(x, S >= MIN_SEEDS if seeds_random is None else seeds_random, confidence)
    binary = is_binary(x)
    p, var = r["estimate"], r["se"] ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        n_eff = np.where(var > 0, p * (1 - p) / np.where(var > 0, var, 1.0), np.inf)
    z = fiducial.critical(r["a"], r["b"], r["nu1"], r["nu2"], 1 - confidence)
    d_low, d_high = wilson_share(p, n_eff, confidence, z=z)
    f_low, f_high = wilson_near_boundary(np.round(p * S * N), np.full(p.shape, float(S * N)), confidence)
    events = np.minimum(p, 1 - p) * S * N
    sparse = binary & (events < SPARSE - 1e-9)
    low = np.where(binary, np.where(sparse, np.minimum(d_low, f_low), d_low), r["low"])
    high = np.where(binary, np.where(sparse, np.maximum(d_high, f_high), d_high), r["high"])
    r["low"], r["high"] = _clip(low, high, bounds)
    return r


def difference_arrays(
    cond: np.ndarray,
    base: np.ndarray,
    bounds: Bounds = (None, None),
    confidence: float = CONFIDENCE,
    seeds_random: bool | None = None,
    mde: bool = True,
) -> DifferenceArrays:
    """Paired difference ``cond - base`` of complete ``(..., S, N)`` tables (vectorised :func:`difference`):
    estimate, interval, p-value and (``mde``) minimum detectable effect. For 0/1 outcomes with fewer than
    :data:`SPARSE` discordant cells (a model pair that disagrees on almost nothing) the interval is widened to the
    paired score interval over the S x N cells (:func:`~textrobust.stats.binary.discordant_interval`) and the
    p-value is at least McNemar's over them, so a difference of 0 out of 0 discordant pairs is never "exactly 0"."""
    c, b = np.asarray(cond, dtype=float), np.asarray(base, dtype=float)
    S, N = c.shape[-2:]
    r = crossed_t(c - b, S >= MIN_SEEDS if seeds_random is None else seeds_random, confidence)
    binary = is_binary(c) & is_binary(b)
    counts = paired_counts(np.where(binary[..., None, None], c, 0), np.where(binary[..., None, None], b, 0))
    n_low, n_high = discordant_interval(counts[1], counts[2], np.full(counts[0].shape, float(S * N)), confidence)
    sparse = binary & (counts[1] + counts[2] < SPARSE)  # few discordant cells: no normal approximation holds
    r["low"] = np.where(sparse, np.minimum(r["low"], n_low), r["low"])
    r["high"] = np.where(sparse, np.maximum(r["high"], n_high), r["high"])
    r["p"] = np.where(sparse, np.maximum(r["p"], mcnemar_score_p(counts[1], counts[2])), r["p"])
    r["low"], r["high"] = _clip(r["low"], r["high"], diff_bounds(bounds))
    out: DifferenceArrays = {
        **r,
        "base_mean": np.where(binary, b.mean((-2, -1)), np.nan),
        "cond_mean": np.where(binary, c.mean((-2, -1)), np.nan),
    }
    if mde:
        out["mde"] = detectable_effect(
            out["a"],
            out["b"],
            out["nu1"],
            out["nu2"],
            resid=out["resid"],
            cells=float(S * N),
            base=out["base_mean"],
            cond=out["cond_mean"],
            alpha=1 - confidence,
        )
    return out


@dataclass
class Estimate:
    """A mean or a difference with its interval. ``method``: ``seeds+examples`` (both random), ``examples``
    (seeds fixed: fewer than MIN_SEEDS), ``seeds`` (per-seed values only: the test set is held fixed) or ``none``
    (no interval). ``mde_low``/``mde_high``: the MDE's range given what the seeds can tell about seed variance;
    ``shares``: the two conditions' means when the outcomes are 0/1 (the MDE depends on where they sit)."""

    estimate: float
    low: float | None
    high: float | None
    method: str
    n_seeds: int
    n_items: int | None = None
    se: float | None = None
    df: float | None = None
    p: float | None = None
    mde: float | None = None
    components: Components | None = None
    mde_low: float | None = None
    mde_high: float | None = None
    shares: tuple[float, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("components")
        return d


def _finite(v: Any) -> float | None:
    v = float(v)
    return v if math.isfinite(v) else None


def row_means(table: np.ndarray) -> np.ndarray:
    """Per-seed means ignoring NaN (NaN, without a warning, for a seed where no example counts)."""
    x = np.asarray(table, dtype=float)
    counts = np.isfinite(x).sum(-1)
    sums = np.where(np.isfinite(x), x, 0.0).sum(-1)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def complete_columns(*tables: np.ndarray) -> np.ndarray | None:
    """Columns (examples) that count in every row of every table; None when the tables disagree on which examples
    count (e.g. attack success rate: only examples the model got right), so no paired example table exists."""
    masks = [np.isfinite(np.asarray(t, dtype=float)) for t in tables]
    both = np.all([m.all(0) for m in masks], axis=0)
    anyv = np.any([m.any(0) for m in masks], axis=0)
    return both if np.array_equal(both, anyv) and both.any() else None


def _estimate(r: CrossedArrays, x: np.ndarray, confidence: float) -> Estimate:
    """One table's arrays as an :class:`Estimate` (the df reported is the Student df with the same multiplier)."""
    seeds_random = x.shape[0] >= MIN_SEEDS
    se = float(r["se"][0])
    half = max(float(r["high"][0] - r["estimate"][0]), float(r["estimate"][0] - r["low"][0]))
    mult = fiducial.critical(r["a"], r["b"], r["nu1"], r["nu2"], 1 - confidence)
    return Estimate(
        float(r["estimate"][0]),
        float(r["low"][0]),
        float(r["high"][0]),
        "seeds+examples" if seeds_random else "examples",
        x.shape[0],
        x.shape[1],
        se,
        float(fiducial.equivalent_df(mult, confidence)[0]) if se > 0 and half > 0 else None,
        float(r["p"][0]) if "p" in r else None,
        components=components(x),
    )


def mean_estimate(table: np.ndarray, bounds: Bounds = (None, None), confidence: float = CONFIDENCE) -> Estimate:
    """The mean over seeds and examples of one condition's per-example outcomes (``S x N``, NaN = not counted).

    Example:
        >>> round(mean_estimate(np.ones((1, 2)), (0.0, 1.0)).low, 3)  # 2 of 2 right: Wilson, not [100%, 100%]
        0.342
    """
    x = np.asarray(table, dtype=float)
    cols = complete_columns(x)
    if cols is None:
        return seed_estimate(row_means(x), bounds, confidence)
    x = x[:, cols]
    est = _estimate(mean_arrays(x[None], bounds, confidence), x, confidence)
    est.p = None  # a test against zero means nothing for a mean
    return est


def diff_bounds(bounds: Bounds) -> Bounds:
    """A difference of a bounded metric lies within +-the range's width.

    Example:
        >>> diff_bounds((0.0, 1.0)), diff_bounds((0.0, None))
        ((-1.0, 1.0), (None, None))
    """
    if bounds[0] is None or bounds[1] is None:
        return None, None
    width = float(bounds[1]) - float(bounds[0])
    return -width, width


def difference(
    cond: np.ndarray,
    base: np.ndarray,
    bounds: Bounds = (None, None),
    confidence: float = CONFIDENCE,
) -> Estimate:
    """Paired difference ``cond - base`` of per-example outcomes (both ``S x N``, rows = the same seeds, columns =
    the same examples); ``bounds`` is the metric's range (the difference is kept within +-its width)."""
    c, b = np.asarray(cond, dtype=float), np.asarray(base, dtype=float)
    cols = complete_columns(c, b)
    if cols is None:
        return seed_estimate(row_means(c) - row_means(b), diff_bounds(bounds), confidence)
    c, b = c[:, cols], b[:, cols]
    r = difference_arrays(c[None], b[None], bounds, confidence)
    est = _estimate(r, c - b, confidence)
    est.mde = _finite(r["mde"][0])
    if math.isfinite(r["base_mean"][0]):
        est.shares = (float(r["base_mean"][0]), float(r["cond_mean"][0]))
    base_mean, cond_mean = est.shares if est.shares else (None, None)
    if est.method == "seeds+examples" and est.components is not None:  # _estimate always sets the components
        est.mde_low, est.mde_high = detectable_range(est.components, c.shape[0], c.shape[1], base_mean, cond_mean)
    return est


def seed_estimate(values: np.ndarray, bounds: Bounds = (None, None), confidence: float = CONFIDENCE) -> Estimate:
    """The seed-only view: mean of per-seed values with a t interval over seeds (from MIN_SEEDS seeds on). The test
    set is held fixed: the interval is about these test examples, not the population they were drawn from."""
    from scipy import stats

    v = np.asarray([x for x in np.asarray(values, dtype=float) if np.isfinite(x)])
    if len(v) == 0:
        return Estimate(math.nan, None, None, "none", 0)
    est = float(v.mean())
    if len(v) < MIN_SEEDS:
        return Estimate(est, None, None, "none", len(v))
    var, df = float(v.var(ddof=1)) / len(v), len(v) - 1
    se = math.sqrt(var)
    q = float(stats.t.ppf(0.5 + confidence / 2, df))
    low, high = _clip(np.array(est - q * se), np.array(est + q * se), bounds)
    p = float(2 * stats.t.sf(abs(est) / se, df)) if se > 0 else (1.0 if est == 0 else 0.0)
    mde = _finite(detectable_effect(np.array(var), np.array(0.0), float(df), np.inf, alpha=1 - confidence))
    out = Estimate(est, float(low), float(high), "seeds", len(v), None, se, float(df), p, mde)
    out.mde_low, out.mde_high = mde_range(var, 0.0, float(df), np.inf)
    return out


def mcnemar_by_seed(cond: np.ndarray, base: np.ndarray) -> list[dict[str, Any]] | None:
    """Exact McNemar test per seed for 0/1 outcomes: ``[{"b": cond right & base wrong, "c": the reverse, "p"}]``;
    None when the outcomes are not binary."""
    from statsmodels.stats.contingency_tables import mcnemar

    c, b = np.asarray(cond, dtype=float), np.asarray(base, dtype=float)
    cols = complete_columns(c, b)
    if cols is None:
        return None
    c, b = c[:, cols], b[:, cols]
    if not (np.isin(c, (0.0, 1.0)).all() and np.isin(b, (0.0, 1.0)).all()):
        return None
    out = []
    for cs, bs in zip(c, b, strict=True):
        n10, n01 = int(((cs == 1) & (bs == 0)).sum()), int(((cs == 0) & (bs == 1)).sum())
        p = float(mcnemar([[0, n10], [n01, 0]], exact=True).pvalue) if n10 + n01 else 1.0
        out.append({"b": n10, "c": n01, "p": p})
    return out


def holm(pvalues: list[float], alpha: float = 1 - CONFIDENCE) -> list[float]:
    """Holm-adjusted p-values (family-wise error control at ``alpha``).

    Example:
        >>> [round(p, 3) for p in holm([0.01, 0.04, 0.03])]
        [0.03, 0.06, 0.06]
    """
    from statsmodels.stats.multitest import multipletests

    if not pvalues:
        return []
    return [float(p) for p in multipletests(pvalues, alpha=alpha, method="holm")[1]]


def decide(
    est: Estimate,
    p_adjusted: float | None,
    higher_is_better: bool | None,
    alpha: float = 1 - CONFIDENCE,
    models_fixed: bool = False,
) -> str:
    """The verdict of one comparison: ``better`` / ``worse`` when the family-wise adjusted p is below ``alpha``
    and seeds were a random factor (or the seed-only view had enough seeds), ``no_change`` otherwise,
    ``too_few_seeds`` when the data cannot generalise over training runs (fewer than MIN_SEEDS seeds), ``missing``
    without an estimate. ``models_fixed``: the conditions are given models (a scan), not training runs, so the
    question is about these models and an interval over test examples answers it."""
    if est.method == "none" or not math.isfinite(est.estimate):
        return "too_few_seeds" if est.n_seeds else "missing"
    if est.method == "examples" and not models_fixed:
        return "too_few_seeds"
    if p_adjusted is None or higher_is_better is None or p_adjusted >= alpha:
        return "no_change"
    return "better" if (est.estimate > 0) == higher_is_better else "worse"
