"""The part-of-speech constraint (TextFooler / BAE / A2T): lexicon mode, callable taggers, NLTK's tagger (a tiny
one trained here, so no NLTK data is needed), the missing-data error, and the opt-in recipe wiring."""

from __future__ import annotations

import json
import random
import sys
import types

import numpy as np
import pytest
from conftest import CPU
from test_adversarial import BowEncoder, FakeClassifier, drive

from textrobust.adversarial import (
    RECIPES,
    AttackText,
    BatchCall,
    PartOfSpeech,
    a2t,
    bae,
    build_attack,
    run_attack,
    textfooler,
)
from textrobust.adversarial import constraints as constraints_mod
from textrobust.adversarial.constraints import coarse_pos
from textrobust.errors import ConfigError, ResourceError

# An OEWN-shaped lexicon: {"synonyms": {lemma: {pos: [synonyms]}}}; the POS keys are what the constraint reads.
LEXICON = {
    "source": "hand-written test lexicon",
    "synonyms": {
        "movie": {"n": ["film"]},
        "film": {"n": ["movie"], "v": ["shoot"]},
        "picture": {"n": ["movie"]},
        "great": {"a": ["fine"]},
        "awful": {"s": ["terrible"]},
        "good": {"a": ["fine"], "n": ["goodness"]},
        "run": {"v": ["go"]},
    },
    "antonyms": {"good": ["bad"]},
}


@pytest.fixture()
def lexicon_path(tmp_path):
    path = tmp_path / "lexicon.json"
    path.write_text(json.dumps(LEXICON), encoding="utf-8")
    return path


def kept(constraint, text: str, swaps: list[tuple[int, str]], original: str | None = None) -> list[str]:
    """Texts of the single-word swaps of ``text`` that pass ``constraint``."""
    cur = AttackText.from_text(text)
    orig = AttackText.from_text(original) if original else cur
    return [c.text for c in drive(constraint.filter(orig, cur, [cur.replace(i, w) for i, w in swaps]))]


# ----------------------------------------------------------------------------------------------- tags


def test_coarse_pos_maps_common_tagsets():
    assert [coarse_pos(t) for t in ("NN", "NNS", "VBZ", "MD", "JJR", "RB", "IN", "DT", "PRP$", ",")] == [
        "NOUN",
        "NOUN",
        "VERB",
        "VERB",
        "ADJ",
        "ADV",
        "ADP",
        "DET",
        "PRON",
        ".",
    ]
    assert [coarse_pos(t) for t in ("NOUN", "adj", "PROPN", "AUX", "n", "v", "a", "s", "r", "n-1")] == [
        "NOUN",
        "ADJ",
        "NOUN",
        "VERB",
        "NOUN",
        "VERB",
        "ADJ",
        "ADJ",
        "ADV",
        "NOUN",
    ]
    assert coarse_pos("custom") == "CUSTOM"


# ----------------------------------------------------------------------------------------------- lexicon


def test_lexicon_mode(lexicon_path):
    pos = PartOfSpeech("lexicon", lexicon=lexicon_path)
    swaps = [(2, "film"), (2, "great"), (2, "awful"), (2, "flick"), (2, "run")]
    # noun -> noun passes; noun -> adjective-only fails (also an "s" satellite adjective); a word the lexicon does
    # not know passes; noun -> verb passes because nouns and verbs may swap by default (TextAttack's default).
    assert kept(pos, "a great movie", swaps) == ["a great film", "a great flick", "a great run"]
    strict = PartOfSpeech("lexicon", lexicon=lexicon_path, allow_verb_noun_swap=False)
    assert kept(strict, "a great movie", swaps) == ["a great film", "a great flick"]
    # An unknown original word passes whatever replaces it; lookups are case-insensitive.
    assert kept(pos, "a zorp movie", [(1, "great"), (1, "movie")]) == ["a great movie", "a movie movie"]
    assert kept(pos, "a great MOVIE", [(2, "Great"), (2, "Film")]) == ["a great Film"]
    # Inflected forms are looked up by their lemma (WordNet's detachment rules): movies -> movie (noun).
    assert kept(pos, "great movies", [(1, "films"), (1, "greatest"), (1, "pictures")]) == [
        "great films",
        "great pictures",
    ]
    assert pos.accepts("movie", "picture") and not pos.accepts("movie", "great")


