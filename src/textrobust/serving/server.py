"""Run the app on uvicorn with connection-level protection: a cap on open connections, a deadline for each request
head, idle connections closed, graceful shutdown on SIGTERM.

uvicorn's own HTTP/1.1 protocol times out a connection only between two requests: a client that opens a connection
and never sends a byte, or sends its head one byte a second, would hold it for ever. :func:`_protocol_class`
subclasses that protocol to close such connections (408 for a head that started but did not finish) and to refuse
connections past ``max_connections`` with a 503 before they cost more than a file descriptor.

Example:
    >>> with ModelServer(model, ServeConfig(port=0)).start() as server:  # doctest: +SKIP
    ...     RemoteModel(server.url).predict_proba(["a fine film"])
"""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time
from collections.abc import Sequence
from typing import Any

from ..errors import ConfigError, ModelError
from .app import ServingState, create_app
from .config import ServeConfig
from .metrics import Metrics
from .protocol import error_body

log = logging.getLogger("textrobust.serving")

MAX_LINGER = 5.0  # seconds a closing connection keeps reading (and dropping) what the client still sends


class ModelServer:
    """One model behind HTTP: the socket is bound on construction (so :attr:`url` holds the real port when
    ``port=0``, and a busy port fails at once); :meth:`run` serves in the foreground until SIGTERM/SIGINT,
    :meth:`start` in a background thread until :meth:`shutdown`. ``extra_routes``: more Starlette routes on the
    same app (another protocol; see :func:`~textrobust.serving.app.create_app`).

    Example:
        >>> server = ModelServer(TextClassifier.load("models/sst2"), ServeConfig(port=0)).start()  # doctest: +SKIP
        >>> server.url  # doctest: +SKIP
        'http://127.0.0.1:40123/'
        >>> server.shutdown()  # doctest: +SKIP
    """

    def __init__(self, model: Any, config: ServeConfig | None = None, *, extra_routes: Sequence[Any] = ()) -> None:
        self.config = config or ServeConfig()
        self.metrics = Metrics()
        self.app = create_app(model, self.config, metrics=self.metrics, extra_routes=extra_routes)
        self.state: ServingState = self.app.state.serving
        self._socket = _bind(self.config.host, self.config.port)
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)`` the server listens on."""
        host, port = self._socket.getsockname()[:2]
        return host, port

    @property
    def url(self) -> str:
        """The base URL (``http://host:port/``); the protocol answers there and at ``/predict``."""
        host, port = self.address
        return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"

    @property
    def ready(self) -> bool:
        """Whether the model has answered its warm-up call (``GET /ready`` says the same)."""
        return self.state.batcher.ready

    def run(self) -> None:
        """Serve until SIGTERM or SIGINT (in the main thread), then finish the admitted requests and return."""
        _raise_fd_limit(self.config.max_connections)
        self._server = self._build()
        try:
            self._server.run(sockets=[self._socket])
        finally:
            self._socket.close()

    def start(self, timeout: float = 60.0) -> ModelServer:
        """Serve in a background thread; returns once the server accepts connections (the model may still be
        warming up: see :attr:`ready`)."""
        _raise_fd_limit(self.config.max_connections)
        self._server = self._build()
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="textrobust-serve", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.shutdown()
                raise ModelError(f"the model server on {self.url} did not start (see the log above)")
            time.sleep(0.01)
        return self

    def wait_ready(self, timeout: float = 60.0) -> ModelServer:
        """Block until the model has warmed up; a warm-up failure or ``timeout`` raises :class:`ModelError`."""
        deadline = time.monotonic() + timeout
        while not self.ready:
            if self.state.batcher.failure is not None:
                raise ModelError(f"{self.url}: the model failed to load ({self.state.batcher.failure})")
            if time.monotonic() > deadline:
                raise ModelError(f"{self.url}: the model did not warm up within {timeout:g} s")
            time.sleep(0.01)
        return self

    def shutdown(self, timeout: float | None = None) -> None:
        """Stop accepting, finish admitted and queued requests, stop (what SIGTERM does to :meth:`run`)."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(self.config.shutdown_grace + 5 if timeout is None else timeout)
            self._thread = None
        self._socket.close()

    def __enter__(self) -> ModelServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    def _build(self) -> Any:
        import uvicorn

        state, metrics = self.state, self.metrics

        class Server(uvicorn.Server):
            async def shutdown(self, sockets: Any = None) -> None:
                state.draining = True  # /ready says 503 from now on
                metrics.ready.set(0)
                log.info("shutting down: finishing %d queued request(s)", state.batcher.waiting)
                await super().shutdown(sockets)

        config = uvicorn.Config(
            self.app,
            http=_protocol_class(self.config, metrics),
            loop="asyncio",
            lifespan="on",
            log_config=None,  # keep the host application's logging as it is
            access_log=False,  # RequestContext writes access lines with request ids
            server_header=False,
            timeout_keep_alive=self.config.keep_alive,  # type: ignore[arg-type]  # uvicorn accepts seconds as float
            timeout_graceful_shutdown=math.ceil(self.config.shutdown_grace),
        )
        server = Server(config)
        metrics.connections.read = lambda: len(server.server_state.connections)
        return server


def serve(model: Any, config: ServeConfig | None = None, *, background: bool = False) -> ModelServer:
    """Serve ``model`` (``labels`` + ``predict_proba``) with the textrobust protocol: in the foreground until
    SIGTERM/SIGINT, or in a background thread (``background=True``; call :meth:`ModelServer.shutdown`).

    Example:
        >>> server = serve(TextClassifier.load("models/sst2"), ServeConfig(port=0), background=True)  # doctest: +SKIP
        >>> RemoteModel(server.url + "predict").predict_proba(["a fine film"])  # doctest: +SKIP
    """
    server = ModelServer(model, config)
    if background:
        return server.start()
    server.run()
    return server


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (``SO_REUSEADDR``, so a restart does not wait for TIME_WAIT)."""
    try:
        family, kind, proto, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as e:
        raise ConfigError(f"serve: cannot listen on {host}:{port} ({e.strerror or e}); check --host") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
        sock.listen(2048)
    except OSError as e:
        sock.close()
        raise ConfigError(f"serve: cannot listen on {host}:{port} ({e.strerror or e}); choose another --port") from None
    sock.set_inheritable(True)
    return sock


def _raise_fd_limit(connections: int) -> None:
    """Make room for ``connections`` sockets (plus the model's files): raise the soft open-file limit toward the
    hard one when it is lower; warn when even that is not enough."""
    try:
        import resource
    except ImportError:  # not on Windows
        return
    need = connections + 256
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < need:
        target = need if hard == resource.RLIM_INFINITY else min(need, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        if target < need:
            log.warning("the open-file limit (%d) is below --max-connections + 256; lower --max-connections", target)


def _raw_answer(status: int, reason: str, kind: str, message: str, headers: dict[str, str] | None = None) -> bytes:
    """A complete HTTP/1.1 answer that closes the connection, for refusals made before any request is parsed."""
    rid = os.urandom(6).hex()
    body = error_body(kind, message, rid)
    lines = [
        f"HTTP/1.1 {status} {reason}",
        "content-type: application/json",
        f"content-length: {len(body)}",
        "connection: close",
        f"x-request-id: {rid}",
        *[f"{k.lower()}: {v}" for k, v in (headers or {}).items()],
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class _LingeringClose:
    """The connection's transport, with a lingering close where the protocol asks for one: send FIN after the
    answer, read and drop whatever the client still sends for up to ``seconds``, then close (nginx's
    ``lingering_close``). A plain close with unread bytes makes the kernel send RST, and a client still writing its
    oversized body would see "connection reset" instead of the 413. Everything else passes through."""

    def __init__(self, transport: Any, protocol: Any, seconds: float) -> None:
        self._transport, self._protocol, self._seconds = transport, protocol, seconds
        self._lingering = False

    def is_closing(self) -> bool:
        return self._lingering or self._transport.is_closing()

    def close(self) -> None:
        if self.is_closing():
            return
        if not (self._protocol.must_linger() and self._transport.can_write_eof()):
            self._transport.close()
            return
        self._lingering = True
        self._transport.write_eof()  # the answer is complete: FIN after it
        self._transport.resume_reading()  # keep draining the socket, even where flow control paused it
        self._protocol.loop.call_later(self._seconds, self._transport.close)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def _protocol_class(config: ServeConfig, metrics: Metrics) -> type:
    """uvicorn's h11 protocol with a connection cap, an idle deadline for new connections and a head deadline."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    linger = min(config.read_timeout, MAX_LINGER)

    class Protocol(H11Protocol):
        _idle_timer: Any = None
        _head_timer: Any = None
        _answered_early = False  # a refusal written before the request was read (the client may still send)

        def connection_made(self, transport: Any) -> None:
            # _LingeringClose stands in for the asyncio.Transport it wraps (a proxy, not a subclass).
            super().connection_made(_LingeringClose(transport, self, linger))  # type: ignore[arg-type]
            if len(self.connections) > config.max_connections:
                metrics.connections_total.inc(outcome="refused")
                message = f"{config.max_connections} connections are open (--max-connections); retry later"
                self._answer_and_close(
                    _raw_answer(503, "Service Unavailable", "too_many_connections", message, {"Retry-After": "1"})
                )
                return
            metrics.connections_total.inc(outcome="accepted")
            self._idle_timer = self.loop.call_later(config.keep_alive, self._idle_timeout)

        def must_linger(self) -> bool:
            """After an answer, unread bytes may still be on their way: closing at once would reset the
            connection and the client could lose the answer (413 and 408 in mid-body, the refusals above)."""
            return self._answered_early or self.conn.their_state is h11.SEND_BODY

        def _answer_and_close(self, answer: bytes) -> None:
            self._answered_early = True
            self.transport.write(answer)
            self.transport.close()

        def data_received(self, data: bytes) -> None:
            if self.transport.is_closing():  # lingering: what the client still sends is read and dropped
                return
            if self._idle_timer is not None:
                self._idle_timer.cancel()
                self._idle_timer = None
            super().data_received(data)
            self._watch_head()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if self.conn.their_state is h11.IDLE and self.conn.trailing_data[0]:  # part of a pipelined head
                self._watch_head()

        def _watch_head(self) -> None:
            """A request head has started: it must be complete within ``read_timeout``."""
            waiting = self.conn.their_state is h11.IDLE and not self.transport.is_closing()
            if waiting and self._head_timer is None:
                self._head_timer = self.loop.call_later(config.read_timeout, self._head_timeout)
            elif not waiting and self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def send_400_response(self, msg: str) -> None:
            """Bytes that are not HTTP/1.1 (or a head over h11's size limit): the JSON error, then close."""
            metrics.closed.inc(reason="invalid_http")
            message = "the request is not valid HTTP/1.1 (or its head is over 16 KiB); send a JSON POST"
            self._answer_and_close(_raw_answer(400, "Bad Request", "invalid_http", message))

        def _idle_timeout(self) -> None:
            self._idle_timer = None
            if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
                metrics.closed.inc(reason="idle")
                self.transport.close()

        def _head_timeout(self) -> None:
            self._head_timer = None
            if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
                return
            metrics.closed.inc(reason="slow_head")
            client = f"{self.client[0]}:{self.client[1]}" if self.client else "a client"
            log.info("closed the connection of %s: no complete request head within %g s", client, config.read_timeout)
            message = f"the request head did not arrive within {config.read_timeout:g} s (--read-timeout)"
            self._answer_and_close(_raw_answer(408, "Request Timeout", "read_timeout", message))

        def connection_lost(self, exc: Exception | None) -> None:
            for timer in (self._idle_timer, self._head_timer):
                if timer is not None:
                    timer.cancel()
            self._idle_timer = self._head_timer = None
            super().connection_lost(exc)

    return Protocol
