"""The rules every HTTP model of textrobust follows (the probability protocol's :class:`~textrobust.models.remote.
RemoteModel` and the chat endpoints' :class:`~textrobust.models.openai.OpenAIChatModel`): one place for timeouts,
retries with exponential back-off, ``Retry-After``, a rate limit and a bound on concurrent requests.

* a request that times out, cannot connect, or is answered 408, 425, 429 or 5xx (:data:`RETRY_STATUS`) is sent again
  up to ``retries`` times, waiting ``backoff x 2^k`` seconds (or the server's ``Retry-After``, up to
  :data:`MAX_RETRY_AFTER`); any other answer but 200 stops at once with one line naming the model and the server's
  message (:class:`~textrobust.errors.ModelError`);
* at most ``concurrency`` requests are in flight and at most ``rate`` start per second, all threads together.

Example:
    >>> client = HttpClient("my-endpoint", HttpPolicy(timeout=10, retries=2, concurrency=4, rate=20))  # doctest: +SKIP
    >>> client.post("http://127.0.0.1:8000/v1/chat/completions", '{"model": "m", "messages": []}')  # doctest: +SKIP
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from ..errors import ConfigError, ModelError

RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504}
#: The longest ``Retry-After`` honoured (seconds); a server asking for more gets back-off as usual.
MAX_RETRY_AFTER = 30.0

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class HttpPolicy:
    """``timeout`` seconds per request; ``retries`` extra attempts on transient failures, waiting ``backoff`` x 2^k
    s; ``concurrency`` requests in flight at most; ``rate`` requests started per second at most (None: no limit).

    Example:
        >>> HttpPolicy(retries=-1)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        textrobust.errors.ConfigError: invalid HTTP settings: retries=-1 (timeout > 0, retries >= 0, ...)
    """

    timeout: float = 30.0
    retries: int = 3
    backoff: float = 0.5
    concurrency: int = 1
    rate: float | None = None

    def __post_init__(self) -> None:
        bad = [
            f"{name}={value!r}"
            for name, value, ok in (
                ("timeout", self.timeout, self.timeout > 0),
                ("retries", self.retries, self.retries >= 0),
                ("backoff", self.backoff, self.backoff >= 0),
                ("concurrency", self.concurrency, self.concurrency >= 1),
                ("rate", self.rate, self.rate is None or self.rate > 0),
            )
            if not ok
        ]
        if bad:
            raise ConfigError(
                f"invalid HTTP settings: {', '.join(bad)} (timeout > 0, retries >= 0, backoff >= 0, "
                "concurrency >= 1, rate > 0)"
            )


class RateLimiter:
    """Spaces request starts at least ``1 / rate`` seconds apart across threads (``rate`` None: no limit)."""

    def __init__(self, rate: float | None) -> None:
        self.interval = 0.0 if rate is None else 1.0 / rate
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            time.sleep(start - now)


class HttpClient:
    """POSTs under an :class:`HttpPolicy`, on one kept-alive session per thread. ``who`` names the model in every
    error; ``hint`` ends the message of a refused request. ``requests_sent`` counts answered requests."""

    def __init__(
        self,
        who: str,
        policy: HttpPolicy | None = None,
        headers: dict[str, str] | None = None,
        hint: str = "check the URL and the request format",
    ) -> None:
        self.who, self.policy, self.headers, self.hint = who, policy or HttpPolicy(), dict(headers or {}), hint
        self.limiter = RateLimiter(self.policy.rate)
        self._local = threading.local()
        self._count = threading.Lock()
        self.requests_sent = 0
        self.retried = 0

    def __getstate__(self) -> dict[str, Any]:  # picklable (Ray ships models): sessions and locks are per process
        state = dict(self.__dict__)
        for key in ("_local", "_count", "limiter"):
            state.pop(key)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._local, self._count, self.limiter = threading.local(), threading.Lock(), RateLimiter(self.policy.rate)

    def _session(self) -> Any:
        import requests

        if getattr(self._local, "session", None) is None:
            self._local.session = requests.Session()
        return self._local.session

    def post(self, url: str, body: str) -> str:
        """The body of a 200 answer to ``body`` (JSON text), after retrying transient failures."""
        import requests

        headers = {"Content-Type": "application/json", **self.headers}
        problem, wait = "", 0.0
        p = self.policy
        for attempt in range(p.retries + 1):
            if attempt:
                with self._count:
                    self.retried += 1
                time.sleep(max(wait, p.backoff * 2 ** (attempt - 1)))
            wait = 0.0
            self.limiter.wait()
            try:
                resp = self._session().post(url, data=body.encode(), headers=headers, timeout=p.timeout)
            except requests.Timeout:
                problem = f"no answer within {p.timeout:g} s"
                continue
            except requests.ConnectionError as e:
                problem = "connection refused" if "refused" in str(e).lower() else "cannot connect"
                continue
            with self._count:
                self.requests_sent += 1
            if resp.status_code in RETRY_STATUS:
                problem = f"HTTP {resp.status_code}"
                wait = _retry_after(resp.headers.get("Retry-After"))
                continue
            if resp.status_code != 200:
                raise ModelError(
                    f"{self.who}: the server answered HTTP {resp.status_code} ({snippet(resp.text)}); {self.hint}"
                )
            return resp.text
        raise ModelError(f"{self.who}: {problem} after {p.retries + 1} attempt(s); is the server running?")

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """``[fn(x) for x in items]`` with up to ``concurrency`` calls at once, in order; the first error raised
        stops the rest and is raised here."""
        if self.policy.concurrency == 1 or len(items) < 2:
            return [fn(x) for x in items]
        with ThreadPoolExecutor(min(self.policy.concurrency, len(items)), thread_name_prefix="textrobust-http") as pool:
            futures = [pool.submit(fn, x) for x in items]
            try:
                return [f.result() for f in futures]
            except BaseException:
                for f in futures:
                    f.cancel()
                raise


def _retry_after(value: str | None) -> float:
    try:
        return min(MAX_RETRY_AFTER, max(0.0, float(value))) if value else 0.0
    except ValueError:  # an HTTP date: fall back to back-off
        return 0.0


def snippet(text: str, limit: int = 80) -> str:
    """``text`` on one line, cut to ``limit`` characters."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + "..."


__all__ = ["MAX_RETRY_AFTER", "RETRY_STATUS", "HttpClient", "HttpPolicy", "RateLimiter", "snippet"]
