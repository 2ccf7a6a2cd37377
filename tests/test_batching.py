"""Token-budget batching: the plan's invariants, and the same probabilities / embeddings whatever the budget."""

from __future__ import annotations

import numpy as np
import pytest

from textrobust.errors import ConfigError
from textrobust.models import Runtime, TextClassifier
from textrobust.models.batching import (
    bucket_rows,
    default_token_budget,
    full_rows,
    pad_batch,
    padded_width,
    plan_batches,
)

TEXTS = [
    "a",
    "the film was good and the cast was great and more",
    "",
    "dull plot",
    "x " * 100,
    "a fine story",
    "the music was lovely",
    "boring",
    "i thought the ending is weak and more " * 3,
]


def test_plan_covers_every_index_once_longest_first():
    lengths = np.random.default_rng(0).integers(1, 200, size=500).tolist()
    for budget in (1, 7, 64, 1000, 10**6):
        batches = plan_batches(lengths, max_tokens=budget)
        flat = [i for b in batches for i in b]
        assert sorted(flat) == list(range(len(lengths)))
        assert [lengths[i] for i in flat] == sorted(lengths, reverse=True)


@pytest.mark.parametrize("multiple", [1, 8, 16])
def test_batches_stay_within_the_budget_except_a_single_long_row(multiple):
    lengths = np.random.default_rng(1).integers(1, 300, size=400).tolist()
    for budget in (16, 100, 512, 4096):
        for b in plan_batches(lengths, max_tokens=budget, multiple=multiple):
            width = padded_width(max(lengths[i] for i in b), multiple)
            assert len(b) * width <= budget or len(b) == 1


def test_explicit_batch_size_gives_fixed_rows():
    batches = plan_batches([5, 1, 9, 3, 7], batch_size=2, max_tokens=1)  # batch_size wins over a budget
    assert [len(b) for b in batches] == [2, 2, 1] and batches[0] == [2, 4]


def test_plan_rejects_bad_arguments(monkeypatch):
    with pytest.raises(ConfigError, match="max_tokens"):
        plan_batches([1, 2])
    with pytest.raises(ConfigError, match="batch_size"):
        plan_batches([1, 2], batch_size=0)
    monkeypatch.setenv("TEXTROBUST_TOKEN_BUDGET", "lots")
    with pytest.raises(ConfigError, match="TEXTROBUST_TOKEN_BUDGET"):
        default_token_budget("cpu")
    monkeypatch.setenv("TEXTROBUST_TOKEN_BUDGET", "123")
    assert default_token_budget("cuda") == 123


def test_default_budget_is_larger_on_cuda(monkeypatch):
    monkeypatch.delenv("TEXTROBUST_TOKEN_BUDGET", raising=False)
    assert default_token_budget("cuda:0") > default_token_budget("cpu") > 0


def test_sentence_encoders_get_their_own_budget_on_cuda_only(monkeypatch):
    from textrobust.models.batching import CUDA_ENCODER_TOKEN_BUDGET, CUDA_TOKEN_BUDGET

    monkeypatch.delenv("TEXTROBUST_TOKEN_BUDGET", raising=False)
    assert default_token_budget("cuda", "encoder") == CUDA_ENCODER_TOKEN_BUDGET > CUDA_TOKEN_BUDGET
    assert default_token_budget("cuda", "classifier") == CUDA_TOKEN_BUDGET
    assert default_token_budget("cpu", "encoder") == default_token_budget("cpu")
    with pytest.raises(ConfigError, match="role 'decoder'"):
        default_token_budget("cpu", "decoder")
    # One explicit number still sets every model of the run: max_tokens, or the environment variable.
    assert Runtime(device="cpu", max_tokens=512).token_budget_for("encoder") == 512
    monkeypatch.setenv("TEXTROBUST_TOKEN_BUDGET", "777")
    assert default_token_budget("cuda", "encoder") == 777


