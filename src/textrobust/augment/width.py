"""``punct_width``: full-width <-> half-width forms (Unicode's Halfwidth and Fullwidth Forms block). Chinese and
Japanese text uses full-width punctuation (，。！？：；（）); text typed on a Western keyboard or normalised by a
pipeline has half-width (,.!?:;()), and full-width Latin letters and digits (Ａ１) turn up in CJK text. A classifier
should not care.

``to``: ``half`` (full-width -> ASCII), ``full`` (ASCII punctuation -> full-width; with ``alnum=true`` also letters
and digits), or ``swap`` (each convertible character to the other width). ``p`` is the fraction of the convertible
characters converted (at least one). Works on text in any language.

Example:
    >>> from textrobust.augment import parse_op
    >>> parse_op("punct_width:to=half")(["很好，推荐！"], seed=0)
    [['很好,推荐!']]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from textrobust import lang as _lang
from textrobust import text as _text
from textrobust.augment.base import Operator, Params, check, register

_WIDTHS = ("half", "full", "swap")
# ASCII punctuation and its full-width form (U+FF01..U+FF5E mirror U+0021..U+007E); the ideographic full stop and
# comma have no ASCII twin in that block, so they map to '.' and ',' by hand, as input methods do.
_PUNCT = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
_TO_FULL = {c: chr(ord(c) + 0xFEE0) for c in _PUNCT}
_TO_FULL_ALNUM = {c: chr(ord(c) + 0xFEE0) for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"}
_TO_HALF = {v: k for k, v in {**_TO_FULL, **_TO_FULL_ALNUM}.items()}
_TO_HALF.update({"。": ".", "、": ",", "“": '"', "”": '"', "‘": "'", "’": "'", "　": " "})


@dataclass(frozen=True)
class WidthParams(Params):
    to: str = "swap"
    p: float = 1.0
    alnum: bool = False  # to=full/swap: also convert ASCII letters and digits

    def validate(self, op: str) -> None:
        check(op, "to", self.to in _WIDTHS, "|".join(_WIDTHS), self.to)
        check(op, "p", 0 < self.p <= 1, "a float in (0, 1]", self.p)


@register
class PunctWidth(Operator):
    """Full-width <-> half-width punctuation (and optionally letters and digits)."""

    name = "punct_width"
    Params = WidthParams
    params: WidthParams
    languages = _lang.ANY

    @property
    def deterministic(self) -> bool:
        return self.params.p >= 1

    def _table(self) -> dict[str, str]:
        full = {**_TO_FULL, **(_TO_FULL_ALNUM if self.params.alnum else {})}
        if self.params.to == "half":
            return _TO_HALF
        if self.params.to == "full":
            return full
        return {**_TO_HALF, **full}

    def inapplicable(self, text: str) -> str | None:
        table = self._table()
        return None if any(c in table and c not in " \u3000" for c in text) else f"no {self.params.to}-width form"

    def apply(self, text: str, rng: np.random.Generator) -> str | None:
        table = self._table()
        spots = [i for i, c in enumerate(text) if c in table and not (c == " " or c == "\u3000")]
        if not spots:
            return None
        if self.params.p < 1:
            draws = _text.Draws(rng)
            spots = [spots[j] for j in draws.sample(len(spots), max(1, round(self.params.p * len(spots))))]
        chars = list(text)
        for i in spots:
            chars[i] = table[chars[i]]
        return "".join(chars)
