"""Quality and speed of the model-backed augmenters on real data, measured with our own tools.

On ``--n`` SST-2 training sentences (default 1,000; at least 4 words, distinct, sampled with ``--seed``), each
operator makes one variant per sentence (``n=1``, seed 0). Per operator:

* ``changed``: share of sentences that got a variant different from the input (operators never return the
  input itself, so this is also their coverage);
* ``cosine``: mean MiniLM (all-MiniLM-L6-v2, mean-pooled) cosine between variant and input;
* ``kept_gold`` / ``kept_pred``: share of variants a MiniLM SST-2 classifier (the judge, fine-tuned with our
  trainer on other SST-2 sentences) assigns to the input's gold label / to its own prediction on the input;
* ``sent_per_s``: sentences in over wall seconds of the operator call (model loading excluded by a warm-up).

LAMBADA makes new sentences per label rather than variants: with ``--lambada`` (the ``generate-*.parquet`` files a
``textrobust run`` of ``examples/sst2_language_models.yaml`` caches), its row reports ``kept_gold`` as the share of
generated rows the judge assigns to their intended label (they were already selected by a classifier trained on
the 500 sentences, so this is an upper-biased figure) and no cosine.

    .venv/bin/python benchmarks/augment_quality.py --judge-dir /tmp/sst2_judge --n 1000 \\
        --lambada 'runs/sst2_language_models/cache/generate-*.parquet'

Measured figures: ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import glob
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _common import environment, format_table, quiet_libraries, write_json

from textrobust.augment import parse_op
from textrobust.augment.filters import Similarity
from textrobust.data import LabeledData, load_dataset, shared_data_dir
from textrobust.models import Runtime, TextClassifier, TrainConfig, evaluate, minilm_path

# name -> operator spec (the table shows the spec)
OPS = {
    "backtranslate": "backtranslate:engine=bergamot,via=pt",
    "paraphrase": "paraphrase:model=smollm2,max_new_tokens=32,batch_size=64",
    "generate": "generate:model=smollm2,keep=0.5,max_new_tokens=24,batch_size=64",
    "synonym": "synonym:p=0.15",
    "eda": "eda:alpha=0.1",
}


def sst2_samples(n: int, n_judge: int, seed: int) -> tuple[LabeledData, LabeledData]:
    """``n`` sentences to augment and ``n_judge`` other ones to train the judge (distinct, >= 4 words)."""
    sst = load_dataset(
        shared_data_dir() / "sst2" / "train.tsv", text_column="sentence", label_names=["negative", "positive"]
    )
    seen, keep = set(), []
    for i, t in enumerate(sst.texts):
        key = " ".join(t.split())
        if len(key.split()) >= 4 and key not in seen:
            seen.add(key)
            keep.append(i)
    order = np.random.default_rng(seed).permutation(keep)
    return sst.subset(order[:n].tolist()), sst.subset(order[n : n + n_judge].tolist())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--n-judge", type=int, default=3000, help="SST-2 sentences to fine-tune the judge on")
    p.add_argument("--judge-dir", required=True, help="load the judge from here, or train and save it here")
    p.add_argument("--ops", default=",".join(OPS), help="comma-separated names from: " + ", ".join(OPS))
    p.add_argument("--lambada", default=None, help="glob of generate-*.parquet files from a run's cache")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None)
    args = p.parse_args()
    quiet_libraries()
    runtime = Runtime(device="cpu")
    # The similarity filter's encoder (MiniLM, mean-pooled, unit length): what augmentation's filter sees.
    encoder = Similarity(model=minilm_path(), runtime=runtime).encoder()

    data, judge_data = sst2_samples(args.n, args.n_judge, args.seed)
    judge_dir = Path(args.judge_dir)
    if (judge_dir / "textrobust.json").exists():
        judge = TextClassifier.load(judge_dir, runtime=runtime)
    else:
        judge = TextClassifier(
            minilm_path(),
            labels=judge_data.label_names,
            max_length=64,
            runtime=runtime,
            train_config=TrainConfig(epochs=2, lr=1e-4, batch_size=32, seed=args.seed),
        )
        judge.fit(judge_data, progress=False)
        judge.save(judge_dir)
    dev = load_dataset(shared_data_dir() / "sst2" / "dev.tsv", text_column="sentence", label_names=judge.labels)
    judge_acc = evaluate(judge, dev)["accuracy"]
    print(f"judge: MiniLM on {len(judge_data)} SST-2 sentences, dev accuracy {judge_acc:.3f}", flush=True)
    gold = np.asarray(data.labels)
    orig_pred = judge.predict(data.texts)

    rows = []
    for name in [o for o in args.ops.split(",") if o]:
        op = parse_op(OPS[name], runtime=runtime)
        op(data.texts[:2], seed=1)  # load the model (and GGUF conversion) outside the timing
        t0 = time.perf_counter()
        variants = op(data.texts, seed=0, n=1)
        secs = time.perf_counter() - t0
        idx = [i for i, v in enumerate(variants) if v]
        outs = [variants[i][0] for i in idx]
        emb = encoder.encode([data.texts[i] for i in idx] + outs) if outs else np.zeros((0, 1))
        cos = (emb[: len(idx)] * emb[len(idx) :]).sum(1) if outs else np.zeros(0)
        pred = judge.predict(outs) if outs else np.zeros(0, dtype=int)
        rows.append(
            {
                "operator": name,
                "spec": OPS[name],
                "n": len(data),
                "changed": len(idx) / len(data),
                "cosine": float(cos.mean()) if outs else float("nan"),
                "kept_gold": float((pred == gold[idx]).mean()) if outs else float("nan"),
                "kept_pred": float((pred == orig_pred[idx]).mean()) if outs else float("nan"),
                "sent_per_s": len(data) / secs,
                "examples": [[data.texts[i], o] for i, o in list(zip(idx, outs, strict=True))[:5]],
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    if args.lambada:
        import pandas as pd

        files = sorted(glob.glob(args.lambada))
        frame = pd.concat([pd.read_parquet(f) for f in files]) if files else pd.DataFrame(columns=["text", "label"])
        if len(frame):
            pred = judge.predict(frame.text.tolist())
            rows.append(
                {
                    "operator": f"lambada (SmolLM2, {len(files)} runs)",
                    "spec": args.lambada,
                    "n": len(frame),
                    "changed": float("nan"),
                    "cosine": float("nan"),
                    "kept_gold": float((pred == frame.label.to_numpy()).mean()),
                    "kept_pred": float("nan"),
                    "sent_per_s": float("nan"),
                    "examples": frame.head(5).values.tolist(),
                }
            )
    env = environment("cpu")
    print(
        f"\n{len(data)} SST-2 training sentences (>= 4 words, seed {args.seed}), one variant each; judge dev accuracy "
        f"{judge_acc:.3f}; torch {env['torch']}, {env['torch_threads']} threads, {env['date_utc']}"
    )
    cols = ["operator", "spec", "n", "changed", "cosine", "kept_gold", "kept_pred", "sent_per_s"]
    print(format_table(cols, [[r[c] for c in cols] for r in rows]))
    if args.out:
        write_json(args.out, {"env": env, "args": vars(args), "judge_dev_accuracy": judge_acc, "rows": rows})


if __name__ == "__main__":
    main()
