"""An OpenAI-compatible chat endpoint as a classifier: ``--model openai+http://HOST:PORT/v1?model=NAME``.

Each text becomes the chat messages of a :class:`~textrobust.models.prompt.Prompt` (the same messages the
in-process :class:`~textrobust.models.prompted.PromptedClassifier` renders), sent to ``POST {base}/chat/completions``
with ``temperature: 0``. Two ways to read the answer:

* **scores** (``scores=logprobs``, or ``auto`` when the server returns them): one token is asked for with
  ``logprobs: true, top_logprobs: K``; each label's log-probability is the log-sum-exp of the listed first tokens
  that are its words (exactly; failing that, the token stripped of spaces; failing that, a token that starts only
  this label's words), and the labels are normalised with a softmax — the in-process scoring, restricted to the
  tokens the server lists. A label none of whose words is listed gets the K-th probability (an upper bound).
* **label only** (``scores=label``, or ``auto`` when the server gives no logprobs): the reply's text is read as a
  label (the label whose word comes first in it, ignoring case); the probability row is one-hot, and the model says
  ``label_only = True``, so score-based attack recipes refuse it and name the label-only one.

Requests follow :mod:`textrobust.models.http` (timeouts, retries with back-off, ``Retry-After``, a rate limit and
``concurrency`` requests in flight). A server that refuses, times out, answers a word outside the label set, or
gives no logprobs when scores were asked for stops with one line naming the model (exit code 2 from the CLI).

Query parameters of the source: ``model`` (required), ``scores`` (auto, logprobs, label), ``top_logprobs`` (20),
``answer_tokens`` (8: the reply length asked for in label mode), ``concurrency`` (8), ``rate`` (requests per second).
OpenAI itself lists at most 20 top tokens; servers such as vLLM (``--max-logprobs``) and ``textrobust serve --openai``
(``--max-top-logprobs``) can list more, which scores labels the model rarely starts its reply with.

Example:
    >>> url = "openai+http://127.0.0.1:8000/v1?model=smollm2"
    >>> m = load_model(url, labels=["negative", "positive"])  # doctest: +SKIP
    >>> m.predict_proba(["a charming journey"]).round(2)  # doctest: +SKIP
    array([[0.08, 0.92]], dtype=float32)
"""

from __future__ import annotations

import copy
import json
import re
import threading
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import numpy as np

from ..errors import ConfigError, ModelError
from .http import HttpClient, HttpPolicy, snippet
from .prompt import Prompt, PromptFormat
from .runtime import Runtime

PREFIX = "openai+"
SCORE_MODES = ("auto", "logprobs", "label")
_QUERY = {"model": str, "scores": str, "top_logprobs": int, "answer_tokens": int, "concurrency": int, "rate": float}


def parse_source(source: str) -> tuple[str, dict[str, Any]]:
    """``openai+http://host:port/v1?model=NAME&...`` -> (``http://host:port/v1``, the query's settings).

    Example:
        >>> parse_source("openai+http://127.0.0.1:8000/v1?model=smollm2&scores=label")
        ('http://127.0.0.1:8000/v1', {'model': 'smollm2', 'scores': 'label'})
    """
    if not source.startswith(PREFIX + "http"):
        raise ConfigError(
            f"{source}: an OpenAI-compatible endpoint is written openai+http(s)://HOST:PORT/v1?model=NAME"
        )
    parts = urlsplit(source[len(PREFIX) :])
    base = urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
    settings: dict[str, Any] = {}
    for key, values in parse_qs(parts.query, keep_blank_values=True).items():
        if key not in _QUERY:
            raise ConfigError(f"{source}: unknown setting {key!r}; known: {', '.join(_QUERY)}")
        try:
            settings[key] = _QUERY[key](values[-1])
        except ValueError:
            raise ConfigError(f"{source}: {key}={values[-1]!r} is not a {_QUERY[key].__name__}") from None
    if not settings.get("model"):
        raise ConfigError(f"{source}: name the served model: {PREFIX}{base}?model=NAME")
    return base, settings


