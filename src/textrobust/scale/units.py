"""Experiment units as Ray tasks: ``textrobust run EXPERIMENT.yaml --backend ray``.

Each unfinished condition x seed unit becomes one Ray task asking for the unit's resources (``unit_resources`` in
the spec, or ``--num-cpus`` / ``--num-gpus``). The task rebuilds the run's :class:`~textrobust.robustness.Runner`
from the (picklable) experiment and run directory — one per worker process, so data, encoders and caches are
loaded once per worker, not once per unit — and runs the unit with the runner's own retry rule, the code the local
backend runs. So the files, the caches, ``--resume``, ``summary.json`` and the report are the same as a local run's.

Failures: an exception inside a unit is retried in the task (``retries``), then written to ``failed.json`` and
reported, while the other units go on. A worker that dies (killed, out of memory, node lost) is retried by Ray
(``max_retries=retries``), then recorded the same way. Input errors (:class:`~textrobust.errors.TextRobustError`)
stop the run, as locally: every unit would hit them.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from ..errors import TextRobustError
from ..robustness.fingerprint import digest
from .cluster import require_ray
from .storage import MARKERS, RunStore, open_run_store, worker_store

log = logging.getLogger(__name__)


class RayExecutor:
    """Hands a :class:`~textrobust.robustness.Runner`'s units to Ray tasks (the ``--backend ray`` executor).

    ``num_cpus`` / ``num_gpus`` override the spec's ``unit_resources``; ``store`` is the run directory's store
    when it is a URI (see :mod:`textrobust.scale.storage`). Ray must be initialised (:class:`RayCluster`).

    Example:
        >>> with RayCluster():  # doctest: +SKIP
        ...     Runner(exp, "runs/exp", executor=RayExecutor()).run()
    """

    def __init__(
        self,
        *,
        num_cpus: float | None = None,
        num_gpus: float | None = None,
        store: RunStore | None = None,
        poll_s: float = 1.0,
    ) -> None:
        self.num_cpus, self.num_gpus, self.store, self.poll_s = num_cpus, num_gpus, store, poll_s

    def resources(self, exp: Any) -> tuple[float, float]:
        req = exp.unit_resources
        return (
            self.num_cpus if self.num_cpus is not None else req.num_cpus,
            self.num_gpus if self.num_gpus is not None else req.num_gpus,
        )

    def run_units(self, runner: Any, units: list[Any], bar: Any) -> None:
        ray = require_ray()
        if not units:
            return
        num_cpus, num_gpus = self.resources(runner.exp)
        store = self.store or open_run_store(runner.run_dir)
        task = ray.remote(_unit_task).options(
            num_cpus=num_cpus,
            num_gpus=num_gpus,
            max_retries=runner.retries,
            retry_exceptions=False,
            name="textrobust-unit",
        )
        # The runner's class travels too: a subclass (a test's failing unit, a user's own _run_unit) runs remotely.
        spec = ray.put((type(runner), runner.exp, store, runner.retries, max(1, math.floor(num_cpus))))
        pending = {task.remote(spec, u): u for u in units}
        capacity = _capacity(ray, num_cpus, num_gpus)
        log.info(
            "%d units submitted to Ray (%s CPU, %s GPU each; about %d at a time)",
            len(units),
            num_cpus,
            num_gpus,
            capacity,
        )
        try:
            while pending:
                bar.running(min(len(pending), capacity))
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=self.poll_s)
                for ref in ready:
                    u = pending.pop(ref)
                    failure = self._collect(ray, runner, store, u, ref)
                    if failure is not None:
                        runner.failed.append(failure)
                    bar.running(min(len(pending), capacity))
                    bar.advance(failed=failure is not None)
        except BaseException:
            for ref in pending:  # an input error or Ctrl-C: stop the units still queued or running
                ray.cancel(ref, force=True)
            raise

    def _collect(self, ray: Any, runner: Any, store: RunStore, u: Any, ref: Any) -> dict[str, Any] | None:
        """The unit's outcome: None when done, its failure record otherwise (raises input errors)."""
        from ..robustness.unit import record_failure

        try:
            failure = ray.get(ref)
        except TextRobustError as exc:  # Ray's error is an instance of the cause's class too: re-raise the cause
            raise getattr(exc, "cause", None) or exc from None
        except Exception as exc:  # the worker died (after Ray's retries) or the task could not be run
            log.warning("%s: the Ray task failed: %s", u.key, exc)
            cause = getattr(exc, "cause", None) or exc
            failure = record_failure(runner.ws, u, cause, runner.retries + 1)
            store.push(store.unit_prefix(u.condition, u.seed))
            return failure
        if store.staged:  # bring the unit's files to the driver; drop a marker of an earlier attempt first
            for marker in MARKERS:
                (runner.ws.unit_dir(u) / marker).unlink(missing_ok=True)
            store.pull(store.unit_prefix(u.condition, u.seed))
        return failure


def _capacity(ray: Any, num_cpus: float, num_gpus: float) -> int:
    """How many units the cluster runs at once (for the progress bar's running count)."""
    have = ray.cluster_resources()
    slots = [have.get("CPU", 0) / num_cpus] + ([have.get("GPU", 0) / num_gpus] if num_gpus else [])
    return max(1, int(min(slots)))


# -- the worker side -----------------------------------------------------------------------------------------
# One runner per worker process and run, kept between tasks: the data, attack resources and per-run caches of a
# Workspace are built once per worker instead of once per unit.
_RUNNERS: dict[str, Any] = {}


def _unit_task(spec: tuple[Any, ...], u: Any) -> dict[str, Any] | None:
    """Run one unit in a Ray worker; returns None when done, the failure record when it failed after retries."""
    import torch

    runner_cls, exp, store, retries, threads = spec
    torch.set_num_threads(threads)  # a reused worker keeps whatever its first task set: make it explicit
    key = digest(
        [exp.model_dump(), store.uri, str(store.local), runner_cls.__module__, runner_cls.__qualname__, retries]
    )
    local = worker_store(store, key)
    runner = _RUNNERS.get(key)
    if runner is None:
        _RUNNERS.clear()  # one run at a time per worker: do not keep an old run's data and models alive
        runner = _RUNNERS[key] = runner_cls(exp, local.local, progress=False, retries=retries)
    prefix = local.unit_prefix(u.condition, u.seed)
    for marker in MARKERS:  # the store must not show an earlier attempt as finished (or failed) meanwhile
        local.remove(f"{prefix}/{marker}")
    local.pull("cache", only_missing=True)  # augmented / generated rows another unit already made
    runner.failed = []
    runner._attempt(u, lambda phase: None)
    local.push(prefix)
    local.push("cache")
    return runner.failed[-1] if runner.failed else None
