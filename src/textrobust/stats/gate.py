"""Non-inferiority gates: is NEW worse than BASE by more than a tolerated ``delta``?

A gate asks one one-sided question of a paired difference ``NEW - BASE`` on the same inputs. Written in the
metric's good direction (``g = NEW - BASE`` when higher is better, ``BASE - NEW`` when lower is), with ``U`` and
``L`` its one-sided 95% upper and lower confidence bounds (the ends of the two-sided 90% interval of
:func:`textrobust.stats.crossed.difference_arrays`, with every widening at the boundaries and the range clipping):

* ``fail`` — ``U < -delta``: NEW is worse than BASE by more than ``delta`` with 95% confidence. This is the only
  verdict that fails a build; when nothing changed it happens in at most 5% of comparisons (much less: 5% is the
  rate at a true worsening of exactly ``delta``).
* ``pass`` — ``L > -delta``: non-inferiority shown; NEW is not worse by more than ``delta`` (95% confidence).
* ``inconclusive`` — neither: the data cannot tell. The gate reports its **MDE**: the worsening it would catch with
  80% power (``delta`` plus the detectable effect of a one-sided 5% test), so a reader sees how far from deciding the
  design is.

Several gates in one run are Holm-corrected over their one-sided p-values (the null of each: "worse by at most
``delta``"), so "some gated metric is worse by more than its delta" is a claim at 5% family-wise; ``fail`` needs both
the adjusted p below 5% and the bound beyond ``-delta`` (the bound includes the boundary widening, the p-value does
not).

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> base = (rng.random((3, 1000)) < 0.85).astype(float)
    >>> new = np.where(rng.random((3, 1000)) < 0.95, base, 1 - base)
    >>> g = gate(new, base, (0.0, 1.0), delta=0.02, higher_is_better=True)
    >>> g.verdict in ("fail", "inconclusive", "pass"), g.upper > g.estimate > g.lower
    (True, True)
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..errors import ConfigError
from . import fiducial
from .crossed import (
    Bounds,
    complete_columns,
    diff_bounds,
    difference_arrays,
    holm,
    row_means,
)
from .design import components, detectable_effect
from .levels import CONFIDENCE, MIN_SEEDS, POWER

#: The one-sided level of a gate (its complement is the confidence NEW is worse by more than delta before it fails).
ALPHA = 1 - CONFIDENCE
VERDICTS = ("pass", "fail", "inconclusive")


@dataclass
class Gate:
    """One gate's result, in the metric's good direction (positive = NEW better). ``lower``/``upper``: the
    one-sided 95% bounds; ``p``: one-sided p of "worse by at most delta" (small = NEW is worse by more);
    ``mde``: the worsening caught with 80% power; ``method``: what varied (as :class:`~textrobust.stats.crossed.
    Estimate`); ``needed``: seeds or examples that would likely decide an inconclusive gate."""

    delta: float
    estimate: float
    lower: float | None
    upper: float | None
    p: float | None
    method: str
    n_seeds: int
    n_items: int | None
    mde: float | None = None
    p_adjusted: float | None = None
    verdict: str = "inconclusive"
    needed: dict[str, int | None] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in asdict(self).items()}


def _finite(x: Any) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def gate_arrays(
    new: np.ndarray,
    base: np.ndarray,
    bounds: Bounds,
    delta: float,
    higher_is_better: bool,
    seeds_random: bool | None = None,
    alpha: float = ALPHA,
) -> dict[str, np.ndarray]:
    """Vectorised gate over complete ``(..., S, N)`` tables: ``estimate, lower, upper, p, fail, pass`` in the good
    direction (what the simulation in ``benchmarks/gate_sim.py`` runs)."""
    r = difference_arrays(new, base, bounds, 1 - 2 * alpha, seeds_random, mde=False)
    sign = 1.0 if higher_is_better else -1.0
    est = sign * r["estimate"]
    lo, hi = (r["low"], r["high"]) if higher_is_better else (-r["high"], -r["low"])
    # One-sided p of H0 "g >= -delta": the fiducial distribution is symmetric, so half the two-sided tail at the
    # shifted estimate when it lies below -delta, else one minus that half.
    x = est + delta
    half = fiducial.two_sided_p(x, r["a"], r["b"], float(r["nu1"]), float(r["nu2"])) / 2
    p = np.where(x < 0, half, 1 - half)
    out: dict[str, np.ndarray] = {k: np.asarray(v) for k, v in r.items()}
    out.update(estimate=est, lower=lo, upper=hi, p=p, fail=hi < -delta)
    out["pass"] = lo > -delta
    return out


def gate(
    new: np.ndarray,
    base: np.ndarray,
    bounds: Bounds,
    delta: float,
    higher_is_better: bool,
    models_fixed: bool = False,
) -> Gate:
    """The gate of one metric from its per-example tables (``S x N``, rows the same seeds, NaN = does not count);
    tables that do not pair example by example fall back to the per-seed values (:func:`gate_seeds`).
    ``models_fixed``: two given models (one row each), compared over test examples."""
    n, b = np.asarray(new, dtype=float), np.asarray(base, dtype=float)
    cols = complete_columns(n, b)
    if cols is None:
        return gate_seeds(row_means(n) - row_means(b), bounds, delta, higher_is_better)
    n, b = n[:, cols], b[:, cols]
    S, N = n.shape
    seeds_random = S >= MIN_SEEDS and not models_fixed
    r = gate_arrays(n[None], b[None], bounds, delta, higher_is_better, seeds_random)
    method = "seeds+examples" if seeds_random else "examples"
    mde = detectable_effect(
        r["a"],
        r["b"],
        float(r["nu1"]),
        float(r["nu2"]),
        resid=r["resid"],
        cells=float(S * N),
        base=r["base_mean"],
        cond=r["cond_mean"],
        alpha=2 * ALPHA,  # two-sided at 10% = one-sided at 5%, the gate's level
        power=POWER,
    )
    out = Gate(
        delta,
        float(r["estimate"][0]),
        _finite(r["lower"][0]),
        _finite(r["upper"][0]),
        float(r["p"][0]),
        method,
        S,
        N,
        mde=None if not math.isfinite(float(mde[0])) else delta + float(mde[0]),
    )
    out.needed = _needed(n - b, out, seeds_random)
    return out


def gate_seeds(diffs: np.ndarray, bounds: Bounds, delta: float, higher_is_better: bool) -> Gate:
    """The gate from per-seed differences alone (metrics without per-example outcomes: ECE, macro-F1): a t over
    seeds, about this test set; no bound from fewer than MIN_SEEDS seeds (then always inconclusive)."""
    from scipy import stats

    d = np.asarray([x for x in np.asarray(diffs, dtype=float) if math.isfinite(x)])
    sign = 1.0 if higher_is_better else -1.0
    if len(d) < MIN_SEEDS:
        est = sign * float(d.mean()) if len(d) else math.nan
        return Gate(delta, est, None, None, None, "none", len(d), None)
    est, se, df = sign * float(d.mean()), float(d.std(ddof=1)) / math.sqrt(len(d)), len(d) - 1
    q = float(stats.t.ppf(1 - ALPHA, df))
    lo_b, hi_b = diff_bounds(bounds)
    lower = max(est - q * se, lo_b) if lo_b is not None else est - q * se
    upper = min(est + q * se, hi_b) if hi_b is not None else est + q * se
    p = float(stats.t.cdf((est + delta) / se, df)) if se > 0 else float(est + delta < 0)
    mde = delta + float(stats.t.ppf(1 - ALPHA, df) + stats.t.ppf(POWER, df)) * se
    return Gate(delta, est, lower, upper, p, "seeds", len(d), None, mde=mde)


def _needed(d: np.ndarray, g: Gate, seeds_random: bool) -> dict[str, int | None]:
    """Seeds (or, with seeds fixed, examples) at which the one-sided bound would clear ``-delta`` if the estimate
    stayed where it is: what would decide an inconclusive gate. None when no design up to 50 seeds or 100x the
    examples would."""
    margin = abs(g.estimate + g.delta)
    if margin == 0 or d.shape[1] < 2:
        return {"seeds": None, "examples": None}
    from scipy import stats

    comp = components(d)
    z = float(stats.norm.ppf(1 - ALPHA))  # one-sided normal quantile: a planning figure

    def var(S: int, N: int) -> float:
        a, b, _, _ = comp.parts(seeds_random, S, N)
        return a + b

    S, N = d.shape
    seeds = next((s for s in range(S, 51) if z * math.sqrt(var(s, N)) < margin), None) if seeds_random else None
    examples = next((m * N for m in (1, 2, 3, 5, 10, 20, 50, 100) if z * math.sqrt(var(S, m * N)) < margin), None)
    return {"seeds": seeds, "examples": examples}


def adjust(gates: list[Gate], alpha: float = ALPHA) -> None:
    """Holm over the gates' one-sided p-values, then each verdict (see the module docstring)."""
    ps = [g.p if g.p is not None else 1.0 for g in gates]
    for g, q in zip(gates, holm(ps, alpha), strict=True):
        g.p_adjusted = q
        if g.upper is not None and g.upper < -g.delta and q < alpha:
            g.verdict = "fail"
        elif g.lower is not None and g.lower > -g.delta:
            g.verdict = "pass"
        else:
            g.verdict = "inconclusive"


