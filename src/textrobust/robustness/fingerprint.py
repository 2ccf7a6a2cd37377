"""Fingerprints: short digests of everything that changes a unit's results (configs, data, files read)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any


def digest(obj: Any) -> str:
    """A 16-hex-digit digest of any JSON-able object (keys sorted, so dict order does not matter).

    Example:
        >>> digest({"a": 1, "b": 2}) == digest({"b": 2, "a": 1})
        True
    """
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def file_digest(path: str | Path) -> str | None:
    """Digest of a file's bytes, or of every file under a directory (names and bytes); None if absent."""
    p = Path(path)
    h = hashlib.sha256()
    if p.is_file():
        files = [p]
    elif p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.is_file())
    else:
        return None
    for f in files:
        h.update(str(f.relative_to(p) if p.is_dir() else f.name).encode())
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:16]
