"""Adapter that runs any nlpaug augmenter under the operator contract.

nlpaug draws from Python's ``random`` and NumPy's global state. To make each row deterministic, ``apply`` seeds
both from the row's generator before calling the augmenter and restores them afterwards. Cost: two global-state
saves/restores per row (microseconds), and calls must not run concurrently in threads.

Example:
    >>> from textrobust.augment import get
    >>> op = get("nlpaug")(augmenter="nlpaug.augmenter.char.KeyboardAug", kwargs=(("aug_char_p", 0.3),))
    >>> len(op(["a sentence with some words"], seed=0)[0])
    1
"""

from __future__ import annotations

import importlib
import random
from dataclasses import dataclass
from typing import Any

import numpy as np

from textrobust import lang as _lang
from textrobust.augment.base import Operator, Params, check, register
from textrobust.errors import ConfigError


@dataclass(frozen=True)
class NlpaugParams(Params):
    augmenter: Any = None  # dotted class name ("nlpaug.augmenter.char.OcrAug") or an augmenter instance
    kwargs: tuple[tuple[str, Any], ...] = ()  # constructor kwargs when augmenter is a class name

    def __post_init__(self) -> None:
        if isinstance(self.kwargs, dict):
            object.__setattr__(self, "kwargs", tuple(sorted(self.kwargs.items())))
        else:
            object.__setattr__(self, "kwargs", tuple(tuple(kv) for kv in self.kwargs))

    def validate(self, op: str) -> None:
        check(
            op,
            "augmenter",
            self.augmenter is not None
            and (not isinstance(self.augmenter, str) or self.augmenter.startswith("nlpaug.")),
            "an nlpaug augmenter or a dotted name 'nlpaug.…'",
            self.augmenter,
        )


@register
class NlpaugOp(Operator):
    """Run an nlpaug augmenter (instance or dotted class name + kwargs), seeded per row."""

    name = "nlpaug"
    Params = NlpaugParams
    params: NlpaugParams
    languages = ("en",)  # nlpaug's word augmenters and dictionaries are English; its char augmenters: LATIN

    def supported_languages(self) -> tuple[str, ...]:
        target = self.params.augmenter
        dotted = target if isinstance(target, str) else f"{type(target).__module__}.{type(target).__name__}"
        # Its character augmenters edit ASCII letters (keyboard, OCR, random) in whitespace tokens.
        return _lang.LATIN if dotted.startswith("nlpaug.augmenter.char") else self.languages

    def __init__(self, params: NlpaugParams | None = None, **kwargs: Any) -> None:
        super().__init__(params, **kwargs)
        self._aug = None

    def _augmenter(self) -> Any:
        if self._aug is None:
            target = self.params.augmenter
            if isinstance(target, str):
                module, _, cls = target.rpartition(".")
                try:
                    target = getattr(importlib.import_module(module), cls)(**dict(self.params.kwargs))
                except (ImportError, AttributeError) as exc:
                    raise ConfigError(f"nlpaug: cannot build {self.params.augmenter!r}: {exc}") from None
            self._aug = target
        return self._aug

    def apply(self, text: str, rng: np.random.Generator) -> str | None:
        aug = self._augmenter()
        seed = int(rng.integers(2**32))
        py_state, np_state = random.getstate(), np.random.get_state()
        random.seed(seed)
        np.random.seed(seed)
        try:
            out = aug.augment(text)
        except Exception:  # noqa: BLE001 - nlpaug raises on inputs it cannot handle (empty, no eligible tokens): no variant
            return None
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)
        if isinstance(out, list):
            out = out[0] if out else None
        return out if isinstance(out, str) else None
