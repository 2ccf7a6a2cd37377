"""Dynamic batching: requests that arrive while the model is busy are scored together in one model call.

One model copy runs on one dedicated thread (the bounded worker pool: a second thread would only contend for the
same weights, and fast tokenizers refuse concurrent use). The event loop queues requests; the batcher takes every
waiting request up to ``max_batch_texts`` texts, hands their concatenation to ``predict_proba`` (which sorts by
length and packs forward passes by its own token budget, on its own device), and routes each request's rows back
to it in order. A request that finds the model idle waits at most ``batch_wait`` for company; under load nobody
waits, because the queue fills while the model runs.

Example:
    >>> import asyncio, numpy as np
    >>> class Half:
    ...     def predict_proba(self, texts):
    ...         return np.full((len(texts), 2), 0.5)
    >>> async def demo():
    ...     b = DynamicBatcher(Half().predict_proba, max_batch_texts=64, batch_wait=0.0, max_queue=8)
    ...     await b.start()
    ...     rows = await b.submit(["a", "b"], "req1")
    ...     await b.stop()
    ...     return rows.shape
    >>> asyncio.run(demo())
    (2, 2)
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .metrics import Metrics

log = logging.getLogger(__name__)


class QueueFull(Exception):
    """More requests wait for the model than the server admits; ``retry_after`` seconds is the estimated drain."""

    def __init__(self, waiting: int, retry_after: int) -> None:
        super().__init__(f"{waiting} requests are waiting for the model")
        self.waiting, self.retry_after = waiting, retry_after


class ModelFailure(Exception):
    """The model raised on this request's texts (a server-side fault: the request itself was valid)."""


@dataclass(eq=False)
class _Job:
    texts: list[str]
    future: asyncio.Future[np.ndarray]
    request_id: str
    arrived: float = field(default_factory=time.monotonic)


