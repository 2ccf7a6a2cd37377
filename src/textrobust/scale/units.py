"""Experiment units on Ray: ``textrobust run EXPERIMENT.yaml --backend ray``.

:class:`RayExecutor` is an :class:`~textrobust.robustness.work.Executor`: it gets zero-argument work (the runner's
:class:`~textrobust.robustness.work.UnitWork`, which carries the experiment and rebuilds its workspace once per
worker process) and yields an outcome per task as each finishes; it never sees the runner. Each task asks the
cluster for ``num_cpus`` / ``num_gpus`` (the spec's ``unit_compute``, or ``--num-cpus`` / ``--num-gpus``) and sets
that many torch threads. The runner keeps retries (an exception inside a unit, or a worker that died, comes back as
an outcome and is submitted again), failure records and progress, exactly as with the in-process executor; so the
files, the caches, ``--resume``, ``summary.json`` and the report are the same as a local run's.

:class:`StoreSync` moves a unit's files around it when the run directory is a URI the workers cannot see
(:mod:`textrobust.scale.storage`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Generator, Sequence
from pathlib import Path
from typing import Any

from ..errors import TextRobustError
from ..layout import MARKERS
from ..robustness.work import Outcome
from .cluster import require_ray
from .storage import RunStore, worker_store

log = logging.getLogger(__name__)


class RayExecutor:
    """Runs tasks as Ray tasks of ``num_cpus`` CPUs and ``num_gpus`` GPUs each (Ray must be initialised:
    :class:`RayCluster`); ``capacity`` is how many fit the cluster at once.

    Example:
        >>> with RayCluster():  # doctest: +SKIP
        ...     Runner(exp, "runs/exp", executor=RayExecutor(num_cpus=1)).run()
    """

    def __init__(self, *, num_cpus: float = 1, num_gpus: float = 0, poll_s: float = 1.0) -> None:
        self.num_cpus, self.num_gpus, self.poll_s = num_cpus, num_gpus, poll_s

    @property
    def capacity(self) -> int:
        ray = require_ray()
        have = ray.cluster_resources()
        slots = [have.get("CPU", 0) / self.num_cpus] + ([have.get("GPU", 0) / self.num_gpus] if self.num_gpus else [])
        return max(1, int(min(slots)))

    def map(self, tasks: Sequence[Callable[[], Any]]) -> Generator[tuple[int, Outcome], None, None]:
        ray = require_ray()
        if not tasks:
            return
        remote = ray.remote(_call).options(
            num_cpus=self.num_cpus, num_gpus=self.num_gpus, max_retries=0, name="textrobust-unit"
        )
        threads = max(1, math.floor(self.num_cpus))
        pending = {remote.remote(task, threads): i for i, task in enumerate(tasks)}
        log.info("%d tasks submitted to Ray (%s CPU, %s GPU each)", len(tasks), self.num_cpus, self.num_gpus)
        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=self.poll_s)
                for ref in ready:
                    yield pending.pop(ref), _outcome(ray, ref)
        finally:
            for ref in pending:  # the caller stopped (an input error, Ctrl-C): cancel the tasks still queued
                ray.cancel(ref, force=True)


def _call(task: Callable[[], Any], threads: int) -> Any:
    """Run one task in a Ray worker with ``threads`` torch threads (a reused worker keeps whatever its first task
    set: make it explicit)."""
    import torch

    torch.set_num_threads(threads)
    return task()


def _outcome(ray: Any, ref: Any) -> Outcome:
    """The task's outcome; Ray's error (with the worker's traceback as text) turned back into the cause."""
    try:
        return Outcome(value=ray.get(ref))
    except Exception as exc:  # the task raised, or the worker died (then there is no cause)
        cause = getattr(exc, "cause", None)
        if isinstance(cause, TextRobustError):
            return Outcome(error=cause, traceback=str(exc))
        return Outcome(error=cause if isinstance(cause, Exception) else exc, traceback=str(exc))


class StoreSync:
    """A :class:`~textrobust.robustness.work.UnitSync` over a staged :class:`RunStore` (a URI run directory): the
    driver works in ``store.local``; each worker process in a local staging directory of its own, pulling the
    shared caches before a unit and pushing the unit's files (markers last) after it."""

    def __init__(self, store: RunStore) -> None:
        self.store = store

    def worker_dir(self, key: str) -> Path:
        return worker_store(self.store, key).local

    def _at(self, local: Path) -> RunStore:
        return RunStore(self.store.uri, local, staged=True)

    def prepare(self, unit: Any, local: Path) -> None:
        store, prefix = self._at(local), self.store.unit_prefix(unit.condition, unit.seed)
        for marker in MARKERS:  # the store must not show an earlier attempt as finished (or failed) meanwhile
            store.remove(f"{prefix}/{marker}")
        store.pull("cache", only_missing=True)  # augmented / generated rows another unit already made

    def publish(self, unit: Any, local: Path) -> None:
        store = self._at(local)
        store.push(self.store.unit_prefix(unit.condition, unit.seed))
        store.push("cache")

    def collect(self, unit: Any) -> None:
        prefix = self.store.unit_prefix(unit.condition, unit.seed)
        for marker in MARKERS:  # drop a marker of an earlier attempt first
            (self.store.local / prefix / marker).unlink(missing_ok=True)
        self.store.pull(prefix)
