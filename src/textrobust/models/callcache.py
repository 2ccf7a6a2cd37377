"""A content-addressed cache of model calls: a resumed run or a repeated scan never asks a model the same thing twice.

Prompted language models and endpoints are the expensive victims (a forward pass of a causal LM per query, or an
HTTP request that costs money), and a scan asks them tens of thousands of questions. :class:`CallCache` wraps such a
model: each text's answer (its probability row) is stored under ``sha256(model identity, text)`` — the identity
(:meth:`cache_identity`, e.g. the weights' digest, the prompt and the precision) says everything that changes the
answer — in a SQLite file, committed after every call, so a process killed at any moment loses at most the call in
flight. Another process, or the same scan run again, finds every answer already given.

The store counts what it saves: per process (a *session*) the texts looked up, found and computed, and per entry how
many times it was computed. An entry computed twice (``repeats``) would mean a question asked again although its
answer was stored; it stays zero by construction, and :meth:`CallStore.stats` says so from the file.

Example:
    >>> store = CallStore("runs/scan/cache/model_calls.sqlite")  # doctest: +SKIP
    >>> model = CallCache(PromptedClassifier("smollm2", labels=["neg", "pos"]), store)  # doctest: +SKIP
    >>> model.predict_proba(["a fine film"]); model.predict_proba(["a fine film"])  # doctest: +SKIP
    >>> model.computed, model.hits  # doctest: +SKIP
    (1, 1)
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (key TEXT PRIMARY KEY, model TEXT NOT NULL, probs BLOB NOT NULL,
                                  computed INTEGER NOT NULL DEFAULT 1);
CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, started REAL, pid INTEGER, looked_up INTEGER,
                                     hits INTEGER, computed INTEGER, repeats INTEGER);
"""


def identity_digest(identity: Any) -> str:
    """The short digest of a model identity (what :class:`CallCache` keys its entries under).

    Example:
        >>> identity_digest({"kind": "prompted", "prompt": "x"}) == identity_digest({"prompt": "x", "kind": "prompted"})
        True
    """
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:24]


class CallStore:
    """The SQLite file behind :class:`CallCache` (shared by every cached model of a run). Opened on first use, so
    building a run (checks, a dry run) writes nothing; :meth:`get` on a missing file finds nothing and creates
    nothing."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()  # an endpoint's worker threads and the caller share one connection
        self.session = f"{os.getpid()}-{time.time_ns()}"
        self.counts = {"looked_up": 0, "hits": 0, "computed": 0, "repeats": 0}

    def _open(self, create: bool) -> sqlite3.Connection | None:
        if self._db is None:
            if not create and not self.path.is_file():
                return None
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                db = sqlite3.connect(self.path, timeout=60, check_same_thread=False)
                db.execute("PRAGMA journal_mode=WAL")  # a kill -9 leaves committed calls intact
                db.execute("PRAGMA synchronous=NORMAL")
                db.executescript(_SCHEMA)
            except sqlite3.DatabaseError as e:
                raise ModelError(f"{self.path}: the model-call cache cannot be opened ({e}); delete it") from None
            self._db = db
        return self._db

    def get(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored rows of those ``keys`` that are stored."""
        with self._lock:
            db = self._open(create=False)
            self.counts["looked_up"] += len(keys)
            if db is None or not keys:
                return {}
            found: dict[str, np.ndarray] = {}
            unique = list(dict.fromkeys(keys))
            for s in range(0, len(unique), 500):  # SQLite's limit on bound parameters
                chunk = unique[s : s + 500]
                marks = ",".join("?" * len(chunk))
                for key, blob in db.execute(f"SELECT key, probs FROM calls WHERE key IN ({marks})", chunk):
                    found[key] = np.frombuffer(blob, dtype=np.float64).copy()
            self.counts["hits"] += sum(k in found for k in keys)
            return found

    def put(self, model: str, rows: dict[str, np.ndarray]) -> None:
        """Store computed rows in one transaction; an entry that was stored already counts as a repeat."""
        if not rows:
            return
        with self._lock:
            db = self._open(create=True)
            if db is None:  # pragma: no cover - _open(create=True) always opens
                raise ModelError(f"{self.path}: the model-call cache cannot be opened")
            keys = list(rows)
            with db:
                repeats = 0
                for s in range(0, len(keys), 500):
                    chunk = keys[s : s + 500]
                    marks = ",".join("?" * len(chunk))
                    repeats += db.execute(f"SELECT count(*) FROM calls WHERE key IN ({marks})", chunk).fetchone()[0]
                db.executemany(
                    "INSERT INTO calls (key, model, probs) VALUES (?, ?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET computed = computed + 1",
                    [(k, model, np.asarray(v, dtype=np.float64).tobytes()) for k, v in rows.items()],
                )
                self.counts["computed"] += len(rows)
                self.counts["repeats"] += int(repeats)
                db.execute(
                    "INSERT OR REPLACE INTO sessions VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (self.session, time.time(), os.getpid(), *[self.counts[k] for k in self.counts]),
                )

    def flush(self) -> None:
        """Record this session's counts in the file (they are also recorded with every :meth:`put`)."""
        with self._lock:
            db = self._open(create=False)
            if db is None or not self.counts["looked_up"]:
                return
            with db:
                db.execute(
                    "INSERT OR REPLACE INTO sessions VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (self.session, time.time(), os.getpid(), *[self.counts[k] for k in self.counts]),
                )

    def stats(self) -> dict[str, int]:
        """From the file: entries, entries computed more than once, and the sessions' totals."""
        with self._lock:
            db = self._open(create=False)
            if db is None:
                return {"entries": 0, "repeated_entries": 0, "sessions": 0, "computed": 0, "hits": 0}
            entries, repeated = db.execute("SELECT count(*), coalesce(sum(computed > 1), 0) FROM calls").fetchone()
            n, computed, hits = db.execute(
                "SELECT count(*), coalesce(sum(computed), 0), coalesce(sum(hits), 0) FROM sessions"
            ).fetchone()
            return {"entries": entries, "repeated_entries": repeated, "sessions": n, "computed": computed, "hits": hits}

    def count(self, model: str) -> int:
        """Entries stored for one model identity digest."""
        with self._lock:
            db = self._open(create=False)
            return 0 if db is None else db.execute("SELECT count(*) FROM calls WHERE model = ?", (model,)).fetchone()[0]

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


