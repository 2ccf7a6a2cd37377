"""Local vs Ray on one machine: the tests' tiny experiment (2 conditions x 2 seeds) and a 100k-row augmentation.

Run:  .venv/bin/python benchmarks/ray_bench.py [--rows 100000] [--cpus 2] [--json out.json]

One process does everything: the experiment with the local backend (units one after another in this process,
after an untimed one-unit warm-up),
then with ``RayExecutor`` (one Ray task per unit, 1 CPU each) on a local Ray instance of ``--cpus`` CPUs; then
``augment_file`` (1 process, and ``--cpus`` spawned workers) and ``augment_file_ray`` on the same file. It prints
seconds, the ratio to the fastest local run of the same work (below 1: Ray is faster) and whether the outputs agree
(augment: byte-identical; experiment: every non-timing value equal to 1e-6 — torch sums floats in another order
with another thread count).
Ray's start-up (``ray.init``) is timed apart: a cluster pays it once, not per run. The machine's load average is
recorded before and after, since these timings mean little on a busy machine.

The tiny model is a 2-layer BERT (hidden 32) built from a config, with the tests' WordPiece vocabulary. On a GPU
machine the same script measures units spread over GPUs with ``--unit-gpus 1`` (not run here: no GPU).
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import environment, format_table, quiet_libraries, write_json  # noqa: E402

POS = ["good", "great", "lovely", "fine", "superb", "fun", "charming", "brilliant"]
NEG = ["bad", "awful", "boring", "dull", "poor", "weak", "terrible", "messy"]
NOUNS = ["film", "movie", "plot", "cast", "story", "script", "ending", "music", "phone", "service"]


def tiny_corpus() -> list[tuple[str, int]]:
    """The tests' corpus (tests/conftest.py): 480 short labelled sentences."""
    return [
        (tmpl.format(a=adj, n=noun), int(adj in POS))
        for (adj, noun), tmpl in itertools.product(
            itertools.product(POS + NEG, NOUNS),
            ["the {n} was {a} .", "a {a} {n} , really", "i thought the {n} is {a} and more"],
        )
    ]


def tiny_model(out: Path) -> Path:
    """A random 2-layer BERT with a WordPiece vocabulary over the corpus (as the tests' fixture builds it)."""
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    normalizer, pre = normalizers.BertNormalizer(lowercase=True), pre_tokenizers.BertPreTokenizer()
    words = sorted({w for t, _ in tiny_corpus() for w, _ in pre.pre_tokenize_str(normalizer.normalize_str(t))})
    chars = sorted({c for w in words for c in w})
    vocab = list(
        dict.fromkeys(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + chars + ["##" + c for c in chars] + words)
    )
    tok = Tokenizer(models.WordPiece({t: i for i, t in enumerate(vocab)}, unk_token="[UNK]"))
    tok.normalizer, tok.pre_tokenizer = normalizer, pre
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", vocab.index("[CLS]")), ("[SEP]", vocab.index("[SEP]"))]
    )
    PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=64,
    ).save_pretrained(out)
    torch.manual_seed(0)
    BertModel(
        BertConfig(
            vocab_size=len(vocab),
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=64,
        )
    ).save_pretrained(out)
    return out


def experiment_spec(work: Path, model: Path) -> dict:
    """The tiny experiment of tests/test_ray.py: 2 conditions x 2 seeds, clean + INV + a DeepWordBug attack."""
    import pandas as pd

    rows = tiny_corpus()
    pd.DataFrame({"text": [t for t, _ in rows], "label": ["pos" if y else "neg" for _, y in rows]}).to_csv(
        work / "data.csv", index=False
    )
    return {
        "name": "tiny",
        "data": {"train": {"path": str(work / "data.csv")}, "test_split": 0.25, "train_size": 120},
        "model": {
            "name": str(model),
            "max_length": 32,
            "device": "cpu",
            "train": {"epochs": 2, "lr": 3e-3, "batch_size": 16},
        },
        "conditions": {"baseline": {}, "char": {"augment": {"ops": ["char:kind=keyboard,p=0.3"], "n": 1}}},
        "seeds": [0, 1],
        "evaluations": [
            {"kind": "clean"},
            {"kind": "inv", "suites": ["case", "typo"]},
            {"kind": "attack", "recipe": "deepwordbug", "n": 8},
        ],
    }


def same_values(a: Path, b: Path) -> bool:
    import json

    import pandas as pd

    timing = {
        (m["evaluation"], m["metric"])
        for m in json.loads((a / "summary.json").read_text())["metrics"]
        if m.get("timing")
    }
    ta, tb = (pd.read_parquet(d / "results.parquet") for d in (a, b))
    keep = [(e, m) not in timing for e, m in zip(ta.evaluation, ta.metric, strict=True)]
    ta, tb = (
        ta[keep].reset_index(drop=True),
        tb[[(e, m) not in timing for e, m in zip(tb.evaluation, tb.metric, strict=True)]].reset_index(drop=True),
    )
    return ta[["condition", "seed", "evaluation", "metric"]].equals(
        tb[["condition", "seed", "evaluation", "metric"]]
    ) and bool(((ta.value - tb.value).abs().fillna(0) <= 1e-6).all())


