"""Perturbation suites for INV tests (CheckList's invariance tests: the prediction must not change).

A suite turns each test text into one perturbed text, or ``None`` when the perturbation does not apply (those rows
are left out of the suite's scores). Built-in suites are augmentation operators with fixed parameters plus three
CheckList-style rule perturbations (case, punctuation, contractions); any operator spec works as a suite too.
Perturbations depend only on the suite seed and the row, so every condition and seed sees the same perturbed texts
(paired comparisons).

Every suite declares the languages it supports (an operator suite: its operator's; a rule: :data:`RULE_LANGUAGES`);
asked for another, it refuses in one line (:class:`~textrobust.errors.LanguageError`). Chinese suites: ``pinyin``
(homophone typos, what pinyin input methods produce), ``glyph`` (similar-looking characters), ``width``
(full-width <-> half-width punctuation) and ``traditional`` (Traditional characters).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import lang as _lang
from ..errors import ConfigError, ResourceError
from ..text import match_case

#: Built-in suites that are augmentation operators: name -> operator spec ("{data_dir}" is resolved at build time).
OPERATOR_SUITES = {
    "char": "char:kind=random_swap,p=0.1",
    "typo": "char:kind=keyboard,p=0.1",
    "misspelling": "char:kind=spelling,p=0.2",
    "ocr": "char:kind=ocr,p=0.1",
    "synonym": "synonym:source=lexicon,path={data_dir}/word_resources/counterfitted_neighbors.json,p=0.15",
    # Chinese (the zh extra): typos by pinyin, glyph confusions, punctuation width, Traditional characters.
    "pinyin": "zh_char:kind=homophone,p=0.05",
    "glyph": "zh_char:kind=glyph,p=0.05",
    "width": "punct_width:to=swap",
    "traditional": "zh_script:config=s2t",
}

_CONTRACTIONS = {
    "is not": "isn't",
    "are not": "aren't",
    "was not": "wasn't",
    "were not": "weren't",
    "do not": "don't",
    "does not": "doesn't",
    "did not": "didn't",
    "can not": "can't",
    "cannot": "can't",
    "could not": "couldn't",
    "would not": "wouldn't",
    "should not": "shouldn't",
    "will not": "won't",
    "has not": "hasn't",
    "have not": "haven't",
    "had not": "hadn't",
    "it is": "it's",
    "that is": "that's",
    "i am": "i'm",
    "you are": "you're",
    "they are": "they're",
    "we are": "we're",
    "there is": "there's",
    "i have": "i've",
    "i will": "i'll",
    "let us": "let's",
    "what is": "what's",
}
_EXPANSIONS = {v: k for k, v in _CONTRACTIONS.items() if k != "cannot"}
# PTB-tokenised corpora (SST-2, MR) split contractions: "is n't", "ca n't".
_PTB_STEMS = {"ca": "can", "wo": "will", "sha": "shall"}
_CONTRACT_RE = re.compile(
    r"\b(" + "|".join(re.escape(k) for k in sorted(_CONTRACTIONS, key=len, reverse=True)) + r")\b", re.IGNORECASE
)
_EXPAND_RE = re.compile(
    r"\b(" + "|".join(re.escape(k) for k in sorted(_EXPANSIONS, key=len, reverse=True)) + r")(?!\w)", re.IGNORECASE
)
_PTB_RE = re.compile(r"\b(\w+) n't\b", re.IGNORECASE)


def contraction(text: str, rng: np.random.Generator | None = None) -> str | None:
    """Contract expanded forms ("is not" -> "isn't") or expand contractions ("isn't" -> "is not"; PTB "is n't").

    Example:
        >>> contraction("It is not what I expected")
        "It's not what I expected"
        >>> contraction("it is n't bad")
        'it is not bad'
    """
    if _PTB_RE.search(text):
        out = _PTB_RE.sub(lambda m: _PTB_STEMS.get(m.group(1).lower(), m.group(1)) + " not", text)
        return out if out != text else None
    if _CONTRACT_RE.search(text):
        out = _CONTRACT_RE.sub(lambda m: match_case(m.group(0), _CONTRACTIONS[m.group(0).lower()]), text, count=1)
        return out if out != text else None
    if _EXPAND_RE.search(text):
        out = _EXPAND_RE.sub(lambda m: match_case(m.group(0), _EXPANSIONS[m.group(0).lower()]), text, count=1)
        return out if out != text else None
    return None


def punctuation(text: str, rng: np.random.Generator | None = None) -> str | None:
    """Strip final punctuation when present (ASCII or full-width), otherwise add a full stop (CheckList
    ``punctuation``; ``。`` after Chinese or Japanese text).

    Example:
        >>> punctuation("great film !"), punctuation("great film"), punctuation("很好！"), punctuation("很好")
        ('great film', 'great film.', '很好', '很好。')
    """
    stripped = text.rstrip()
    if not stripped:
        return None
    trimmed = re.sub(r"[\s.!?,;:。！？，；：、…]+$", "", stripped)
    if trimmed != stripped:
        return trimmed or None
    return stripped + ("。" if _lang.text_script(stripped[-1]) in ("Hani", "Jpan") else ".")


def case(text: str, rng: np.random.Generator) -> str | None:
    """One case change, chosen by ``rng``: all lower, all upper, or sentence case.

    Example:
        >>> case("A Fine Film", np.random.default_rng(0)) in {"a fine film", "A FINE FILM", "A fine film"}
        True
    """
    options = [text.lower(), text.upper(), text[:1].upper() + text[1:].lower()]
    options = [o for o in options if o != text]
    if not options:
        return None
    return options[int(rng.integers(len(options)))]


RULE_SUITES: dict[str, Callable[..., str | None]] = {
    "case": case,
    "punctuation": punctuation,
    "contraction": contraction,
}
#: The languages of the rule suites: case needs a script with case; the contraction list is English.
RULE_LANGUAGES: dict[str, tuple[str, ...]] = {
    "case": ("latin", "ru", "el"),
    "punctuation": _lang.ANY,
    "contraction": ("en",),
}


@dataclass(frozen=True)
class Suite:
    """A named perturbation: ``perturb(texts, seed) -> list[str | None]`` (one entry per text), and the languages
    it supports."""

    name: str
    spec: str
    fn: Callable[[Sequence[str], int], list[str | None]]
    languages: tuple[str, ...] = _lang.ANY

    def check_language(self, code: str) -> None:
        """Refuse (one line, :class:`~textrobust.errors.LanguageError`) unless this suite supports ``code``."""
        hint = "Chinese suites: pinyin, glyph, width, traditional, punctuation" if code == "zh" else ""
        _lang.check_supported(f"suite '{self.name}' ({self.spec})", code, self.languages, hint)

    def perturb(self, texts: Sequence[str], seed: int) -> list[str | None]:
        out = self.fn(texts, seed)
        # A perturbation that changes nothing is not a test of invariance.
        return [p if p is not None and p != t and p.strip() else None for t, p in zip(texts, out, strict=True)]


def builtin_suites() -> list[str]:
    return sorted(OPERATOR_SUITES) + sorted(RULE_SUITES)


def build_suite(
    name: str, op: str | dict[str, Any] | None = None, *, runtime: Any = None, lang: str | None = None
) -> Suite:
    """A suite from a built-in name, or from an augmentation operator spec given as ``op`` (a model-backed
    operator runs as ``runtime`` says); with ``lang``, refused unless it supports that language, and its operator
    bound to it."""
    from ..augment import operator_from_spec, parse_op, row_rng
    from .spec import resolve_path

    if op is None and name in RULE_SUITES:
        rule = RULE_SUITES[name]
        suite = Suite(
            name,
            name,
            lambda texts, seed: [rule(t, row_rng(seed, i, 0)) for i, t in enumerate(texts)],
            RULE_LANGUAGES[name],
        )
        if lang is not None:
            suite.check_language(lang)
        return suite
    if op is None:
        if name not in OPERATOR_SUITES:
            raise ConfigError(
                f"unknown suite '{name}'; built-in suites: {', '.join(builtin_suites())}, "
                f"or give {{name: ..., op: OPERATOR_SPEC}}"
            )
        op = OPERATOR_SUITES[name]
    operator = (
        parse_op(resolve_path(op), runtime=runtime) if isinstance(op, str) else operator_from_spec(op, runtime=runtime)
    )
    suite = Suite(name, operator.spec_str(), lambda texts, seed: [], operator.supported_languages())
    if lang is not None:
        suite.check_language(lang)
        operator = operator.for_language(lang)
    try:  # a suite whose operator needs a missing resource (WordNet, a model) fails when it is built
        operator.check_extras()
    except ResourceError as exc:
        raise ResourceError(f"suite '{name}': {exc}") from None

    def run(texts: Sequence[str], seed: int) -> list[str | None]:
        variants = operator(list(texts), seed=seed, n=1)
        return [v[0] if v else None for v in variants]

    return Suite(name, operator.spec_str(), run, operator.supported_languages())
