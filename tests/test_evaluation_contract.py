"""One contract for every registered evaluation (like the operator contract): each runs on tiny models and must
declare metadata for exactly the metrics it emits, keep bounded values in range, give outcomes whose mean is the
value, write records in the report's shape, and give the same numbers twice. A new evaluation without a case here
fails ``test_every_registered_evaluation_has_a_case``."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from conftest import CPU, TINY_PROMPT, tiny_corpus

from textrobust.data import LabeledData
from textrobust.errors import ConfigError
from textrobust.robustness import EVALUATIONS, build_evaluation
from textrobust.robustness.evaluations import EvalContext
from textrobust.robustness.unit import CachedModel

UNITS = {"share", "percent", "count", "seconds", "score"}
ROLES = {"clean", "robustness", "cost", "calibration", "info"}
RECORD_KEYS = {
    "evaluation",
    "item",
    "model_failed",
    "original",
    "text",
    "label",
    "pred_original",
    "pred",
    "conf_original",
    "conf",
    "info",
}


class WordModel:
    """A keyword classifier as a batch function (CheckList's model interface): no weights, deterministic."""

    labels = ["neg", "pos"]
    POS = {
        "good": 2.0,
        "great": 2.0,
        "lovely": 1.5,
        "fine": 1.0,
        "superb": 2.0,
        "fun": 1.0,
        "charming": 1.0,
        "brilliant": 2.0,
        "excellent": 2.0,
        "wonderful": 2.0,
        "amazing": 2.0,
        "loved": 2.0,
    }
    NEG = {
        "bad": -2.0,
        "awful": -2.0,
        "boring": -1.5,
        "dull": -1.0,
        "poor": -1.5,
        "weak": -1.0,
        "terrible": -2.0,
        "messy": -1.0,
        "not": -1.0,
        "hated": -2.0,
    }

    def predict_proba(self, texts, batch_size=None):
        out = []
        for t in texts:
            words = t.lower().replace(".", " ").replace(",", " ").replace("!", " ").split()
            s = 0.2 + sum(self.POS.get(w, 0.0) + self.NEG.get(w, 0.0) for w in words)
            p = 1.0 / (1.0 + math.exp(-s))
            out.append([1.0 - p, p])
        return np.asarray(out, dtype=np.float32)


@pytest.fixture(scope="module")
def test_data():
    rows = tiny_corpus()[::8]
    return LabeledData([t for t, _ in rows], [y for _, y in rows], ["neg", "pos"])


@pytest.fixture(scope="module")
def transfer_files(tmp_path_factory, tiny_model_dir):
    from textrobust.models import TextClassifier

    d = tmp_path_factory.mktemp("transfer")
    # A validity judge for the attack case: a classifier with the task's labels (its weights do not matter here).
    TextClassifier(tiny_model_dir, labels=["neg", "pos"], max_length=16, runtime=CPU).save(d / "judge")
    pd.DataFrame(
        {
            "text": ["a good film", "an awful plot", "great cast", "dull and poor"],
            "label": ["positive", "negative", "positive", "negative"],
        }
    ).to_csv(d / "reviews.csv", index=False)
    rows = [  # the record schema of 'textrobust attack -o' (model_failed: the attack succeeded against its model)
        {"text": "a goood film", "label": "pos", "model_failed": True},
        {"text": "an awfull plot", "label": "neg", "model_failed": True},
        {"text": "skipped", "label": "neg", "model_failed": False},
    ]
    (d / "attack.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    pd.DataFrame(  # a text and its translation (cross-lingual consistency from a paired file)
        {
            "text": ["a good film", "an awful plot", "the music was great"],
            "paired_text": ["um good filme", "um enredo awful", "a música foi great"],
        }
    ).to_csv(d / "pairs.csv", index=False)
    return d


def cases(files) -> dict[str, dict]:
    return {
        "clean": {"kind": "clean"},
        "inv": {"kind": "inv", "suites": ["case", "typo", "punctuation"]},
        "mft": {"kind": "mft"},
        "dir": {"kind": "dir", "n_test": 20},
        "attack": {
            "kind": "attack",
            "recipe": "deepwordbug",
            "n": 6,
            "judge": {"kind": "classifier", "path": str(files / "judge")},
            "quality": ["modification", "edits"],
        },
        "transfer": {
            "kind": "transfer",
            "sets": {
                "reviews": {"path": str(files / "reviews.csv")},
                "adv": {"path": str(files / "attack.jsonl"), "format": "attack", "label_names": ["neg", "pos"]},
            },
        },
        "calibration": {"kind": "calibration", "suites": ["typo"]},
        "format_spread": {"kind": "format_spread", "k": 4, "seed": 1},
        "crosslingual": {"kind": "crosslingual", "path": str(files / "pairs.csv")},
    }


def test_every_registered_evaluation_has_a_case(tmp_path):
    assert set(cases(tmp_path)) == set(EVALUATIONS), "add a contract case for every registered evaluation"


@pytest.fixture(scope="module", params=["keyword", "tiny_bert", "tiny_llm"])
def model(request, tiny_model_dir, tiny_llama_dir):
    if request.param == "keyword":
        return WordModel()
    if request.param == "tiny_llm":  # a prompted causal LM: every evaluation runs on it unchanged
        from textrobust.models.prompted import PromptedClassifier

        return PromptedClassifier(tiny_llama_dir, labels=["neg", "pos"], prompt=TINY_PROMPT, runtime=CPU)
    from textrobust.models import TextClassifier

    return TextClassifier(tiny_model_dir, labels=["neg", "pos"], max_length=32, runtime=CPU)


@pytest.mark.parametrize("kind", list(EVALUATIONS))
def test_evaluation_contract(kind, model, test_data, transfer_files):
    ev = build_evaluation(cases(transfer_files)[kind])
    assert ev.kind == kind and isinstance(ev.name, str) and ev.name
    if kind == "format_spread" and not hasattr(model, "prompt_format"):
        with pytest.raises(ConfigError, match="varies the prompt of a prompted model"):
            ev.check_model(model, EvalContext(list(model.labels), CPU))
        return
    json.dumps(ev.fingerprint())  # fingerprints must be serialisable
    infos = ev.metrics(model.labels)
    keys = [(m.evaluation, m.metric) for m in infos]
    assert len(keys) == len(set(keys)), "a metric declared twice"
    assert sum(m.headline for m in infos) >= 1, "every evaluation needs a headline metric"
    for m in infos:
        assert m.unit in UNITS and m.role in ROLES and m.kind == kind and m.group == ev.name and m.label
        lo, hi = m.range
        assert lo is None or hi is None or lo < hi
        if m.headline and m.role in ("robustness", "clean", "calibration"):
            assert m.higher_is_better is not None, f"{m.key}: a judged headline metric needs a direction"

    def run():
        ctx = EvalContext(list(model.labels), CPU, resources=dict, cache={}, raw_model=model)
        ev.check(ctx)
        return ev.run(CachedModel(model), test_data, ctx)

    res = run()
    emitted = {(s.evaluation, s.metric): s for s in res.scores}
    assert set(emitted) == set(keys), "emitted metrics must be exactly the declared ones"
    by_key = {(m.evaluation, m.metric): m for m in infos}
    for key, s in emitted.items():
        m = by_key[key]
        if not math.isnan(s.value):
            lo, hi = m.range
            assert (lo is None or s.value >= lo - 1e-9) and (hi is None or s.value <= hi + 1e-9), (key, s.value)
        if s.outcomes is not None:
            assert s.items is not None and len(s.items) == len(s.outcomes) == len(set(s.items))
            x = np.asarray(s.outcomes, dtype=float)
            assert (np.isnan(s.value) and not np.isfinite(x).any()) or s.value == pytest.approx(np.nanmean(x))
    names = {m.evaluation for m in infos}
    for r in res.records:
        # the shared record schema (textrobust.data.records), plus at most one key named after the kind
        assert RECORD_KEYS <= set(r) <= RECORD_KEYS | {ev.kind} and r["evaluation"] in names
        assert isinstance(r["model_failed"], bool)
        assert isinstance(r["text"], str) and isinstance(r["pred"], str) and isinstance(r["info"], dict)
    json.dumps(res.records)  # records go to JSONL as they are
    again = run()  # the same model and data give the same numbers (timings excepted)
    timing = {(m.evaluation, m.metric) for m in infos if m.timing}
    for a, b in zip(res.scores, again.scores, strict=True):
        if (a.evaluation, a.metric) not in timing:
            assert a.value == pytest.approx(b.value, nan_ok=True), (a.evaluation, a.metric)
