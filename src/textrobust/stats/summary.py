"""The run's statistics (``summary.json`` rows): per condition and metric the mean with its interval, and for every
condition the paired difference to the baseline with its interval, p-value, Holm-adjusted p-value, verdict, power
and per-seed McNemar tests. The methods are in :mod:`textrobust.stats.crossed`; ``docs/statistics.md``
explains them.

Metrics that are means of per-example outcomes (accuracy, invariance, failure rates, Brier) use the two-level
seeds x examples model; the others (macro-F1, ECE, queries) the seed-only view, which holds the test set fixed. The
judged comparisons (condition != baseline, a headline metric whose role is clean / robustness / calibration and that
has a direction) form two Holm families: ``general`` (seeds and examples both random: a claim about the condition)
and ``test_set`` (the seed-only view: a claim about *this* test set), each at 5% family-wise error.

Training runs that collapsed to chance (a seed whose model is no better than chance on the clean test set, from the
per-class recalls the clean evaluation stores) are left out of every statistic of their condition and listed in
``collapsed_seeds``: their accuracy is a different population (a failed run), and mixing a few of them into 3-5
seeds makes any interval over seeds meaningless.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .binary import balanced_accuracy, runs_at_chance
from .crossed import (
    CONFIDENCE,
    MIN_SEEDS,
    Estimate,
    decide,
    diff_bounds,
    difference,
    holm,
    mcnemar_by_seed,
    mean_estimate,
    planning,
    row_means,
    seed_estimate,
)

JUDGED_ROLES = ("clean", "robustness", "calibration")
#: Holm families: claims about the condition (seeds and test examples random) and about this test set only.
SCOPES = ("general", "test_set")
METHOD_FIXED = "fixed models compared over test examples (paired t over examples; exact McNemar per example pair)"
METHOD = (
    "two-level: seeds and test examples both random (crossed random-effects model, method of moments, "
    f"Behrens-Fisher interval) from {MIN_SEEDS} seeds; below that, test examples only, for the trained models at "
    "hand; per-seed t on this test set for metrics without per-example outcomes; score intervals for 0/1 outcomes "
    "at the boundaries; runs collapsed to chance left out"
)


class Outcomes:
    """Per-example outcomes as ``seeds x examples`` tables, looked up by (condition, evaluation, metric)."""

    def __init__(self, frame: Any | None) -> None:
        self._tables: dict[tuple[str, str, str], tuple[list[int], list[str], np.ndarray]] = {}
        if frame is None or not len(frame):
            return
        for (cond, ev, metric), g in frame.groupby(["condition", "evaluation", "metric"], sort=False):
            wide = g.pivot_table(index="seed", columns="item", values="value", aggfunc="first", dropna=False)
            self._tables[(str(cond), str(ev), str(metric))] = (
                list(wide.index),
                [str(c) for c in wide.columns],
                wide.to_numpy(dtype=float),
            )

    def table(
        self, cond: str, ev: str, metric: str, seeds: Sequence[int] | None = None, items: Sequence[str] | None = None
    ) -> np.ndarray | None:
        found = self._tables.get((cond, ev, metric))
        if found is None:
            return None
        s, i, x = found
        rows = [s.index(k) for k in seeds] if seeds is not None else list(range(len(s)))
        cols = [i.index(k) for k in items] if items is not None else list(range(len(i)))
        return x[np.ix_(rows, cols)]

    def conditions(self) -> list[str]:
        return list(dict.fromkeys(c for c, _, _ in self._tables))

    def keys(self, cond: str, ev: str, metric: str) -> tuple[list[int], list[str]] | None:
        found = self._tables.get((cond, ev, metric))
        return None if found is None else (found[0], found[1])


def summarise(
    results: Any,
    baseline: str = "baseline",
    outcomes: Any | None = None,
    metrics: Sequence[dict[str, Any]] = (),
    confidence: float = CONFIDENCE,
    models_fixed: bool = False,
) -> list[dict[str, Any]]:
    """Summary rows for the tidy ``results`` table (``condition, seed, evaluation, metric, value``), using the
    per-example ``outcomes`` (``condition, seed, evaluation, metric, item, value``) where there are any and the
    metric metadata (range, direction, headline, role) in ``metrics``. ``models_fixed``: the conditions are given
    models (a scan), compared over test examples."""
    meta = {(m["evaluation"], m["metric"]): m for m in metrics}
    tables = Outcomes(outcomes)
    collapsed = {} if models_fixed else collapsed_runs(tables, metrics)
    # A condition whose every run collapsed keeps them (its numbers are then those of failed runs, and say so):
    # leaving all out would make the condition vanish from the report.
    seeds_of = results.groupby("condition").seed.apply(lambda s: {int(x) for x in s}).to_dict()
    left_out = {c: s for c, s in collapsed.items() if seeds_of.get(c, set()) - s}
    results = results[
        [int(s) not in left_out.get(str(c), ()) for c, s in zip(results.condition, results.seed, strict=True)]
    ]
    rows = []
    for (cond, ev, metric), group in results.groupby(["condition", "evaluation", "metric"], sort=False):
        info = meta.get((ev, metric), {})
        bounds = _bounds(info)
        group = group.sort_values("seed")
        row = _mean_row(cond, ev, metric, group, tables, bounds, confidence)
        row["collapsed_seeds"] = sorted(collapsed.get(str(cond), ()))
        row["collapsed_left_out"] = str(cond) in left_out
        if cond != baseline:
            base = results[(results.condition == baseline) & (results.evaluation == ev) & (results.metric == metric)]
            row.update(
                _diff_fields(cond, baseline, ev, metric, group, base, tables, bounds, info, confidence, models_fixed)
            )
        rows.append(row)
    _adjust(rows, models_fixed)
    return [{k: _json(v) for k, v in r.items()} for r in rows]


def collapsed_runs(tables: Outcomes, metrics: Sequence[dict[str, Any]]) -> dict[str, set[int]]:
    """Seeds of each condition whose model is no better than chance on the clean test set (balanced accuracy from
    the clean evaluation's per-class recalls; :func:`textrobust.stats.binary.runs_at_chance`). Nothing is flagged
    when the typical run is itself near chance: then the task, not a run, is the problem, and every run counts."""
    recalls: dict[str, list[str]] = {}
    for m in metrics:  # the clean evaluation declares one recall:<label> per class, each a per-example outcome
        if m.get("kind") == "clean" and str(m["metric"]).startswith("recall:"):
            recalls.setdefault(m["evaluation"], []).append(m["metric"])
    ev, names = next(((e, n) for e, n in recalls.items() if len(n) >= 2), (None, []))
    if ev is None:
        return {}
    flagged, typical = {}, []
    for cond in tables.conditions():
        keys = [k for n in names if (k := tables.keys(cond, ev, n)) is not None]
        if len(keys) < len(names):
            continue
        seeds = sorted(set.intersection(*(set(k[0]) for k in keys)))
        # Every name has a table (its keys were found): nothing is dropped here.
        recall = [t for n in names if (t := tables.table(cond, ev, n, seeds)) is not None]
        ba, se0 = balanced_accuracy(recall)
        typical += [(float(x), float(e)) for x, e in zip(ba, se0, strict=True)]
        flagged[cond] = {s for s, at in zip(seeds, runs_at_chance(recall), strict=True) if at}
    if not typical:
        return {}
    median = float(np.median([b for b, _ in typical]))
    if median <= 1 / len(names) + 4 * float(np.median([e for _, e in typical])):
        return {}
    return {c: s for c, s in flagged.items() if s}


def _bounds(info: dict[str, Any]) -> tuple[float | None, float | None]:
    lo, hi = (info.get("range") or (None, None))[:2]
    return (None if lo is None else float(lo), None if hi is None else float(hi))


def _mean_row(
    cond: str,
    ev: str,
    metric: str,
    group: Any,
    tables: Outcomes,
    bounds: tuple[float | None, float | None],
    confidence: float,
) -> dict[str, Any]:
    values = group.value.to_numpy(dtype=float)
    keys = tables.keys(cond, ev, metric)
    seeds = [int(s) for s in group.seed if keys and int(s) in keys[0]]
    table = tables.table(cond, ev, metric, seeds) if seeds else None
    est = mean_estimate(table, bounds, confidence) if table is not None else seed_estimate(values, bounds, confidence)
    finite = values[np.isfinite(values)]
    return {
        "condition": cond,
        "evaluation": ev,
        "metric": metric,
        "n_seeds": int(len(finite)),
        "n_examples": est.n_items,
        "mean": float(finite.mean()) if len(finite) else math.nan,
        "ci_low": est.low,
        "ci_high": est.high,
        "ci_method": est.method,
        "diff_mean": None,
        "diff_ci_low": None,
        "diff_ci_high": None,
        "diff_includes_zero": None,
    }


def _diff_fields(
    cond: str,
    baseline: str,
    ev: str,
    metric: str,
    group: Any,
    base: Any,
    tables: Outcomes,
    bounds: tuple[float | None, float | None],
    info: dict[str, Any],
    confidence: float,
    models_fixed: bool = False,
) -> dict[str, Any]:
    """The paired difference to the baseline: on the seeds both have, and the examples both scored."""
    base_values = {int(s): v for s, v in zip(base.seed, base.value, strict=True)}
    seeds = [int(s) for s in group.seed if int(s) in base_values]
    if not seeds:
        return {}
    mine, theirs = tables.keys(cond, ev, metric), tables.keys(baseline, ev, metric)
    by_seed: list[dict[str, Any]] = []
    seed_view = None
    c = b = None
    if mine and theirs and set(seeds) <= set(mine[0]) & set(theirs[0]):
        items = [i for i in mine[1] if i in set(theirs[1])]
        c, b = tables.table(cond, ev, metric, seeds, items), tables.table(baseline, ev, metric, seeds, items)
    if c is not None and b is not None:  # both found: their keys were
        est = difference(c, b, bounds, confidence)
        tests = mcnemar_by_seed(c, b) or []
        diffs = row_means(c) - row_means(b)
        by_seed = [{"seed": s, "diff": float(diffs[k]), **(tests[k] if tests else {})} for k, s in enumerate(seeds)]
        if len(seeds) >= MIN_SEEDS:  # the seed-only view beside the two-level one
            view = seed_estimate(np.array([r["diff"] for r in by_seed]), diff_bounds(bounds), confidence)
            seed_view = {"low": view.low, "high": view.high, "p": view.p}
    else:
        value = dict(zip(group.seed.astype(int), group.value, strict=True))
        diffs = np.array([value[s] - base_values[s] for s in seeds], dtype=float)
        est = seed_estimate(diffs, diff_bounds(bounds), confidence)
        by_seed = [{"seed": s, "diff": float(d)} for s, d in zip(seeds, diffs, strict=True)]
    judged = (
        bool(info.get("headline")) and info.get("role") in JUDGED_ROLES and info.get("higher_is_better") is not None
    )
    return {
        **_estimate_fields(est, models_fixed),
        "diff_n_seeds": len(seeds),
        "by_seed": by_seed,
        "seed_view": seed_view,
        "in_family": judged and est.p is not None,
        # The seed-only view holds the test set fixed: its claims are about these examples, a family of their own.
        "scope": "general" if est.method in ("seeds+examples", "examples") else "test_set",
        "higher_is_better": info.get("higher_is_better"),
        "_est": est,
    }


def _estimate_fields(est: Estimate, models_fixed: bool) -> dict[str, Any]:
    """The difference's summary fields, with the variance components and the planning numbers where known."""
    out: dict[str, Any] = {
        "diff_mean": est.estimate,
        "diff_ci_low": est.low,
        "diff_ci_high": est.high,
        "diff_method": est.method,
        "diff_p": est.p,
        "diff_df": est.df,
        "diff_se": est.se,
        "diff_mde": est.mde,
        "diff_mde_low": est.mde_low,
        "diff_mde_high": est.mde_high,
        "diff_includes_zero": None if est.low is None or est.high is None else bool(est.low <= 0 <= est.high),
    }
    if est.components is not None:
        c = est.components
        out["components"] = {
            "n_seeds": c.n_seeds,
            "n_examples": c.n_items,
            "ms_seed": c.ms_seed,
            "ms_item": c.ms_item,
            "ms_resid": c.ms_resid,
            **({"base_mean": est.shares[0], "cond_mean": est.shares[1]} if est.shares else {}),
        }
        plan = planning(c, est.estimate, seeds_random=not models_fixed)
        out.update(plan if not models_fixed else {"seeds_needed": None, "examples_needed": plan["examples_needed"]})
    return out


def _adjust(rows: list[dict[str, Any]], models_fixed: bool = False) -> None:
    """Holm within each family of judged comparisons (:data:`SCOPES`); then each comparison's verdict."""
    sizes = {}
    for scope in SCOPES:
        family = [r for r in rows if r.get("in_family") and r.get("scope") == scope]
        for r, q in zip(family, holm([r["diff_p"] for r in family]), strict=True):
            r["diff_p_adjusted"] = q
        sizes[scope] = len(family)
    for r in rows:
        est = r.pop("_est", None)
        if est is None:
            continue
        adjusted = r.get("diff_p_adjusted")
        r["verdict"] = (
            decide(est, adjusted, r.get("higher_is_better"), models_fixed=models_fixed) if r.get("in_family") else None
        )
        r["models_fixed"] = models_fixed
        if r["verdict"] == "too_few_seeds" and adjusted is not None and est.method == "examples":
            # What the data says about the trained models at hand (seeds fixed), never a general claim.
            r["these_runs"] = (
                "no_change"
                if adjusted >= 1 - CONFIDENCE
                else ("better" if (est.estimate > 0) == r.get("higher_is_better") else "worse")
            )
        r["family_size"] = sizes.get(r.get("scope", "general"), 0)


def family_sizes(rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """How many judged comparisons each Holm family holds (``summary.json`` -> ``correction``)."""
    return {scope: sum(bool(r.get("in_family")) and r.get("scope") == scope for r in rows) for scope in SCOPES}


def _json(v: Any) -> Any:
    """JSON-safe values all the way down: NaN/inf -> None, numpy scalars -> Python."""
    if isinstance(v, dict):
        return {k: _json(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_json(x) for x in v]
    if isinstance(v, np.floating | np.integer):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v