def test_sentence_encoder_plans_with_the_encoder_budget(tiny_model_dir, monkeypatch):
    from textrobust.models import batching
    from textrobust.models.encoders import SentenceEncoder

    asked: list[int | None] = []
    plan = batching.plan_batches
    monkeypatch.setattr(
        batching, "plan_batches", lambda lengths, **kw: asked.append(kw["max_tokens"]) or plan(lengths, **kw)
    )
    runtime = Runtime(device="cpu", max_length=32)
    monkeypatch.setattr(Runtime, "token_budget_for", lambda self, role: {"encoder": 96, "classifier": 48}[role])
    SentenceEncoder(tiny_model_dir, runtime=runtime).encode(TEXTS)
    assert asked == [96]


def _classifier(tiny_model_dir, *, max_tokens: int | None = None, **kw) -> TextClassifier:
    runtime = Runtime(device="cpu", max_tokens=max_tokens, max_length=32)
    return TextClassifier(tiny_model_dir, labels=["neg", "pos"], max_length=32, runtime=runtime, **kw)


def test_predict_proba_is_the_same_whatever_the_budget(tiny_model_dir):
    clf = _classifier(tiny_model_dir)
    one_by_one = np.vstack([clf.predict_proba([t], batch_size=1) for t in TEXTS])
    for budget in (32, 40, 100, 4096):
        view = clf.with_runtime(clf.runtime.replace(max_tokens=budget))
        np.testing.assert_allclose(view.predict_proba(TEXTS), one_by_one, atol=1e-6)


def test_predict_proba_honours_an_explicit_batch_size(tiny_model_dir, monkeypatch):
    seen: list[int] = []
    clf = _classifier(tiny_model_dir, batch_size=3, max_tokens=10**6)
    pad = clf.pad
    monkeypatch.setattr(clf, "pad", lambda seqs, **kw: seen.append(len(seqs)) or pad(seqs, **kw))
    clf.predict_proba(TEXTS)
    assert seen == [3, 3, 3]
    seen.clear()
    clf.predict_proba(TEXTS, batch_size=4)  # the call's batch_size wins over the constructor's
    assert seen == [4, 4, 1]
    budget = clf.with_runtime(clf.runtime.replace(max_tokens=48))  # rows x padded width <= 48
    budget.batch_size = None
    shapes: list[tuple[int, int]] = []
    monkeypatch.setattr(
        budget, "pad", lambda seqs, **kw: shapes.append(tuple(pad(seqs, **kw)["input_ids"].shape)) or pad(seqs, **kw)
    )
    budget.predict_proba(TEXTS)
    assert sum(r for r, _ in shapes) == len(TEXTS) and all(r * w <= 48 for r, w in shapes)
    assert max(r for r, _ in shapes) > 1


def test_batching_settings_survive_save_and_the_caller_can_change_them(tiny_model_dir, tmp_path):
    clf = _classifier(tiny_model_dir, batch_size=7, max_tokens=64)
    clf.save(tmp_path / "m")
    loaded = TextClassifier.load(tmp_path / "m")
    assert loaded.batch_size == 7 and loaded.token_budget == 64
    assert TextClassifier.load(tmp_path / "m", batch_size=5).batch_size == 5
    other = Runtime(device="cpu", max_tokens=99, max_length=32)
    assert TextClassifier.load(tmp_path / "m", runtime=other).token_budget == 99
    assert TextClassifier.load(tmp_path / "m", runtime=Runtime(device="cpu")).token_budget == default_token_budget(
        "cpu"
    )


def test_sentence_encoder_is_the_same_whatever_the_budget(tiny_model_dir):
    from textrobust.models.encoders import SentenceEncoder

    cpu = Runtime(device="cpu", max_length=32)
    ref = SentenceEncoder(tiny_model_dir, batch_size=1, runtime=cpu).encode(TEXTS)
    assert np.allclose(np.linalg.norm(ref, axis=1), 1, atol=1e-5)
    assert np.allclose(np.stack(SentenceEncoder(tiny_model_dir, runtime=cpu)(TEXTS)), ref)  # the backend form
    for kw in ({"max_tokens": 32}, {"max_tokens": 48}, {}):
        enc = SentenceEncoder(tiny_model_dir, runtime=cpu.replace(**kw))
        np.testing.assert_allclose(enc.encode(TEXTS), ref, atol=1e-6)
    np.testing.assert_allclose(SentenceEncoder(tiny_model_dir, runtime=cpu, batch_size=4).encode(TEXTS), ref, atol=1e-6)


