"""Scale out: run experiment units, augmentation shards and attack shards on a Ray cluster.

These executors sit beside :mod:`textrobust.robustness`: they call the same unit, chunk and attack functions the
local path calls, and the library never learns which executor runs it. Ray is an optional extra
(``pip install 'textrobust[ray]'``) imported only inside the functions that use it.

Example:
    >>> from textrobust.scale import RayCluster, RayExecutor  # doctest: +SKIP
    >>> with RayCluster(address="auto"):  # doctest: +SKIP
    ...     Runner(exp, "runs/exp", executor=RayExecutor()).run()
"""

from importlib import import_module
from typing import Any

from .cluster import RayCluster, require_ray
from .storage import RunStore, open_run_store

# Loaded on first use: importing textrobust.scale imports neither torch nor ray.
_LAZY = {
    "RayExecutor": "units",
    "augment_file_ray": "augment",
    "AttackSetup": "attack",
    "ShardedAttack": "attack",
    "run_attack_sharded": "attack",
}

__all__ = ["RayCluster", "RunStore", "open_run_store", "require_ray", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
