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
(ANOVA method of moments, floored at 0), with a t interval on Satterthwaite's (1946) degrees of freedom. Two
cheaper-looking choices failed the simulation in ``tests/test_stats.py``: plugging all three ANOVA
components into one Satterthwaite sum was liberal (coverage 90-93% at 3 seeds when seeds vary a lot), and a
bootstrap over 2-5 seeds cannot represent seed variance at all (the bootstrap variance of a mean of S values is
(S-1)/S of the truth and takes a handful of distinct values).

With fewer than :data:`MIN_SEEDS` seeds the seed component has at most one degree of freedom: the crossed interval
is then both unreliable (it covered 87-90% in simulation) and absurdly wide, so the estimand becomes the effect
*for the trained models at hand*, averaged over the population of test examples (seeds fixed, examples random), and
every verdict says so. Metrics that are not means of per-example outcomes (macro-F1, ECE, queries) get the
seed-only view: a t interval over per-seed values, from :data:`MIN_SEEDS` seeds on.

Intervals of bounded metrics are intersected with the metric's range (a mean accuracy cannot leave [0, 1], a
difference of accuracies cannot leave [-1, 1]); since the true value lies in the range, this never lowers coverage.
Verdicts control the family-wise error rate over all judged comparisons of a run with Holm's (1979) procedure.

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
from typing import Any

import numpy as np

#: Seeds needed before seed variance is estimated (and before the seed-only view has an interval).
MIN_SEEDS = 3
CONFIDENCE = 0.95
POWER = 0.8


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

    def variance(
        self, seeds_random: bool, n_seeds: int | None = None, n_items: int | None = None
    ) -> tuple[float, float]:
        """``(variance of the grand mean, degrees of freedom)`` expected for a design with ``n_seeds`` x
        ``n_items`` (default: this one), from the components; :func:`crossed_t` is the same model on data.
        With ``seeds_random`` False the seeds are fixed: only examples vary."""
        S, N = n_seeds or self.n_seeds, n_items or self.n_items
        if not seeds_random or S < 2:
            return (self.resid + S * self.item) / (S * N), max(N - 1, 1)
        seed_part = (self.resid + N * self.seed) / (S * N)  # E[MS_seed] / (S N)
        item_part = self.item / N
        denom = seed_part**2 / (S - 1) + item_part**2 / max(N - 1, 1)
        return seed_part + item_part, (seed_part + item_part) ** 2 / denom if denom > 0 else S - 1


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


def crossed_t(tables: np.ndarray, seeds_random: bool, confidence: float = CONFIDENCE) -> dict[str, np.ndarray]:
    """The interval arithmetic of :func:`difference` / :func:`mean_estimate`, vectorised over a stack of complete
    ``(..., S, N)`` tables: ``estimate, se, df, low, high, p`` (no range clipping). Used by the simulation test.

    Seeds random: ``Var = MS_seed / (S N) + max(MS_item - MS_resid, 0) / (S N)`` — the variance of the per-seed
    means (seed effects and each seed's own example noise, an exact chi-square with S-1 df) plus the example
    component shared by every seed (which the per-seed means cannot show, since every seed sees the same
    examples) — with Satterthwaite's df. Seeds fixed: ``Var = MS_item / (S N)`` with N-1 df (a paired t over
    examples of the seed-averaged difference).
    """
    from scipy import stats

    x = np.asarray(tables, dtype=float)
    S, N = x.shape[-2:]
    rows, cols, grand = x.mean(-1), x.mean(-2), x.mean((-2, -1))
    ms_item = S * cols.var(-1, ddof=1)
    if seeds_random and S > 1:
        ms_seed = N * rows.var(-1, ddof=1)
        resid = x - rows[..., None] - cols[..., None, :] + grand[..., None, None]
        ms_resid = (resid**2).sum((-2, -1)) / ((S - 1) * (N - 1))
        seed_part, item_part = ms_seed / (S * N), np.maximum(ms_item - ms_resid, 0.0) / (S * N)
        with np.errstate(divide="ignore", invalid="ignore"):
            item_df = (ms_item - ms_resid) ** 2 / (ms_item**2 / (N - 1) + ms_resid**2 / ((S - 1) * (N - 1)))
            denom = seed_part**2 / (S - 1) + np.where(item_part > 0, item_part**2 / item_df, 0.0)
            df = np.where(denom > 0, (seed_part + item_part) ** 2 / denom, S - 1)
        var = seed_part + item_part
    else:
        var, df = ms_item / (S * N), np.full_like(grand, max(N - 1, 1))
    se = np.sqrt(var)
    q = stats.t.ppf(0.5 + confidence / 2, df)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(
            se > 0, 2 * stats.t.sf(np.abs(grand) / np.where(se > 0, se, 1), df), np.where(grand == 0, 1.0, 0.0)
        )
    return {"estimate": grand, "se": se, "df": df, "low": grand - q * se, "high": grand + q * se, "p": p}


@dataclass
class Estimate:
    """A mean or a difference with its interval. ``method``: ``seeds+examples`` (both random), ``examples``
    (seeds fixed: fewer than MIN_SEEDS), ``seeds`` (per-seed values only) or ``none`` (no interval)."""

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

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("components")
        return d


