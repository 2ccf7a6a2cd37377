"""Transformations: propose edited copies of a text at given word indices.

Each transformation implements ``generate(text, indices, rng)`` as a generator that returns a list of
:class:`AttackText` (each with one more modified word). Model-backed transformations (the masked LM) ``yield`` a
:class:`~textrobust.adversarial.requests.BatchCall` so that the runner batches them across examples; rule-based
ones never yield. Every candidate replaces a single word, so word indices stay stable (TextBugger's space insertion
splits a word in two on screen, but the pair keeps the word's one span and index).
"""

from __future__ import annotations

import string
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from textrobust.adversarial.text import AttackText, is_word
from textrobust.errors import ConfigError
from textrobust.text import match_case

TransformGen = Generator[Any, Any, list[AttackText]]


def _word_swaps(text: AttackText, indices: Sequence[int], per_index: Sequence[Sequence[str]]) -> list[AttackText]:
    """Copies of ``text`` with word ``i`` swapped for each proposed word (case copied; the word itself and
    non-words such as sub-word fragments skipped), for model-proposed candidates."""
    out: list[AttackText] = []
    for i, cands in zip(indices, per_index, strict=True):
        word = text.words[i]
        for c in cands:
            if c.lower() != word.lower() and is_word(c):
                out.append(text.replace(i, match_case(word, c)))
    return out


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

    requires_gradients: ClassVar[bool] = False

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
                out.append(text.replace(i, match_case(word, c)))
                n += 1
                if n >= self.max_candidates:
                    break
        return out
        yield  # pragma: no cover


CHAR_OPS = ("swap", "substitute", "delete", "insert", "space")
DEEPWORDBUG_OPS = ("swap", "substitute", "delete", "insert")


def _is_edited_word(token: str, op: str) -> bool:
    # A space insertion leaves two words in the one slot; every other edit must leave exactly one word.
    return all(is_word(p) for p in token.split(" ")) if op == "space" else is_word(token)


@dataclass(frozen=True)
class CharEdits:
    """DeepWordBug's (and TextBugger's) character edits: one random variant per word for each of ``ops``.

    ``swap`` exchanges two neighbouring characters, ``substitute`` replaces one with a random letter, ``delete``
    drops one, ``insert`` adds a random letter (these four, DeepWordBug's, are the default); ``space`` inserts a
    space inside the word (TextBugger; both halves keep the word's index). As in TextAttack, the first and last
    characters are kept when ``skip_first_last`` (the default is False for DeepWordBug, matching TextAttack's
    recipe). Randomness comes from the per-example ``rng`` the runner passes, so results do not depend on batching.

    Example:
        >>> bugs = CharEdits(ops=("space", "delete", "swap"), skip_first_last=True)  # TextBugger's edits
    """

    requires_gradients: ClassVar[bool] = False

    ops: tuple[str, ...] = DEEPWORDBUG_OPS
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
        if op == "space":
            # Inside the word, both halves non-empty; skip_first_last also keeps the last two characters together
            # (TextAttack's insertion range with skip_last_char).
            hi = len(word) - 1 if self.skip_first_last else len(word)
            if hi <= 1:
                return None
            k = int(rng.integers(1, hi))
            return word[:k] + " " + word[k:]
        k = int(rng.integers(lo, hi + 1))  # insert
        return word[:k] + letters[int(rng.integers(26))] + word[k:]

    def generate(self, text: AttackText, indices: Sequence[int], rng: np.random.Generator) -> TransformGen:
        out: list[AttackText] = []
        for i in indices:
            word = text.words[i]
            seen = {word}
            for op in self.ops:
                new = self._edit(word, op, rng)
                if new is None or new in seen or not _is_edited_word(new, op):
                    continue
                seen.add(new)
                out.append(text.replace(i, new))
        return out
        yield  # pragma: no cover


