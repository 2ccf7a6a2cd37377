"""What a TextAttack user runs to attack a model saved by ``textrobust train``: one whole process, timed from outside.

Run by ``attack_vs_textattack.py --as-user`` in a venv with textattack 0.3.11 (``transformers<5``). The model loads
with transformers' ``AutoModelForSequenceClassification`` / ``AutoTokenizer`` into TextAttack's own
``HuggingFaceModelWrapper`` (its default goal-function batch of 32), the attack is TextAttack's
``GreedyWordSwapWIR("delete")`` with the same counter-fitted neighbours (JSON, up to 50), TextFooler's stopwords
and TextFooler's sentence-similarity settings with MiniLM as the encoder (:func:`textfooler_like_textattack`),
and ``textattack.Attacker`` runs it silently over the first ``--n`` examples. One deviation from a bare script:
the tokenizer's ``model_max_length`` is set to the model's training length (``textrobust.json``, 128 by
default), because the wrapper pads every query to ``model_max_length`` (512 for MiniLM) and a user attacking a
model trained at 128 tokens would set it.

Prints one JSON line: the summary plus ``import_s``, ``load_s`` and ``attack_s`` (seconds since start).
"""

from __future__ import annotations

import time

T0 = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model-dir", required=True)
    p.add_argument("--data", required=True, help="label-text file (textfooler_eval/mr)")
    p.add_argument("--neighbours", required=True)
    p.add_argument("--stopwords", required=True)
    p.add_argument("--n", type=int, default=200)
    args = p.parse_args()

    import textattack
    import transformers
    from textattack.attack_results import FailedAttackResult, SkippedAttackResult, SuccessfulAttackResult
    from textattack.models.wrappers import HuggingFaceModelWrapper

    from textrobust.adversarial import SentenceEncoder
    from textrobust.adversarial.textattack_interop import textfooler_like_textattack

    transformers.logging.set_verbosity_error()
    t_import = time.perf_counter() - T0

    model = transformers.AutoModelForSequenceClassification.from_pretrained(args.model_dir).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(args.model_dir)
    meta = json.loads((Path(args.model_dir) / "textrobust.json").read_text(encoding="utf-8"))
    tokenizer.model_max_length = int(meta.get("max_length", 128))
    wrapper = HuggingFaceModelWrapper(model, tokenizer)
    neighbours = json.loads(Path(args.neighbours).read_text(encoding="utf-8"))
    stopwords = [w.strip() for w in Path(args.stopwords).read_text(encoding="utf-8").split("\n") if w.strip()]
    attack = textfooler_like_textattack(
        wrapper, neighbours, SentenceEncoder(), stopwords=stopwords, model_batch_size=32
    )  # TextAttack's goal-function default
    rows = []
    for line in Path(args.data).read_text(encoding="utf-8").split("\n"):
        if line.strip():
            label, _, text = line.partition(" ")
            rows.append((text.strip(), int(label)))
    dataset = textattack.datasets.Dataset(rows[: args.n])
    t_load = time.perf_counter() - T0

    attack_args = textattack.AttackArgs(num_examples=len(dataset), disable_stdout=True, silent=True)
    results = textattack.Attacker(attack, dataset, attack_args).attack_dataset()
    t_attack = time.perf_counter() - T0
    ok = sum(isinstance(r, SuccessfulAttackResult) for r in results)
    failed = sum(isinstance(r, FailedAttackResult) for r in results)
    skipped = sum(isinstance(r, SkippedAttackResult) for r in results)
    print(
        json.dumps(
            {
                "num_examples": len(results),
                "succeeded": ok,
                "failed": failed,
                "skipped": skipped,
                "success_rate": ok / max(1, ok + failed),
                "accuracy_under_attack": failed / max(1, len(results)),
                "avg_queries": sum(r.num_queries for r in results if not isinstance(r, SkippedAttackResult))
                / max(1, ok + failed),
                "perturbed": [r.perturbed_result.attacked_text.text for r in results],
                "status": [
                    "succeeded"
                    if isinstance(r, SuccessfulAttackResult)
                    else "skipped"
                    if isinstance(r, SkippedAttackResult)
                    else "failed"
                    for r in results
                ],
                "import_s": round(t_import, 2),
                "load_s": round(t_load - t_import, 2),
                "attack_s": round(t_attack - t_load, 2),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
