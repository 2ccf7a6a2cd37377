"""What the part-of-speech check does to TextFooler: off vs the OEWN lexicon vs spaCy's tagger in context.

Same model, same examples, same recipe (``textfooler``: counter-fitted neighbours, MiniLM sentence similarity,
TextFooler's stopwords), three settings of ``pos``: ``None`` (the default), ``"lexicon"`` (possible tags from the
Open English WordNet export, no context) and ``"spacy"`` (``en_core_web_sm`` tags both 9-word windows in context,
batched with ``nlp.pipe``; nouns and verbs interchangeable, as TextFooler). For each: success rate, % words
perturbed, queries, and the share of swaps that change the part of speech, judged by spaCy tagging the whole
original and perturbed sentences (universal tags; a noun/verb exchange counts as a change here, although the
check allows it as TextFooler does). The judge is the spaCy tagger itself, with the whole sentence instead of a
window, so the ``spacy`` row measures what the window misses, not an independent error rate.

The victim is a MiniLM fine-tuned with ``textrobust train`` on MR sentences outside ``textfooler_eval/mr``; the
examples are the first ``--n`` of ``textfooler_eval/mr``::

    .venv/bin/python benchmarks/pos_effect.py --model-dir /tmp/mr_minilm --n 200

Measured figures: ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _common import environment, format_table, quiet_libraries, write_json

from textrobust.adversarial import AttackText, SentenceEncoder, load_resources, run_attack, textfooler
from textrobust.data import load_dataset, shared_data_dir
from textrobust.models import Runtime, TextClassifier


def pos_changes(results: list, tag) -> tuple[int, int]:
    """(swaps whose universal tag differs between original and perturbed sentence, all swaps) over successes."""
    changed = total = 0
    pairs = [
        (AttackText.from_text(r.original_text).words, AttackText.from_text(r.perturbed_text).words, r.modified_indices)
        for r in results
        if r.status == "succeeded"
    ]
    pairs = [(a, b, idx) for a, b, idx in pairs if len(a) == len(b) and idx]
    tags = tag([w for a, b, _ in pairs for w in (a, b)])
    for k, (_, _, idx) in enumerate(pairs):
        ta, tb = tags[2 * k], tags[2 * k + 1]
        changed += sum(ta[i] != tb[i] for i in idx)
        total += len(idx)
    return changed, total


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model-dir", required=True, help="a classifier written by 'textrobust train' (MR)")
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--batch-size", type=int, default=256, help="examples advanced in lockstep")
    p.add_argument("--settings", default="none,lexicon,spacy")
    p.add_argument("--out", default=None)
    args = p.parse_args()
    quiet_libraries()

    from textrobust.adversarial.constraints import _spacy_backend

    runtime = Runtime(device="cpu")
    clf = TextClassifier.load(args.model_dir, runtime=runtime)
    data = load_dataset(shared_data_dir() / "textfooler_eval" / "mr", fmt="label-text", label_names=clf.labels)
    data = data.subset(range(min(args.n, len(data))))
    res = load_resources(["neighbours", "stopwords"])
    encoder = SentenceEncoder(runtime=runtime)
    tagger = _spacy_backend()

    def tag(word_lists: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
        return tagger([tuple(w) for w in word_lists])

    rows = []
    for setting in args.settings.split(","):
        attack = textfooler(
            clf,
            neighbours=res["neighbours"],
            encoder=encoder,
            stopwords=res["stopwords"],
            pos=None if setting == "none" else setting,
        )
        report = run_attack(attack, data.texts, data.labels, batch_size=args.batch_size, progress=False)
        s = report.summary()
        changed, total = pos_changes(report.results, tag)
        rows.append(
            {
                "pos": setting,
                "n": s["num_examples"],
                "clean_acc": s["original_accuracy"],
                "success_rate": s["success_rate"],
                "adv_acc": s["accuracy_under_attack"],
                "pct_words": s["avg_words_perturbed_pct"],
                "avg_queries": s["avg_queries"],
                "swaps": total,
                "pos_changed": changed / total if total else 0.0,
                "elapsed_s": report.elapsed_s,
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    env = environment("cpu")
    print(
        f"\nTextFooler, MR first {len(data)} (textfooler_eval/mr), MiniLM victim and encoder, torch {env['torch']}, "
        f"{env['torch_threads']} threads, {env['date_utc']}; pos_changed: share of swaps whose universal tag "
        "differs (spaCy on the whole sentences)"
    )
    cols = list(rows[0])
    print(format_table(cols, [[r[c] for c in cols] for r in rows]))
    if args.out:
        write_json(args.out, {"env": env, "args": vars(args), "rows": rows})


if __name__ == "__main__":
    main()
