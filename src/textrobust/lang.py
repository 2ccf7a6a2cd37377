"""Languages: what each part of textrobust supports, what language an input is in, and how its words are found
(a leaf: the standard library, plus jieba inside :func:`segment` for Chinese).

Every registered operator, attack recipe, perturbation suite and filter *declares* the languages it supports
(:data:`ANY`, :data:`SPACED`, :data:`LATIN` or explicit codes such as ``("en",)``). An input's language comes from
the user (``--lang``, ``lang=``) or from :func:`detect_language`; asking a part for a language it does not support
raises :class:`~textrobust.errors.LanguageError`, one line naming the part and the languages it supports
(:func:`check_supported`) — never an unchanged output.

Detection is by script first (Han -> zh, kana -> ja, Hangul -> ko, Arabic, Devanagari, Cyrillic, Greek, Hebrew,
Thai), then, for Latin and Cyrillic text, by counting function words of en, fr, pt, es, de, it, nl and ru over the
whole input. A corpus whose texts are in several scripts is ``mul``; Latin text without a clear winner is
``und-Latn`` (the script is known, the language is not), text without letters ``und``. Parts that support any
language accept those; the others refuse and ask for ``--lang``.

Example:
    >>> detect_language(["这部电影非常好看", "服务太差了"]).lang
    'zh'
    >>> detect_language(["le film était très bon", "je n'ai pas aimé la fin"]).lang
    'fr'
    >>> check_supported("synonym:source=wordnet", "zh", ("en",))
    Traceback (most recent call last):
    ...
    textrobust.errors.LanguageError: synonym:source=wordnet does not support zh (Chinese); it supports: en (English)
"""

from __future__ import annotations

import functools
import logging
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from textrobust.errors import LanguageError

#: Declared support: any language (including mixed and undetermined input).
ANY: tuple[str, ...] = ("*",)
#: Any language written with spaces between words (not zh, ja, th), its script known.
SPACED: tuple[str, ...] = ("spaced",)
#: Any language written in the Latin script.
LATIN: tuple[str, ...] = ("latin",)

#: Codes of input that is mixed, or whose language (but not script) is unknown.
MIXED = "mul"
UNDETERMINED = "und"


@dataclass(frozen=True)
class Language:
    code: str
    name: str
    script: str  # ISO 15924: Latn, Hani, Jpan, Hang, Cyrl, Arab, Deva, Grek, Hebr, Thai
    spaced: bool = True  # words are separated by spaces


LANGUAGES: dict[str, Language] = {
    x.code: x
    for x in (
        Language("en", "English", "Latn"),
        Language("fr", "French", "Latn"),
        Language("pt", "Portuguese", "Latn"),
        Language("es", "Spanish", "Latn"),
        Language("de", "German", "Latn"),
        Language("it", "Italian", "Latn"),
        Language("nl", "Dutch", "Latn"),
        Language("ru", "Russian", "Cyrl"),
        Language("ar", "Arabic", "Arab"),
        Language("hi", "Hindi", "Deva"),
        Language("el", "Greek", "Grek"),
        Language("he", "Hebrew", "Hebr"),
        Language("ko", "Korean", "Hang"),
        Language("zh", "Chinese", "Hani", spaced=False),
        Language("ja", "Japanese", "Jpan", spaced=False),
        Language("th", "Thai", "Thai", spaced=False),
    )
}
#: The language a script alone decides (Latin and Cyrillic need function words).
_SCRIPT_LANG = {"Hani": "zh", "Jpan": "ja", "Hang": "ko", "Arab": "ar", "Deva": "hi", "Grek": "el", "Hebr": "he"}
_SCRIPT_LANG["Thai"] = "th"

