"""``ServeConfig``: every knob of the model server in one frozen, validated object.

The CLI maps its options onto these fields one to one; library users build it directly. Defaults suit one model on
one machine with a few dozen clients (the scan's own client sends 256 texts per request).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from ..errors import ConfigError

MIB = 1024 * 1024


@dataclass(frozen=True)
class ServeConfig:
    """Settings of :class:`~textrobust.serving.ModelServer` (times in seconds).

    Batching: requests that arrive while the model is busy are scored together in one ``predict_proba`` call of up
    to ``max_batch_texts`` texts (the model splits that call by its own token budget); a request that finds the
    model idle waits at most ``batch_wait`` for company. ``max_queue`` requests may wait for the model; one more is
    answered 503 with ``Retry-After``. ``request_timeout`` bounds a request from its arrival to its answer (504).

    Limits on one request: ``max_body_bytes`` (413), ``max_texts`` texts and ``max_chars`` characters per text
    (422). Connections: at most ``max_connections`` open at once (more are answered 503 and closed); a request's
    head and its body must each arrive within ``read_timeout`` (408, then the connection is closed); a connection
    idle for ``keep_alive`` is closed. On SIGTERM the server stops accepting, finishes every admitted request
    (for at most ``request_timeout + read_timeout``) and exits.

    Memory held by requests is bounded by ``max_connections x max_body_bytes`` while bodies are read and by
    ``max_queue`` parsed requests of at most ``max_texts x max_chars`` characters while they wait; with the defaults
    and ordinary sentences it is a few megabytes.

    Example:
        >>> ServeConfig(port=0, batch_wait=0.002).max_batch_texts
        512
        >>> ServeConfig(max_texts=0)
        Traceback (most recent call last):
        ...
        textrobust.errors.ConfigError: serve: max_texts=0 must be at least 1
    """

    host: str = "127.0.0.1"
    port: int = 8000
    max_batch_texts: int = 512
    batch_wait: float = 0.005
    max_queue: int = 128
    request_timeout: float = 20.0
    max_body_bytes: int = 2 * MIB
    max_texts: int = 1024
    max_chars: int = 100_000
    max_connections: int = 512
    read_timeout: float = 10.0
    keep_alive: float = 15.0
    access_log: bool = True

    def __post_init__(self) -> None:
        at_least_one = ("max_batch_texts", "max_queue", "max_body_bytes", "max_texts", "max_chars", "max_connections")
        for name in at_least_one:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"serve: {name}={value!r} must be at least 1")
        for name in ("request_timeout", "read_timeout", "keep_alive"):
            value = getattr(self, name)
            if not _number(value) or value <= 0:
                raise ConfigError(f"serve: {name}={value!r} must be a positive number of seconds")
        if not _number(self.batch_wait) or self.batch_wait < 0:
            raise ConfigError(f"serve: batch_wait={self.batch_wait!r} must be zero or a positive number of seconds")
        if not isinstance(self.port, int) or isinstance(self.port, bool) or not 0 <= self.port <= 65535:
            raise ConfigError(f"serve: port={self.port!r} must be between 0 (any free port) and 65535")
        if not isinstance(self.host, str) or not self.host:
            raise ConfigError("serve: host must be an address such as 127.0.0.1 or 0.0.0.0")

    @property
    def shutdown_grace(self) -> float:
        """Seconds a graceful shutdown waits for admitted requests: the longest one can still take."""
        return self.request_timeout + self.read_timeout

    def describe(self) -> str:
        """One line of the settings that differ from the defaults (for the start-up log)."""
        default = ServeConfig()
        changed = [
            f"{f.name}={getattr(self, f.name)!r}"
            for f in fields(self)
            if getattr(self, f.name) != getattr(default, f.name) and f.name not in ("host", "port")
        ]
        return ", ".join(changed) or "default limits"


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
