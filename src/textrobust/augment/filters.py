"""Filters that drop unwanted variants after generation.

A filter is called as ``f(originals, variants_per_input, labels=None) -> (kept_variants_per_input, n_dropped)``;
the shape (one list per input) is preserved.

Example:
    >>> kept, dropped = Length(min_words=2)(["a b c"], [["a b", "a", "A  B C"]])
    >>> kept, dropped
    ([['a b', 'A  B C']], 1)
    >>> Dedup()(["a b c"], [["a b", "A  B C", "a  b"]])
    ([['a b']], 2)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from textrobust import lang as _lang
from textrobust.errors import ConfigError
from textrobust.models.runtime import Runtime

Variants = list[list[str]]


class Filter(Protocol):
    name: str
    languages: tuple[str, ...]

    def __call__(
        self, originals: Sequence[str], variants: Variants, labels: Sequence[Any] | None = None
    ) -> tuple[Variants, int]: ...


def _key(text: str) -> str:
    return " ".join(text.lower().split())


def _apply_mask(variants: Variants, keep: list[list[bool]]) -> tuple[Variants, int]:
    out = [[v for v, k in zip(vs, ks, strict=True) if k] for vs, ks in zip(variants, keep, strict=True)]
    return out, sum(len(v) for v in variants) - sum(len(v) for v in out)


def check_filter_language(f: Any, code: str) -> None:
    """Refuse (one line, :class:`~textrobust.errors.LanguageError`) a filter that does not support language ``code``
    (every filter declares ``languages``; see :mod:`textrobust.lang`)."""
    _lang.check_supported(f"filter {f!r}", code, getattr(f, "languages", _lang.ANY))


class Dedup:
    """Drop variants equal (ignoring case and whitespace) to their input or to an earlier variant."""

    name = "dedup"
    languages = _lang.ANY

    def __call__(self, originals, variants, labels=None):
        keep = []
        for orig, vs in zip(originals, variants, strict=True):
            seen, ks = {_key(orig)}, []
            for v in vs:
                ks.append(_key(v) not in seen)
                seen.add(_key(v))
            keep.append(ks)
        return _apply_mask(variants, keep)

    def __repr__(self) -> str:
        return "Dedup()"


class Length:
    """Keep variants whose word count / character count lies within the given bounds (inclusive)."""

    name = "length"

    def __init__(
        self,
        min_words: int | None = None,
        max_words: int | None = None,
        min_chars: int | None = None,
        max_chars: int | None = None,
    ) -> None:
        for k, v in (
            ("min_words", min_words),
            ("max_words", max_words),
            ("min_chars", min_chars),
            ("max_chars", max_chars),
        ):
            if v is not None and (not isinstance(v, int) or v < 0):
                raise ConfigError(f"length filter: invalid {k}={v!r}; valid: an integer >= 0 or None")
        self.bounds = (min_words, max_words, min_chars, max_chars)
        # Words are counted at whitespace: Chinese, Japanese and Thai bounds are characters (min_chars/max_chars).
        self.languages = _lang.ANY if min_words is None and max_words is None else _lang.SPACED

    def _ok(self, text: str) -> bool:
        lo_w, hi_w, lo_c, hi_c = self.bounds
        w, c = len(text.split()), len(text)
        return (
            (lo_w is None or w >= lo_w)
            and (hi_w is None or w <= hi_w)
            and (lo_c is None or c >= lo_c)
            and (hi_c is None or c <= hi_c)
        )

    def __call__(self, originals, variants, labels=None):
        return _apply_mask(variants, [[self._ok(v) for v in vs] for vs in variants])

    def __repr__(self) -> str:
        names = ("min_words", "max_words", "min_chars", "max_chars")
        return "Length(" + ", ".join(f"{k}={v}" for k, v in zip(names, self.bounds, strict=True) if v is not None) + ")"


class Similarity:
    """Keep variants whose sentence-encoder cosine similarity to the input is >= threshold (MiniLM by default;
    ``model`` any sentence-encoder directory), encoded as ``runtime`` says."""

    name = "similarity"

    def __init__(
        self,
        threshold: float = 0.8,
        model: str | None = None,
        batch_size: int | None = None,
        runtime: Runtime | None = None,
    ) -> None:
        if not -1 <= threshold <= 1:
            raise ConfigError(f"similarity filter: invalid threshold={threshold!r}; valid: a float in [-1, 1]")
        self.threshold, self.model, self.batch_size = threshold, model, batch_size
        self.runtime = runtime or Runtime()
        from textrobust.models.loading import MINILM_ALIASES
        from textrobust.models.multilingual import encoder_languages, encoder_name

        # MiniLM (the default) is English; use-m covers 16 languages, e5 about a hundred; another encoder
        # directory is the user's choice.
        if model is not None and encoder_name(model) is not None:
            self.languages = encoder_languages(str(model))
        elif model is None or str(model).strip().lower() in MINILM_ALIASES:
            self.languages = ("en",)
        else:
            self.languages = _lang.ANY

    def encoder(self) -> Any:
        """The sentence encoder (weights shared with every other encoder of the same model in this process):
        ``model`` a sentence-encoder directory, MiniLM by default, or ``use-m`` / ``e5`` (multilingual)."""
        from textrobust.models.encoders import SentenceEncoder
        from textrobust.models.multilingual import encoder_name, multilingual_encoder

        if self.model is not None and encoder_name(self.model) is not None:
            return multilingual_encoder(self.model, self.runtime).check()
        return SentenceEncoder(self.model, runtime=self.runtime, batch_size=self.batch_size)

    def __call__(self, originals, variants, labels=None):
        flat = [v for vs in variants for v in vs]
        if not flat:
            return [list(vs) for vs in variants], 0
        emb = self.encoder().encode(list(originals) + flat)
        orig_emb, var_emb = emb[: len(originals)], emb[len(originals) :]
        keep, k = [], 0
        for i, vs in enumerate(variants):
            sims = var_emb[k : k + len(vs)] @ orig_emb[i]
            keep.append([bool(s >= self.threshold) for s in sims])
            k += len(vs)
        return _apply_mask(variants, keep)

    def __repr__(self) -> str:
        return f"Similarity(threshold={self.threshold}, model={self.model!r})"


class LabelPreserving:
    """Keep variants the classifier still assigns to the input's label with probability >= threshold.

    ``labels`` are class indexes or names (mapped through ``classifier.labels``); without labels the classifier's
    prediction on the original is used.
    """

    name = "label_preserving"
    languages = _lang.ANY  # the classifier's business

    def __init__(self, classifier: Any, threshold: float = 0.5) -> None:
        if not hasattr(classifier, "predict_proba"):
            raise ConfigError("label_preserving filter: classifier must have predict_proba(texts) -> array[n, k]")
        if not 0 <= threshold <= 1:
            raise ConfigError(f"label_preserving filter: invalid threshold={threshold!r}; valid: a float in [0, 1]")
        self.classifier, self.threshold = classifier, threshold

    def _label_index(self, label: Any) -> int:
        from textrobust.data.labels import label_index

        return label_index(label, list(getattr(self.classifier, "labels", []) or []), where="label_preserving filter")

    def __call__(self, originals, variants, labels=None):
        flat = [v for vs in variants for v in vs]
        if not flat:
            return [list(vs) for vs in variants], 0
        if labels is None:
            targets = np.asarray(self.classifier.predict_proba(list(originals))).argmax(axis=1).tolist()
        else:
            targets = [self._label_index(lab) for lab in labels]
        probs = np.asarray(self.classifier.predict_proba(flat))
        keep, k = [], 0
        for i, vs in enumerate(variants):
            keep.append([bool(probs[k + j, targets[i]] >= self.threshold) for j in range(len(vs))])
            k += len(vs)
        return _apply_mask(variants, keep)

    def __repr__(self) -> str:
        return f"LabelPreserving(threshold={self.threshold})"


FILTERS = {"dedup": Dedup, "length": Length, "similarity": Similarity, "label_preserving": LabelPreserving}


def filter_from_spec(spec: str | dict[str, Any], *, runtime: Runtime | None = None, **context: Any) -> Filter:
    """Build a filter from ``"dedup"`` or ``{"length": {"min_words": 3}}`` (YAML form); ``runtime`` is how the
    similarity filter's encoder runs; ``context`` supplies objects a spec cannot hold, e.g. ``classifier=`` for
    label_preserving."""
    params: dict[str, Any]
    if isinstance(spec, str):
        name, params = spec, {}
    elif isinstance(spec, dict) and len(spec) == 1:
        name, params = next(iter(spec.items()))
        params = dict(params or {})
    else:
        raise ConfigError(f"filter spec must be a name or {{name: {{params}}}}, got {spec!r}")
    if name not in FILTERS:
        raise ConfigError(f"unknown filter {name!r}; valid: {', '.join(FILTERS)}")
    if name == "label_preserving":
        params.setdefault("classifier", context.get("classifier"))
    if name == "similarity":
        params["runtime"] = runtime
    try:
        return FILTERS[name](**params)
    except TypeError as exc:
        raise ConfigError(f"filter {name}: {exc}") from None
