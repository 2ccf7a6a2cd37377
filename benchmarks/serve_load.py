"""Load test of ``textrobust serve`` against the standard-library server it replaced, at the same settings.

Both servers run as their own processes on 127.0.0.1 with the same saved model, device and torch threads: the new
one is the product path (``python -m textrobust serve DIR --port 0``, default limits and access log), the old one is
``_legacy_serve`` below — the ``http.server`` code of ``textrobust.models.remote.serve`` before issue 26, kept here
only so the comparison can be rerun. ``--clients`` threads each post ``--texts`` real SST-2 dev sentences per
request over one kept-alive connection, as fast as answers come, for ``--duration`` seconds after ``--warmup``
seconds; rounds alternate the servers (A B B A ...) so machine load hits both alike. Every answer is checked: status
200, one row per text, and each probability within 1e-5 of in-process ``predict_proba`` on the same sentences.

Reported per server: requests, texts/s, requests/s, p50/p95/p99 latency, errors (non-200, refused or malformed),
probability mismatches, the largest probability difference, peak RSS; for the new server also the texts and
requests per model call from its ``/metrics``. ``--scan N`` afterwards runs ``textrobust scan`` on N SST-2 dev
sentences with the model in-process and behind the new server, and compares every per-example outcome.

Usage:
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/serve_load.py --clients 32 --texts 8 --duration 20 --scan 200
    .venv/bin/python benchmarks/serve_load.py --model runs/sst2-model --threads 2 --out runs/serve_load.json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _common import environment, format_table, quiet_libraries, write_json

TOLERANCE = 1e-5


# -- the server before issue 26, for this comparison only -------------------------------------------------
def _legacy_serve(model: Any, host: str, port: int) -> None:
    """The old ``textrobust serve``: ``ThreadingHTTPServer``, a thread per connection, one lock around the model
    (requests scored one after another, never together), no limits. Prints its URL, serves until SIGTERM."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            try:
                length = int(self.headers.get("Content-Length", 0))
                texts = json.loads(self.rfile.read(length))["texts"]
                if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
                    raise ValueError("'texts' must be a list of strings")
            except (ValueError, KeyError, TypeError) as e:
                return self._send(400, {"error": f"bad request: {e}"})
            with lock:
                probs = model.predict_proba(texts)
            self._send(200, {"probabilities": np.asarray(probs, dtype=float).tolist(), "labels": list(model.labels)})

        def _send(self, status: int, obj: Any) -> None:
            body = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"serving on http://{host}:{server.server_address[1]}/", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


def _legacy_main(model_dir: str, port: int, device: str) -> None:
    from textrobust.models import Runtime, load_model

    clf = load_model(model_dir, runtime=Runtime(device=device))
    clf.predict_proba(["warm-up"])
    _legacy_serve(clf, "127.0.0.1", port)


