"""Scale out: run experiment units, augmentation shards and attack shards on a Ray cluster.

These executors sit beside :mod:`textrobust.robustness`: they call the same unit, chunk and attack functions the
local path calls, and the library never learns which executor runs it. Ray is an optional extra
(``pip install 'textrobust[ray]'``) imported only inside the functions that use it.

Example:
    >>> from textrobust.scale import RayExecutor  # doctest: +SKIP
    >>> Runner(exp, "runs/exp", executor=RayExecutor(address="auto")).run()  # doctest: +SKIP
"""

from .cluster import RayCluster, require_ray
from .storage import RunStore, open_run_store

__all__ = ["RayCluster", "RayExecutor", "RunStore", "augment_file_ray", "open_run_store", "require_ray",
           "run_attack_sharded"]


def __getattr__(name: str):  # lazy: importing textrobust.scale must not import torch or ray
    if name == "RayExecutor":
        from .units import RayExecutor

        return RayExecutor
    if name == "augment_file_ray":
        from .augment import augment_file_ray

        return augment_file_ray
    if name == "run_attack_sharded":
        from .attack import run_attack_sharded

        return run_attack_sharded
    raise AttributeError(name)