def test_int8_is_opt_in_close_and_rebuilt_after_fit(tiny_model_dir):
    from conftest import tiny_corpus

    from textrobust.data import LabeledData
    from textrobust.models import TrainConfig

    clf = _classifier(tiny_model_dir, train_config=TrainConfig(epochs=1, lr=3e-3, batch_size=16))
    fp32 = clf.predict_proba(TEXTS)
    assert clf.inference_model() is clf.model  # off by default
    int8 = clf.with_runtime(clf.runtime.replace(precision="int8"))
    q = int8.inference_model()
    assert q is not clf.model and q is int8.inference_model()  # one copy, reused
    np.testing.assert_allclose(int8.predict_proba(TEXTS), fp32, atol=0.05)
    rows = tiny_corpus()[:64]
    int8.fit(LabeledData([t for t, _ in rows], [y for _, y in rows], ["neg", "pos"]), progress=False)
    assert int8.inference_model() is not q  # the weights changed: a fresh copy
    np.testing.assert_allclose(clf.predict_proba(TEXTS), clf.predict_proba(TEXTS, batch_size=1), atol=1e-6)


def test_lockstep_size_follows_the_token_budget(tiny_model_dir):
    from textrobust.adversarial.lockstep import lockstep_size

    assert lockstep_size(_classifier(tiny_model_dir, max_tokens=4096)) == 512
    assert lockstep_size(_classifier(tiny_model_dir, max_tokens=64)) == 32  # never below 32
    assert lockstep_size(object()) == 256  # a model without a token budget


def test_similarity_filter_uses_the_shared_encoder_and_its_runtime(tiny_model_dir):
    from textrobust.augment.filters import Similarity

    cpu = Runtime(device="cpu", max_length=32)
    texts = [t[:60] for t in TEXTS]  # the tiny model has 64 positions
    enc = Similarity(model=str(tiny_model_dir), runtime=cpu).encoder()
    assert enc.runtime == cpu and enc.path == str(tiny_model_dir)
    np.testing.assert_allclose(enc.encode(texts), enc.with_runtime(cpu.replace(max_tokens=32)).encode(texts), atol=1e-6)


def test_one_width_plans_cut_where_the_padded_width_changes():
    lengths = [30, 12, 10, 9, 3, 2]  # padded widths 32, 16, 16, 16, 8, 8
    assert plan_batches(lengths, max_tokens=4096) == [[0, 1, 2, 3, 4, 5]]
    assert plan_batches(lengths, max_tokens=4096, one_width=True) == [[0], [1, 2, 3], [4, 5]]
    assert plan_batches(lengths, max_tokens=32, one_width=True) == [[0], [1, 2], [3], [4, 5]]  # the budget still holds
    assert plan_batches(lengths, batch_size=4, one_width=True) == [[0, 1, 2, 3], [4, 5]]  # fixed rows: as asked
    assert Runtime(device="cpu").one_width_batches


def test_cpu_inference_batches_hold_one_width_and_give_the_same_probabilities(tiny_model_dir, monkeypatch):
    class FullBudget(Runtime):  # the GPU's rule, on the CPU
        @property
        def one_width_batches(self) -> bool:
            return False

    clf = _classifier(tiny_model_dir)
    widths: list[set[int]] = []
    pad = clf.pad
    monkeypatch.setattr(
        clf, "pad", lambda seqs, **kw: widths.append({padded_width(len(s), 8, 32) for s in seqs}) or pad(seqs, **kw)
    )
    probs = clf.predict_proba(TEXTS)
    assert len(widths) > 1 and all(len(w) == 1 for w in widths)
    full = clf.with_runtime(FullBudget(**clf.runtime.to_dict()))
    full_widths: list[set[int]] = []
    monkeypatch.setattr(
        full,
        "pad",
        lambda seqs, **kw: full_widths.append({padded_width(len(s), 8, 32) for s in seqs}) or pad(seqs, **kw),
    )
    np.testing.assert_allclose(full.predict_proba(TEXTS), probs, atol=1e-6)
    assert any(len(w) > 1 for w in full_widths)  # the full-budget rule does mix widths on these texts