# Latin letters and a visually identical letter from another script (Cyrillic, Greek, Armenian, small
# capitals), after Unicode's confusables data (UTS #39). Every lookalike is itself a letter, so a swapped word is
# still one word; letters without a convincing lookalike (f, k, m, r, t) are left out.
HOMOGLYPHS: dict[str, str] = {
    "a": "\u0430",
    "c": "\u0441",
    "d": "\u0501",
    "e": "\u0435",
    "g": "\u0261",
    "h": "\u04bb",
    "i": "\u0456",
    "j": "\u0458",
    "l": "\u04cf",
    "n": "\u0578",
    "o": "\u043e",
    "p": "\u0440",
    "q": "\u051b",
    "s": "\u0455",
    "u": "\u057d",
    "v": "\u0475",
    "w": "\u051d",
    "x": "\u0445",
    "y": "\u0443",
    "z": "\u1d22",
    "A": "\u0410",
    "B": "\u0412",
    "C": "\u0421",
    "E": "\u0415",
    "H": "\u041d",
    "I": "\u0406",
    "J": "\u0408",
    "K": "\u041a",
    "M": "\u041c",
    "O": "\u041e",
    "P": "\u0420",
    "S": "\u0405",
    "T": "\u0422",
    "X": "\u0425",
    "Y": "\u04ae",
    "Z": "\u0396",
}


@dataclass(frozen=True)
class HomoglyphSwap:
    """Replace one character of a word with a lookalike from another script (TextBugger's Sub-C bug, as
    TextAttack's ``WordSwapHomoglyphSwap``): one candidate per character that has a homoglyph in ``table``
    (default :data:`HOMOGLYPHS`). Deterministic; the text looks unchanged to a reader but not to a tokenizer.

    Example:
        >>> HomoglyphSwap().variants("bad")
        ['b\u0430d', 'ba\u0501']
    """

    requires_gradients: ClassVar[bool] = False

    table: Mapping[str, str] | None = None

    def variants(self, word: str) -> list[str]:
        table = HOMOGLYPHS if self.table is None else self.table
        return [word[:k] + table[ch] + word[k + 1 :] for k, ch in enumerate(word) if ch in table]

    def generate(self, text: AttackText, indices: Sequence[int], rng: np.random.Generator) -> TransformGen:
        out = [text.replace(i, v) for i in indices for v in self.variants(text.words[i]) if is_word(v)]
        return out
        yield  # pragma: no cover


@dataclass(frozen=True)
class CompositeTransformation:
    """All candidates of several transformations, in order, without duplicate texts (TextAttack's
    ``CompositeTransformation``). Model-backed parts still batch across examples: their requests pass through.

    Example:
        >>> bugs = CompositeTransformation((CharEdits(("space",), True), HomoglyphSwap()))
    """

    parts: tuple[Any, ...]

    def __post_init__(self) -> None:
        if not self.parts:
            raise ConfigError("CompositeTransformation needs at least one transformation")
        object.__setattr__(self, "parts", tuple(self.parts))

    @property
    def requires_gradients(self) -> bool:
        return any(p.requires_gradients for p in self.parts)

    def generate(self, text: AttackText, indices: Sequence[int], rng: np.random.Generator) -> TransformGen:
        out: list[AttackText] = []
        seen = {text.text}
        for part in self.parts:
            for cand in (yield from part.generate(text, indices, rng)):
                if cand.text not in seen:
                    seen.add(cand.text)
                    out.append(cand)
        return out


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

    requires_gradients: ClassVar[bool] = False

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
        return _word_swaps(text, indices, preds)


@dataclass(frozen=True)
class GradientWordSwap:
    """Swap a word for the vocabulary words whose embeddings most increase the loss to first order (HotFlip,
    Ebrahimi et al. 2018; TextAttack's ``WordSwapGradientBased``). ``backend`` is a
    :class:`~textrobust.adversarial.gradients.GradientSwapCandidates`: one forward + backward pass per text and
    step, batched across the examples advancing in lockstep.
    """

    requires_gradients: ClassVar[bool] = True

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
        return _word_swaps(text, indices, per_index)