def test_lexicon_mode_compares_against_the_original_word(lexicon_path):
    # The reference word is the original's (TextAttack's compare_against_original=True) or the current text's.
    pos = PartOfSpeech("lexicon", lexicon=lexicon_path)
    assert kept(pos, "a great film", [(1, "awful")], original="a movie film") == []  # movie (n) -> awful (a)
    cur = PartOfSpeech("lexicon", lexicon=lexicon_path, compare_against_original=False)
    assert kept(cur, "a great film", [(1, "awful")], original="a movie film") == ["a awful film"]


def test_lexicon_sources_and_errors(lexicon_path, tmp_path):
    # A mapping works as well as a file: {word: [tags]} or {word: {pos: ...}}.
    pos = PartOfSpeech("lexicon", lexicon={"movie": ["NN"], "film": "n", "great": {"a": []}})
    assert pos.accepts("movie", "film") and not pos.accepts("movie", "great")
    with pytest.raises(ResourceError, match="not found"):
        PartOfSpeech("lexicon", lexicon=tmp_path / "nope.json")
    plain = tmp_path / "neighbours.json"
    plain.write_text(json.dumps({"movie": ["film", "picture"]}), encoding="utf-8")
    with pytest.raises(ResourceError, match="no part-of-speech entries"):
        PartOfSpeech("lexicon", lexicon=plain)  # a synonym list: its values are words, not tags
    with pytest.raises(ConfigError, match="must be 'spacy', 'nltk', 'lexicon' or a callable"):
        PartOfSpeech("flair")
    with pytest.raises(ConfigError):
        PartOfSpeech(lambda toks: ["NN"] * len(toks), lexicon=lexicon_path)
    with pytest.raises(ConfigError):
        PartOfSpeech("lexicon", lexicon=lexicon_path, context_words=-1)


def test_lexicon_mode_on_the_shared_oewn_lexicon(data_dir):
    path = data_dir / "word_resources" / "oewn_lexicon.json"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    pos = PartOfSpeech("lexicon", lexicon=path)
    assert pos.accepts("movie", "film") and pos.accepts("terrible", "awful")
    assert not pos.accepts("movie", "terrible") and not pos.accepts("quickly", "movie")


# ----------------------------------------------------------------------------------------------- taggers

PTB = {
    "the": "DT",
    "a": "DT",
    "movie": "NN",
    "film": "NN",
    "plot": "NN",
    "was": "VBD",
    "good": "JJ",
    "great": "JJ",
    "awful": "JJ",
    "quickly": "RB",
    "we": "PRP",
    "watch": "VBP",
}