class _Bucketed(Runtime):
    """The GPU's shape rule (Runtime.bucketed_shapes), on the CPU: what CUDA runs, checked where tests run."""

    @property
    def bucketed_shapes(self) -> bool:
        return True

    @property
    def one_width_batches(self) -> bool:
        return False


def test_bucketed_rows_go_up_to_a_power_of_two_but_never_past_a_full_batch():
    assert [bucket_rows(n, 128) for n in (1, 2, 3, 5, 64, 65, 100, 128)] == [1, 2, 4, 8, 64, 128, 128, 128]
    assert bucket_rows(129, 682) == 256 and bucket_rows(600, 682) == 682 and bucket_rows(682, 682) == 682
    assert full_rows(30, max_tokens=4096) == 128 and full_rows(30, max_tokens=4096, multiple=16) == 128
    assert full_rows(33, max_tokens=4096, multiple=16) == 85 and full_rows(33, max_tokens=None, batch_size=7) == 7
    with pytest.raises(ConfigError, match="max_tokens or batch_size"):
        full_rows(3, max_tokens=None)
    assert Runtime(device="cpu").pad_multiple == 8 and not Runtime(device="cpu").bucketed_shapes
    cpu = pad_batch([[5, 6, 7], [5], [6]], 0, Runtime(device="cpu"), multiple=4, batch_size=64)
    assert tuple(cpu["input_ids"].shape) == (3, 4)  # the CPU never adds rows
    gpu_rule = pad_batch([[5, 6, 7], [5], [6]], 0, _Bucketed(device="cpu"), multiple=16, batch_size=64)
    assert tuple(gpu_rule["input_ids"].shape) == (4, 16) and gpu_rule["input_ids"][3].tolist()[:3] == [5, 6, 7]


def test_bucketed_shapes_give_the_same_outputs_in_a_few_shapes(tiny_model_dir, monkeypatch):
    clf = _classifier(tiny_model_dir)
    plain = clf.predict_proba(TEXTS)
    gpu_rule = clf.with_runtime(_Bucketed(**clf.runtime.to_dict()))
    shapes: list[tuple[int, int]] = []
    pad = gpu_rule.pad
    monkeypatch.setattr(
        gpu_rule,
        "pad",
        lambda seqs, **kw: shapes.append(tuple(pad(seqs, **kw)["input_ids"].shape)) or pad(seqs, **kw),
    )
    np.testing.assert_allclose(gpu_rule.predict_proba(TEXTS), plain, atol=1e-6)
    assert shapes == [(16, 32)]  # 9 rows -> 16 (7 copies, dropped from the output), width 32 (max_length)
    shapes.clear()
    np.testing.assert_allclose(gpu_rule.predict_proba(TEXTS, batch_size=2), plain, atol=1e-6)
    assert [r for r, _ in shapes] == [2, 2, 2, 2, 1] and all(w % 16 == 0 for _, w in shapes)  # full rows: as asked
    shapes.clear()
    np.testing.assert_allclose(gpu_rule.predict_proba(TEXTS[:3]), plain[:3], atol=1e-6)
    assert shapes == [(4, 16)]

    from textrobust.models.encoders import SentenceEncoder

    enc = SentenceEncoder(str(tiny_model_dir), runtime=Runtime(device="cpu"))
    bucketed = enc.with_runtime(_Bucketed(device="cpu"))
    np.testing.assert_allclose(bucketed.encode(TEXTS), enc.encode(TEXTS), atol=1e-6)
