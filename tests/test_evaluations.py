"""Evaluations by hand: behaviour test packs (expansion, errors), MFT and DIR failure rates, calibration,
transfer sets and label matching, each checked against numbers worked out in the test."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from test_evaluation_contract import WordModel

from textrobust.data import LabeledData
from textrobust.errors import ConfigError, DataError
from textrobust.robustness import build_evaluation
from textrobust.robustness.evaluations import EvalContext
from textrobust.robustness.labels import match_labels
from textrobust.robustness.testpack import load_pack

PACK = """
name: hand
labels: [negative, positive]
lexicons: {noun: [film, plot], adj: [good, great, bad]}
tests:
  - {name: plain, capability: vocab, type: mft, expect: positive, templates: ["the {noun} was {adj}"]}
  - {name: negated, capability: negation, type: mft, expect: negative, templates: ["the {noun} was not good"]}
  - {name: praise, capability: sentiment, type: dir, label: positive, direction: not_decrease, tolerance: 0.05,
     templates: ["the {noun} was bad"], perturb: {append: ["but good"]}}
  - {name: same, capability: names, type: dir, label: positive, direction: unchanged, tolerance: 0.01,
     templates: ["the {noun} was fine"], perturb: {template: "the {noun} was fine and fun"}}
"""


def ctx(labels=("neg", "pos")) -> EvalContext:
    return EvalContext(list(labels), cache={})


@pytest.fixture
def pack_file(tmp_path):
    p = tmp_path / "pack.yaml"
    p.write_text(PACK)
    return p


def sigmoid(s: float) -> float:
    return 1 / (1 + np.exp(-s))


def test_label_matching():
    assert match_labels(["neg", "pos"], ["negative", "positive"], where="x") == {"neg": 0, "pos": 1}
    assert match_labels(["POSITIVE"], ["negative", "positive"], where="x") == {"POSITIVE": 1}
    assert match_labels(["0", "1"], ["neg", "pos"], {"0": "neg", "1": "pos"}, where="x") == {"0": 0, "1": 1}
    with pytest.raises(ConfigError, match=r"x: label '0' is not a model label .* give label_map"):
        match_labels(["0", "1"], ["neg", "pos"], where="x")
    with pytest.raises(ConfigError, match="maps '0' to 'nope'"):
        match_labels(["0"], ["neg", "pos"], {"0": "nope"}, where="x")


def test_pack_expansion_is_complete_and_sampling_is_seeded(pack_file):
    pack = load_pack(str(pack_file))
    mft = pack.expand("mft")
    assert [c.text for c in mft if c.test == "plain"] == [
        f"the {n} was {a}" for n in ("film", "plot") for a in ("good", "great", "bad")
    ]
    assert pack.capabilities("mft") == ["vocab", "negation"] and pack.capabilities("dir") == ["sentiment", "names"]
    dir_cases = pack.expand("dir")
    assert [c.perturbed for c in dir_cases if c.test == "same"] == [
        "the film was fine and fun",
        "the plot was fine and fun",
    ]
    builtin = load_pack("sentiment")
    assert len(builtin.expand("mft")) + len(builtin.expand("dir", test_texts=["x"] * 200)) >= 300
    assert len(set(builtin.capabilities("mft") + builtin.capabilities("dir"))) >= 6
    a, b = builtin.expand("mft", seed=0), builtin.expand("mft", seed=1)
    assert a == builtin.expand("mft", seed=0) and [c.text for c in a] != [c.text for c in b]


@pytest.mark.parametrize(
    "change,pattern",
    [
        (lambda s: s.replace('{adj}"]}', '{adj"]}'), r"test 'plain': malformed template"),
        (lambda s: s.replace('{adj}"]}', '{colour}"]}'), r"test 'plain': .*uses \{colour\}, which is not a lexicon"),
        (lambda s: s.replace("expect: negative", "expect: neutral"), r"test 'negated': label 'neutral' is not among"),
        (lambda s: s.replace("type: mft, expect: positive", "type: mft"), r"tests\.0: .*needs templates and expect"),
        (lambda s: s.replace("name: hand", "name: hand\ncolour: red"), r"colour: unknown key"),
        (lambda s: s + "  - [oops", "not valid YAML"),
    ],
)
def test_malformed_packs_name_the_test(pack_file, change, pattern):
    pack_file.write_text(change(PACK))
    with pytest.raises((ConfigError, DataError), match=pattern) as info:
        load_pack(str(pack_file))
    assert str(pack_file) in str(info.value) and "\n" not in str(info.value)


def test_jsonl_pack_and_its_errors(tmp_path):
    p = tmp_path / "cases.jsonl"
    p.write_text(
        '{"test": "t", "capability": "c", "type": "mft", "text": "good", "expect": "pos"}\n'
        '{"type": "dir", "text": "bad", "perturbed": "bad bad", "label": "neg", "tolerance": 0.2}\n'
    )
    pack = load_pack(str(p))
    assert [c.text for c in pack.expand("mft")] == ["good"] and pack.expand("dir")[0].tolerance == 0.2
    p.write_text('{"type": "mft", "text": "good"}\n')
    with pytest.raises(ConfigError, match=r"cases.jsonl:1: a mft case needs string field\(s\) \['expect'\]"):
        load_pack(str(p))
    p.write_text("{oops\n")
    with pytest.raises(DataError, match="cases.jsonl: line 1 is not valid JSON"):
        load_pack(str(p))


def test_mft_failure_rates_by_hand(pack_file):
    ev = build_evaluation({"kind": "mft", "pack": str(pack_file)})
    res = ev.run(WordModel(), None, ctx())
    scores = {(s.evaluation, s.metric): s.value for s in res.scores}
    # Word model: score = 0.2 + good/great 2, bad -2, not -1. "the X was bad" -> neg: 2 of 6 'plain' cases fail
    # (expected positive); "the X was not good" = 0.2 - 1 + 2 > 0 -> pos: both 'negated' cases fail.
    assert scores[("mft:vocab", "failure_rate")] == pytest.approx(2 / 6)
    assert scores[("mft:negation", "failure_rate")] == pytest.approx(1.0)
    assert scores[("mft", "failure_rate")] == pytest.approx(4 / 8) and scores[("mft", "n")] == 8
    failed = [r["text"] for r in res.records if r["model_failed"]]
    assert sorted(failed) == ["the film was bad", "the film was not good", "the plot was bad", "the plot was not good"]


def test_dir_failure_rates_by_hand(pack_file):
    ev = build_evaluation({"kind": "dir", "pack": str(pack_file)})
    res = ev.run(WordModel(), LabeledData(["x"], [0], ["neg", "pos"]), ctx())
    scores = {(s.evaluation, s.metric): s.value for s in res.scores}
    # praise: P(pos) goes from sigmoid(0.2 - 2) to sigmoid(0.2 - 2 + 2): up, never a failure.
    # same: "fine" = +1, "fine and fun" = +2: P(pos) rises by sigmoid(2.2) - sigmoid(1.2) > 0.01: both fail.
    assert sigmoid(2.2) - sigmoid(1.2) > 0.01
    assert scores[("dir:sentiment", "failure_rate")] == 0.0 and scores[("dir:names", "failure_rate")] == 1.0
    assert scores[("dir", "failure_rate")] == pytest.approx(0.5)
    rec = next(r for r in res.records if r["model_failed"])
    assert rec["info"]["delta"] == pytest.approx(sigmoid(2.2) - sigmoid(1.2), abs=1e-4)


def test_pack_labels_the_model_lacks_fail_in_check(pack_file):
    ev = build_evaluation({"kind": "mft", "pack": str(pack_file)})
    with pytest.raises(
        ConfigError,
        match=r"evaluation 'mft' \(test pack .*pack.yaml\): label 'negative' is not a "
        r"model label",
    ):
        ev.check(ctx(labels=("0", "1")))
    ev = build_evaluation({"kind": "mft", "pack": str(pack_file), "label_map": {"negative": "0", "positive": "1"}})
    ev.check(ctx(labels=("0", "1")))


class FixedModel:
    labels = ["a", "b"]

    def __init__(self, probs: dict[str, list[float]]) -> None:
        self.probs = probs

    def predict_proba(self, texts):
        return np.asarray([self.probs.get(t, [0.5, 0.5]) for t in texts])


def test_calibration_by_hand():
    model = FixedModel({"t1": [0.9, 0.1], "t2": [0.8, 0.2], "t3": [0.3, 0.7], "t4": [0.4, 0.6]})
    test = LabeledData(["t1", "t2", "t3", "t4"], [0, 1, 1, 1], ["a", "b"])
    res = build_evaluation({"kind": "calibration", "bins": 5}).run(model, test, ctx(("a", "b")))
    scores = {(s.evaluation, s.metric): s.value for s in res.scores}
    # Bins of width 0.2: (.4,.6] {.6 right}, (.6,.8] {.7 right, .8 wrong}, (.8,1] {.9 right}.
    assert scores[("calibration:clean", "ece")] == pytest.approx(0.25 * 0.4 + 0.5 * 0.25 + 0.25 * 0.1)
    brier = [0.01 + 0.01, 0.64 + 0.64, 0.09 + 0.09, 0.16 + 0.16]
    assert scores[("calibration:clean", "brier")] == pytest.approx(np.mean(brier))


def test_transfer_sets_and_their_errors(tmp_path):
    pd.DataFrame({"text": ["good", "bad", "great"], "label": [1, 0, 1]}).to_csv(tmp_path / "ints.csv", index=False)
    ev = build_evaluation({"kind": "transfer", "sets": {"ints": {"path": str(tmp_path / "ints.csv")}}})
    with pytest.raises(ConfigError, match=r"set 'ints'.*label '0' is not a model label"):
        ev.check(ctx())
    ev = build_evaluation(
        {"kind": "transfer", "sets": {"ints": {"path": str(tmp_path / "ints.csv"), "label_names": ["neg", "pos"]}}}
    )
    ev.check(ctx())
    res = ev.run(WordModel(), None, ctx())
    assert {(s.evaluation, s.metric): s.value for s in res.scores} == {
        ("transfer:ints", "accuracy"): 1.0,
        ("transfer:ints", "n"): 3,
    }
    missing = build_evaluation({"kind": "transfer", "sets": {"x": {"path": str(tmp_path / "nope.csv")}}})
    with pytest.raises(DataError, match="nope.csv: file not found"):
        missing.check(ctx())
    (tmp_path / "adv.jsonl").write_text(json.dumps({"text": "x", "label": 1, "failed": False}) + "\n")
    empty = build_evaluation(
        {"kind": "transfer", "sets": {"adv": {"path": str(tmp_path / "adv.jsonl"), "format": "attack"}}}
    )
    with pytest.raises(DataError, match="holds no successful attacks"):
        empty.check(ctx())
    (tmp_path / "old.jsonl").write_text(json.dumps({"perturbed_text": "x", "label": 1, "status": "failed"}) + "\n")
    old = build_evaluation(
        {"kind": "transfer", "sets": {"adv": {"path": str(tmp_path / "old.jsonl"), "format": "attack"}}}
    )
    with pytest.raises(DataError, match=r"flat attack results \(textrobust 0.1\); write them again"):
        old.check(ctx())


def test_transfer_reads_attack_files_in_the_record_schema(tmp_path):
    """``textrobust attack -o`` writes per-example records; a transfer set keeps the successful attacks' texts."""
    from textrobust.adversarial import AttackResult

    results = [
        AttackResult(0, "a good film", "a g00d film", 1, 1, 0, [0.1, 0.9], [0.6, 0.4], [1], 3, 7, "succeeded"),
        AttackResult(1, "bad plot", "bad plot", 0, 0, 0, [0.9, 0.1], [0.9, 0.1], [], 2, 5, "failed"),
    ]
    (tmp_path / "adv.jsonl").write_text("".join(json.dumps(r.to_record(["neg", "pos"])) + "\n" for r in results))
    ev = build_evaluation(
        {"kind": "transfer", "sets": {"adv": {"path": str(tmp_path / "adv.jsonl"), "format": "attack"}}}
    )
    ev.check(ctx())
    res = ev.run(WordModel(), None, ctx())
    assert [r["text"] for r in res.records] == ["a g00d film"] and res.records[0]["label"] == "pos"
