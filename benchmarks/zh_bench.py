"""Chinese robustness on CPU (issue 27): the CPU classifier (a logistic head on frozen USE-multilingual embeddings)
on deduplicated ChnSentiCorp — clean accuracy with its interval, the zh_char and zh_word attacks, the zh INV
suites and the zh behaviour pack — plus category shift on online_shopping_10_cats and cross-lingual consistency
(en <-> pt, Bergamot) on UMSAB. Every number comes from the library's own evaluations (the same code `textrobust
run` calls).

    OMP_NUM_THREADS=1 python benchmarks/zh_bench.py prepare            # deduplicated JSONL in runs/zh_data/
    OMP_NUM_THREADS=1 python benchmarks/zh_bench.py chnsenticorp --attack-n 300 --word-n 100
    OMP_NUM_THREADS=1 python benchmarks/zh_bench.py shift --per-category 2000
    OMP_NUM_THREADS=1 python benchmarks/zh_bench.py crosslingual

Each writes ``runs/zh_bench/<part>.json`` (environment, sizes, figures) and prints a table.
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

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import environment  # noqa: E402
from _zh_data import chnsenticorp, shopping, umsab, write_jsonl  # noqa: E402

from textrobust.data import LabeledData  # noqa: E402
from textrobust.models.embedding import EmbeddingClassifier  # noqa: E402
from textrobust.models.runtime import Runtime  # noqa: E402
from textrobust.robustness import build_evaluation  # noqa: E402
from textrobust.robustness.evaluations import EvalContext  # noqa: E402
from textrobust.stats.binary import wilson  # noqa: E402

OUT = Path("runs/zh_bench")
RUNTIME = Runtime(device="cpu", threads=int(os.environ.get("OMP_NUM_THREADS", "1") or 1))


def interval(hits: float, n: int) -> list[float]:
    lo, hi = wilson(np.array(float(hits)), np.array(float(n)))
    return [round(float(lo), 4), round(float(hi), 4)]


def accuracy(clf: Any, data: LabeledData) -> dict[str, Any]:
    pred = clf.predict_proba(data.texts).argmax(1)
    hits = int((pred == np.asarray(data.labels)).sum())
    return {"accuracy": round(hits / len(data), 4), "ci95": interval(hits, len(data)), "n": len(data)}


def scores(res: Any) -> dict[str, float]:
    return {f"{s.evaluation}.{s.metric}": round(float(s.value), 4) for s in res.scores}


def evaluate(clf: Any, test: LabeledData, spec: dict[str, Any], ctx: EvalContext) -> tuple[dict[str, float], Any]:
    ev = build_evaluation(spec)
    ev.check(ctx)
    start = time.perf_counter()
    res = ev.run(clf, test, ctx)
    out = scores(res)
    out["seconds"] = round(time.perf_counter() - start, 1)
    return out, res


def save(part: str, payload: dict[str, Any]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    payload = {"environment": environment("cpu"), **payload}
    (OUT / f"{part}.json").write_text(json.dumps(payload, ensure_ascii=False, indent=1), encoding="utf-8")
    print(json.dumps(payload, ensure_ascii=False, indent=1), flush=True)


def prepare(args: argparse.Namespace) -> None:
    train, dev, test, counts = chnsenticorp()
    folder = Path("runs/zh_data")
    for name, data in (("train", train), ("dev", dev), ("test", test)):
        write_jsonl(data, folder / f"chnsenticorp_{name}.jsonl")
    print(json.dumps(counts, ensure_ascii=False))


def char_stats(report: Any) -> dict[str, Any]:
    """How much of each successful adversarial text changed: units (Chinese characters) and all characters."""
    from textrobust.adversarial.constraints import levenshtein

    won = [r for r in report.results if r.status == "succeeded"]
    units = [100 * r.perturbed_fraction for r in won]
    chars = [100 * levenshtein(r.original_text, r.perturbed_text) / max(1, len(r.original_text)) for r in won]
    return {
        "succeeded": len(won),
        "units_changed_pct_mean": round(float(np.mean(units)), 2) if won else None,
        "units_changed_pct_max": round(float(np.max(units)), 2) if won else None,
        "chars_changed_pct_mean": round(float(np.mean(chars)), 2) if won else None,
        "chars_changed_pct_max": round(float(np.max(chars)), 2) if won else None,
        "examples": [[r.original_text[:80], r.perturbed_text[:80]] for r in won[:5]],
    }


def run_chnsenticorp(args: argparse.Namespace) -> None:
    """Clean accuracy, then the zh_char attack, the INV suites and the pack, then zh_word; the JSON is rewritten
    after each part (a slow machine keeps what finished)."""
    from textrobust.adversarial import build_attack, run_attack

    train, dev, test, counts = chnsenticorp()
    if args.train_size and args.train_size < len(train):
        train = train.sample(args.train_size, seed=0)
    start = time.perf_counter()
    clf = EmbeddingClassifier(args.encoder, labels=train.label_names, head=args.head, runtime=RUNTIME).fit(train)
    fit_s = round(time.perf_counter() - start, 1)
    payload: dict[str, Any] = {"data": counts, "train_size": len(train), "model": repr(clf), "fit_seconds": fit_s}
    payload["clean_test"] = accuracy(clf, test)
    save(args.tag, payload)

    def attack(recipe: str, n: int) -> None:
        # the first n test reviews (file order), or a stratified random sample of n (--attack-sample)
        sub = test.sample(n, seed=0) if args.attack_sample else test.subset(range(min(n, len(test))))
        start = time.perf_counter()
        report = run_attack(build_attack(recipe, clf), sub.texts, sub.labels, progress=False, lang="zh")
        summary = report.summary()
        drop = summary["original_accuracy"] - summary["accuracy_under_attack"]
        kept = int(round(summary["accuracy_under_attack"] * len(sub)))
        payload[recipe] = {
            "n": len(sub),
            "original_accuracy": round(summary["original_accuracy"], 4),
            "original_ci95": interval(round(summary["original_accuracy"] * len(sub)), len(sub)),
            "accuracy_under_attack": round(summary["accuracy_under_attack"], 4),
            "under_attack_ci95": interval(kept, len(sub)),
            "drop_points": round(100 * drop, 1),
            "success_rate": round(summary["success_rate"], 4),
            "avg_queries": round(summary["avg_queries"], 1),
            "seconds": round(time.perf_counter() - start, 1),
            **char_stats(report),
        }
        save(args.tag, payload)

    if args.attack_n > 0:
        attack("zh_char", args.attack_n)
    if args.attack_only:
        return
    ctx = EvalContext(train.label_names, RUNTIME, cache={}, raw_model=clf, lang="zh")
    suites = ["pinyin", "glyph", "width", "traditional", "punctuation"]
    payload["inv"], _ = evaluate(clf, test, {"kind": "inv", "suites": suites}, ctx)
    save(args.tag, payload)
    payload["mft"], _ = evaluate(clf, test, {"kind": "mft", "pack": "zh-sentiment"}, ctx)
    payload["dir"], _ = evaluate(clf, test, {"kind": "dir", "pack": "zh-sentiment", "n_test": 100}, ctx)
    save(args.tag, payload)
    payload["clean_dev"] = accuracy(clf, dev)
    save(args.tag, payload)
    if args.word_n > 0:
        attack("zh_word", args.word_n)


def run_shift(args: argparse.Namespace) -> None:
    """Train on five categories, test in-domain (held-out rows of the same five) and on the other five."""
    cats = shopping()
    source = args.source.split(",")
    target = [c for c in cats if c not in source]
    train_parts, held_parts = [], []
    for c in source:
        data = cats[c].sample(min(len(cats[c]), args.per_category + args.held_out), seed=0)
        tr, ho = data.split(args.held_out / len(data), seed=0)
        train_parts.append(tr)
        held_parts.append(ho)
    train = train_parts[0]
    for p in train_parts[1:]:
        train = train.concat(p)
    held = held_parts[0]
    for p in held_parts[1:]:
        held = held.concat(p)
    start = time.perf_counter()
    clf = EmbeddingClassifier(args.encoder, labels=train.label_names, runtime=RUNTIME).fit(train)
    payload: dict[str, Any] = {
        "source_categories": source,
        "target_categories": target,
        "train_size": len(train),
        "fit_seconds": round(time.perf_counter() - start, 1),
        "in_domain": accuracy(clf, held),
        "transfer": {},
    }
    everything = None
    for c in target:
        data = cats[c].sample(min(len(cats[c]), args.per_target), seed=0)
        payload["transfer"][c] = accuracy(clf, data)
        everything = data if everything is None else everything.concat(data)
    payload["transfer_all"] = accuracy(clf, everything)
    save("shift", payload)


def run_crosslingual(args: argparse.Namespace) -> None:
    """A 3-class tweet classifier trained on English UMSAB, scored on English test tweets and their Bergamot
    Portuguese translations (and Portuguese tweets vs their English translations, with a Portuguese model)."""
    payload: dict[str, Any] = {}
    for src in ("en", "pt"):
        train, test = umsab(src, "train"), umsab(src, "test")
        clf = EmbeddingClassifier(args.encoder, labels=train.label_names, runtime=RUNTIME).fit(train)
        ctx = EvalContext(train.label_names, RUNTIME, cache={}, raw_model=clf, lang=src)
        pair = f"{src}-{'pt' if src == 'en' else 'en'}"
        res, _ = evaluate(clf, test, {"kind": "crosslingual", "translate": pair, "n": args.n}, ctx)
        payload[pair] = {"train": len(train), "clean": accuracy(clf, test.subset(range(min(args.n, len(test))))), **res}
    save("crosslingual", payload)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("part", choices=["prepare", "chnsenticorp", "shift", "crosslingual"])
    ap.add_argument("--encoder", default="use-m")
    ap.add_argument("--head", default="logistic")
    ap.add_argument("--attack-n", type=int, default=300)
    ap.add_argument("--word-n", type=int, default=100)
    ap.add_argument(
        "--attack-sample", action="store_true", help="chnsenticorp: attack a random sample, not the first n"
    )
    ap.add_argument("--attack-only", action="store_true", help="chnsenticorp: clean accuracy and zh_char only")
    ap.add_argument("--tag", default="chnsenticorp", help="chnsenticorp: output name (runs/zh_bench/TAG.json)")
    ap.add_argument("--train-size", type=int, default=0, help="chnsenticorp: subsample the training set (0: all)")
    ap.add_argument("--source", default="平板,水果,洗发水,衣服,酒店", help="shift: training categories")
    ap.add_argument("--per-category", type=int, default=2000, help="shift: training rows per source category")
    ap.add_argument("--held-out", type=int, default=200, help="shift: in-domain test rows per source category")
    ap.add_argument("--per-target", type=int, default=1000, help="shift: test rows per target category")
    ap.add_argument("--n", type=int, default=869, help="crosslingual: pairs")
    args = ap.parse_args()
    {
        "prepare": prepare,
        "chnsenticorp": run_chnsenticorp,
        "shift": run_shift,
        "crosslingual": run_crosslingual,
    }[args.part](args)


if __name__ == "__main__":
    main()
