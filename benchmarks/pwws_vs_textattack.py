"""PWWS on real WordNet: our ``pwws`` recipe vs TextAttack's ``PWWSRen2019``, same model, examples and WordNet.

Both engines read Princeton WordNet 3.0 from the same database files (Debian's ``wordnet-base`` +
``wordnet-sense-index``): ours through :func:`textrobust.extras.wordnet`, TextAttack through
``nltk.corpus.wordnet`` on the folder ``textrobust extras --prepare`` lays out (put its ``nltk_data`` on
``NLTK_DATA``). Both use NLTK's English stopword list (``stopwords/stopwords.zip``, unzipped into
``<dir>/corpora/``), RepeatModification, weighted-saliency ranking and an untargeted goal; TextAttack's recipe is
built as shipped and queries the model through our ``predict_proba`` (so the comparison isolates the attack
engines, as ``attack_vs_textattack.py``). The victim is a MiniLM fine-tuned with ``textrobust train`` on MR
sentences that are not in ``textfooler_eval/mr``; the examples are the first ``--n`` of ``textfooler_eval/mr``.

Needs the TextAttack venv (transformers<5), e.g.::

    textrobust extras --prepare      # prints NLTK_DATA=<cache>/nltk_data
    NLTK_DATA=$HOME/.cache/textrobust/nltk_data:/tmp/nltk_stop HF_HUB_OFFLINE=1 \\
        /tmp/ta-venv/bin/python benchmarks/pwws_vs_textattack.py --model-dir /tmp/mr_minilm --n 200

Measured figures: ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _common import Timed, environment, format_table, quiet_libraries, write_json

from textrobust.adversarial import pwws, run_attack
from textrobust.augment.sources import load_source
from textrobust.data import load_dataset, shared_data_dir
from textrobust.models import Runtime, TextClassifier


def row(engine: str, report, model: Timed) -> dict:
    s = report.summary()
    return {
        "engine": engine,
        "n": s["num_examples"],
        "clean_acc": s["original_accuracy"],
        "success_rate": s["success_rate"],
        "adv_acc": s["accuracy_under_attack"],
        "pct_words": s["avg_words_perturbed_pct"],
        "avg_queries": s["avg_queries"],
        "model_texts": model.items,
        "model_s": model.seconds,
        "elapsed_s": report.elapsed_s,
        "examples_per_s": s["examples_per_s"],
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model-dir", required=True, help="a classifier written by 'textrobust train' (MR)")
    p.add_argument("--n", type=int, default=200, help="first n examples of textfooler_eval/mr")
    p.add_argument("--batch-size", type=int, default=64, help="our engine: examples advanced in lockstep")
    p.add_argument("--model-batch-size", type=int, default=64)
    p.add_argument("--max-candidates", type=int, default=50, help="our recipe's cap on synonyms per word")
    p.add_argument("--textattack-first", action="store_true")
    p.add_argument("--out", default=None, help="write rows and per-example agreement as JSON")
    args = p.parse_args()
    quiet_libraries()

    import nltk
    from nltk.corpus import stopwords

    from textrobust.adversarial.textattack_interop import build_textattack, run_textattack

    clf = TextClassifier.load(args.model_dir, runtime=Runtime(device="cpu"), batch_size=args.model_batch_size)
    data = load_dataset(shared_data_dir() / "textfooler_eval" / "mr", fmt="label-text", label_names=clf.labels)
    data = data.subset(range(min(args.n, len(data))))
    stop = stopwords.words("english")
    wordnet = load_source("wordnet")
    clf.predict_proba(data.texts[:64])  # warm-up, untimed

    rows, reports = [], {}

    def ours() -> None:
        model = Timed(clf, "predict_proba")
        attack = pwws(model, lexicon=wordnet, stopwords=stop, max_candidates=args.max_candidates)
        reports["ours"] = run_attack(
            attack,
            data.texts,
            data.labels,
            batch_size=args.batch_size,
            progress=False,
            model_batch_size=args.model_batch_size,
        )
        rows.append(row("textrobust pwws (lockstep)", reports["ours"], model))
        print(json.dumps(rows[-1]), flush=True)

    def theirs() -> None:
        model = Timed(clf, "predict_proba")
        attack = build_textattack("pwws", model, model_batch_size=args.model_batch_size)
        reports["textattack"] = run_textattack(clf, attack, data.texts, data.labels, progress=False)
        rows.append(row("textattack 0.3.11 PWWSRen2019", reports["textattack"], model))
        print(json.dumps(rows[-1]), flush=True)

    for step in (theirs, ours) if args.textattack_first else (ours, theirs):
        step()
    a, b = rows[0 if not args.textattack_first else 1], rows[1 if not args.textattack_first else 0]
    same_status = sum(
        x.status == y.status for x, y in zip(reports["ours"].results, reports["textattack"].results, strict=True)
    )
    same_text = sum(
        x.perturbed_text == y.perturbed_text
        for x, y in zip(reports["ours"].results, reports["textattack"].results, strict=True)
    )
    env = environment("cpu")
    print(
        f"\nPWWS, MR first {len(data)} (textfooler_eval/mr), WordNet {wordnet._wn.get_version()} "
        f"({wordnet._wn.root}), nltk {nltk.__version__}, torch {env['torch']}, transformers "
        f"{env['transformers']}, {env['torch_threads']} threads, {env['date_utc']}"
    )
    cols = list(rows[0])
    print(format_table(cols, [[r[c] for c in cols] for r in rows]))
    print(
        f"\nsuccess-rate difference (ours - TextAttack): {100 * (a['success_rate'] - b['success_rate']):+.1f} points;"
        f" speed ratio (ours / TextAttack, examples/s): {a['examples_per_s'] / b['examples_per_s']:.2f}x; "
        f"same status on {same_status}/{len(data)}, same perturbed text on {same_text}/{len(data)}"
    )
    if args.out:
        write_json(
            args.out,
            {
                "env": env,
                "args": vars(args),
                "rows": rows,
                "same_status": same_status,
                "same_text": same_text,
                "elapsed_wall": time.time(),
            },
        )


if __name__ == "__main__":
    main()
