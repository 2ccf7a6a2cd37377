"""Units as work any executor can run: zero-argument, picklable callables, and what they hand back.

The runner (:mod:`textrobust.robustness.runner`) turns every unfinished condition x seed unit into a
:class:`UnitWork` and gives the list to an :class:`Executor`; the executor runs each somewhere (this process, a
process pool, a Ray cluster) and hands back an :class:`Outcome` per task as it finishes. Executors see nothing but
the callables: retries, failure records and progress stay with the runner.

A :class:`UnitWork` run in the process that built it uses the runner's own :class:`~textrobust.robustness.unit.
Workspace` (data, resources and caches already loaded) and reports phases to the progress bar; pickled to another
process it rebuilds a workspace there, once per process and run, and reports nothing. Where the run directory is
not shared with the workers (a URI run directory), a :class:`UnitSync` moves files around each unit.

Example:
    >>> for i, outcome in InProcessExecutor().map([lambda: 1, lambda: 2]):
    ...     print(i, outcome.value)
    0 1
    1 2
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from .spec import Experiment
from .unit import Unit, Workspace, run_unit

#: What :meth:`UnitWork.__call__` returns: where the unit's files were written.
HERE, ELSEWHERE = "here", "elsewhere"


@dataclass(frozen=True)
class Outcome:
    """How one task ended: its return ``value``, or the ``error`` it raised with the ``traceback`` text (which may
    come from another process)."""

    value: Any = None
    error: BaseException | None = None
    traceback: str = ""

    @classmethod
    def of(cls, task: Callable[[], Any]) -> Outcome:
        """Run ``task`` here and capture how it ended (KeyboardInterrupt and SystemExit propagate)."""
        try:
            return cls(value=task())
        except Exception as exc:
            return cls(error=exc, traceback="".join(traceback.format_exception(exc)))


class Executor(Protocol):
    """Runs zero-argument tasks somewhere and yields ``(index, Outcome)`` as each finishes, in any order.

    Closing the generator early (the caller hit an input error, or Ctrl-C) cancels the tasks not yet finished.
    ``capacity`` is how many tasks run at once (for the progress bar).
    """

    capacity: int

    def map(self, tasks: Sequence[Callable[[], Any]]) -> Generator[tuple[int, Outcome], None, None]: ...


class InProcessExecutor:
    """The default: tasks one after another in this process."""

    capacity = 1

    def map(self, tasks: Sequence[Callable[[], Any]]) -> Generator[tuple[int, Outcome], None, None]:
        for i, task in enumerate(tasks):
            yield i, Outcome.of(task)


class UnitSync(Protocol):
    """Moves a unit's files between a run directory that workers cannot see and where they work (see
    :mod:`textrobust.scale.storage`). ``worker_dir`` names the local directory a worker process runs units in."""

    def worker_dir(self, key: str) -> Path: ...

    def prepare(self, unit: Unit, local: Path) -> None: ...

    def publish(self, unit: Unit, local: Path) -> None: ...

    def collect(self, unit: Unit) -> None: ...


# One workspace per worker process and run, kept between tasks: data, attack resources and per-run caches are
# built once per worker instead of once per unit.
_WORKSPACES: dict[tuple[str, str], Workspace] = {}


def _worker_workspace(exp: Experiment, run_dir: Path) -> Workspace:
    from .fingerprint import digest

    key = (digest(exp.model_dump()), str(run_dir))
    if key not in _WORKSPACES:
        _WORKSPACES.clear()  # one run at a time per worker: do not keep an old run's data and models alive
        _WORKSPACES[key] = Workspace(exp, run_dir)
    return _WORKSPACES[key]


@dataclass(frozen=True)
class UnitWork:
    """One attempt at one unit: ``work()`` trains and evaluates it and writes its files (see
    :func:`~textrobust.robustness.unit.run_unit`), returning :data:`HERE` or :data:`ELSEWHERE`.

    ``workspace`` and ``phase`` are used in the process that built the work and dropped when it is pickled.
    """

    exp: Experiment
    run_dir: Path
    unit: Unit
    sync: UnitSync | None = None
    workspace: Workspace | None = field(default=None, compare=False)
    phase: Callable[[str], None] | None = field(default=None, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        return {"exp": self.exp, "run_dir": self.run_dir, "unit": self.unit, "sync": self.sync}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for k, v in {**state, "workspace": None, "phase": None}.items():
            object.__setattr__(self, k, v)

    def __call__(self) -> str:
        if self.workspace is not None:
            self.run(self.workspace, self.phase or (lambda p: None))
            if self.sync is not None:
                self.sync.publish(self.unit, self.workspace.run_dir)
            return HERE
        from .fingerprint import digest

        local = self.run_dir
        if self.sync is not None:
            local = self.sync.worker_dir(digest([self.exp.model_dump(), str(self.run_dir)]))
            self.sync.prepare(self.unit, local)
        self.run(_worker_workspace(self.exp, local), lambda p: None)
        if self.sync is not None:
            self.sync.publish(self.unit, local)
        return ELSEWHERE

    def run(self, ws: Workspace, phase: Callable[[str], None]) -> None:
        """Run the unit in ``ws`` (the override point for tests that need a unit to fail)."""
        run_unit(ws, self.unit, phase)


__all__ = ["ELSEWHERE", "HERE", "Executor", "InProcessExecutor", "Outcome", "UnitSync", "UnitWork"]
