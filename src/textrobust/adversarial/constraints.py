"""Constraints on candidate edits.

*Pre-transformation* constraints say which word indices may be edited at all (cheap, no model); they implement
``allowed(original, current) -> set[int] | None`` (``None``: no restriction).

*Post-transformation* constraints filter candidate texts. Their ``filter(original, current, candidates)`` is a
generator so that a constraint needing a batched backend (the sentence encoder) can ``yield`` a
:class:`~textrobust.adversarial.requests.BatchCall` and be batched with the other examples of the step; constraints
without a backend simply return (``yield from`` of a generator that never yields).
"""

from __future__ import annotations

import math
from collections.abc import Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from textrobust.adversarial.requests import BatchCall
from textrobust.adversarial.text import AttackText
from textrobust.errors import ConfigError

FilterGen = Generator[Any, Any, list[AttackText]]

# ---------------------------------------------------------------- pre-transformation


@dataclass(frozen=True)
class StopwordModification:
    """Never edit a stopword (case-insensitive)."""

    stopwords: frozenset[str]

    def __init__(self, stopwords: Iterable[str]) -> None:
        object.__setattr__(self, "stopwords", frozenset(w.lower() for w in stopwords))

    def allowed(self, original: AttackText, current: AttackText) -> set[int] | None:
        return {i for i, w in enumerate(original.words) if w.lower() not in self.stopwords}


@dataclass(frozen=True)
class RepeatModification:
    """Never edit the same word twice."""

    def allowed(self, original: AttackText, current: AttackText) -> set[int] | None:
        return set(range(len(current))) - current.modified


@dataclass(frozen=True)
class MaxWordsPerturbed:
    """Stop editing once ``limit`` words are changed, where
    ``limit = max(min_words, ceil(max_fraction * n_words))`` (or ``max_words`` when given; the smaller wins).

    ``MaxWordsPerturbed(max_fraction=0.1, min_words=4)`` is TextAttack's ``MaxModificationRate(0.1, 4)`` (A2T).
    """

    max_fraction: float | None = None
    max_words: int | None = None
    min_words: int = 0

    def __post_init__(self) -> None:
        if self.max_fraction is None and self.max_words is None:
            raise ConfigError("MaxWordsPerturbed needs max_fraction or max_words")
        if self.max_fraction is not None and not 0 < self.max_fraction <= 1:
            raise ConfigError(f"max_fraction must be in (0, 1], got {self.max_fraction}")

    def limit(self, n_words: int) -> int:
        limits = []
        if self.max_fraction is not None:
            limits.append(max(self.min_words, math.ceil(self.max_fraction * n_words)))
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
    All windows of a step are encoded in one batched call through the runner.
    """

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
        todo: list[AttackText] = []
        out_mask = [True] * len(candidates)
        for k, c in enumerate(candidates):
            if self.skip_shorter_than_window and self.window_size and len(c) < self.window_size:
                continue
            todo.append(c)
            out_mask[k] = False
        if todo:
            refs = [ref.window(c.new_index or 0, self.window_size) for c in todo]
            cands = [c.window(c.new_index or 0, self.window_size) for c in todo]
            vecs = yield BatchCall(self.encoder, refs + cands)
            a = np.asarray(vecs[: len(todo)], dtype=np.float64)
            b = np.asarray(vecs[len(todo) :], dtype=np.float64)
            cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-12)
            sims = 1.0 - np.arccos(np.clip(cos, -1.0, 1.0)) / np.pi if self.metric == "angular" else cos
            ok = iter(sims >= self.threshold)
            out_mask = [m or bool(next(ok)) for m in out_mask]
        return [c for c, keep in zip(candidates, out_mask) if keep]


PreConstraint = StopwordModification | RepeatModification | MaxWordsPerturbed
PostConstraint = WordEmbeddingCosine | LevenshteinDistance | SentenceSimilarity
__all__: Sequence[str] = [
    "LevenshteinDistance",
    "MaxWordsPerturbed",
    "RepeatModification",
    "SentenceSimilarity",
    "StopwordModification",
    "WordEmbeddingCosine",
    "levenshtein",
]
