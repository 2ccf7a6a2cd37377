"""Are two runs' numbers the same? Every value of ``results.csv`` and every per-example outcome compared.

Wall-clock timings (``*seconds*``, ``*per_s*``) are counted apart: they differ between any two runs. Prints how
many values differ, each differing value, and the largest per-example difference per evaluation and metric.

Usage:
    .venv/bin/python benchmarks/compare_runs.py runs/quickstart_main runs/quickstart_branch
"""

from __future__ import annotations

import argparse
from pathlib import Path

KEY = ["condition", "seed", "evaluation", "metric"]


def compare(a_dir: Path, b_dir: Path) -> None:
    """Print the differences between two run directories' ``results.csv`` and ``outcomes.parquet``."""
    import pandas as pd

    a = pd.read_csv(a_dir / "results.csv").set_index(KEY)["value"]
    b = pd.read_csv(b_dir / "results.csv").set_index(KEY)["value"]
    print(f"results.csv: {len(a)} vs {len(b)} values; same keys: {set(a.index) == set(b.index)}")
    both = pd.concat({"a": a, "b": b}, axis=1)
    timing = both.index.get_level_values("metric").str.contains("seconds|per_s")
    differ = (both.a - both.b).abs() > 0
    print(f"differing: {int((differ & timing).sum())} timings, {int((differ & ~timing).sum())} other values")
    if (differ & ~timing).any():
        rows = both[differ & ~timing].assign(abs_diff=lambda f: (f.a - f.b).abs())
        print(rows.to_string())
    oa, ob = (pd.read_parquet(d / "outcomes.parquet") for d in (a_dir, b_dir))
    same_rows = oa.drop(columns="value").equals(ob.drop(columns="value"))
    print(f"outcomes.parquet: {len(oa)} vs {len(ob)} rows; same examples in the same order: {same_rows}")
    if same_rows:
        gap = (oa.value - ob.value).abs()
        by = oa.assign(gap=gap, differ=gap > 0).groupby(["evaluation", "metric"])[["differ", "gap"]]
        table = by.agg({"differ": "sum", "gap": "max"})
        print(table[table.differ > 0].to_string() if (table.differ > 0).any() else "every outcome identical")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", type=Path, help="a run directory")
    parser.add_argument("b", type=Path, help="another run directory of the same spec")
    args = parser.parse_args()
    compare(args.a, args.b)


if __name__ == "__main__":
    main()