class OpenAIChatModel:
    """A classifier behind an OpenAI-compatible chat completions API (see the module docstring).

    ``url``: the API base (``http://host:port/v1``); ``model``: the served model's name; ``labels`` and ``prompt``
    as for :class:`~textrobust.models.prompted.PromptedClassifier`; ``scores``: ``auto``, ``logprobs`` or
    ``label``; the HTTP settings as :class:`~textrobust.models.http.HttpPolicy`.
    """

    supports_gradients = False

    def __init__(
        self,
        url: str,
        *,
        model: str,
        labels: Sequence[str],
        prompt: Prompt | Mapping[str, Any] | None = None,
        scores: str = "auto",
        top_logprobs: int = 20,
        answer_tokens: int = 8,
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 0.5,
        concurrency: int = 8,
        rate: float | None = None,
        headers: dict[str, str] | None = None,
        runtime: Runtime | None = None,
        batch_size: int | None = None,
    ) -> None:
        self.url, self.served = url.rstrip("/"), model
        self.name = f"{PREFIX}{self.url}?model={model}"
        if scores not in SCORE_MODES:
            raise ConfigError(f"{self.name}: scores={scores!r}: use {', '.join(SCORE_MODES)}")
        if top_logprobs < 1 or answer_tokens < 1:
            raise ConfigError(f"{self.name}: top_logprobs and answer_tokens must be >= 1")
        self.prompt = prompt if isinstance(prompt, Prompt) else Prompt.from_config(prompt, labels, who=self.name)
        self.scores, self.top_logprobs, self.answer_tokens = scores, top_logprobs, answer_tokens
        self.client = HttpClient(
            self.name,
            HttpPolicy(timeout, retries, backoff, concurrency, rate),
            headers,
            hint="check the URL, the model name and that the server speaks the OpenAI chat completions API",
        )
        # Device and precision are the server's; the runtime is kept so every model of a run says how it was built.
        self.runtime = runtime or Runtime()
        self.batch_size = batch_size
        self._decided = threading.Lock()

    @classmethod
    def from_source(cls, source: str, **kw: Any) -> OpenAIChatModel:
        """Build from ``openai+http://...?model=NAME&...`` (query settings win over keyword defaults)."""
        base, settings = parse_source(source)
        return cls(base, **{**kw, **settings})

    def __repr__(self) -> str:
        return self.name

    # ------------------------------------------------------------------------------------------- questions
    @property
    def labels(self) -> list[str]:
        return list(self.prompt.labels)

    @property
    def label_only(self) -> bool:
        """True when only the reply's label is read (``scores=label``, or ``auto`` on a server without logprobs)."""
        return self.scores == "label"

    @property
    def requests_sent(self) -> int:
        return self.client.requests_sent

    @property
    def prompt_format(self) -> PromptFormat:
        return self.prompt.format

    def with_prompt_format(self, fmt: PromptFormat) -> OpenAIChatModel:
        """The same endpoint with its prompt laid out by ``fmt``."""
        other = copy.copy(self)
        other.prompt = self.prompt.with_format(fmt)
        return other

    def cache_identity(self) -> dict[str, Any]:
        """What determines the answers: the endpoint, the served model, the prompt and how answers are read."""
        return {
            "kind": "openai",
            "url": self.url,
            "model": self.served,
            "prompt": self.prompt.to_dict(),
            "scores": self.scores,
            "top_logprobs": self.top_logprobs,
        }

    # ------------------------------------------------------------------------------------------- asking
    def predict_proba(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        """Probability rows (one-hot when label-only), one request per text, ``concurrency`` at a time."""
        if isinstance(texts, str):
            raise ConfigError("predict_proba takes a list of texts, not a single string")
        texts = list(texts)
        rows: list[np.ndarray] = []
        if texts and self.scores == "auto":
            with self._decided:  # the first answer decides how every later one is read
                if self.scores == "auto":
                    rows.append(self._ask(texts[0]))
                    texts = texts[1:]
        rows += self.client.map(self._ask, texts)
        if not rows:
            return np.empty((0, len(self.labels)), dtype=np.float32)
        return np.stack(rows).astype(np.float32)

    def _ask(self, text: str) -> np.ndarray:
        body: dict[str, Any] = {
            "model": self.served,
            "messages": self.prompt.messages(text),
            "temperature": 0,
            "max_tokens": self.answer_tokens if self.scores == "label" else 1,
        }
        if self.scores != "label":
            body.update(logprobs=True, top_logprobs=self.top_logprobs)
        answer = self.client.post(f"{self.url}/chat/completions", json.dumps(body))
        content, top = self._read(answer)
        if top:
            if self.scores == "auto":
                self.scores = "logprobs"
            return self._from_logprobs(text, content, top)
        if self.scores == "logprobs":
            raise ModelError(
                f"{self.name}: the answer has no logprobs, so the labels cannot be scored; use a server that returns "
                "logprobs, or scores=label with a label-only recipe (hardlabel)"
            )
        if self.scores == "auto":  # a label-only API: ask again for a whole reply
            self.scores = "label"
            return self._ask(text)
        return self._from_label(text, content)

    def _read(self, answer: str) -> tuple[str, list[tuple[str, float]]]:
        """The reply's text and the first token's ``top_logprobs`` (empty when the server gives none)."""
        try:
            data = json.loads(answer)
            choice = data["choices"][0]
            content = (choice.get("message") or {}).get("content") or ""
        except (json.JSONDecodeError, KeyError, IndexError, TypeError, AttributeError):
            raise ModelError(f"{self.name}: not a chat completion ({snippet(answer)})") from None
        entries = ((choice.get("logprobs") or {}).get("content")) or []
        if not entries:
            return str(content), []
        try:
            top = [(str(t["token"]), float(t["logprob"])) for t in entries[0].get("top_logprobs") or []]
        except (KeyError, TypeError, ValueError):
            raise ModelError(f"{self.name}: malformed logprobs ({snippet(json.dumps(entries[0]))})") from None
        return str(content), top

    def _from_logprobs(self, text: str, content: str, top: list[tuple[str, float]]) -> np.ndarray:
        scores = label_scores(self.prompt, top)
        if not np.isfinite(scores).any():
            raise ModelError(
                f"{self.name}: answered {snippet(content, 30)!r} to {snippet(text, 40)!r}, and none of the label "
                f"words {self._words()} is among its top {len(top)} tokens; the model does not answer with a label "
                "(check the prompt and the label words)"
            )
        floor = min(lp for _, lp in top)
        scores = np.where(np.isfinite(scores), scores, floor)
        p = np.exp(scores - scores.max())
        return p / p.sum()

    def _from_label(self, text: str, content: str) -> np.ndarray:
        k = read_label(self.prompt, content)
        if k is None:
            raise ModelError(
                f"{self.name}: answered {snippet(content, 40)!r} to {snippet(text, 40)!r}, which is none of the "
                f"label words {self._words()}; check the prompt and the label words"
            )
        row = np.zeros(len(self.labels))
        row[k] = 1.0
        return row

    def _words(self) -> list[str]:
        return [w for label in self.labels for w in self.prompt.verbalizers[label]]


def label_scores(prompt: Prompt, top: Sequence[tuple[str, float]]) -> np.ndarray:
    """Each label's log-probability from a first token's ``top`` list (``-inf`` where none of its words is listed):
    the listed tokens that are one of its words; failing that, those equal to a word once spaces are stripped;
    failing that, those that start only this label's words.

    Example:
        >>> p = Prompt.from_config(None, ["neg", "pos"])
        >>> label_scores(p, [("pos", -0.1), ("neg", -2.5), ("The", -3.0)]).tolist()
        [-2.5, -0.1]
    """
    words = {label: prompt.verbalizers[label] for label in prompt.labels}
    out = np.full(len(prompt.labels), -np.inf)
    for k, label in enumerate(prompt.labels):
        tiers = (
            [lp for tok, lp in top if tok in words[label]],
            [lp for tok, lp in top if tok.strip() in words[label]],
            [
                lp
                for tok, lp in top
                if tok.strip()
                and any(w.startswith(tok.strip()) for w in words[label])
                and not any(
                    w.startswith(tok.strip()) for other in prompt.labels if other != label for w in words[other]
                )
            ],
        )
        for found in tiers:
            if found:
                out[k] = float(np.logaddexp.reduce(found))
                break
    return out


def read_label(prompt: Prompt, content: str) -> int | None:
    """The index of the label a reply names: the label whose word occurs first in it (whole words, any case).

    Example:
        >>> read_label(Prompt.from_config(None, ["negative", "positive"]), "Positive.")
        1
        >>> read_label(Prompt.from_config(None, ["negative", "positive"]), "I am not sure") is None
        True
    """
    best: tuple[int, int] | None = None
    for k, label in enumerate(prompt.labels):
        for w in prompt.verbalizers[label]:
            m = re.search(rf"(?<!\w){re.escape(w.strip())}(?!\w)", content, flags=re.IGNORECASE)
            if m and (best is None or m.start() < best[0]):
                best = (m.start(), k)
    return None if best is None else best[1]


__all__ = ["PREFIX", "SCORE_MODES", "OpenAIChatModel", "label_scores", "parse_source", "read_label"]
