"""The ASGI application: the prediction protocol, health, readiness and metrics as Starlette routes.

:func:`create_app` builds one app around one model: a :class:`~textrobust.serving.batcher.DynamicBatcher` started
and drained by the app's lifespan, a :class:`~textrobust.serving.metrics.Metrics` registry, and a thin ASGI
middleware that gives every request an id (``X-Request-ID``, taken from the client when it sends a sane one),
counts it and writes one access-log line. Other protocols (an OpenAI-compatible API) are more routes on the same
app: they get the shared state from ``request.app.state.serving`` and answer errors with
:func:`~textrobust.serving.protocol.error_body`.

Example:
    >>> app = create_app(my_model, ServeConfig())  # doctest: +SKIP
    >>> # any ASGI server runs it; ModelServer runs it on uvicorn with the connection limits
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .batcher import DynamicBatcher, ModelFailure, QueueFull
from .config import ServeConfig
from .metrics import Metrics
from .protocol import ClientGone, RequestError, error_body, parse_texts, read_body

log = logging.getLogger("textrobust.serving")
access = logging.getLogger("textrobust.serving.access")

PREDICT_ROUTES = ("/", "/predict")
WARM_UP_TEXTS = ["a warm-up text", "another"]
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


@dataclass
class ServingState:
    """What every route shares: the model's labels, the batcher, the limits, the metrics, the drain flag."""

    labels: list[str]
    batcher: DynamicBatcher
    config: ServeConfig
    metrics: Metrics
    draining: bool = False
    routes: list[str] = field(default_factory=list)


def create_app(
    model: Any,
    config: ServeConfig | None = None,
    *,
    metrics: Metrics | None = None,
    extra_routes: Sequence[Any] = (),
    predict_routes: bool = True,
) -> Any:
    """A Starlette app serving ``model`` (anything with ``labels`` and ``predict_proba``; a ready object on its
    device: the server never moves it).

    Routes: ``POST /`` and ``POST /predict`` (the protocol), ``GET /health`` (the process answers),
    ``GET /ready`` (the model is loaded and the server is not draining), ``GET /metrics`` (Prometheus text), and
    ``extra_routes`` (Starlette routes of another protocol; they share ``request.app.state.serving``, the request
    ids, the access log and the metrics). ``predict_routes=False`` leaves out the textrobust protocol (a model
    that is not a classifier, e.g. a causal LM served only through ``extra_routes``).
    """
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.middleware import Middleware
    from starlette.routing import Route

    config = config or ServeConfig()
    metrics = metrics or Metrics()
    batcher = DynamicBatcher(
        model.predict_proba,
        max_batch_texts=config.max_batch_texts,
        batch_wait=config.batch_wait,
        max_queue=config.max_queue,
        metrics=metrics,
        warm_up=WARM_UP_TEXTS,
    )
    state = ServingState([str(x) for x in model.labels], batcher, config, metrics)

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        await batcher.start()
        try:
            yield
        finally:
            await batcher.stop()  # uvicorn has waited for the admitted requests: this drains what is left

    routes = [Route(path, predict, methods=["POST"]) for path in (PREDICT_ROUTES if predict_routes else ())] + [
        Route("/health", health, methods=["GET"]),
        Route("/ready", ready, methods=["GET"]),
        Route("/metrics", metrics_route, methods=["GET"]),
        *extra_routes,
    ]
    state.routes = [r.path for r in routes]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(RequestContext, state=state)],
        exception_handlers={HTTPException: _http_exception, Exception: _server_error},
        lifespan=lifespan,
    )
    app.state.serving = state
    return app


# -- routes -----------------------------------------------------------------------------------------------
async def predict(request: Any) -> Any:
    """The textrobust protocol: ``{"texts": [...]}`` -> ``{"probabilities": [...], "labels": [...]}``."""
    from starlette.responses import Response

    st: ServingState = request.app.state.serving
    cfg, ctx = st.config, request.scope["state"]
    began = time.monotonic()
    try:
        if st.batcher.failure is not None:
            raise RequestError(503, "not_ready", f"the model failed to load ({st.batcher.failure})")
        body = await read_body(request, max_bytes=cfg.max_body_bytes, timeout=cfg.read_timeout)
        texts = parse_texts(body, max_texts=cfg.max_texts, max_chars=cfg.max_chars)
        ctx["texts"] = len(texts)
        probs = await score(st, texts, ctx["request_id"], began) if texts else np.empty((0, len(st.labels)))
    except RequestError as e:
        return _refuse(request, e)
    except ClientGone:  # nobody will read an answer; the log line says what happened
        ctx["error"], ctx["message"] = "client_gone", "the client closed the connection while sending"
        return Response(status_code=400)
    payload = {"probabilities": np.asarray(probs, dtype=float).tolist(), "labels": st.labels}
    return Response(json.dumps(payload).encode(), media_type="application/json")


