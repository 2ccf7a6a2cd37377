"""Behaviour test packs (CheckList's tests as data): templates with lexicons and an expectation per test.

A pack is YAML (templates expanded here) or JSONL (one ready case per line). Two test types:

* ``mft`` (minimum functionality): each filled template must get the ``expect`` label ("not good" -> negative);
* ``dir`` (directional): a perturbation (``append`` / ``prepend`` a phrase, or a second ``template`` filled with
  the same words) must not move the probability of ``label`` the wrong way (``direction``: ``not_decrease``,
  ``not_increase`` or ``unchanged``) by more than ``tolerance``. Base texts come from the templates or, with
  ``data: test``, from the evaluation's test set.

YAML example::

    name: my-pack
    labels: [negative, positive]
    lexicons: {noun: [film, plot], pos_adj: [good, great]}
    tests:
      - {name: negated positive, capability: negation, type: mft,
         templates: ["The {noun} was not {pos_adj}."], expect: negative}
      - {name: add praise, capability: vocabulary, type: dir, data: test,
         perturb: {append: ["I loved it."]}, label: positive, direction: not_decrease, tolerance: 0.1}

JSONL: ``{"test": "...", "capability": "...", "type": "mft", "text": "...", "expect": "negative"}`` or
``{"type": "dir", "text": "...", "perturbed": "...", "label": "positive", "direction": "not_decrease"}``.

Languages: a YAML pack says its ``language`` (default ``en``); built-in packs are ``sentiment`` (English) and
``zh-sentiment`` (Chinese, written for this project). A pack runs in another language with a *translation file*:
JSONL lines ``{"source": English text, "target": translation, "lang": "pt"}`` covering every text the pack
generates (:func:`pack_texts` lists them); built-in translations are named ``<pack>.<lang>`` (``sentiment.pt``:
Bergamot's offline en->pt machine translation, unreviewed).
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import string
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..data.io import jsonl_objects
from ..errors import ConfigError, DataError, LanguageError

Direction = Literal["not_decrease", "not_increase", "unchanged"]
BUILTIN_PACKS = {"sentiment": "testpacks/sentiment.yaml", "zh-sentiment": "testpacks/sentiment.zh.yaml"}
#: Translation files shipped with textrobust: ``<pack>.<lang>`` -> file (see the module notes).
BUILTIN_TRANSLATIONS = {"sentiment.pt": "testpacks/sentiment.pt.jsonl"}


@dataclass(frozen=True)
class Case:
    """One expanded test case. MFT: ``text`` must be ``expect``. DIR: from ``text`` to ``perturbed`` the
    probability of ``label`` must move in ``direction`` (within ``tolerance``)."""

    id: str
    test: str
    capability: str
    type: Literal["mft", "dir"]
    text: str
    expect: str | None = None
    perturbed: str | None = None
    label: str | None = None
    direction: Direction | None = None
    tolerance: float = 0.0


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Perturb(_Strict):
    append: list[str] | None = None
    prepend: list[str] | None = None
    template: str | None = None

    @model_validator(mode="after")
    def _one(self) -> Perturb:
        if sum(x is not None for x in (self.append, self.prepend, self.template)) != 1:
            raise ValueError("give exactly one of append, prepend or template")
        return self


class PackTest(_Strict):
    name: str
    capability: str
    type: Literal["mft", "dir"]
    templates: list[str] = []
    data: Literal["test"] | None = Field(None, description="dir only: base texts from the test set")
    expect: str | None = Field(None, description="mft: the expected label")
    perturb: Perturb | None = None
    label: str | None = Field(None, description="dir: the label whose probability is watched")
    direction: Direction = "not_decrease"
    tolerance: float = Field(0.1, ge=0, le=1)
    max_cases: int = Field(60, ge=1, description="sample at most this many cases (seeded) from the templates")

    @model_validator(mode="after")
    def _shape(self) -> PackTest:
        if self.type == "mft":
            if self.expect is None or not self.templates or self.data or self.perturb:
                raise ValueError("an mft test needs templates and expect (and no data/perturb)")
        else:
            if self.perturb is None or self.label is None or (not self.templates and self.data is None):
                raise ValueError("a dir test needs perturb, label, and templates or data: test")
            if self.data == "test" and (self.templates or self.perturb.template):
                raise ValueError("a dir test on data: test takes no templates and perturbs with append or prepend")
        return self


class Pack(_Strict):
    name: str
    language: str = Field("en", description="the language the pack's texts are written in")
    labels: list[str] = Field(..., min_length=2)
    lexicons: dict[str, list[str]] = {}
    tests: list[PackTest] = Field(..., min_length=1)


@dataclass(frozen=True)
class BehaviourPack:
    """A loaded pack: its tests and where it came from (``digest`` changes when the file does)."""

    name: str
    source: str
    digest: str
    labels: list[str]
    lexicons: dict[str, list[str]]
    tests: list[PackTest]
    cases: tuple[Case, ...] = ()  # JSONL packs arrive as ready cases
    language: str = "en"
    translations: dict[str, str] | None = None  # source text -> its translation (language: ``language``)

    def translate(self, text: str) -> str:
        """``text`` in the pack's language (through the translation file when there is one)."""
        if self.translations is None:
            return text
        try:
            return self.translations[text]
        except KeyError:
            raise DataError(
                f"{self.source}: the translation file has no entry for {text!r}; it must cover every text of "
                "pack_texts() (regenerate it)"
            ) from None

    def with_translations(self, path: str, seed: int = 0) -> BehaviourPack:
        """This pack with a translation file (a path, or a built-in name such as ``sentiment.pt``) that covers
        its cases for ``seed``."""
        mapping, lang = load_translations(path)
        needed = pack_texts(self, seed)
        missing = [t for t in needed if t not in mapping]
        if missing:
            raise DataError(
                f"{path}: translations for {len(missing)} of the pack's {len(needed)} texts (seed {seed}) are "
                f"missing (first: {missing[0]!r}); translate every text of testpack.pack_texts(pack, seed)"
            )
        source = f"{self.source} translated by {path}"
        digest = _digest(self.digest + json.dumps(sorted(mapping.items()), ensure_ascii=False))
        return dataclasses.replace(self, source=source, digest=digest, language=lang, translations=mapping)

    def capabilities(self, kind: str) -> list[str]:
        caps = [t.capability for t in self.tests if t.type == kind] + [
            c.capability for c in self.cases if c.type == kind
        ]
        return list(dict.fromkeys(caps))

    def expand(
        self, kind: str, *, seed: int = 0, test_texts: Sequence[str] | None = None, n_test: int = 100
    ) -> list[Case]:
        """All cases of type ``kind``; templates are filled from the lexicons, at most ``max_cases`` per test
        (sampled with ``seed``); ``data: test`` tests use up to ``n_test`` of ``test_texts``."""
        out = [c for c in self.cases if c.type == kind]
        for t in self.tests:
            if t.type == kind:
                out += _expand_test(t, self, seed, test_texts, n_test)
        return out

    def fillings(self, test: PackTest) -> list[tuple[str, str | None]]:
        """Every ``(text, perturbed)`` a template test can produce (no sampling; ``perturbed`` is None for MFT and
        for DIR tests that append or prepend): the pool that targeted training data is drawn from.

        Example:
            >>> p = load_pack("sentiment")
            >>> t = next(t for t in p.tests if t.capability == "negation")
            >>> len(p.fillings(t)) > t.max_cases
            True
        """
        second = test.perturb.template if test.perturb is not None and test.perturb.template else None
        out: list[tuple[str, str | None]] = []
        for tpl in test.templates:
            fields = list(
                dict.fromkeys(_fields(tpl, self, test.name) + (_fields(second, self, test.name) if second else []))
            )
            for values in itertools.product(*(self.lexicons[f] for f in fields)):
                fill = dict(zip(fields, values, strict=True))
                out.append((tpl.format(**fill), second.format(**fill) if second else None))
        return out

    def check_language(self, code: str, who: str) -> None:
        """Refuse (one line) a pack whose texts are not in language ``code``."""
        if code == self.language or code.startswith("und") and self.language == "en":
            return
        raise LanguageError(
            f"{who}: test pack {self.source} is in {self.language}, the data in {code}: use a pack in {code} "
            f"(built-in: {', '.join(BUILTIN_PACKS)}) or give translations: a file translating its texts "
            f"(built-in: {', '.join(BUILTIN_TRANSLATIONS)})"
        )


