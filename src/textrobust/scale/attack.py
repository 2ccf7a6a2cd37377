"""Attacks sharded over Ray actors: ``textrobust attack ... --backend ray``.

Each actor loads the model, the recipe's resources (word neighbours, sentence encoder, masked LM) and builds the
attack once, then runs the lockstep engine (:func:`~textrobust.adversarial.run_attack`) on one contiguous shard of
the examples after another. A shard knows where it starts (``index_offset``), so every example gets the random
generator and index it has in a one-process run; the results are put back in input order. Per-example results and
the summary's rates, words perturbed and queries are those of the local run; ``model_calls`` / ``model_texts`` are
summed over the actors (each keeps its own cache) and the timings are the wall time of the whole run.

Example:
    >>> setup = AttackSetup("models/sst2", "textfooler", resources={"neighbours": "nb.json"})  # doctest: +SKIP
    >>> with RayCluster(), ShardedAttack(setup, actors=4, num_gpus=1) as sharded:  # doctest: +SKIP
    ...     report = sharded.run(texts, labels)
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from typing import Any

from ..adversarial.setup import AttackSetup
from ..errors import ConfigError
from ..progress import Bar
from .cluster import require_ray

log = logging.getLogger(__name__)


class _AttackActor:
    """One model and attack, built once; attacks shards on request (its cache of model answers is kept)."""

    def __init__(self, setup: AttackSetup, threads: int) -> None:
        setup.runtime.replace(threads=threads).apply_threads()  # the actor's share of the machine
        self.attack = setup.build()
        self.cache: dict[str, Any] = {}

    def labels(self) -> list[str]:
        return list(self.attack.model.labels)

    def run(self, texts: list[str], labels: list[Any], offset: int, options: dict[str, Any]) -> tuple[Any, ...]:
        from ..adversarial import run_attack

        report = run_attack(
            self.attack, texts, labels, progress=False, cache=self.cache, index_offset=offset, **options
        )
        return report.results, report.model_calls, report.model_texts, self.attack.name


class ShardedAttack:
    """A pool of attack actors: ``actors`` of them (default: one per GPU when ``num_gpus`` > 0, else one per
    ``num_cpus`` CPUs of the cluster, at most 16), each asking for ``num_cpus`` / ``num_gpus``.

    Example:
        >>> with ShardedAttack(AttackSetup("models/mr", "deepwordbug"), actors=2) as sharded:  # doctest: +SKIP
        ...     print(sharded.labels)
    """

    def __init__(
        self, setup: AttackSetup, *, actors: int | None = None, num_cpus: float = 1, num_gpus: float = 0
    ) -> None:
        setup.check()  # an unknown recipe, option or resource path fails here, before any actor starts
        self.setup, self.num_cpus, self.num_gpus, self.n_actors = setup, num_cpus, num_gpus, actors
        self.actors: list[Any] = []
        self.labels: list[str] = []

    def __enter__(self) -> ShardedAttack:
        ray = require_ray()
        n = self.n_actors or _default_actors(ray, self.num_cpus, self.num_gpus)
        cls = ray.remote(_AttackActor).options(num_cpus=self.num_cpus, num_gpus=self.num_gpus)
        self.actors = [cls.remote(self.setup, max(1, math.floor(self.num_cpus))) for _ in range(n)]
        self.labels = _get(ray, self.actors[0].labels.remote())  # also: a model that does not load fails here
        return self

    def __exit__(self, *exc: Any) -> None:
        ray = require_ray()
        for a in self.actors:
            ray.kill(a)
        self.actors = []

    def run(
        self,
        texts: Sequence[str],
        labels: Sequence[Any],
        *,
        batch_size: int = 32,
        query_budget: int | None = None,
        seed: int = 0,
        shard_size: int | None = None,
        progress: bool = True,
    ) -> Any:
        """Attack every ``(text, label)``; same arguments and :class:`~textrobust.adversarial.AttackReport` as
        :func:`~textrobust.adversarial.run_attack`. ``shard_size`` defaults to a quarter of an even split, so a
        slow shard does not hold the others up."""
        from ray.util import ActorPool

        from ..adversarial.results import AttackReport

        if len(texts) != len(labels):
            raise ConfigError(f"texts and labels differ in length ({len(texts)} vs {len(labels)})")
        ray = require_ray()
        size = shard_size or max(1, math.ceil(len(texts) / (4 * len(self.actors))))
        shards = [(list(texts[i : i + size]), list(labels[i : i + size]), i) for i in range(0, len(texts), size)]
        options = {"batch_size": batch_size, "query_budget": query_budget, "seed": seed}
        start = time.perf_counter()
        results, calls, sent, name = [], 0, 0, self.setup.recipe
        pool = ActorPool(self.actors)
        with Bar(f"attack {self.setup.recipe} (ray)", total=len(texts), unit="examples", enabled=progress) as bar:
            try:
                for res, c, t, _name in pool.map_unordered(lambda a, s: a.run.remote(*s, options), shards):
                    results += res
                    calls, sent = calls + c, sent + t
                    bar.advance(len(res))
            except ray.exceptions.RayTaskError as exc:
                raise getattr(exc, "cause", None) or exc from None
        results.sort(key=lambda r: r.index)
        return AttackReport(
            results,
            time.perf_counter() - start,
            name,
            calls,
            sent,
            extra={"actors": len(self.actors), "shards": len(shards)},
        )


def run_attack_sharded(
    setup: AttackSetup,
    texts: Sequence[str],
    labels: Sequence[Any],
    *,
    actors: int | None = None,
    num_cpus: float = 1,
    num_gpus: float = 0,
    **kwargs: Any,
) -> Any:
    """One call: start the actors, attack, stop them. ``kwargs`` go to :meth:`ShardedAttack.run`.

    Example:
        >>> report = run_attack_sharded(AttackSetup("models/mr", "deepwordbug"), texts, labels)  # doctest: +SKIP
    """
    with ShardedAttack(setup, actors=actors, num_cpus=num_cpus, num_gpus=num_gpus) as sharded:
        return sharded.run(texts, labels, **kwargs)


def _default_actors(ray: Any, num_cpus: float, num_gpus: float) -> int:
    have = ray.cluster_resources()
    slots = have.get("GPU", 0) / num_gpus if num_gpus else have.get("CPU", 1) / num_cpus
    if num_gpus and slots < 1:
        raise ConfigError(f"--num-gpus {num_gpus}: the Ray cluster has {have.get('GPU', 0):g} GPUs")
    return max(1, min(16, int(slots)))


def _get(ray: Any, ref: Any) -> Any:
    """``ray.get`` that re-raises our own errors (a model that does not load) as themselves."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayActorError as exc:
        cause = getattr(exc, "cause", None)
        raise (cause if cause is not None else exc) from None
    except ray.exceptions.RayTaskError as exc:
        raise getattr(exc, "cause", None) or exc from None
