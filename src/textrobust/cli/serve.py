"""``serve``: a model behind HTTP with the protocol ``scan`` and ``attack`` speak (``docs/serve.md``).

The options map one to one onto :class:`~textrobust.serving.ServeConfig`; the server is the library's.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import typer

from ..serving.config import ServeConfig
from . import app
from .commands import DEVICE, MAX_TOKENS, PRECISION, THREADS, make_runtime

_D = ServeConfig()  # the defaults live in one place: the config


@app.command()
def serve(
    model: str | None = typer.Argument(
        None, help="A 'textrobust train' directory or a Hugging Face classifier (or give --openai)."
    ),
    openai: str | None = typer.Option(
        None,
        "--openai",
        help="Serve this model behind OpenAI-compatible chat completions at /v1: a causal LM (smollm2, a "
        "directory, a .gguf file; greedy replies with logprobs) or a classifier (answers a label name).",
    ),
    served_name: str | None = typer.Option(
        None, "--served-name", help="The model name clients ask /v1 for (default: the --openai value's name)."
    ),
    max_top_logprobs: int = typer.Option(
        20, "--max-top-logprobs", help="With --openai: the most top_logprobs a request may ask for (OpenAI: 20)."
    ),
    logprobs: bool = typer.Option(
        True,
        "--logprobs/--no-logprobs",
        help="With --openai: give logprobs when asked (--no-logprobs: label-only API).",
    ),
    host: str = typer.Option(_D.host, help="Address to listen on (127.0.0.1: this machine only; 0.0.0.0: all)."),
    port: int = typer.Option(_D.port, help="Port (0: any free port; the URL is printed)."),
    labels: str | None = typer.Option(None, "--labels", help="Output order, where the model does not say."),
    device: str = DEVICE,
    precision: str = PRECISION,
    max_tokens: int | None = MAX_TOKENS,
    threads: int | None = THREADS,
    max_batch: int = typer.Option(
        _D.max_batch_texts,
        "--max-batch",
        help="Most texts per model call, gathered from requests that arrive while the model is busy (the model "
        "splits a call into forward passes by its token budget). Raise it on a GPU.",
    ),
    batch_wait_ms: float = typer.Option(
        _D.batch_wait * 1000,
        "--batch-wait-ms",
        help="How long a request that finds the model idle waits for others to batch with (0: never waits).",
    ),
    max_queue: int = typer.Option(
        _D.max_queue, "--max-queue", help="Requests that may wait for the model; one more gets 503 + Retry-After."
    ),
    request_timeout: float = typer.Option(
        _D.request_timeout, "--request-timeout", help="Seconds from a request's arrival to its answer, else 504."
    ),
    max_body: int = typer.Option(_D.max_body_bytes, "--max-body", help="Largest request body in bytes, else 413."),
    max_texts: int = typer.Option(_D.max_texts, "--max-texts", help="Most texts in one request, else 422."),
    max_chars: int = typer.Option(_D.max_chars, "--max-chars", help="Most characters in one text, else 422."),
    max_connections: int = typer.Option(
        _D.max_connections, "--max-connections", help="Open connections at once; more are answered 503 and closed."
    ),
    read_timeout: float = typer.Option(
        _D.read_timeout,
        "--read-timeout",
        help="Seconds for a request's head, and again for its body, to arrive, else 408 and the connection closes "
        "(slow or stalled clients).",
    ),
    keep_alive: float = typer.Option(
        _D.keep_alive, "--keep-alive", help="Seconds an idle connection stays open between requests."
    ),
    access_log: bool = typer.Option(
        _D.access_log, "--access-log/--no-access-log", help="One log line per request, with its request id."
    ),
) -> None:
    """Serve a model over HTTP: POST {"texts": [...]} to / or /predict -> {"probabilities": [[...]], "labels": [...]};
    with --openai, POST /v1/chat/completions (OpenAI-compatible) too.

    Concurrent requests are batched into shared model calls. GET /health (alive), /ready (model loaded),
    /metrics (Prometheus). SIGTERM or Ctrl-C stops accepting, finishes the queued requests, then exits.
    """
    from ..errors import ConfigError
    from ..models import load_model
    from ..serving.server import ModelServer

    if (model is None) == (openai is None):
        raise ConfigError("serve: give a classifier to serve (MODEL) or a model for the chat API (--openai MODEL)")

    config = ServeConfig(  # checked before the model loads: a bad limit fails in a second, not after the load
        host=host,
        port=port,
        max_batch_texts=max_batch,
        batch_wait=batch_wait_ms / 1000,
        max_queue=max_queue,
        request_timeout=request_timeout,
        max_body_bytes=max_body,
        max_texts=max_texts,
        max_chars=max_chars,
        max_connections=max_connections,
        read_timeout=read_timeout,
        keep_alive=keep_alive,
        access_log=access_log,
    )
    runtime = make_runtime(device, precision, max_tokens, threads)
    names = [x.strip() for x in labels.split(",")] if labels else None
    if openai is not None:
        server, what = _openai_server(openai, served_name, logprobs, names, runtime, config, max_top_logprobs)
    else:
        clf = load_model(str(model), labels=names, runtime=runtime)
        clf.predict_proba(["warm-up"])  # load the weights now, and fail now with one line, not at the first request
        server, what = ModelServer(clf, config), f"{model} (labels {clf.labels})"
    _log_to_stderr()
    typer.echo(f"serving {what} on {server.url} ({config.describe()}) - Ctrl-C or SIGTERM stops", err=True)
    sys.stderr.flush()
    server.run()


def _openai_server(
    source: str,
    name: str | None,
    logprobs: bool,
    labels: list[str] | None,
    runtime: Any,
    config: ServeConfig,
    top_k: int = 20,
) -> tuple[Any, str]:
    """The server of ``--openai``: a causal LM's engine (chat API only) or a classifier's (both protocols)."""
    from pathlib import Path

    from ..models.loading import model_kind
    from ..serving.openai import CausalLMEngine, ClassifierEngine, openai_routes
    from ..serving.server import ModelServer

    name = name or Path(source.rstrip("/")).name or source
    kind = model_kind(source)
    if kind == "prompted":
        engine: Any = CausalLMEngine.load(source, runtime, top_k=top_k)
        routes = openai_routes(engine, name, logprobs=logprobs)
        engine.predict_proba(["warm-up"])  # load now; a broken checkpoint fails here in one line
        server = ModelServer(engine, config, extra_routes=routes, predict_routes=False)
        what = f"causal LM {source}"
    else:
        from ..models import load_model

        engine = ClassifierEngine(load_model(source, labels=labels, runtime=runtime))
        engine.predict_proba(["warm-up"])
        server = ModelServer(engine, config, extra_routes=openai_routes(engine, name, logprobs=logprobs))
        what = f"classifier {source} (labels {engine.labels})"
    base = server.url.rstrip("/")
    logs = "with logprobs" if logprobs else "labels only, no logprobs"
    return server, f"{what} as {name!r} at {base}/v1 ({logs}; scan it as openai+{base}/v1?model={name})"


def _log_to_stderr() -> None:
    """The server's own log (access lines with request ids, refusals, shutdown) at INFO with timestamps, whatever
    the root level (``--verbose`` only adds the library's other INFO lines)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for name in ("textrobust.serving", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.INFO)
        logger.addHandler(handler)
        logger.propagate = False