class DictTagger:
    """Tags from a dictionary, except "film" after "we" (a verb): a context-sensitive toy; counts its calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    def __call__(self, tokens: list[str]) -> list[str]:
        self.calls.append(tuple(tokens))
        return [
            "VBP" if t == "film" and k and tokens[k - 1] == "we" else PTB.get(t.lower(), "NN")
            for k, t in enumerate(tokens)
        ]


def test_callable_tagger_in_context():
    tagger = DictTagger()
    pos = PartOfSpeech(tagger, allow_verb_noun_swap=False)
    assert kept(pos, "the movie was good", [(1, "film"), (1, "great"), (1, "quickly"), (3, "great")]) == [
        "the film was good",
        "the movie was great",
    ]
    # Tagged in context: "film" after "we" is a verb, so it may replace the verb "watch"; "movie" may not.
    assert kept(pos, "we watch a movie", [(1, "film"), (1, "movie"), (3, "film")]) == [
        "we film a movie",
        "we watch a film",
    ]
    # With noun/verb swaps allowed (the default), the noun may replace the verb too.
    assert len(kept(PartOfSpeech(DictTagger()), "we watch a movie", [(1, "film"), (1, "movie")])) == 2


def test_tagger_calls_are_one_batch_of_context_windows_and_cached():
    tagger = DictTagger()
    pos = PartOfSpeech(tagger, context_words=2)
    text = AttackText.from_text("one two three four five six seven eight")
    gen = pos.filter(text, text, [text.replace(4, "film"), text.replace(4, "movie"), text.replace(0, "good")])
    call = next(gen)
    assert isinstance(call, BatchCall) and call.backend is pos._backend
    # Windows: 2 words either side of the swapped word (cut at the text's ends), the reference window once.
    assert list(call.inputs) == [
        ("three", "four", "five", "six", "seven"),
        ("three", "four", "film", "six", "seven"),
        ("three", "four", "movie", "six", "seven"),
        ("one", "two", "three"),
        ("good", "two", "three"),
    ]
    answers = call.backend(list(call.inputs))
    with pytest.raises(StopIteration) as stop:
        gen.send(answers)
    assert [c.text.split()[4] for c in stop.value.value] == ["film", "movie"]  # NN -> NN passes, NN -> JJ fails
    n = len(tagger.calls)
    call.backend(list(call.inputs))
    assert len(tagger.calls) == n  # tags cached per window
    # Swaps to the same word (no change) and candidates without a new index need no tagging.
    assert drive(pos.filter(text, text, [text])) == [text]


def test_tagger_objects_pairs_and_bad_output():
    class PairTagger:  # NLTK-style: an object with .tag(tokens) -> [(token, tag), ...]
        def tag(self, tokens):
            return [(t, PTB.get(t, "NN")) for t in tokens]

    pos = PartOfSpeech(PairTagger())
    assert kept(pos, "the movie was good", [(1, "film"), (1, "good")]) == ["the film was good"]
    bad = PartOfSpeech(lambda tokens: ["NN"])
    with pytest.raises(ConfigError, match="1 tags for 4 tokens"):
        kept(bad, "the movie was good", [(1, "film")])


# ----------------------------------------------------------------------------------------------- NLTK

TRAIN = [
    [("the", "DT"), ("movie", "NN"), ("was", "VBD"), ("good", "JJ")],
    [("a", "DT"), ("film", "NN"), ("is", "VBZ"), ("bad", "JJ")],
    [("the", "DT"), ("plot", "NN"), ("was", "VBD"), ("dull", "JJ")],
    [("a", "DT"), ("good", "JJ"), ("movie", "NN")],
    [("a", "DT"), ("bad", "JJ"), ("film", "NN")],
    [("they", "PRP"), ("film", "VBP"), ("the", "DT"), ("story", "NN")],
    [("the", "DT"), ("story", "NN"), ("was", "VBD"), ("great", "JJ")],
    [("we", "PRP"), ("watch", "VBP"), ("a", "DT"), ("great", "JJ"), ("film", "NN")],
]


@pytest.fixture(scope="module")
def tiny_nltk_tagger():
    """NLTK's averaged perceptron trained on a handful of hand-tagged sentences: the real code path, no data."""
    perceptron = pytest.importorskip("nltk.tag.perceptron")
    state = random.getstate()
    random.seed(0)  # train() shuffles with the global RNG
    try:
        tagger = perceptron.PerceptronTagger(load=False)
        tagger.train(TRAIN * 25, nr_iter=5)  # 25 copies: unambiguous words enter its tag dictionary
    finally:
        random.setstate(state)
    return tagger


@pytest.fixture()
def fresh_nltk_backend():
    constraints_mod._nltk_backend.cache_clear()
    yield
    constraints_mod._nltk_backend.cache_clear()