def augment_input(work: Path, rows: int) -> Path:
    """``rows`` sentences: SST-2's training set repeated (the tiny corpus when the shared data is absent)."""
    import pandas as pd

    from textrobust.data import shared_data_dir

    sst2 = shared_data_dir() / "sst2" / "train.tsv"
    if sst2.exists():
        frame = pd.read_csv(sst2, sep="\t", quoting=3, dtype=str, keep_default_na=False)
        frame = frame.rename(columns={"sentence": "text"})
    else:
        frame = pd.DataFrame({"text": [t for t, _ in tiny_corpus()], "label": [str(y) for _, y in tiny_corpus()]})
    frame = pd.concat([frame] * (rows // len(frame) + 1), ignore_index=True).head(rows)
    path = work / "augment_in.csv"
    frame[["text", "label"]].to_csv(path, index=False)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000, help="rows to augment")
    ap.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray instance and local workers")
    ap.add_argument("--unit-gpus", type=float, default=0, help="GPUs per unit (GPU machines)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    quiet_libraries()
    import ray

    from textrobust.augment import augment_file, parse_op
    from textrobust.robustness import Runner, parse_experiment
    from textrobust.scale import RayExecutor, augment_file_ray

    load_before = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="ray-bench-"))
    exp = parse_experiment(experiment_spec(work, tiny_model(work / "model")))
    rows: list[list] = []

    # Warm-up (not timed): the first unit in a process pays one-time imports and model-loading paths; Ray's workers
    # pay theirs inside the timed run, which is what a user sees.
    Runner(
        exp.model_copy(update={"seeds": [0], "conditions": {"baseline": exp.conditions["baseline"]}}),
        work / "warmup",
        progress=False,
    ).run()
    t = time.perf_counter()
    Runner(exp, work / "local", progress=False).run()
    local_exp = time.perf_counter() - t
    # The same with one torch thread, as each 1-CPU Ray unit runs: on a busy machine, threads that wait for each
    # other at every operation can cost more than they give, and that is not Ray's doing.
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    t = time.perf_counter()
    Runner(exp, work / "local1", progress=False).run()
    local1_exp = time.perf_counter() - t
    torch.set_num_threads(threads)

    t = time.perf_counter()
    ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False)
    ray_start = time.perf_counter() - t
    t = time.perf_counter()
    Runner(exp, work / "ray", progress=False, executor=RayExecutor(num_gpus=args.unit_gpus or 0)).run()
    ray_exp = time.perf_counter() - t
    same = same_values(work / "local", work / "ray")
    # The reference is the faster local run (the ratio is Ray's overhead, or gain, over the best one process does).
    ref_exp = min(local_exp, local1_exp)
    rows.append(
        [
            "experiment 2x2 (tiny BERT): local, 1 process, 1 torch thread",
            local1_exp,
            local1_exp / ref_exp,
            "values" if same_values(work / "local", work / "local1") else "NO",
        ]
    )
    rows.append([f"experiment 2x2: local, 1 process, {threads} torch threads", local_exp, local_exp / ref_exp, ""])
    rows.append(
        [
            f"experiment 2x2: Ray, 1 task (1 CPU, 1 thread) per unit, {args.cpus} at a time",
            ray_exp,
            ray_exp / ref_exp,
            "values" if same else "NO",
        ]
    )

    inp = augment_input(work, args.rows)
    ops = [parse_op("char:kind=keyboard,p=0.1"), parse_op("eda:alpha_sr=0,alpha_ri=0,alpha_rs=0.1,p_rd=0.1")]
    kw = {"n": 2, "seed": 0, "batch_size": 1024, "progress": False}
    t = time.perf_counter()
    augment_file(inp, work / "aug_local.csv", ops, **kw)
    local_aug = time.perf_counter() - t
    t = time.perf_counter()
    augment_file(inp, work / "aug_workers.csv", ops, workers=args.cpus, **kw)
    workers_aug = time.perf_counter() - t
    t = time.perf_counter()
    summary = augment_file_ray(inp, work / "aug_ray.csv", ops, **kw)
    ray_aug = time.perf_counter() - t
    ref = (work / "aug_local.csv").read_bytes()
    rows.append([f"augment {args.rows:,} rows: local, 1 process", local_aug, 1.0, ""])
    rows.append(
        [
            f"augment: local, {args.cpus} worker processes",
            workers_aug,
            workers_aug / local_aug,
            "bytes" if (work / "aug_workers.csv").read_bytes() == ref else "NO",
        ]
    )
    rows.append(
        [
            f"augment: Ray Data ({args.cpus} CPUs)",
            ray_aug,
            ray_aug / local_aug,
            "bytes" if (work / "aug_ray.csv").read_bytes() == ref else "NO",
        ]
    )
    rows.append(["Ray start-up (ray.init, once per driver)", ray_start, "", ""])
    ray.shutdown()
    load_after = os.getloadavg()

    env = environment("cpu")
    print(
        f"{env['date_utc']}  {env['cpu_count']} CPUs, torch {env['torch']} ({env['torch_threads']} threads), "
        f"ray {ray.__version__}; load average before {load_before[0]:.1f}, after {load_after[0]:.1f}; "
        f"augmented rows out: {summary.rows_out:,}"
    )
    print(format_table(["workload", "seconds", "x fastest local", "same output as local"], rows))
    if args.json:
        write_json(
            args.json,
            {"env": env, "ray": ray.__version__, "load_before": load_before, "load_after": load_after, "rows": rows},
        )


if __name__ == "__main__":
    main()
