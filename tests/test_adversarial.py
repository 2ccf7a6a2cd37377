"""Unit tests for textrobust.adversarial on a deterministic fake classifier (fast, hand-checkable)."""

from __future__ import annotations

import json
import re
import zlib
from typing import ClassVar

import numpy as np
import pytest

from textrobust.adversarial import (
    RECIPES,
    Attack,
    AttackText,
    BatchCall,
    BeamSearch,
    CharEdits,
    CompositeTransformation,
    GreedyWordSwapWIR,
    HomoglyphSwap,
    LevenshteinDistance,
    MaxWordsPerturbed,
    ModelQuery,
    RepeatModification,
    SentenceSimilarity,
    StopwordModification,
    TargetedClassification,
    UntargetedClassification,
    WordEmbeddingCosine,
    WordSwapSource,
    a2t,
    adversarial_examples_for_training,
    bae,
    bert_attack,
    build_attack,
    deepwordbug,
    make_online_callback,
    pwws,
    read_results,
    run_attack,
    textbugger,
    textfooler,
)
from textrobust.adversarial.constraints import levenshtein
from textrobust.errors import ConfigError, DataError, ResourceError

# ----------------------------------------------------------------------------------------------- fakes

WEIGHTS = {"good": 1.0, "great": 2.0, "fine": 0.5, "fun": 1.0, "bad": -1.0, "awful": -2.0, "dull": -1.0, "boring": -1.5}


