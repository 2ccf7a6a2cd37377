"""Valid-ASR and quality metrics of all 8 recipes on a MiniLM MR classifier (issue 24).

Attacks the first ``--n`` sentences of TextFooler's MR attack set (``textfooler_eval/mr``) with every recipe, scores
each success for quality (word / character modification, edit summary, MiniLM similarity, SmolLM2 perplexity) and
asks each ``--judge`` whether the gold label survived. Prints, per recipe: accuracy under attack and under *valid*
attack, raw and valid ASR with Wilson 95% intervals, the judge's rejections and abstentions, and the mean quality
columns of the successes. Per-example results go to ``--out/<recipe>.jsonl`` (the ``textrobust attack -o`` schema,
quality and verdicts included), so the judges can be rerun on them with ``--rejudge``.

No masked LM can be had offline: BAE and BERT-Attack run with a *randomly initialised* 2-layer BERT masked LM built
from a config on MiniLM's WordPiece vocabulary (``--mlm`` names a real one); their candidate words are random
vocabulary words, so their figures measure the pipeline, not those recipes' strength.

``--requality perplexity`` scores the named metrics again on saved results (other columns kept).

Usage (2-core CPU; ~10-30 min at n=200 depending on load):
    python benchmarks/validity_bench.py --model-dir /tmp/mr_minilm --n 200 --judge /tmp/judge_sst2 --judge llm \\
        --out /tmp/validity_bench
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from textrobust.adversarial import RECIPES, build_attack, read_results, run_attack  # noqa: E402
from textrobust.adversarial.assess import assess  # noqa: E402
from textrobust.adversarial.quality import QUALITY_METRICS, score_quality  # noqa: E402
from textrobust.adversarial.results import AttackReport  # noqa: E402
from textrobust.adversarial.validity import build_judge  # noqa: E402
from textrobust.data import shared_data_dir  # noqa: E402
from textrobust.models import Runtime, load_model  # noqa: E402
from textrobust.stats.binary import wilson  # noqa: E402


def random_mlm(out: Path, tokenizer_dir: str) -> Path:
    """A randomly initialised 2-layer BertForMaskedLM on ``tokenizer_dir``'s vocabulary (seed 0), saved once."""
    if (out / "config.json").is_file():
        return out
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForMaskedLM

    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    torch.manual_seed(0)
    cfg = BertConfig(
        vocab_size=tok.vocab_size, hidden_size=128, num_hidden_layers=2, num_attention_heads=2, intermediate_size=256
    )
    BertForMaskedLM(cfg).save_pretrained(out)
    tok.save_pretrained(out)
    return out


def eval_rows(n: int) -> tuple[list[str], list[int]]:
    lines = (shared_data_dir() / "textfooler_eval" / "mr").read_text(encoding="utf-8").split("\n")
    rows = [(line[2:].strip(), int(line[0])) for line in lines if line.strip()][:n]
    return [t for t, _ in rows], [y for _, y in rows]


def interval(k: int, m: int) -> str:
    lo, hi = wilson(np.array(k), np.array(m))
    return f"{k / m:.3f} [{float(lo):.3f}, {float(hi):.3f}]" if m else "–"


def row(recipe: str, report: AttackReport) -> dict[str, Any]:
    s = report.summary()
    attacked = [r for r in report.results if r.status != "skipped"]
    wins = report.successful()
    valid = sum(bool(r.valid) for r in wins if r.judge is not None)
    out = {
        "recipe": recipe,
        "n": s["num_examples"],
        "clean_acc": s["original_accuracy"],
        "acc_under_attack": s["accuracy_under_attack"],
        "asr": interval(len(wins), len(attacked)),
        "valid_asr": interval(valid, len(attacked)) if report.extra.get("judge") else "–",
        "acc_under_valid_attack": s.get("accuracy_under_valid_attack"),
        "rejected": s.get("judge_rejected"),
        "abstained": s.get("judge_abstained"),
        "elapsed_s": round(report.elapsed_s, 1),
    }
    for k in ("similarity", "word_mod_pct", "char_mod_pct", "ppl_log_ratio", "edits_word", "edits_char"):
        out[k] = s.get(f"avg_{k}")
    return out