def check_nltk_like(pos: PartOfSpeech) -> None:
    assert kept(pos, "the movie was good", [(1, "film"), (1, "good"), (3, "great"), (3, "story")]) == [
        "the film was good",
        "the movie was great",
    ]
    # "film" is ambiguous: tagged a verb after "they", so it may replace the verb "watch".
    assert kept(pos, "they watch the story", [(1, "film"), (1, "good")]) == ["they film the story"]


def test_nltk_perceptron_tagger_passed_in(tiny_nltk_tagger):
    check_nltk_like(PartOfSpeech(tiny_nltk_tagger))
    check_nltk_like(PartOfSpeech(tiny_nltk_tagger.tag))
    strict = PartOfSpeech(tiny_nltk_tagger, allow_verb_noun_swap=False)
    assert kept(strict, "they movie the story", [(1, "film")]) == []  # NN -> VBP in context


def test_nltk_mode_loads_the_perceptron_tagger(tiny_nltk_tagger, fresh_nltk_backend, monkeypatch):
    import nltk.tag.perceptron as perceptron

    class Pretrained(perceptron.PerceptronTagger):  # stands in for the downloaded model
        def __init__(self, *args, **kwargs):
            super().__init__(load=False)
            self.model, self.tagdict, self.classes = (
                tiny_nltk_tagger.model,
                tiny_nltk_tagger.tagdict,
                tiny_nltk_tagger.classes,
            )

    monkeypatch.setattr(perceptron, "PerceptronTagger", Pretrained)
    pos = PartOfSpeech("nltk")
    check_nltk_like(pos)
    assert PartOfSpeech("nltk")._backend is pos._backend  # loaded once per process


def test_nltk_mode_missing_data_says_how_to_get_it(fresh_nltk_backend, monkeypatch):
    def no_data(*args, **kwargs):
        raise LookupError("Resource 'averaged_perceptron_tagger_eng' not found.")

    fake = types.ModuleType("nltk")
    fake.tag = types.ModuleType("nltk.tag")
    fake.tag.perceptron = types.ModuleType("nltk.tag.perceptron")
    fake.tag.perceptron.PerceptronTagger = no_data
    for name, mod in (("nltk", fake), ("nltk.tag", fake.tag), ("nltk.tag.perceptron", fake.tag.perceptron)):
        monkeypatch.setitem(sys.modules, name, mod)
    with pytest.raises(ResourceError) as err:
        PartOfSpeech("nltk")
    msg = str(err.value)
    assert "\n" not in msg
    assert "python -m nltk.downloader averaged_perceptron_tagger_eng" in msg and "NLTK_DATA" in msg
    with pytest.raises(ResourceError, match="averaged_perceptron_tagger_eng"):
        textfooler(FakeClassifier(), neighbours={}, encoder=BowEncoder(), pos="nltk")
    # Without NLTK at all: say to install it.
    for name in ("nltk", "nltk.tag", "nltk.tag.perceptron"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ResourceError, match="pip install nltk"):
        PartOfSpeech("nltk")


def test_nltk_mode_with_the_real_loader_and_no_data(fresh_nltk_backend, monkeypatch, tmp_path):
    nltk_data = pytest.importorskip("nltk.data")
    monkeypatch.setattr(nltk_data, "path", [str(tmp_path)])  # an empty data folder: nothing to find
    with pytest.raises(ResourceError, match="nltk.downloader averaged_perceptron_tagger_eng"):
        PartOfSpeech("nltk")


# ----------------------------------------------------------------------------------------------- recipes

# In "good movie" the only candidate is movie -> awful: an adjective for a noun, which flips the fake model.
NEIGHBOURS = {"movie": ["awful"], "great": ["fine"]}


def fake_mlm(inputs):
    """A masked-LM stand-in for BAE (a batched backend): NEIGHBOURS' candidates for the word at the index."""
    return [NEIGHBOURS.get(words[i].lower(), []) for words, i, _masked, _k in inputs]


