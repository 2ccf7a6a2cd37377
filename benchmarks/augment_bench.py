"""Throughput of textrobust.augment vs nlpaug 1.1.11 on the same MR sentences (single process, CPU).

Run:  .venv/bin/python benchmarks/augment_bench.py [--n 10000] [--repeat 1] [--json out.json]

Parameters are matched where both libraries expose them (30% of words, 30% of characters per word, words of at
least 4 characters, letters/digits only for keyboard). "synonym" compares our lexicon operator (counter-fitted
neighbours) with nlpaug's ReservedAug fed the same neighbour lists: nlpaug's own synonym augmenters need WordNet
(NLTK data) or PPDB/embedding files that are not available offline. Construction time is excluded; both sides
build their tables before the clock starts.

Scaling:  .venv/bin/python benchmarks/augment_bench.py --workers 1,2 [--n 10000] [--scaling-ops SPEC ...]
times ``augment_file`` (CSV in, CSV out, the same MR sentences, batch 256, n=2) once per worker count and prints
rows/s and the speed-up over the first count; every run's output is checked byte-identical to the first.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path


def _data_dir() -> Path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    try:
        from textrobust.data.paths import shared_data_dir

        return shared_data_dir()
    except ImportError:  # pragma: no cover - run before the data module exists
        return Path(os.environ.get("TEXTROBUST_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data"))


def load_mr(n: int) -> list[str]:
    d = _data_dir() / "mr"
    lines: list[str] = []
    for name in ("rt-polarity.pos", "rt-polarity.neg"):
        lines += [t.strip() for t in (d / name).read_bytes().decode("cp1252").split("\n") if t.strip()]
    return (lines * (n // len(lines) + 1))[:n]  # MR has 10,662: larger n repeats it (scaling runs)


def cases(data: Path) -> list[tuple[str, object, object]]:
    import nlpaug.augmenter.char as nac
    import nlpaug.augmenter.word as naw

    from textrobust.augment import parse_op

    common = {"aug_char_p": 0.3, "aug_word_p": 0.3, "aug_char_max": 10, "min_char": 4}
    ours_common = "p=0.3,char_p=0.3,max_per_word=10,min_word_len=4"
    lex = data / "word_resources" / "counterfitted_neighbors.json"
    neighbours = json.loads(lex.read_text(encoding="utf-8"))
    reserved = [[w, *syns] for w, syns in neighbours.items() if syns]
    return [
        (
            "keyboard",
            parse_op(f"char:kind=keyboard,{ours_common}"),
            nac.KeyboardAug(include_special_char=False, **common),
        ),
        ("ocr", parse_op(f"char:kind=ocr,{ours_common}"), nac.OcrAug(**common)),
        ("spelling", parse_op("char:kind=spelling,p=0.3"), naw.SpellingAug(aug_p=0.3)),
        ("random_swap", parse_op(f"char:kind=random_swap,{ours_common}"), nac.RandomCharAug(action="swap", **common)),
        (
            "random_delete",
            parse_op(f"char:kind=random_delete,{ours_common}"),
            nac.RandomCharAug(action="delete", **common),
        ),
        ("synonym", parse_op(f"synonym:p=0.3,path={lex}"), naw.ReservedAug(reserved_tokens=reserved, aug_p=0.3)),
    ]


def bench(fn, texts: list[str], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(texts)
        best = min(best, time.perf_counter() - t0)
    return len(texts) / best


SCALING_OPS = ["char:kind=keyboard,p=0.3", "eda:alpha_sr=0,alpha_ri=0,alpha_rs=0.1,p_rd=0.1"]


def scaling(texts: list[str], worker_counts: list[int], specs: list[str], repeat: int) -> list[dict]:
    """rows/s of augment_file per worker count (best of ``repeat``), with speed-up and an identical-output check."""
    import tempfile

    import pandas as pd

    from textrobust.augment import augment_file, parse_op

    ops = [parse_op(s) for s in specs]
    rows, ref = [], None
    with tempfile.TemporaryDirectory() as tmp:
        inp = Path(tmp) / "mr.csv"
        pd.DataFrame({"text": texts, "label": [0] * len(texts)}).to_csv(inp, index=False)
        for w in worker_counts:
            best = float("inf")
            for _ in range(repeat):
                out = Path(tmp) / f"out_w{w}.csv"
                s = augment_file(inp, out, ops, n=2, seed=0, batch_size=256, progress=False, workers=w)
                best = min(best, s.seconds)
            data = out.read_bytes()
            ref = data if ref is None else ref
            rows.append(
                {
                    "workers": w,
                    "rows": len(texts),
                    "seconds": round(best, 2),
                    "rows_per_s": round(len(texts) / best),
                    "identical": data == ref,
                }
            )
    for r in rows:
        r["speedup"] = round(r["rows_per_s"] / rows[0]["rows_per_s"], 2)
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--only", nargs="*", help="case names to run")
    ap.add_argument("--json", type=Path)
    ap.add_argument(
        "--workers",
        help="comma-separated worker counts, e.g. 1,2: run the augment_file scaling "
        "table instead of the nlpaug comparison",
    )
    ap.add_argument("--scaling-ops", nargs="+", default=SCALING_OPS, help="operator specs for --workers")
    args = ap.parse_args(argv)
    texts = load_mr(args.n)
    print(
        f"{len(texts)} MR sentences, python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )
    if args.workers:
        counts = [int(w) for w in args.workers.split(",") if w.strip()]
        print(f"augment_file scaling: ops {args.scaling_ops}, n=2, batch_size=256, csv -> csv")
        table = scaling(texts, counts, args.scaling_ops, args.repeat)
        print(f"{'workers':>7} {'seconds':>8} {'rows/s':>9} {'speed-up':>9} {'identical':>9}")
        for r in table:
            print(
                f"{r['workers']:>7} {r['seconds']:>8.2f} {r['rows_per_s']:>9,} {r['speedup']:>8.2f}x "
                f"{str(r['identical']):>9}",
                flush=True,
            )
        if args.json:
            args.json.write_text(json.dumps(table, indent=2))
        return
    rows = []
    for name, ours, theirs in cases(_data_dir()):
        if args.only and name not in args.only:
            continue
        ours(texts[:5], seed=0)  # warm: load tables/lexicon outside the clock
        theirs.augment(texts[:5])
        a = bench(lambda t, op=ours: op(t, seed=0, n=1), texts, args.repeat)
        b = bench(theirs.augment, texts, args.repeat)
        rows.append({"op": name, "ours_sps": round(a), "nlpaug_sps": round(b), "ratio": round(a / b, 2)})
        print(f"{name:<14} ours {a:>10,.0f}/s   nlpaug {b:>10,.0f}/s   x{a / b:5.2f}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
