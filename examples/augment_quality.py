"""How much do the augmentation operators change a sentence, and do they keep its label?

On 2,000 SST-2 training sentences: the share of rows an operator changes, the mean number of words changed, and the
share of variants whose label a MiniLM classifier fine-tuned on (other) SST-2 sentences keeps (agreement of its
prediction on the variant with its prediction on the original, and with the gold label).

    python examples/augment_quality.py            # ~3 minutes on 2 CPU cores; --device cuda on a GPU
"""

from __future__ import annotations

import argparse
import difflib
import json
import time

import numpy as np

from textrobust.augment import parse_op
from textrobust.data import load_dataset, shared_data_dir
from textrobust.models import Runtime, TextClassifier, TrainConfig, evaluate, minilm_path

OPS = {
    "synonym (counter-fitted lexicon, p=0.15)": "synonym:p=0.15,path={d}/word_resources/counterfitted_neighbors.json",
    "synonym (OEWN lexicon, p=0.15)": "synonym:p=0.15,path={d}/word_resources/oewn_lexicon.json",
    "eda (alpha=0.1, OEWN)": "eda:alpha=0.1,path={d}/word_resources/oewn_lexicon.json",
    "char (keyboard, p=0.1)": "char:kind=keyboard,p=0.1",
    "char (random swap, p=0.1)": "char:kind=random_swap,p=0.1",
}


def words_changed(a: str, b: str) -> int:
    """Word-level edit size: words removed plus words inserted (an in-place swap counts 1)."""
    sm = difflib.SequenceMatcher(a=a.split(), b=b.split(), autojunk=False)
    return sum(max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in sm.get_opcodes() if tag != "equal")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000, help="SST-2 sentences to augment")
    ap.add_argument("--n-train", type=int, default=4000, help="SST-2 sentences to train the judge classifier on")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json-out", default=None)
    args = ap.parse_args()

    d = shared_data_dir()
    sst = load_dataset(d / "sst2" / "train.tsv", text_column="sentence", label_names=["negative", "positive"])
    dev = load_dataset(d / "sst2" / "dev.tsv", text_column="sentence", label_names=["negative", "positive"])
    pool = sst.sample(args.n + args.n_train, seed=args.seed)
    order = np.random.default_rng(args.seed).permutation(len(pool))
    judge_data, data = pool.subset(order[: args.n_train].tolist()), pool.subset(order[args.n_train :].tolist())

    t0 = time.perf_counter()
    judge = TextClassifier(
        minilm_path(),
        labels=sst.label_names,
        max_length=64,
        runtime=Runtime(device=args.device),
        train_config=TrainConfig(epochs=2, lr=1e-4, batch_size=32, seed=args.seed),
    )
    judge.fit(judge_data, progress=False)
    judge_acc = evaluate(judge, dev)["accuracy"]
    print(
        f"judge: MiniLM fine-tuned on {len(judge_data)} SST-2 sentences, SST-2 dev accuracy {judge_acc:.3f} "
        f"({time.perf_counter() - t0:.0f}s)"
    )
    orig_pred = judge.predict(data.texts)
    gold = np.asarray(data.labels)

    rows = []
    for name, spec in OPS.items():
        op = parse_op(spec.format(d=d))
        t = time.perf_counter()
        variants = op(data.texts, seed=args.seed, n=1)
        secs = time.perf_counter() - t
        idx = [i for i, v in enumerate(variants) if v]
        texts = [variants[i][0] for i in idx]
        pred = judge.predict(texts) if texts else np.zeros(0, dtype=int)
        changed = [words_changed(data.texts[i], v) for i, v in zip(idx, texts, strict=True)]
        rows.append(
            {
                "operator": name,
                "spec": spec,
                "rows": len(data),
                "rows_changed": len(idx) / len(data),
                "mean_words_changed": float(np.mean(changed)) if changed else 0.0,
                "label_kept_vs_original_pred": float((pred == orig_pred[idx]).mean()) if texts else float("nan"),
                "label_kept_vs_gold": float((pred == gold[idx]).mean()) if texts else float("nan"),
                "original_acc_same_rows": float((orig_pred[idx] == gold[idx]).mean()) if texts else float("nan"),
                "sentences_per_s": len(data) / secs,
            }
        )

    print(f"\n{len(data)} SST-2 training sentences (seed {args.seed}), one variant each")
    print(f"{'operator':<40} {'changed':>8} {'words':>6} {'kept(pred)':>10} {'kept(gold)':>10} {'orig acc':>8}")
    for r in rows:
        print(
            f"{r['operator']:<40} {r['rows_changed']:>8.1%} {r['mean_words_changed']:>6.2f} "
            f"{r['label_kept_vs_original_pred']:>10.1%} {r['label_kept_vs_gold']:>10.1%} "
            f"{r['original_acc_same_rows']:>8.1%}"
        )
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as f:
            json.dump({"judge_dev_accuracy": judge_acc, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