RECIPE_BUILDERS = {
    "textfooler": lambda m, **kw: textfooler(m, neighbours=NEIGHBOURS, encoder=BowEncoder(), **kw),
    "a2t": lambda m, **kw: a2t(m, neighbours=NEIGHBOURS, encoder=BowEncoder(), sim_threshold=0.0, **kw),
    "bae": lambda m, **kw: bae(m, mlm=fake_mlm, encoder=BowEncoder(), **kw),
}


@pytest.mark.parametrize("name", sorted(RECIPE_BUILDERS))
def test_recipe_with_pos_lexicon_rejects_a_mismatched_swap(name, lexicon_path):
    text, label = "good movie", 1  # score 1.0 -> pos; "good awful" scores -1.0 -> neg
    plain = RECIPE_BUILDERS[name](FakeClassifier())
    assert not any(isinstance(c, PartOfSpeech) for c in plain.post_constraints)  # off by default
    (r,) = run_attack(plain, [text], [label], progress=False).results
    assert r.status == "succeeded" and r.perturbed_text == "good awful"

    model = FakeClassifier()
    attack = RECIPE_BUILDERS[name](model, pos="lexicon", pos_lexicon=lexicon_path)
    (pos,) = [c for c in attack.post_constraints if isinstance(c, PartOfSpeech)]
    assert pos.allow_verb_noun_swap is (name != "a2t")  # A2T: TextAttack's PartOfSpeech(allow_verb_noun_swap=False)
    (r,) = run_attack(attack, [text], [label], progress=False).results
    assert r.status == "failed" and "good awful" not in model.texts_sent  # never reached the model


def test_recipe_pos_options(lexicon_path):
    tagger = DictTagger()
    attack = textfooler(FakeClassifier(), neighbours=NEIGHBOURS, encoder=BowEncoder(), pos=tagger)
    (r,) = run_attack(attack, ["good movie"], [1], progress=False).results
    assert r.status == "failed" and tagger.calls  # movie (NN) -> awful (JJ) rejected by the callable tagger
    given = PartOfSpeech("lexicon", lexicon=lexicon_path)
    assert (
        given in textfooler(FakeClassifier(), neighbours=NEIGHBOURS, encoder=BowEncoder(), pos=given).post_constraints
    )
    with pytest.raises(ConfigError):
        textfooler(FakeClassifier(), neighbours=NEIGHBOURS, encoder=BowEncoder(), pos="nltk", pos_lexicon=lexicon_path)
    with pytest.raises(ConfigError):
        textfooler(FakeClassifier(), neighbours=NEIGHBOURS, encoder=BowEncoder(), pos="stanza")
    # build_attack passes pos= through; recipes without a POS check ignore it in a shared resource dict.
    attack = build_attack(
        "textfooler",
        FakeClassifier(),
        neighbours=NEIGHBOURS,
        encoder=BowEncoder(),
        pos="lexicon",
        pos_lexicon=lexicon_path,
    )
    assert any(isinstance(c, PartOfSpeech) for c in attack.post_constraints)
    build_attack("deepwordbug", FakeClassifier(), pos="lexicon", pos_lexicon=lexicon_path)
    assert RECIPES["textfooler"].resources == ("neighbours", "encoder")  # pos stays optional