class CallCache:
    """``model`` with its ``predict_proba`` answered from ``store`` where it was asked before (see the module
    docstring). Everything else is the model's (attributes are forwarded); :meth:`with_prompt_format` returns a
    cached view too. ``hits`` and ``computed`` count texts in this process.

    Example:
        >>> cached = CallCache(model, CallStore(tmp / "calls.sqlite"))  # doctest: +SKIP
    """

    def __init__(self, model: Any, store: CallStore) -> None:
        self.model, self.store = model, store
        self.identity = identity_digest(model.cache_identity())
        self.hits = 0
        self.computed = 0

    def __repr__(self) -> str:
        return repr(self.model)

    def __getattr__(self, name: str) -> Any:
        # Only reached for names this wrapper lacks: labels, runtime, label_only, token_budget, prompt_format, ...
        if name in ("model", "store"):
            raise AttributeError(name)
        return getattr(self.model, name)

    def key(self, text: str) -> str:
        return hashlib.sha256(f"{self.identity}\x00{text}".encode()).hexdigest()

    def cached(self, texts: Sequence[str]) -> int:
        """How many of ``texts`` are answered by the store already (counts nothing, writes nothing)."""
        keys = [self.key(t) for t in dict.fromkeys(texts)]
        counts = dict(self.store.counts)
        found = self.store.get(keys)
        self.store.counts.update(counts)
        return len(found)

    def predict_proba(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        texts = list(texts)
        keys = [self.key(t) for t in texts]
        found = self.store.get(keys)
        todo = list(dict.fromkeys(t for t, k in zip(texts, keys, strict=True) if k not in found))
        self.hits += len(texts) - sum(k not in found for k in keys)
        if todo:
            kw = {} if batch_size is None else {"batch_size": batch_size}
            probs = np.asarray(self.model.predict_proba(todo, **kw), dtype=np.float64)
            new = {self.key(t): p for t, p in zip(todo, probs, strict=True)}
            self.store.put(self.identity, new)
            self.computed += len(todo)
            found.update(new)
        if not texts:
            return np.empty((0, len(self.model.labels)), dtype=np.float32)
        return np.stack([found[k] for k in keys]).astype(np.float32)

    def with_prompt_format(self, fmt: Any) -> CallCache:
        """A cached view of the model with another prompt format (its own identity, the same store)."""
        return CallCache(self.model.with_prompt_format(fmt), self.store)


def cacheable(model: Any) -> bool:
    """Whether ``model`` says what determines its answers (``cache_identity``): prompted LMs and chat endpoints."""
    return callable(getattr(model, "cache_identity", None))


__all__ = ["CallCache", "CallStore", "cacheable", "identity_digest"]
