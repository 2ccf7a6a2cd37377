"""Side-by-side throughput of textrobust's training and inference against the Hugging Face defaults.

On one model, one mixed-length data sample and one batch size, in one run:

* fine-tuning (examples/s): ``TextClassifier.fit`` vs ``Trainer`` with the default ``DataCollatorWithPadding``
  (random order, pad to the longest in each batch) vs ``Trainer`` with length grouping;
* inference (texts/s): ``TextClassifier.predict_proba`` (sort by length, pad per batch) vs
  ``transformers.pipeline("text-classification")`` vs a plain loop that pads each batch in input order; the
  predicted labels of ours and the pipeline are compared on the same weights.

Targets printed at the end: our training >= 1.5x Trainer (random order) and >= Trainer(group_by_length); our
inference at the defaults >= 2x the pipeline.

``--arch bert-base`` runs the same comparison on a BERT-base-size classifier (12 layers x 768, random
initialisation from a ``BertConfig``, MiniLM's tokenizer): throughput at BERT-base's size, not its accuracy.

Examples:
    .venv/bin/python benchmarks/train_bench.py                       # defaults (GPU if visible)
    .venv/bin/python benchmarks/train_bench.py --device cpu --n-train 256 --n-infer 512
    .venv/bin/python benchmarks/train_bench.py --device cuda --json-out runs/train_bench.json
    .venv/bin/python benchmarks/train_bench.py --device cuda --arch bert-base

Needs ``accelerate`` for the Trainer rows (they are skipped with a note when it is missing).
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    Timer,
    add_arch_arg,
    build_classifier,
    describe_arch,
    environment,
    format_table,
    quiet_libraries,
    runtime_from_args,
    write_json,
)

from textrobust.data import LabeledData, load_dataset, shared_data_dir
from textrobust.models import TextClassifier, TrainConfig, minilm_path
from textrobust.models.finetune import length_grouped_batches


# --------------------------------------------------------------------------------------------------- data
def _read_textfooler(path: Path) -> tuple[list[str], list[int]]:
    """TextFooler eval files: one ``<label> <text>`` per line."""
    texts, labels = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        label, _, text = line.partition(" ")
        texts.append(text.strip())
        labels.append(int(label))
    return texts, labels


def build_data(n_train: int, n_infer: int, long_frac: float, seed: int) -> tuple[LabeledData, LabeledData, str]:
    """Disjoint train / inference samples of SST-2 train sentences mixed with ``long_frac`` IMDB reviews.

    SST-2 train holds phrases and sentences (a few to ~60 tokens); IMDB reviews run to hundreds of tokens and are
    truncated at ``max_length``, so the mix covers the whole length range. Rows are shuffled, so the input order
    carries no length information.
    """
    root = shared_data_dir()
    sst = load_dataset(root / "sst2" / "train.tsv", text_column="sentence")
    rng = np.random.default_rng(seed)
    n_long = {"train": round(n_train * long_frac), "infer": round(n_infer * long_frac)}
    n_short = {"train": n_train - n_long["train"], "infer": n_infer - n_long["infer"]}
    short_idx = rng.choice(len(sst), size=n_short["train"] + n_short["infer"], replace=False)

    long_texts: list[str] = []
    long_labels: list[int] = []
    imdb_path = root / "textfooler_eval" / "imdb"
    need = n_long["train"] + n_long["infer"]
    if need:
        if not imdb_path.exists():
            raise SystemExit(f"{imdb_path} is missing; pass --long-frac 0 to use SST-2 only")
        all_long, all_long_labels = _read_textfooler(imdb_path)
        pick = rng.choice(len(all_long), size=need, replace=need > len(all_long))
        long_texts = [all_long[i] for i in pick]
        long_labels = [all_long_labels[i] for i in pick]

    def part(short: np.ndarray, lo: int, hi: int, name: str) -> LabeledData:
        texts = [sst.texts[i] for i in short] + long_texts[lo:hi]
        labels = [sst.labels[i] for i in short] + long_labels[lo:hi]
        order = rng.permutation(len(texts))
        return LabeledData([texts[i] for i in order], [labels[i] for i in order], list(sst.label_names), name)

    train = part(short_idx[: n_short["train"]], 0, n_long["train"], "bench-train")
    infer = part(short_idx[n_short["train"] :], n_long["train"], need, "bench-infer")
    desc = (
        f"random sample of SST-2 train.tsv sentences + {long_frac:.0%} IMDB reviews (textfooler_eval/imdb), "
        f"shuffled; train {n_short['train']}+{n_long['train']}, infer {n_short['infer']}+{n_long['infer']} "
        "(short+long)"
    )
    return train, infer, desc


def length_stats(lengths: np.ndarray) -> dict[str, float]:
    return {
        "min": int(lengths.min()),
        "median": float(np.median(lengths)),
        "mean": float(lengths.mean()),
        "p90": float(np.percentile(lengths, 90)),
        "max": int(lengths.max()),
    }


def padding_efficiency(lengths: np.ndarray, batches: list[np.ndarray]) -> float:
    """Real tokens / computed tokens when each batch is padded to its longest member."""
    computed = sum(len(b) * int(lengths[b].max()) for b in batches)
    return float(lengths.sum() / computed)


def chunks(order: np.ndarray, size: int) -> list[np.ndarray]:
    return [order[i : i + size] for i in range(0, len(order), size)]


# ----------------------------------------------------------------------------------------------- trainer
def trainer_available() -> str | None:
    """``None`` when the HF Trainer can run here, else the reason."""
    try:
        import accelerate  # noqa: F401
    except ImportError:
        return "accelerate is not installed (pip install 'accelerate>=1.1')"
    return None


def training_arguments(
    out_dir: str,
    *,
    batch_size: int,
    lr: float,
    epochs: int,
    bf16: bool,
    cpu: bool,
    grouped: bool,
    seed: int,
    cfg: TrainConfig,
    max_steps: int | None = None,
) -> Any:
    """``TrainingArguments`` matching ``TrainConfig`` across transformers 4.4x-5.x parameter renames."""
    from transformers import TrainingArguments

    params = inspect.signature(TrainingArguments.__init__).parameters
    kw: dict[str, Any] = {
        "output_dir": out_dir,
        "per_device_train_batch_size": batch_size,
        "learning_rate": lr,
        "num_train_epochs": epochs,
        "weight_decay": cfg.weight_decay,
        "max_grad_norm": cfg.max_grad_norm,
        "lr_scheduler_type": "linear",
        # Same implementation as ours (torch.optim.AdamW defaults); transformers 5 defaults to the fused kernel.
        "optim": "adamw_torch",
        "seed": seed,
        "report_to": [],
        "save_strategy": "no",
        "logging_strategy": "no",
        "disable_tqdm": True,
        "dataloader_num_workers": 0,
        "bf16": bf16,
    }
    kw["eval_strategy" if "eval_strategy" in params else "evaluation_strategy"] = "no"
    kw["use_cpu" if "use_cpu" in params else "no_cuda"] = cpu
    if "warmup_ratio" in params:
        kw["warmup_ratio"] = cfg.warmup_ratio
    else:  # transformers 5: a float < 1 is a ratio
        kw["warmup_steps"] = cfg.warmup_ratio
    if grouped:
        if "train_sampling_strategy" in params:  # transformers 5
            kw["train_sampling_strategy"] = "group_by_length"
        else:
            kw["group_by_length"] = True
    if max_steps is not None:
        kw["max_steps"] = max_steps
    return TrainingArguments(**kw)


def make_trainer(model: Any, tokenizer: Any, dataset: Any, args: Any) -> Any:
    from transformers import DataCollatorWithPadding, Trainer

    params = inspect.signature(Trainer.__init__).parameters
    kw = {"processing_class" if "processing_class" in params else "tokenizer": tokenizer}
    trainer = Trainer(
        model=model, args=args, train_dataset=dataset, data_collator=DataCollatorWithPadding(tokenizer), **kw
    )
    with contextlib.suppress(Exception):  # the end-of-training metrics dict would clutter the table output
        from transformers.trainer_callback import PrinterCallback

        trainer.remove_callback(PrinterCallback)
    return trainer


def hf_dataset(data: LabeledData, tokenizer: Any, max_length: int) -> Any:
    """A tokenised ``datasets.Dataset`` (how Trainer is normally fed); a list of dicts if ``datasets`` is missing or
    does not import with this environment's other packages (e.g. a GPU image's own pyarrow or fsspec)."""
    try:
        import datasets  # noqa: F401
    except Exception as exc:
        print(f"note: datasets unavailable ({exc!r}); Trainer gets a list of tokenised dicts", flush=True)
        enc = tokenizer(list(data.texts), truncation=True, max_length=max_length)
        keys = list(enc.keys())
        return [{**{k: enc[k][i] for k in keys}, "label": y} for i, y in enumerate(data.labels)]
    ds = data.to_hf()
    ds = ds.map(lambda b: tokenizer(b["text"], truncation=True, max_length=max_length), batched=True)
    return ds.remove_columns(["text"])


def take(ds: Any, n: int) -> Any:
    return ds[:n] if isinstance(ds, list) else ds.select(range(n))


# ------------------------------------------------------------------------------------------------- main
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--model",
        default=None,
        help="MiniLM directory (default: the bundled all-MiniLM-L6-v2); with --arch bert-base, the tokenizer's",
    )
    add_arch_arg(p)
    p.add_argument("--n-train", type=int, default=1024, help="training examples (one epoch = this many)")
    p.add_argument("--n-infer", type=int, default=2048, help="texts for the inference comparison")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-length", type=int, default=128, help="truncation length in tokens")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--lr", type=float, default=5e-5)
    p.add_argument(
        "--long-frac",
        type=float,
        default=0.25,
        help="fraction of long IMDB reviews mixed into the SST-2 sentences (0 = SST-2 only)",
    )
    p.add_argument("--warmup-steps", type=int, default=3, help="untimed warm-up steps/batches per method")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument(
        "--bf16",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="bf16 autocast for the Trainer rows and the extra pipeline row, and TextClassifier's precision on CUDA "
        "(default: on for CUDA, off for CPU; --no-bf16 on CUDA: every row in fp32)",
    )
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument(
        "--no-cudnn-sdpa",
        action="store_true",
        help="take cuDNN out of torch's SDPA backends for every method (torch.backends.cuda."
        "enable_cudnn_sdp(False)); cuDNN builds a plan per new (batch, length) shape, which "
        "penalises per-batch dynamic padding",
    )
    p.add_argument("--skip-trainer", action="store_true", help="skip the HF Trainer rows")
    p.add_argument("--skip-naive", action="store_true", help="skip the input-order padding inference loop")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json-out", default=None, metavar="PATH", help="also write the results as JSON here")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    quiet_libraries()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    rt = runtime_from_args(args)
    device = rt.resolved_device
    on_cuda = rt.on_cuda
    if args.no_cudnn_sdpa and hasattr(torch.backends.cuda, "enable_cudnn_sdp"):
        torch.backends.cuda.enable_cudnn_sdp(False)
    bf16 = on_cuda if args.bf16 is None else args.bf16
    notes: list[str] = []
    if bf16 and not on_cuda:
        notes.append("--bf16 ignored on CPU (TextClassifier trains in fp32 on CPU; kept all rows fp32)")
        bf16 = False
    if on_cuda and not bf16:
        rt = rt.replace(precision="fp32")  # like-for-like: no autocast for ours either
        notes.append("--no-bf16: every row runs fp32 (TextClassifier with precision fp32)")
    if on_cuda and not torch.cuda.is_bf16_supported():
        notes.append("GPU lacks bf16: TextClassifier uses fp16 autocast")
    torch.manual_seed(args.seed)

    model_path = args.model or minilm_path()
    B, L = args.batch_size, args.max_length
    train, infer, data_desc = build_data(args.n_train, args.n_infer, args.long_frac, args.seed)
    labels = list(train.label_names)
    cfg = TrainConfig(epochs=args.epochs, lr=args.lr, batch_size=B, seed=args.seed)

    def new_clf() -> TextClassifier:
        return build_classifier(
            args.arch, labels=labels, runtime=rt, base=model_path, max_length=L, batch_size=B, seed=args.seed
        )

    probe = new_clf()
    arch_desc = describe_arch(args.arch, probe.model)
    tok = probe.tokenizer
    train_len = np.array([len(x) for x in probe.encode(train.texts)])
    infer_len = np.array([len(x) for x in probe.encode(infer.texts)])
    rng = np.random.default_rng(args.seed)
    pad_eff = {
        "train_ours_grouped": padding_efficiency(train_len, length_grouped_batches(train_len, B, rng)),
        "train_random": padding_efficiency(train_len, chunks(rng.permutation(len(train_len)), B)),
        "infer_sorted": padding_efficiency(infer_len, chunks(np.argsort(-infer_len, kind="stable"), B)),
        "infer_input_order": padding_efficiency(infer_len, chunks(np.arange(len(infer_len)), B)),
    }

    env = environment(device)
    env["bf16"] = bf16
    if on_cuda and hasattr(torch.backends.cuda, "cudnn_sdp_enabled"):
        env["cudnn_sdpa_enabled"] = torch.backends.cuda.cudnn_sdp_enabled()
    header = [
        "textrobust train/inference benchmark",
        (
            f"date {env['date_utc']}  device {device} ({env['device_name']})  torch {env['torch']}  "
            f"transformers {env['transformers']}  accelerate {env['accelerate']}"
        ),
        (
            f"threads: torch {env['torch_threads']}, cpu_count {env['cpu_count']}, "
            f"affinity {env.get('cpu_affinity')}  bf16 {bf16}"
            + (f"  cudnn_sdpa {env['cudnn_sdpa_enabled']}" if "cudnn_sdpa_enabled" in env else "")
        ),
        f"model {args.arch}: {arch_desc} ({model_path})  runtime {rt}",
        f"data: {data_desc}",
        f"tokens (truncated at {L}) train {length_stats(train_len)}",
        f"                          infer {length_stats(infer_len)}",
        (
            f"batch {B}, epochs {args.epochs}, lr {args.lr}, AdamW (wd {cfg.weight_decay}, "
            f"warmup {cfg.warmup_ratio}, clip {cfg.max_grad_norm}); {args.warmup_steps} untimed warm-up steps "
            "per method"
        ),
        ("padding efficiency (real/computed tokens): " + ", ".join(f"{k} {v:.2f}" for k, v in pad_eff.items())),
    ]
    print("\n".join(header), flush=True)
    for n in notes:
        print(f"note: {n}", flush=True)

    n_examples = len(train) * args.epochs
    warm_n = min(len(train), args.warmup_steps * B)
    warm_train = train.subset(list(range(warm_n)), "warmup")
    train_rows: list[dict[str, Any]] = []

    # ---- ours
    print("\n[train] TextClassifier.fit ...", flush=True)
    ours = new_clf()
    ours.fit(warm_train, config=TrainConfig(epochs=1, lr=args.lr, batch_size=B, seed=args.seed), progress=False)
    ours.train_config = cfg
    with Timer(device) as t:
        ours.fit(train, config=cfg, progress=False)
    train_rows.append(
        {
            "method": "ours: TextClassifier.fit (length-grouped)",
            "key": "ours",
            "seconds": t.seconds,
            "throughput": n_examples / t.seconds,
        }
    )

    # ---- HF Trainer
    reason = "skipped (--skip-trainer)" if args.skip_trainer else trainer_available()
    if reason is None:
        ds = hf_dataset(train, tok, L)
        warm_ds = take(ds, warm_n)
        for key, name, grouped in (
            ("trainer_default", "HF Trainer (DataCollatorWithPadding, random order)", False),
            ("trainer_grouped", "HF Trainer (group_by_length)", True),
        ):
            print(f"[train] {name} ...", flush=True)
            model = new_clf().model
            common: dict[str, Any] = {
                "batch_size": B,
                "lr": args.lr,
                "bf16": bf16,
                "cpu": not on_cuda,
                "grouped": grouped,
                "seed": args.seed,
                "cfg": cfg,
            }
            with tempfile.TemporaryDirectory() as tmp:
                make_trainer(
                    model,
                    tok,
                    warm_ds,
                    training_arguments(tmp, epochs=1, max_steps=args.warmup_steps, **common),
                ).train()
                trainer = make_trainer(model, tok, ds, training_arguments(tmp, epochs=args.epochs, **common))
                with Timer(device) as t:
                    out = trainer.train()
            train_rows.append(
                {
                    "method": name,
                    "key": key,
                    "seconds": t.seconds,
                    "throughput": n_examples / t.seconds,
                    "trainer_reported": out.metrics.get("train_samples_per_second"),
                }
            )
            del trainer, model
    else:
        print(f"[train] HF Trainer rows skipped: {reason}", flush=True)
        notes.append(f"Trainer rows skipped: {reason}")

    # ---- inference, on our fine-tuned weights
    texts, n_inf = list(infer.texts), len(infer)
    infer_rows: list[dict[str, Any]] = []
    warm_texts = texts[: args.warmup_steps * B]
    gold = np.asarray(infer.labels)

    print("[infer] TextClassifier.predict_proba ...", flush=True)
    ours.predict_proba(warm_texts, batch_size=B)
    with Timer(device) as t:
        p_ours = ours.predict_proba(texts, batch_size=B)
    y_ours = p_ours.argmax(1)
    infer_rows.append(
        {
            "method": "ours: predict_proba (sorted, per-batch pad)",
            "key": "ours",
            "seconds": t.seconds,
            "throughput": n_inf / t.seconds,
            "agree": 1.0,
            "accuracy": float((y_ours == gold).mean()),
        }
    )
    print("[infer] TextClassifier.predict_proba, default token budget ...", flush=True)
    ours.predict_proba(warm_texts)
    with Timer(device) as t:
        p_budget = ours.predict_proba(texts)
    infer_rows.append(
        {
            "method": f"ours: predict_proba, default ({ours.token_budget} tokens per batch)",
            "key": "ours_budget",
            "seconds": t.seconds,
            "throughput": n_inf / t.seconds,
            "agree": float((p_budget.argmax(1) == y_ours).mean()),
            "accuracy": float((p_budget.argmax(1) == gold).mean()),
        }
    )

    from transformers import pipeline

    pipe = pipeline("text-classification", model=ours.model, tokenizer=tok, device=torch.device(device))
    label_index = {name: i for i, name in enumerate(labels)}
    call = {"batch_size": B, "truncation": True, "max_length": L, "top_k": None}

    def run_pipe(autocast: bool) -> tuple[float, np.ndarray]:
        ctx = ours.runtime.autocast() if autocast else contextlib.nullcontext()
        with ctx:
            pipe(warm_texts, **call)
            with Timer(device) as tm:
                res = pipe(texts, **call)
        probs = np.zeros((n_inf, len(labels)), dtype=np.float32)
        for r, scores in enumerate(res):
            for s in scores:
                probs[r, label_index[s["label"]]] = s["score"]
        return tm.seconds, probs

    pipe_variants = [("pipeline", "HF pipeline (fp32)", False)]
    if on_cuda:
        pipe_variants.append(("pipeline_autocast", "HF pipeline (+ same autocast as ours)", True))
    for key, name, ac in pipe_variants:
        print(f"[infer] {name} ...", flush=True)
        secs, p = run_pipe(ac)
        y = p.argmax(1)
        infer_rows.append(
            {
                "method": name,
                "key": key,
                "seconds": secs,
                "throughput": n_inf / secs,
                "agree": float((y == y_ours).mean()),
                "accuracy": float((y == gold).mean()),
                "max_abs_prob_diff": float(np.abs(p - p_ours).max()),
            }
        )

    if not args.skip_naive:
        print("[infer] plain loop, input order ...", flush=True)
        model = ours.model
        model.eval()

        def naive(batch_texts: list[str]) -> np.ndarray:
            out = []
            with torch.inference_mode(), ours.runtime.autocast():
                for s in range(0, len(batch_texts), B):
                    enc = tok(
                        batch_texts[s : s + B],
                        padding=True,
                        truncation=True,
                        max_length=L,
                        return_tensors="pt",
                    ).to(device)
                    out.append(torch.softmax(model(**enc).logits.float(), -1).cpu().numpy())
            return np.concatenate(out)

        naive(warm_texts)
        with Timer(device) as t:
            p = naive(texts)
        y = p.argmax(1)
        infer_rows.append(
            {
                "method": "plain loop (input order, pad to batch max)",
                "key": "naive",
                "seconds": t.seconds,
                "throughput": n_inf / t.seconds,
                "agree": float((y == y_ours).mean()),
                "accuracy": float((y == gold).mean()),
                "max_abs_prob_diff": float(np.abs(p - p_ours).max()),
            }
        )

    # ---- report
    def by_key(rows: list[dict[str, Any]], key: str) -> dict[str, Any] | None:
        return next((r for r in rows if r["key"] == key), None)

    train_base = by_key(train_rows, "trainer_default") or train_rows[0]
    infer_base = by_key(infer_rows, "pipeline")
    print(f"\nFine-tuning ({n_examples} examples, batch {B}; ratio vs {train_base['method']})")
    print(
        format_table(
            ["method", "examples/s", "seconds", "ratio"],
            [
                [r["method"], r["throughput"], r["seconds"], r["throughput"] / train_base["throughput"]]
                for r in train_rows
            ],
        )
    )
    print(f"\nInference ({n_inf} texts, batch {B}; ratio vs {infer_base['method']}; agreement = argmax equal to ours)")
    print(
        format_table(
            ["method", "texts/s", "seconds", "ratio", "agree", "accuracy"],
            [
                [
                    r["method"],
                    r["throughput"],
                    r["seconds"],
                    r["throughput"] / infer_base["throughput"],
                    r["agree"],
                    r["accuracy"],
                ]
                for r in infer_rows
            ],
        )
    )

    targets: dict[str, Any] = {}
    ours_t = by_key(train_rows, "ours")
    grouped = by_key(train_rows, "trainer_grouped")
    random_order = by_key(train_rows, "trainer_default")
    print("\nTargets")
    if random_order is not None:
        ratio = ours_t["throughput"] / random_order["throughput"]
        targets["train_vs_trainer"] = {"ratio": ratio, "target": 1.5, "met": ratio >= 1.5}
        print(
            f"  training  ours / Trainer(random order) = {ratio:.2f}x  (target >= 1.50x)  "
            f"{'MET' if ratio >= 1.5 else 'NOT MET'}"
        )
    if grouped is not None:
        ratio = ours_t["throughput"] / grouped["throughput"]
        targets["train_vs_trainer_grouped"] = {"ratio": ratio, "target": 1.0, "met": ratio >= 1.0}
        print(
            f"  training  ours / Trainer(group_by_length) = {ratio:.2f}x  (target >= 1.00x)  "
            f"{'MET' if ratio >= 1.0 else 'NOT MET'}"
        )
    else:
        print("  training  n/a (Trainer rows skipped)")
    ours_i = by_key(infer_rows, "ours")
    ratio = ours_i["throughput"] / infer_base["throughput"]
    targets["infer_vs_pipeline"] = {
        "ratio": ratio,
        "target": 2.0,
        "met": ratio >= 2.0,
        "label_agreement": infer_base["agree"],
    }
    print(
        f"  inference ours / pipeline = {ratio:.2f}x  (target >= 2.00x)  {'MET' if ratio >= 2.0 else 'NOT MET'}; "
        f"label agreement with pipeline {infer_base['agree']:.4f}"
    )
    ob = by_key(infer_rows, "ours_budget")
    ratio = ob["throughput"] / infer_base["throughput"]
    targets["infer_default_vs_pipeline"] = {"ratio": ratio, "target": 2.0, "met": ratio >= 2.0}
    print(
        f"  inference ours at the default token budget / pipeline = {ratio:.2f}x  (target >= 2.00x)  "
        f"{'MET' if ratio >= 2.0 else 'NOT MET'}"
    )
    pac = by_key(infer_rows, "pipeline_autocast")
    if pac is not None:
        r2 = ours_i["throughput"] / pac["throughput"]
        targets["infer_vs_pipeline_autocast"] = {"ratio": r2, "label_agreement": pac["agree"]}
        print(f"  inference ours / pipeline(+autocast) = {r2:.2f}x; label agreement {pac['agree']:.4f}")

    if args.json_out:
        write_json(
            args.json_out,
            {
                "environment": env,
                "args": vars(args),
                "model": model_path,
                "arch": args.arch,
                "arch_description": arch_desc,
                "runtime": rt.to_dict(),
                "data": data_desc,
                "token_lengths": {"train": length_stats(train_len), "infer": length_stats(infer_len)},
                "padding_efficiency": pad_eff,
                "notes": notes,
                "train": train_rows,
                "inference": infer_rows,
                "targets": targets,
            },
        )
        print(f"\nwrote {args.json_out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
