"""Character-level noise (``char``) using the tables nlpaug ships (keyboard, OCR, spelling), with our own seeded
sampling: pure Python over tables built once per process, no per-call object construction.

Example:
    >>> from textrobust.augment import parse_op
    >>> op = parse_op("char:kind=keyboard,p=0.5")
    >>> op(["typing quickly causes mistakes"], seed=3)[0][0] != "typing quickly causes mistakes"
    True
"""

from __future__ import annotations

import functools
import json
import string
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from textrobust import lang as _lang
from textrobust import text as _text
from textrobust.augment.base import Operator, Params, check, register
from textrobust.errors import ResourceError

KINDS = ("keyboard", "ocr", "random_insert", "random_substitute", "random_swap", "random_delete", "spelling")
_LETTERS = string.ascii_letters
#: Languages per kind: keyboard and OCR tables are Latin; the misspelling list is English; the random edits work
#: on the letters of any script (insertions and substitutions draw letters of the edited letter's own script).
KIND_LANGUAGES = {"keyboard": _lang.LATIN, "ocr": _lang.LATIN, "spelling": ("en",)}
# Lower-case alphabets of the cased non-Latin scripts; other scripts draw from the letters of the word itself.
_ALPHABETS = {
    "Cyrl": "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
    "Grek": "αβγδεζηθικλμνξοπρστυφχψω",
    "Arab": "ابتثجحخدذرزسشصضطظعغفقكلمنهوي",
}


@functools.lru_cache(maxsize=4096)
def _char_name(c: str) -> str:
    import unicodedata

    return unicodedata.name(c, "")


def _nlpaug_res(*parts: str) -> Path:
    import importlib.util

    spec = importlib.util.find_spec("nlpaug")
    if spec is None or not spec.submodule_search_locations:
        raise ResourceError("char: nlpaug is not installed; `pip install nlpaug==1.1.11` (it ships the tables)")
    path = Path(next(iter(spec.submodule_search_locations))).joinpath("res", *parts)
    if not path.exists():
        raise ResourceError(f"char: table {path} missing from the nlpaug install; reinstall nlpaug==1.1.11")
    return path


def _load_json_table(path: Path, alnum_only: bool) -> dict[str, tuple[str, ...]]:
    raw = json.loads(path.read_text(encoding="utf-8"))
    table = {}
    for k, vals in raw.items():
        # Keyboard neighbours include shifted symbols (!, @); letters/digits only keeps words readable words.
        vs = tuple(v for v in vals if v != k and (not alnum_only or v.isalnum()))
        if vs:
            table[k] = vs
    return table


@functools.cache
def keyboard_table(lang: str = "en") -> dict[str, tuple[str, ...]]:
    """Key -> neighbouring keys, from nlpaug's ``res/char/keyboard/<lang>.json`` (upper case added)."""
    table = _load_json_table(_nlpaug_res("char", "keyboard", f"{lang}.json"), alnum_only=True)
    for k, vs in list(table.items()):
        if k.isalpha() and k.upper() not in table:
            table[k.upper()] = tuple(v.upper() for v in vs)
    return table


@functools.cache
def ocr_table() -> dict[str, tuple[str, ...]]:
    """Character -> OCR confusions (0 -> o, l -> 1, ...), from nlpaug's ``res/char/ocr/en.json``."""
    return _load_json_table(_nlpaug_res("char", "ocr", "en.json"), alnum_only=False)


@functools.cache
def spelling_table() -> dict[str, tuple[str, ...]]:
    """Word -> common misspellings, from nlpaug's ``res/word/spelling/spelling_en.txt``."""
    table: dict[str, tuple[str, ...]] = {}
    for line in _nlpaug_res("word", "spelling", "spelling_en.txt").read_text(encoding="utf-8").splitlines():
        parts = line.split()
        opts = tuple(dict.fromkeys(p for p in parts[1:] if p.lower() != parts[0].lower()))
        if opts:
            key = parts[0].lower()
            table[key] = tuple(dict.fromkeys(table.get(key, ()) + opts))  # the file repeats some words
    return table


@dataclass(frozen=True)
class CharParams(Params):
    kind: str = "keyboard"
    p: float = 0.3  # fraction of eligible words that get noise
    char_p: float = 0.3  # fraction of characters changed inside a chosen word
    min_per_word: int = 1  # characters changed per chosen word: clip(char_p * len, min, max)
    max_per_word: int = 3
    min_word_len: int = 3  # shorter words are left alone (as nlpaug's min_char)
    lang: str = "en"  # keyboard layout shipped by nlpaug

    def validate(self, op: str) -> None:
        check(op, "kind", self.kind in KINDS, "|".join(KINDS), self.kind)
        check(op, "p", 0 < self.p <= 1, "a float in (0, 1]", self.p)
        check(op, "char_p", 0 < self.char_p <= 1, "a float in (0, 1]", self.char_p)
        check(op, "min_per_word", self.min_per_word >= 1, "an integer >= 1", self.min_per_word)
        check(
            op, "max_per_word", self.max_per_word >= self.min_per_word, "an integer >= min_per_word", self.max_per_word
        )
        check(op, "min_word_len", self.min_word_len >= 1, "an integer >= 1", self.min_word_len)


