"""Where a run directory lives: a local path (or ``file://``), or any fsspec / pyarrow filesystem URI
(``s3://bucket/runs/x``, ``gs://...``, ``memory://...``) for a cluster whose workers share no disk.

A local run directory is used as it is: every unit writes its files there directly (on a cluster this must be a
shared mount such as NFS). A URI run directory is *staged*: the driver and each worker work in a local directory and
copy files to and from the URI around each unit. A unit's ``done.json`` is uploaded last, so a unit is finished in
the store only once all its files are there, exactly as on a local disk, and ``--resume`` works the same way.

Example:
    >>> with open_run_store("s3://my-bucket/runs/sst2") as store:  # doctest: +SKIP
    ...     Runner(exp, store.local).run()
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..data.atomic import atomic_path
from ..errors import ConfigError
from ..layout import MARKERS, RunLayout

log = logging.getLogger(__name__)


def is_uri(path: str | os.PathLike) -> bool:
    """True for ``scheme://...`` strings (``file://`` included)."""
    return "://" in str(path)


@dataclass
class RunStore:
    """A run directory: ``local`` is where this process reads and writes; ``uri`` is where the run lives.

    For a local run directory ``staged`` is False and ``local`` *is* the run directory: every method is a no-op.
    For a URI ``staged`` is True: :meth:`pull` copies files from the store into ``local``, :meth:`push` the other
    way (only files that are missing or differ in size, markers last). The object is picklable (Ray tasks get it).
    """

    uri: str
    local: Path
    staged: bool = False
    _fs: Any = field(default=None, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:  # the filesystem object is rebuilt where the store is used
        return {"uri": self.uri, "local": self.local, "staged": self.staged, "_fs": None}

    # -- the filesystem ---------------------------------------------------------------------------------
    @property
    def fs(self) -> Any:
        if self._fs is None:
            self._fs, self._root = _filesystem(self.uri)
        return self._fs

    @property
    def root(self) -> str:
        self.fs  # noqa: B018 - sets _root
        return self._root

    def _remote(self, rel: str) -> str:
        return f"{self.root.rstrip('/')}/{rel}" if rel else self.root

    # -- syncing ---------------------------------------------------------------------------------------
    def pull(self, prefix: str = "", *, only_missing: bool = False) -> int:
        """Copy files under ``prefix`` (relative to the run directory) from the store into ``local``; returns how
        many were copied. Files whose size matches are skipped when ``only_missing``."""
        if not self.staged:
            return 0
        base = self._remote(prefix)
        if not self.fs.exists(base):
            return 0
        found = self.fs.find(base, detail=True) if self.fs.isdir(base) else {base: self.fs.info(base)}
        copied = 0
        for path, info in sorted(found.items()):
            if info.get("type") == "directory":
                continue
            rel = _relative(path, self.root)
            dest = self.local / rel
            if only_missing and dest.exists() and dest.stat().st_size == info.get("size"):
                continue
            with atomic_path(dest) as tmp:
                self.fs.get_file(path, str(tmp))
            copied += 1
        return copied

    def push(self, prefix: str = "") -> int:
        """Copy files under ``prefix`` from ``local`` to the store (new or changed size), ``done.json`` /
        ``failed.json`` after everything else in their directory; returns how many were copied."""
        if not self.staged:
            return 0
        src = self.local / prefix
        if not src.exists():
            return 0
        files = [src] if src.is_file() else [p for p in src.rglob("*") if p.is_file() and not p.name.startswith(".")]
        files.sort(key=lambda p: (p.name in MARKERS, str(p)))  # markers last: a unit is done only when complete
        copied = 0
        for path in files:
            rel = path.relative_to(self.local).as_posix()
            target = self._remote(rel)
            if path.name not in MARKERS and self.fs.exists(target) and self.fs.size(target) == path.stat().st_size:
                continue
            self.fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
            self.fs.put_file(str(path), target)
            copied += 1
        return copied

    def remove(self, rel: str) -> None:
        """Delete ``rel`` from the store (a stale marker)."""
        if self.staged and self.fs.exists(self._remote(rel)):
            self.fs.rm(self._remote(rel))

    def unit_prefix(self, condition: str, seed: int) -> str:
        return RunLayout.unit_prefix(condition, seed)

    # -- a run's life cycle ------------------------------------------------------------------------------
    def __enter__(self) -> RunStore:
        if self.staged:
            n = self.pull(only_missing=True)  # markers, metrics, outcomes, caches: what resume and reports read
            log.info("pulled %d files from %s into %s", n, self.uri, self.local)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.staged:
            n = self.push()
            log.info("pushed %d files from %s to %s", n, self.local, self.uri)

    def display(self) -> str:
        """How to name the run directory to the user."""
        return self.uri if self.staged else str(self.local)


def _relative(path: str, root: str) -> str:
    root = root.rstrip("/")
    path = path.split("://", 1)[-1] if "://" in path and "://" not in root else path
    if not path.startswith(root):  # memory:// paths come back as '/x/...' while the root is 'x/...'
        path, root = path.lstrip("/"), root.lstrip("/")
    return path[len(root) :].lstrip("/")


def _filesystem(uri: str) -> tuple[Any, str]:
    try:
        import fsspec
    except ImportError:  # pragma: no cover - fsspec comes with datasets
        raise ConfigError(f"{uri}: a URI run directory needs fsspec (pip install fsspec)") from None
    try:
        return fsspec.core.url_to_fs(uri)
    except (ImportError, ValueError) as exc:
        raise ConfigError(
            f"{uri}: cannot open this filesystem ({exc}); install its fsspec driver "
            "(s3fs for s3://, gcsfs for gs://, adlfs for az://)"
        ) from None


def open_run_store(
    path: str | os.PathLike, *, stage: bool | None = None, stage_dir: str | os.PathLike | None = None
) -> RunStore:
    """A :class:`RunStore` for ``path``: a local path or ``file://`` URI is used directly; any other URI is staged
    in ``stage_dir`` (default: a new temporary directory). ``stage=True`` stages a ``file://`` URI too, which is how
    the tests exercise the remote path without a cloud bucket.

    Example:
        >>> open_run_store("runs/x").local
        PosixPath('runs/x')
    """
    text = str(path)
    if not is_uri(text):
        return RunStore(text, Path(text))
    scheme = text.split("://", 1)[0]
    if scheme in ("file", "local") and not stage:
        return RunStore(text, Path(text.split("://", 1)[1]))
    local = Path(stage_dir) if stage_dir else Path(tempfile.mkdtemp(prefix="textrobust-stage-"))
    store = RunStore(text, local, staged=True)
    store.fs  # noqa: B018 - fail now (unknown scheme, missing driver), not after training
    return store


def worker_store(store: RunStore, key: str) -> RunStore:
    """The store as a worker on another machine sees it: the same URI, staged in a worker-local directory named
    by ``key`` (reused by the units a worker runs, so caches are pulled once)."""
    if not store.staged:
        return store
    local = Path(tempfile.gettempdir()) / "textrobust-stage" / key
    local.mkdir(parents=True, exist_ok=True)
    return RunStore(store.uri, local, staged=True)


def clear_local(store: RunStore) -> None:
    """Remove a staged run's local copy (the store keeps everything)."""
    if store.staged:
        shutil.rmtree(store.local, ignore_errors=True)