def pack_texts(pack: BehaviourPack, seed: int = 0) -> list[str]:
    """Every text a translation file for ``pack`` must cover: its template cases as sampled with ``seed`` (both
    texts of a DIR case) and the phrases appended or prepended to test texts.

    Example:
        >>> 300 < len(pack_texts(load_pack("sentiment"))) < 2000
        True
    """
    plain = dataclasses.replace(pack, translations=None)
    out: list[str] = []
    for kind in ("mft", "dir"):
        for c in plain.expand(kind, seed=seed, test_texts=[], n_test=0):
            out += [c.text] + ([c.perturbed] if c.perturbed is not None else [])
    for t in pack.tests:
        if t.perturb is not None:
            out += (t.perturb.append or []) + (t.perturb.prepend or [])
    return list(dict.fromkeys(out))


def load_translations(path: str) -> tuple[dict[str, str], str]:
    """A translation file (JSONL ``{"source", "target", "lang"}``) as (mapping, language); ``path`` may name a
    built-in one (``sentiment.pt``)."""
    from importlib import resources

    if path in BUILTIN_TRANSLATIONS:
        text = (resources.files("textrobust") / "resources" / BUILTIN_TRANSLATIONS[path]).read_text("utf-8")
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise DataError(
                f"{path}: cannot read the translation file ({e}); built-in: {', '.join(BUILTIN_TRANSLATIONS)}"
            ) from None
    mapping: dict[str, str] = {}
    langs = set()
    for no, row in jsonl_objects(enumerate(text.splitlines(), start=1), path):
        if not isinstance(row.get("source"), str) or not isinstance(row.get("target"), str):
            raise DataError(f"{path}:{no}: a translation line needs string fields source and target")
        mapping[row["source"]] = row["target"]
        langs.add(str(row.get("lang", "")))
    if len(langs) != 1 or not next(iter(langs)):
        raise DataError(f"{path}: every line must name the same target language in 'lang' (found {sorted(langs)})")
    from ..lang import normalise

    return mapping, normalise(next(iter(langs)))


