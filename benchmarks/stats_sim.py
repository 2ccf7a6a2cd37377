"""The simulation table behind ``docs/statistics.md``: do textrobust's statistics keep their promises?

Every cell simulates experiments with known answers (``textrobust.stats.simulation``: item heterogeneity, seed
effects, seed x item interaction, correlated and independent conditions, condition x item effects, accuracies of
15% / 78% / 97%, runs that collapse to chance, conditions calibrated differently) and runs the functions
``summary.json`` is made of (``textrobust.stats.checks``). Sections:

A. family-wise false claims: 6 null comparisons per report, Holm at 5% — textrobust's Behrens-Fisher test and the
   Satterthwaite df it replaced (target <= 5%, one-sided 95% upper bound <= 6%);
B. coverage of the difference interval (true change of 3 points toward 50%) and of the mean interval, and the share
   of those changes detected (the power the conservative test costs next to Satterthwaite's);
C. power at the printed MDE (target 70-90% toward 50%), with the MDE's spread over runs;
D. ECE on this test set: coverage of its stated estimand vs the population's, and its own Holm family;
E. the per-seed tally under the null;
F. boundaries and tiny n: Wilson / Newcombe coverage for fixed models (a scan) near 100%.

Run (about 15 min on one core at the defaults; ``--quick`` about 2)::

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/stats_sim.py
    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/stats_sim.py --quick --sections A,B
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import numpy as np

from textrobust.stats import checks
from textrobust.stats.crossed import difference_arrays, mean_arrays


def _pct(x: float) -> str:
    return f"{100 * x:5.1f}"


def section_a(rng: np.random.Generator, designs: list[tuple[int, int]], reports: int) -> None:
    print(f"\nA. Family-wise false claims, 6 null comparisons per report, {reports} reports per cell (%)")
    print(f"{'process':22s} {'S':>3s} {'N':>4s} {'textrobust':>10s} {'upper95':>8s} {'Satterthw.':>10s} {'single':>7s}")
    worst = 0.0
    for name, process in checks.PROCESSES.items():
        for S, N in designs:
            c = checks.family_wise_error(process, rng, S, N, reports)
            up = checks.upper_bound(c["claims"], reports)
            worst = max(worst, up)
            print(
                f"{name:22s} {S:3d} {N:4d} {_pct(c['claims']):>10s} {_pct(up):>8s} "
                f"{_pct(c['claims_satterthwaite']):>10s} {_pct(c['single']):>7s}",
                flush=True,
            )
    print(f"largest upper bound: {_pct(worst)}%")


def section_b(rng: np.random.Generator, designs: list[tuple[int, int]], reps: int) -> None:
    print(
        f"\nB. Coverage (%) of a true 3-point change toward 50% and of the baseline's mean; detected (%); {reps} reps"
    )
    head = (
        f"{'process':22s} {'S':>3s} {'N':>4s} {'diff':>6s} {'mean':>6s} {'detect':>7s} {'Satt.':>6s} {'all-runs':>9s}"
    )
    print(head)
    for name, process in checks.PROCESSES.items():
        for S, N in [(2, 200), (2, 872), *designs]:
            c = checks.coverage(process, rng, S, N, reps)
            everyone = _pct(c["mean_all_runs"]) if "mean_all_runs" in c else "-"
            satt = _pct(c["detected_satterthwaite"]) if "detected_satterthwaite" in c else "-"
            detect = _pct(c["detected"]) if "detected" in c else "-"
            print(
                f"{name:22s} {S:3d} {N:4d} {_pct(c['diff']):>6s} {_pct(c['mean']):>6s} {_pct(c['mean_t']):>7s} "
                f"{detect:>7s} {satt:>6s} {everyone:>9s}",
                flush=True,
            )


def section_c(rng: np.random.Generator, designs: list[tuple[int, int]], reps: int) -> None:
    print(f"\nC. Power (%) at the MDE a null run printed; MDE percentiles 10/50/90 (pts); {reps} reps")
    print("   (trained: fresh runs whose seeds all trained; plug-in: the MDE with the seed variance taken as measured)")
    cols = f"{'to 50%':>7s} {'away':>6s} {'trained':>8s} {'plug-in':>8s}"
    print(f"{'process':22s} {'S':>3s} {'N':>4s} {cols}  MDE p10/p50/p90")
    for name, process in checks.PROCESSES.items():
        for S, N in designs:
            c = checks.power_at_mde(process, rng, S, N, reps)
            print(
                f"{name:22s} {S:3d} {N:4d} {_pct(c['power_toward_50']):>7s} {_pct(c['power_away']):>6s} "
                f"{_pct(c['power_all_seeds_trained']):>8s} {_pct(c['power_plug_in']):>8s}  "
                f"{100 * c['mde_p10']:.1f}/{100 * c['mde_median']:.1f}/{100 * c['mde_p90']:.1f}",
                flush=True,
            )


def section_d(rng: np.random.Generator, designs: list[tuple[int, int]], reps: int, reports: int) -> None:
    print(
        f"\nD. ECE (per-seed t): coverage (%) on this test set vs over test sets; Holm family of its own ({reps} reps)"
    )
    print(f"{'S':>3s} {'N':>4s} {'this set':>9s} {'population':>11s} {'false claims':>13s} {'upper95':>8s}")
    for S, N in designs:
        c = checks.ece_on_test_set(rng, S, N, reps, reports)
        up = checks.upper_bound(c["claims"], reports)
        print(
            f"{S:3d} {N:4d} {_pct(c['cover_test_set']):>9s} {_pct(c['cover_population']):>11s} "
            f"{_pct(c['claims']):>13s} {_pct(up):>8s}",
            flush=True,
        )


def section_e(rng: np.random.Generator, reps: int) -> None:
    print(f"\nE. No true effect: per-seed tally vs the test (%), {reps} reps")
    print(f"{'process':22s} {'S':>3s} {'N':>4s} {'all agree':>10s} {'+McNemar':>9s} {'test':>6s}")
    for name in ("independent", "large seed variance"):
        for S, N in ((3, 872), (5, 872)):
            c = checks.seed_tally_null(checks.PROCESSES[name], rng, S, N, reps)
            print(
                f"{name:22s} {S:3d} {N:4d} {_pct(c['all_seeds_agree']):>10s} "
                f"{_pct(c['agree_and_most_mcnemar_significant']):>9s} {_pct(c['test_claims']):>6s}",
                flush=True,
            )


def section_f(rng: np.random.Generator, reps: int) -> None:
    print(
        f"\nF. Fixed models (a scan: 1 seed), tiny n and boundaries: coverage (%) of the score intervals, {reps} reps"
    )
    print(f"{'N':>4s} {'p':>6s} {'mean':>6s} {'diff (same p)':>14s} {'diff (+3 pts)':>14s}")
    for N in (2, 10, 50, 200):
        for p in (0.9, 0.99):
            y = (rng.random((reps, 1, N)) < p).astype(float)
            m = mean_arrays(y, (0.0, 1.0))
            cover = ((m["low"] <= p) & (p <= m["high"])).mean()
            # two fixed models that disagree on some examples: independent errors at p and at p - 0.03
            z = (rng.random((reps, 1, N)) < p).astype(float)
            d = difference_arrays(z, y, (0.0, 1.0), mde=False)
            same = ((d["low"] <= 0) & (0 <= d["high"])).mean()
            w = (rng.random((reps, 1, N)) < p - 0.03).astype(float)
            d3 = difference_arrays(w, y, (0.0, 1.0), mde=False)
            moved = ((d3["low"] <= -0.03) & (-0.03 <= d3["high"])).mean()
            print(f"{N:4d} {p:6.2f} {_pct(cover):>6s} {_pct(same):>14s} {_pct(moved):>14s}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer replicates (about 3 minutes)")
    parser.add_argument("--sections", default="A,B,C,D,E,F", help="which sections to run (A-F)")
    parser.add_argument("--seed", type=int, default=2029)
    args = parser.parse_args()
    reports, reps, power_reps = (300, 400, 200) if args.quick else (4000, 2000, 1000)
    designs = [(S, N) for S in (3, 5, 10) for N in (200, 872)]
    rng = np.random.default_rng(args.seed)
    started = time.time()
    wanted = set(args.sections.upper().split(","))
    print(f"textrobust statistics simulation (seed {args.seed}; {'quick' if args.quick else 'full'})")
    if "A" in wanted:
        section_a(rng, designs, reports)
    if "B" in wanted:
        section_b(rng, designs, reps)
    if "C" in wanted:
        section_c(rng, designs, power_reps)
    if "D" in wanted:
        section_d(rng, [(3, 200), (5, 200), (10, 200), (3, 872)], reps // 4, reports)
    if "E" in wanted:
        section_e(rng, reps // 4)
    if "F" in wanted:
        section_f(rng, reps)
    print(f"\n{time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
