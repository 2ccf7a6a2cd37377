"""Chinese attacks: a character-level recipe (``zh_char``) and a segmented word-level one (``zh_word``), with the
multilingual-USE similarity constraint TextAttack's non-English recipes use.

Chinese has no spaces, so an English recipe sees one "word" per clause and finds nothing to swap. These recipes
cut the text into the units Chinese errors and substitutions happen at: single characters (``zh_char``: the
typos pinyin input methods and handwriting produce) or jieba words (``zh_word``: synonyms from HIT Cilin).

Example:
    >>> attack = zh_char(model, encoder=MultilingualEncoder("use-m"))  # doctest: +SKIP
    >>> report = attack.run(texts, labels, lang="zh")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from textrobust.adversarial.attack import Attack
from textrobust.adversarial.constraints import (
    MaxWordsPerturbed,
    RepeatModification,
    SentenceSimilarity,
    StopwordModification,
)
from textrobust.adversarial.goals import UntargetedClassification
from textrobust.adversarial.search import GreedyWordSwapWIR
from textrobust.adversarial.text import AttackText, Segmenter
from textrobust.adversarial.transformations import WordSwapSource
from textrobust.errors import ConfigError

ZH_SWAP_KINDS = ("homophone", "glyph", "fuzzy_pinyin", "traditional")


@dataclass(frozen=True)
class ZhCharSwap:
    """Swap one Chinese character for characters read alike (``homophone``: same pinyin; ``fuzzy_pinyin``), that
    look alike (``glyph``), or its Traditional form (``traditional``): up to ``max_candidates`` per character and
    kind, in table order (deterministic). Units must be single characters (``Segmenter("chars")``).

    Example:
        >>> swap = ZhCharSwap(("homophone", "glyph"), max_candidates=5)
    """

    requires_gradients: ClassVar[bool] = False

    kinds: tuple[str, ...] = ("homophone", "glyph")
    max_candidates: int = 10

    def __post_init__(self) -> None:
        bad = sorted(set(self.kinds) - set(ZH_SWAP_KINDS))
        if bad or not self.kinds:
            raise ConfigError(f"unknown zh swap kinds {bad}; choose from {ZH_SWAP_KINDS}")
        if self.max_candidates < 1:
            raise ConfigError(f"max_candidates must be >= 1, got {self.max_candidates}")
        object.__setattr__(self, "kinds", tuple(self.kinds))

    def candidates(self, ch: str) -> list[str]:
        """The replacements of one character, kinds in order, without repeats."""
        from textrobust.augment import zh_tables

        out: list[str] = []
        for kind in self.kinds:
            if kind == "homophone":
                opts: Sequence[str] = zh_tables.homophones(ch)
            elif kind == "glyph":
                opts = zh_tables.similar_glyphs(ch)
            elif kind == "fuzzy_pinyin":
                opts = zh_tables.fuzzy_pinyin(ch)
            else:
                t = zh_tables.convert(ch, "s2t")
                opts = (t,) if t != ch and len(t) == 1 else ()
            out += [c for c in opts[: self.max_candidates] if c != ch and c not in out]
        return out

    def generate(
        self, text: AttackText, indices: Sequence[int], rng: np.random.Generator
    ) -> Generator[Any, Any, list[AttackText]]:
        from textrobust.augment.zh_tables import is_han

        out: list[AttackText] = []
        for i in indices:
            ch = text.words[i]
            if is_han(ch):
                out += [text.replace(i, c) for c in self.candidates(ch)]
        return out
        yield  # pragma: no cover


def _zh_stop(stopwords: Iterable[str] | None) -> StopwordModification:
    if stopwords is None:
        from textrobust.augment.zh_tables import zh_stopwords

        stopwords = zh_stopwords()
    return StopwordModification(stopwords)


def _encoder(encoder: Any, model: Any) -> Any:
    """The similarity encoder: the one given (``--resource encoder=e5``), else USE-multilingual running as the
    victim's runtime says (MiniLM, the default elsewhere, is English-only)."""
    if encoder is not None:
        return encoder
    from textrobust.models.multilingual import multilingual_encoder

    return multilingual_encoder("use-m", getattr(model, "runtime", None)).check()


