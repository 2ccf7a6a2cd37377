"""Abuse of a real ``textrobust serve`` process (127.0.0.1, a tiny trained transformer, short test timeouts).

Each case sends one kind of bad traffic — an oversize body (declared and streamed), a Content-Length larger than the
body, a client sending one byte a second (head, then body), 500 idle connections, bytes that are not HTTP, invalid
JSON, wrong types, non-UTF-8, a 1 MB text, 100k texts — and asserts the documented answer (status code and JSON
error type, or the connection closed); after each, a good request must still get probabilities equal to the
in-process model's. At the end the server's thread and file-descriptor counts are back to where they were, its
peak memory stayed under a stated bound, and its log holds no traceback. A last test sends SIGTERM with requests
queued: every one is answered, then the process exits.
"""

from __future__ import annotations

import json
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import requests
from conftest import CPU

pytestmark = pytest.mark.skipif(
    not Path("/proc/net/tcp").is_file(), reason="counts threads, fds and connections through Linux's /proc"
)

GOOD = ["the film was great .", "a dull plot , really", "i thought the cast is superb and more"]
READ_TIMEOUT = 2.0  # --read-timeout and --keep-alive of the server under test
IDLE_CONNECTIONS = 500
# The server's peak resident memory may grow by at most this much over its memory once warmed up, whatever the
# abuse. What it must hold at worst here: a 1 MB text (its body, its str, the parse) and 100k one-letter texts
# (~700 KB of JSON, ~6 MB of str objects), plus 500 connections' buffers; 64 MiB is several times that.
MEMORY_BOUND_MB = 64


class ServerProcess:
    """``python -m textrobust serve`` as a subprocess; its stderr is collected by a thread."""

    def __init__(self, *args: str) -> None:
        cmd = [sys.executable, "-m", "textrobust", "serve", *args, "--port", "0", "--device", "cpu"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.url = self._wait_for_url()
        host, port = re.match(r"http://([\d.]+):(\d+)/", self.url).groups()
        self.address = (host, int(port))

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line)

    def _wait_for_url(self) -> str:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            for line in self.lines:
                if m := re.search(r" on (http://127\.0\.0\.1:\d+/) ", line):
                    return m.group(1)
            if self.proc.poll() is not None:
                raise AssertionError("the server exited: " + "".join(self.lines)[-2000:])
            time.sleep(0.05)
        raise AssertionError("the server printed no URL: " + "".join(self.lines)[-2000:])

    @property
    def log(self) -> str:
        return "".join(self.lines)

    def status(self, field: str) -> int:
        text = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(re.search(rf"^{field}:\s+(\d+)", text, re.M).group(1))

    def fds(self) -> int:
        return len(list(Path(f"/proc/{self.proc.pid}/fd").iterdir()))

    def client_sockets(self) -> int:
        """The server's file descriptors that are client connections: sockets on its port, not listening
        (from /proc/net/tcp), so the counts do not depend on when the kernel reports a closed request."""
        port = f"{self.address[1]:04X}"
        ours = set()
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[1].endswith(":" + port) and fields[3] != "0A":  # 0A: LISTEN
                ours.add(fields[9])
        links = []
        for fd in Path(f"/proc/{self.proc.pid}/fd").iterdir():
            try:
                links.append(str(fd.readlink()))
            except OSError:  # closed meanwhile
                pass
        return sum(link.startswith("socket:[") and link[8:-1] in ours for link in links)

    def other_fds(self) -> int:
        """Every other file descriptor: must not grow whatever the clients do."""
        return self.fds() - self.client_sockets()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._reader.join(10)


@pytest.fixture(scope="module")
def server(trained_dir):
    timeouts = ["--read-timeout", str(READ_TIMEOUT), "--keep-alive", str(READ_TIMEOUT)]
    srv = ServerProcess(str(trained_dir), *timeouts, "--max-connections", "600", "--no-access-log")
    until(lambda: _ready(srv), "the server is ready")
    good_request_is_answered(srv)  # the first request settles lazily allocated buffers before the baseline
    until(lambda: srv.client_sockets() == 0, "the first request's connection is closed")
    srv.baseline = {"threads": srv.status("Threads"), "fds": srv.other_fds(), "rss_kb": srv.status("VmRSS")}
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def reference(trained_dir):
    from textrobust.models import TextClassifier

    return TextClassifier.load(trained_dir, runtime=CPU).predict_proba(GOOD)


