"""kill -9 safety: ``augment --resume`` and ``run --resume`` killed with SIGKILL at random points, then resumed,
give what an uninterrupted run gives (augment: the same bytes; run: the same results table, timings aside).

    python benchmarks/kill_resume.py                      # the full count: 100,000 rows, 10 kills each
    python benchmarks/kill_resume.py --rows 5000 --kills 3

``tests/test_kill_resume.py`` runs the same functions with fewer rows and kills. Each kill waits for a random
moment of the work (augment: after a random number of checkpoints plus a random delay; run: a random time within
the uninterrupted run's duration), so kills land mid-chunk, mid-write and mid-unit.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

WORDS = ["good", "bad", "film", "plot", "cast", "great", "dull", "story", "music", "ending", "fun", "slow"]


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "textrobust", *args]


def _kill_when(cmd: list[str], ready, cwd: Path | None = None) -> bool:
    """Start ``cmd``; SIGKILL it once ``ready(elapsed)`` says so. True when it was killed, False when it
    finished first."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd)
    start = time.monotonic()
    while proc.poll() is None:
        if ready(time.monotonic() - start):
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.02)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed with exit code {proc.returncode}")
    return False


def write_rows(path: Path, rows: int, seed: int = 0) -> Path:
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as f:
        f.write("text,label\n")
        for i in range(rows):
            f.write(" ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 12))) + f",{i % 2}\n")
    return path


def write_corpus(path: Path, rows: list[tuple[str, int]]) -> Path:
    import pandas as pd

    pd.DataFrame({"text": [t for t, _ in rows], "label": ["pos" if y else "neg" for _, y in rows]}).to_csv(
        path, index=False
    )
    return path


def augment_kills(work: Path, rows: int, kills: int, seed: int = 0, batch_size: int = 500) -> dict:
    """Reference augment run, then ``kills`` SIGKILLed ``--resume`` runs and a final one; compare bytes."""
    rng = random.Random(seed)
    inp = write_rows(work / "in.csv", rows)
    args = [
        "--op",
        "char:kind=keyboard,p=0.1",
        "--op",
        "eda:alpha_sr=0,alpha_ri=0",
        "-n",
        "2",
        "--seed",
        "3",
        "--batch-size",
        str(batch_size),
    ]
    t0 = time.monotonic()
    subprocess.run(
        _cli("augment", str(inp), "-o", str(work / "ref.csv"), *args),
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    ref_seconds = time.monotonic() - t0
    out, state = work / "out.csv", work / ".out.csv.partial.json"
    killed = 0
    for _ in range(kills):
        done = json.loads(state.read_text())["rows_done"] if state.exists() else 0
        chunks_left = max(1, (rows - done) // batch_size)
        wait_chunks, extra = rng.randint(0, min(3, chunks_left - 1)), rng.uniform(0, 0.5)
        mark: list[float] = []

        def ready(elapsed: float, done=done, wait_chunks=wait_chunks, extra=extra, mark=mark) -> bool:
            try:
                now = json.loads(state.read_text())["rows_done"] if state.exists() else 0
            except (OSError, json.JSONDecodeError):
                now = done
            if not mark and now >= done + wait_chunks * batch_size and (now > done or wait_chunks == 0):
                mark.append(elapsed)
            return bool(mark) and elapsed >= mark[0] + extra

        if not _kill_when(_cli("augment", str(inp), "-o", str(out), *args, "--resume"), ready):
            break
        killed += 1
    subprocess.run(
        _cli("augment", str(inp), "-o", str(out), *args, "--resume"),
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    same = out.read_bytes() == (work / "ref.csv").read_bytes()
    leftovers = sorted(p.name for p in work.iterdir() if p.name.startswith(".out"))
    return {
        "rows": rows,
        "kills": killed,
        "identical": same,
        "leftovers": leftovers,
        "reference_seconds": round(ref_seconds, 1),
        "output_bytes": out.stat().st_size,
    }


def experiment(work: Path, model_dir: str, data: Path) -> Path:
    import yaml

    spec = {
        "name": "kill",
        "data": {"train": {"path": str(data)}, "test_split": 0.25, "train_size": 120},
        "model": {
            "name": model_dir,
            "max_length": 32,
            "device": "cpu",
            "train": {"epochs": 2, "lr": 3e-3, "batch_size": 16},
        },
        "conditions": {"baseline": {}, "char": {"augment": {"ops": "char:kind=keyboard,p=0.3"}}},
        "seeds": [0, 1],
        "evaluations": [
            {"kind": "clean"},
            {"kind": "inv", "suites": ["typo"]},
            {"kind": "attack", "recipe": "deepwordbug", "n": 6},
        ],
    }
    path = work / "exp.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def _table(run_dir: Path):
    import pandas as pd

    timing = {"train_seconds", "examples_per_s"}
    t = pd.read_csv(run_dir / "results.csv")
    return t[~t.metric.isin(timing)].sort_values(["condition", "seed", "evaluation", "metric"]).reset_index(drop=True)


def run_kills(work: Path, model_dir: str, data: Path, kills: int, seed: int = 0) -> dict:
    """Reference ``textrobust run``, then ``kills`` SIGKILLed runs on another directory and a final one."""
    import pandas as pd

    rng = random.Random(seed)
    spec = experiment(work, model_dir, data)
    base = ["run", str(spec), "--no-report"]
    t0 = time.monotonic()
    subprocess.run(
        _cli(*base, "-o", str(work / "ref")), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    ref_seconds = time.monotonic() - t0
    n_units = len(list((work / "ref").glob("units/*/*/done.json")))  # what the experiment plans (4 today)
    killed = 0
    for _ in range(kills):
        # A resumed run skips the finished units, so draw the kill time over what is left (start-up included):
        # drawing it over the whole reference time would let the resumed runs finish before most kill points.
        left = n_units - len(list((work / "out").glob("units/*/*/done.json")))
        if left <= 0:
            break
        at = rng.uniform(0.1, 1.0) * ref_seconds * left / n_units
        if not _kill_when(_cli(*base, "-o", str(work / "out")), lambda elapsed, at=at: elapsed >= at):
            break
        killed += 1
    subprocess.run(
        _cli(*base, "-o", str(work / "out")), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    ref, out = _table(work / "ref"), _table(work / "out")
    try:
        pd.testing.assert_frame_equal(ref, out)
        same = True
    except AssertionError:
        same = False
    return {
        "units": 4,
        "kills": killed,
        "identical_except_timings": same,
        "rows": len(ref),
        "reference_seconds": round(ref_seconds, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--kills", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", type=Path, default=None, help="working folder (default: a temporary one)")
    ap.add_argument("--skip-run", action="store_true", help="only the augment half")
    args = ap.parse_args()
    import tempfile

    work = args.work or Path(tempfile.mkdtemp(prefix="kill_resume_"))
    (work / "augment").mkdir(parents=True, exist_ok=True)
    print("augment:", json.dumps(augment_kills(work / "augment", args.rows, args.kills, args.seed)), flush=True)
    if args.skip_run:
        return
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from conftest import tiny_corpus  # the tiny corpus and model the tests use

    (work / "run").mkdir(exist_ok=True)
    model_dir = _tiny_model(work / "run" / "model")
    data = write_corpus(work / "run" / "data.csv", tiny_corpus())
    print("run:", json.dumps(run_kills(work / "run", model_dir, data, args.kills, args.seed)), flush=True)


def _tiny_model(out: Path) -> str:
    """The tests' random 2-layer BERT and WordPiece tokenizer (tests/conftest.py builds both)."""
    import conftest

    tok = conftest.build_tiny_tokenizer(out.parent / "tokenizer")
    return str(conftest.build_tiny_model(out, tok))


if __name__ == "__main__":
    main()
