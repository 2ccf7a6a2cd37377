"""The statistics keep their promises on simulated experiments with known answers (a fast, seeded subset of the
table ``benchmarks/stats_sim.py`` prints; the processes are in ``textrobust.stats.simulation``): item
heterogeneity, seed effects, seed x item interaction, correlated and independent conditions, condition x item
effects, accuracies of 15%, 78% and 97%, runs that collapse to chance, conditions calibrated differently.

Each cell is deterministic (seeded), so the bounds below are the measured numbers with a little room, not
tolerances for chance; the docs quote the benchmark's larger runs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from textrobust.stats import checks
from textrobust.stats.crossed import difference_arrays
from textrobust.stats.simulation import PROCESSES, holm_claims, recall_tables, simulate
from textrobust.stats.summary import summarise


@pytest.mark.parametrize(
    ("process", "seeds", "items"),
    [
        ("example effects", 3, 200),
        ("independent", 3, 872),
        ("accuracy 97%", 3, 872),
        ("large seed variance", 5, 200),
        ("collapsed runs", 5, 200),
        ("correlated", 10, 200),
    ],
)
def test_family_wise_error_over_six_null_comparisons(process, seeds, items):
    """No true effect anywhere: Holm lets a "better" or "worse" through in about 5% of reports at most (4.9% for
    exact tests; 1,000 reports measure it to +-0.7 points, so the bound has that room — the benchmark's 4,000
    reports per cell give the upper confidence bounds the docs quote)."""
    cell = checks.family_wise_error(PROCESSES[process], np.random.default_rng(seeds * 1000 + items), seeds, items, 1000)
    assert cell["claims"] <= 0.057, cell
    assert cell["single"] <= 0.055, cell  # and each comparison alone keeps its 5%


def test_satterthwaite_df_let_too_much_through_at_three_seeds():
    """Why the df are no longer estimated: on the same data, Satterthwaite's df from the sample give 11% false
    claims where the Behrens-Fisher interval gives 2% (the issue that asked for this measured 2.7-11.5%)."""
    cell = checks.family_wise_error(PROCESSES["example effects"], np.random.default_rng(29), 3, 872, 800)
    assert cell["claims_satterthwaite"] > 0.09 and cell["claims"] < 0.035, cell


@pytest.mark.parametrize(
    ("process", "seeds", "low", "high"),
    [
        ("independent", 3, 0.94, 0.985),
        ("accuracy 15%", 5, 0.93, 0.98),
        ("accuracy 97%", 10, 0.93, 0.97),
        ("example effects", 10, 0.93, 0.97),
        ("collapsed runs", 5, 0.93, 0.98),
        ("independent", 2, 0.93, 0.98),  # 2 seeds: the change for the trained models at hand
    ],
)
def test_intervals_cover_what_they_say(process, seeds, low, high):
    """A true change of 3 points toward 50%: the difference interval covers it and the baseline's mean interval
    covers its accuracy at about the stated 95% (conservative at 3 seeds: the price of not estimating df)."""
    cell = checks.coverage(PROCESSES[process], np.random.default_rng(seeds), seeds, 200, 800)
    assert low <= cell["diff"] <= high and low <= cell["mean"] <= high, cell


def test_collapsed_runs_are_left_out_and_that_restores_coverage():
    """Runs that collapse to chance (10% of them) are detected from the clean per-class recalls; an interval over
    every run covers the mixture's mean far less often than the stated 95%."""
    cell = checks.coverage(PROCESSES["collapsed runs"], np.random.default_rng(5), 5, 872, 800)
    assert cell["mean"] >= 0.94 and cell["diff"] >= 0.94, cell
    assert cell["mean_all_runs"] < 0.85, cell


@pytest.mark.parametrize(
    ("process", "seeds", "items"),
    [("independent", 5, 200), ("accuracy 15%", 10, 200), ("accuracy 97%", 5, 872), ("correlated", 3, 872)],
)
def test_power_at_the_printed_mde(process, seeds, items):
    """A change of exactly the MDE a null run printed, toward 50%, is detected 70-90% of the time."""
    cell = checks.power_at_mde(PROCESSES[process], np.random.default_rng(seeds + items), seeds, items, 300)
    assert 0.70 <= cell["power_toward_50"] <= 0.92, cell


def test_ece_verdicts_are_about_this_test_set():
    """A t over per-seed ECE differences covers the change on this test set, not over test sets: so its verdicts
    say "on this test set" and sit in a Holm family of their own, where they keep 5%."""
    cell = checks.ece_on_test_set(np.random.default_rng(3), 3, 200, 300, 150, truth_seeds=100)
    assert 0.93 <= cell["cover_test_set"] <= 0.98, cell
    assert cell["cover_population"] < 0.8, cell
    assert cell["claims"] <= 0.06, cell


def test_a_per_seed_tally_is_not_evidence():
    """With large seed variance and no true effect, "every seed better, most seeds' McNemar significant" turns up
    far more often than the test's 5%: the tally describes these models, so the report says that."""
    cell = checks.seed_tally_null(PROCESSES["large seed variance"], np.random.default_rng(4), 3, 872, 300)
    assert cell["agree_and_most_mcnemar_significant"] > 0.15, cell
    assert cell["test_claims"] <= 0.07, cell  # the single-comparison level, 5% within simulation error


def test_summarise_decides_as_the_simulation_does():
    """End to end: reports with 6 null conditions sharing one baseline, some runs collapsed, through
    ``summarise()`` — its verdicts are the simulation's Holm step on the same data (so the cells above are about
    what users get), and collapsed runs are found."""
    rng = np.random.default_rng(12)
    process = PROCESSES["collapsed runs"]
    draw = simulate(process, rng, 4, 3, 120, conditions=7)
    meta = [
        {"evaluation": "clean", "metric": m, "range": [0, 1], "headline": m == "accuracy", "role": "clean",
         "higher_is_better": True, "kind": "clean"}
        for m in ("accuracy", "recall:a", "recall:b")
    ]  # fmt: skip
    names = ["baseline"] + [f"c{k}" for k in range(1, 7)]
    for rep in range(4):
        y = draw.y[rep].astype(float)
        rec = recall_tables(draw.y[rep : rep + 1], draw.labels[rep : rep + 1])
        tables = {"accuracy": y, "recall:a": rec[0][0], "recall:b": rec[1][0]}
        frame = pd.DataFrame(
            [
                {"condition": names[c], "seed": s, "evaluation": "clean", "metric": m, "item": str(i), "value": v}
                for m, t in tables.items()
                for c in range(7)
                for s in range(3)
                for i, v in enumerate(t[c, s])
            ]
        )
        results = frame.groupby(["condition", "seed", "evaluation", "metric"], as_index=False).value.mean()
        rows = [r for r in summarise(results, "baseline", frame, meta) if r["metric"] == "accuracy"]
        claimed = any(r.get("verdict") in ("better", "worse") for r in rows)
        collapsed = {names[c]: sorted(np.nonzero(draw.collapsed[rep, c])[0].tolist()) for c in range(7)}
        assert {r["condition"]: r["collapsed_seeds"] for r in rows} == collapsed
        if draw.collapsed[rep].any():
            continue  # the vectorised shortcut below has no seeds to leave out
        p = difference_arrays(y[1:], np.broadcast_to(y[0], y[1:].shape), (0.0, 1.0), mde=False)["p"]
        assert claimed == bool(holm_claims(p[None])[0])
        assert sorted(r["diff_p"] for r in rows if r["condition"] != "baseline") == pytest.approx(sorted(p))
