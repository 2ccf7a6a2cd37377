"""Inference settings on attack-shaped queries: token budgets, padding multiple, and faster precision modes.

The texts are what a TextFooler-like attack on the first ``--n`` sentences of ``textfooler_eval/mr`` sends: every
sentence with one word deleted (the ranking queries; swaps keep the same lengths) for the classifier, and 15-word
windows for the sentence encoder. Each setting is timed over ``--rounds`` rounds, settings interleaved inside a
round (A B C ... then again), so load on a shared machine hits every setting alike; the table gives the median
and the spread (min-max) of texts/s.

* ``--sweep budget``: fixed row counts vs token budgets (tokens = rows x padded width per forward pass), for the
  classifier and the encoder, fp32 — how ``textrobust.models.batching.CPU_TOKEN_BUDGET`` was chosen;
* ``--sweep multiple``: padding each batch to a multiple of 1, 8 or 16 tokens at the default budget;
* ``--sweep cuts``: batches cut where the padded width changes (the CPU's default) vs full token-budget batches, on
  calls of ``--cut-calls`` texts drawn from the same texts;
* ``--sweep shapes``: bucketed shapes (CUDA's default: widths to multiples of 16, rows up to a power of two) vs
  exact shapes, on calls of random sizes;
* ``--sweep modes``: the runtime's precisions — on the CPU fp32, bf16 autocast (CPUs with AVX512-BF16/AMX) and int8
  dynamic quantisation of the linear layers; on CUDA fp32, bf16 and fp16 autocast — and ``torch.compile``: texts/s
  and the largest change in any probability vs fp32.

Every setting is a view of one loaded model (``clf.with_runtime(...)``: same weights, another token budget or
precision). ``--arch bert-base`` times a BERT-base-size classifier (random initialisation) instead of MiniLM.

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

from _common import (
    add_arch_arg,
    build_classifier,
    describe_arch,
    environment,
    format_table,
    quiet_libraries,
    runtime_from_args,
    sync,
    write_json,
)


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


def encoder_view(enc: Any, *, rows: int | None = None, max_tokens: int | None = None) -> Any:
    """The encoder with fixed ``rows`` per batch, or a token budget of ``max_tokens`` (same weights)."""
    view = enc.with_runtime(enc.runtime.replace(max_tokens=max_tokens))
    view.batch_size = rows
    return view


def sweep_budget(clf: Any, enc: Any, texts: list[str], windows: list[str], args: argparse.Namespace) -> dict:
    settings: dict[str, Callable[[], Any]] = {}
    for bs in args.fixed:
        settings[f"classifier, {bs} rows"] = chunked(
            lambda t, bs=bs: clf.predict_proba(t, batch_size=bs), texts, args.call_size
        )
    for b in args.budgets:
        view = clf.with_runtime(clf.runtime.replace(max_tokens=b))
        settings[f"classifier, {b} tokens"] = chunked(view.predict_proba, texts, args.call_size)
    ct = timed_rounds(settings, args.rounds, args.device)
    esettings: dict[str, Callable[[], Any]] = {}
    for bs in args.fixed + [128]:
        esettings[f"encoder, {bs} rows"] = chunked(encoder_view(enc, rows=bs), windows, args.call_size)
    for b in args.budgets:
        esettings[f"encoder, {b} tokens"] = chunked(encoder_view(enc, max_tokens=b), windows, args.call_size)
    et = timed_rounds(esettings, args.rounds, args.device)
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


def _rule_runtime(prop: str, value: bool) -> type:
    """A Runtime whose ``prop`` (a batching rule: ``one_width_batches``, ``bucketed_shapes``) is ``value`` on any
    device: the measurement's other side, for the benchmark only."""
    from textrobust.models.runtime import Runtime

    return type(f"{prop}_{value}", (Runtime,), {prop: property(lambda self: value)})


def compare_rules(
    clf: Any, enc: Any, calls: list[list[str]], ecalls: list[list[str]], prop: str, names: tuple[str, str], args: Any
) -> tuple[dict[str, list[float]], float]:
    """Seconds for the classifier on ``calls`` and the encoder on ``ecalls`` with the rule ``prop`` off
    (``names[0]``) and on (``names[1]``), interleaved; and the largest probability change between the two."""
    settings: dict[str, Callable[[], Any]] = {}
    probs: dict[str, list[Any]] = {}
    for name, value in zip(names, (False, True), strict=True):
        cls = _rule_runtime(prop, value)
        view = clf.with_runtime(cls(**clf.runtime.to_dict()))
        eview = enc.with_runtime(cls(**enc.runtime.to_dict()))
        probs[name] = [view.predict_proba(c) for c in calls]
        settings[f"classifier, {name}"] = lambda v=view, cs=calls: [v.predict_proba(c) for c in cs]
        settings[f"encoder, {name}"] = lambda v=eview, cs=ecalls: [v.encode(c) for c in cs]
    t = timed_rounds(settings, args.rounds, args.device)
    diff = max(float(np.abs(a - b).max()) for a, b in zip(probs[names[0]], probs[names[1]], strict=True))
    return t, diff


