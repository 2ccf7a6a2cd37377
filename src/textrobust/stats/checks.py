"""The cells of the simulation table: each runs the statistics that ``summary.json`` uses on simulated experiments
(:mod:`textrobust.stats.simulation`) and measures one promise — family-wise error, coverage, power at the printed
MDE, calibration on this test set, per-seed tallies. ``tests/test_stats_sim.py`` runs a few cells small and seeded;
``benchmarks/stats_sim.py`` runs them all and prints the table ``docs/statistics.md`` cites.

Example:
    >>> rng = np.random.default_rng(0)
    >>> cell = family_wise_error(PROCESSES["independent"], rng, seeds=3, items=200, reports=50)
    >>> sorted(cell)
    ['claims', 'claims_satterthwaite', 'reports', 'single']
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from .binary import runs_at_chance
from .crossed import crossed_t, difference_arrays, mcnemar_by_seed, mean_arrays
from .design import detectable_effect
from .levels import MIN_SEEDS
from .simulation import (
    PROCESSES,
    Draw,
    Process,
    clean_outcomes,
    holm_claims,
    recall_tables,
    simulate,
    simulate_ece,
    true_change,
)

__all__ = [
    "PROCESSES",
    "coverage",
    "ece_on_test_set",
    "family_wise_error",
    "power_at_mde",
    "satterthwaite_p",
    "seed_tally_null",
    "upper_bound",
]

#: Tables simulated at once (bounds memory: reps x 2 x S x N latent values).
CHUNK = 600


def upper_bound(hits: float, n: int, confidence: float = 0.95) -> float:
    """One-sided upper confidence bound of a rate (Clopper-Pearson): what "<= 5%, upper bound <= 6%" is checked on."""
    from scipy import stats

    k = round(hits * n)
    return 1.0 if k >= n else float(stats.beta.ppf(confidence, k + 1, n - k))


def satterthwaite_p(d: np.ndarray) -> np.ndarray:
    """The p-value textrobust used before: the same variance estimate on Satterthwaite's df, estimated from the
    sample (kept to show, in the same cells, what it let through)."""
    from scipy import stats

    S, N = d.shape[-2:]
    rows, cols, grand = d.mean(-1), d.mean(-2), d.mean((-2, -1))
    ms_item, ms_seed = S * cols.var(-1, ddof=1), N * rows.var(-1, ddof=1)
    resid = d - rows[..., None] - cols[..., None, :] + grand[..., None, None]
    ms_resid = (resid**2).sum((-2, -1)) / ((S - 1) * (N - 1))
    seed_part, item_part = ms_seed / (S * N), np.maximum(ms_item - ms_resid, 0.0) / (S * N)
    with np.errstate(divide="ignore", invalid="ignore"):
        item_df = (ms_item - ms_resid) ** 2 / (ms_item**2 / (N - 1) + ms_resid**2 / ((S - 1) * (N - 1)))
        denom = seed_part**2 / (S - 1) + np.where(item_part > 0, item_part**2 / item_df, 0.0)
        df = np.where(denom > 0, (seed_part + item_part) ** 2 / denom, S - 1)
        se = np.sqrt(seed_part + item_part)
        return np.where(se > 0, 2 * stats.t.sf(np.abs(grand) / np.where(se > 0, se, 1), df), 1.0)


def _kept(y: np.ndarray, keep: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``(rep indices, tables of their kept seeds)`` grouped by how many seeds each rep keeps (``keep[rep, seed]``),
    the kept seeds first: what ``summarise()`` does when it leaves collapsed runs out, vectorised."""
    counts = keep.sum(-1)
    for k in np.unique(counts):
        if k == 0:
            continue
        idx = np.nonzero(counts == k)[0]
        order = np.argsort(~keep[idx], axis=1, kind="stable")[:, :k]
        yield idx, np.take_along_axis(y[idx], order[:, None, :, None], axis=2)


