"""Statistics by hand: small cases whose numbers are checked against formulas worked out beside them (the variance
components of a 2 x 4 table, the paired t of two seeds, Wilson and Newcombe at the boundaries, the Behrens-Fisher
distribution at its two ends, McNemar, Holm, the MDE, collapsed runs, the two Holm families of ``summarise()``).
The simulation that checks the promises (family-wise error, coverage, power) is ``tests/test_stats_sim.py``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from textrobust.stats import fiducial
from textrobust.stats.binary import discordant_interval, runs_at_chance, wilson, wilson_near_boundary
from textrobust.stats.crossed import (
    Estimate,
    components,
    crossed_t,
    decide,
    difference,
    holm,
    mcnemar_by_seed,
    mean_estimate,
    planning,
    seed_estimate,
)
from textrobust.stats.design import Components, detectable, detectable_effect
from textrobust.stats.summary import summarise

Z = stats.norm.isf(0.025)


def test_components_by_hand():
    # 2 seeds x 4 examples; row means 0.75, 0.5; column means 1, 0, 0.5, 1; grand 0.625.
    t = np.array([[1.0, 0, 1, 1], [1, 0, 0, 1]])
    c = components(t)
    assert c.ms_seed == pytest.approx(4 * np.var([0.75, 0.5], ddof=1))  # 0.125
    assert c.ms_item == pytest.approx(2 * np.var([1, 0, 0.5, 1], ddof=1))  # 0.5
    resid = t - t.mean(1, keepdims=True) - t.mean(0, keepdims=True) + t.mean()
    assert c.ms_resid == pytest.approx((resid**2).sum() / 3)
    assert c.seed == 0.0  # ms_seed < ms_resid: the seed component is set to 0, not negative


def test_behrens_fisher_is_students_t_at_both_ends():
    # Seed part only: exactly Student's t with S - 1 df; example part only: t with N - 1 df.
    for nu in (2, 4, 9):
        x = stats.t.isf([0.025, 0.05 / 12, 0.0005], nu)
        assert fiducial.two_sided_p(x, np.ones(3), np.zeros(3), nu, 1e9) == pytest.approx([0.05, 0.05 / 6, 0.001])
        assert fiducial.critical(np.array(1.0), np.array(0.0), nu, 1e9, 0.05) == pytest.approx(
            stats.t.isf(0.025, nu), rel=1e-6
        )
    assert fiducial.two_sided_p(np.array(2.0), np.array(0.0), np.array(1.0), 2, 30) == pytest.approx(
        2 * stats.t.sf(2.0, 30)
    )
    # In between it is never liberal: wider than either t alone would make it at the same total variance.
    mid = fiducial.critical(np.array(0.5), np.array(0.5), 2, 1e9, 0.05)
    assert Z < mid < stats.t.isf(0.025, 2)
    assert fiducial.equivalent_df(mid, 0.95) == pytest.approx(2.85, abs=0.01)


def test_crossed_t_uses_no_df_from_the_sample():
    # The seed part has 2 df whatever the sample says: a table whose seed means agree by chance does not get
    # Satterthwaite's larger df. With the example part 0 (every column the same) it is t(2) over the seed means.
    x = np.tile(np.array([[0.0], [0.1], [0.3]]), (1, 5))
    r = crossed_t(x, seeds_random=True)
    means = x.mean(1)
    half = stats.t.isf(0.025, 2) * means.std(ddof=1) / math.sqrt(3)
    assert (r["low"], r["high"]) == pytest.approx((means.mean() - half, means.mean() + half))
    assert r["p"] == pytest.approx(2 * stats.t.sf(means.mean() / (means.std(ddof=1) / math.sqrt(3)), 2))


def test_difference_two_seeds_is_a_paired_test_over_examples():
    # Two seeds whose models agree on most examples (as fine-tuned seeds do): the paired t over examples of the
    # seed-averaged difference, with N - 1 df (the score-interval floor over the cells is narrower here).
    rng = np.random.default_rng(3)
    cond = np.repeat((rng.random((1, 60)) < 0.8).astype(float), 2, axis=0)
    base = np.repeat((rng.random((1, 60)) < 0.6).astype(float), 2, axis=0)
    cond[1, :5] = 1 - cond[1, :5]
    est = difference(cond, base, (0.0, 1.0))
    d = (cond - base).mean(0)  # per-example mean difference over the two seeds
    se = d.std(ddof=1) / math.sqrt(60)
    q = stats.t.ppf(0.975, 59)
    assert est.method == "examples" and est.estimate == pytest.approx(d.mean())
    assert (est.low, est.high) == pytest.approx((d.mean() - q * se, d.mean() + q * se))
    assert est.p == pytest.approx(2 * stats.t.sf(d.mean() / se, 59))


def test_wilson_and_the_paired_score_interval_by_hand():
    # Wilson: 8 of 10 -> centre (0.8 + z^2/20) / (1 + z^2/10), half z/(1 + z^2/10) sqrt(0.016 + z^2/400)
    low, high = wilson(np.array(8.0), np.array(10.0))
    centre, half = (0.8 + Z**2 / 20) / (1 + Z**2 / 10), Z / (1 + Z**2 / 10) * math.sqrt(0.016 + Z**2 / 400)
    assert (low, high) == pytest.approx((centre - half, centre + half))
    # n of n: the lower end is n / (n + z^2), never n / n.
    assert wilson(np.array(2.0), np.array(2.0))[0] == pytest.approx(2 / (2 + Z**2))
    # Paired difference with no discordant pair in n: each discordant cell's Wilson upper end is z^2 / (n + z^2)
    # (0 of n), so the difference lies within -+ that — whether the pairs are all right or mixed.
    n = 600.0
    low, high = discordant_interval(np.array(0.0), np.array(0.0), np.array(n))
    assert (low, high) == pytest.approx((-(Z**2) / (n + Z**2), Z**2 / (n + Z**2)))
    # Near a boundary Wilson's bound is repaired by the one-sided Poisson bound (Brown, Cai & DasGupta 2001):
    # 9 of 10 -> upper end 1 - chi2(2, 0.025) / 20, not Wilson's 0.982 (which covers a true 99% only 91% of the time).
    low, high = wilson_near_boundary(np.array(9.0), np.array(10.0))
    assert high == pytest.approx(1 - stats.chi2.ppf(0.025, 2) / 20) and low == pytest.approx(wilson(9.0, 10.0)[0])
    # 3 pairs favour the condition, none the baseline: MOVER of the two cells' intervals, uncorrelated (one is 0).
    l3 = min(float(wilson(np.array(3.0), np.array(n))[0]), stats.chi2.ppf(0.025, 6) / (2 * n))
    u3 = float(wilson(np.array(3.0), np.array(n))[1])
    low, high = discordant_interval(np.array(3.0), np.array(0.0), np.array(n))
    assert low == pytest.approx(3 / n - math.sqrt((3 / n - l3) ** 2 + (Z**2 / (n + Z**2)) ** 2))
    assert high == pytest.approx(3 / n + (u3 - 3 / n))


def test_no_zero_width_interval_at_the_boundaries():
    # 100% on 2 examples with one model: Wilson, not [100%, 100%].
    m = mean_estimate(np.ones((1, 2)), (0.0, 1.0))
    assert m.high == 1.0 and m.low == pytest.approx(2 / (2 + Z**2))
    # Two conditions that never fail (3 seeds x 872 examples): an interval around 0, p = 1, an MDE above 0.
    d = difference(np.ones((3, 872)), np.ones((3, 872)), (0.0, 1.0))
    assert d.estimate == 0 and d.p == 1.0
    assert d.high == pytest.approx(1 - 2616 / (2616 + Z**2)) and d.low == -d.high
    assert d.mde is not None and 0.001 < d.mde < 0.01
    # 0 of 50 under attack with 2 seeds: a lower end of 0 and an upper end above it.
    z = mean_estimate(np.zeros((2, 50)), (0.0, 1.0))
    assert z.low == 0.0 and z.high == pytest.approx(Z**2 / (100 + Z**2))


def test_intervals_stay_inside_the_range():
    near_one = np.ones((3, 50))
    near_one[:, :2] = 0.0
    m = mean_estimate(near_one, (0.0, 1.0))
    assert 0.0 <= m.low < m.estimate < m.high <= 1.0 and m.estimate == pytest.approx(0.96)
    big = difference(np.ones((3, 5)), np.zeros((3, 5)) + np.array([[0, 0, 0, 1, 0]]), (0.0, 1.0))
    assert -1.0 <= big.low <= big.high <= 1.0
    s = seed_estimate(np.array([0.99, 1.0, 0.98]), (0.0, 1.0))
    assert s.method == "seeds" and s.high <= 1.0
    assert seed_estimate(np.array([0.5, 0.6])).method == "none"  # too few seeds for a seed-only interval


def test_metrics_whose_examples_differ_fall_back_to_seeds():
    # Success rate counts only examples the model got right: the example sets differ between conditions.
    cond = np.array([[1.0, np.nan, 0, 1], [1, 1, np.nan, 0], [0, 1, 1, np.nan]])
    base = np.array([[np.nan, 1.0, 0, 1], [1, np.nan, 1, 0], [0, 1, 1, 1]])
    est = difference(cond, base)
    per_seed = np.nanmean(cond, 1) - np.nanmean(base, 1)
    assert est.method == "seeds" and est.estimate == pytest.approx(per_seed.mean())


def test_mcnemar_by_seed_by_hand():
    cond = np.array([[1.0] * 10 + [0] * 2])
    base = np.array([[0.0] * 8 + [1] * 2 + [1, 0]])
    (r,) = mcnemar_by_seed(cond, base)
    # discordant: cond right & base wrong = 8, the reverse = 1; exact two-sided binomial p = 2 * P(X <= 1 | n=9)
    assert (r["b"], r["c"]) == (8, 1) and r["p"] == pytest.approx(2 * stats.binom.cdf(1, 9, 0.5))
    assert mcnemar_by_seed(cond * 0.5, base) is None  # not 0/1 outcomes


def test_holm_and_decide():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    est = Estimate(0.02, 0.01, 0.03, "seeds+examples", 3, 100, p=0.001)
    assert decide(est, 0.003, True) == "better" and decide(est, 0.003, False) == "worse"
    assert decide(est, 0.2, True) == "no_change"
    assert decide(Estimate(0.02, 0.01, 0.03, "examples", 2, 100, p=0.001), 0.003, True) == "too_few_seeds"


def test_mde_by_hand_and_where_it_grows():
    # No seed part, known variance: (z_0.975 + z_0.8) x SE.
    se = 0.01
    plug_in = detectable_effect(np.array(0.0), np.array(se**2), 2, 1e9)
    assert plug_in == pytest.approx((Z + stats.norm.isf(0.2)) * se, rel=2e-3)
    # A seed part known from 2 df: the power is averaged over what it could be, so the MDE is larger than if the
    # estimate were the truth, and shrinks with more seeds.
    c = Components(3, 400, ms_seed=0.8, ms_item=0.3, ms_resid=0.25)
    assert detectable(c, 3, 400) > detectable(c, 3, 400, predictive=False)
    assert detectable(c, 10, 400) < detectable(c, 5, 400) < detectable(c, 3, 400)
    # At 97% accuracy the variance grows as a change moves toward 50%: the MDE is for that, harder, direction.
    args = (np.array(0.0), np.array(2e-5), 2, 1e9)
    at_97 = detectable_effect(*args, base=0.97, cond=0.97, cells=3000)
    assert at_97 > detectable_effect(*args)
    assert planning(c, 0.0, True) == {"seeds_needed": None, "examples_needed": None}
    assert planning(c, 0.5, True)["seeds_needed"] == 3  # a huge effect is detectable with what we have


def test_runs_at_chance():
    gap = np.full((3, 50), np.nan)
    rng = np.random.default_rng(0)
    a = np.hstack([np.stack([np.ones(50), rng.random(50) < 0.9, rng.random(50) < 0.55]), gap])
    b = np.hstack([gap, np.stack([np.zeros(50), rng.random(50) < 0.9, rng.random(50) < 0.45])])
    # seed 0 says "a" for everything; seed 1 is 90% right; seed 2 guesses
    assert runs_at_chance([a.astype(float), b.astype(float)]).tolist() == [True, False, True]


def _frame(rng: np.random.Generator, collapse: dict[tuple[str, int], bool]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """results and outcomes of a clean evaluation (accuracy + per-class recall) for 2 conditions x 4 seeds."""
    labels = np.arange(200) % 2
    results, outcomes = [], []
    for cond in ("baseline", "x"):
        for seed in range(4):
            if collapse.get((cond, seed)):
                right = labels == 0  # predicts class 0 for everything
            else:
                right = rng.random(200) < 0.85
            for metric, values in (
                ("accuracy", right.astype(float)),
                ("recall:a", np.where(labels == 0, right, np.nan)),
                ("recall:b", np.where(labels == 1, right, np.nan)),
            ):
                outcomes += [
                    {
                        "condition": cond,
                        "seed": seed,
                        "evaluation": "clean",
                        "metric": metric,
                        "item": str(i),
                        "value": v,
                    }
                    for i, v in enumerate(values)
                ]
                results.append(
                    {
                        "condition": cond,
                        "seed": seed,
                        "evaluation": "clean",
                        "metric": metric,
                        "value": np.nanmean(values),
                    }
                )
            results.append(
                {"condition": cond, "seed": seed, "evaluation": "cal", "metric": "ece", "value": rng.random()}
            )
    return pd.DataFrame(results), pd.DataFrame(outcomes)


META = [
    {"evaluation": "clean", "metric": "accuracy", "range": [0, 1], "headline": True, "role": "clean",
     "higher_is_better": True, "kind": "clean"},
    {"evaluation": "clean", "metric": "recall:a", "range": [0, 1], "role": "clean", "higher_is_better": True,
     "kind": "clean"},
    {"evaluation": "clean", "metric": "recall:b", "range": [0, 1], "role": "clean", "higher_is_better": True,
     "kind": "clean"},
    {"evaluation": "cal", "metric": "ece", "range": [0, 1], "headline": True, "role": "calibration",
     "higher_is_better": False, "kind": "calibration"},
]  # fmt: skip


def test_summarise_leaves_collapsed_runs_out_and_says_so():
    results, outcomes = _frame(np.random.default_rng(1), {("x", 2): True})
    rows = {(r["condition"], r["evaluation"], r["metric"]): r for r in summarise(results, "baseline", outcomes, META)}
    acc = rows[("x", "clean", "accuracy")]
    assert acc["collapsed_seeds"] == [2] and acc["n_seeds"] == 3 and acc["diff_n_seeds"] == 3
    kept = results.query("condition == 'x' and metric == 'accuracy' and seed != 2").value
    assert acc["mean"] == pytest.approx(kept.mean())  # the collapsed run's 50% is not averaged in
    assert rows[("baseline", "clean", "accuracy")]["collapsed_seeds"] == []
    # the same run is left out of every metric of its condition
    assert rows[("x", "cal", "ece")]["collapsed_seeds"] == [2] and rows[("x", "cal", "ece")]["n_seeds"] == 3
    assert acc["collapsed_left_out"] is True


def test_a_condition_whose_every_run_collapsed_is_kept_and_flagged():
    results, outcomes = _frame(np.random.default_rng(1), {("x", s): True for s in range(4)})
    rows = {(r["condition"], r["evaluation"], r["metric"]): r for r in summarise(results, "baseline", outcomes, META)}
    acc = rows[("x", "clean", "accuracy")]
    assert acc["collapsed_seeds"] == [0, 1, 2, 3] and acc["collapsed_left_out"] is False and acc["n_seeds"] == 4
    assert acc["mean"] == pytest.approx(0.5) and acc["verdict"] == "worse"  # a failed condition is not hidden


def test_summarise_puts_test_set_claims_in_their_own_family():
    results, outcomes = _frame(np.random.default_rng(2), {})
    rows = {(r["condition"], r["evaluation"], r["metric"]): r for r in summarise(results, "baseline", outcomes, META)}
    acc, ece = rows[("x", "clean", "accuracy")], rows[("x", "cal", "ece")]
    assert (acc["scope"], acc["diff_method"], acc["family_size"]) == ("general", "seeds+examples", 1)
    assert (ece["scope"], ece["diff_method"], ece["family_size"]) == ("test_set", "seeds", 1)
    assert acc["diff_p_adjusted"] == pytest.approx(acc["diff_p"])  # a family of one: Holm changes nothing
    assert acc["diff_mde_low"] <= acc["diff_mde"] <= acc["diff_mde_high"]


def test_statistics_by_hand_without_outcomes():
    # No per-example outcomes: the seed-only view (a paired t over the 3 seeds), about this test set.
    t = pd.DataFrame(
        {
            "condition": ["baseline"] * 3 + ["x"] * 3,
            "seed": [0, 1, 2] * 2,
            "evaluation": ["clean"] * 6,
            "metric": ["accuracy"] * 6,
            "value": [0.80, 0.82, 0.84, 0.81, 0.83, 0.80],
        }
    )
    x = next(r for r in summarise(t, metrics=META[:1]) if r["condition"] == "x")
    diffs = np.array([0.01, 0.01, -0.04])
    half = stats.t.isf(0.025, 2) * diffs.std(ddof=1) / math.sqrt(3)
    assert (x["diff_ci_low"], x["diff_ci_high"]) == pytest.approx((diffs.mean() - half, diffs.mean() + half))
    assert x["diff_method"] == "seeds" and x["scope"] == "test_set" and x["verdict"] == "no_change"