def load_pack(pack: str | None, translations: str | None = None, seed: int = 0) -> BehaviourPack:
    """A built-in pack by name (``sentiment``, the default; ``zh-sentiment``) or a YAML/JSONL file, optionally
    with a translation file into another language (see the module notes).

    Example:
        >>> p = load_pack("sentiment")
        >>> len(p.capabilities("mft")) >= 4
        True
        >>> load_pack("zh-sentiment").language
        'zh'
    """
    loaded = _load_pack(pack)
    return loaded.with_translations(translations, seed) if translations else loaded


def _load_pack(pack: str | None) -> BehaviourPack:
    from importlib import resources

    if pack is None or pack in BUILTIN_PACKS:
        name = pack or "sentiment"
        text = (resources.files("textrobust") / "resources" / BUILTIN_PACKS[name]).read_text("utf-8")
        return _parse_yaml(text, f"built-in pack '{name}'")
    path = Path(pack)
    if not path.is_file():
        raise DataError(f"{path}: test pack not found (built-in packs: {', '.join(BUILTIN_PACKS)})")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: cannot read test pack ({e})") from None
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        return _parse_jsonl(text, str(path))
    return _parse_yaml(text, str(path))


def _parse_yaml(text: str, where: str) -> BehaviourPack:
    import yaml

    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        line = getattr(getattr(e, "problem_mark", None), "line", None)
        raise DataError(f"{where}: not valid YAML" + (f" (line {line + 1})" if line is not None else "")) from None
    try:
        pack = Pack.model_validate(raw)
    except ValidationError as e:
        err = e.errors()[0]
        path = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        raise ConfigError(f"{where}: {path}: {msg}") from None
    out = BehaviourPack(pack.name, where, _digest(text), pack.labels, pack.lexicons, pack.tests, language=pack.language)
    for t in pack.tests:  # malformed templates and unknown expected labels fail now, not after training
        for tpl in t.templates + ([t.perturb.template] if t.perturb and t.perturb.template else []):
            _fields(tpl, out, t.name)
        for lab in (t.expect, t.label):
            if lab is not None and lab not in pack.labels:
                raise ConfigError(
                    f"{where}: test '{t.name}': label '{lab}' is not among the pack's labels {pack.labels}"
                )
    return out


