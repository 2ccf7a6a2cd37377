"""The non-inferiority gate of ``textrobust compare`` by simulation (issue 25): does it fail only when NEW is worse
than BASE by more than delta, and how often does it catch a real worsening?

Each cell draws experiments from the generating processes of ``textrobust.stats.simulation`` (item heterogeneity,
seed effects, seed x item interaction, correlated and independent conditions, condition x item effects,
accuracies of 15% / 78% / 97%, runs that collapse to chance) at one design (default 1,000 test examples x 3 seeds,
like a candidate scored against production) and runs the gate itself (``textrobust.stats.checks.gate_rates`` ->
``textrobust.stats.gate.gate_arrays``) on accuracy with margin ``delta`` (default 2 points):

* ``no change``: the share of false fails (target <= 5%) and of passes (non-inferiority shown);
* ``-delta``: the boundary, where a one-sided 5% test fails 5% of the time at most;
* ``-4 pts``: power, the share failed (target >= 80%), beside the ``oracle``: a one-sided 5% test that knew the
  estimate's true standard deviation — what no test on this design can beat.

Two gates: over seeds and examples (what ``compare`` uses from 3 seeds: a claim about the training recipe) and with
seeds held fixed (a claim about the trained models at hand, what it uses for two given models).

Run (about 8 minutes on one core at the defaults)::

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/gate_sim.py
    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/gate_sim.py --reps 300 --processes correlated
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


def _pct(x: float) -> str:
    return f"{100 * x:5.1f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=1000, help="experiments per cell (default 1,000)")
    ap.add_argument("--items", type=int, default=1000)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--delta", type=float, default=0.02, help="margin as a share (0.02 = 2 points)")
    ap.add_argument("--worse", type=float, default=0.04, help="the true worsening whose power is measured")
    ap.add_argument("--processes", default=",".join(checks.PROCESSES), help="comma-separated process names")
    ap.add_argument("--seed", type=int, default=25)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    names = [p.strip() for p in args.processes.split(",")]
    d, w = args.delta, args.worse
    print(
        f"Gate: accuracy, margin {100 * d:g} pts, {args.items} examples x {args.seeds} seeds, {args.reps} experiments "
        "per cell (%); fail = NEW worse than BASE by more than the margin with 95% confidence"
    )
    head = (
        f"{'process':22s} {'gate':13s} {'no change: fail':>15s} {'upper95':>7s} {'pass':>6s} "
        f"{'at -margin: fail':>16s} {f'at -{100 * w:g} pts: fail':>17s} {'oracle':>7s}"
    )
    print(head)
    worst_null, lowest_power = 0.0, 1.0
    t0 = time.time()
    for name in names:
        process = checks.PROCESSES[name]
        for label, random in (("seeds+examp.", True), ("seeds fixed", False)):
            null = checks.gate_rates(process, rng, args.seeds, args.items, args.reps, 0.0, d, random)
            edge = checks.gate_rates(process, rng, args.seeds, args.items, args.reps, -d, d, random)
            power = checks.gate_rates(process, rng, args.seeds, args.items, args.reps, -w, d, random)
            up = checks.upper_bound(null["fail"], args.reps)
            if random:
                worst_null, lowest_power = max(worst_null, up), min(lowest_power, power["fail"])
            print(
                f"{name:22s} {label:13s} {_pct(null['fail']):>15s} {_pct(up):>7s} {_pct(null['pass']):>6s} "
                f"{_pct(edge['fail']):>16s} {_pct(power['fail']):>17s} {_pct(power['oracle_fail']):>7s}",
                flush=True,
            )
    print(
        f"two-level gate: largest upper bound of false fails {_pct(worst_null)}%, lowest power {_pct(lowest_power)}% "
        f"({time.time() - t0:.0f} s)"
    )


if __name__ == "__main__":
    main()