def rule_medians(t: dict[str, list[float]], names: tuple[str, str], label: str) -> list[list[Any]]:
    """Table rows of :func:`compare_rules`' times: per model, the median seconds off and on and their ratio."""
    rows = []
    for part in ("classifier", "encoder"):
        off, on = (statistics.median(t[f"{part}, {name}"]) for name in names)
        rows.append([f"{part}, {label}", off, on, off / on])
    return rows


def sweep_cuts(clf: Any, enc: Any, texts: list[str], windows: list[str], args: argparse.Namespace) -> dict:
    """Batches cut where the padded width changes (the CPU's default, ``Runtime.one_width_batches``) vs full
    token-budget batches, for calls of each of ``--cut-calls`` texts (an attack step sends 90-200 at 100-200
    examples), at the default budget; also the largest probability change between the two."""
    rng = np.random.default_rng(0)
    out: dict[str, Any] = {"rule_on_this_device": clf.runtime.one_width_batches}
    rows = []
    for size in args.cut_calls:
        # Calls of `size` texts drawn at random from the attack-shaped texts (mixed lengths, as a lockstep step).
        calls = [list(rng.choice(texts, min(size, len(texts)), replace=False)) for _ in range(args.cut_repeats)]
        ecalls = [list(rng.choice(windows, min(size, len(windows)), replace=False)) for _ in range(args.cut_repeats)]
        names = ("full budget", "one width")
        t, diff = compare_rules(clf, enc, calls, ecalls, "one_width_batches", names, args)
        rows += rule_medians(t, names, f"calls of {size}")
        out[str(size)] = {"times": t, "max_prob_diff": diff}
        print(f"calls of {size}: largest probability change between the rules {diff:.2g}", flush=True)
    print(format_table(["setting", "full budget s (median)", "one width s", "x one width"], rows))
    out["rows"] = rows
    return out


def sweep_shapes(clf: Any, enc: Any, texts: list[str], windows: list[str], args: argparse.Namespace) -> dict:
    """Bucketed shapes (CUDA's default, ``Runtime.bucketed_shapes``: widths to multiples of 16, rows up to a power
    of two) vs exact shapes, on ``--shape-calls`` calls of random sizes 1..``--shape-max`` (as an attack's steps
    send them, each new size a new shape); also the largest probability change between the two."""
    rng = np.random.default_rng(1)
    sizes = rng.integers(1, args.shape_max + 1, size=args.shape_calls).tolist()
    calls = [list(rng.choice(texts, min(k, len(texts)), replace=False)) for k in sizes]
    ecalls = [list(rng.choice(windows, min(k, len(windows)), replace=False)) for k in sizes]
    names = ("exact", "bucketed")
    t, diff = compare_rules(clf, enc, calls, ecalls, "bucketed_shapes", names, args)
    rows = rule_medians(t, names, f"{len(sizes)} calls of 1-{args.shape_max}")
    print(f"largest probability change between the rules {diff:.2g}", flush=True)
    print(format_table(["setting", "exact shapes s (median)", "bucketed s", "x bucketed"], rows))
    return {
        "rule_on_this_device": clf.runtime.bucketed_shapes,
        "sizes": sizes,
        "times": t,
        "max_prob_diff": diff,
        "rows": rows,
    }