# Letters by script. Han, kana and Thai count characters (no spaces between words); the others count words, so a
# Latin brand name in a Chinese review ("这个iPhone很好用") does not outweigh the Chinese around it.
_SCRIPTS: tuple[tuple[str, re.Pattern[str], bool], ...] = (  # (script, letters, counted per character)
    ("Hani", re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"), True),
    ("Kana", re.compile(r"[\u3040-\u30ff]"), True),
    ("Thai", re.compile(r"[\u0e00-\u0e7f]"), True),
    ("Hang", re.compile(r"[\uac00-\ud7af\u1100-\u11ff]+"), False),
    ("Latn", re.compile(r"[A-Za-z\u00c0-\u024f]+"), False),
    ("Cyrl", re.compile(r"[\u0400-\u04ff]+"), False),
    ("Arab", re.compile(r"[\u0600-\u06ff\u0750-\u077f]+"), False),
    ("Deva", re.compile(r"[\u0900-\u097f]+"), False),
    ("Grek", re.compile(r"[\u0370-\u03ff]+"), False),
    ("Hebr", re.compile(r"[\u0590-\u05ff]+"), False),
)

# Frequent function words, chosen to tell the languages apart (words two languages share count for both).
_FUNCTION_WORDS: dict[str, frozenset[str]] = {
    k: frozenset(v.split())
    for k, v in {
        "en": "the and is was this that with for not you are have it of to in my but they what just be on at "
        "would very too so there been has had i'm don't it's from",
        "fr": "le la les des est et une un pas je que qui pour dans sur avec ce c'est mais il elle du au très plus ne "
        "on vous nous j'ai tout bien sont cette aux été",
        "pt": "o os as não é um uma que para com do da dos das em no na mais muito mas eu se isso está foi tem "
        "você ele ela ao pra são esse essa também",
        "es": "el los las es y un una que para con del en por no pero muy más lo está fue yo se esto como al "
        "son esta este también hay",
        "de": "der die das und ist nicht ein eine ich es zu mit auf den von sich auch dem sie wir aber so war "
        "nur noch wie wenn",
        "it": "il la le gli e è un una che non per con del della di sono ma molto anche come questo ho più "
        "nel alla questa",
        "nl": "de het een en is niet van dat ik je op te met voor zijn maar ook dit er was wat nog",
        "ru": "и в не на я что с он как это по но из у за так же от все она мне было",
    }.items()
}
_LATIN_LANGS = ("en", "fr", "pt", "es", "de", "it", "nl")
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")


@dataclass(frozen=True)
class Detection:
    """What :func:`detect_language` found: ``lang`` (a code, ``mul`` or ``und``/``und-<Script>``), the share of
    texts in each script and, for Latin/Cyrillic input, function-word hits per language."""

    lang: str
    scripts: dict[str, float] = field(default_factory=dict)
    votes: dict[str, int] = field(default_factory=dict)
    texts: int = 0

    def describe(self) -> str:
        """One phrase for messages, e.g. ``zh 62%, en 38% of 500 texts``."""
        if not self.scripts:
            return f"no letters in {self.texts} texts"
        parts = [f"{script_language(s)} {share:.0%}" for s, share in sorted(self.scripts.items(), key=lambda x: -x[1])]
        return f"{', '.join(parts)} of {self.texts} texts"


def script_language(script: str) -> str:
    """The language a script names on its own (``Hani`` -> ``zh``), else ``und-<script>``."""
    return _SCRIPT_LANG.get(script, f"und-{script}")


def text_script(text: str) -> str | None:
    """The dominant script of one text (``Jpan`` when it holds any kana), or None without letters.

    Example:
        >>> text_script("这个iPhone很好用"), text_script("great film"), text_script("123 !")
        ('Hani', 'Latn', None)
    """
    counts = {}
    for sname, pattern, _per_char in _SCRIPTS:
        hits = pattern.findall(text)  # single characters, or runs (words) for the spaced scripts
        if hits:
            counts[sname] = len(hits)
    if not counts:
        return None
    if "Kana" in counts:
        return "Jpan"
    return max(counts.items(), key=lambda kv: kv[1])[0]


def detect_language(texts: Iterable[str], *, sample: int = 2000, majority: float = 0.8) -> Detection:
    """The language of a corpus (the first ``sample`` non-empty texts): its dominant script when at least
    ``majority`` of the texts with letters share it (else ``mul``), then function words for Latin and Cyrillic.

    Example:
        >>> detect_language(["the film was good", "这部电影很好"]).lang
        'mul'
        >>> detect_language(["@user http", "lol"]).lang
        'und-Latn'
    """
    scripts: Counter[str] = Counter()
    words: list[str] = []
    n = 0
    for t in texts:
        if n >= sample:
            break
        if not t or t.isspace():
            continue
        n += 1
        s = text_script(t)
        if s is None:
            continue
        scripts[s] += 1
        if s in ("Latn", "Cyrl"):
            words.extend(w.lower() for w in _WORD.findall(t))
    total = sum(scripts.values())
    shares = {s: c / total for s, c in scripts.items()} if total else {}
    if not total:
        return Detection(UNDETERMINED, shares, {}, n)
    top, count = scripts.most_common(1)[0]
    if count / total < majority:
        return Detection(MIXED, shares, {}, n)
    if top not in ("Latn", "Cyrl"):
        return Detection(script_language(top), shares, {}, n)
    candidates = _LATIN_LANGS if top == "Latn" else ("ru",)
    votes = {lang: sum(1 for w in words if w in _FUNCTION_WORDS[lang]) for lang in candidates}
    ranked = sorted(votes.items(), key=lambda kv: -kv[1])
    best, hits = ranked[0]
    second = ranked[1][1] if len(ranked) > 1 else 0
    # One language must clearly lead: shared words (que, de, la) count for several, the distinctive ones decide.
    if hits >= 1 and hits >= 1.5 * second + (1 if second else 0):
        return Detection(best, shares, votes, n)
    return Detection(f"{UNDETERMINED}-{top}", shares, votes, n)


def normalise(code: str) -> str:
    """A user's language code checked and lower-cased (``ZH`` -> ``zh``; ``zh-cn``, ``zh_TW`` -> ``zh``).

    Example:
        >>> normalise("zh-TW"), normalise("pt_BR")
        ('zh', 'pt')
    """
    text = code.strip()
    base = re.split(r"[-_]", text, maxsplit=1)[0].lower()
    if text.lower() in (MIXED, UNDETERMINED) or text.lower().startswith("und-"):
        return text.lower() if not text.lower().startswith("und-") else f"und-{text[4:].title()}"
    if not re.fullmatch(r"[a-z]{2,3}", base):
        raise LanguageError(
            f"unknown language code {code!r}: give an ISO 639-1 code such as {', '.join(sorted(LANGUAGES))}"
        )
    return base


def name(code: str) -> str:
    """``zh`` -> ``zh (Chinese)``; ``mul`` and ``und`` read as words."""
    if code == MIXED:
        return "mixed languages"
    if code.startswith(UNDETERMINED):
        script = code[4:]
        return f"an undetermined language{f' in {script} script' if script else ''}"
    lang = LANGUAGES.get(code)
    return f"{code} ({lang.name})" if lang else code


def script(code: str) -> str | None:
    """The script of a language code (``und-Latn`` -> ``Latn``), None when unknown."""
    if code.startswith(f"{UNDETERMINED}-"):
        return code[4:]
    lang = LANGUAGES.get(code)
    return lang.script if lang else None


def is_spaced(code: str) -> bool:
    """Whether words of ``code`` are separated by spaces (False for zh, ja, th; True for unknown codes and
    ``und-Latn``-like codes whose script is spaced)."""
    lang = LANGUAGES.get(code)
    if lang is not None:
        return lang.spaced
    return script(code) not in ("Hani", "Jpan", "Thai")


def supports(declared: Sequence[str], code: str) -> bool:
    """Whether a part that declares ``declared`` supports language ``code``. Text whose script is known but whose
    language could not be told (``und-Latn``: a few words without function words) gets the benefit of the doubt
    from parts that support a language of that script; mixed (``mul``) and letterless (``und``) input only from
    parts that support any language.

    Example:
        >>> supports(SPACED, "fr"), supports(SPACED, "zh"), supports(("en",), "und-Latn"), supports(("en",), "mul")
        (True, False, True, False)
        >>> supports(("zh",), "und-Latn")
        False
    """
    for d in declared:
        if d == "*" or d == code:
            return True
        if code == MIXED or code == UNDETERMINED:
            continue
        if d == "spaced" and is_spaced(code) and script(code) is not None:
            return True
        if d == "latin" and script(code) == "Latn":
            return True
        if code.startswith(f"{UNDETERMINED}-") and d in LANGUAGES and LANGUAGES[d].script == script(code):
            return True
    return False


def intersect(*declared: Sequence[str]) -> tuple[str, ...]:
    """What a composition of parts supports: the languages every one of ``declared`` supports.

    Example:
        >>> intersect(ANY, ("en", "zh")), intersect(LATIN, ("en", "zh")), intersect(SPACED, LATIN)
        (('en', 'zh'), ('en',), ('latin',))
    """
    out: tuple[str, ...] = ANY
    for d in declared:
        if tuple(d) == ANY:
            continue
        if out == ANY:
            out = tuple(d)
            continue
        keep: list[str] = []
        for a, b in ((out, d), (d, out)):
            for token in a:
                if token in LANGUAGES and supports(b, token):
                    keep.append(token)
                elif token in ("spaced", "latin") and (token in b or (token == "latin" and "spaced" in b)):
                    keep.append(token)
        out = tuple(dict.fromkeys(keep))
    return out


def describe(declared: Sequence[str]) -> str:
    """The declared languages in words, for messages and listings.

    Example:
        >>> describe(("en", "zh")), describe(SPACED)
        ('en (English), zh (Chinese)', 'any language written with spaces between words (not zh, ja, th)')
    """
    words = []
    for d in declared:
        if d == "*":
            words.append("any language")
        elif d == "spaced":
            words.append("any language written with spaces between words (not zh, ja, th)")
        elif d == "latin":
            words.append("any Latin-script language (en, fr, pt, es, de, it, nl, ...)")
        else:
            words.append(name(d))
    return ", ".join(words)


def check_supported(who: str, code: str, declared: Sequence[str], hint: str = "") -> None:
    """Raise the one-line :class:`LanguageError` unless ``declared`` supports ``code``. The message names the
    part, the language and what it supports (and what to do about mixed or undetermined input).

    Example:
        >>> check_supported("char:kind=random_swap", "zh", ANY)
    """
    if supports(declared, code):
        return
    if code == MIXED:
        why = "the input mixes languages; split it by language, or pass --lang (lang=) to choose one"
        raise LanguageError(f"{who} supports {describe(declared)}, but {why}")
    if code.startswith(UNDETERMINED):
        raise LanguageError(
            f"{who} supports {describe(declared)}, but the language of the input cannot be told "
            f"({name(code)}); pass --lang (lang=) to say which it is"
        )
    more = f"; {hint}" if hint else ""
    raise LanguageError(f"{who} does not support {name(code)}; it supports: {describe(declared)}{more}")


def resolve(texts: Sequence[str] | Iterable[str], lang: str | None = None) -> str:
    """``lang`` normalised when given, else the detected language of ``texts``.

    Example:
        >>> resolve(["这部电影很好"]), resolve(["whatever"], "PT")
        ('zh', 'pt')
    """
    if lang is not None and lang.lower() != "auto":
        return normalise(lang)
    return detect_language(texts).lang


# ---------------------------------------------------------------------------------------------- segmentation
_WORD_OR_NUMBER = re.compile(r"\w+(?:['\u2019\-]\w+)*")
_HAS_WORD_CHAR = re.compile(r"\w")


def segment(text: str, code: str) -> list[tuple[int, int]]:
    """Character spans of the words of ``text`` in language ``code``: jieba's segmentation for Chinese (punctuation
    and spaces dropped), runs of word characters joined by inner apostrophes or hyphens otherwise. Raises
    :class:`~textrobust.errors.ResourceError` naming the package when jieba is missing.

    Example:
        >>> segment("服务非常好，房间干净", "zh")  # doctest: +SKIP
        [(0, 2), (2, 4), (4, 5), (6, 8), (8, 10)]
        >>> segment("don't stop", "en")
        [(0, 5), (6, 10)]
    """
    if code == "zh" or (code in (MIXED, UNDETERMINED) and text_script(text) == "Hani"):
        return [(a, b) for w, a, b in jieba_tokenize(text) if _HAS_WORD_CHAR.search(w) and not w.isspace()]
    return [m.span() for m in _WORD_OR_NUMBER.finditer(text)]


def jieba_tokenize(text: str) -> list[tuple[str, int, int]]:
    """``(word, start, end)`` for every piece jieba cuts ``text`` into (precise mode, HMM on): deterministic."""
    return list(_jieba().tokenize(text))


@functools.lru_cache(maxsize=1)
def _jieba() -> Any:
    import importlib.util

    from textrobust.extras import cache_dir, missing

    if importlib.util.find_spec("jieba") is None:
        raise missing("jieba", "Chinese word segmentation", "jieba is not installed")
    import jieba

    # jieba logs its dictionary loading at DEBUG on stderr, and caches the dictionary in the system temp folder
    # shared by every user; keep it quiet and in textrobust's own cache.
    jieba.setLogLevel(logging.WARNING)
    tok = jieba.Tokenizer()
    folder = cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tok.tmp_dir = str(folder)
    except OSError:
        pass  # an unwritable cache folder: jieba rebuilds the prefix dictionary in memory (about 1 s)
    tok.initialize()
    return tok


__all__ = [
    "ANY",
    "LANGUAGES",
    "LATIN",
    "MIXED",
    "SPACED",
    "UNDETERMINED",
    "Detection",
    "Language",
    "check_supported",
    "describe",
    "detect_language",
    "intersect",
    "is_spaced",
    "jieba_tokenize",
    "name",
    "normalise",
    "resolve",
    "script",
    "script_language",
    "segment",
    "supports",
    "text_script",
]
