"""What ``textrobust fix`` costs next to a plain ``textrobust run`` of the same grid (issue 25's "wall time <= 1.5x").

``fix`` scans (trains and scores the baseline with every seed), picks the failing categories, builds their rows and
trains the ``fix`` condition; the plain run is ``textrobust run`` of the experiment ``fix`` wrote
(``RUN_DIR/config.yaml``: the same baseline and ``fix`` conditions, seeds, evaluations and targeted rows) into a
fresh directory. Both are whole processes, timed one after the other; the ratio is fix / run.

Default model: the tests' random 2-layer BERT with its WordPiece tokenizer, on the tiny sentiment corpus of
``tests/conftest.py`` (seconds per unit, so the process overheads weigh most: the worst case for the ratio); any
``--model`` and ``--data`` (a CSV with text,label where labels are negative/positive) work the same way.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/fix_cost.py --out /tmp/fix_cost
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _tiny(out: Path) -> tuple[str, str]:
    sys.path.insert(0, str(ROOT / "tests"))
    import conftest  # the tiny corpus and model the tests use
    import pandas as pd

    tok = conftest.build_tiny_tokenizer(out / "tokenizer")
    model = str(conftest.build_tiny_model(out / "model", tok))
    rows = conftest.tiny_corpus()
    data = out / "data.csv"
    pd.DataFrame({"text": [t for t, _ in rows], "label": ["positive" if y else "negative" for _, y in rows]}).to_csv(
        data, index=False
    )
    return model, str(data)


def _timed(args: list[str]) -> float:
    start = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "textrobust", *args], capture_output=True, text=True)
    if r.returncode not in (0, 1):
        raise SystemExit(r.stderr[-2000:])
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--model", help="model to fine-tune (default: the tests' tiny BERT)")
    ap.add_argument("--data", help="CSV with text,label (default: the tests' tiny corpus)")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    model, data = (args.model, args.data) if args.model and args.data else _tiny(args.out)
    fix_dir, run_dir = args.out / "fix", args.out / "run"
    fix = _timed(
        ["fix", data, "--model", model, "--seeds", "0,1,2", "--test-split", "0.25", "--epochs", "3", "--lr", "3e-3",
         "--set", "model.train.batch_size=16", "--max-length", "32", "--device", "cpu", "--eval", "clean",
         "--eval", "inv:suites=[typo, case]", "--eval", "mft", "--eval", "dir", "--eval",
         "attack:recipe=deepwordbug,n=20", "--min-failure", "0.05", "--rows", "120", "-o", str(fix_dir)]
    )  # fmt: skip
    plain = _timed(["run", str(fix_dir / "config.yaml"), "-o", str(run_dir)])
    print(f"fix {fix:.1f} s, plain run of the same grid {plain:.1f} s, ratio {fix / plain:.2f}")


if __name__ == "__main__":
    main()
