"""The text being attacked: a string plus the character spans of its words.

Attacks edit words one at a time and never change the number of words, so a word index means the same word in
the original and in every perturbed version (constraints and results rely on that). Everything between words
(spaces, punctuation, casing of the rest) is kept byte for byte.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import cached_property

from textrobust.text import WORD_OR_NUMBER
from textrobust.text import is_word as _is_word

# A word: letters/digits joined by inner apostrophes or hyphens ("don't", "n't", "well-made"). Punctuation and
# PTB clitics such as "'s" are not words, so attacks leave them alone (as TextAttack does).
WORD_RE = WORD_OR_NUMBER


def is_word(token: str) -> bool:
    """True when ``token`` is exactly one word as the attacks tokenise it (digits count; see
    :func:`textrobust.text.is_word`)."""
    return _is_word(token, digits=True)


_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
SEGMENT_UNITS = ("words", "jieba", "chars")


@dataclass(frozen=True)
class Segmenter:
    """How an attack cuts text into the units it edits: ``words`` (runs of letters and digits: languages written
    with spaces), ``jieba`` (Chinese words, segmented by jieba) or ``chars`` (each Chinese character; runs of other
    letters or digits stay whole words). Picklable (it travels to Ray actors with the attack).

    Example:
        >>> Segmenter("chars").spans("好看a1")
        ((0, 1), (1, 2), (2, 4))
    """

    unit: str = "words"

    def __post_init__(self) -> None:
        if self.unit not in SEGMENT_UNITS:
            from textrobust.errors import ConfigError

            raise ConfigError(f"unknown segmentation unit {self.unit!r}; valid: {', '.join(SEGMENT_UNITS)}")

    def spans(self, text: str) -> tuple[tuple[int, int], ...]:
        if self.unit == "jieba":
            from textrobust.lang import segment

            return tuple(segment(text, "zh"))
        out = []
        for m in WORD_RE.finditer(text):
            a, b = m.span()
            if self.unit == "chars" and _HAN.search(m.group()):
                run = a  # split the run into single Chinese characters and the non-Chinese pieces between them
                for k in range(a, b):
                    if _HAN.match(text[k]):
                        if run < k:
                            out.append((run, k))
                        out.append((k, k + 1))
                        run = k + 1
                if run < b:
                    out.append((run, b))
            else:
                out.append((a, b))
        return tuple(out)


WORDS = Segmenter()


@dataclass(frozen=True)
class AttackText:
    """An immutable text with word spans and the set of word indices changed so far.

    Example:
        >>> t = AttackText.from_text("a fine movie .")
        >>> t.words
        ('a', 'fine', 'movie')
        >>> t.replace(1, "good").text
        'a good movie .'
    """

    text: str
    spans: tuple[tuple[int, int], ...]
    modified: frozenset[int] = frozenset()
    new_index: int | None = field(default=None, compare=False)  # index changed by the last edit (windows)
    # Sentence similarity to the reference, set by the SentenceSimilarity constraint that let this text through;
    # the greedy search picks the most similar of several winning candidates (TextFooler).
    similarity: float | None = field(default=None, compare=False)

    @classmethod
    def from_text(cls, text: str, segmenter: Segmenter = WORDS) -> AttackText:
        """The text with the spans ``segmenter`` finds (words by default; Chinese words or characters)."""
        if segmenter.unit == "words":
            return cls(text, tuple(m.span() for m in WORD_RE.finditer(text)))
        return cls(text, segmenter.spans(text))

    @cached_property
    def words(self) -> tuple[str, ...]:
        return tuple(self.text[s:e] for s, e in self.spans)

    def __len__(self) -> int:
        return len(self.spans)

    def replace(self, index: int, word: str) -> AttackText:
        """A copy with word ``index`` replaced by ``word`` (which must be a single word)."""
        start, end = self.spans[index]
        delta = len(word) - (end - start)
        spans = (
            self.spans[:index]
            + ((start, start + len(word)),)
            + tuple((s + delta, e + delta) for s, e in self.spans[index + 1 :])
        )
        text = self.text[:start] + word + self.text[end:]
        return AttackText(text, spans, self.modified | {index}, index)

    def with_word(self, index: int, token: str) -> str:
        """The plain string with word ``index`` replaced by any token (e.g. ``[UNK]``); used for ranking."""
        start, end = self.spans[index]
        return self.text[:start] + token + self.text[end:]

    def without_word(self, index: int) -> str:
        """The plain string with word ``index`` deleted (and one neighbouring space)."""
        start, end = self.spans[index]
        if end < len(self.text) and self.text[end] == " ":
            end += 1
        elif start > 0 and self.text[start - 1] == " ":
            start -= 1
        return self.text[:start] + self.text[end:]

    def window(self, index: int, size: int | None) -> str:
        """The text of the ``size`` words around ``index``, from the first word's start to the last word's end
        with the punctuation and spacing between them (TextAttack's ``text_window_around_index``, whose window
        placement this follows); ``None``: the whole text.

        Example:
            >>> AttackText.from_text("well, a fine movie .").window(1, 3)
            'well, a fine'
        """
        n = len(self.spans)
        if size is None or n == 0:
            return self.text
        half = (size - 1) / 2.0
        if size >= n or index - half < 0:
            lo = 0
        elif index + half >= n:
            lo = n - size
        else:
            lo = index - math.ceil(half)
        hi = min(n, lo + size) - 1
        return self.text[self.spans[lo][0] : self.spans[hi][1]]