# -- servers as processes ---------------------------------------------------------------------------------
class ServerProcess:
    """A server started as a subprocess; its URL is read from the line it prints, its log goes to a file."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name, self.log_path = name, log_dir / f"{name}.log"
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=self._log, env=env, cwd=ROOT)
        self.url = self._wait_url()

    def _wait_url(self, bound: float = 300.0) -> str:
        deadline = time.monotonic() + bound
        while time.monotonic() < deadline:
            match = re.search(r"on (http://127\.0\.0\.1:\d+/)", self.log_path.read_text())
            if match:
                return match.group(1)
            if self.proc.poll() is not None:
                raise SystemExit(f"{self.name} server exited:\n{self.log_path.read_text()[-3000:]}")
            time.sleep(0.05)
        raise SystemExit(f"{self.name} server printed no URL within {bound:g} s")

    def peak_rss_mb(self) -> float:
        try:
            status = Path(f"/proc/{self.proc.pid}/status").read_text()
        except OSError:
            return float("nan")
        return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(60)
        finally:
            self._log.close()


# -- load ---------------------------------------------------------------------------------------------------
def run_load(
    url: str, sentences: list[str], reference: np.ndarray, clients: int, per_request: int, seconds: float
) -> dict[str, Any]:
    """``clients`` threads posting ``per_request`` sentences each, back to back, for ``seconds``; every answer is
    checked against ``reference`` (in-process probabilities of the same sentences)."""
    import requests

    latencies: list[float] = []
    errors: list[str] = []
    mismatches = [0]
    worst = [0.0]
    lock = threading.Lock()
    start_line = threading.Barrier(clients + 1)
    stop_at = [0.0]

    def client(k: int) -> None:
        session = requests.Session()
        n = len(sentences)
        cursor = (k * 97 * per_request) % n  # clients start at different places in the data
        start_line.wait()
        while time.perf_counter() < stop_at[0]:
            idx = [(cursor + j) % n for j in range(per_request)]
            cursor = (cursor + per_request) % n
            body = json.dumps({"texts": [sentences[i] for i in idx]})
            t0 = time.perf_counter()
            try:
                resp = session.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=60)
                seconds_taken = time.perf_counter() - t0
                ok = resp.status_code == 200
                probs = np.asarray(resp.json()["probabilities"], dtype=float) if ok else None
            except Exception as e:  # a refused or reset connection, a timeout, a malformed answer
                with lock:
                    errors.append(type(e).__name__)
                continue
            with lock:
                if not ok:
                    errors.append(f"HTTP {resp.status_code}")
                    continue
                if probs is None or probs.shape != (per_request, reference.shape[1]):
                    errors.append("shape")
                    continue
                diff = float(np.abs(probs - reference[idx]).max())
                worst[0] = max(worst[0], diff)
                mismatches[0] += diff > TOLERANCE
                latencies.append(seconds_taken)

    threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(clients)]
    for t in threads:
        t.start()
    stop_at[0] = time.perf_counter() + seconds
    began = time.perf_counter()
    start_line.wait()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    return {
        "requests": len(latencies),
        "seconds": elapsed,
        "latencies": latencies,
        "errors": errors,
        "mismatches": mismatches[0],
        "max_abs_diff": worst[0],
    }


def summarise(runs: list[dict[str, Any]], per_request: int) -> dict[str, Any]:
    lat = np.asarray([x for r in runs for x in r["latencies"]]) * 1000
    seconds = sum(r["seconds"] for r in runs)
    n = sum(r["requests"] for r in runs)
    errors = [e for r in runs for e in r["errors"]]
    return {
        "requests": n,
        "texts_per_s": n * per_request / seconds,
        "requests_per_s": n / seconds,
        "p50_ms": float(np.percentile(lat, 50)) if n else float("nan"),
        "p95_ms": float(np.percentile(lat, 95)) if n else float("nan"),
        "p99_ms": float(np.percentile(lat, 99)) if n else float("nan"),
        "errors": len(errors),
        "error_kinds": sorted(set(errors)),
        "mismatches": sum(r["mismatches"] for r in runs),
        "max_abs_diff": max(r["max_abs_diff"] for r in runs),
    }


def batch_stats(url: str) -> dict[str, float]:
    """Mean texts and requests per model call, from the new server's /metrics."""
    import requests

    text = requests.get(url + "metrics", timeout=10).text

    def value(name: str) -> float:
        match = re.search(rf"^{name} (\S+)$", text, re.M)
        return float(match.group(1)) if match else float("nan")

    calls = value("textrobust_batch_texts_count")
    return {
        "texts_per_call": value("textrobust_batch_texts_sum") / calls,
        "requests_per_call": value("textrobust_batch_requests_sum") / value("textrobust_batch_requests_count"),
        "model_calls": calls,
        "model_seconds": value("textrobust_model_call_duration_seconds_sum"),
    }