async def score(st: ServingState, texts: list[str], request_id: str, began: float) -> np.ndarray:
    """The batcher's rows for ``texts``, or a :class:`RequestError`: 503 when the queue is full, 504 when the answer
    takes longer than the request timeout from ``began`` (``time.monotonic()``), 500 when the model raised. Every
    route that scores (the protocol, the OpenAI routes) goes through here."""
    cfg = st.config
    try:
        future = st.batcher.submit(texts, request_id)
    except QueueFull as e:
        raise RequestError(
            503,
            "queue_full",
            f"{e.waiting} requests are already waiting for the model (--max-queue); retry in {e.retry_after} s",
            headers={"Retry-After": str(e.retry_after)},
        ) from None
    try:
        return await asyncio.wait_for(future, max(0.0, cfg.request_timeout - (time.monotonic() - began)))
    except asyncio.TimeoutError:
        message = f"no answer within {cfg.request_timeout:g} s (--request-timeout); the server is busy"
        raise RequestError(504, "timeout", message) from None
    except ModelFailure as e:
        raise RequestError(500, "model_error", str(e)) from None


async def health(request: Any) -> Any:
    """Liveness: the process and its event loop answer."""
    from starlette.responses import JSONResponse

    return JSONResponse({"status": "ok"})


async def ready(request: Any) -> Any:
    """Readiness: 200 once the model has answered its warm-up call, 503 while loading, after a failed load, and
    while shutting down (a load balancer stops sending work)."""
    from starlette.responses import JSONResponse

    st: ServingState = request.app.state.serving
    if st.draining:
        problem = RequestError(503, "not_ready", "the server is shutting down")
    elif st.batcher.failure is not None:
        problem = RequestError(503, "not_ready", f"the model failed to load ({st.batcher.failure})")
    elif not st.batcher.ready:
        problem = RequestError(503, "not_ready", "the model is loading")
    else:
        return JSONResponse({"status": "ready", "labels": st.labels})
    return _refuse(request, problem)


async def metrics_route(request: Any) -> Any:
    """Prometheus text exposition of :class:`~textrobust.serving.metrics.Metrics`."""
    from starlette.responses import Response

    st: ServingState = request.app.state.serving
    return Response(st.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")


# -- errors -----------------------------------------------------------------------------------------------
def refuse(request: Any, error: RequestError) -> Any:
    """The JSON error answer for ``error`` (its status, type, message and the request id; logged once)."""
    return _refuse(request, error)


def _refuse(request: Any, error: RequestError) -> Any:
    from starlette.responses import Response

    ctx = request.scope["state"]
    ctx["error"], ctx["message"] = error.kind, error.message
    body = error_body(error.kind, error.message, ctx.get("request_id", "-"))
    return Response(body, status_code=error.status, media_type="application/json", headers=error.headers)


async def _http_exception(request: Any, exc: Any) -> Any:
    """404 and 405 from the router, as JSON naming the routes there are."""
    routes = f'POST {" or ".join(PREDICT_ROUTES)} with {{"texts": [...]}}, GET /health, /ready, /metrics'
    if exc.status_code == 405:
        error = RequestError(405, "method_not_allowed", f"{request.method} {request.url.path} is not served; {routes}")
        error.headers.update(exc.headers or {})
    elif exc.status_code == 404:
        error = RequestError(404, "not_found", f"no route {request.url.path}; {routes}")
    else:
        error = RequestError(exc.status_code, "http_error", str(exc.detail))
    return _refuse(request, error)


async def _server_error(request: Any, exc: Exception) -> Any:
    """A bug in the server (never a client's mistake): a JSON 500; uvicorn logs the traceback."""
    return _refuse(request, RequestError(500, "internal_error", f"internal server error ({type(exc).__name__})"))


# -- request ids, access log and request metrics ----------------------------------------------------------
class RequestContext:
    """Pure ASGI middleware (no body buffering): a request id on every request and answer, the request counters
    and latency histogram, and one access-log line per request with the id."""

    def __init__(self, app: Any, state: ServingState) -> None:
        self.app, self.state = app, state

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _request_id(scope.get("headers", ()))
        ctx = scope.setdefault("state", {})
        ctx["request_id"] = rid
        began = time.perf_counter()
        status = [500]

        async def send_with_id(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self._record(scope, ctx, status[0], time.perf_counter() - began)

    def _record(self, scope: dict[str, Any], ctx: dict[str, Any], status: int, seconds: float) -> None:
        path = scope.get("path", "")
        route = path if path in self.state.routes else "other"
        m = self.state.metrics
        m.requests.inc(route=route, status=str(status))
        if "error" in ctx:
            m.rejected.inc(reason=ctx["error"])
        if route in PREDICT_ROUTES and status == 200:
            m.latency.observe(seconds)
        client = scope.get("client") or ("-", 0)
        line = "%s %s:%s %s %s %d texts=%s %.1fms"
        args = (ctx["request_id"], client[0], client[1], scope.get("method"), path, status, ctx.get("texts", "-"))
        if status >= 500:
            access.warning(line + " %s", *args, seconds * 1e3, ctx.get("message", ""))
        elif self.state.config.access_log:
            extra = f" {ctx['error']}: {ctx.get('message', '')}" if "error" in ctx else ""
            access.info(line + "%s", *args, seconds * 1e3, extra)


def _request_id(headers: Sequence[tuple[bytes, bytes]]) -> str:
    for key, value in headers:
        if key == b"x-request-id":
            text = value.decode("latin-1")
            if _REQUEST_ID.match(text):
                return text
            break
    return os.urandom(6).hex()