def _parse_jsonl(text: str, where: str) -> BehaviourPack:
    cases, labels = [], []
    for no, row in jsonl_objects(enumerate(text.splitlines(), start=1), where):
        kind = row.get("type", "mft")
        need = ("text", "expect") if kind == "mft" else ("text", "perturbed", "label") if kind == "dir" else None
        if need is None:
            raise ConfigError(f"{where}:{no}: type must be mft or dir, got {kind!r}")
        missing = [k for k in need if not isinstance(row.get(k), str)]
        if missing:
            raise ConfigError(f"{where}:{no}: a {kind} case needs string field(s) {missing}")
        direction = row.get("direction", "not_decrease")
        if direction not in ("not_decrease", "not_increase", "unchanged"):
            raise ConfigError(f"{where}:{no}: direction must be not_decrease, not_increase or unchanged")
        test = str(row.get("test", kind))
        lab = row["expect"] if kind == "mft" else row["label"]
        labels.append(lab)
        cases.append(
            Case(
                f"{test}/{no}",
                test,
                str(row.get("capability", test)),
                kind,
                row["text"],
                expect=row.get("expect") if kind == "mft" else None,
                perturbed=row.get("perturbed"),
                label=row.get("label") if kind == "dir" else None,
                direction=direction if kind == "dir" else None,
                tolerance=float(row.get("tolerance", 0.1 if kind == "dir" else 0.0)),
            )
        )
    if not cases:
        raise DataError(f"{where}: the test pack has no cases")
    return BehaviourPack(Path(where).stem, where, _digest(text), sorted(set(labels)), {}, [], tuple(cases))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _fields(template: str, pack: BehaviourPack, test: str) -> list[str]:
    """Placeholder names of a template; unknown lexicons and malformed braces are errors naming the test."""
    try:
        names = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as e:
        raise ConfigError(f"{pack.source}: test '{test}': malformed template {template!r} ({e})") from None
    for f in names:
        if not f.isidentifier():
            raise ConfigError(
                f"{pack.source}: test '{test}': template {template!r} has placeholder {{{f}}}; use {{lexicon_name}}"
            )
        if f not in pack.lexicons:
            raise ConfigError(
                f"{pack.source}: test '{test}': template {template!r} uses {{{f}}}, which is not a "
                f"lexicon (lexicons: {sorted(pack.lexicons)})"
            )
    return list(dict.fromkeys(names))


def _expand_test(
    t: PackTest, pack: BehaviourPack, seed: int, test_texts: Sequence[str] | None, n_test: int
) -> list[Case]:
    rng = np.random.default_rng(np.random.SeedSequence([seed, int(_digest(t.name), 16) % 2**32]))
    if t.data == "test":
        texts = list(test_texts or [])
        idx = sorted(rng.permutation(len(texts))[:n_test].tolist())
        pairs = [(f"{t.name}/test{i}", texts[i], _perturb_plain(t.perturb, texts[i], rng, pack)) for i in idx]
    else:
        pairs = [
            (cid, pack.translate(text), None if pert is None else pack.translate(pert))
            for cid, text, pert in _fill_templates(t, pack, rng)
        ]
    return [
        Case(
            cid,
            t.name,
            t.capability,
            t.type,
            text,
            expect=t.expect,
            perturbed=pert,
            label=t.label,
            direction=t.direction if t.type == "dir" else None,
            tolerance=t.tolerance if t.type == "dir" else 0.0,
        )
        for cid, text, pert in pairs
    ]


def _fill_templates(t: PackTest, pack: BehaviourPack, rng: np.random.Generator) -> list[tuple[str, str, str | None]]:
    """Every (template, filling) combination, or a seeded sample of ``max_cases`` of them."""
    second = t.perturb.template if t.perturb is not None and t.perturb.template else None
    combos: list[tuple[int, tuple[str, ...], list[str]]] = []
    for k, tpl in enumerate(t.templates):
        fields = list(dict.fromkeys(_fields(tpl, pack, t.name) + (_fields(second, pack, t.name) if second else [])))
        combos += [(k, values, fields) for values in itertools.product(*(pack.lexicons[f] for f in fields))]
    if len(combos) > t.max_cases:
        combos = [combos[i] for i in sorted(rng.choice(len(combos), t.max_cases, replace=False).tolist())]
    out = []
    for n, (k, values, fields) in enumerate(combos):
        fill = dict(zip(fields, values, strict=True))
        text = t.templates[k].format(**fill)
        pert = None
        if t.type == "dir":
            # Translated packs translate the whole perturbed sentence (pack_texts lists it); others append as is.
            own = pack if pack.translations is None else None
            pert = second.format(**fill) if second else _perturb_plain(t.perturb, text, rng, own)
        out.append((f"{t.name}/{n}", text, pert))
    return out


def _perturb_plain(
    p: Perturb | None, text: str, rng: np.random.Generator, pack: BehaviourPack | None = None
) -> str | None:
    """``text`` with a phrase appended or prepended: a space between them, none in Chinese or Japanese (where
    the phrase is in the pack's language, translated when the pack has a translation file)."""
    if p is None:
        return None
    tr = pack.translate if pack is not None else (lambda s: s)
    space = "" if pack is not None and pack.language in ("zh", "ja") else " "
    if p.append is not None:
        return f"{text.rstrip()}{space}{tr(p.append[int(rng.integers(len(p.append)))])}"
    if p.prepend is not None:
        return f"{tr(p.prepend[int(rng.integers(len(p.prepend)))])}{space}{text.lstrip()}"
    raise ConfigError("a template perturbation needs template base texts, not data: test")


def pack_digest(pack: str | None) -> Any:
    """What identifies a pack's content for fingerprints."""
    return load_pack(pack).digest
