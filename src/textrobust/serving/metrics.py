"""Prometheus metrics in the text exposition format (version 0.0.4), without a client library.

Every update happens on the server's event-loop thread (request handlers, the batcher's loop side, the connection
protocol), so plain integers and floats need no locks. ``GET /metrics`` renders them.

Example:
    >>> m = Metrics()
    >>> m.requests.inc(route="/predict", status="200")
    >>> m.batch_texts.observe(8)
    >>> 'textrobust_requests_total{route="/predict",status="200"} 1' in m.render()
    True
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
TEXT_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)
REQUEST_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)


def _labels(values: dict[str, str]) -> str:
    if not values:
        return ""
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(values.items()))
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


class Counter:
    """A monotonically increasing count, optionally split by labels."""

    kind = "counter"

    def __init__(self, name: str, help: str) -> None:
        self.name, self.help = name, help
        self.values: dict[tuple[tuple[str, str], ...], float] = {}

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        self.values[key] = self.values.get(key, 0.0) + amount

    def value(self, **labels: str) -> float:
        return self.values.get(tuple(sorted(labels.items())), 0.0)

    def samples(self) -> list[str]:
        return [f"{self.name}{_labels(dict(k))} {_num(v)}" for k, v in sorted(self.values.items())]


class Gauge:
    """A value read when scraped (``read`` is called then), or set by the server."""

    kind = "gauge"

    def __init__(self, name: str, help: str, read: Callable[[], float] | None = None) -> None:
        self.name, self.help, self.read, self.current = name, help, read, 0.0

    def set(self, value: float) -> None:
        self.current = value

    def value(self) -> float:
        return float(self.read()) if self.read is not None else self.current

    def samples(self) -> list[str]:
        return [f"{self.name} {_num(self.value())}"]


class Histogram:
    """Counts of observations at or below each bucket's upper bound, their sum and count (one label set)."""

    kind = "histogram"

    def __init__(self, name: str, help: str, buckets: Sequence[float]) -> None:
        self.name, self.help, self.bounds = name, help, list(buckets)
        self.counts = [0] * (len(self.bounds) + 1)  # the last one is +Inf
        self.sum, self.count = 0.0, 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.sum += value
        self.count += 1

    def samples(self) -> list[str]:
        out, running = [], 0
        for bound, n in zip([*self.bounds, float("inf")], self.counts, strict=True):
            running += n
            le = "+Inf" if bound == float("inf") else _num(bound)
            out.append(f'{self.name}_bucket{{le="{le}"}} {running}')
        return out + [f"{self.name}_sum {_num(self.sum)}", f"{self.name}_count {self.count}"]


class Metrics:
    """The server's metrics; the queue and connection gauges read live values through callbacks set later."""

    def __init__(self) -> None:
        self.requests = Counter("textrobust_requests_total", "HTTP requests answered, by route and status code.")
        self.texts = Counter("textrobust_texts_total", "Texts scored.")
        self.rejected = Counter(
            "textrobust_rejected_total", "Requests refused before scoring, by reason (the error type)."
        )
        self.latency = Histogram(
            "textrobust_request_duration_seconds",
            "Time from a prediction request's head to its answer.",
            LATENCY_BUCKETS,
        )
        self.batch_texts = Histogram("textrobust_batch_texts", "Texts per model call.", TEXT_BUCKETS)
        self.batch_requests = Histogram(
            "textrobust_batch_requests", "Requests scored together in one model call.", REQUEST_BUCKETS
        )
        self.model_seconds = Histogram(
            "textrobust_model_call_duration_seconds", "Duration of one model call.", LATENCY_BUCKETS
        )
        self.model_errors = Counter("textrobust_model_errors_total", "Model calls that raised.")
        self.queue_requests = Gauge("textrobust_queue_requests", "Requests waiting for the model.")
        self.queue_texts = Gauge("textrobust_queue_texts", "Texts waiting for the model.")
        self.connections = Gauge("textrobust_connections_open", "Open client connections.")
        self.connections_total = Counter(
            "textrobust_connections_total", "Client connections accepted, and those refused (over the limit)."
        )
        self.closed = Counter(
            "textrobust_connections_closed_total",
            "Connections the server closed on a timeout, by reason (idle, slow_head).",
        )
        self.ready = Gauge("textrobust_ready", "1 when the model is loaded and the server accepts work.")

    def all(self) -> list[Counter | Gauge | Histogram]:
        return [
            self.requests,
            self.texts,
            self.rejected,
            self.latency,
            self.batch_texts,
            self.batch_requests,
            self.model_seconds,
            self.model_errors,
            self.queue_requests,
            self.queue_texts,
            self.connections,
            self.connections_total,
            self.closed,
            self.ready,
        ]

    def render(self) -> str:
        lines: list[str] = []
        for metric in self.all():
            lines += [f"# HELP {metric.name} {metric.help}", f"# TYPE {metric.name} {metric.kind}"]
            lines += metric.samples()
        return "\n".join(lines) + "\n"
