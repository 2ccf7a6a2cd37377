"""Choosing where an experiment's units run: ``--backend local`` (this process) or ``--backend ray``, for a run
directory that is a local path or a filesystem URI (see :mod:`textrobust.scale.storage`)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from ..errors import ConfigError
from .local import LocalPoolExecutor, auto_jobs
from .storage import RunStore, open_run_store

BACKENDS = ("local", "ray")


def parse_jobs(value: int | str | None) -> int | str:
    """``--jobs``: a positive integer or ``auto`` (checked before anything runs).

    Example:
        >>> parse_jobs("2"), parse_jobs("auto")
        (2, 'auto')
    """
    if value is None:
        return 1
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    try:
        n = int(value)
    except (TypeError, ValueError):
        n = 0
    if n < 1:
        raise ConfigError(f"--jobs must be a positive number of units at once, or auto; got '{value}'")
    return n


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
    jobs: int | str | None = None,
    unit_compute: Any = None,
    runtime: Any = None,
    model_source: str | None = None,
    units: int = 1,
    echo: Callable[[str], None] = print,
) -> Iterator[tuple[Any, Any, RunStore]]:
    """``(executor, sync, store)`` for a run: the executor and unit sync to give
    :class:`~textrobust.robustness.Runner` (None means the in-process executor, a shared run directory) and the
    run directory's store (run the runner in ``store.local``). Locally ``jobs`` units run at once (else the spec's
    ``unit_compute.jobs``; ``auto`` sized by :func:`textrobust.scale.local.auto_jobs` from ``runtime``, the model and
    the ``units`` to run). Ray tasks ask for ``num_cpus`` / ``num_gpus``, else the spec's ``unit_compute``. On exit a
    staged run directory is uploaded, a local pool stopped and a Ray instance this call started shut down.

    Example:
        >>> with unit_backend("local", "runs/x") as (executor, sync, store):  # doctest: +SKIP
        ...     Runner(exp, store.local, executor=executor, sync=sync).run()
    """
    check_backend(backend, address)
    if backend == "local" and (num_cpus is not None or num_gpus is not None):
        raise ConfigError("--num-cpus / --num-gpus apply to --backend ray (locally a unit uses this machine)")
    if backend == "ray" and jobs is not None:
        raise ConfigError("--jobs applies to --backend local (Ray runs as many units as the cluster holds)")
    jobs = parse_jobs(jobs if jobs is not None else getattr(unit_compute, "jobs", 1))
    store = open_run_store(run_dir)
    from .units import StoreSync

    sync = StoreSync(store) if store.staged else None
    if backend == "local":
        with store:
            n = auto_jobs(runtime, model_source or "", units) if jobs == "auto" else int(jobs)
            if n <= 1:
                yield None, sync, store
                return
            threads = getattr(runtime, "threads", None)
            with LocalPoolExecutor(n, threads) as pool:
                yield pool, sync, store
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
