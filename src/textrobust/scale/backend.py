"""Choosing where an experiment's units run: ``--backend local`` (this process) or ``--backend ray``, for a run
directory that is a local path or a filesystem URI (see :mod:`textrobust.scale.storage`)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from ..errors import ConfigError
from ..robustness.runner import LocalExecutor
from .storage import RunStore, open_run_store

BACKENDS = ("local", "ray")


class SyncedLocalExecutor(LocalExecutor):
    """The local backend for a staged (URI) run directory: each finished unit is uploaded at once, so a crash
    loses at most the unit in progress, as on a local disk."""

    def __init__(self, store: RunStore) -> None:
        self.store = store

    def run_units(self, runner: Any, units: list[Any], bar: Any) -> None:
        for u in units:
            super().run_units(runner, [u], bar)
            self.store.push(self.store.unit_prefix(u.condition, u.seed))


def check_backend(backend: str, address: str | None) -> None:
    """``--backend`` is local or ray; ``--address`` only goes with ray."""
    if backend not in BACKENDS:
        raise ConfigError(f"--backend must be one of {', '.join(BACKENDS)}, got '{backend}'")
    if address and backend != "ray":
        raise ConfigError("--address applies to --backend ray")


@contextlib.contextmanager
def unit_backend(
    backend: str,
    run_dir: str,
    *,
    address: str | None = None,
    num_cpus: float | None = None,
    num_gpus: float | None = None,
    echo: Callable[[str], None] = print,
) -> Iterator[tuple[Any, RunStore]]:
    """``(executor, store)`` for a run: the executor to give :class:`~textrobust.robustness.Runner` (None means
    the default local one) and the run directory's store (run the runner in ``store.local``). On exit a staged
    run directory is uploaded and a Ray instance this call started is shut down.

    Example:
        >>> with unit_backend("local", "runs/x") as (executor, store):  # doctest: +SKIP
        ...     Runner(exp, store.local, executor=executor).run()
    """
    check_backend(backend, address)
    if backend == "local" and (num_cpus is not None or num_gpus is not None):
        raise ConfigError("--num-cpus / --num-gpus apply to --backend ray (locally a unit uses this machine)")
    store = open_run_store(run_dir)
    if backend == "local":
        with store:
            yield (SyncedLocalExecutor(store) if store.staged else None), store
        return
    from .cluster import RayCluster, require_ray
    from .units import RayExecutor

    require_ray()  # the install hint before anything is pulled or started
    with RayCluster(address) as cluster, store:
        if cluster.dashboard_url:
            echo(f"Ray dashboard: {cluster.dashboard_url}")
        yield RayExecutor(num_cpus=num_cpus, num_gpus=num_gpus, store=store), store
