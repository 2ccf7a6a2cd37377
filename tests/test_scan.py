"""Scanning models you already have: HTTP models against real local servers (protocol, keep-alive, retries, every
way a server can misbehave), and ``textrobust scan`` end to end on a saved model and the same model over HTTP."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pandas as pd
import pytest
from conftest import CPU, run_cli, tiny_corpus
from test_evaluation_contract import WordModel

from textrobust.errors import ConfigError, ModelError
from textrobust.models import RemoteModel, load_model
from textrobust.serving import ServeConfig, serve


@pytest.fixture
def word_server():
    """The keyword model served by textrobust's own server (its metrics count the TCP connections accepted)."""
    server = serve(WordModel(), ServeConfig(port=0), background=True)
    yield server, server.url + "predict"
    server.shutdown()


def test_remote_model_matches_the_local_model_over_one_connection(word_server):
    server, url = word_server
    texts = [t for t, _ in tiny_corpus()][:300]
    remote = RemoteModel(url, batch_size=64)
    assert remote.labels == ["neg", "pos"]  # learnt from the server's answer
    got = remote.predict_proba(texts)
    np.testing.assert_allclose(got, WordModel().predict_proba(texts), atol=1e-6)
    assert remote.requests_sent == 1 + 5  # the label probe, then ceil(300 / 64) batches
    assert server.metrics.connections_total.value(outcome="accepted") == 1  # kept alive across every batch


class Misbehaving(BaseHTTPRequestHandler):
    """Answers according to the server's ``mode`` (set by each test)."""

    protocol_version = "HTTP/1.1"

    def do_POST(self):  # noqa: N802
        texts = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["texts"]
        srv = self.server
        srv.calls += 1
        mode = srv.mode
        if mode == "flaky" and srv.calls <= 2:
            return self._send(503, b"busy")
        if mode == "slow":
            time.sleep(1.0)
        body = {
            "not_json": b"<html>oops</html>",
            "rows": json.dumps({"probabilities": [[0.5, 0.5]] * (len(texts) + 1)}).encode(),
            "sum": json.dumps({"probabilities": [[0.7, 0.7]] * len(texts)}).encode(),
            "cols": json.dumps({"probabilities": [[0.2, 0.3, 0.5]] * len(texts)}).encode(),
            "missing": b"",
        }.get(mode, json.dumps({"probabilities": [[0.25, 0.75]] * len(texts), "labels": ["neg", "pos"]}).encode())
        self._send(404 if mode == "missing" else 200, body)

    def _send(self, status, body):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def bad_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Misbehaving)
    server.calls, server.mode = 0, "ok"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server, "http://{}:{}/".format(*server.server_address)
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    "mode,pattern",
    [
        ("not_json", r"the answer is not JSON \(<html>oops</html>\)"),
        ("rows", r"sent 2 texts but got 3 rows of probabilities"),
        ("sum", r"row 0 of the answer is not a probability distribution"),
        ("cols", r"got 3 probabilities per text for 2 labels"),
        ("missing", r"answered HTTP 404"),
    ],
)
def test_garbage_answers_are_one_line_errors(bad_server, mode, pattern):
    server, url = bad_server
    server.mode = mode
    with pytest.raises(ModelError, match=pattern) as info:
        RemoteModel(url, labels=["neg", "pos"], retries=0).predict_proba(["a", "b"])
    assert url in str(info.value) and "\n" not in str(info.value)


def test_transient_failures_are_retried_with_backoff(bad_server):
    server, url = bad_server
    server.mode = "flaky"  # two 503s, then a good answer
    start = time.perf_counter()
    probs = RemoteModel(url, labels=["neg", "pos"], retries=3, backoff=0.05).predict_proba(["a"])
    assert probs.tolist() == [[0.25, 0.75]] and server.calls == 3
    assert time.perf_counter() - start >= 0.05 + 0.1  # waited 0.05 s, then 0.1 s
    server.mode, server.calls = "flaky", 0
    with pytest.raises(ModelError, match=r"HTTP 503 after 2 attempt\(s\)"):
        RemoteModel(url, labels=["neg", "pos"], retries=1, backoff=0.0).predict_proba(["a"])


