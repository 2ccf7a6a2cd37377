"""The operator contract, parameter validation, the registry and spec round-tripping.

An operator maps a batch of texts to one list of up to ``n`` distinct variants per text. Randomness comes from
one ``numpy.random.Generator`` per (global row index, attempt), seeded by ``SeedSequence([seed, row, attempt])``,
so outputs do not depend on batch size, chunking or worker count.

Example:
    >>> from textrobust.augment import parse_op
    >>> op = parse_op("char:kind=random_swap,p=0.5")
    >>> out = op(["hello wonderful world"], seed=1, n=2)
    >>> len(out), len(out[0]) <= 2
    (1, True)
"""

from __future__ import annotations

import copy
import dataclasses
import types
import typing
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from textrobust import lang as _lang
from textrobust.errors import ConfigError
from textrobust.models.runtime import Runtime

# Extra attempts per wanted variant: duplicates and no-op draws are retried with fresh (still deterministic) rngs.
ATTEMPTS_PER_VARIANT = 3


def row_rng(seed: int, row: int, attempt: int) -> np.random.Generator:
    """The generator for global row ``row`` and attempt ``attempt`` (the only source of randomness)."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, row, attempt])))


def check(op: str, param: str, ok: bool, valid: str, value: Any) -> None:
    """Raise ConfigError naming operator, parameter and valid values unless ``ok``."""
    if not ok:
        raise ConfigError(f"{op}: invalid {param}={value!r}; valid: {valid}")


@dataclasses.dataclass(frozen=True)
class Params:
    """Base of operator parameter dataclasses; subclasses implement ``validate(op_name)``."""

    def validate(self, op: str) -> None:  # pragma: no cover - overridden
        return None


#: :class:`Params` as a type inside :class:`Operator`, where the class attribute of that name (each operator's own
#: parameter class) hides the module's.
_BaseParams = Params


class Operator:
    """Base class. Subclasses set ``name``, a frozen ``Params`` dataclass and override ``apply`` (rule-based) or
    ``apply_batch`` (model-backed: one call per attempt for the whole batch).

    Example:
        >>> from textrobust.augment import get
        >>> op = get("char")(kind="keyboard", p=0.2)
        >>> op.spec()["name"]
        'char'
    """

    name: ClassVar[str] = ""
    Params: ClassVar[type[Params]] = Params
    batched: ClassVar[bool] = False  # True: the operator overrides apply_batch (model-backed)
    #: The languages the operator supports (see :mod:`textrobust.lang`: ANY, SPACED, LATIN or codes). Every
    #: registered operator declares them (the contract test checks); :meth:`supported_languages` refines them
    #: by parameter where they depend on one.
    languages: ClassVar[tuple[str, ...]] = ()
    #: The language this operator is bound to (:meth:`for_language`); None: resolved from each call's texts.
    lang: str | None = None

    @property
    def deterministic(self) -> bool:
        """True when the output ignores the rng (e.g. beam search): one attempt per row is enough."""
        return False

    def __init__(self, params: _BaseParams | None = None, *, runtime: Runtime | None = None, **kwargs: Any) -> None:
        if params is not None and kwargs:
            raise ConfigError(f"{self.name}: pass either a Params object or keyword parameters, not both")
        if params is None:
            fields = {f.name for f in dataclasses.fields(self.Params)}
            unknown = sorted(set(kwargs) - fields)
            if unknown:
                raise ConfigError(_unknown_message(self.name, unknown, fields))
            params = self.Params(**kwargs)
        params.validate(self.name)
        self.params = params
        # How model-backed operators run their models (device, precision, token budget). Not a parameter: it
        # changes where the work happens, not which variants come out (spec(), ==, hash ignore it).
        self.runtime = runtime or Runtime()

    # -- languages ---------------------------------------------------------------------------------------------
    def supported_languages(self) -> tuple[str, ...]:
        """The languages these parameters support (default: the class's ``languages``)."""
        return self.languages

    def language_label(self) -> str:
        """How refusals name this operator (its spec string)."""
        return self.spec_str()

    def language_hint(self, code: str) -> str:
        """What to use instead when ``code`` is not supported (appended to the refusal)."""
        if code == "zh":
            return "for Chinese use zh_char, zh_script, punct_width, or synonym/eda with source=cilin"
        return ""

    def for_language(self, code: str) -> Operator:
        """A view of this operator bound to language ``code`` (same parameters, ``==`` and spec); a
        :class:`~textrobust.errors.LanguageError` naming the operator and the languages it supports when it does
        not support ``code``.

        Example:
            >>> parse_op("char:kind=random_swap").for_language("zh").lang
            'zh'
            >>> parse_op("char:kind=spelling").for_language("fr")
            Traceback (most recent call last):
            ...
            textrobust.errors.LanguageError: char:kind=spelling does not support fr (French); it supports: en (English)
        """
        code = _lang.normalise(code)
        _lang.check_supported(self.language_label(), code, self.supported_languages(), self.language_hint(code))
        if self.lang == code:
            return self
        view = copy.copy(self)
        view.lang = code
        view._bind_children(code)
        return view

    def _bind_children(self, code: str) -> None:
        """Containers bind their children too (their params are replaced by bound copies)."""
        params: Any = self.params  # a container's params: ops (a sequence) or op (one operator)
        fields = {f.name for f in dataclasses.fields(params)}
        changes: dict[str, Any] = {}
        if "ops" in fields:
            changes["ops"] = tuple(o.for_language(code) for o in params.ops)
        if "op" in fields and isinstance(getattr(params, "op", None), Operator):
            changes["op"] = params.op.for_language(code)
        if changes:
            self.params = dataclasses.replace(self.params, **changes)

    # -- override points -------------------------------------------------------------------------------------
    def check_extras(self) -> None:
        """Raise :class:`~textrobust.errors.ResourceError` (naming the package to install) when an optional
        extra this operator needs (WordNet, SmolLM2, Bergamot, ...) is missing; cheap (nothing is loaded). Called
        before any output is written."""
        return None

    def inapplicable(self, text: str) -> str | None:
        """Why this operator has nothing to change in ``text`` ("no punctuation to convert"), or None when it should
        change it. A text that gets no variant and no reason is a silent no-op (the language probe counts those)."""
        return None if text.strip() else "empty text"

    def apply(self, text: str, rng: np.random.Generator) -> str | None:
        """Return one variant of ``text`` (or None when nothing applies)."""
        raise NotImplementedError(f"{type(self).__name__} must override apply() or apply_batch()")

    def apply_batch(self, texts: list[str], rngs: list[np.random.Generator]) -> list[str | None]:
        """Return one variant (or None) per text; model-backed operators override this to batch model calls."""
        return [self.apply(t, g) for t, g in zip(texts, rngs, strict=True)]

    # -- contract ----------------------------------------------------------------------------------------------
    def __call__(
        self, texts: Sequence[str], *, seed: int = 0, n: int = 1, offset: int = 0, lang: str | None = None
    ) -> list[list[str]]:
        """Up to ``n`` distinct variants per text (never the text itself); ``offset`` is the global index of
        ``texts[0]`` so that chunked calls reproduce one whole-file call. ``lang``: the texts' language (default:
        the operator's bound language, else detected from ``texts``; pass it when calling chunk by chunk, so that
        every chunk is treated alike); a language the operator does not support raises
        :class:`~textrobust.errors.LanguageError`."""
        if isinstance(texts, str):
            raise ConfigError(f"{self.name}: pass a list of texts, not a single string")
        if n < 0:
            raise ConfigError(f"{self.name}: n must be >= 0, got {n}")
        texts = list(texts)
        if not any(t and not t.isspace() for t in texts):
            return [[] for _ in texts]  # nothing to augment, in any language
        if lang is not None or self.lang is None:
            bound = self.for_language(_lang.resolve(texts, lang))
            if bound is not self:
                return bound(texts, seed=seed, n=n, offset=offset)
        out: list[list[str]] = [[] for _ in texts]
        seen = [{_key(t)} for t in texts]
        pending = list(range(len(texts))) if n > 0 else []
        attempts = 1 if self.deterministic else n * ATTEMPTS_PER_VARIANT
        for attempt in range(attempts):
            if not pending:
                break
            rngs = [row_rng(seed, offset + i, attempt) for i in pending]
            results = self.apply_batch([texts[i] for i in pending], rngs)
            still = []
            for i, res in zip(pending, results, strict=True):
                if res is not None and res.strip() and _key(res) not in seen[i]:
                    seen[i].add(_key(res))
                    out[i].append(res)
                if len(out[i]) < n:
                    still.append(i)
            pending = still
        return out

    # -- specs -------------------------------------------------------------------------------------------------
    def spec(self) -> dict[str, Any]:
        """``{"name": ..., "params": {...}}``; nested operators become nested specs. Inverse: operator_from_spec."""
        return {"name": self.name, "params": {k: _to_spec(v) for k, v in _param_items(self.params)}}

    def spec_str(self) -> str:
        """Short string form (non-default params only), e.g. ``char:kind=ocr,p=0.1``; parse_op reads it back."""
        defaults = _defaults(type(self.params))
        parts = []
        for k, v in _param_items(self.params):
            if k in defaults and defaults[k] == v:
                continue
            if isinstance(v, Operator):
                v = v.spec_str()
            elif isinstance(v, (tuple, list)):
                v = "[" + "|".join(x.spec_str() if isinstance(x, Operator) else str(x) for x in v) + "]"
            parts.append(f"{k}={v}")
        return self.name + (":" + ",".join(parts) if parts else "")

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in _param_items(self.params))
        return f"{type(self).__name__}({args})"

    def __str__(self) -> str:
        return self.spec_str()

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.params == self.params

    def __hash__(self) -> int:
        return hash((type(self), self.params))


