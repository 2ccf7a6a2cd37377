"""``zh_char``: Chinese character noise — the errors Chinese text actually has. Input methods type by pinyin, so
the common misspelling is a homophone (同音字) or a fuzzy-pinyin neighbour; handwriting and OCR confuse similar
glyphs (形近字); and characters get inserted, dropped or swapped.

Kinds (tables from :mod:`textrobust.augment.zh_tables`; the ``zh`` extra):

* ``homophone`` — a character with the same pinyin (same tone first);
* ``fuzzy_pinyin`` — a common character one fuzzy-pinyin pair away (z/zh, n/l, an/ang, ...);
* ``glyph`` — a common character of similar shape (未 -> 末);
* ``real`` — a confusion people made in the SIGHAN-2015 test sentences (correct -> written);
* ``insert`` — a common character inserted after a character; ``delete`` — a character dropped (never all);
  ``swap`` — two neighbouring characters exchanged.

``p`` is the fraction of the text's Chinese characters edited (at least one). Only CJK ideographs are edited;
punctuation, digits and Latin words are left as they are.

Example:
    >>> from textrobust.augment import parse_op
    >>> op = parse_op("zh_char:kind=homophone,p=0.1")
    >>> op(["这家酒店的服务非常好"], seed=0)  # doctest: +SKIP
    [['这家酒店的服务非常号']]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from textrobust import text as _text
from textrobust.augment import zh_tables
from textrobust.augment.base import Operator, Params, check, register

ZH_CHAR_KINDS = ("homophone", "fuzzy_pinyin", "glyph", "real", "insert", "delete", "swap")
#: Kind -> the extra its table comes from (for check_extras).
_KIND_EXTRA = {
    "homophone": "zhtables",
    "fuzzy_pinyin": "pypinyin",
    "glyph": "glyphs",
    "real": "zhtables",
    "insert": "zhtables",
}


def substitutes(kind: str) -> Callable[[str], tuple[str, ...]]:
    """The candidate table of a substitution kind: character -> replacements."""
    if kind == "homophone":
        return zh_tables.homophones
    if kind == "fuzzy_pinyin":
        return zh_tables.fuzzy_pinyin
    if kind == "glyph":
        return zh_tables.similar_glyphs
    if kind == "real":
        return lambda c: zh_tables.real_confusions().get(c, ())
    raise KeyError(kind)


@dataclass(frozen=True)
class ZhCharParams(Params):
    kind: str = "homophone"
    p: float = 0.1  # fraction of the Chinese characters edited (at least one)

    def validate(self, op: str) -> None:
        check(op, "kind", self.kind in ZH_CHAR_KINDS, "|".join(ZH_CHAR_KINDS), self.kind)
        check(op, "p", 0 < self.p <= 1, "a float in (0, 1]", self.p)


@register
class ZhChar(Operator):
    """Chinese character noise: homophones, fuzzy pinyin, similar glyphs, real misspellings, insert/delete/swap."""

    name = "zh_char"
    Params = ZhCharParams
    params: ZhCharParams
    languages = ("zh",)

    def check_extras(self) -> None:
        from textrobust.extras import require

        kind = self.params.kind
        if kind in _KIND_EXTRA:
            require(_KIND_EXTRA[kind], f"zh_char:kind={kind}")
        if kind in ("fuzzy_pinyin", "glyph"):
            require("zhtables", f"zh_char:kind={kind}")  # the common-character list

    def inapplicable(self, text: str) -> str | None:
        han = [c for c in text if zh_tables.is_han(c)]
        if not han:
            return "no Chinese character"
        kind = self.params.kind
        if kind == "delete" and len(han) < 2:
            return "a single Chinese character (never deleted)"
        if kind == "swap" and not any(a != b for a, b in zip(han, han[1:], strict=False)):
            return "no two different neighbouring Chinese characters"
        if kind in _KIND_EXTRA and kind != "insert" and not any(substitutes(kind)(c) for c in han):
            return f"no character with a {kind} substitute"
        return None

    def apply(self, text: str, rng: np.random.Generator) -> str | None:
        kind = self.params.kind
        han = [i for i, c in enumerate(text) if zh_tables.is_han(c)]
        if kind == "swap":
            # a position whose right neighbour is a different Chinese character
            han = [i for i in han if i + 1 < len(text) and zh_tables.is_han(text[i + 1]) and text[i + 1] != text[i]]
        elif kind == "delete" and len(han) < 2:
            return None  # never delete a text's only Chinese character
        if not han:
            return None
        draws = _text.Draws(rng)
        want = max(1, round(self.params.p * len(han)))
        if kind == "delete":
            want = min(want, len(han) - 1)
        chars = list(text)
        done = 0
        if kind in ("swap", "delete", "insert"):
            picked = draws.sample(len(han), want)
            common = zh_tables.common_chars() if kind == "insert" else ()
            for j in sorted(picked, reverse=True):  # right to left: earlier positions stay valid
                i = han[j]
                if kind == "swap":
                    if chars[i + 1] == chars[i] or not zh_tables.is_han(chars[i + 1]):
                        continue  # an earlier swap moved a neighbour here
                    chars[i], chars[i + 1] = chars[i + 1], chars[i]
                elif kind == "delete":
                    chars[i] = ""
                else:
                    chars[i] += common[draws.below(len(common))]
                done += 1
        else:
            table = substitutes(kind)
            eligible = [i for i in han if table(text[i])]
            for j in draws.sample(len(eligible), min(want, len(eligible))):
                i = eligible[j]
                opts = table(text[i])
                chars[i] = opts[draws.below(len(opts))]
                done += 1
        return "".join(chars) if done else None
