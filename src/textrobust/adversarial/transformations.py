"""Transformations: propose edited copies of a text at given word indices.

Each transformation implements ``generate(text, indices, rng)`` as a generator that returns a list of
:class:`AttackText` (each with one more modified word). Model-backed transformations (the masked LM) ``yield`` a
:class:`~textrobust.adversarial.requests.BatchCall` so that the runner batches them across examples; rule-based
ones never yield. Every candidate is a single word, so word indices stay stable.
"""

from __future__ import annotations

import string
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from textrobust.adversarial.text import AttackText, is_word
from textrobust.errors import ConfigError

TransformGen = Generator[Any, Any, list[AttackText]]


def _match_case(template: str, word: str) -> str:
    if template.isupper() and len(template) > 1:
        return word.upper()
    if template[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


class _MappingSource:
    """Adapts a plain ``word -> [neighbours]`` mapping to the ``synonyms(word, pos=None)`` interface."""

    def __init__(self, mapping: Mapping[str, Sequence[str]]) -> None:
        self.mapping = mapping

    def synonyms(self, word: str, pos: str | None = None) -> list[str]:
        return list(self.mapping.get(word, ()))


def as_source(source: Any) -> Any:
    """Accept a synonym source (anything with ``synonyms(word, pos=None)``) or a plain mapping."""
    if hasattr(source, "synonyms"):
        return source
    if isinstance(source, Mapping):
        return _MappingSource(source)
    raise ConfigError(f"expected a synonym source or a word -> neighbours mapping, got {type(source).__name__}")


@dataclass(frozen=True)
class WordSwapSource:
    """Swap a word for up to ``max_candidates`` neighbours from a synonym source.

    The source is a counter-fitted neighbour list (TextFooler), a lexicon such as WordNet (PWWS) or any object
    with ``synonyms(word, pos=None) -> list[str]`` (see :mod:`textrobust.augment.sources`); a plain dict works too.
    Lookups are lower-case; the original word's capitalisation is copied onto the candidate.
    """

    source: Any
    max_candidates: int = 50

    def __post_init__(self) -> None:
        object.__setattr__(self, "source", as_source(self.source))
        if self.max_candidates < 1:
            raise ConfigError(f"max_candidates must be >= 1, got {self.max_candidates}")

    def generate(self, text: AttackText, indices: Sequence[int], rng: np.random.Generator) -> TransformGen:
        out: list[AttackText] = []
        for i in indices:
            word = text.words[i]
            lower = word.lower()
            seen = {lower}
            n = 0
            for cand in self.source.synonyms(lower):
                c = cand.lower()
                if c in seen or not is_word(c):
                    continue
                seen.add(c)
                out.append(text.replace(i, _match_case(word, c)))
                n += 1
                if n >= self.max_candidates:
                    break
        return out
        yield  # pragma: no cover


CHAR_OPS = ("swap", "substitute", "delete", "insert")


@dataclass(frozen=True)
class CharEdits:
    """DeepWordBug's character edits: one random variant per word for each of ``ops``.

    ``swap`` exchanges two neighbouring characters, ``substitute`` replaces one with a random letter, ``delete``
    drops one, ``insert`` adds a random letter. As in TextAttack, the first and last characters are kept when
    ``skip_first_last`` (the default is False for DeepWordBug, matching TextAttack's recipe). Randomness comes
    from the per-example ``rng`` the runner passes, so results do not depend on batching.
    """

    ops: tuple[str, ...] = CHAR_OPS
    skip_first_last: bool = False

    def __post_init__(self) -> None:
        bad = set(self.ops) - set(CHAR_OPS)
        if bad or not self.ops:
            raise ConfigError(f"unknown char ops {sorted(bad)}; choose from {CHAR_OPS}")

    def _edit(self, word: str, op: str, rng: np.random.Generator) -> str | None:
        lo, hi = (1, len(word) - 1) if self.skip_first_last else (0, len(word))
        if hi - lo < 1:
            return None
        letters = string.ascii_lowercase
        if op == "swap":
            if hi - lo < 2:
                return None
            k = int(rng.integers(lo, hi - 1))
            return word[:k] + word[k + 1] + word[k] + word[k + 2 :]
        if op == "substitute":
            k = int(rng.integers(lo, hi))
            return word[:k] + letters[int(rng.integers(26))] + word[k + 1 :]
        if op == "delete":
            if len(word) < 2:
                return None
            k = int(rng.integers(lo, hi))
            return word[:k] + word[k + 1 :]
        k = int(rng.integers(lo, hi + 1))  # insert
        return word[:k] + letters[int(rng.integers(26))] + word[k:]

    def generate(self, text: AttackText, indices: Sequence[int], rng: np.random.Generator) -> TransformGen:
        out: list[AttackText] = []
        for i in indices:
            word = text.words[i]
            seen = {word}
            for op in self.ops:
                new = self._edit(word, op, rng)
                if new is None or new in seen or not is_word(new):
                    continue
                seen.add(new)
                out.append(text.replace(i, new))
        return out
        yield  # pragma: no cover


@dataclass(frozen=True)
class MaskedLMSwap:
    """Swap a word for a masked LM's top predictions (BAE-R or BERT-Attack style).

    ``method="bae"``: mask the word and take the top ``max_candidates`` whole-word tokens at the mask (Garg &
    Ramakrishnan 2020, BAE-R). ``method="bert-attack"``: feed the *unmasked* text and take the top tokens at the
    word's token (Li et al. 2020); for a word split into several sub-tokens, combinations of each sub-token's
    top predictions ranked by perplexity (the paper's BPE handling). ``mlm`` is a
    :class:`~textrobust.adversarial.mlm.MaskedLM` (a batched backend), so all examples of a step share one
    forward pass.
    """

    mlm: Any
    method: str = "bae"
    max_candidates: int = 50

    def __post_init__(self) -> None:
        if self.method not in ("bae", "bert-attack"):
            raise ConfigError(f"method must be 'bae' or 'bert-attack', got {self.method!r}")

    def generate(self, text: AttackText, indices: Sequence[int], rng: np.random.Generator) -> TransformGen:
        from textrobust.adversarial.requests import BatchCall

        if not indices:
            return []
        inputs = [(text.words, i, self.method == "bae", self.max_candidates) for i in indices]
        preds = yield BatchCall(self.mlm, inputs)
        out: list[AttackText] = []
        for i, cands in zip(indices, preds):
            word = text.words[i]
            for c in cands:
                if c.lower() != word.lower() and is_word(c):
                    out.append(text.replace(i, _match_case(word, c)))
        return out


@dataclass(frozen=True)
class GradientWordSwap:
    """Swap a word for the vocabulary words whose embeddings most increase the loss to first order (HotFlip,
    Ebrahimi et al. 2018; TextAttack's ``WordSwapGradientBased``). ``backend`` is a
    :class:`~textrobust.adversarial.gradients.GradientSwapCandidates`: one forward + backward pass per text and
    step, batched across the examples advancing in lockstep.
    """

    backend: Any
    max_candidates: int = 1

    def __post_init__(self) -> None:
        if self.max_candidates < 1:
            raise ConfigError(f"max_candidates must be >= 1, got {self.max_candidates}")

    def generate(self, text: AttackText, indices: Sequence[int], rng: np.random.Generator) -> TransformGen:
        from textrobust.adversarial.requests import BatchCall

        if not indices:
            return []
        (per_index,) = yield BatchCall(self.backend, [(text.words, tuple(indices), self.max_candidates)])
        out: list[AttackText] = []
        for i, cands in zip(indices, per_index):
            word = text.words[i]
            for c in cands:
                if c.lower() != word.lower() and is_word(c):
                    out.append(text.replace(i, _match_case(word, c)))
        return out
