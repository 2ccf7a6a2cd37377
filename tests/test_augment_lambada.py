"""LAMBADA fine-tune-and-generate and few-shot generation with a tiny GPT-2 built from a config (no hub).

The tiny model writes gibberish; the tests check the contract: labels from the declared set, at most n_per_label
per label, seeded determinism, that fine-tuning lowers the LM loss, the classifier selection and the errors.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import CPU, tiny_corpus

from textrobust.augment import Length, fewshot_generate, finetune_causal_lm, lambada_generate
from textrobust.augment.lambada import format_lines, lm_loss
from textrobust.data import LabeledData
from textrobust.errors import ConfigError, ModelError

NAMES = ["negative", "positive"]


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """Tiny models: one intra-op thread avoids oversubscription stalls when CI shares the cores."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def train() -> LabeledData:
    rows = tiny_corpus()[::5]  # 96 rows, both labels
    return LabeledData([t for t, _ in rows], [y for _, y in rows], NAMES, "tiny")


@pytest.fixture(scope="module")
def tuned(gpt_dir, train):
    return finetune_causal_lm(
        train.texts,
        train.labels,
        NAMES,
        gpt_dir,
        epochs=3,
        lr=1e-2,
        batch_size=16,
        seed=0,
        runtime=CPU,
        progress=False,
    )


class FakeClassifier:
    """'positive' iff the text has an even number of words, with confidence 0.9."""

    labels = NAMES

    def predict_proba(self, texts):
        pos = np.array([len(t.split()) % 2 == 0 for t in texts], dtype=float)
        p = 0.1 + 0.8 * pos
        return np.stack([1 - p, p], axis=1)


def _check_output(out: LabeledData, n: int, train: LabeledData) -> None:
    assert out.label_names == NAMES
    assert set(out.labels) <= {0, 1}
    assert all(out.labels.count(y) <= n for y in (0, 1))
    assert all(t.strip() and t == " ".join(t.split()) for t in out.texts)
    seen = {" ".join(t.lower().split()) for t in train.texts}
    assert not any(" ".join(t.lower().split()) in seen for t in out.texts)


def test_finetuning_lowers_the_lm_loss(gpt_dir, train, tuned) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    lines = format_lines(train.texts, train.labels, NAMES)
    assert lines[0].startswith(NAMES[train.labels[0]] + " [SEP] ")
    base = lm_loss(AutoModelForCausalLM.from_pretrained(gpt_dir), AutoTokenizer.from_pretrained(gpt_dir), lines)
    after = lm_loss(*tuned, lines)
    assert after < base - 1.0, (base, after)


def test_lambada_contract_and_determinism(train, tuned) -> None:
    kw = {"model": tuned, "n_per_label": 6, "finetune": False, "max_new_tokens": 12, "runtime": CPU, "batch_size": 8}
    out = lambada_generate(train, seed=1, **kw)
    _check_output(out, 6, train)
    assert len(out) > 0 and out.name == "tiny-lambada"
    assert lambada_generate(train, seed=1, **{**kw, "batch_size": 5}).texts == out.texts  # batch-independent
    assert lambada_generate(train, seed=2, **kw).texts != out.texts
    short = lambada_generate(train, seed=1, filters=[Length(max_words=4)], **kw)
    assert all(len(t.split()) <= 4 for t in short.texts)


def test_lambada_finetunes_from_a_path_deterministically(gpt_dir, train) -> None:
    small = train.subset(range(0, len(train), 3))
    kw = {"model": gpt_dir, "n_per_label": 3, "epochs": 1, "lr": 3e-3, "max_new_tokens": 8, "runtime": CPU}
    a = lambada_generate(small, seed=0, **kw)
    _check_output(a, 3, small)
    assert lambada_generate(small, seed=0, **kw) == a


def test_classifier_filter_keeps_agreeing_rows(train, tuned) -> None:
    clf = FakeClassifier()
    out = lambada_generate(
        train,
        model=tuned,
        n_per_label=5,
        finetune=False,
        max_new_tokens=10,
        runtime=CPU,
        oversample=4,
        classifier=clf,
        min_confidence=0.6,
        seed=3,
    )
    _check_output(out, 5, train)
    assert len(out) > 0
    probs = clf.predict_proba(out.texts)
    assert all(probs[i, y] >= 0.6 and probs[i].argmax() == y for i, y in enumerate(out.labels))
    # a classifier that is never confident enough leaves nothing
    none = lambada_generate(
        train,
        model=tuned,
        n_per_label=5,
        finetune=False,
        max_new_tokens=10,
        runtime=CPU,
        classifier=clf,
        min_confidence=0.95,
        seed=3,
    )
    assert len(none) == 0 and none.label_names == NAMES


def test_fewshot_contract_and_determinism(train, tuned) -> None:
    kw = {"model": tuned, "n_per_label": 4, "k_shots": 2, "max_new_tokens": 8, "runtime": CPU}
    out = fewshot_generate(train, seed=0, **kw)
    _check_output(out, 4, train)
    assert fewshot_generate(train, seed=0, **kw) == out
    assert fewshot_generate(train, seed=1, **kw).texts != out.texts
    with pytest.raises(ConfigError, match="template"):
        fewshot_generate(train, seed=0, template="no placeholders", **kw)


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda d, m: lambada_generate(d, model=m, n_per_label=0), ConfigError, "n_per_label=0"),
        (lambda d, m: fewshot_generate(d, model=m, n_per_label=-1), ConfigError, "n_per_label=-1"),
        (lambda d, m: lambada_generate(d, model=m, n_per_label=1, top_p=0), ConfigError, "top_p"),
        (lambda d, m: lambada_generate(d, model=m, n_per_label=1, min_confidence=0.5), ConfigError, "classifier"),
        (lambda d, m: finetune_causal_lm(d.texts, [5] * len(d), NAMES, m), ConfigError, "label index 5"),
        (lambda d, m: finetune_causal_lm(d.texts, d.labels, NAMES, m, epochs=0), ConfigError, "epochs=0"),
    ],
)
def test_bad_parameters_are_config_errors(train, gpt_dir, call, exc, match) -> None:
    with pytest.raises(exc, match=match) as info:
        call(train, gpt_dir)
    assert "\n" not in str(info.value)


def test_unknown_model_is_a_model_error(tmp_path, train) -> None:
    missing = str(tmp_path / "nope")
    for call in (
        lambda: finetune_causal_lm(train.texts, train.labels, NAMES, missing, runtime=CPU),
        lambda: lambada_generate(train, model=missing, n_per_label=2, runtime=CPU),
        lambda: fewshot_generate(train, model=missing, n_per_label=2, runtime=CPU),
    ):
        with pytest.raises(ModelError, match="no such causal LM folder") as info:
            call()
        assert "\n" not in str(info.value)


def test_saved_finetuned_model_round_trips(tmp_path: Path, train, tuned) -> None:
    lm, tok = tuned
    lm.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    kw = {"n_per_label": 3, "finetune": False, "max_new_tokens": 8, "runtime": CPU, "seed": 4}
    assert lambada_generate(train, model=str(tmp_path), **kw) == lambada_generate(train, model=tuned, **kw)