# -- scan against the new server ----------------------------------------------------------------------------
def scan_check(model_dir: str, url: str, sentences_path: Path, n: int, work: Path, env: dict[str, str]) -> dict:
    """``textrobust scan`` with the model in-process and behind the server; the largest outcome difference."""
    import pandas as pd

    out = work / "scan"
    cmd = [
        sys.executable,
        "-m",
        "textrobust",
        "scan",
        str(sentences_path),
        "--text-column",
        "sentence",
        "--data-labels",
        "negative,positive",
        "-n",
        str(n),
        "--model",
        f"local={model_dir}",
        "--model",
        f"http={url}predict",
        "--eval",
        "clean",
        "--eval",
        "inv:suites=[typo, case, contraction]",
        "--eval",
        "calibration",
        "--eval",
        f"attack:recipe=deepwordbug,n={min(n, 50)}",
        "--device",
        "cpu",
        "--no-report",
        "-o",
        str(out),
    ]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    if r.returncode != 0:
        raise SystemExit(f"scan failed:\n{r.stderr[-3000:]}")
    frame = pd.read_parquet(out / "outcomes.parquet")
    wide = frame.pivot_table(index=["evaluation", "metric", "item"], columns="condition", values="value")
    diff = (wide["http"] - wide["local"]).abs()
    return {
        "outcomes": int(len(wide)),
        "max_abs_diff": float(diff.max()),
        "differing": int((diff > TOLERANCE).sum()),
        "seconds": time.perf_counter() - t0,
        "evaluations": sorted(frame["evaluation"].unique().tolist()),
    }


# -- main -----------------------------------------------------------------------------------------------------
def in_process_rates(clf: Any, sentences: list[str], sizes: list[int]) -> dict[int, float]:
    """texts/s of in-process ``predict_proba`` on the sentences in calls of each size: what the model can do per
    call, without any server (the old server makes calls of ``--texts``; the new one of about its batch size)."""
    rates = {}
    for size in sizes:
        t0 = time.perf_counter()
        for i in range(0, len(sentences), size):
            clf.predict_proba(sentences[i : i + size])
        rates[size] = len(sentences) / (time.perf_counter() - t0)
    return rates