def test_recipe_with_pos_on_a_tiny_transformer(tiny_model_dir, lexicon_path):
    """End to end with a real (tiny, untrained) TextClassifier: mismatched swaps never reach the model."""
    pytest.importorskip("torch")
    from textrobust.models import TextClassifier

    clf = TextClassifier(tiny_model_dir, labels=["neg", "pos"], max_length=32, runtime=CPU)
    sent: list[str] = []

    class Recording:
        labels = clf.labels

        def predict_proba(self, texts, batch_size=None):
            sent.extend(texts)
            return clf.predict_proba(texts)

    texts = ["the movie was great .", "a great movie , really"]
    labels = np.asarray(clf.predict_proba(texts)).argmax(1).tolist()
    by_first = {t.split()[0]: t.split() for t in texts}  # "the ...", "a ...": stopwords, never edited
    neighbours = {"movie": ["awful", "film"], "great": ["fine", "movie"]}

    def scored_swaps(**pos):
        """(old, new) word pairs of the swaps the model scored (ranking queries delete a word: shorter)."""
        sent.clear()
        attack = textfooler(Recording(), neighbours=neighbours, encoder=BowEncoder(), **pos)
        assert len(run_attack(attack, texts, labels, progress=False).results) == 2
        swaps = set()
        for t in sent:
            words = t.split()
            if len(words) == len(by_first[words[0]]):
                swaps |= {(a, b) for a, b in zip(by_first[words[0]], words, strict=True) if a != b}
        return swaps

    # POS-safe swaps only: movie (n) -> film (n), great (a) -> fine (unknown to the lexicon: passes); never
    # movie -> awful (a) or great -> movie (n), which the attack without the constraint does try.
    safe = {("movie", "film"), ("great", "fine")}
    assert scored_swaps() - safe
    swaps = scored_swaps(pos="lexicon", pos_lexicon=lexicon_path)
    assert swaps and swaps <= safe


# ----------------------------------------------------------------------------------------------- spaCy
@pytest.fixture(scope="module")
def spacy_ready():
    from textrobust.extras import spacy_model_name

    if pytest.importorskip("spacy", reason="spaCy not installed (pip install '.[pos]')") and spacy_model_name() is None:
        pytest.skip("no en_core_web_sm pipeline installed (pip install '.[pos]')")


def test_spacy_tags_in_context_and_maps_to_universal(spacy_ready):
    backend = constraints_mod._spacy_backend()
    ctx = [("the", "film", "was", "good"), ("they", "film", "the", "story"), ("a", "good", "film", ".")]
    # Hand-checked: "film" is a noun after a determiner and a verb after a pronoun; PTB tags -> universal.
    assert backend(ctx) == [
        ("DET", "NOUN", "VERB", "ADJ"),
        ("PRON", "VERB", "DET", "NOUN"),
        ("DET", "ADJ", "NOUN", "."),
    ]
    assert backend(ctx[:1]) == backend(ctx)[:1]  # cached per window, same answer


def test_spacy_mode_keeps_same_pos_swaps(spacy_ready):
    pos = PartOfSpeech("spacy")
    # Hand-checked with en_core_web_sm 3.8: film (NOUN) and great (ADJ) keep the tag; quickly (ADV) and story
    # (NOUN, for the adjective "good") do not.
    assert kept(pos, "the movie was good", [(1, "film"), (1, "quickly"), (3, "great"), (3, "story")]) == [
        "the film was good",
        "the movie was great",
    ]
    # In context "film" after "they" is a verb: it may replace the verb "watch"; the adverb "quickly" may not.
    assert kept(pos, "they watch the story", [(1, "film"), (1, "quickly")]) == ["they film the story"]


@pytest.mark.parametrize("name", sorted(RECIPE_BUILDERS))
def test_recipe_with_pos_spacy_rejects_a_mismatched_swap(name, spacy_ready):
    model = FakeClassifier()
    attack = RECIPE_BUILDERS[name](model, pos="spacy")
    (pos,) = [c for c in attack.post_constraints if isinstance(c, PartOfSpeech)]
    assert pos.tagger == "spacy"
    (r,) = run_attack(attack, ["good movie"], [1], progress=False).results
    assert r.status == "failed" and "good awful" not in model.texts_sent  # noun -> adjective rejected


def test_spacy_missing_names_the_extra(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name.startswith(("spacy", "en_core")) else real(name, *a)
    )
    constraints_mod._spacy_backend.cache_clear()
    try:
        with pytest.raises(
            ResourceError,
            match=r"pos='spacy'.* needs spaCy's en_core_web_sm tagger .*"
            r"pip install 'textrobust\[pos\]'",
        ):
            PartOfSpeech("spacy")
    finally:
        constraints_mod._spacy_backend.cache_clear()