class FakeClassifier:
    """Bag-of-words logistic sentiment scorer: p(pos) = sigmoid(2 * sum of word weights); ties go to 'neg'."""

    labels: ClassVar[list[str]] = ["neg", "pos"]

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def predict_proba(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        self.calls.append(list(texts))
        s = np.array([sum(WEIGHTS.get(w, 0.0) for w in re.findall(r"\w+", t.lower())) for t in texts])
        p = 1.0 / (1.0 + np.exp(-2.0 * s))
        return np.stack([1.0 - p, p], axis=1).reshape(len(texts), 2)

    @property
    def texts_sent(self) -> list[str]:
        return [t for call in self.calls for t in call]


class BowEncoder:
    """Hashed bag-of-words unit vectors (a stand-in sentence encoder); records its calls."""

    def __init__(self, dim: int = 64) -> None:
        self.dim = dim
        self.calls: list[list[str]] = []

    def __call__(self, texts: list[str]) -> list[np.ndarray]:
        self.calls.append(list(texts))
        out = []
        for t in texts:
            v = np.zeros(self.dim)
            for w in re.findall(r"\w+", t.lower()):
                v[zlib.crc32(w.encode()) % self.dim] += 1.0
            out.append(v / max(np.linalg.norm(v), 1e-12))
        return out


NEIGHBOURS = {
    "great": ["awful", "fine"],
    "good": ["decent", "bad"],
    "movie": ["film", "picture"],
    "fun": ["dull", "enjoyable"],
    "bad": ["good", "poor"],
    "awful": ["great", "terrible"],
    "cast": ["ensemble"],
}

CORPUS = [  # (text, label): 1 = pos, 0 = neg
    ("good great movie", 1),
    ("a good movie .", 1),
    ("an awful , boring movie", 0),
    ("great fun , great cast", 1),
    ("bad movie but good cast", 0),
    ("the movie was fun and good", 1),
    ("plain movie", 0),
    ("awful awful awful", 0),
    ("a fine , fun film", 1),
    ("good great movie", 1),
    ("it was bad , not great", 1),
    ("dull but great", 1),
    ("a dull movie", 1),  # misclassified -> skipped
]
TEXTS = [t for t, _ in CORPUS]
LABELS = [y for _, y in CORPUS]


def swap_attack(model, search=None, pre=None, post=(), goal=None) -> Attack:
    return Attack(
        model,
        WordSwapSource(NEIGHBOURS),
        search or GreedyWordSwapWIR("delete"),
        goal or UntargetedClassification(),
        pre or (RepeatModification(),),
        post,
    )


def drive(gen, model=None):
    """Run a request generator to completion, answering requests directly (no runner)."""
    try:
        req = next(gen)
        while True:
            if isinstance(req, BatchCall):
                req = gen.send(list(req.backend(list(req.inputs))))
            else:
                req = gen.send(model.predict_proba([s if isinstance(s, str) else s.text for s in req.states]))
    except StopIteration as stop:
        return stop.value


# ----------------------------------------------------------------------------------------------- text


def test_attack_text_words_spans_and_edits():
    t = AttackText.from_text("It's a GREAT movie, isn't it?")
    assert t.words == ("It's", "a", "GREAT", "movie", "isn't", "it")
    r = t.replace(2, "FINE").replace(3, "film")
    assert r.text == "It's a FINE film, isn't it?"
    assert r.modified == {2, 3} and r.new_index == 3 and r.words[4] == "isn't"
    assert t.with_word(3, "[UNK]") == "It's a GREAT [UNK], isn't it?"
    assert AttackText.from_text("a good movie .").without_word(1) == "a movie ."
    long = AttackText.from_text(" ".join(f"w{i}" for i in range(30)))
    assert long.window(0, 15).split() == [f"w{i}" for i in range(15)]
    assert long.window(20, 15).split() == [f"w{i}" for i in range(13, 28)]
    assert long.window(29, 15).split() == [f"w{i}" for i in range(15, 30)]
    assert AttackText.from_text("a b").window(0, 15) == "a b"


# ----------------------------------------------------------------------------------------------- goals


def test_windows_follow_textattack_placement_and_keep_punctuation():
    t = AttackText.from_text("a b, c d e f .")
    assert t.window(0, 3) == "a b, c"  # clipped at the start
    assert t.window(3, 4) == "b, c d e"  # even size: ceil(1.5) = 2 words before, 1 after (TextAttack)
    assert t.window(5, 3) == "d e f"  # clipped at the end
    assert t.window(2, 10) == "a b, c d e f" and t.window(2, None) == "a b, c d e f ."


def test_goals_score_and_done():
    probs = np.array([[0.7, 0.3], [0.2, 0.8]])
    un = UntargetedClassification()
    np.testing.assert_allclose(un.score(probs, 1), [0.7, 0.2])
    assert un.done(probs, 1).tolist() == [True, False]
    assert UntargetedClassification(min_confidence=0.75).done(probs, 1).tolist() == [False, False]
    tg = TargetedClassification(target=1)
    np.testing.assert_allclose(tg.score(probs, 0), [0.3, 0.8])
    assert tg.done(probs, 0).tolist() == [False, True]
    assert bool(un.done(probs[0], 1))  # one row works too
    with pytest.raises(ConfigError):
        UntargetedClassification(min_confidence=1.5)
    with pytest.raises(ConfigError):
        TargetedClassification(target=-1)


# ----------------------------------------------------------------------------------------------- constraints


def test_pre_constraints():
    orig = AttackText.from_text("the movie is not good at all")
    cur = orig.replace(1, "film")
    assert StopwordModification(["the", "is", "at", "all", "NOT"]).allowed(orig, cur) == {1, 4}
    assert RepeatModification().allowed(orig, cur) == {0, 2, 3, 4, 5, 6}
    a2t_rate = MaxWordsPerturbed(max_fraction=0.1, min_words=4)
    assert a2t_rate.limit(20) == 4 and a2t_rate.limit(55) == 6
    one = MaxWordsPerturbed(max_words=1)
    assert one.allowed(orig, orig) is None and one.allowed(orig, cur) == set()
    with pytest.raises(ConfigError):
        MaxWordsPerturbed()
    attack = swap_attack(FakeClassifier(), pre=(RepeatModification(), StopwordModification(["the"]), one))
    assert attack.modifiable_indices(orig, orig) == [1, 2, 3, 4, 5, 6]
    assert attack.modifiable_indices(orig, cur) == []


def test_levenshtein_constraint():
    assert levenshtein("kitten", "sitting") == 3 and levenshtein("", "abc") == 3
    orig = AttackText.from_text("a good movie")
    near, far = orig.replace(1, "goood"), orig.replace(1, "xxxxxxxx")
    assert drive(LevenshteinDistance(3).filter(orig, orig, [near, far])) == [near]
    two = near.replace(2, "moovie")
    assert drive(LevenshteinDistance(1).filter(orig, near, [two])) == []
    assert drive(LevenshteinDistance(2).filter(orig, near, [two])) == [two]


def test_word_embedding_cosine():
    vecs = {"good": np.array([1.0, 0.0]), "decent": np.array([0.9, 0.1]), "bad": np.array([-1.0, 0.2])}
    orig = AttackText.from_text("a good movie")
    cands = [orig.replace(1, "decent"), orig.replace(1, "bad"), orig.replace(1, "unknownword")]
    assert drive(WordEmbeddingCosine(vecs, 0.5).filter(orig, orig, cands)) == cands[:1]


def test_sentence_similarity_windows_and_batches():
    enc = BowEncoder()
    orig = AttackText.from_text(" ".join(["good"] * 3 + ["plain"] * 20))
    close, far = orig.replace(10, "plain"), orig.replace(10, "zebra")
    c = SentenceSimilarity(enc, threshold=0.999, window_size=15)
    gen = c.filter(orig, orig, [close, far])
    req = next(gen)
    assert isinstance(req, BatchCall) and req.backend is enc and len(req.inputs) == 4
    assert all(len(x.split()) == 15 for x in req.inputs)  # windows, not whole texts
    assert drive(c.filter(orig, orig, [close, far])) == [close]
    # Texts shorter than the window are skipped without an encoder call.
    short = AttackText.from_text("a good movie")
    enc.calls.clear()
    skip = SentenceSimilarity(enc, threshold=0.99, window_size=15, skip_shorter_than_window=True)
    assert drive(skip.filter(short, short, [short.replace(2, "zebra")])) == [short.replace(2, "zebra")]
    assert enc.calls == []
    ang = SentenceSimilarity(enc, threshold=0.5, metric="angular")  # angular >= 0.5 <=> cos >= 0
    assert drive(ang.filter(short, short, [short.replace(2, "zebra")])) == [short.replace(2, "zebra")]
    with pytest.raises(ConfigError):
        SentenceSimilarity(enc, metric="euclid")


# ----------------------------------------------------------------------------------------------- transformations


def test_word_swap_source_case_limit_and_multiword():
    src = {"good": ["decent", "very good", "bad", "fine"]}
    t = AttackText.from_text("Good GOOD good")
    out = drive(WordSwapSource(src, max_candidates=2).generate(t, [0, 1, 2], np.random.default_rng(0)))
    assert [c.text for c in out] == [
        "Decent GOOD good",
        "Bad GOOD good",
        "Good DECENT good",
        "Good BAD good",
        "Good GOOD decent",
        "Good GOOD bad",
    ]
    with pytest.raises(ConfigError):
        WordSwapSource(["not", "a", "mapping"])


def test_char_edits_are_single_edits_and_seeded():
    t = AttackText.from_text("wonderful movie")
    edits = CharEdits()
    a = drive(edits.generate(t, [0, 1], np.random.default_rng([0, 3])))
    b = drive(edits.generate(t, [0, 1], np.random.default_rng([0, 3])))
    assert [c.text for c in a] == [c.text for c in b]
    assert 6 <= len(a) <= 8
    for c in a:
        i = c.new_index
        assert c.words[1 - i] == t.words[1 - i]
        assert 1 <= levenshtein(c.words[i], t.words[i]) <= 2  # a neighbour swap costs 2
    with pytest.raises(ConfigError):
        CharEdits(ops=("explode",))


def test_space_bug_splits_a_word_but_keeps_its_index():
    t = AttackText.from_text("a wonderful movie, ok")
    for seed in range(20):
        (c,) = drive(CharEdits(("space",), skip_first_last=True).generate(t, [1], np.random.default_rng(seed)))
        left, right = c.words[1].split(" ")
        assert left + right == "wonderful" and left and len(right) >= 2  # last two characters stay together
        assert c.words[2] == "movie" and c.modified == {1} and c.text.endswith(" movie, ok")
        assert c.replace(2, "film").text == c.text.replace("movie", "film")  # later indices still line up
    assert drive(CharEdits(("space",), skip_first_last=True).generate(t, [3], np.random.default_rng(0))) == []
    assert len(drive(CharEdits(("space",)).generate(t, [3], np.random.default_rng(0)))) == 1  # "o k"
    assert CharEdits().ops == ("swap", "substitute", "delete", "insert")  # DeepWordBug unchanged


def test_homoglyphs_look_alike_but_differ_and_stay_one_word():
    t = AttackText.from_text("Bad film")
    out = drive(HomoglyphSwap().generate(t, [0], np.random.default_rng(0)))
    assert [c.words[0] for c in out] == ["\u0412ad", "B\u0430d", "Ba\u0501"]  # one per letter with a lookalike
    assert all(c.words[0] != "Bad" and c.words[1] == "film" and len(c.words[0]) == 3 for c in out)
    assert HomoglyphSwap({"f": "\u0192"}).variants("off") == ["o\u0192f", "of\u0192"]
    assert HomoglyphSwap().variants("") == [] and HomoglyphSwap().variants("777") == []


def test_composite_transformation_concatenates_dedups_and_passes_batch_calls():
    class FakeMLM:
        def __call__(self, inputs):
            return [["great", "good"] for _ in inputs]

    from textrobust.adversarial import MaskedLMSwap

    t = AttackText.from_text("good film")
    comp = CompositeTransformation(
        (WordSwapSource({"good": ["great", "fine"]}), MaskedLMSwap(FakeMLM()), CharEdits(("delete",)))
    )
    out = drive(comp.generate(t, [0], np.random.default_rng(0)))
    texts = [c.text for c in out]
    assert texts[:2] == ["great film", "fine film"] and len(texts) == len(set(texts)) == 3
    assert levenshtein(out[2].words[0], "good") == 1
    with pytest.raises(ConfigError):
        CompositeTransformation(())


def test_greedy_picks_the_most_similar_of_several_winning_swaps():
    class AngleEncoder:  # "dull" moves a text 0.1 rad away, "awful" 0.5 rad
        def __call__(self, texts):
            return [
                np.array([np.cos(a), np.sin(a)])
                for a in (0.5 if "awful" in t else 0.1 if "dull" in t else 0.0 for t in texts)
            ]

    source = {"great": ["awful", "dull"]}

    def attack(post):
        return Attack(
            FakeClassifier(), WordSwapSource(source), GreedyWordSwapWIR("delete"), UntargetedClassification(), (), post
        )

    # Both swaps flip "good great movie" (scores 1 - 2 and 1 - 1: a tie goes to neg); "awful" scores higher.
    (plain,) = run_attack(attack(()), ["good great movie"], [1], progress=False).results
    assert plain.perturbed_text == "good awful movie"
    sim = SentenceSimilarity(AngleEncoder(), threshold=0.0)
    (r,) = run_attack(attack((sim,)), ["good great movie"], [1], progress=False).results
    assert r.status == "succeeded" and r.perturbed_text == "good dull movie"  # cos 0.1 rad > cos 0.5 rad
    # Passing candidates carry their score; lazy checking keeps the best-scoring winner.
    (c,) = drive(
        sim.filter(
            AttackText.from_text("a great b"),
            AttackText.from_text("a great b"),
            [AttackText.from_text("a great b").replace(1, "dull")],
        )
    )
    assert c.similarity == pytest.approx(np.cos(0.1)) and c.text == "a dull b"
    lazy = Attack(
        FakeClassifier(),
        WordSwapSource(source),
        GreedyWordSwapWIR("delete", lazy_constraints=True),
        UntargetedClassification(),
        (),
        (sim,),
    )
    (r,) = run_attack(lazy, ["good great movie"], [1], progress=False).results
    assert r.perturbed_text == "good awful movie"


def test_textbugger_recipe_mixes_bugs_and_checks_similarity_against_original():
    attack = textbugger(FakeClassifier(), neighbours=NEIGHBOURS, encoder=BowEncoder(), sim_threshold=0.0)
    kinds = [type(p).__name__ for p in attack.transformation.parts]
    assert kinds == ["CharEdits", "HomoglyphSwap", "WordSwapSource"]
    assert attack.transformation.parts[0].ops == ("space", "delete", "swap")
    assert attack.transformation.parts[2].max_candidates == 5
    (sim,) = attack.post_constraints
    assert (sim.threshold, sim.metric, sim.window_size) == (0.0, "angular", None)
    report = run_attack(attack, ["good great movie"], [1], progress=False)
    (r,) = report.results
    # "great" (weight 2) ranks first; of its 13 bugs, character edits and homoglyphs only make it unknown
    # (score 1, still positive), while the neighbour "awful" scores 1 - 2 < 0 and wins.
    assert r.status == "succeeded" and r.perturbed_text == "good awful movie"
    assert r.num_queries == 1 + 3 + len(
        drive(attack.transformation.generate(AttackText.from_text("good great movie"), [1], np.random.default_rng(0)))
    )


# ----------------------------------------------------------------------------------------------- search


def test_greedy_delete_ranking_hand_checked():
    model = FakeClassifier()
    report = run_attack(swap_attack(model), ["good great movie"], [1], progress=False)
    (r,) = report.results
    # Ranking: deleting "great" hurts most -> swapped first -> "awful" flips the label (1 - 2 < 0).
    assert r.status == "succeeded" and r.perturbed_text == "good awful movie"
    assert r.modified_indices == [1] and r.perturbed_pred == 0 and r.original_pred == 1
    # original + 3 deletion probes + 2 candidates for "great"
    assert r.num_queries == 6
    assert model.calls[0] == ["good great movie"]
    assert model.calls[1] == ["great movie", "good movie", "good great"]


def test_unk_ranking_and_no_swap_fails():
    model = FakeClassifier()
    attack = Attack(
        model, WordSwapSource({"great": ["fine"]}), GreedyWordSwapWIR("unk"), pre_constraints=(RepeatModification(),)
    )
    (r,) = run_attack(attack, ["great great"], [1], progress=False).results
    # Both "great" become "fine": still positive -> failed, best text reported with its modifications.
    assert r.status == "failed" and r.perturbed_text == "fine fine" and r.modified_indices == [0, 1]
    assert model.calls[1] == ["[UNK] great", "great [UNK]"]


def test_weighted_saliency_ranking_prefers_big_gains():
    model = FakeClassifier()
    attack = Attack(
        model,
        WordSwapSource({"good": ["decent"], "fun": ["dull"]}),
        GreedyWordSwapWIR("weighted_saliency"),
        pre_constraints=(RepeatModification(),),
    )
    (r,) = run_attack(attack, ["good fun"], [1], progress=False).results
    # Both words have the same [UNK] saliency; "fun" -> "dull" gains more, so it is tried first and wins.
    assert r.status == "succeeded" and r.perturbed_text == "good dull"
    assert r.num_queries == 1 + 2 + 2  # original, two [UNK] probes, two swap probes (re-used from cache)


def test_beam_search():
    model = FakeClassifier()
    nb = {"great": ["fine"], "good": ["fine", "bad"], "fun": ["dull"]}
    attack = Attack(model, WordSwapSource(nb), BeamSearch(beam_width=2), pre_constraints=(RepeatModification(),))
    (r,) = run_attack(attack, ["great good fun"], [1], progress=False).results
    # step 1 best: "great bad fun" (score 2) ; step 2 needs one more: "great bad dull" (2-1-1 = 0 -> tie -> neg)
    assert r.status == "succeeded" and r.perturbed_text == "great bad dull" and r.modified_indices == [1, 2]
    with pytest.raises(ConfigError):
        BeamSearch(beam_width=0)


def test_search_config_errors():
    with pytest.raises(ConfigError):
        GreedyWordSwapWIR("alphabetical")
    with pytest.raises(ConfigError):
        GreedyWordSwapWIR("gradient")


def test_targeted_goal_on_three_labels():
    class ThreeWay(FakeClassifier):
        labels: ClassVar[list[str]] = ["neg", "pos", "neutral"]

        def predict_proba(self, texts, batch_size=None):
            p2 = super().predict_proba(texts)
            neutral = np.array([[2.0 if "plain" in t else 0.1] for t in texts])
            z = np.concatenate([p2, neutral], axis=1)
            return z / z.sum(1, keepdims=True)

    attack = swap_attack(ThreeWay(), goal=TargetedClassification(target=2))
    attack = Attack(
        attack.model,
        WordSwapSource({"great": ["plain", "awful"]}),
        GreedyWordSwapWIR("delete"),
        TargetedClassification(target=2),
        (RepeatModification(),),
    )
    (r,) = run_attack(attack, ["great movie"], ["pos"], progress=False).results
    assert r.status == "succeeded" and r.perturbed_text == "plain movie" and r.perturbed_pred == 2


# ----------------------------------------------------------------------------------------------- runner


def _comparable(report):
    return [r.to_dict() for r in report.results]


@pytest.mark.parametrize(
    "make",
    [
        lambda m: swap_attack(m),
        lambda m: swap_attack(m, search=BeamSearch(2)),
        lambda m: deepwordbug(m),
        lambda m: textfooler(m, neighbours=NEIGHBOURS, encoder=BowEncoder(), window_size=3, sim_threshold=0.5),
    ],
)
def test_lockstep_equals_one_at_a_time(make):
    texts, labels = TEXTS * 2, LABELS * 2
    one_model, many_model = FakeClassifier(), FakeClassifier()
    one = run_attack(make(one_model), texts, labels, batch_size=1, progress=False, seed=7)
    many = run_attack(make(many_model), texts, labels, batch_size=64, progress=False, seed=7)
    mid = run_attack(make(FakeClassifier()), texts, labels, batch_size=5, progress=False, seed=7)
    assert _comparable(one) == _comparable(many) == _comparable(mid)
    assert [r.index for r in many.results] == list(range(len(texts)))
    assert len(many_model.calls) < len(one_model.calls)  # fewer, bigger model calls
    assert {r.status for r in many.results} >= {"succeeded", "skipped"}


@pytest.mark.parametrize("threshold", [0.5, 0.8, 0.95])
def test_lazy_constraints_choose_the_same_swaps_with_fewer_encoder_texts(threshold):
    from dataclasses import replace

    texts, labels = TEXTS * 2, LABELS * 2
    reports, encoded = [], []
    for lazy in (False, True):
        enc = BowEncoder()
        attack = textfooler(
            FakeClassifier(), neighbours=NEIGHBOURS, encoder=enc, window_size=None, sim_threshold=threshold
        )
        attack = replace(attack, search=replace(attack.search, lazy_constraints=lazy, lazy_chunk=1))
        reports.append(run_attack(attack, texts, labels, batch_size=8, progress=False))
        encoded.append(len({t for call in enc.calls for t in call}))
    eager, lazy_r = reports
    strip = [{k: v for k, v in d.items() if k not in ("num_queries", "seconds")} for d in _comparable(eager)]
    assert strip == [{k: v for k, v in d.items() if k not in ("num_queries", "seconds")} for d in _comparable(lazy_r)]
    if threshold < 0.9:  # some swaps pass: lazy checks stop at the first passing one
        assert {r.status for r in eager.results} >= {"succeeded"}
        assert encoded[1] < encoded[0]
    assert encoded[1] <= encoded[0]
    assert sum(r.num_queries for r in lazy_r.results) >= sum(r.num_queries for r in eager.results)


def test_cache_never_sends_a_text_twice():
    model = FakeClassifier()
    report = run_attack(swap_attack(model), TEXTS * 3, LABELS * 3, batch_size=4, progress=False)
    sent = model.texts_sent
    assert len(sent) == len(set(sent)) == report.model_texts
    # Queries are still counted per example: duplicates of an example cost the same as the first copy.
    by_text: dict[str, set[int]] = {}
    for r in report.results:
        by_text.setdefault(r.original_text, set()).add(r.num_queries)
    assert all(len(v) == 1 for v in by_text.values())
    assert sum(r.num_queries for r in report.results) > report.model_texts
    # A shared cache across runs: the second run sends nothing.
    cache: dict = {}
    run_attack(swap_attack(model), TEXTS, LABELS, cache=cache, progress=False)
    n = len(model.calls)
    again = run_attack(swap_attack(model), TEXTS, LABELS, cache=cache, progress=False)
    assert len(model.calls) == n and again.model_texts == 0


def test_encoder_calls_are_batched_across_examples():
    enc = BowEncoder()
    texts = [" ".join([f"w{k}", "good", "great"] + ["plain"] * k) for k in range(16, 24)]
    attack = textfooler(FakeClassifier(), neighbours=NEIGHBOURS, encoder=enc, sim_threshold=0.0)
    run_attack(attack, texts, [1] * len(texts), batch_size=64, progress=False)
    first = enc.calls[0]
    assert len(first) > 2 * 2  # windows from several examples in one call
    flat = [t for c in enc.calls for t in c]
    assert len(flat) == len(set(flat))  # encoder results cached for the run


def test_query_budget():
    model = FakeClassifier()
    (r,) = run_attack(swap_attack(model), ["good great movie"], [1], query_budget=3, progress=False).results
    assert r.status == "budget_exhausted" and r.num_queries == 3
    assert r.perturbed_text == "good great movie" and r.modified_indices == []
    # The winning candidate is the first of its step: a budget of 5 still finds it (the cut step is scored).
    (r,) = run_attack(swap_attack(FakeClassifier()), ["good great movie"], [1], query_budget=5, progress=False).results
    assert r.status == "succeeded" and r.num_queries == 5 and r.perturbed_text == "good awful movie"
    (r,) = run_attack(swap_attack(FakeClassifier()), ["good great movie"], [1], query_budget=6, progress=False).results
    assert r.status == "succeeded" and r.num_queries == 6
    with pytest.raises(ConfigError):
        run_attack(swap_attack(model), ["x"], [1], query_budget=0)


def test_budget_exhausted_reports_best_so_far():
    nb = {"great": ["fine"], "good": ["decent"], "fun": ["bad"]}
    attack = Attack(
        FakeClassifier(), WordSwapSource(nb), GreedyWordSwapWIR("none"), pre_constraints=(RepeatModification(),)
    )
    (r,) = run_attack(attack, ["great good fun"], [1], query_budget=3, progress=False).results
    assert r.status == "budget_exhausted" and r.perturbed_text == "fine decent fun" and r.num_queries == 3


def test_skipped_summary_and_label_names():
    model = FakeClassifier()
    report = run_attack(
        swap_attack(model), ["good great movie", "plain movie", "boring dull"], ["pos", "pos", "neg"], progress=False
    )
    assert [r.status for r in report.results] == ["succeeded", "skipped", "failed"]
    s = report.summary()
    assert s["original_accuracy"] == pytest.approx(2 / 3)
    assert s["accuracy_under_attack"] == pytest.approx(1 / 3)
    assert s["success_rate"] == pytest.approx(1 / 2)
    assert s["avg_words_perturbed_pct"] == pytest.approx(100 / 3)
    assert s["skipped"] == 1 and s["examples_per_s"] > 0
    assert report.results[1].num_queries == 1
    with pytest.raises(ConfigError):
        run_attack(swap_attack(model), ["a"], ["maybe"], progress=False)
    with pytest.raises(ConfigError):
        run_attack(swap_attack(model), ["a", "b"], [1], progress=False)
    with pytest.raises(ConfigError, match="out of range"):
        run_attack(swap_attack(model), ["a"], [2], progress=False)


def test_progress_bar_runs(capsys):
    report = run_attack(deepwordbug(FakeClassifier()), TEXTS, LABELS, progress=True)
    assert len(report.results) == len(TEXTS)


def test_results_round_trip_jsonl_and_parquet(tmp_path):
    report = run_attack(deepwordbug(FakeClassifier()), TEXTS, LABELS, progress=False)
    j = report.to_jsonl(tmp_path / "out" / "results.jsonl")
    p = report.to_parquet(tmp_path / "out" / "results.parquet")
    assert sorted(x.name for x in (tmp_path / "out").iterdir()) == ["results.jsonl", "results.parquet"]
    rows = [json.loads(line) for line in j.read_text().splitlines()]
    assert rows[0]["info"]["status"] in ("succeeded", "failed", "skipped", "budget_exhausted")
    assert [r.to_dict() for r in read_results(j)] == _comparable(report)
    assert [r.to_dict() for r in read_results(p)] == _comparable(report)
    # files written by textrobust 0.1 (the flat dataclass fields) are refused with what to do
    old = tmp_path / "old.jsonl"
    old.write_text("".join(json.dumps(r.to_dict()) + "\n" for r in report.results))
    with pytest.raises(DataError, match="not an attack record .*write it again with 'textrobust attack -o'"):
        read_results(old)


def test_one_record_schema_for_attack_files_and_run_directories(tmp_path):
    """'attack -o' writes the records a run's examples.jsonl holds: the same keys, labels by name."""
    from textrobust.adversarial.assess import assess
    from textrobust.adversarial.quality import DEFAULT_QUALITY
    from textrobust.data import LabeledData
    from textrobust.robustness.evaluations import EvalContext, build_evaluation

    model = FakeClassifier()
    report = run_attack(deepwordbug(model), TEXTS, LABELS, progress=False)
    cli_rows = assess(report, quality=DEFAULT_QUALITY).records(list(model.labels))  # as 'attack -o' does
    ev = build_evaluation({"kind": "attack", "recipe": "deepwordbug", "n": len(TEXTS)})
    test = LabeledData(list(TEXTS), list(LABELS), list(model.labels))
    harness = ev.run(model, test, EvalContext(list(model.labels), raw_model=model)).records
    assert [sorted(r) for r in cli_rows] == [sorted(r) for r in harness]
    assert [r["info"].keys() for r in cli_rows] == [r["info"].keys() for r in harness]
    assert [(r["text"], r["label"], r["pred"], r["model_failed"]) for r in cli_rows] == [
        (r["text"], r["label"], r["pred"], r["model_failed"]) for r in harness
    ]
    assert report.summary()["success_rate"] == pytest.approx(
        np.nanmean(
            [
                s.outcomes
                for s in ev.run(model, test, EvalContext(list(model.labels))).scores
                if s.metric == "success_rate"
            ][0]
        )
    )


# ----------------------------------------------------------------------------------------------- recipes


def test_missing_resources_raise_resource_error():
    m = FakeClassifier()
    with pytest.raises(ResourceError, match="'neighbours'"):
        textfooler(m, encoder=BowEncoder())
    with pytest.raises(ResourceError, match="'encoder'"):
        textfooler(m, neighbours=NEIGHBOURS)
    with pytest.raises(ResourceError, match="'lexicon'"):
        pwws(m)
    with pytest.raises(ResourceError, match="'mlm'"):
        bae(m, encoder=BowEncoder())
    with pytest.raises(ResourceError, match="'mlm'"):
        bert_attack(m, encoder=BowEncoder())
    with pytest.raises(ResourceError, match="'encoder'"):
        a2t(m, neighbours=NEIGHBOURS)
    with pytest.raises(ResourceError, match="'mlm'"):
        build_attack("bert-attack", m, encoder=BowEncoder())
    with pytest.raises(ConfigError, match="unknown attack recipe"):
        build_attack("hotfliip", m)
    with pytest.raises(ConfigError, match="supports gradients"):
        build_attack("hotflip", m)
    # Resources meant for other recipes are ignored; unknown parameters are errors.
    assert build_attack("deepwordbug", m, neighbours=NEIGHBOURS, mlm=object()).name == "deepwordbug"
    with pytest.raises(ConfigError, match="takes no parameter"):
        build_attack("deepwordbug", m, max_candidates=3)


def test_registry_lists_resources_and_recipes_run():
    assert set(RECIPES) == {
        "textfooler",
        "pwws",
        "deepwordbug",
        "textbugger",
        "bae",
        "bert_attack",
        "a2t",
        "hotflip",
        "hardlabel",
        "zh_char",
        "zh_word",
    }
    assert RECIPES["textfooler"].resources == ("neighbours", "encoder")
    assert RECIPES["deepwordbug"].resources == ()
    fakes = {"neighbours": NEIGHBOURS, "lexicon": NEIGHBOURS, "encoder": BowEncoder()}
    for name, spec in RECIPES.items():
        if "mlm" in spec.resources or name == "hotflip":  # need a real MLM / transformers victim: see models tests
            continue
        if name.startswith("zh_"):  # Chinese text and tables: tests/test_languages.py
            continue
        # Bag-of-words similarity is low on 3 words.
        extra = {"sim_threshold": 0.0} if name in ("a2t", "textbugger") else {}
        attack = build_attack(name, FakeClassifier(), **{k: fakes[k] for k in spec.resources}, **extra)
        assert attack.name == name and attack.__doc__
        assert spec.build.__doc__ and "Deviation" in spec.build.__doc__
        report = run_attack(attack, TEXTS, LABELS, progress=False)
        assert report.count("succeeded") >= 1, name


def test_a2t_limits_words_and_pwws_uses_lexicon():
    attack = a2t(FakeClassifier(), neighbours=NEIGHBOURS, encoder=BowEncoder())
    assert attack.search.ranking == "delete"  # fake model has no transformers module
    limit = next(c for c in attack.pre_constraints if isinstance(c, MaxWordsPerturbed))
    assert limit.limit(50) == 5 and limit.limit(10) == 4
    (r,) = run_attack(pwws(FakeClassifier(), lexicon=NEIGHBOURS), ["good great movie"], [1], progress=False).results
    assert r.status == "succeeded" and r.perturbed_text == "good awful movie"


# ----------------------------------------------------------------------------------------------- training


def test_adversarial_examples_for_training_keep_true_labels():
    texts, labels = adversarial_examples_for_training(
        FakeClassifier(), lambda m: swap_attack(m), TEXTS, ["neg" if y == 0 else "pos" for y in LABELS]
    )
    assert texts and "good awful movie" in texts
    assert labels[texts.index("good awful movie")] == "pos"
    t2, _ = adversarial_examples_for_training(FakeClassifier(), "deepwordbug", TEXTS, LABELS)
    assert t2 and all(t not in TEXTS for t in t2)


def test_online_callback():
    cb = make_online_callback(lambda m: swap_attack(m), fraction=0.5, every_k_epochs=2, seed=3)
    m = FakeClassifier()
    assert cb(m, 0, TEXTS, LABELS) == ([], [])
    assert cb(m, 1, TEXTS, LABELS) == ([], [])
    x2, y2 = cb(m, 2, TEXTS, LABELS)
    assert cb(m, 2, TEXTS, LABELS) == (x2, y2)  # deterministic per (seed, epoch)
    assert len(x2) == len(y2) and all(y in (0, 1) for y in y2)
    every = make_online_callback(lambda m: swap_attack(m), fraction=1.0)
    xs, ys = every(m, 1, TEXTS, LABELS)
    assert "good awful movie" in xs and ys[xs.index("good awful movie")] == 1
    with pytest.raises(ConfigError):
        make_online_callback(lambda m: swap_attack(m), fraction=0)


def test_training_attacks_run_on_bf16_views_and_leave_the_models_alone():
    from textrobust.models import Runtime

    cpu = Runtime(device="cpu")

    class Recording(FakeClassifier):
        runtime = cpu

        def with_runtime(self, runtime):
            view = Recording()
            view.runtime, view.original = runtime, self
            return view

        def predict_proba(self, texts, batch_size=None):
            target = getattr(self, "original", self)
            target.seen = getattr(target, "seen", set()) | {self.runtime.precision}
            return super().predict_proba(texts, batch_size)

    class Encoder(BowEncoder):
        runtime = cpu

        def with_runtime(self, runtime):
            view = Encoder()
            view.runtime = runtime
            Encoder.views.append(view)
            return view

    for flag, expect in ((True, {"bf16"}), (False, {"auto"})):
        m, Encoder.views = Recording(), []
        enc = Encoder()
        cb = make_online_callback(
            lambda model, **r: swap_attack(model), fraction=1.0, cpu_bf16=flag, resources={"encoder": enc}
        )
        cb(m, 1, TEXTS, LABELS)
        assert m.seen == expect and m.runtime == cpu and enc.runtime == cpu  # the originals are untouched
        assert [v.runtime.precision for v in Encoder.views] == (["bf16"] if flag else [])


def test_package_import_is_light():
    import subprocess
    import sys

    code = "import sys, textrobust.adversarial; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_search_yields_only_known_requests():
    class Weird:
        requires_gradients = False

        def run(self, attack, original, label, probs, rng):
            yield "what"
            return original

    attack = Attack(FakeClassifier(), WordSwapSource(NEIGHBOURS), Weird())
    with pytest.raises(ConfigError, match="Partial is not a Search for search"):

        class Partial:  # a search without requires_gradients
            def run(self, attack, original, label, probs, rng):
                return original

        Attack(FakeClassifier(), WordSwapSource(NEIGHBOURS), Partial())
    with pytest.raises(ConfigError, match="GradientWordSwap needs the victim's gradients, but FakeClassifier"):
        from textrobust.adversarial import GradientWordSwap

        Attack(FakeClassifier(), GradientWordSwap(backend=None), Weird())
    with pytest.raises(TypeError, match="expected ModelQuery or BatchCall"):
        run_attack(attack, ["good movie"], [1], progress=False)
    assert ModelQuery([]).states == []
