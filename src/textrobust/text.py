"""Whitespace-preserving tokenisation shared by word- and character-level operators, attacks and perturbation
suites (a leaf: the standard library only).

A text is split into tokens (non-space runs) and the spaces between them, so ``"".join`` restores it exactly.
Each token splits into leading punctuation, a core and trailing punctuation: ``'"Great!'`` -> ``'"', 'Great', '!'``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

_WS = re.compile(r"(\s+)")
# Leading/trailing runs of anything that is not a letter or digit (punctuation, quotes, emoji).
_EDGES = re.compile(r"^([^\w]*)(.*?)([^\w]*)$", re.DOTALL)
# A word: letters with optional inner apostrophes/hyphens (don't, well-made); no digits or underscores.
_WORD = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*")
# A word as the attacks tokenise text: word characters, digits included ("2nd", "1990"), with the same joins.
WORD_OR_NUMBER = re.compile(r"\w+(?:['\u2019\-]\w+)*")


@dataclass(slots=True)
class Token:
    pre: str
    core: str
    post: str

    @property
    def text(self) -> str:
        return self.pre + self.core + self.post


def split(text: str) -> tuple[list[Token], list[str]]:
    """Tokens and the whitespace separators around them (``len(seps) == len(tokens) + 1``)."""
    if not text or text.isspace():
        return [], [text]
    parts = _WS.split(text)  # [tok, ws, tok, ws, ..., tok]; only the end tokens can be empty
    raws, ws = parts[0::2], parts[1::2]
    lead = trail = ""
    if raws[0] == "" and ws:
        raws, lead, ws = raws[1:], ws[0], ws[1:]
    if raws and raws[-1] == "":
        raws.pop()
        trail = ws.pop() if ws else ""
    return [Token(*_parts(r)) for r in raws], [lead, *ws, trail]


@functools.lru_cache(maxsize=1 << 16)
def _parts(raw: str) -> tuple[str, str, str]:
    # Pure function of the token string; the cache turns most tokens of a corpus into one dict lookup.
    if raw.isalnum():
        return "", raw, ""
    m = _EDGES.match(raw)
    return (m.group(1), m.group(2), m.group(3)) if m else ("", raw, "")


def split_words(text: str, code: str | None) -> tuple[list[Token], list[str]]:
    """:func:`split` for a text in language ``code``: Chinese (``zh``, or a Chinese text of unknown language) is
    segmented into words by jieba, with punctuation attached to the word before it and empty separators; other
    languages split at whitespace. ``join(*split_words(t, code)) == t`` either way.

    Example:
        >>> [t.text for t in split_words("a fine, dull film", "en")[0]]
        ['a', 'fine,', 'dull', 'film']
        >>> [t.text for t in split_words("服务很好，推荐", "zh")[0]]  # doctest: +SKIP
        ['服务', '很', '好，', '推荐']
    """
    from . import lang

    if not _segmented(text, code):
        return split(text)
    tokens: list[Token] = []
    lead = ""
    for piece, _, _ in lang.jieba_tokenize(text):
        if piece.strip() and re.search(r"\w", piece):
            tokens.append(Token("", piece, ""))
        elif tokens:
            tokens[-1].post += piece
        else:
            lead += piece
    if not tokens:
        return [], [text]
    return tokens, [lead] + [""] * len(tokens)


def _segmented(text: str, code: str | None) -> bool:
    from . import lang

    if code == "zh":
        return True
    return code in (None, lang.MIXED, lang.UNDETERMINED) and lang.text_script(text) == "Hani"


def separator(code: str | None, text: str = "") -> str:
    """What goes between words when word operators add or remove some: a space, or nothing for Chinese."""
    return "" if _segmented(text, code) else " "


def join(tokens: list[Token], seps: list[str], space: str = " ") -> str:
    """Inverse of :func:`split` / :func:`split_words`; tokens may have been removed or inserted (``space`` goes
    between them then: a space, or ``""`` for Chinese)."""
    if len(seps) != len(tokens) + 1:
        seps = [seps[0] if seps else ""] + [space] * max(len(tokens) - 1, 0) + [seps[-1] if seps else ""]
    out = [seps[0]]
    for tok, sep in zip(tokens, seps[1:], strict=True):
        out += (tok.pre, tok.core, tok.post, sep)
    return "".join(out)


def is_word(core: str, *, digits: bool = False) -> bool:
    """True when ``core`` is exactly one word: letters of any script joined by inner apostrophes or hyphens;
    with ``digits=True`` also digits and underscores (``"2nd"``, ``"1990"``: what attacks may swap). Never
    punctuation, spaces or emoji. Augmentation operators leave numbers alone; attack transformations use
    ``digits=True``, as TextAttack does.

    Example:
        >>> is_word("well-made"), is_word("1990"), is_word("1990", digits=True), is_word("a b", digits=True)
        (True, False, True, False)
    """
    return bool(core) and (WORD_OR_NUMBER if digits else _WORD).fullmatch(core) is not None


def match_case(src: str, repl: str) -> str:
    """Give ``repl`` the capitalisation pattern of ``src`` (UPPER, Title or as-is)."""
    if len(src) > 1 and src.isupper():
        return repl.upper()
    if src[:1].isupper():
        return repl[:1].upper() + repl[1:]
    return repl


# Word-character runs: what character-level noise edits (punctuation and spaces are never touched).
WORD_RUN = re.compile(r"[^\W_]+")
# Word runs joined by inner apostrophes or hyphens (don't, well-known): whole-word lookups such as spelling.
COMPOUND_RUN = re.compile(r"[^\W_]+(?:['’\-][^\W_]+)*")


class Draws:
    """Fast uniform draws taken in blocks from a row's numpy Generator.

    Calling Generator methods one at a time costs ~1-7 µs each (``choice`` without replacement is the worst);
    rule-based operators make dozens of small draws per sentence, so they read floats from a pre-drawn block.
    Still fully determined by the row's generator.
    """

    __slots__ = ("_buf", "_i", "_rng")

    def __init__(self, rng, block: int = 32) -> None:
        self._rng = rng
        self._buf = rng.random(block).tolist()
        self._i = 0

    def _take(self, n: int) -> list[float]:
        if self._i + n > len(self._buf):
            self._buf = self._buf[self._i :] + self._rng.random(max(32, n)).tolist()
            self._i = 0
        out = self._buf[self._i : self._i + n]
        self._i += n
        return out

    def random(self) -> float:
        if self._i >= len(self._buf):
            self._buf = self._rng.random(32).tolist()
            self._i = 0
        v = self._buf[self._i]
        self._i += 1
        return v

    def below(self, n: int) -> int:
        """An integer in [0, n)."""
        return min(int(self.random() * n), n - 1)

    def sample(self, n: int, k: int) -> list[int]:
        """``k`` distinct integers from [0, n), in random order."""
        k = min(n, k)
        if k == 1:
            return [self.below(n)]
        if k * 4 <= n:  # few from many: rejection sampling avoids drawing and sorting n keys
            out: list[int] = []
            while len(out) < k:
                j = self.below(n)
                if j not in out:
                    out.append(j)
            return out
        keys = self._take(n)
        return sorted(range(n), key=keys.__getitem__)[:k]