def _interval(
    est: float, var: float, df: float, bounds: tuple[float | None, float | None], confidence: float
) -> tuple[float, float, float, float]:  # the seed-only view
    """``(low, high, p, mde)`` of a t interval, intersected with ``bounds``."""
    from scipy import stats

    se = math.sqrt(max(var, 0.0))
    q = float(stats.t.ppf(0.5 + confidence / 2, df))
    low, high = est - q * se, est + q * se
    lo, hi = bounds
    low = low if lo is None else max(low, lo)
    high = high if hi is None else min(high, hi)
    if se > 0:
        p = float(2 * stats.t.sf(abs(est) / se, df))
    else:
        p = 1.0 if est == 0 else 0.0
    mde = (q + float(stats.t.ppf(POWER, df))) * se
    return low, high, p, mde


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


def _crossed(x: np.ndarray, bounds: tuple[float | None, float | None], confidence: float) -> Estimate:
    seeds_random = x.shape[0] >= MIN_SEEDS
    r = {k: float(v) for k, v in crossed_t(x, seeds_random, confidence).items()}
    lo, hi = bounds
    low = r["low"] if lo is None else max(r["low"], lo)
    high = r["high"] if hi is None else min(r["high"], hi)
    from scipy import stats

    mde = (float(stats.t.ppf(0.5 + confidence / 2, r["df"])) + float(stats.t.ppf(POWER, r["df"]))) * r["se"]
    return Estimate(
        r["estimate"],
        low,
        high,
        "seeds+examples" if seeds_random else "examples",
        x.shape[0],
        x.shape[1],
        r["se"],
        r["df"],
        r["p"],
        mde,
        components(x),
    )


def mean_estimate(
    table: np.ndarray, bounds: tuple[float | None, float | None] = (None, None), confidence: float = CONFIDENCE
) -> Estimate:
    """The mean over seeds and examples of one condition's per-example outcomes (``S x N``, NaN = not counted)."""
    x = np.asarray(table, dtype=float)
    cols = complete_columns(x)
    if cols is None:
        return seed_estimate(row_means(x), bounds, confidence)
    est = _crossed(x[:, cols], bounds, confidence)
    est.p = est.mde = None  # a test against zero means nothing for a mean
    return est


def diff_bounds(bounds: tuple[float | None, float | None]) -> tuple[float | None, float | None]:
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
    bounds: tuple[float | None, float | None] = (None, None),
    confidence: float = CONFIDENCE,
) -> Estimate:
    """Paired difference ``cond - base`` of per-example outcomes (both ``S x N``, rows = the same seeds, columns =
    the same examples); ``bounds`` is the metric's range (the difference is kept within +-its width)."""
    c, b = np.asarray(cond, dtype=float), np.asarray(base, dtype=float)
    cols = complete_columns(c, b)
    if cols is None:
        return seed_estimate(row_means(c) - row_means(b), diff_bounds(bounds), confidence)
    return _crossed(c[:, cols] - b[:, cols], diff_bounds(bounds), confidence)


def seed_estimate(
    values: np.ndarray, bounds: tuple[float | None, float | None] = (None, None), confidence: float = CONFIDENCE
) -> Estimate:
    """The seed-only view: mean of per-seed values with a t interval over seeds (from MIN_SEEDS seeds on)."""
    v = np.asarray([x for x in np.asarray(values, dtype=float) if np.isfinite(x)])
    if len(v) == 0:
        return Estimate(math.nan, None, None, "none", 0)
    est = float(v.mean())
    if len(v) < MIN_SEEDS:
        return Estimate(est, None, None, "none", len(v))
    var, df = float(v.var(ddof=1)) / len(v), len(v) - 1
    low, high, p, mde = _interval(est, var, df, bounds, confidence)
    return Estimate(est, low, high, "seeds", len(v), None, math.sqrt(var), df, p, mde)


def detectable(comp: Components, n_seeds: int, n_items: int) -> float:
    """The minimum detectable effect (5% two-sided, 80% power) of a design with ``n_seeds`` x ``n_items``
    (seeds random from MIN_SEEDS on, fixed below).

    Example:
        >>> c = Components(3, 400, ms_seed=0.8, ms_item=0.3, ms_resid=0.25)
        >>> detectable(c, 5, 400) < detectable(c, 3, 400)
        True
    """
    from scipy import stats

    var, df = comp.variance(n_seeds >= MIN_SEEDS, n_seeds, n_items)
    return float((stats.t.ppf(0.975, df) + stats.t.ppf(POWER, df)) * math.sqrt(var))


def planning(
    comp: Components, effect: float, seeds_random: bool, max_seeds: int = 50, max_items: int = 1_000_000
) -> dict[str, int | None]:
    """Seeds (examples fixed) and test examples (seeds fixed) needed to detect ``effect`` with 80% power at the
    5% level, from the variance components; None when no number up to the caps would do."""
    from scipy import stats

    def detects(S: int, N: int) -> bool:
        var, df = comp.variance(seeds_random and S >= MIN_SEEDS, S, N)
        q = stats.t.ppf(0.975, df) + stats.t.ppf(POWER, df)
        return q * math.sqrt(var) <= abs(effect)

    if effect == 0 or not math.isfinite(effect):
        return {"seeds_needed": None, "examples_needed": None}
    seeds = next(
        (
            S
            for S in range(max(comp.n_seeds, MIN_SEEDS if seeds_random else 1), max_seeds + 1)
            if detects(S, comp.n_items)
        ),
        None,
    )
    items, lo = None, comp.n_items
    if detects(comp.n_seeds, max_items):
        hi = max_items
        while lo < hi:  # smallest number of test examples that detects it at the current seeds
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if detects(comp.n_seeds, mid) else (mid + 1, hi)
        items = lo
    return {"seeds_needed": seeds, "examples_needed": items}


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