def _unknown_message(op: str, unknown: list[str], fields: set[str]) -> str:
    """The error for parameters an operator does not take (device and dtype moved to the run's runtime in 0.2)."""
    moved = sorted(set(unknown) & {"device", "dtype"})
    if moved:
        return (
            f"{op}: {', '.join(moved)} is set for the whole run, not per operator: use --device / --precision "
            "(model.device / model.precision in an experiment spec)"
        )
    return f"{op}: unknown parameter(s) {', '.join(unknown)}; valid: {', '.join(sorted(fields)) or '(none)'}"


def _key(text: str) -> str:
    """Dedup key: case- and whitespace-insensitive."""
    return " ".join(text.lower().split())


def _param_items(params: Params) -> list[tuple[str, Any]]:
    return [(f.name, getattr(params, f.name)) for f in dataclasses.fields(params)]


def _defaults(cls: type) -> dict[str, Any]:
    out = {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
    return out


def _to_spec(v: Any) -> Any:
    if isinstance(v, Operator):
        return v.spec()
    if isinstance(v, (tuple, list)):
        return [_to_spec(x) for x in v]
    return v


# -- registry --------------------------------------------------------------------------------------------------
_REGISTRY: dict[str, type[Operator]] = {}


def register(cls: type[Operator]) -> type[Operator]:
    """Class decorator: make an operator available by ``cls.name`` to specs, YAML and the CLI."""
    if not cls.name:
        raise ConfigError(f"{cls.__name__} needs a class attribute `name` to be registered")
    existing = _REGISTRY.get(cls.name)
    if existing is not None and existing is not cls:
        raise ConfigError(f"operator name {cls.name!r} already registered by {existing.__name__}")
    _REGISTRY[cls.name] = cls
    return cls


def _ensure_builtins() -> None:
    # Importing the modules registers the built-in operators (cheap: heavy libs load inside the operators).
    from textrobust.augment import (  # noqa: F401
        char,
        containers,
        model_gen,
        model_ops,
        nlpaug_adapter,
        paraphrase,
        width,
        word,
        zh_char,
        zh_script,
    )


def get(name: str) -> type[Operator]:
    """The operator class registered as ``name``; ConfigError lists the valid names otherwise."""
    _ensure_builtins()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown operator {name!r}; valid: {', '.join(sorted(_REGISTRY))}") from None


def registered() -> dict[str, type[Operator]]:
    """A copy of the registry (name -> class)."""
    _ensure_builtins()
    return dict(_REGISTRY)


def list_operators() -> list[dict[str, Any]]:
    """Name, parameters with defaults and the one-line doc of every registered operator.

    Example:
        >>> any(o["name"] == "eda" for o in list_operators())
        True
    """
    _ensure_builtins()
    return [
        {
            "name": name,
            "params": _defaults(cls.Params),
            "doc": (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else "",
        }
        for name, cls in sorted(_REGISTRY.items())
    ]


def operator_from_spec(spec: dict[str, Any] | str | Operator, *, runtime: Runtime | None = None) -> Operator:
    """Build an operator from ``op.spec()`` output, a short string (see :func:`parse_op`) or pass one through.

    Example:
        >>> op = operator_from_spec({"name": "char", "params": {"kind": "ocr"}})
        >>> operator_from_spec(op.spec()) == op
        True
    """
    if isinstance(spec, Operator):
        return spec
    if isinstance(spec, str):
        return parse_op(spec, runtime=runtime)
    if not isinstance(spec, dict) or "name" not in spec:
        raise ConfigError(f"operator spec must be a dict with 'name' (and 'params'), got {spec!r}")
    extra = set(spec) - {"name", "params"}
    if extra:
        raise ConfigError(f"operator spec has unknown keys {sorted(extra)}; use {{'name': ..., 'params': {{...}}}}")
    cls = get(spec["name"])
    params = dict(spec.get("params") or {})
    if "ops" in params:
        params["ops"] = tuple(operator_from_spec(s, runtime=runtime) for s in params["ops"])
    if "op" in params:
        params["op"] = operator_from_spec(params["op"], runtime=runtime)
    for k, v in params.items():
        if isinstance(v, list):
            params[k] = tuple(v)  # frozen params hold tuples so they stay hashable
    return cls(runtime=runtime, **params)


def parse_op(text: str, *, runtime: Runtime | None = None) -> Operator:
    """Parse ``name:key=value,key=value``; values are coerced to the parameter's declared type.

    Example:
        >>> parse_op("char:kind=keyboard,p=0.05").params.p
        0.05
    """
    name, _, rest = text.strip().partition(":")
    cls = get(name.strip())
    hints = typing.get_type_hints(cls.Params)
    kwargs: dict[str, Any] = {}
    for item in filter(None, (s.strip() for s in rest.split(","))):
        key, eq, raw = item.partition("=")
        key = key.strip()
        if not eq:
            raise ConfigError(f"{name}: expected key=value in {item!r}")
        if key not in hints:
            raise ConfigError(_unknown_message(name.strip(), [key], set(hints)))
        kwargs[key] = coerce_value(name, key, raw.strip(), hints[key])
    return cls(runtime=runtime, **kwargs)


def coerce_value(op: str, key: str, raw: str, tp: Any) -> Any:
    """Convert a string to ``tp`` (int, float, bool, str, Optional[...] and unions of those)."""
    if tp is Any:
        return raw
    args = typing.get_args(tp)
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        if type(None) in args and raw.lower() in ("none", "null", ""):
            return None
        for sub in (a for a in args if a is not type(None)):
            try:
                return coerce_value(op, key, raw, sub)
            except ConfigError:
                continue
        raise ConfigError(f"{op}: cannot read {key}={raw!r} as {tp}")
    if typing.get_origin(tp) is typing.Literal:
        if raw not in args:
            raise ConfigError(f"{op}: invalid {key}={raw!r}; valid: {', '.join(map(str, args))}")
        return raw
    try:
        if tp is bool:
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if tp in (int, float, str):
            return tp(raw)
        if typing.get_origin(tp) is tuple and args and args[0] in (int, float, str):
            return tuple(args[0](x) for x in raw.strip("[]()").split("|") if x)
    except ValueError:
        raise ConfigError(f"{op}: cannot read {key}={raw!r} as {getattr(tp, '__name__', tp)}") from None
    raise ConfigError(f"{op}: parameter {key} cannot be set from a string spec; use a YAML/dict spec")