def _keep(draw: Draw, rng: np.random.Generator) -> np.ndarray:
    """Seeds whose runs, in both conditions, are not at chance on a clean test set (``summarise()``'s rule)."""
    if not draw.collapsed.any():
        return np.ones(draw.a.shape[::2], dtype=bool)
    at = runs_at_chance(recall_tables(clean_outcomes(draw, rng), draw.labels))
    return np.logical_not(at.any(1))


def _paired(draw: Draw, keep: np.ndarray, mde: bool = False) -> dict[str, np.ndarray]:
    """``difference_arrays`` on every rep's kept seeds; NaN/1 where fewer than MIN_SEEDS seeds remain."""
    n = draw.y.shape[0]
    out = {k: np.full(n, np.nan) for k in ("estimate", "low", "high", "p", "mde", "mde_plug_in", "p_old")}
    out["p"][:] = out["p_old"][:] = 1.0
    out["seeds"] = keep.sum(-1)
    for idx, sub in _kept(draw.y.astype(float), keep):
        if sub.shape[2] < MIN_SEEDS:
            continue
        r = difference_arrays(sub[:, 1], sub[:, 0], (0.0, 1.0), mde=mde)
        for k in ("estimate", "low", "high", "p") + (("mde",) if mde else ()):
            out[k][idx] = r[k]
        if mde:
            out["mde_plug_in"][idx] = detectable_effect(
                r["a"],
                r["b"],
                r["nu1"],
                r["nu2"],
                a_df=np.inf,
                resid=r["resid"],
                cells=float(sub[0, 0].size),
                base=r["base_mean"],
                cond=r["cond_mean"],
            )
        out["p_old"][idx] = satterthwaite_p(sub[:, 1] - sub[:, 0])
    return out