def test_timeouts_and_refused_connections(bad_server):
    server, url = bad_server
    server.mode = "slow"
    with pytest.raises(ModelError, match=r"no answer within 0.2 s after 2 attempt\(s\)"):
        RemoteModel(url, labels=["neg", "pos"], timeout=0.2, retries=1, backoff=0.0).predict_proba(["a"])
    port = server.server_address[1]
    server.shutdown()
    server.server_close()
    with pytest.raises(ModelError, match=rf"127.0.0.1:{port}/: connection refused after 1 attempt"):
        RemoteModel(url, labels=["neg", "pos"], retries=0).predict_proba(["a"])
    with pytest.raises(ConfigError, match="starts with http"):
        RemoteModel("ftp://x", labels=["a", "b"])


def test_load_model_errors_name_the_model(tmp_path, tiny_model_dir):
    with pytest.raises(ModelError, match="not a sequence classifier \\(architectures: BertModel\\)"):
        load_model(str(tiny_model_dir))
    d = tmp_path / "generic"
    d.mkdir()
    (d / "config.json").write_text(
        json.dumps({"architectures": ["BertForSequenceClassification"], "id2label": {"0": "LABEL_0", "1": "LABEL_1"}})
    )
    with pytest.raises(ModelError, match="unknown label order .* give the labels in output order"):
        load_model(str(d))
    assert load_model(str(d), labels=["neg", "pos"]).labels == ["neg", "pos"]
    with pytest.raises(ModelError, match="not a model directory"):
        load_model(str(tmp_path))


def test_scan_a_saved_model_and_the_same_model_over_http(tmp_path, trained_dir):
    from textrobust.models import TextClassifier

    rows = tiny_corpus()[1::4]
    pd.DataFrame({"text": [t for t, _ in rows], "label": ["positive" if y else "negative" for _, y in rows]}).to_csv(
        tmp_path / "test.csv", index=False
    )
    server = serve(TextClassifier.load(trained_dir, runtime=CPU), ServeConfig(port=0), background=True)
    url = server.url
    try:
        r = run_cli(
            "scan",
            str(tmp_path / "test.csv"),
            "--model",
            f"local={trained_dir}",
            "--model",
            f"http={url}",
            "--eval",
            "clean",
            "--eval",
            "inv:suites=[typo, case]",
            "--eval",
            "mft",
            "--eval",
            "calibration",
            "--eval",
            "attack:recipe=deepwordbug,n=6",
            "-o",
            str(tmp_path / "scan"),
            "--device",
            "cpu",
        )
    finally:
        server.shutdown()
    assert r.returncode == 0, r.stderr[-2000:]
    run = tmp_path / "scan"
    assert (run / "report.html").is_file() and not (run / "units" / "local" / "seed0" / "failed.json").exists()
    out = pd.read_parquet(run / "outcomes.parquet")
    wide = out.pivot_table(index=["evaluation", "metric", "item"], columns="condition", values="value")
    np.testing.assert_allclose(wide["http"], wide["local"], atol=1e-5)  # same texts, same answers, to 1e-5
    summary = json.loads((run / "summary.json").read_text())
    assert summary["models_fixed"] is True and "train" not in {r["evaluation"] for r in summary["rows"]}
    acc = next(
        r
        for r in summary["rows"]
        if r["condition"] == "http" and r["evaluation"] == "clean" and r["metric"] == "accuracy"
    )
    assert acc["diff_mean"] == 0 and acc["verdict"] == "no_change" and acc["diff_method"] == "examples"
    # Two identical models: no discordant example, yet not a zero-width "0.0 [0.0, 0.0]" (Newcombe's interval).
    assert acc["diff_ci_low"] < 0 < acc["diff_ci_high"] and acc["diff_mde"] > 0
    html = (run / "report.html").read_text()
    assert "too few seeds for an interval" not in html  # fixed models have no seeds to be few of
    report = json.loads((run / "report.json").read_text())
    assert report["header"]["model"]["name"].startswith("fixed models: ")


