"""Inference settings on attack-shaped queries: token budgets, padding multiple, and faster precision modes.

The texts are what a TextFooler-like attack on the first ``--n`` sentences of ``textfooler_eval/mr`` sends: every
sentence with one word deleted (the ranking queries; swaps keep the same lengths) for the classifier, and 15-word
windows for the sentence encoder. Each setting is timed over ``--rounds`` rounds, settings interleaved inside a
round (A B C ... then again), so load on a shared machine hits every setting alike; the table gives the median
and the spread (min-max) of texts/s.

* ``--sweep budget``: fixed row counts vs token budgets (tokens = rows x padded width per forward pass), for the
  classifier and the encoder, fp32 — how ``textrobust.models.batching.CPU_TOKEN_BUDGET`` was chosen;
* ``--sweep multiple``: padding each batch to a multiple of 1, 8 or 16 tokens at the default budget;
* ``--sweep modes``: fp32, bf16 autocast (CPUs with AVX512-BF16/AMX), int8 dynamic quantisation of the linear
  layers, and ``torch.compile`` — texts/s and the largest change in any probability vs fp32.

Usage:
    .venv/bin/python benchmarks/inference_bench.py --model-dir /tmp/mr3k --sweep budget,multiple,modes
    .venv/bin/python benchmarks/inference_bench.py --device cuda --sweep budget --budgets 8192,16384,32768,65536
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _common import environment, format_table, quiet_libraries, sync, write_json


def attack_texts(data_dir: Path, n: int) -> tuple[list[str], list[str]]:
    """Delete-one variants of the first ``n`` TextFooler MR sentences, and their 15-word windows."""
    from textrobust.adversarial.text import AttackText

    lines = (data_dir / "textfooler_eval" / "mr").read_text(encoding="utf-8").split("\n")
    sentences = [ln[2:].strip() for ln in lines if ln.strip()][:n]
    model_texts, windows = [], []
    for s in sentences:
        t = AttackText.from_text(s)
        model_texts.append(s)
        for i in range(len(t)):
            model_texts.append(t.without_word(i))
            windows.append(t.window(i, 15))
    return model_texts, list(dict.fromkeys(windows))


def timed_rounds(settings: dict[str, Callable[[], Any]], rounds: int, device: str) -> dict[str, list[float]]:
    """Seconds per call of every setting, interleaved: round r runs all settings (order reversed on odd rounds)."""
    for fn in settings.values():  # warm-up (first shapes, lazy loads), untimed
        fn()
    out: dict[str, list[float]] = {k: [] for k in settings}
    for r in range(rounds):
        for name in list(settings) if r % 2 == 0 else list(reversed(settings)):
            sync(device)
            t = time.perf_counter()
            settings[name]()
            sync(device)
            out[name].append(time.perf_counter() - t)
    return out


def rows_for(times: dict[str, list[float]], n_texts: int, base: str | None = None) -> list[list[Any]]:
    rows = []
    ref = statistics.median(times[base]) if base else None
    for name, ts in times.items():
        med = statistics.median(ts)
        rows.append([name, n_texts / med, n_texts / max(ts), n_texts / min(ts), (ref / med) if ref else float("nan")])
    return rows


def chunked(fn: Callable[[list[str]], Any], texts: list[str], call_size: int) -> Callable[[], Any]:
    """Call ``fn`` on consecutive slices of ``call_size`` texts (an attack sends one call per lockstep step)."""
    return lambda: [fn(texts[i : i + call_size]) for i in range(0, len(texts), call_size)]


def sweep_budget(clf: Any, enc: Any, texts: list[str], windows: list[str], args: argparse.Namespace) -> dict:
    settings: dict[str, Callable[[], Any]] = {}
    for bs in args.fixed:
        settings[f"classifier, {bs} rows"] = chunked(
            lambda t, bs=bs: clf.predict_proba(t, batch_size=bs), texts, args.call_size
        )
    for b in args.budgets:

        def run(t: list[str], b: int = b) -> Any:
            clf.max_tokens = b
            return clf.predict_proba(t)

        settings[f"classifier, {b} tokens"] = chunked(run, texts, args.call_size)
    ct = timed_rounds(settings, args.rounds, args.device)
    clf.max_tokens = None
    esettings: dict[str, Callable[[], Any]] = {}
    for bs in args.fixed + [128]:

        def erun(t: list[str], bs: int = bs) -> Any:
            enc.batch_size, enc.max_tokens = bs, None
            return enc(t)

        esettings[f"encoder, {bs} rows"] = chunked(erun, windows, args.call_size)
    for b in args.budgets:

        def erun2(t: list[str], b: int = b) -> Any:
            enc.batch_size, enc.max_tokens = None, b
            return enc(t)

        esettings[f"encoder, {b} tokens"] = chunked(erun2, windows, args.call_size)
    et = timed_rounds(esettings, args.rounds, args.device)
    enc.batch_size, enc.max_tokens = None, None
    cols = ["setting", "median texts/s", "slowest", "fastest", "x first row"]
    print(format_table(cols, rows_for(ct, len(texts), next(iter(ct)))))
    print()
    print(format_table(cols, rows_for(et, len(windows), next(iter(et)))))
    return {"classifier": ct, "encoder": et}


def sweep_multiple(clf: Any, enc: Any, texts: list[str], windows: list[str], args: argparse.Namespace) -> dict:
    import textrobust.models.batching as batching

    original = batching.padded_width

    def with_multiple(m: int, fn: Callable[[], Any]) -> Callable[[], Any]:
        def run() -> Any:
            # pad() and the encoder pass their own multiple; force it here for the measurement only.
            batching.padded_width = lambda longest, multiple=8, limit=None: original(longest, m, limit)
            try:
                return fn()
            finally:
                batching.padded_width = original

        return run

    settings = {}
    for m in (1, 8, 16):
        settings[f"classifier, multiple {m}"] = with_multiple(m, chunked(clf.predict_proba, texts, args.call_size))
        settings[f"encoder, multiple {m}"] = with_multiple(m, chunked(enc, windows, args.call_size))
    t = timed_rounds(settings, args.rounds, args.device)
    cols = ["setting", "median texts/s", "slowest", "fastest", "x first row"]
    print(
        format_table(
            cols,
            rows_for({k: v for k, v in t.items() if k.startswith("classifier")}, len(texts), "classifier, multiple 8"),
        )
    )
    print(
        format_table(
            cols, rows_for({k: v for k, v in t.items() if k.startswith("encoder")}, len(windows), "encoder, multiple 8")
        )
    )
    return t


def sweep_modes(clf: Any, texts: list[str], args: argparse.Namespace) -> dict:
    """fp32 / bf16 / int8 / torch.compile on the classifier: speed and the largest probability change vs fp32."""
    from textrobust.models.classifier import cpu_has_fast_bf16

    ref = clf.predict_proba(texts)
    modes = ["fp32", "bf16", "int8"] + (["compile"] if args.compile else [])
    settings: dict[str, Callable[[], Any]] = {}
    probs: dict[str, np.ndarray] = {}
    setup_s: dict[str, float] = {}
    for mode in modes:
        t = time.perf_counter()
        c = clf if mode == "fp32" else clone_with_mode(clf, mode)
        probs[mode] = c.predict_proba(texts)  # also the warm-up (compile happens here)
        setup_s[mode] = time.perf_counter() - t
        settings[mode] = chunked(c.predict_proba, texts, args.call_size)
    times = timed_rounds(settings, args.rounds, args.device)
    rows = []
    for mode in modes:
        med = statistics.median(times[mode])
        diff = float(np.abs(probs[mode] - ref).max())
        agree = float((probs[mode].argmax(1) == ref.argmax(1)).mean())
        rows.append([mode, len(texts) / med, statistics.median(times["fp32"]) / med, diff, agree, setup_s[mode]])
    print(f"CPU native bf16: {cpu_has_fast_bf16()}")
    print(format_table(["mode", "median texts/s", "x fp32", "max |dp|", "label agreement", "first call s"], rows))
    return {"times": times, "rows": rows}


def clone_with_mode(clf: Any, mode: str) -> Any:
    """A loaded copy of ``clf`` whose inference runs in ``mode`` (bf16 autocast, int8 dynamic, compile)."""
    import copy

    import torch

    c = copy.copy(clf)
    if mode == "bf16":
        c.cpu_bf16 = True
        return c
    model = copy.deepcopy(clf.model)
    if mode == "int8":
        model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    elif mode == "compile":
        model = torch.compile(model, dynamic=True)
    c._model = model
    return c


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model-dir", default=None, help="a model saved by 'textrobust train' (default: MiniLM + new head)")
    p.add_argument("--n", type=int, default=100, help="TextFooler MR sentences to derive the queries from")
    p.add_argument("--sweep", default="budget,multiple,modes")
    p.add_argument("--budgets", default="512,1024,2048,4096,8192,16384")
    p.add_argument("--fixed", default="32,64", help="fixed row counts to compare with")
    p.add_argument("--call-size", type=int, default=1000, help="texts per predict_proba call (a lockstep step)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--compile", action="store_true", help="also time torch.compile(dynamic=True) in --sweep modes")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--json-out", default=None)
    args = p.parse_args()
    args.budgets = [int(x) for x in args.budgets.split(",") if x]
    args.fixed = [int(x) for x in args.fixed.split(",") if x]
    quiet_libraries()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from textrobust.adversarial import SentenceEncoder
    from textrobust.data import shared_data_dir
    from textrobust.models import TextClassifier, minilm_path

    if args.model_dir:
        clf = TextClassifier.load(args.model_dir, device=args.device)
    else:
        clf = TextClassifier(minilm_path(), labels=["neg", "pos"], max_length=128, device=args.device)
    enc = SentenceEncoder(device=args.device)
    texts, windows = attack_texts(shared_data_dir(), args.n)
    env = environment(args.device)
    print(
        f"{len(texts)} classifier texts, {len(windows)} encoder windows; device {args.device}, torch {env['torch']}, "
        f"{env['torch_threads']} threads, {args.rounds} rounds, calls of {args.call_size} texts"
    )
    record: dict[str, Any] = {"env": env, "args": vars(args)}
    for name in args.sweep.split(","):
        print(f"\n== {name}")
        if name == "budget":
            record[name] = sweep_budget(clf, enc, texts, windows, args)
        elif name == "multiple":
            record[name] = sweep_multiple(clf, enc, texts, windows, args)
        elif name == "modes":
            record[name] = sweep_modes(clf, texts, args)
        else:
            raise SystemExit(f"unknown sweep {name!r}")
    if args.json_out:
        write_json(args.json_out, record)


if __name__ == "__main__":
    main()
