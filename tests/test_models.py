"""TextClassifier with a tiny BERT built from a config: inference order, padding, training, clone, save/load."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import CPU, tiny_corpus

from textrobust.data import LabeledData
from textrobust.errors import ConfigError, ModelError
from textrobust.models import Runtime, TextClassifier, TrainConfig, classification_metrics, confusion_matrix, evaluate
from textrobust.models.finetune import length_grouped_batches

LABELS = ["neg", "pos"]


@pytest.fixture(scope="module")
def corpus() -> LabeledData:
    rows = tiny_corpus()
    return LabeledData([t for t, _ in rows], [y for _, y in rows], LABELS)


def make(tiny_model_dir, **kw) -> TextClassifier:
    kw.setdefault("train_config", TrainConfig(epochs=3, lr=3e-3, batch_size=16, warmup_ratio=0.0))
    kw.setdefault("runtime", CPU)
    return TextClassifier(tiny_model_dir, labels=LABELS, max_length=32, **kw)


def test_predict_proba_shape_order_and_batch_independence(tiny_model_dir):
    clf = make(tiny_model_dir)
    texts = ["a", "the film was good and the cast was great and more", "", "dull plot", "x " * 100]
    p = clf.predict_proba(texts, batch_size=2)
    assert p.shape == (5, 2) and np.allclose(p.sum(1), 1, atol=1e-5)
    one_by_one = np.vstack([clf.predict_proba([t]) for t in texts])
    np.testing.assert_allclose(p, one_by_one, atol=1e-5)  # order restored, padding does not change outputs
    assert clf.predict_proba([]).shape == (0, 2)
    with pytest.raises(ConfigError, match="list of texts"):
        clf.predict_proba("a single string")


def test_cpu_bf16_inference_is_opt_in_and_close_to_fp32(tiny_model_dir):
    import torch

    clf = make(tiny_model_dir)
    texts = ["the film was good", "dull plot", "a great cast and a fine story"]
    fp32 = clf.predict_proba(texts)
    with clf.runtime.autocast():
        assert not torch.is_autocast_enabled("cpu")  # precision auto on the CPU: exact fp32
    fast = clf.with_runtime(CPU.replace(precision="bf16"))
    assert fast.model is clf.model and clf.runtime == CPU  # a view: same weights, nothing mutated
    with fast.runtime.autocast():
        assert torch.get_autocast_dtype("cpu") == torch.bfloat16 and torch.is_autocast_enabled("cpu")
    with fast.runtime.autocast(training=True):
        assert not torch.is_autocast_enabled("cpu")  # training stays fp32 on CPU
    np.testing.assert_allclose(fast.predict_proba(texts), fp32, atol=0.05)


def test_batches_are_padded_to_their_own_longest(tiny_model_dir):
    clf = make(tiny_model_dir)
    batch = clf.pad([[1, 2], [1, 2, 3, 4]])
    assert batch["input_ids"].shape == (2, 8)  # the longest (4), rounded up to a multiple of 8
    assert batch["attention_mask"].tolist() == [[1, 1, 0, 0, 0, 0, 0, 0], [1, 1, 1, 1, 0, 0, 0, 0]]
    assert clf.pad([[1] * 30])["input_ids"].shape == (1, 32)
    assert clf.pad([[1] * 32])["input_ids"].shape == (1, 32)  # never past max_length
    assert len(clf.encode(["word " * 500])[0]) == 32  # truncated to max_length


def test_length_grouped_batches_cover_everything_once():
    lengths = np.random.default_rng(0).integers(1, 50, size=1000)
    batches = length_grouped_batches(lengths, 8, np.random.default_rng(1))
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(1000))
    spread = np.mean([lengths[b].max() - lengths[b].min() for b in batches])
    assert spread < 5  # grouped: far less than the ~33 of random batches


def test_fit_learns_and_is_deterministic(tiny_model_dir, corpus):
    train, test = corpus.split(0.25, seed=0)
    a = make(tiny_model_dir).fit(train, progress=False)
    acc = evaluate(a, test)["accuracy"]
    assert acc >= 0.9, acc
    b = make(tiny_model_dir).fit(train, progress=False)
    np.testing.assert_allclose(a.predict_proba(test.texts), b.predict_proba(test.texts), atol=1e-6)
    c = make(tiny_model_dir, train_config=TrainConfig(epochs=3, lr=3e-3, batch_size=16, seed=1)).fit(
        train, progress=False
    )
    assert not np.allclose(a.predict_proba(test.texts), c.predict_proba(test.texts))


def test_clone_starts_from_the_same_weights(tiny_model_dir, corpus):
    clf = make(tiny_model_dir, seed=7)
    before = clf.predict_proba(corpus.texts[:5])
    clf.fit(corpus, progress=False)
    fresh = clf.clone()
    assert not fresh.fitted
    np.testing.assert_allclose(fresh.predict_proba(corpus.texts[:5]), before, atol=1e-6)
    other = make(tiny_model_dir, seed=8)
    assert not np.allclose(other.predict_proba(corpus.texts[:5]), before)


def test_save_load_round_trip(tiny_model_dir, corpus, tmp_path):
    clf = make(tiny_model_dir).fit(corpus, progress=False)
    out = clf.save(tmp_path / "model")
    assert (out / "model.safetensors").exists() and (out / "textrobust.json").exists()
    back = TextClassifier.load(out, runtime=CPU)
    assert back.labels == LABELS and back.max_length == 32 and back.fitted
    assert back.train_config == clf.train_config
    np.testing.assert_allclose(back.predict_proba(corpus.texts[:20]), clf.predict_proba(corpus.texts[:20]), atol=1e-6)


def test_from_config_trains_from_scratch(tiny_tokenizer_dir, tiny_bert_config, corpus):
    clf = TextClassifier(
        labels=LABELS,
        config=tiny_bert_config,
        tokenizer_source=tiny_tokenizer_dir,
        runtime=CPU,
        max_length=32,
        train_config=TrainConfig(epochs=3, lr=3e-3, batch_size=16),
    )
    clf.fit(corpus, progress=False)
    assert evaluate(clf, corpus)["accuracy"] > 0.9
    np.testing.assert_allclose(clf.clone().predict_proba(["x"]), clf.clone().predict_proba(["x"]))


def test_early_stopping_and_epoch_callback(tiny_model_dir, corpus):
    seen = []

    def callback(model, epoch, texts, labels):
        seen.append((epoch, len(texts)))
        return ["an extra good example"], [1]

    cfg = TrainConfig(epochs=3, lr=3e-3, batch_size=16, early_stopping_patience=1)
    make(tiny_model_dir, train_config=cfg).fit(corpus, corpus, epoch_callback=callback, progress=False)
    assert seen and seen[0] == (1, len(corpus))
    with pytest.raises(ConfigError, match="needs an eval split"):
        make(tiny_model_dir, train_config=cfg).fit(corpus, progress=False)


def test_errors(tiny_model_dir, corpus, tmp_path):
    with pytest.raises(ConfigError, match="labels"):
        TextClassifier(tiny_model_dir, labels=["only"])
    with pytest.raises(ConfigError, match="epochs"):
        TrainConfig(epochs=0)
    wrong = LabeledData(corpus.texts, corpus.labels, ["a", "b"])
    with pytest.raises(ConfigError, match="differ from the model's labels"):
        make(tiny_model_dir).fit(wrong, progress=False)
    with pytest.raises(ModelError, match="not a textrobust model directory"):
        TextClassifier.load(tmp_path)
    with pytest.raises(ModelError, match="hub"):
        _ = TextClassifier("no-such-org/no-such-model", labels=LABELS, runtime=CPU).model


def _non_default_params(tiny_model_dir) -> dict:
    """A value other than the default for every constructor parameter that textrobust.json keeps."""
    return {
        "source": str(tiny_model_dir),
        "labels": ["bad", "good", "meh"],
        "config": None,
        "tokenizer_source": None,
        "max_length": 24,
        "batch_size": 7,
        "seed": 11,
        "train_config": TrainConfig(epochs=2, lr=1e-3, batch_size=8, warmup_ratio=0.2, seed=3),
        "trust_remote_code": True,
        "runtime": Runtime(device="cpu", precision="bf16", max_tokens=1024, threads=1, max_length=48),
    }


def test_every_parameter_survives_clone_save_and_load(tiny_model_dir, tmp_path):
    params = _non_default_params(tiny_model_dir)
    assert sorted(params) == sorted(TextClassifier.param_names())  # a new parameter must be added here
    defaults = TextClassifier(tiny_model_dir, labels=LABELS).get_params()
    changed = [k for k in params if k not in TextClassifier.SAVED_AS_FILES and k != "labels"]
    assert all(params[k] != defaults[k] for k in changed)  # each value differs from its default
    clf = TextClassifier(**params)
    assert clf.get_params() == params
    assert clf.clone().get_params() == params
    clf.save(tmp_path / "m")
    back = TextClassifier.load(tmp_path / "m").get_params()
    # replaced by the saved directory itself: the weights and tokenizer are files there
    assert back["source"] == str(tmp_path / "m") and back["tokenizer_source"] is None and back["config"] is None
    for name, value in params.items():
        if name not in TextClassifier.SAVED_AS_FILES:
            assert back[name] == value, name
    # what the caller gives load() replaces the saved value
    given = TextClassifier.load(tmp_path / "m", runtime=CPU, batch_size=3, max_length=16).get_params()
    assert given == back | {"runtime": CPU, "batch_size": 3, "max_length": 16}


def test_runtime_settings_are_checked_before_any_model_loads(tiny_model_dir):
    with pytest.raises(ConfigError, match=r"device 'gpu0': use auto, cpu, cuda, cuda:N or mps"):
        Runtime(device="gpu0")
    with pytest.raises(ConfigError, match=r"precision 'half': use auto, fp32, bf16, fp16 or int8"):
        Runtime(precision="half")
    with pytest.raises(ConfigError, match="int8 is a CPU mode"):
        Runtime(device="cuda", precision="int8")
    with pytest.raises(ConfigError, match="max_tokens 64 is below one row of max_length 128"):
        Runtime(max_tokens=64)
    with pytest.raises(ConfigError, match="max_tokens 16 is below one row of max_length 32"):
        TextClassifier(tiny_model_dir, labels=LABELS, max_length=32, runtime=Runtime(max_tokens=16, max_length=16))


def test_metrics_match_hand_calculation():
    probs = np.array([[0.9, 0.1, 0], [0.2, 0.7, 0.1], [0.1, 0.2, 0.7], [0.6, 0.3, 0.1], [0.1, 0.1, 0.8]])
    m = classification_metrics(probs, [0, 1, 1, 2, 2], ["a", "b", "c"])
    # predictions: 0, 1, 2, 0, 2 -> 3 of 5 right
    assert m["accuracy"] == pytest.approx(0.6)
    assert m["confusion_matrix"] == [[1, 0, 0], [0, 1, 1], [1, 0, 1]]
    # F1: a = 2*.5*1/1.5 = .667, b = 2*1*.5/1.5 = .667, c = .5
    assert m["macro_f1"] == pytest.approx((2 / 3 + 2 / 3 + 0.5) / 3)
    assert confusion_matrix([1], [0], 2).tolist() == [[0, 0], [1, 0]]
