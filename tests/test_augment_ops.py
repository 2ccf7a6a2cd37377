"""Focused behaviour of the rule-based operators, synonym sources, containers and filters."""

from __future__ import annotations

import json
import re
import struct

import numpy as np
import pytest
from conftest import CPU

from textrobust.augment import EDA, CharNoise, OneOf, Sequential, SomeOf, Sometimes, Synonym, parse_op
from textrobust.augment.filters import Dedup, LabelPreserving, Length, Similarity, filter_from_spec
from textrobust.augment.sources import (
    DEFAULT_STOPWORDS,
    EmbeddingSource,
    LexiconSource,
    WordNetSource,
    load_source,
    load_stopwords,
)
from textrobust.errors import ConfigError, ResourceError

LEX = {
    "movie": ["film", "Movie"],
    "great": ["superb", "excellent"],
    "story": ["tale"],
    "the": ["this"],
    "wonderful": ["marvelous"],
    "acting": ["performing"],
}


@pytest.fixture(scope="module")
def lex(tmp_path_factory) -> str:
    p = tmp_path_factory.mktemp("lex") / "lex.json"
    p.write_text(json.dumps(LEX))
    return str(p)


# -- sources ---------------------------------------------------------------------------------------------------
def test_lexicon_formats_are_detected(tmp_path) -> None:
    flat, by_pos, oewn = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.json"
    flat.write_text(json.dumps({"Good": ["fine", "good", "nice"]}))
    by_pos.write_text(json.dumps({"run": {"v": ["sprint"], "n": ["trial"]}}))
    oewn.write_text(json.dumps({"source": "x", "synonyms": {"run": {"v": ["jog"]}}, "antonyms": {}}))
    assert LexiconSource(flat).synonyms("GOOD") == ["fine", "nice"]  # case-insensitive, never the word itself
    assert LexiconSource(by_pos).synonyms("run", "verb") == ["sprint"]
    assert LexiconSource(by_pos).synonyms("run") == ["sprint", "trial"]
    assert LexiconSource(by_pos).synonyms("run", "adj") == []
    assert LexiconSource(oewn).synonyms("run") == ["jog"]
    with pytest.raises(ResourceError, match="not found"):
        LexiconSource(tmp_path / "missing.json")


@pytest.mark.parametrize("fmt", ["glove", "w2v_text", "w2v_bin"])
def test_embedding_source_reads_all_formats(tmp_path, fmt) -> None:
    vecs = {"good": [1, 0, 0], "fine": [0.9, 0.1, 0], "nice": [0.8, 0.3, 0.1], "bad": [-1, 0, 0]}
    path = tmp_path / "v.bin"
    if fmt == "w2v_bin":
        with open(path, "wb") as fh:
            fh.write(b"4 3\n")
            fh.writelines(w.encode() + b" " + struct.pack("3f", *v) + b"\n" for w, v in vecs.items())
    else:
        lines = [f"{w} {' '.join(map(str, v))}" for w, v in vecs.items()]
        path.write_text(("4 3\n" if fmt == "w2v_text" else "") + "\n".join(lines) + "\n")
    src = EmbeddingSource(path, top_k=3, min_cos=0.5)
    assert src.synonyms("Good") == ["fine", "nice"]
    assert src.synonyms("unknown") == []