def family_wise_error(
    process: Process, rng: np.random.Generator, seeds: int, items: int, reports: int, family: int = 6
) -> dict[str, Any]:
    """Reports of ``family`` comparisons with no true effect: the share in which Holm lets any "better/worse"
    through (textrobust's test, and Satterthwaite's for comparison), and the single-test false positive rate."""
    claims, old, single = [], [], []
    done = 0
    while done < reports:
        r = min(max(CHUNK // family, 1), reports - done)
        draw = simulate(process, rng, r * family, seeds, items)
        res = _paired(draw, _keep(draw, rng))
        claims.append(holm_claims(res["p"].reshape(r, family)))
        old.append(holm_claims(res["p_old"].reshape(r, family)))
        single.append(res["p"] < 0.05)
        done += r
    return {
        "reports": reports,
        "claims": float(np.concatenate(claims).mean()),
        "claims_satterthwaite": float(np.concatenate(old).mean()),
        "single": float(np.concatenate(single).mean()),
    }


def _toward_middle(process: Process) -> float:
    return -1.0 if process.accuracy > 0.5 else 1.0


def coverage(
    process: Process, rng: np.random.Generator, seeds: int, items: int, reps: int, change: float = 0.03
) -> dict[str, Any]:
    """A true change of ``change`` toward 50%: how often the difference interval covers it, how often the
    baseline's mean interval covers its accuracy, and how often the change is detected (p < 0.05, where a claim
    can be made: from MIN_SEEDS seeds) by textrobust's test and Satterthwaite's. The estimand is the one the
    report states: over seeds and examples for runs that trained (from MIN_SEEDS kept seeds), else the change for
    the trained models at hand over the population of examples. For comparison: ``mean_t``, what a symmetric t
    interval of the mean covers, and ``mean_all_runs``, what the mean interval covers when collapsed runs are kept
    in (the mixture's mean)."""
    keys = ("diff", "mean", "mean_t", "detected", "detected_satterthwaite")
    hits: dict[str, list[np.ndarray]] = {k: [] for k in keys}
    hits["mean_all_runs"] = []
    done = 0
    while done < reps:
        r = min(CHUNK, reps - done)
        draw = simulate(process, rng, r, seeds, items, change=_toward_middle(process) * change)
        keep = _keep(draw, rng)
        y = draw.y.astype(float)
        population = true_change(process, draw, True)
        at_hand = process.accuracy_given_seed(draw.delta, draw.a)  # [rep, condition, seed]
        for idx, sub in _kept(y, keep):
            k = sub.shape[2]
            random = k >= MIN_SEEDS
            res = difference_arrays(sub[:, 1], sub[:, 0], (0.0, 1.0), mde=False)
            kept_models = np.where(keep[idx][:, None, :], at_hand[idx], np.nan)
            these = np.nanmean(kept_models[:, 1] - kept_models[:, 0], -1)
            truth = population[idx] if random else these
            hits["diff"].append((res["low"] <= truth) & (truth <= res["high"]))
            m = mean_arrays(sub[:, 0], (0.0, 1.0))
            target = process.accuracy if random else np.nanmean(kept_models[:, 0], -1)
            hits["mean"].append((m["low"] <= target) & (target <= m["high"]))
            t = crossed_t(sub[:, 0], random)  # the symmetric t interval Wilson's replaced, for comparison
            hits["mean_t"].append((t["low"] <= target) & (target <= t["high"]))
            if random:
                hits["detected"].append(res["p"] < 0.05)
                hits["detected_satterthwaite"].append(satterthwaite_p(sub[:, 1] - sub[:, 0]) < 0.05)
        if process.collapse and seeds >= MIN_SEEDS:
            m = mean_arrays(y[:, 0], (0.0, 1.0))
            everyone = (1 - process.collapse) * process.accuracy + process.collapse * 0.5
            hits["mean_all_runs"].append((m["low"] <= everyone) & (everyone <= m["high"]))
        done += r
    out: dict[str, Any] = {"reps": reps}
    for k, v in hits.items():
        if v:
            x = np.concatenate(v)
            out[k], out[f"{k}_n"] = float(x.mean()), int(x.size)
    return out


def power_at_mde(process: Process, rng: np.random.Generator, seeds: int, items: int, reps: int) -> dict[str, Any]:
    """The MDE printed from a run with no effect, then a fresh run of the same design with a true change of exactly
    that size: how often it is detected (p < 0.05), toward 50% (the direction the MDE is computed for) and away
    from it (capped at the metric's range), and toward 50% among fresh runs whose seeds all trained (the design the
    MDE describes: a run that loses seeds to collapse has fewer). ``power_plug_in``: the same with the seed variance
    taken as measured (textrobust 0.1's MDE, here also at the level the change reaches). The MDE's spread over runs
    is reported too (10th, 50th, 90th percentile)."""
    mdes: list[np.ndarray] = []
    hard: list[np.ndarray] = []
    easy: list[np.ndarray] = []
    whole: list[np.ndarray] = []
    plug: list[np.ndarray] = []
    done = 0
    while done < reps:
        r = min(CHUNK, reps - done)
        draw = simulate(process, rng, r, seeds, items)
        keep = _keep(draw, rng)
        res0 = _paired(draw, keep, mde=True)
        m = res0["mde"]
        ok = np.isfinite(m)
        for sign, out in ((_toward_middle(process), hard), (-_toward_middle(process), easy)):
            change = np.clip(np.where(ok, sign * m, 0.0), -process.accuracy + 1e-6, 1 - process.accuracy - 1e-6)
            fresh = simulate(process, rng, r, seeds, items, change=change)
            kept = _keep(fresh, rng)
            res = _paired(fresh, kept)
            out.append((res["p"] < 0.05)[ok])
            if out is hard:  # the design the MDE is for: every seed's runs trained
                whole.append((res["p"] < 0.05)[ok & (res["seeds"] == seeds)])
        # textrobust 0.1's MDE took the seed variance as measured: the same runs, that MDE, a fresh run
        plain = res0["mde_plug_in"]
        fine = np.isfinite(plain)
        change = np.clip(
            np.where(fine, _toward_middle(process) * plain, 0.0), -process.accuracy + 1e-6, 1 - process.accuracy - 1e-6
        )
        fresh = simulate(process, rng, r, seeds, items, change=change)
        plug.append((_paired(fresh, _keep(fresh, rng))["p"] < 0.05)[fine])
        mdes.append(m[ok])
        done += r
    m = np.concatenate(mdes)
    return {
        "reps": reps,
        "n": int(m.size),
        "power_toward_50": float(np.concatenate(hard).mean()),
        "power_away": float(np.concatenate(easy).mean()),
        "power_all_seeds_trained": float(np.concatenate(whole).mean()),
        "power_plug_in": float(np.concatenate(plug).mean()),
        "mde_p10": float(np.percentile(m, 10)),
        "mde_median": float(np.median(m)),
        "mde_p90": float(np.percentile(m, 90)),
    }


def ece_on_test_set(
    rng: np.random.Generator,
    seeds: int,
    items: int,
    reps: int,
    reports: int,
    family: int = 6,
    truth_seeds: int = 200,
) -> dict[str, Any]:
    """ECE verdicts (a t over the per-seed ECE differences): coverage of the change *on this test set* when the
    two conditions are miscalibrated differently, of the change over the population of test sets (what a general
    claim would need), and Holm's family-wise error over ``family`` null comparisons (same calibration)."""
    from scipy import stats

    ece, truth = simulate_ece(rng, reps, seeds, items, truth_seeds=truth_seeds)
    d = ece[:, 1] - ece[:, 0]
    mean, se = d.mean(-1), d.std(-1, ddof=1) / np.sqrt(seeds)
    q = stats.t.ppf(0.975, seeds - 1)
    population = truth.mean()  # the population change: the average over test sets of the change on each
    null, _ = simulate_ece(rng, reports * family, seeds, items, temperatures=(1.3, 1.3), truth_seeds=0)
    dn = null[:, 1] - null[:, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        p = 2 * stats.t.sf(np.abs(dn.mean(-1)) / (dn.std(-1, ddof=1) / np.sqrt(seeds)), seeds - 1)
    return {
        "reps": reps,
        "cover_test_set": float((np.abs(mean - truth) <= q * se).mean()),
        "cover_population": float((np.abs(mean - population) <= q * se).mean()),
        "reports": reports,
        "claims": float(holm_claims(np.nan_to_num(p, nan=1.0).reshape(reports, family)).mean()),
    }


def seed_tally_null(process: Process, rng: np.random.Generator, seeds: int, items: int, reps: int) -> dict[str, Any]:
    """No true effect: how often every seed's models differ in the same direction *and* most seeds' exact McNemar
    tests are "significant" — what "better in 3 of 3 seeds (McNemar p < 0.05 in 2)" used to suggest was
    evidence — against how often textrobust's test claims an effect."""
    draw = simulate(process, rng, reps, seeds, items)
    y = draw.y.astype(float)
    same, sig = np.zeros(reps, dtype=bool), np.zeros(reps, dtype=bool)
    for k in range(reps):
        tests = mcnemar_by_seed(y[k, 1], y[k, 0]) or []
        diffs = (y[k, 1] - y[k, 0]).mean(-1)
        same[k] = bool(np.all(diffs > 0) or np.all(diffs < 0))
        sig[k] = same[k] and sum(t["p"] < 0.05 for t in tests) > seeds / 2
    p = difference_arrays(y[:, 1], y[:, 0], (0.0, 1.0), mde=False)["p"]
    return {
        "reps": reps,
        "all_seeds_agree": float(same.mean()),
        "agree_and_most_mcnemar_significant": float(sig.mean()),
        "test_claims": float((p < 0.05).mean()),
    }