def until(condition, what: str, bound: float = 60.0) -> None:
    deadline = time.monotonic() + bound
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.02)


def _ready(srv: ServerProcess) -> bool:
    try:
        return requests.get(srv.url + "ready", timeout=5).status_code == 200
    except requests.ConnectionError:
        return False


def good_request_is_answered(srv: ServerProcess, reference=None) -> None:
    resp = requests.post(srv.url + "predict", json={"texts": GOOD}, timeout=30)
    assert resp.status_code == 200, resp.text
    if reference is not None:
        np.testing.assert_allclose(resp.json()["probabilities"], reference, atol=1e-5)


def connect(srv: ServerProcess) -> socket.socket:
    return socket.create_connection(srv.address, timeout=30)


def answer_of(sock: socket.socket) -> tuple[int, dict | None, bytes]:
    """Read until the server closes: (status, JSON body or None, raw bytes)."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    sock.close()
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split()[1]) if head.startswith(b"HTTP/1.1 ") else 0
    try:
        return status, json.loads(body), data
    except ValueError:
        return status, None, data


def head(length: int) -> bytes:
    """A request head announcing ``length`` bytes of JSON body."""
    lines = ["POST /predict HTTP/1.1", "Host: x", "Content-Type: application/json", f"Content-Length: {length}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def post_raw(srv: ServerProcess, body: bytes) -> tuple[int, dict | None]:
    resp = requests.post(srv.url + "predict", data=body, headers={"Content-Type": "application/json"}, timeout=60)
    try:
        return resp.status_code, resp.json()
    except ValueError:
        return resp.status_code, None


# Bodies the server must refuse with a one-line JSON error (status, error type).
BAD_BODIES = {
    "invalid JSON": (b'{"texts": ["unclosed', 400, "invalid_json"),
    "non-UTF-8": ('{"texts": ["caf\u00e9"]}'.encode("latin-1"), 400, "not_utf8"),
    "texts is a string": (b'{"texts": "a film"}', 422, "invalid_request"),
    "texts holds numbers": (b'{"texts": ["ok", 3, null]}', 422, "invalid_request"),
    "an object without texts": (b'{"inputs": ["a film"]}', 422, "invalid_request"),
    "a bare list": (b'["a film"]', 422, "invalid_request"),
    "a 1 MB text": (json.dumps({"texts": ["word " * 200_000]}).encode(), 422, "text_too_long"),
    "100k texts": (json.dumps({"texts": ["a"] * 100_000}).encode(), 422, "too_many_texts"),
}


@pytest.mark.parametrize("case", list(BAD_BODIES))
def test_bad_bodies(server, reference, case):
    body, status, kind = BAD_BODIES[case]
    got, error = post_raw(server, body)
    assert got == status and error["error"]["type"] == kind, (case, got, error)
    assert "\n" not in error["error"]["message"]
    good_request_is_answered(server, reference)


def test_oversize_bodies_get_413(server, reference):
    sock = connect(server)  # declared: refused from the head, before the body is read
    sock.sendall(head(50 * 1024 * 1024) + b'{"texts": ["' + b"x" * 1000)
    status, error, _ = answer_of(sock)
    assert status == 413 and error["error"]["type"] == "body_too_large"
    limit = 2 * 1024 * 1024  # streamed (chunked, no Content-Length): refused once the limit is passed
    sock = connect(server)
    sock.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    piece = b"x" * 65536
    for _ in range(limit // len(piece) + 1):
        sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
    status, error, _ = answer_of(sock)
    assert status == 413 and error["error"]["type"] == "body_too_large"
    good_request_is_answered(server, reference)


def test_content_length_larger_than_the_body_times_out_with_408(server, reference):
    sock = connect(server)
    sock.sendall(head(5000) + json.dumps({"texts": GOOD}).encode())  # ~90 bytes of the 5,000 announced
    status, error, _ = answer_of(sock)
    assert status == 408 and "Content-Length larger than the body" in error["error"]["message"]
    good_request_is_answered(server, reference)


def _trickle(sock: socket.socket, data: bytes) -> int:
    """Send one byte a second until the server answers; the number of bytes sent."""
    for i in range(len(data)):
        sock.sendall(data[i : i + 1])
        readable, _, _ = select.select([sock], [], [], 1.0)  # the one-second pace; stop when the server speaks
        if readable:
            return i + 1
    return len(data)


def test_a_client_sending_one_byte_a_second_is_cut_off(server, reference):
    request = head(len(json.dumps({"texts": GOOD}))) + json.dumps({"texts": GOOD}).encode()
    sock = connect(server)  # the head, a byte a second: the head deadline closes it
    sent = _trickle(sock, request)
    status, error, _ = answer_of(sock)
    assert status == 408 and error["error"]["type"] == "read_timeout" and sent < len(request) // 2
    body = json.dumps({"texts": GOOD}).encode()
    sock = connect(server)  # the head at once, then the body a byte a second: the body deadline closes it
    sock.sendall(head(len(body)))
    sent = _trickle(sock, body)
    status, error, _ = answer_of(sock)
    assert status == 408 and "body did not arrive" in error["error"]["message"] and sent < len(body)
    good_request_is_answered(server, reference)


def test_500_idle_connections_cost_no_threads_and_are_closed(server, reference):
    threads = server.status("Threads")
    idle = [connect(server) for _ in range(IDLE_CONNECTIONS)]
    until(lambda: server.client_sockets() >= IDLE_CONNECTIONS, "the server holds the connections")
    good_request_is_answered(server, reference)  # while they are open
    assert server.status("Threads") == threads  # no thread per connection
    for sock in idle:  # each is closed by the server (EOF), without having sent anything
        sock.settimeout(READ_TIMEOUT + 30)
        assert sock.recv(1) == b""
        sock.close()
    until(lambda: server.client_sockets() == 0, "the server released the connections")
    assert server.other_fds() == server.baseline["fds"]
    good_request_is_answered(server, reference)


def test_bytes_that_are_not_http_get_a_json_400(server, reference):
    for garbage in [
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64,
        b"GET / HTTP/1.1\r\n" + b"X: y" * 5000,
    ]:
        sock = connect(server)
        sock.sendall(garbage + b"\r\n\r\n")
        status, error, _ = answer_of(sock)
        assert status == 400 and error["error"]["type"] == "invalid_http"
        good_request_is_answered(server, reference)


def test_no_leaks_bounded_memory_and_no_traceback(server, reference):
    """Runs after the abuse cases above (file order)."""
    good_request_is_answered(server, reference)
    until(lambda: server.client_sockets() == 0, "every connection is closed")
    assert server.other_fds() == server.baseline["fds"]
    assert server.status("Threads") == server.baseline["threads"]
    grown_mb = (server.status("VmHWM") - server.baseline["rss_kb"]) / 1024
    assert grown_mb < MEMORY_BOUND_MB, f"peak memory grew by {grown_mb:.0f} MB"
    metrics = requests.get(server.url + "metrics", timeout=10).text
    assert re.search(r'textrobust_connections_closed_total\{reason="idle"\} (\d+)', metrics)
    assert "Traceback" not in server.log, server.log[-3000:]
    print(
        f"\nserver after the abuse: {server.status('Threads')} threads, {server.fds()} fds (baseline "
        f"{server.baseline['threads']}, {server.baseline['fds']}), peak RSS +{grown_mb:.1f} MB over "
        f"{server.baseline['rss_kb'] / 1024:.0f} MB"
    )


def test_sigterm_finishes_queued_requests_then_exits(trained_dir, reference):
    srv = ServerProcess(str(trained_dir), "--batch-wait-ms", "0")
    try:
        until(lambda: _ready(srv), "the server is ready")
        big = [GOOD[i % 3] + f" {i}" for i in range(1000)]  # enough work that requests queue behind each other
        results: list[requests.Response | Exception | None] = [None] * 24

        def send(i: int) -> None:
            try:
                results[i] = requests.post(srv.url + "predict", json={"texts": big if i else GOOD}, timeout=120)
            except Exception as e:  # recorded, asserted below
                results[i] = e

        threads = [threading.Thread(target=send, args=(i,)) for i in range(24)]
        for t in threads:
            t.start()

        def queued() -> bool:
            text = requests.get(srv.url + "metrics", timeout=10).text
            return int(re.search(r"^textrobust_queue_requests (\d+)", text, re.M).group(1)) >= 2

        until(queued, "requests wait in the queue")
        srv.proc.send_signal(signal.SIGTERM)
        for t in threads:
            t.join(180)
        assert [getattr(r, "status_code", r) for r in results] == [200] * 24
        np.testing.assert_allclose(results[0].json()["probabilities"], reference, atol=1e-5)
        assert srv.proc.wait(60) in (0, -signal.SIGTERM)
        assert "shutting down: finishing" in srv.log and "Traceback" not in srv.log
    finally:
        srv.stop()