def test_wordnet_missing_is_a_resource_error_with_instructions(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TEXTROBUST_WORDNET", str(tmp_path))  # an empty folder: no database there
    with pytest.raises(
        ResourceError,
        match=r"^eda:source=wordnet needs Princeton WordNet 3\.0 .*"
        r"apt-get install wordnet-base wordnet-sense-index",
    ):
        WordNetSource(who="eda:source=wordnet")
    op = parse_op("eda:alpha_rs=0,p_rd=0")  # synonym replacement and insertion: needs the installed WordNet
    with pytest.raises(ResourceError, match="eda:source=wordnet needs Princeton WordNet"):
        op(["a good film"], seed=0)


def test_load_source_caches_and_validates(lex) -> None:
    assert load_source("lexicon", lex) is load_source("lexicon", lex)
    with pytest.raises(ConfigError, match="valid: lexicon, embedding, wordnet"):
        load_source("thesaurus", lex)
    with pytest.raises(ConfigError, match="needs path"):
        load_source("lexicon")


def test_stopwords(tmp_path) -> None:
    assert "the" in load_stopwords() and load_stopwords() is DEFAULT_STOPWORDS
    p = tmp_path / "s.txt"
    p.write_text("Foo\nbar\n\n")
    assert load_stopwords(p) == {"foo", "bar"}
    with pytest.raises(ResourceError):
        load_stopwords(tmp_path / "none.txt")


# -- synonym / eda ---------------------------------------------------------------------------------------------
def test_synonym_keeps_case_punctuation_and_stopwords(lex) -> None:
    op = Synonym(path=lex, p=1.0)
    out = op(['The "Movie" was GREAT, a wonderful story!'], seed=0, n=3)[0]
    assert out
    for v in out:
        assert v.startswith("The ") and v.endswith("!")  # stopword "the" untouched despite a lexicon entry
        assert re.fullmatch(r'The "(Film)" was (SUPERB|EXCELLENT), a marvelous tale!', v), v


def test_synonym_skips_numbers_and_no_candidates(lex) -> None:
    op = Synonym(path=lex, p=1.0)
    assert op(["123 456 !!!", "nothing known here"], seed=0) == [[], []]


def test_eda_counts(lex) -> None:
    text = "alpha beta gamma delta epsilon zeta eta theta iota kappa"  # 10 words
    rs = EDA(alpha_sr=0, alpha_ri=0, alpha_rs=0.2, p_rd=0)
    for v in rs([text], seed=0, n=5)[0]:
        assert sorted(v.split()) == sorted(text.split())
        assert sum(a != b for a, b in zip(v.split(), text.split(), strict=True)) <= 4  # 2 swaps touch at most 4 words
    rd = EDA(alpha_sr=0, alpha_ri=0, alpha_rs=0, p_rd=0.3)
    for v in rd([text], seed=0, n=5)[0]:
        assert set(v.split()) < set(text.split())
    ri = EDA(path=lex, alpha_sr=0, alpha_ri=0.2, alpha_rs=0, p_rd=0)
    for v in ri(["the movie had great acting and a story"], seed=0, n=3)[0]:
        assert len(v.split()) == 8 + 2  # round(0.2 * 8) = 2 insertions
    sr = EDA(path=lex, alpha_sr=0.5, alpha_ri=0, alpha_rs=0, p_rd=0)
    for v in sr(["the movie had great acting"], seed=0, n=3)[0]:
        assert len(v.split()) == 5


def test_eda_alpha_shortcut_and_validation(lex) -> None:
    op = parse_op(f"eda:alpha=0.3,path={lex}")
    assert (op.params.alpha_sr, op.params.alpha_ri, op.params.alpha_rs, op.params.p_rd) == (0.3,) * 4
    assert EDA().params.kind() == "wordnet" and EDA(path=lex).params.kind() == "lexicon"  # source=auto
    assert EDA(path=lex).spec_str() == f"eda:path={lex}" and parse_op(EDA(path=lex).spec_str()) == EDA(path=lex)
    with pytest.raises(ConfigError, match=r"eda: invalid path=None; valid: a JSON lexicon"):
        EDA(source="lexicon")
    with pytest.raises(ConfigError, match=r"eda: invalid p_rd=1.5"):
        EDA(alpha_sr=0, alpha_ri=0, p_rd=1.5)
    with pytest.raises(ConfigError, match=r"synonym: invalid source='wiki'; valid: auto\|lexicon\|embedding\|wordnet"):
        Synonym(source="wiki", path=lex)


# -- char ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kind", ["keyboard", "ocr", "random_insert", "random_substitute", "random_swap", "random_delete", "spelling"]
)
def test_char_kinds(kind) -> None:
    text = "The quick brown foxes believe everything, because people are beautiful."
    out = CharNoise(kind=kind, p=0.5)([text], seed=2, n=3)[0]
    assert out and all(v != text for v in out)
    for v in out:
        words, orig = v.split(), text.split()
        if kind == "random_insert":
            assert len(v) > len(text)
        elif kind == "random_delete":
            assert len(v) < len(text) and len(words) == len(orig)
        elif kind in ("random_swap", "random_substitute", "keyboard"):
            assert len(v) == len(text)
        assert v.endswith(".") or kind in ("ocr", "random_delete", "random_insert", "random_substitute")


def test_keyboard_uses_nlpaug_neighbours() -> None:
    from textrobust.augment.char import keyboard_table

    table = keyboard_table()
    out = CharNoise(kind="keyboard", p=1.0, char_p=1.0, max_per_word=1, min_word_len=1)(["a"], seed=0, n=5)[0]
    assert out and all(v in table["a"] for v in out)


def test_char_validation_messages() -> None:
    with pytest.raises(ConfigError, match=r"char: invalid p=0; valid: a float in \(0, 1\]"):
        CharNoise(p=0)
    with pytest.raises(ConfigError, match="max_per_word"):
        CharNoise(min_per_word=3, max_per_word=2)
    with pytest.raises(ConfigError, match=r"char: unknown parameter\(s\) colour; valid: "):
        CharNoise(colour="red")


