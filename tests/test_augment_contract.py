"""Contract tests every registered operator must pass (table-driven over the registry).

Adding an operator to the registry without adding it to CASES fails ``test_every_registered_operator_has_a_case``;
each case runs on sentences of its language (CASE_LANG: English unless listed), and every operator declares the
languages it supports (``test_every_registered_operator_declares_languages``). Cases whose optional extra is missing
skip, naming what to install.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from textrobust.augment import (
    OneOf,
    Operator,
    Sequential,
    SomeOf,
    Sometimes,
    operator_from_spec,
    parse_op,
    registered,
)
from textrobust.errors import ConfigError, LanguageError, ResourceError

SENTENCES = [
    "The movie was a wonderful and moving story about family.",
    "A dull, boring film with terrible acting and a silly plot!",
    "Honestly the best performance I have seen this year.",
    "Quick brown foxes jump over lazy dogs near the river.",
    "This restaurant serves delicious food at fair prices.",
    "The actors seemed tired, but the music was great.",
]
ZH_SENTENCES = [
    "这家酒店的服务非常好，房间也很干净，下次还会再来。",
    "房间太小了，空调声音很吵，服务员态度也差，不推荐！",
    "这本书写得很有意思，我一口气就读完了。",
    "电脑用了一个星期就坏了，客服一直不回复。",
    "价格便宜，质量不错，物流也很快。",
    "电影的剧情很无聊，演员的表演也很一般。",
]
EDGE = [
    "",
    "   \t\n ",
    "word " * 2000,
    "Great movie 😀🎬 loved it 👍",
    "这部电影非常好看 我很喜欢",
    "Фильм был очень хорошим",
    "فيلم رائع جدا",
]

LEXICON = {
    "movie": ["film", "picture"],
    "wonderful": ["marvelous", "great"],
    "moving": ["touching", "stirring"],
    "story": ["tale", "narrative"],
    "family": ["household", "kin"],
    "dull": ["boring", "tedious"],
    "boring": ["dull", "tedious"],
    "film": ["movie", "picture"],
    "terrible": ["awful", "dreadful"],
    "acting": ["performing"],
    "silly": ["foolish", "goofy"],
    "plot": ["storyline"],
    "best": ["finest", "top"],
    "performance": ["show"],
    "seen": ["watched"],
    "year": ["twelvemonth"],
    "quick": ["fast", "speedy"],
    "brown": ["tan"],
    "jump": ["leap", "hop"],
    "lazy": ["idle", "slothful"],
    "dogs": ["hounds"],
    "river": ["stream"],
    "restaurant": ["eatery", "diner"],
    "serves": ["offers"],
    "delicious": ["tasty", "yummy"],
    "food": ["fare", "meals"],
    "fair": ["reasonable"],
    "prices": ["costs"],
    "actors": ["performers"],
    "tired": ["weary", "exhausted"],
    "music": ["score"],
    "great": ["fine", "excellent"],
    "loved": ["adored"],
}


@pytest.fixture(scope="module")
def lexicon(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("lex") / "lexicon.json"
    path.write_text(json.dumps(LEXICON), encoding="utf-8")
    return str(path)


# name -> factory(lexicon_path) -> operator. Containers are built from cheap rule-based children.
CASES: dict[str, Callable[[str], Operator]] = {
    "char": lambda lex: parse_op("char:kind=keyboard,p=0.3"),
    "synonym": lambda lex: parse_op(f"synonym:p=0.3,path={lex}"),
    "eda": lambda lex: parse_op(f"eda:alpha=0.2,path={lex}"),
    "nlpaug": lambda lex: parse_op("nlpaug:augmenter=nlpaug.augmenter.char.RandomCharAug"),
    "sequential": lambda lex: Sequential([parse_op("char:kind=ocr"), parse_op(f"synonym:path={lex}")]),
    "one_of": lambda lex: OneOf([parse_op("char:kind=random_swap"), parse_op("char:kind=spelling")], weights=[1, 3]),
    "some_of": lambda lex: SomeOf(
        [parse_op("char:kind=random_delete"), parse_op(f"eda:path={lex}"), parse_op("char:kind=random_insert")], n=2
    ),
    "sometimes": lambda lex: Sometimes(parse_op("char:kind=random_substitute"), p=0.7),
    "zh_char": lambda lex: parse_op("zh_char:kind=homophone,p=0.1"),
    "zh_script": lambda lex: parse_op("zh_script:p=0.5"),
    "punct_width": lambda lex: parse_op("punct_width:p=0.5"),
}
#: The language of each case's inputs (English unless listed).
CASE_LANG = {"zh_char": "zh", "zh_script": "zh"}
# Model-backed operators register their cases from tests/test_augment_models.py fixtures (heavier).
MODEL_BACKED = {"contextual", "backtranslate", "generate", "paraphrase"}


def test_every_registered_operator_has_a_case() -> None:
    missing = sorted(set(registered()) - set(CASES) - MODEL_BACKED)
    assert not missing, f"add contract cases for: {missing}"


@pytest.fixture(params=sorted(CASES))
def op(request: pytest.FixtureRequest, lexicon: str) -> Operator:
    made = CASES[request.param](lexicon)
    try:
        made.check_extras()
    except ResourceError as exc:
        pytest.skip(str(exc))
    return made


def inputs(op: Operator) -> list[str]:
    """The case's sentences, in its language."""
    return ZH_SENTENCES if CASE_LANG.get(op.name) == "zh" else SENTENCES


