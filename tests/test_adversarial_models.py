"""Model-backed parts of textrobust.adversarial with tiny transformers built from configs (no hub):
the masked-LM transformation (BAE / BERT-Attack), its AutoModelForMaskedLM loading path, gradient ranking (A2T)
against a real TextClassifier, and the online adversarial-training callback inside ``fit``."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import CPU
from test_adversarial import LABELS, TEXTS, BowEncoder, FakeClassifier

from textrobust.adversarial import (
    GreedyWordSwapWIR,
    MaskedLM,
    WordGradients,
    a2t,
    bae,
    bert_attack,
    build_attack,
    make_online_callback,
    run_attack,
)
from textrobust.adversarial.text import AttackText

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def tiny_mlm_dir(tmp_path_factory, tiny_tokenizer_dir, tiny_bert_config):
    """A randomly initialised 2-layer BertForMaskedLM saved with its tokenizer (stand-in for bert-base)."""
    from transformers import AutoTokenizer, BertForMaskedLM

    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("tiny_mlm")
    BertForMaskedLM(tiny_bert_config).save_pretrained(out)
    AutoTokenizer.from_pretrained(tiny_tokenizer_dir).save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def mlm(tiny_mlm_dir):
    return MaskedLM.from_pretrained(tiny_mlm_dir, runtime=CPU)


class CountingMLM:
    """Wraps a MaskedLM and records how many inputs each call got."""

    def __init__(self, inner):
        self.inner, self.calls = inner, []

    def __call__(self, inputs):
        self.calls.append(len(inputs))
        return self.inner(inputs)


def test_masked_lm_predictions_are_whole_vocab_words(mlm):
    words = ("the", "film", "was", "good", ".")
    bae_out, ba_out = mlm([(words, 3, True, 5), (words, 1, False, 7)])
    vocab = mlm.tokenizer.get_vocab()
    assert 0 < len(bae_out) <= 5 and 0 < len(ba_out) <= 7
    for w in bae_out + ba_out:
        assert w in vocab and w.isalpha() and not w.startswith("##") and w not in mlm.tokenizer.all_special_tokens
    again = mlm([(words, 1, False, 7), (words, 3, True, 5)])
    assert again == [ba_out, bae_out]  # order restored after length-sorted batching


def test_masked_lm_on_the_gpu_shape_rule_gives_the_same_words(mlm):
    from textrobust.models import Runtime

    class Bucketed(Runtime):  # CUDA's rule (rows to a power of two, widths to 16), on the CPU
        @property
        def bucketed_shapes(self) -> bool:
            return True

    words = ("the", "film", "was", "good", ".")
    queries = [(words, 3, True, 5), (words, 1, False, 7), (words[:3], 0, True, 5)]  # 3 rows -> 4
    assert mlm.with_runtime(Bucketed(**CPU.to_dict()))(queries) == mlm(queries)


def test_masked_lm_missing_dir_is_a_model_error(tmp_path):
    from textrobust.errors import ModelError

    with pytest.raises(ModelError, match="cannot load masked LM from .*nope: no such folder"):
        MaskedLM.from_pretrained(tmp_path / "nope")


def test_bae_and_bert_attack_run_batched_and_lockstep(mlm):
    counting = CountingMLM(mlm)
    texts, labels = TEXTS, LABELS
    one = run_attack(
        bae(FakeClassifier(), mlm=counting, encoder=BowEncoder(), sim_threshold=0.0),
        texts,
        labels,
        batch_size=1,
        progress=False,
    )
    one_calls = len(counting.calls)
    counting.calls.clear()
    many = run_attack(
        bae(FakeClassifier(), mlm=counting, encoder=BowEncoder(), sim_threshold=0.0),
        texts,
        labels,
        batch_size=64,
        progress=False,
    )
    assert [r.to_dict() for r in one.results] == [r.to_dict() for r in many.results]
    assert len(counting.calls) < one_calls and max(counting.calls) > 1  # one MLM call serves many examples
    for r in many.results:
        assert len(AttackText.from_text(r.perturbed_text)) == len(AttackText.from_text(r.original_text))
    report = run_attack(bert_attack(FakeClassifier(), mlm=mlm, encoder=BowEncoder()), texts, labels, progress=False)
    assert len(report.results) == len(texts)
    assert all(len(r.modified_indices) <= max(1, int(0.4 * r.num_words) + 1) for r in report.results)


@pytest.fixture(scope="module")
def tiny_classifier(tiny_model_dir):
    """An untrained tiny TextClassifier: gradients and predictions are all the attack needs."""
    from textrobust.models import TextClassifier

    return TextClassifier(tiny_model_dir, labels=["neg", "pos"], max_length=32, runtime=CPU)


def test_gradient_ranking_on_a_real_classifier(tiny_classifier):
    grads = WordGradients(tiny_classifier)
    words_a, words_b = ("the", "film", "was", "good"), ("a", "dull", "plot", ",", "really")
    imp_a, imp_b = grads([(words_a, 1), (words_b, 0)])
    assert imp_a.shape == (4,) and imp_b.shape == (5,) and (imp_a >= 0).all() and imp_a.sum() > 0
    np.testing.assert_allclose(grads([(words_a, 1)])[0], imp_a, rtol=1e-4, atol=1e-6)
    tiny_classifier.model.train()
    grads([(words_a, 1)])
    assert tiny_classifier.model.training  # the module's mode is restored, not forced to eval
    tiny_classifier.model.eval()
    nb = {"good": ["great", "fine", "bad"], "dull": ["boring", "great"], "great": ["awful"], "bad": ["good"]}
    attack = a2t(tiny_classifier, neighbours=nb, encoder=BowEncoder(), sim_threshold=0.0)
    assert isinstance(attack.search, GreedyWordSwapWIR) and attack.search.ranking == "gradient"
    texts = ["the film was good .", "a dull plot , really", "i thought the music is great and more"]
    labels = tiny_classifier.predict_proba(texts).argmax(1).tolist()  # attack what the model predicts
    report = run_attack(attack, texts, labels, progress=False)
    assert report.count("skipped") == 0 and report.summary()["avg_queries"] >= 1
    for r in report.results:  # gradient ranking spends no ranking queries: original + swap candidates only
        assert r.num_queries <= 1 + sum(len(nb.get(w, [])) for w in r.original_text.split())


def test_gradient_swap_candidates_follow_the_first_order_score(tiny_classifier):
    from textrobust.adversarial import GradientSwapCandidates

    words = ("the", "film", "was", "good")
    backend = GradientSwapCandidates(tiny_classifier)
    (per_index,) = backend([(words, (1, 3), 6)])
    assert len(per_index) == 2 and all(0 < len(c) <= 6 for c in per_index)
    # Recompute the score by hand for word 1 ("film"): (e_w - e_film) . dL/de at its token, L = CE(prediction).
    module, tok = tiny_classifier.model, tiny_classifier.tokenizer
    enc = tok([list(words)], is_split_into_words=True, return_tensors="pt")
    emb = module.get_input_embeddings()
    x = emb(enc["input_ids"]).detach().requires_grad_(True)
    logits = module(inputs_embeds=x, attention_mask=enc["attention_mask"]).logits
    torch.nn.functional.cross_entropy(logits, logits.argmax(-1)).backward()
    pos = enc.word_ids(0).index(1)
    vocab = tok.get_vocab()
    table = emb.weight.detach()
    score = {w: float((table[vocab[w]] - table[enc["input_ids"][0, pos]]) @ x.grad[0, pos]) for w in per_index[0]}
    assert [score[w] for w in per_index[0]] == sorted(score.values(), reverse=True)
    assert all(w.isalpha() and w != "film" and w not in tok.all_special_tokens for w in per_index[0])
    others = [
        w for w in vocab if w.isalpha() and w not in per_index[0] and w != "film" and w not in tok.all_special_tokens
    ]
    best_left = max(float((table[vocab[w]] - table[enc["input_ids"][0, pos]]) @ x.grad[0, pos]) for w in others)
    assert best_left <= min(score.values()) + 1e-5  # nothing better was left out


def test_hotflip_recipe_runs_lockstep_on_a_real_classifier(tiny_classifier):
    from textrobust.adversarial import hotflip

    texts = ["the film was good .", "a dull plot , really", "i thought the music is great and more"]
    labels = tiny_classifier.predict_proba(texts).argmax(1).tolist()
    attack = build_attack("hotflip", tiny_classifier)
    one = run_attack(attack, texts, labels, batch_size=1, progress=False)
    many = run_attack(hotflip(tiny_classifier, beam_width=3), texts, labels, batch_size=8, progress=False)
    assert [r.status for r in one.results] and len(many.results) == 3
    vocab = tiny_classifier.tokenizer.get_vocab()
    for r in one.results + many.results:
        assert len(r.modified_indices) <= 2
        new = [w for w, o in zip(r.perturbed_text.split(), r.original_text.split(), strict=True) if w != o]
        assert all(w.lower() in vocab for w in new)
    again = run_attack(build_attack("hotflip", tiny_classifier), texts, labels, batch_size=8, progress=False)
    assert [r.to_dict() for r in again.results] == [
        r.to_dict() for r in run_attack(attack, texts, labels, batch_size=3, progress=False).results
    ]


def test_online_callback_inside_fit(tiny_model_dir):
    from conftest import tiny_corpus

    from textrobust.data import LabeledData
    from textrobust.models import TextClassifier, TrainConfig

    rows = tiny_corpus()[::3]
    nb = {"good": ["bad"], "great": ["awful"], "bad": ["good"], "awful": ["great"], "fun": ["dull"]}
    seen: list[tuple[int, int]] = []
    inner = make_online_callback(
        lambda m: a2t(m, neighbours=nb, encoder=BowEncoder(), sim_threshold=0.0), fraction=0.25, seed=1
    )

    def callback(model, epoch, texts, labels):
        extra = inner(model, epoch, texts, labels)
        seen.append((epoch, len(extra[0])))
        return extra

    clf = TextClassifier(
        tiny_model_dir,
        labels=["neg", "pos"],
        max_length=32,
        runtime=CPU,
        train_config=TrainConfig(epochs=2, lr=3e-3, batch_size=16, warmup_ratio=0.0),
    )
    clf.fit(
        LabeledData([t for t, _ in rows], [y for _, y in rows], ["neg", "pos"]), epoch_callback=callback, progress=False
    )
    assert [e for e, _ in seen] == [1]


def test_bert_attack_combines_subword_predictions_by_perplexity(mlm):
    """Hand-made logits for a two-piece word: the ranking follows the mean log-probability of the pieces."""
    vocab = mlm.tokenizer.get_vocab()
    starts = sorted(t for t in vocab if t.isalpha() and len(t) > 1 and t not in mlm.tokenizer.all_special_tokens)
    conts = sorted(t for t in vocab if t.startswith("##") and t[2:].isalpha())
    a, b, c1, c2 = starts[0], starts[1], conts[0], conts[1]
    logits = torch.zeros(2, len(mlm.tokenizer))
    logits[0, vocab[a]], logits[0, vocab[b]] = 10.0, 9.0  # a beats b by 1 nat
    logits[1, vocab[c1]], logits[1, vocab[c2]] = 10.0, 5.0  # c1 beats c2 by 5 nats
    got = mlm._subword_combinations(logits, 3)
    assert got == [a + c1[2:], b + c1[2:], a + c2[2:]]


def test_bert_attack_replaces_multi_piece_words_with_whole_words(mlm):
    words = ("the", "badfilm", "was", "good")
    pieces = mlm.tokenizer.tokenize("badfilm")
    assert len(pieces) > 1  # the tiny vocabulary splits it
    (cands,) = mlm([(words, 1, False, 6)])
    assert 0 < len(cands) <= 6 and len(set(cands)) == len(cands)
    assert all(c.isalpha() and "#" not in c for c in cands)