# -- containers ------------------------------------------------------------------------------------------------
def test_containers_compose_and_validate() -> None:
    text = ["the quick brown foxes jump over lazy dogs"]
    seq = Sequential([CharNoise(kind="random_swap", p=1.0), CharNoise(kind="random_insert", p=1.0)])
    assert len(seq(text, seed=0)[0][0]) > len(text[0])
    only_second = OneOf([CharNoise(kind="random_delete"), CharNoise(kind="random_insert")], weights=[0, 1])
    assert all(len(v) > len(text[0]) for v in only_second(text, seed=0, n=3)[0])
    never = Sometimes(CharNoise(kind="ocr"), p=0.0)
    assert never(text, seed=0, n=2) == [[]]
    some = SomeOf([CharNoise(kind="random_swap"), CharNoise(kind="random_delete")], n=2)
    assert some(text, seed=1)[0]
    with pytest.raises(ConfigError, match="one_of: invalid weights"):
        OneOf([CharNoise()], weights=[1, 2])
    with pytest.raises(ConfigError, match=r"some_of: invalid n=3; valid: an integer in \[1, 2\]"):
        SomeOf([CharNoise(), CharNoise(kind="ocr")], n=3)
    with pytest.raises(ConfigError, match="sequential: invalid ops"):
        Sequential([])


def test_nlpaug_adapter_is_deterministic_and_restores_global_state() -> None:
    import random

    op = parse_op("nlpaug:augmenter=nlpaug.augmenter.char.KeyboardAug")
    random.seed(123)
    np.random.seed(123)
    before = (random.random(), np.random.rand())
    random.seed(123)
    np.random.seed(123)
    a = op(["typing quickly causes many mistakes"], seed=4, n=2)
    assert (random.random(), np.random.rand()) == before
    assert a == op(["typing quickly causes many mistakes"], seed=4, n=2) and a[0]


# -- filters ---------------------------------------------------------------------------------------------------
def test_dedup_and_length() -> None:
    kept, dropped = Dedup()(["A b"], [["a  B", "c d", "C D ", "e"]])
    assert kept == [["c d", "e"]] and dropped == 2
    kept, dropped = Length(min_words=2, max_chars=4)(["x"], [["a b", "a", "a b c"]])
    assert kept == [["a b"]] and dropped == 2
    with pytest.raises(ConfigError, match="min_words"):
        Length(min_words=-1)
    assert filter_from_spec({"length": {"min_words": 1}}).bounds[0] == 1
    with pytest.raises(ConfigError, match="unknown filter"):
        filter_from_spec("nope")


class _Clf:
    labels = ("neg", "pos")

    def predict_proba(self, texts):
        return np.array([[0.1, 0.9] if "good" in t else [0.8, 0.2] for t in texts])


def test_label_preserving() -> None:
    f = LabelPreserving(_Clf(), threshold=0.5)
    kept, dropped = f(
        ["good film", "bad film"], [["good movie", "bad movie"], ["awful movie", "good one"]], labels=["pos", 0]
    )
    assert kept == [["good movie"], ["awful movie"]] and dropped == 2
    kept, _ = f(["good film"], [["good movie", "meh"]])  # no labels: the classifier's own prediction
    assert kept == [["good movie"]]
    with pytest.raises(ConfigError, match="predict_proba"):
        LabelPreserving(object())


def test_similarity_filter_with_a_tiny_encoder(tiny_model_dir) -> None:
    orig, near, far = "the film was good", "the film was good .", "service poor messy ending cast"
    emb = Similarity(model=str(tiny_model_dir), runtime=CPU).encoder().encode([orig, near, far])
    assert np.allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-5)
    s_near, s_far = float(emb[1] @ emb[0]), float(emb[2] @ emb[0])
    assert s_near > s_far
    f = Similarity(threshold=(s_near + s_far) / 2, model=str(tiny_model_dir), runtime=CPU)
    assert f([orig], [[near, far]]) == ([[near]], 1)
    loose = Similarity(threshold=-1.0, model=str(tiny_model_dir), runtime=CPU)
    assert loose(["a"], [["b", "c"]]) == ([["b", "c"]], 0)


# -- shared data (skipped when the configured data directory is absent) ---------------------------------------
def test_synonym_on_real_lexicons_and_stopwords(data_dir) -> None:
    oewn = data_dir / "word_resources" / "oewn_lexicon.json"
    cf = data_dir / "word_resources" / "counterfitted_neighbors.json"
    stop = data_dir / "stopwords" / "textfooler_stopwords.txt"
    if not (oewn.exists() and cf.exists() and stop.exists()):
        pytest.skip(f"word resources missing under {data_dir}")
    lines = (data_dir / "mr" / "rt-polarity.pos").read_bytes().decode("cp1252").split("\n")[:50]
    for path in (oewn, cf):
        op = Synonym(path=str(path), stopwords=str(stop), p=0.2)
        out = op(lines, seed=0, n=2)
        assert sum(map(len, out)) > 60
        stops = load_stopwords(stop)
        for text, vs in zip(lines, out, strict=True):
            for v in vs:
                if len(v.split()) == len(text.split()):  # single-word synonyms: stopwords stay in place
                    assert all(a == b for a, b in zip(v.split(), text.split(), strict=True) if b.lower() in stops)


@pytest.mark.integration
def test_similarity_filter_with_minilm(minilm_dir) -> None:
    f = Similarity(threshold=0.7, model=minilm_dir, runtime=CPU)
    kept, dropped = f(["the movie was great"], [["the film was great", "bananas are yellow"]])
    assert kept == [["the film was great"]] and dropped == 1