def print_table(rows: list[dict[str, Any]], judge: str | None) -> None:
    print(f"\njudge: {judge or 'none'}")
    cols = list(rows[0])
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in rows:
        cells = [f"{v:.3f}" if isinstance(v, float) else ("–" if v is None else str(v)) for v in r.values()]
        print("| " + " | ".join(cells) + " |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model-dir", required=True, help="a MiniLM MR classifier (textrobust train output)")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--recipes", default=",".join(RECIPES))
    ap.add_argument("--judge", action="append", default=[], help="judge spec (repeat: each judged separately)")
    ap.add_argument("--ensemble", action="store_true", help="also judge with the ensemble of all --judge")
    ap.add_argument("--quality", default=",".join(QUALITY_METRICS))
    ap.add_argument("--mlm", default=None, help="a real masked LM (default: a random 2-layer BERT, see above)")
    ap.add_argument("--out", default="/tmp/validity_bench")
    ap.add_argument("--rejudge", action="store_true", help="judge the saved results again; no attack")
    ap.add_argument(
        "--requality", default="", help="metrics to score again on the saved results (e.g. perplexity); no attack"
    )
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    rt = Runtime(device="cpu", threads=args.threads)
    rt.apply_threads()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model = load_model(args.model_dir, runtime=rt)
    texts, labels = eval_rows(args.n)
    recipes = [r.strip() for r in args.recipes.split(",") if r.strip()]
    quality = [q for q in args.quality.split(",") if q]
    reports: dict[str, AttackReport] = {}
    for recipe in recipes:
        path = out / f"{recipe}.jsonl"
        if args.rejudge or path.is_file():
            meta = json.loads((out / f"{recipe}.json").read_text())
            reports[recipe] = AttackReport(read_results(path), meta["elapsed_s"], recipe)
            again = [q for q in args.requality.split(",") if q]
            if again:  # rescore these metrics only, keeping every other column
                wins = reports[recipe].successful()
                cols = score_quality(
                    [r.original_text for r in wins], [r.perturbed_text for r in wins], again, runtime=rt
                )
                for i, r in enumerate(wins):
                    r.quality.update({k: (v[i] if isinstance(v, list) else float(v[i])) for k, v in cols.items()})
                reports[recipe].to_jsonl(path)
                print(f"{recipe}: {', '.join(again)} scored again on {len(wins)} successes", flush=True)
            continue
        names = list(RECIPES[recipe].resources)
        given = {}
        if "mlm" in names:
            from textrobust.models import minilm_path

            given["mlm"] = args.mlm or str(random_mlm(out / "random_mlm", minilm_path()))
        from textrobust.adversarial.resources import build_resources

        res = build_resources(names, given, runtime=rt)
        start = time.perf_counter()
        report = run_attack(build_attack(recipe, model, **res), texts, labels, progress=False)
        t_attack = time.perf_counter() - start
        assess(report, quality=quality, runtime=rt)
        t_quality = time.perf_counter() - start - t_attack
        report.to_jsonl(path)
        (out / f"{recipe}.json").write_text(
            json.dumps({"elapsed_s": report.elapsed_s, "quality_s": t_quality, "attack_s": t_attack})
        )
        print(f"{recipe}: attack {t_attack:.0f}s, quality {t_quality:.0f}s", flush=True)
        reports[recipe] = report
    print_table([row(k, r) for k, r in reports.items()], None)
    specs: list[Any] = list(args.judge) + ([args.judge] if args.ensemble and len(args.judge) > 1 else [])
    for spec in specs:
        judge = build_judge(spec, model.labels, rt)
        start = time.perf_counter()
        for r in reports.values():
            assess(r, judge=judge, quality=(), runtime=rt)
        print(f"judge {judge.name}: {time.perf_counter() - start:.0f}s", flush=True)
        print_table([row(k, r) for k, r in reports.items()], judge.name)
        for recipe, r in reports.items():
            rejected = [x for x in r.successful() if x.judge and x.judge["verdict"] == "rejected"][:2]
            for x in rejected:
                print(f"  rejected ({recipe}, p={x.judge['p']:.2f}): {x.original_text!r} -> {x.perturbed_text!r}")


if __name__ == "__main__":
    main()
