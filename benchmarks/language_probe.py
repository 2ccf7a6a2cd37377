"""The language probe (issue 27): real sentences in Chinese, French and Portuguese through every registered
operator and attack recipe. Each (part, language) must either refuse in one line (an unsupported language, a
missing model or resource) or run; when it runs, every text must get a variant, or a stated reason why nothing in
that text can change (``Operator.inapplicable``: "no punctuation to convert"). A text that comes back with neither
is a silent no-op — what nlpaug does with Chinese — and the probe counts them.

Recipes are probed the same way without querying a model: after the language check, the recipe's transformation
must propose at least one candidate edit for every text (an English neighbour list on French words would propose
none: a silent no-op).

Texts: ChnSentiCorp test+dev reviews (zh), UMSAB test+train tweets (fr, pt); the first ``--n`` of each (default
1,000). Writes a JSON table and prints one row per (part, language).

    OMP_NUM_THREADS=1 python benchmarks/language_probe.py --n 1000 -o runs/language_probe.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a model that is not on disk fails at once instead of retrying
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import environment  # noqa: E402
from _zh_data import chnsenticorp, umsab  # noqa: E402

from textrobust.augment import OneOf, Sequential, SomeOf, Sometimes, parse_op, registered  # noqa: E402
from textrobust.errors import TextRobustError  # noqa: E402

#: Operators that run a neural model per text (``--model-n`` bounds their texts on a slow machine).
MODEL_BACKED = {"generate", "paraphrase", "backtranslate", "contextual"}


def operators(generate_model: str) -> dict[str, Any]:
    """One configuration per registered operator (model-backed ones with the models that exist offline)."""
    return {
        "char": parse_op("char:kind=random_swap"),
        "synonym": parse_op("synonym:source=cilin"),
        "eda": parse_op("eda:alpha_sr=0,alpha_ri=0"),
        "nlpaug": parse_op("nlpaug:augmenter=nlpaug.augmenter.char.RandomCharAug"),
        "contextual": parse_op("contextual:model=bert-base-multilingual-cased"),  # not offline: refuses
        "backtranslate": parse_op("backtranslate:engine=bergamot,source_lang=pt,via=en"),
        "generate": parse_op(f"generate:model={generate_model},max_new_tokens=16"),
        "paraphrase": parse_op(f"paraphrase:model={generate_model}"),
        "sequential": Sequential([parse_op("char:kind=random_delete"), parse_op("punct_width")]),
        "one_of": OneOf([parse_op("char:kind=random_insert"), parse_op("char:kind=random_substitute")]),
        "some_of": SomeOf([parse_op("char:kind=random_swap"), parse_op("char:kind=random_delete")], n=1),
        "sometimes": Sometimes(parse_op("char:kind=random_swap"), p=1.0),
        "zh_char": parse_op("zh_char:kind=homophone"),
        "zh_script": parse_op("zh_script"),
        "punct_width": parse_op("punct_width"),
    }


def probe_operator(op: Any, texts: list[str], code: str) -> dict[str, Any]:
    start = time.perf_counter()
    try:
        op.check_extras()
        out = op(texts, seed=0, n=1, lang=code)
    except TextRobustError as exc:
        return {"status": "refused", "message": str(exc), "seconds": round(time.perf_counter() - start, 2)}
    changed = sum(1 for t, vs in zip(texts, out, strict=True) if vs and vs[0] != t)
    reasons: dict[str, int] = {}
    silent = []
    for t, vs in zip(texts, out, strict=True):
        if vs:
            continue
        why = op.inapplicable(t)
        if why is None:
            silent.append(t)
        else:
            reasons[why] = reasons.get(why, 0) + 1
    return {
        "status": "ran",
        "changed": changed,
        "not_applicable": reasons,
        "silent": len(silent),
        "silent_examples": silent[:3],
        "seconds": round(time.perf_counter() - start, 2),
    }


class Stub:
    """A victim for building attacks (the probe never queries it)."""

    labels: ClassVar[list[str]] = ["negative", "positive"]
    supports_gradients = False

    def predict_proba(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        return np.full((len(texts), 2), 0.5)


def probe_recipe(name: str, texts: list[str], code: str, resources: dict[str, Any]) -> dict[str, Any]:
    from textrobust.adversarial import RECIPES, build_attack
    from textrobust.adversarial.recipes import RECIPE_LANGUAGES
    from textrobust.adversarial.text import AttackText
    from textrobust.lang import check_supported

    start = time.perf_counter()
    try:
        check_supported(f"recipe {name}", code, RECIPE_LANGUAGES[name])
        needed = {k: resources[k] for k in RECIPES[name].resources if k in resources}
        missing = [k for k in RECIPES[name].resources if k not in resources]
        if missing:
            from textrobust.adversarial.resources import missing as missing_error

            raise missing_error(name, missing[0])
        attack = build_attack(name, Stub(), **needed)
    except TextRobustError as exc:
        return {"status": "refused", "message": str(exc), "seconds": round(time.perf_counter() - start, 2)}
    rng = np.random.default_rng(0)
    silent = []
    no_units = 0
    for t in texts:
        at = AttackText.from_text(t, attack.segmenter)
        gen = attack.candidates(at, at, None, rng, check=False)
        try:
            while True:
                next(gen)  # rule-based transformations never yield a backend call
        except StopIteration as stop:
            cands = stop.value
        if not cands:
            if not attack.modifiable_indices(at, at):
                no_units += 1  # nothing but stopwords / no words: the attack reports it skipped no unit
            else:
                silent.append(t)
    return {
        "status": "ran",
        "with_candidates": len(texts) - len(silent) - no_units,
        "no_editable_unit": no_units,
        "silent": len(silent),
        "silent_examples": silent[:3],
        "seconds": round(time.perf_counter() - start, 2),
    }


def texts_for(code: str, n: int) -> list[str]:
    if code == "zh":
        _, dev, test, _ = chnsenticorp()
        return (test.texts + dev.texts)[:n]
    return (umsab(code, "test").texts + umsab(code, "train").texts)[:n]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--langs", default="zh,fr,pt")
    ap.add_argument("--generate-model", default="smollm2", help="causal LM for generate/paraphrase")
    ap.add_argument(
        "--model-n",
        type=int,
        default=None,
        help="texts per language for the model-backed operators (generate, paraphrase, backtranslate, "
        "contextual); default --n. A CPU shared with other jobs runs SmolLM2 on a few hundred texts, not 1,000",
    )
    ap.add_argument("--only", default="", help="probe only these parts (comma-separated operator/recipe names)")
    ap.add_argument("-o", "--output", type=Path, default=Path("runs/language_probe.json"))
    args = ap.parse_args()
    from textrobust.adversarial import RECIPES, load_resources

    ops = operators(args.generate_model)
    assert set(ops) == set(registered()), "add the new operator to the probe"
    resources = load_resources(["neighbours", "encoder", "stopwords"])
    resources["lexicon"] = resources["neighbours"]  # the OEWN / WordNet stand-in: English either way
    rows = []
    only = {x.strip() for x in args.only.split(",") if x.strip()}
    for code in args.langs.split(","):
        texts = texts_for(code, args.n)
        for name, op in ops.items():
            if only and name not in only:
                continue
            some = texts[: args.model_n] if name in MODEL_BACKED and args.model_n else texts
            row = {"part": f"operator {name}", "lang": code, "n": len(some), **probe_operator(op, some, code)}
            rows.append(row)
            print(json.dumps({k: v for k, v in row.items() if k not in ("silent_examples",)}, ensure_ascii=False))
        for name in sorted(RECIPES):
            if only and name not in only:
                continue
            row = {
                "part": f"recipe {name}",
                "lang": code,
                "n": len(texts),
                **probe_recipe(name, texts, code, resources),
            }
            rows.append(row)
            print(json.dumps({k: v for k, v in row.items() if k not in ("silent_examples",)}, ensure_ascii=False))
    silent = sum(r.get("silent", 0) for r in rows)
    out = {
        "environment": environment("cpu"),
        "n": args.n,
        "model_n": args.model_n or args.n,
        "rows": rows,
        "silent_total": silent,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(out, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"silent no-ops: {silent} (parts x languages: {len(rows)})")


if __name__ == "__main__":
    main()