def sweep_modes(clf: Any, texts: list[str], args: argparse.Namespace) -> dict:
    """The runtime's precisions (CPU: fp32 / bf16 / int8; CUDA: fp32 / bf16 / fp16) and torch.compile on the
    classifier: speed and the largest probability change vs fp32."""
    from textrobust.models.runtime import cpu_has_fast_bf16

    fp32 = clf.with_runtime(clf.runtime.replace(precision="fp32"))
    ref = fp32.predict_proba(texts)
    modes = ["fp32", "bf16"] + (["fp16"] if clf.runtime.on_cuda else ["int8"]) + (["compile"] if args.compile else [])
    settings: dict[str, Callable[[], Any]] = {}
    probs: dict[str, np.ndarray] = {}
    setup_s: dict[str, float] = {}
    for mode in modes:
        t = time.perf_counter()
        c = fp32 if mode == "fp32" else clone_with_mode(fp32, mode)
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
    """``clf`` running in ``mode``: a runtime view for a precision (bf16, fp16, int8), or a copy whose module is
    ``torch.compile(dynamic=True)`` of a copy of the weights (the precision of ``clf``)."""
    import copy

    import torch

    if mode != "compile":
        return clf.with_runtime(clf.runtime.replace(precision=mode))
    c = copy.copy(clf)
    c._model = torch.compile(copy.deepcopy(clf.model), dynamic=True)  # a probe: no public hook for a compiled module
    return c


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--model-dir", default=None, help="a model saved by 'textrobust train' (default: a new model of --arch)"
    )
    add_arch_arg(p)
    p.add_argument("--n", type=int, default=100, help="TextFooler MR sentences to derive the queries from")
    p.add_argument("--sweep", default="budget,multiple,cuts,shapes,modes")
    p.add_argument("--cut-calls", default="90,200,1000", help="call sizes of the cuts sweep (texts per call)")
    p.add_argument("--cut-repeats", type=int, default=6, help="calls of each size per round in the cuts sweep")
    p.add_argument("--shape-calls", type=int, default=40, help="calls per round in the shapes sweep")
    p.add_argument("--shape-max", type=int, default=300, help="largest call (texts) in the shapes sweep")
    p.add_argument("--budgets", default="512,1024,2048,4096,8192,16384")
    p.add_argument("--fixed", default="32,64", help="fixed row counts to compare with")
    p.add_argument("--call-size", type=int, default=1000, help="texts per predict_proba call (a lockstep step)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--compile", action="store_true", help="also time torch.compile(dynamic=True) in --sweep modes")
    p.add_argument("--device", default="cpu")
    p.add_argument("--precision", default="auto", help="the runtime's precision of the budget and multiple sweeps")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--json-out", default=None)
    args = p.parse_args()
    args.budgets = [int(x) for x in args.budgets.split(",") if x]
    args.fixed = [int(x) for x in args.fixed.split(",") if x]
    args.cut_calls = [int(x) for x in args.cut_calls.split(",") if x]
    quiet_libraries()
    from textrobust.adversarial import SentenceEncoder
    from textrobust.data import shared_data_dir
    from textrobust.models import TextClassifier

    rt = runtime_from_args(args)
    args.device = rt.resolved_device
    if args.model_dir:
        clf = TextClassifier.load(args.model_dir, runtime=rt)
        what = f"{args.model_dir} (saved)"
    else:
        clf = build_classifier(args.arch, labels=["neg", "pos"], runtime=rt, max_length=128)
        what = f"{args.arch}: {describe_arch(args.arch, clf.model)}, new head"
    enc = SentenceEncoder(runtime=rt)
    texts, windows = attack_texts(shared_data_dir(), args.n)
    env = environment(args.device)
    print(
        f"{len(texts)} classifier texts, {len(windows)} encoder windows; device {args.device}, torch {env['torch']}, "
        f"{env['torch_threads']} threads, {args.rounds} rounds, calls of {args.call_size} texts\n"
        f"classifier {what}; encoder MiniLM; runtime {rt}"
    )
    record: dict[str, Any] = {
        "env": env,
        "args": vars(args),
        "classifier": what,
        "runtime": rt.to_dict(),
        "default_token_budget": rt.token_budget,
        "default_encoder_token_budget": rt.token_budget_for("encoder"),
        "classifier_texts": len(texts),
        "encoder_windows": len(windows),
    }
    for name in args.sweep.split(","):
        print(f"\n== {name}")
        if name == "budget":
            record[name] = sweep_budget(clf, enc, texts, windows, args)
        elif name == "multiple":
            record[name] = sweep_multiple(clf, enc, texts, windows, args)
        elif name == "cuts":
            record[name] = sweep_cuts(clf, enc, texts, windows, args)
        elif name == "shapes":
            record[name] = sweep_shapes(clf, enc, texts, windows, args)
        elif name == "modes":
            record[name] = sweep_modes(clf, texts, args)
        else:
            raise SystemExit(f"unknown sweep {name!r}")
    if args.json_out:
        write_json(args.json_out, record)


if __name__ == "__main__":
    main()
