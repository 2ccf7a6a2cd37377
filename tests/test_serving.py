"""The model server in-process (``textrobust.serving``): dynamic batching, queue and timeout limits, failure
isolation, health/readiness/metrics, request ids, connection deadlines and graceful shutdown.

A gated model (its calls block until the test opens the gate) makes every batching and queueing case
deterministic: the tests wait for a state (so many requests queued), never for a duration, and assert status
codes, bodies, the model's calls and equality of probabilities.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import requests
from test_evaluation_contract import WordModel

from textrobust.errors import ConfigError
from textrobust.models import RemoteModel
from textrobust.serving import ModelServer, ServeConfig
from textrobust.serving.app import WARM_UP_TEXTS


class GatedModel:
    """The keyword model, but every call after the warm-up waits for ``gate``; calls are recorded, and a text
    "boom" makes the call raise (a model fault)."""

    labels = ["neg", "pos"]

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.gate.set()
        self.calls: list[list[str]] = []

    def predict_proba(self, texts):
        self.calls.append(list(texts))
        if list(texts) != WARM_UP_TEXTS:
            self.gate.wait(30)
        if "boom" in texts:
            raise RuntimeError("boom: the model cannot read this")
        return WordModel().predict_proba(texts)


def until(condition, what: str, bound: float = 20.0) -> None:
    """Wait for a state of the server (not for a duration); fail with ``what`` if it never comes."""
    deadline = time.monotonic() + bound
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.005)


@pytest.fixture
def gated():
    """A started server around a fresh GatedModel; ``make(**config)`` builds it with test limits."""
    made = []

    def make(**overrides):
        model = GatedModel()
        server = ModelServer(model, ServeConfig(port=0, batch_wait=0.0, **overrides)).start().wait_ready()
        made.append((server, model))
        return server, model

    yield make
    for server, model in made:
        model.gate.set()  # a failed test may have left it closed
        server.shutdown(timeout=30)


@pytest.fixture
def pool():
    with ThreadPoolExecutor(max_workers=16) as ex:
        yield ex


def post(url, texts, **kw):
    return requests.post(url + "predict", json={"texts": texts}, timeout=30, **kw)


def expected(texts):
    return WordModel().predict_proba(texts)


def test_concurrent_requests_are_scored_together_and_each_gets_its_own_rows(gated, pool):
    server, model = gated(max_batch_texts=5)
    model.gate.clear()
    first = pool.submit(post, server.url, ["good film"])
    until(lambda: len(model.calls) == 2, "the first request reaches the model")
    batches = [["great cast", "dull plot"], ["bad ending", "fine music"], ["lovely story", "weak script"]]
    later = []
    for i, texts in enumerate(batches):  # one at a time, so their queue order is known
        later.append(pool.submit(post, server.url, texts))
        until(lambda i=i: server.state.batcher.waiting == i + 1, f"{i + 1} requests queued")
    model.gate.set()
    assert first.result().json()["probabilities"] == expected(["good film"]).tolist()
    for texts, fut in zip(batches, later, strict=True):
        resp = fut.result()
        assert resp.status_code == 200
        np.testing.assert_allclose(resp.json()["probabilities"], expected(texts), atol=1e-12)
    # warm-up, the first request alone, then the two queued requests that fit 5 texts together, then the third
    assert [len(c) for c in model.calls] == [len(WARM_UP_TEXTS), 1, 4, 2]
    assert model.calls[2] == batches[0] + batches[1]
    assert server.metrics.batch_requests.counts[1] == 1  # one model call held two requests (bucket le=2)


def test_remote_model_gets_in_process_probabilities(gated):
    server, _ = gated()
    texts = [f"the {w} film, really {v}" for w in ("good", "bad", "dull", "superb") for v in ("not", "so", "")]
    remote = RemoteModel(server.url, batch_size=5)
    assert remote.labels == ["neg", "pos"]
    np.testing.assert_allclose(remote.predict_proba(texts), expected(texts), atol=1e-12)


def test_a_full_queue_answers_503_with_retry_after(gated, pool):
    server, model = gated(max_queue=2)
    model.gate.clear()
    busy = pool.submit(post, server.url, ["good"])
    until(lambda: len(model.calls) == 2, "a request in the model")
    waiting = [pool.submit(post, server.url, [t]) for t in ("bad", "fine")]
    until(lambda: server.state.batcher.waiting == 2, "two requests queued")
    refused = post(server.url, ["dull"], headers={"X-Request-ID": "client-7"})
    assert refused.status_code == 503 and int(refused.headers["Retry-After"]) >= 1
    error = refused.json()["error"]
    assert error["type"] == "queue_full" and error["request_id"] == "client-7" and "--max-queue" in error["message"]
    assert refused.headers["x-request-id"] == "client-7"
    model.gate.set()
    assert [f.result().status_code for f in [busy, *waiting]] == [200, 200, 200]
    assert post(server.url, ["dull"]).status_code == 200


def test_a_request_past_its_timeout_gets_504_and_is_withdrawn_from_the_queue(gated, pool):
    server, model = gated(request_timeout=0.3)
    model.gate.clear()
    stuck = pool.submit(post, server.url, ["good"])
    until(lambda: len(model.calls) == 2, "a request in the model")
    late = post(server.url, ["withdrawn text"])
    assert late.status_code == 504 and late.json()["error"]["type"] == "timeout"
    assert stuck.result().status_code == 504  # the model is still on it: the answer is dropped
    model.gate.set()
    ok = post(server.url, ["great"])
    assert ok.status_code == 200 and ok.json()["probabilities"] == expected(["great"]).tolist()
    assert not any("withdrawn text" in call for call in model.calls)  # never scored: nobody wanted it


def test_a_model_fault_fails_only_its_own_request(gated, pool, caplog):
    server, model = gated()
    model.gate.clear()
    first = pool.submit(post, server.url, ["good"])
    until(lambda: len(model.calls) == 2, "a request in the model")
    bad = pool.submit(post, server.url, ["boom"])
    until(lambda: server.state.batcher.waiting == 1, "the faulty request queued")
    good = pool.submit(post, server.url, ["bad", "fine"])
    until(lambda: server.state.batcher.waiting == 2, "both queued")
    with caplog.at_level(logging.ERROR, logger="textrobust.serving"):
        model.gate.set()
        assert first.result().status_code == 200
        assert good.result().status_code == 200
        assert good.result().json()["probabilities"] == expected(["bad", "fine"]).tolist()
        failed = bad.result()
    assert failed.status_code == 500 and failed.json()["error"]["type"] == "model_error"
    assert "boom: the model cannot read this" in failed.json()["error"]["message"]
    assert any(r.exc_info for r in caplog.records)  # a server-side fault keeps its traceback in the log


BAD_BODIES = [
    (b"{not json", 400, "invalid_json"),
    (b"\xff\xfe\x00{", 400, "not_utf8"),
    (b"[" * 100_000, 400, "invalid_json"),
    (b'{"texts": "one string"}', 422, "invalid_request"),
    (b'{"texts": [1, 2]}', 422, "invalid_request"),
    (b'{"texts": [null]}', 422, "invalid_request"),
    (b'{"text": ["a"]}', 422, "invalid_request"),
    (b'["a", "b"]', 422, "invalid_request"),
    (b'{"texts": ["\\ud800"]}', 422, "invalid_request"),
    (json.dumps({"texts": ["x" * 51]}).encode(), 422, "text_too_long"),
    (json.dumps({"texts": ["x"] * 9}).encode(), 422, "too_many_texts"),
    (json.dumps({"texts": ["x" * 50] * 5000}).encode(), 413, "body_too_large"),
]


def test_bad_requests_get_one_line_json_errors_and_no_traceback(gated, caplog):
    server, model = gated(max_texts=8, max_chars=50, max_body_bytes=200_000)
    with caplog.at_level(logging.DEBUG):
        for body, status, kind in BAD_BODIES:
            resp = requests.post(server.url + "predict", data=body, timeout=10)
            assert resp.status_code == status, (body[:40], resp.text)
            error = resp.json()["error"]
            assert error["type"] == kind and "\n" not in error["message"] and error["request_id"]
        for method, path, status in [("GET", "predict", 405), ("POST", "nope", 404), ("DELETE", "", 405)]:
            resp = requests.request(method, server.url + path, timeout=10)
            assert resp.status_code == status and resp.json()["error"]["message"].count("/health") == 1
        assert post(server.url, ["good"]).json()["probabilities"] == expected(["good"]).tolist()
    assert not [r for r in caplog.records if r.exc_info], "a client's mistake logged a traceback"
    assert len(model.calls) == 2  # warm-up and the one good request: nothing bad reached the model


def test_empty_requests_and_request_ids(gated):
    server, _ = gated()
    resp = post(server.url, [], headers={"X-Request-ID": "not a valid id"})
    assert resp.json() == {"probabilities": [], "labels": ["neg", "pos"]}
    assert len(resp.headers["x-request-id"]) == 12 and resp.headers["x-request-id"] != "not a valid id"
    assert post(server.url, ["a"], headers={"X-Request-ID": "abc.123"}).headers["x-request-id"] == "abc.123"


def test_health_ready_and_metrics(gated):
    server, _ = gated()
    assert requests.get(server.url + "health", timeout=5).json() == {"status": "ok"}
    assert requests.get(server.url + "ready", timeout=5).json() == {"status": "ready", "labels": ["neg", "pos"]}
    for _ in range(3):
        post(server.url, ["good", "bad"])
    post(server.url, ["x"] * 2000)
    text = requests.get(server.url + "metrics", timeout=5).text
    assert 'textrobust_requests_total{route="/predict",status="200"} 3' in text
    assert 'textrobust_requests_total{route="/predict",status="422"} 1' in text
    assert 'textrobust_rejected_total{reason="too_many_texts"} 1' in text
    assert "textrobust_texts_total 6" in text  # 3 x 2 (the warm-up is not a request)
    assert 'textrobust_request_duration_seconds_bucket{le="+Inf"} 3' in text
    assert (
        'textrobust_batch_texts_bucket{le="1"} 0' in text
        and 'textrobust_batch_texts_bucket{le="2"} 3' in text
        and "textrobust_queue_requests 0" in text
    )
    assert "textrobust_ready 1" in text and "# TYPE textrobust_request_duration_seconds histogram" in text


def test_readiness_waits_for_the_model_and_reports_a_failed_load():
    class Broken:
        labels = ["neg", "pos"]

        def predict_proba(self, texts):
            raise OSError("weights file is truncated")

    server = ModelServer(Broken(), ServeConfig(port=0)).start()
    try:
        until(lambda: server.state.batcher.failure is not None, "the warm-up fails")
        ready = requests.get(server.url + "ready", timeout=5)
        assert ready.status_code == 503 and "weights file is truncated" in ready.json()["error"]["message"]
        resp = post(server.url, ["good"])
        assert resp.status_code == 503 and resp.json()["error"]["type"] == "not_ready"
        assert requests.get(server.url + "health", timeout=5).status_code == 200
    finally:
        server.shutdown()


def _connect(server) -> socket.socket:
    return socket.create_connection(server.address, timeout=10)


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_slow_heads_slow_bodies_and_idle_connections_are_closed(gated):
    server, _ = gated(read_timeout=0.3, keep_alive=0.3)
    idle = _connect(server)
    assert _read_all(idle) == b""  # closed, silently: it never asked anything
    slow_head = _connect(server)
    slow_head.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\n")  # ...and the rest of the head never comes
    answer = _read_all(slow_head)
    assert answer.startswith(b"HTTP/1.1 408 ") and b'"type": "read_timeout"' in answer
    short_body = _connect(server)
    short_body.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + b'{"texts": [')
    answer = _read_all(short_body)
    assert answer.startswith(b"HTTP/1.1 408 ") and b"Content-Length larger than the body" in answer
    text = requests.get(server.url + "metrics", timeout=5).text
    assert 'reason="idle"} 1' in text and 'reason="slow_head"} 1' in text
    assert post(server.url, ["good"]).status_code == 200


def test_connections_over_the_cap_are_refused_with_503(gated):
    server, _ = gated(max_connections=3, keep_alive=30)
    held = [_connect(server) for _ in range(3)]
    until(lambda: server.metrics.connections.value() == 3, "three connections open")
    extra = _connect(server)
    answer = _read_all(extra)
    assert answer.startswith(b"HTTP/1.1 503 ") and b"too_many_connections" in answer and b"retry-after: 1" in answer
    for s in held:
        s.close()
    until(lambda: server.metrics.connections.value() == 0, "the held connections closed")
    assert post(server.url, ["good"]).status_code == 200


def test_garbage_bytes_get_a_json_400(gated):
    server, _ = gated()
    sock = _connect(server)
    sock.sendall(b"\x16\x03\x01 this is not HTTP\r\n\r\n")
    answer = _read_all(sock)
    assert answer.startswith(b"HTTP/1.1 400 ") and b'"type": "invalid_http"' in answer


def test_shutdown_finishes_the_queued_requests_and_refuses_new_connections(pool):
    model = GatedModel()
    server = ModelServer(model, ServeConfig(port=0, batch_wait=0.0)).start().wait_ready()
    model.gate.clear()
    futures = [pool.submit(post, server.url, ["film 0 good"])]
    until(lambda: len(model.calls) == 2, "the first request in the model")
    futures += [pool.submit(post, server.url, [f"film {i} good"]) for i in range(1, 4)]
    until(lambda: server.state.batcher.waiting == 3, "three requests queued")
    stopping = threading.Thread(target=server.shutdown)
    stopping.start()
    until(lambda: server.state.draining, "the shutdown begins")

    def refused() -> bool:
        try:
            socket.create_connection(server.address, timeout=1).close()
        except OSError:
            return True
        return False

    until(refused, "the listening socket closes")
    model.gate.set()
    for i, fut in enumerate(futures):
        resp = fut.result()
        assert resp.status_code == 200 and resp.json()["probabilities"] == expected([f"film {i} good"]).tolist()
    stopping.join(30)
    assert not stopping.is_alive()


def test_more_routes_share_the_state_ids_and_metrics():
    """How another protocol (an OpenAI-compatible API) joins the same app: a route that uses the shared batcher."""
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def first_label(request):
        st = request.app.state.serving
        rows = await st.batcher.submit([request.query_params["text"]], request.scope["state"]["request_id"])
        return JSONResponse({"label": st.labels[int(rows[0].argmax())]})

    server = ModelServer(WordModel(), ServeConfig(port=0), extra_routes=[Route("/label", first_label)]).start()
    try:
        server.wait_ready()
        resp = requests.get(server.url + "label", params={"text": "a superb film"}, timeout=10)
        assert resp.json() == {"label": "pos"} and len(resp.headers["x-request-id"]) == 12
        metrics = requests.get(server.url + "metrics", timeout=10).text  # through the loop: the count is in
        assert 'textrobust_requests_total{route="/label",status="200"} 1' in metrics
    finally:
        server.shutdown()


def test_config_checks_its_limits():
    for bad in [{"max_queue": 0}, {"batch_wait": -1}, {"read_timeout": 0}, {"port": 70000}, {"max_texts": True}]:
        with pytest.raises(ConfigError, match="serve: "):
            ServeConfig(**bad)
    assert "max_queue=4" in ServeConfig(max_queue=4).describe()
    with ModelServer(WordModel(), ServeConfig(port=0)) as first, pytest.raises(ConfigError, match="choose another"):
        ModelServer(WordModel(), ServeConfig(port=first.address[1]))


@pytest.mark.parametrize("module", ["config", "metrics", "batcher", "protocol"])
def test_docstring_examples_run(module):
    import doctest
    import importlib

    results = doctest.testmod(importlib.import_module(f"textrobust.serving.{module}"))
    assert results.failed == 0 and results.attempted > 0