def zh_char(
    model: Any,
    *,
    encoder: Any = None,
    stopwords: Iterable[str] | None = None,
    kinds: Sequence[str] = ("homophone", "glyph"),
    max_candidates: int = 10,
    max_fraction: float = 0.15,
    sim_threshold: float = 0.8,
) -> Attack:
    """Chinese character-level attack, after the character attacks on Chinese classifiers of Li et al. (2019),
    "TextBugger" (its Chinese homophone/glyph bugs) and Zhang et al. (2020), "Argot" (Chinese adversarial
    perturbations by pinyin and glyph), rebuilt with this project's tables.

    Units are single Chinese characters (other letters and digits stay whole and are never edited). Delete-one
    character ranking; greedy swaps with up to ``max_candidates`` homophones (pycorrector's same-pinyin table)
    and similar glyphs (pycorrector's same-stroke groups and char-similar decompositions) per character; at most
    ``max_fraction`` (15%) of the units changed, rounded down (one in a text of fewer than 7 units); Chinese
    stopwords (pycorrector's list plus negations, contrast markers and intensifiers) and repeats blocked;
    whole-text multilingual-USE similarity >= 0.8 (angular, against the original; TextAttack's
    ``MultilingualUniversalSentenceEncoder`` default).

    Deviations: the papers' candidate sets come from their own confusion tables; ``encoder`` defaults to
    USE-multilingual (``--resource encoder=e5`` for multilingual-e5).
    """
    # floor(15% of the characters), at least one: the budget is a cap, not TextAttack's ceil
    cap = MaxWordsPerturbed(max_fraction=max_fraction, min_words=1, round_up=False)
    pre = (RepeatModification(), _zh_stop(stopwords), cap)
    sim = SentenceSimilarity(_encoder(encoder, model), threshold=sim_threshold, metric="angular", window_size=None)
    post = (sim,)
    return Attack(
        model,
        ZhCharSwap(tuple(kinds), max_candidates),
        GreedyWordSwapWIR("delete"),
        UntargetedClassification(),
        pre,
        post,
        "zh_char",
        segmenter=Segmenter("chars"),
        languages=("zh",),
    )


def zh_word(
    model: Any,
    *,
    encoder: Any = None,
    synonyms: Any = None,
    stopwords: Iterable[str] | None = None,
    max_candidates: int = 20,
    max_fraction: float = 0.3,
    sim_threshold: float = 0.8,
) -> Attack:
    """Chinese word-level attack: PWWS / TextFooler's greedy word swaps on jieba-segmented text (as TextAttack's
    non-English recipes adapt PWWS to French and Spanish), with synonyms from HIT Tongyici Cilin (``synonyms``:
    any synonym source; default Cilin).

    Delete-one word ranking; greedy swaps with up to ``max_candidates`` Cilin synonyms (``=`` groups only); at
    most ``max_fraction`` (30%) of the words changed; Chinese stopwords and repeats blocked; whole-text
    multilingual-USE similarity >= 0.8 (angular, against the original).

    Deviations: Cilin's first-listed groups stand in for word-sense disambiguation (none is done); no embedding
    neighbours (no Chinese word vectors ship offline).
    """
    if synonyms is None:
        from textrobust.augment.zh_tables import cilin

        synonyms = cilin()
    pre = (RepeatModification(), _zh_stop(stopwords), MaxWordsPerturbed(max_fraction=max_fraction))
    sim = SentenceSimilarity(_encoder(encoder, model), threshold=sim_threshold, metric="angular", window_size=None)
    post = (sim,)
    return Attack(
        model,
        WordSwapSource(synonyms, max_candidates),
        GreedyWordSwapWIR("delete"),
        UntargetedClassification(),
        pre,
        post,
        "zh_word",
        segmenter=Segmenter("jieba"),
        languages=("zh",),
    )


__all__ = ["ZH_SWAP_KINDS", "ZhCharSwap", "zh_char", "zh_word"]
