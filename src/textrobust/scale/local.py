"""Several experiment units at once on this machine: ``textrobust run --jobs N`` (or the spec's ``unit_compute.jobs``).

:class:`LocalPoolExecutor` is an :class:`~textrobust.robustness.work.Executor` over a pool of ``jobs`` worker
processes (spawned, so each may open its own CUDA context). Like every executor it gets zero-argument work — the
runner's :class:`~textrobust.robustness.work.UnitWork`, which rebuilds its workspace once per worker process — and
yields an outcome per task as each finishes; retries, failure records and progress stay with the runner. Each
worker runs ``threads`` torch threads (default: the machine's cores shared out), so ``--jobs 2`` on 2 cores is two
one-thread units, not two units fighting over both cores.

On a GPU the units share the device: ``jobs="auto"`` (:func:`auto_jobs`) fits as many as the free memory holds for
the model being trained. On a CPU ``auto`` is 1: the cores are better spent on one unit's matrix products.

Results are those of running the units one after another with the same thread count per unit: a unit is seeded by
its seed alone (see :mod:`textrobust.models.finetune`), whichever process runs it.

Example:
    >>> with LocalPoolExecutor(jobs=2) as pool:  # doctest: +SKIP
    ...     Runner(exp, "runs/exp", executor=pool).run()
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ..errors import ConfigError
from ..robustness.work import Outcome

log = logging.getLogger(__name__)

#: Upper bound of ``auto``: beyond it the host side (tokenisation, Python) is the bottleneck, not the device.
MAX_AUTO_JOBS = 8


class LocalPoolExecutor:
    """Runs tasks in ``jobs`` worker processes of this machine, ``threads`` torch threads each."""

    def __init__(self, jobs: int, threads: int | None = None) -> None:
        if jobs < 1:
            raise ConfigError(f"--jobs must be a positive number of units at once (or auto), got {jobs}")
        self.jobs = int(jobs)
        self.threads = threads or max(1, (os.cpu_count() or 1) // self.jobs)
        self._pool: Any = None

    @property
    def capacity(self) -> int:
        return self.jobs

    def __enter__(self) -> LocalPoolExecutor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _start(self) -> Any:
        if self._pool is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            # spawn: a forked child would inherit the parent's torch threads and any CUDA context (unusable there)
            self._pool = ProcessPoolExecutor(
                max_workers=self.jobs,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(self.threads,),
            )
        return self._pool

    def map(self, tasks: Sequence[Callable[[], Any]]) -> Iterator[tuple[int, Outcome]]:
        from concurrent.futures import FIRST_COMPLETED, wait

        if not tasks:
            return
        pool = self._start()
        pending = {pool.submit(_call, task): i for i, task in enumerate(tasks)}
        try:
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield pending.pop(future), _outcome(future)
        finally:
            for future in pending:  # the caller stopped (an input error, Ctrl-C): drop what has not started
                future.cancel()
            if pending:
                self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _init_worker(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def _call(task: Callable[[], Any]) -> Outcome:
    """Run one task in a worker; the outcome (value or error with its traceback) travels back pickled."""
    outcome = Outcome.of(task)
    if outcome.error is not None:
        try:  # an exception that does not pickle would break the pool: send its text instead
            import pickle

            pickle.dumps(outcome.error)
        except Exception:
            outcome = Outcome(
                error=RuntimeError(f"{type(outcome.error).__name__}: {outcome.error}"), traceback=outcome.traceback
            )
    return outcome


def _outcome(future: Any) -> Outcome:
    try:
        return future.result()
    except Exception as exc:  # the worker process died (killed, out of memory): the runner retries the unit
        import traceback

        return Outcome(error=exc, traceback="".join(traceback.format_exception(exc)))


def auto_jobs(runtime: Any, model_source: str, units: int) -> int:
    """How many units to run at once: 1 on a CPU; on CUDA as many as the free memory holds for the model being
    trained (at most :data:`MAX_AUTO_JOBS` and ``units``).

    A unit's memory is estimated from the model's parameter count: fp32 weights, gradients and AdamW's two moments
    (16 bytes a parameter), the inference copies it makes, plus 2 GiB for activations at the token budget and the
    CUDA context; it is an estimate, and the log line says what it chose and why.
    """
    if not runtime.on_cuda or units <= 1:
        return 1
    import torch

    free, _total = torch.cuda.mem_get_info()
    params = _parameter_count(model_source)
    per_unit = 20 * params + 2 * 1024**3
    jobs = max(1, min(MAX_AUTO_JOBS, units, math.floor(0.9 * free / per_unit)))
    log.info(
        "--jobs auto: %d units at once (%.1f GiB free, about %.1f GiB per unit for %.0fM parameters)",
        jobs,
        free / 1024**3,
        per_unit / 1024**3,
        params / 1e6,
    )
    return jobs


def _parameter_count(source: str) -> int:
    """Parameters of the model at ``source`` from its config (no weights loaded); 110M (BERT-base) if unknown."""
    try:
        from transformers import AutoConfig

        cfg = AutoConfig.from_pretrained(source)
        hidden = int(getattr(cfg, "hidden_size", 768))
        layers = int(getattr(cfg, "num_hidden_layers", 12))
        vocab = int(getattr(cfg, "vocab_size", 30522))
        return 12 * layers * hidden * hidden + vocab * hidden
    except Exception:  # any config problem: a conservative default (the unit's own load reports real errors)
        return 110_000_000


__all__ = ["MAX_AUTO_JOBS", "LocalPoolExecutor", "auto_jobs"]