def test_every_registered_operator_declares_languages() -> None:
    from textrobust.lang import LANGUAGES

    for name, cls in registered().items():
        assert cls.languages, f"{name} declares no languages"
        valid = set(LANGUAGES) | {"*", "spaced", "latin"}
        assert set(cls.languages) <= valid, f"{name}: unknown language tokens {set(cls.languages) - valid}"


def test_shape_and_no_identity(op: Operator) -> None:
    SENTENCES = inputs(op)
    out = op(SENTENCES, seed=0, n=3)
    assert len(out) == len(SENTENCES)
    for text, variants in zip(SENTENCES, out, strict=True):
        assert isinstance(variants, list) and len(variants) <= 3
        assert all(isinstance(v, str) and v.strip() for v in variants)
        assert text not in variants
        assert len({" ".join(v.lower().split()) for v in variants}) == len(variants)
        # no silent no-op: a text without a variant has a reason
        assert variants or op.inapplicable(text), f"{op.spec_str()}: no variant and no reason for {text!r}"
    assert sum(map(len, out)) > 0, "operator produced nothing on ordinary sentences"


def test_deterministic_across_batch_size_and_chunking(op: Operator) -> None:
    SENTENCES = inputs(op)
    whole = op(SENTENCES, seed=7, n=2)
    assert op(SENTENCES, seed=7, n=2) == whole
    chunked = []
    for start in range(0, len(SENTENCES), 4):
        chunked += op(SENTENCES[start : start + 4], seed=7, n=2, offset=start)
    assert chunked == whole
    singles = [op([t], seed=7, n=2, offset=i)[0] for i, t in enumerate(SENTENCES)]
    assert singles == whole


def test_different_seeds_differ(op: Operator) -> None:
    SENTENCES = inputs(op)
    outs = {json.dumps(op(SENTENCES, seed=s, n=2)) for s in range(3)}
    assert len(outs) > 1


def test_edge_inputs_do_not_crash(op: Operator) -> None:
    # EDGE mixes scripts: told its language, an operator treats every row as that language.
    out = op(EDGE, seed=0, n=2, lang=CASE_LANG.get(op.name, "en"))
    assert len(out) == len(EDGE)
    assert out[0] == [] and out[1] == []  # empty / whitespace-only: nothing applicable


def test_unsupported_or_mixed_language_is_a_one_line_refusal(op: Operator) -> None:
    from textrobust.lang import supports

    other = SENTENCES if CASE_LANG.get(op.name) == "zh" else ZH_SENTENCES
    code = "en" if other is SENTENCES else "zh"
    if supports(op.supported_languages(), code):
        assert any(op(other, seed=0, n=1)), "an operator that supports the language changes some text"
        return
    with pytest.raises(LanguageError) as err:
        op(other, seed=0)
    msg = str(err.value)
    assert "\n" not in msg and op.language_label() in msg and "it supports" in msg
    if not supports(op.supported_languages(), "mul"):
        with pytest.raises(LanguageError, match="mixes languages"):
            op(EDGE, seed=0)


def test_spec_round_trip_and_repr(op: Operator) -> None:
    SENTENCES = inputs(op)
    spec = op.spec()
    assert spec["name"] == op.name
    again = operator_from_spec(json.loads(json.dumps(spec)))
    assert again == op
    assert again(SENTENCES[:2], seed=3) == op(SENTENCES[:2], seed=3)
    assert repr(op).startswith(type(op).__name__ + "(")
    if op.name in {"char", "synonym", "eda", "nlpaug", "zh_char", "zh_script", "punct_width"}:
        assert parse_op(op.spec_str()) == op


def test_n_zero_and_string_input(op: Operator) -> None:
    SENTENCES = inputs(op)
    assert op(SENTENCES[:2], n=0) == [[], []]
    with pytest.raises(ConfigError):
        op("a single string")  # type: ignore[arg-type]


def test_registry_listing_has_defaults_and_docs() -> None:
    from textrobust.augment import list_operators

    listing = {o["name"]: o for o in list_operators()}
    assert listing["char"]["params"]["kind"] == "keyboard"
    assert listing["eda"]["params"]["alpha_sr"] == 0.1
    assert all(o["doc"] for o in listing.values())


def test_unknown_operator_and_param_list_valid_ones() -> None:
    with pytest.raises(ConfigError, match="valid: .*char.*eda"):
        parse_op("nosuch:p=1")
    with pytest.raises(ConfigError, match=r"unknown parameter\(s\) q; valid: .*kind"):
        parse_op("char:q=1")
    with pytest.raises(ConfigError, match=r"char: invalid kind='laser'; valid: keyboard\|ocr"):
        parse_op("char:kind=laser")
    with pytest.raises(ConfigError, match=r"cannot read p='lots' as float"):
        parse_op("char:p=lots")


def test_shared_lexicon_path_is_used_once(tmp_path: Path, lexicon: str) -> None:
    from textrobust.augment.sources import load_source

    assert load_source("lexicon", lexicon) is load_source("lexicon", lexicon)