@register
class CharNoise(Operator):
    """Character noise: keyboard typos, OCR confusions, random insert/substitute/swap/delete or misspellings."""

    name = "char"
    Params = CharParams
    params: CharParams
    languages = _lang.ANY  # by kind: see supported_languages

    def supported_languages(self) -> tuple[str, ...]:
        return KIND_LANGUAGES.get(self.params.kind, _lang.ANY)

    def language_label(self) -> str:
        spec = self.spec_str()
        if "kind=" in spec:
            return spec
        rest = spec.partition(":")[2]
        return f"char:kind={self.params.kind}" + (f",{rest}" if rest else "")

    def __init__(self, params: CharParams | None = None, **kwargs) -> None:
        super().__init__(params, **kwargs)
        kind = self.params.kind
        if kind == "keyboard":
            self._table = keyboard_table(self.params.lang)
        elif kind == "ocr":
            self._table = ocr_table()
        elif kind == "spelling":
            self._table = spelling_table()
        else:
            self._table = {}
        self._edit = getattr(self, f"_{kind}")

    def inapplicable(self, text: str) -> str | None:
        p = self.params
        if p.kind == "spelling":
            ok = any(m.group().lower() in self._table for m in _text.COMPOUND_RUN.finditer(text))
            return None if ok else "no word on the misspelling list"
        runs = [m.group() for m in _text.WORD_RUN.finditer(text) if len(m.group()) >= p.min_word_len]
        if self._table:
            runs = [r for r in runs if any(c in self._table for c in r)]
        else:
            runs = [r for r in runs if not r.isdigit()]
        return None if runs else f"no word of {p.min_word_len}+ letters this kind edits"

    def apply(self, text: str, rng: np.random.Generator) -> str | None:
        p = self.params
        table = self._table
        if p.kind == "spelling":
            # Whole-word lookups; inner apostrophes/hyphens are part of the word (the list has don't, well-known).
            spans = [m.span() for m in _text.COMPOUND_RUN.finditer(text) if m.group().lower() in table]
        else:
            spans = [m.span() for m in _text.WORD_RUN.finditer(text) if m.end() - m.start() >= p.min_word_len]
            if table:
                spans = [(a, b) for a, b in spans if any(c in table for c in text[a:b])]
            else:
                spans = [(a, b) for a, b in spans if not text[a:b].isdigit()]
        if not spans:
            return None
        draws = _text.Draws(rng)
        k = min(max(1, round(p.p * len(spans))), len(spans))
        edits = {}
        for j in draws.sample(len(spans), k):
            a, b = spans[j]
            new = self._edit(text[a:b], draws)
            if new != text[a:b]:
                edits[a] = (b, new)
        if not edits:
            return None
        out, pos = [], 0
        for a in sorted(edits):
            b, new = edits[a]
            out.append(text[pos:a])
            out.append(new)
            pos = b
        out.append(text[pos:])
        return "".join(out)

    # -- per-word edits (draws: a _text.Draws) -----------------------------------------------------------------
    def _n_chars(self, length: int) -> int:
        p = self.params
        return int(min(max(round(p.char_p * length), p.min_per_word), p.max_per_word, length))

    def _table_sub(self, word: str, draws: _text.Draws) -> str:
        table = self._table
        positions = [i for i, c in enumerate(word) if c in table]
        chars = list(word)
        for j in draws.sample(len(positions), self._n_chars(len(word))):
            opts = table[chars[positions[j]]]
            chars[positions[j]] = opts[draws.below(len(opts))]
        return "".join(chars)

    _keyboard = _table_sub
    _ocr = _table_sub

    def _spelling(self, word: str, draws: _text.Draws) -> str:
        opts = self._table[word.lower()]
        return _text.match_case(word, opts[draws.below(len(opts))])

    def _positions(self, word: str, draws: _text.Draws, upto: int | None = None) -> list[int]:
        n = len(word) if upto is None else upto
        return sorted(draws.sample(n, self._n_chars(len(word))))

    @staticmethod
    def _rand_letter(like: str, draws: _text.Draws, word: str = "") -> str:
        """A random letter of ``like``'s script: ASCII for Latin, the alphabet for Cyrillic, Greek and Arabic, and
        for scripts without a small alphabet (Han, Hangul, Devanagari, ...) another character of the same word."""
        if like.isascii() or "LATIN" in _char_name(like):
            c = _LETTERS[draws.below(26)]
            return c.upper() if like.isupper() else c
        script = _lang.text_script(like)
        alphabet = _ALPHABETS.get(script or "")
        if alphabet:
            c = alphabet[draws.below(len(alphabet))]
            return c.upper() if like.isupper() else c
        pool = [c for c in word if c != like and _lang.text_script(c) == script] or [like]
        return pool[draws.below(len(pool))]

    def _random_insert(self, word: str, draws: _text.Draws) -> str:
        chars = list(word)
        for i in reversed(self._positions(word, draws)):
            chars.insert(i + 1, self._rand_letter(chars[i], draws, word))
        return "".join(chars)

    def _random_substitute(self, word: str, draws: _text.Draws) -> str:
        chars = list(word)
        for i in self._positions(word, draws):
            chars[i] = self._rand_letter(chars[i], draws, word)
        return "".join(chars)

    def _random_swap(self, word: str, draws: _text.Draws) -> str:
        chars = list(word)
        for i in self._positions(word, draws, upto=len(word) - 1):
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
        return "".join(chars)

    def _random_delete(self, word: str, draws: _text.Draws) -> str:
        drop = set(self._positions(word, draws))
        if len(drop) >= len(word):
            drop.discard(max(drop))  # never delete a whole word
        return "".join(c for i, c in enumerate(word) if i not in drop)