_MARGIN = re.compile(r"^\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*(pts|pt|pp|%|s)?\s*$")


def parse_margin(text: str, unit: str, where: str) -> float:
    """A gate's ``delta`` in the metric's own scale. Shares (``share``, shown as %) and ``percent`` metrics take
    points, ``2pts`` (a share's delta is then 0.02); ``seconds`` take ``5s`` or a plain number; counts and scores
    a plain number. A negative delta, a share without its unit, or ``%`` (points or a relative change?) is refused.

    Example:
        >>> parse_margin("2pts", "share", "clean.accuracy"), parse_margin("1.5", "score", "ece")
        (0.02, 1.5)
    """
    m = _MARGIN.match(text)
    if m is None:
        raise ConfigError(f"{where}: cannot read the margin {text!r} (write e.g. 2pts for a share, 1.5 for a score)")
    value, suffix = float(m.group(1)), m.group(2)
    if value < 0 or m.group(1).startswith("-"):
        raise ConfigError(f"{where}: the margin is a tolerated worsening, a positive number (e.g. 2pts), got {text!r}")
    if unit in ("share", "percent"):
        if suffix == "%":
            raise ConfigError(f"{where}: '{text}' is ambiguous (points or a relative change?); write {value:g}pts")
        if suffix not in ("pts", "pt", "pp"):
            raise ConfigError(f"{where} is shown in percent: give the margin in points, e.g. {value:g}pts")
        if value > 100:
            raise ConfigError(f"{where}: a margin of {value:g} points exceeds the metric's whole range")
        return value / 100 if unit == "share" else value
    if suffix == "s" and unit == "seconds":
        return value
    if suffix is not None:
        raise ConfigError(f"{where} is a {unit}: give the margin as a plain number, not {text!r}")
    return value