class DynamicBatcher:
    """Queue requests, score them in batches on one model thread, answer each with its own rows.

    ``predict``: ``texts -> ndarray[n, k]`` (a model's ``predict_proba``); ``warm_up``: texts scored once before
    the first request (loads lazy weights), or ``None``.
    """

    def __init__(
        self,
        predict: Callable[[list[str]], Any],
        *,
        max_batch_texts: int,
        batch_wait: float,
        max_queue: int,
        metrics: Metrics | None = None,
        warm_up: Sequence[str] | None = None,
    ) -> None:
        self.predict, self.max_batch_texts, self.batch_wait = predict, max_batch_texts, batch_wait
        self.max_queue, self.metrics, self.warm_up = max_queue, metrics or Metrics(), warm_up
        self._queue: deque[_Job] = deque()
        self._queued_texts = 0
        self._wake = asyncio.Event()  # re-made in start(): an Event belongs to the loop that first waits on it
        self._task: asyncio.Task[None] | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._closing = False
        self._rate = 0.0  # texts per second of model time, smoothed: the Retry-After estimate
        self.ready = False
        self.failure: str | None = None  # why the warm-up failed, when it did
        self.metrics.queue_requests.read = lambda: len(self._queue)
        self.metrics.queue_texts.read = lambda: self._queued_texts

    @property
    def waiting(self) -> int:
        """Requests queued for the model (not counting the batch being scored)."""
        return len(self._queue)

    async def start(self) -> None:
        """Start the model thread and the batching loop (on the running event loop)."""
        self._wake = asyncio.Event()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="textrobust-model")
        self._task = asyncio.get_running_loop().create_task(self._run(), name="textrobust-batcher")

    async def stop(self) -> None:
        """Score every request still queued, then stop the loop and the model thread."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        self.ready = False

    def submit(self, texts: list[str], request_id: str) -> asyncio.Future[np.ndarray]:
        """Queue ``texts``; the future resolves to their probability rows (or raises :class:`ModelFailure`).
        Raises :class:`QueueFull` when ``max_queue`` requests already wait. Cancelling the future (a timeout)
        withdraws the request if it has not reached the model yet."""
        if self._task is None:
            raise RuntimeError("DynamicBatcher.submit before start()")
        if len(self._queue) >= self.max_queue:
            self._drop_cancelled()
            if len(self._queue) >= self.max_queue:
                raise QueueFull(len(self._queue), self._retry_after())
        job = _Job(list(texts), asyncio.get_running_loop().create_future(), request_id)
        self._queue.append(job)
        self._queued_texts += len(job.texts)
        self._wake.set()
        return job.future

    # -- the loop -----------------------------------------------------------------------------------
    async def _run(self) -> None:
        if self.warm_up:
            await self._warm()
        while True:
            while not self._queue:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
            await self._gather()
            jobs = self._take()
            try:
                await self._score(jobs)
            except Exception as e:  # a fault of the batcher itself: answer the batch, keep serving the rest
                log.exception("batcher fault")
                for job in jobs:
                    _settle(job, exc=ModelFailure(f"internal error ({type(e).__name__})"))

    async def _warm(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._pool, self.predict, list(self.warm_up or []))
        except Exception as e:  # the model cannot run at all: say why on /ready and to every request
            self.failure = f"{type(e).__name__}: {e}".splitlines()[0]
            log.error("model warm-up failed: %s", self.failure, exc_info=True)
            return
        self.ready = True
        self.metrics.ready.set(1)

    async def _gather(self) -> None:
        """Wait until the first queued request is ``batch_wait`` old or enough texts are queued to fill a call."""
        deadline = self._queue[0].arrived + self.batch_wait
        while self._queued_texts < self.max_batch_texts and not self._closing:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), remaining)
            except asyncio.TimeoutError:
                return

    def _take(self) -> list[_Job]:
        """Whole requests in arrival order while they fit ``max_batch_texts`` (always at least one)."""
        jobs: list[_Job] = []
        n = 0
        while self._queue:
            job = self._queue[0]
            if job.future.done():  # timed out while waiting: nobody wants its answer
                self._pop()
                continue
            if jobs and n + len(job.texts) > self.max_batch_texts:
                break
            jobs.append(self._pop())
            n += len(job.texts)
        return jobs

    def _pop(self) -> _Job:
        job = self._queue.popleft()
        self._queued_texts -= len(job.texts)
        return job

    def _drop_cancelled(self) -> None:
        kept = [j for j in self._queue if not j.future.done()]
        self._queue = deque(kept)
        self._queued_texts = sum(len(j.texts) for j in kept)

    async def _score(self, jobs: list[_Job]) -> None:
        if not jobs:
            return
        if self.failure is not None:
            for job in jobs:
                _settle(job, exc=ModelFailure(f"the model failed to load ({self.failure})"))
            return
        texts = [t for job in jobs for t in job.texts]
        try:
            probs = await self._call(texts)
        except Exception as e:
            if len(jobs) == 1:
                self._fail(jobs[0], e)
                return
            # One bad request must not sink the others batched with it: score each alone to find it.
            for job in jobs:
                if not job.future.done():
                    try:
                        _settle(job, await self._call(job.texts))
                    except Exception as e1:
                        self._fail(job, e1)
            return
        self.metrics.batch_requests.observe(len(jobs))
        start = 0
        for job in jobs:
            _settle(job, probs[start : start + len(job.texts)])
            start += len(job.texts)

    async def _call(self, texts: list[str]) -> np.ndarray:
        loop = asyncio.get_running_loop()
        began = time.perf_counter()
        try:
            out = await loop.run_in_executor(self._pool, self.predict, texts)
            probs = np.asarray(out, dtype=np.float64)
            if probs.ndim != 2 or probs.shape[0] != len(texts):
                raise ValueError(f"the model returned shape {probs.shape} for {len(texts)} texts")
        except Exception:
            self.metrics.model_errors.inc()
            raise
        seconds = time.perf_counter() - began
        self.metrics.model_seconds.observe(seconds)
        self.metrics.batch_texts.observe(len(texts))
        self.metrics.texts.inc(len(texts))
        if texts and seconds > 0:
            rate = len(texts) / seconds
            self._rate = rate if self._rate == 0 else 0.8 * self._rate + 0.2 * rate
        return probs

    def _fail(self, job: _Job, error: Exception) -> None:
        message = f"{type(error).__name__}: {error}".splitlines()[0]
        log.error("request %s: the model raised %s", job.request_id, message, exc_info=error)
        _settle(job, exc=ModelFailure(f"the model raised {message}"))

    def _retry_after(self) -> int:
        """Seconds until the queue is likely to have drained, from the measured model rate (at least 1)."""
        if self._rate <= 0:
            return 1
        return max(1, min(60, math.ceil(self._queued_texts / self._rate)))


def _settle(job: _Job, rows: np.ndarray | None = None, exc: Exception | None = None) -> None:
    if job.future.done():  # answered 504 meanwhile: the rows go nowhere
        return
    if exc is not None:
        job.future.set_exception(exc)
    else:
        job.future.set_result(rows)
