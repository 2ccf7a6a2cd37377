"""Models behind an HTTP endpoint: batches of texts go out as JSON, class probabilities come back.

Protocol (what :class:`RemoteModel` expects and :func:`textrobust.serving.serve` implements)::

    POST <url>   {"texts": ["first text", "second text", ...]}
    200 OK       {"probabilities": [[0.9, 0.1], [0.2, 0.8], ...], "labels": ["negative", "positive"]}

``probabilities`` has one row per text, in order, each row summing to 1 (within 1e-3); ``labels`` (optional) names
the columns — without it, the client's ``labels`` say the order. A bare JSON list of rows is accepted too.

The client sends ``batch_size`` texts per request over one kept-alive connection (an attack sends thousands of
texts per step), retries connection errors, timeouts, 429 and 5xx answers with exponential back-off (the rules
of :mod:`textrobust.models.http`, shared with the chat endpoints), and turns anything else into one
:class:`~textrobust.errors.ModelError` line naming the URL and what was wrong.

Example:
    >>> m = RemoteModel("http://127.0.0.1:8000/predict", labels=["neg", "pos"])  # doctest: +SKIP
    >>> m.predict_proba(["a fine film"]).shape  # doctest: +SKIP
    (1, 2)
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence

import numpy as np

from ..errors import ConfigError, ModelError
from .http import RETRY_STATUS, HttpClient, HttpPolicy
from .http import snippet as _snippet
from .runtime import Runtime

log = logging.getLogger(__name__)


class RemoteModel:
    """A classifier served over HTTP (see the module docstring for the request and response).

    ``labels``: the column order, needed unless the server sends ``labels``; ``batch_size`` texts per request;
    ``timeout`` seconds per request; ``retries`` extra attempts on transient failures, waiting ``backoff`` x 2^k s.
    """

    #: Only probabilities cross the wire: gradient-based attacks cannot run on it.
    supports_gradients = False

    def __init__(
        self,
        url: str,
        *,
        labels: Sequence[str] | None = None,
        batch_size: int = 256,
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 0.5,
        headers: dict[str, str] | None = None,
        runtime: Runtime | None = None,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"{url}: an HTTP model URL starts with http:// or https://")
        if batch_size < 1 or timeout <= 0 or retries < 0 or backoff < 0:
            raise ConfigError(
                f"{url}: invalid batch_size={batch_size}, timeout={timeout}, retries={retries} or backoff={backoff}"
            )
        self.url, self.batch_size, self.timeout = url, int(batch_size), float(timeout)
        self.retries, self.backoff, self.headers = int(retries), float(backoff), dict(headers or {})
        self._labels = [str(x) for x in labels] if labels is not None else None
        # Device and precision are the server's; the runtime is kept so every model of a run says how it was built.
        self.runtime = runtime or Runtime()
        self.client = HttpClient(
            url,
            HttpPolicy(self.timeout, self.retries, self.backoff),
            self.headers,
            hint="check the URL and the request format (docs: textrobust.models.remote)",
        )

    def __repr__(self) -> str:
        return f"RemoteModel({self.url!r}, labels={self._labels})"

    @property
    def labels(self) -> list[str]:
        """The column order: given, or learnt from the server's first answer (one probe request)."""
        if self._labels is None:
            self._post(["probe"])
            if self._labels is None:
                raise ModelError(
                    f"{self.url}: the server does not say its label order (no 'labels' in the answer); "
                    "give the labels in the model's order (--labels a,b or labels: [a, b])"
                )
        return self._labels

    def predict_proba(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        """Class probabilities, one row per text in order, columns in :attr:`labels` order."""
        if isinstance(texts, str):
            raise ConfigError("predict_proba takes a list of texts, not a single string")
        texts = list(texts)
        bs = batch_size or self.batch_size
        rows = [self._post(texts[i : i + bs]) for i in range(0, len(texts), bs)]
        k = len(self.labels)
        return np.concatenate(rows).astype(np.float32) if rows else np.empty((0, k), dtype=np.float32)

    # -- transport -----------------------------------------------------------------------------------
    def _post(self, texts: list[str]) -> np.ndarray:
        return self._parse(self.client.post(self.url, json.dumps({"texts": texts})), len(texts))

    @property
    def requests_sent(self) -> int:
        return self.client.requests_sent

    def _parse(self, text: str, n: int) -> np.ndarray:
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            raise ModelError(f"{self.url}: the answer is not JSON ({_snippet(text)})") from None
        rows = data.get("probabilities") if isinstance(data, dict) else data
        if isinstance(data, dict) and data.get("labels") is not None:
            self._check_labels([str(x) for x in data["labels"]])
        try:
            probs = np.asarray(rows, dtype=float)
        except (TypeError, ValueError):
            probs = np.empty(0)
        if probs.ndim != 2:
            raise ModelError(
                f"{self.url}: expected 'probabilities' as a list of rows of numbers, got {_snippet(json.dumps(rows))}"
            )
        if probs.shape[0] != n:
            raise ModelError(f"{self.url}: sent {n} texts but got {probs.shape[0]} rows of probabilities")
        k = len(self._labels) if self._labels is not None else probs.shape[1]
        if probs.shape[1] != k:
            raise ModelError(f"{self.url}: got {probs.shape[1]} probabilities per text for {k} labels {self._labels}")
        bad = np.flatnonzero(~np.isfinite(probs).all(1) | (probs < -1e-6).any(1) | (np.abs(probs.sum(1) - 1) > 1e-3))
        if len(bad):
            raise ModelError(
                f"{self.url}: row {bad[0]} of the answer is not a probability distribution "
                f"({probs[bad[0]].tolist()} sums to {probs[bad[0]].sum():.4g}); return softmax outputs"
            )
        return probs

    def _check_labels(self, labels: list[str]) -> None:
        if self._labels is None:
            self._labels = labels
        elif labels != self._labels:
            raise ModelError(f"{self.url}: the server's labels {labels} differ from the given order {self._labels}")


__all__ = ["RETRY_STATUS", "RemoteModel"]
