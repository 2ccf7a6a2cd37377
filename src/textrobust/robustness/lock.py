"""One ``textrobust run`` at a time per run directory.

Two processes writing the same units, results table and summary would interleave their files, so the second one
stops at once with a one-line message instead (a lock, not sharing: units are not claimed one by one). The lock
is an OS file lock (``flock``) on ``RUN_DIR/.lock``: the kernel drops it when its process ends, even by SIGKILL,
so a killed run never leaves a stale lock behind, and ``--resume`` can start right away.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator

from ..errors import ConfigError
from ..layout import RunLayout


@contextlib.contextmanager
def run_dir_lock(run_dir: str | os.PathLike) -> Iterator[None]:
    """Hold the run directory's lock for the block; :class:`ConfigError` naming the holder when another process
    has it.

    Example:
        >>> with run_dir_lock("runs/exp"):  # doctest: +SKIP
        ...     runner.run()
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no flock; runs are not guarded there
        yield
        return
    path = RunLayout(run_dir).lock
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another process"
            raise ConfigError(
                f"{run_dir} is in use by another textrobust run ({holder}); wait for it to finish "
                "or give another --output"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