def prepare_model(model: str | None, work: Path, device: str) -> str:
    """``--model``, or MiniLM with a new seeded 2-class head saved once (both servers and the reference load the
    same files; throughput does not depend on the head being trained)."""
    if model:
        return model
    from textrobust.models import Runtime, TextClassifier, minilm_path

    out = work / "minilm"
    TextClassifier(minilm_path(), labels=["negative", "positive"], runtime=Runtime(device=device), seed=0).save(out)
    return str(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", help="A saved model directory (default: MiniLM with a new seeded head).")
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--texts", type=int, default=8, help="Sentences per request.")
    ap.add_argument("--duration", type=float, default=20.0, help="Measured seconds per round and server.")
    ap.add_argument("--warmup", type=float, default=3.0, help="Unmeasured seconds of load before each round.")
    ap.add_argument("--rounds", type=int, default=2, help="Rounds per server, alternating A B B A ...")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (OMP_NUM_THREADS) of both servers.")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--scan", type=int, default=0, help="Also compare a scan over N sentences (0: skip).")
    ap.add_argument(
        "--sentences", type=int, default=0, help="Use the first N SST-2 dev sentences (0: all 872; a dry run: few)."
    )
    ap.add_argument("--out", help="Write the record as JSON here.")
    ap.add_argument("--legacy-server", help=argparse.SUPPRESS)  # internal: run the old server on this model
    ap.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.legacy_server:
        _legacy_main(args.legacy_server, args.port, args.device)
        return

    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    import torch

    torch.set_num_threads(args.threads)
    quiet_libraries()
    from textrobust.data import load_dataset, shared_data_dir
    from textrobust.models import Runtime, TextClassifier

    dev_path = shared_data_dir() / "sst2" / "dev.tsv"
    sentences = load_dataset(str(dev_path), text_column="sentence").texts
    sentences = sentences[: args.sentences] if args.sentences > 0 else sentences
    work = Path(tempfile.mkdtemp(prefix="serve_load_"))
    model_dir = prepare_model(args.model, work, args.device)
    local = TextClassifier.load(model_dir, runtime=Runtime(device=args.device))
    reference = local.predict_proba(sentences)
    # src first, and whatever else this process was given (packages installed beside the environment, on a GPU box)
    path = os.pathsep.join([str(ROOT / "src"), *filter(None, [os.environ.get("PYTHONPATH")])])
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "PYTHONPATH": path}
    env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"})
    py = sys.executable
    commands = {
        "legacy": [py, __file__, "--legacy-server", model_dir, "--device", args.device],
        "asgi": [py, "-m", "textrobust", "serve", model_dir, "--port", "0", "--device", args.device],
    }
    servers = {name: ServerProcess(name, cmd, env, work) for name, cmd in commands.items()}
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in servers}
    try:
        order = []
        for r in range(args.rounds):
            order += ["legacy", "asgi"] if r % 2 == 0 else ["asgi", "legacy"]
        busy = [0.0, 0.0]  # the new server's model seconds and wall seconds over the measured rounds
        for name in order:
            url = servers[name].url + ("predict" if name == "asgi" else "")
            run_load(url, sentences, reference, args.clients, args.texts, args.warmup)
            before = batch_stats(servers["asgi"].url)["model_seconds"] if name == "asgi" else 0.0
            runs[name].append(run_load(url, sentences, reference, args.clients, args.texts, args.duration))
            if name == "asgi":
                busy[0] += batch_stats(servers["asgi"].url)["model_seconds"] - before
                busy[1] += runs[name][-1]["seconds"]
            print(f"  {name}: {runs[name][-1]['requests']} requests in {runs[name][-1]['seconds']:.1f} s", flush=True)
        batches = batch_stats(servers["asgi"].url)  # before the scan adds its own calls
        batches["model_busy"] = busy[0] / busy[1]
        scan = None
        if args.scan:
            scan = scan_check(model_dir, servers["asgi"].url, dev_path, args.scan, work, env)
        rss = {name: s.peak_rss_mb() for name, s in servers.items()}
    finally:
        codes = {name: s.stop() for name, s in servers.items()}
    per_call = max(args.texts, round(batches["texts_per_call"]))
    ceiling = in_process_rates(local, sentences, sorted({args.texts, per_call}))  # servers stopped: no contention
    stats = {name: summarise(r, args.texts) for name, r in runs.items()}
    legacy, new = stats["legacy"], stats["asgi"]
    rows = []
    for key, label in [
        ("requests", "requests answered"),
        ("texts_per_s", "throughput, texts/s"),
        ("requests_per_s", "throughput, requests/s"),
        ("p50_ms", "latency p50, ms"),
        ("p95_ms", "latency p95, ms"),
        ("p99_ms", "latency p99, ms"),
        ("errors", "errors"),
        ("mismatches", f"answers off by > {TOLERANCE:g}"),
        ("max_abs_diff", "largest |p - in-process p|"),
    ]:
        a, b = legacy[key], new[key]
        ratio = f"{b / a:.2f}x" if isinstance(a, float) and a > 0 and key != "max_abs_diff" else ""
        rows.append(
            [label, f"{a:.3g}" if key == "max_abs_diff" else a, f"{b:.3g}" if key == "max_abs_diff" else b, ratio]
        )
    rows.append(["peak RSS, MB", rss["legacy"], rss["asgi"], ""])
    print()
    print(
        f"{args.clients} clients x {args.texts} SST-2 sentences, {args.rounds} x {args.duration:g} s per server, "
        f"torch threads {args.threads}, device {args.device}"
    )
    print(format_table(["", "old (http.server)", "new (textrobust serve)", "new/old"], rows))
    print(
        f"new server: {batches['texts_per_call']:.1f} texts and {batches['requests_per_call']:.1f} requests per model "
        f"call ({batches['model_calls']:.0f} calls); its model thread was busy {batches['model_busy']:.0%} of the "
        f"measured time; exit codes after "
        f"SIGTERM {codes}; error kinds: old {legacy['error_kinds']}, new {new['error_kinds']}"
    )
    print(
        "in-process predict_proba (no server), texts/s: "
        + ", ".join(f"{rate:.1f} in calls of {size}" for size, rate in ceiling.items())
    )
    if scan:
        print(
            f"scan of {args.scan} sentences ({', '.join(scan['evaluations'])}): {scan['outcomes']} per-example "
            f"outcomes, largest |http - local| {scan['max_abs_diff']:.3g}, "
            f"{scan['differing']} differ by > {TOLERANCE:g}"
        )
    shutil.rmtree(work, ignore_errors=True)  # the model copy and server logs (kept when something failed above)
    if args.out:
        write_json(
            args.out,
            {
                "environment": environment(args.device),
                "settings": vars(args),
                "legacy": legacy,
                "asgi": new,
                "asgi_batches": batches,
                "peak_rss_mb": rss,
                "in_process_texts_per_s": ceiling,
                "scan": scan,
            },
        )


if __name__ == "__main__":
    main()
