"""Choosing where an experiment's units run: ``--backend local`` (this process) or ``--backend ray``, for a run
directory that is a local path or a filesystem URI (see :mod:`textrobust.scale.storage`)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from ..errors import ConfigError
from .storage import RunStore, open_run_store

BACKENDS = ("local", "ray")


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
    unit_compute: Any = None,
    echo: Callable[[str], None] = print,
) -> Iterator[tuple[Any, Any, RunStore]]:
    """``(executor, sync, store)`` for a run: the executor and unit sync to give
    :class:`~textrobust.robustness.Runner` (None means the in-process executor, a shared run directory) and the
    run directory's store (run the runner in ``store.local``). Ray tasks ask for ``num_cpus`` / ``num_gpus``, else
    the spec's ``unit_compute``. On exit a staged run directory is uploaded and a Ray instance this call started is
    shut down.

    Example:
        >>> with unit_backend("local", "runs/x") as (executor, sync, store):  # doctest: +SKIP
        ...     Runner(exp, store.local, executor=executor, sync=sync).run()
    """
    check_backend(backend, address)
    if backend == "local" and (num_cpus is not None or num_gpus is not None):
        raise ConfigError("--num-cpus / --num-gpus apply to --backend ray (locally a unit uses this machine)")
    store = open_run_store(run_dir)
    from .units import StoreSync

    sync = StoreSync(store) if store.staged else None
    if backend == "local":
        with store:
            yield None, sync, store
        return
    from .cluster import RayCluster, require_ray
    from .units import RayExecutor

    require_ray()  # the install hint before anything is pulled or started
    cpus = num_cpus if num_cpus is not None else getattr(unit_compute, "num_cpus", 1)
    gpus = num_gpus if num_gpus is not None else getattr(unit_compute, "num_gpus", 0)
    with RayCluster(address) as cluster, store:
        if cluster.dashboard_url:
            echo(f"Ray dashboard: {cluster.dashboard_url}")
        yield RayExecutor(num_cpus=cpus, num_gpus=gpus), sync, store