def test_scan_bad_inputs_stop_before_anything_is_written(tmp_path, tiny_model_dir, trained_dir):
    pd.DataFrame({"text": ["good", "bad"], "label": ["pos", "neg"]}).to_csv(tmp_path / "t.csv", index=False)
    cases = [
        (["--model", str(tiny_model_dir)], "not a sequence classifier"),
        (["--model", "http://127.0.0.1:9/", "--labels", "neg,pos", "--retries", "0"], "connection refused"),
        (["--model", str(trained_dir), "--eval", "{kind: mft, pack: nope.yaml}"], "nope.yaml: test pack not found"),
        (["--model", str(trained_dir), "--eval", "attack:recipe=nope"], "unknown attack recipe 'nope'"),
        (["--model", str(trained_dir), "--eval", "attack:n=[1"], "cannot read the value of n"),
    ]
    for args, message in cases:
        out = tmp_path / "out"
        r = run_cli("scan", str(tmp_path / "t.csv"), *args, "-o", str(out))
        assert r.returncode == 2 and message in r.stderr, (args, r.stderr[-800:])
        assert len(r.stderr.strip().splitlines()) <= 2 and "Traceback" not in r.stderr
        assert not out.exists(), args


def test_attack_a_model_over_http(tmp_path, trained_dir):
    from textrobust.models import TextClassifier

    pd.DataFrame({"text": [t for t, _ in tiny_corpus()[:40:4]], "label": ["neg"] * 10}).to_csv(
        tmp_path / "a.csv", index=False
    )
    server = serve(TextClassifier.load(trained_dir, runtime=CPU), ServeConfig(port=0), background=True)
    url = server.url
    try:
        r = run_cli("attack", str(tmp_path / "a.csv"), "--model", url, "--recipe", "deepwordbug", "--json")
        bad = run_cli("attack", str(tmp_path / "a.csv"), "--model", url, "--recipe", "hotflip")
    finally:
        server.shutdown()
    assert r.returncode == 0, r.stderr[-1500:]
    summary = json.loads(r.stdout)
    assert summary["num_examples"] == 10 and 0 <= summary["accuracy_under_attack"] <= summary["original_accuracy"]
    assert bad.returncode == 2 and "supports gradients" in bad.stderr and "not a RemoteModel" in bad.stderr


def test_a_scanned_model_keeps_its_truncation_unless_the_spec_sets_one(tmp_path, trained_dir):
    from textrobust.robustness import parse_experiment
    from textrobust.robustness.unit import Workspace

    pd.DataFrame({"text": ["a fine film", "a dull plot"], "label": ["pos", "neg"]}).to_csv(
        tmp_path / "t.csv", index=False
    )
    spec = {
        "data": {"test": {"path": str(tmp_path / "t.csv")}},
        "conditions": {"m": {"model": str(trained_dir)}},
        "baseline": "m",
        "model": {"device": "cpu"},
    }
    saved = Workspace(parse_experiment(spec), tmp_path / "a").fixed_model("m")
    assert _classifier(saved).max_length == 32  # as trained ('textrobust.json')
    spec["model"]["max_length"] = 16
    chosen = Workspace(parse_experiment(spec), tmp_path / "b").fixed_model("m")
    assert _classifier(chosen).max_length == 16


def _classifier(model):
    """The TextClassifier inside a label-aligned wrapper (or the model itself)."""
    from textrobust.models import TextClassifier

    return model if isinstance(model, TextClassifier) else model.model
