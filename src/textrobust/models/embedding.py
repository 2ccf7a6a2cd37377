"""``EmbeddingClassifier``: a classifier for any language that trains in seconds on a CPU — a logistic or small-MLP
head on frozen multilingual sentence embeddings (``use-m`` or ``e5``, :mod:`textrobust.models.multilingual`).

It is a model kind like :class:`~textrobust.models.TextClassifier`: ``labels``, ``predict_proba``, ``fit(train,
eval, epoch_callback=...)``, ``clone``, ``save``/``load`` (a ``textrobust.json`` with ``"kind": "embedding"`` and
the head's weights in ``head.npz``), a :class:`Runtime` (its threads). :func:`~textrobust.models.load_model` loads
a saved one; experiment specs and the CLI name one as ``embedding:use-m`` (``embedding:e5``,
``embedding:use-m,head=mlp``): see :func:`parse_embedding_name`.

Training: the encoder is frozen, so each training text is encoded once. ``head="logistic"``: multinomial logistic
regression with an L2 penalty ``l2``, fitted to convergence by L-BFGS (full batch, deterministic); ``head="mlp"``:
one hidden layer of ``hidden`` units (ReLU, dropout 0.1), Adam, ``epochs`` passes, minibatches of 64. With an
``epoch_callback`` (online adversarial training) the head is fitted ``train_config.epochs`` times, warm-started,
the callback's rows joining each round after the first. No gradients reach the text, so gradient attacks refuse
it (``supports_gradients = False``).

Example:
    >>> clf = EmbeddingClassifier("use-m", labels=["negative", "positive"])  # doctest: +SKIP
    >>> clf.fit(train).predict_proba(["服务很好", "太差了"]).argmax(1)  # doctest: +SKIP
    array([1, 0])
"""

from __future__ import annotations

import copy
import inspect
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..data.atomic import atomic_path
from ..errors import ConfigError, ModelError
from .config import TrainConfig
from .multilingual import ENCODERS, encoder_name, multilingual_encoder
from .runtime import Runtime

if TYPE_CHECKING:  # pragma: no cover
    from ..data import LabeledData

KIND = "embedding"
META_FILE = "textrobust.json"
HEAD_FILE = "head.npz"
HEADS = ("logistic", "mlp")


def parse_embedding_name(name: str) -> dict[str, Any] | None:
    """``embedding:ENCODER[,key=value...]`` as constructor keywords, None for any other model name.

    Example:
        >>> parse_embedding_name("embedding:use-m,head=mlp,hidden=128")
        {'encoder': 'use-m', 'head': 'mlp', 'hidden': 128}
        >>> parse_embedding_name("minilm") is None
        True
    """
    text = str(name).strip()
    if not text.lower().startswith(f"{KIND}:"):
        return None
    first, *rest = text[len(KIND) + 1 :].split(",")
    out: dict[str, Any] = {"encoder": first.strip()}
    types = {"head": str, "hidden": int, "l2": float, "max_iter": int}
    for item in rest:
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq or key not in types:
            raise ConfigError(
                f"model {name!r}: expected embedding:ENCODER[,key=value] with keys {', '.join(types)}; got {item!r}"
            )
        try:
            out[key] = types[key](value.strip())
        except ValueError:
            raise ConfigError(f"model {name!r}: cannot read {key}={value!r}") from None
    return out


class EmbeddingClassifier:
    """A logistic / MLP head on frozen ``use-m`` or ``e5`` embeddings (see the module notes).

    The constructor only stores parameters; ``seed`` fixes the head's initial weights (MLP) so clones start
    alike. ``runtime.threads`` sets the encoder's threads.
    """

    supports_gradients = False
    #: Parameters saved as files (none: the encoder ships with its package, the head lives in head.npz).
    SAVED_AS_FILES: tuple[str, ...] = ()

    def __init__(
        self,
        encoder: str = "use-m",
        *,
        labels: Sequence[str],
        head: str = "logistic",
        hidden: int = 256,
        l2: float = 1e-3,
        max_iter: int = 200,
        seed: int = 0,
        train_config: TrainConfig | None = None,
        runtime: Runtime | None = None,
    ) -> None:
        key = encoder_name(encoder)
        if key is None:
            raise ConfigError(f"embedding classifier: unknown encoder {encoder!r}; use {' or '.join(ENCODERS)}")
        if head not in HEADS:
            raise ConfigError(f"embedding classifier: head must be {' or '.join(HEADS)}, got {head!r}")
        if len(labels) < 2 or len(set(labels)) != len(labels):
            raise ConfigError(f"labels must be at least two distinct names, got {list(labels)}")
        if hidden < 1 or l2 < 0 or max_iter < 1:
            raise ConfigError(f"embedding classifier: invalid hidden={hidden}, l2={l2} or max_iter={max_iter}")
        self.encoder = key
        self.labels = [str(x) for x in labels]
        self.head, self.hidden, self.l2, self.max_iter = head, int(hidden), float(l2), int(max_iter)
        self.seed = int(seed)
        self.train_config = train_config or TrainConfig()
        self.runtime = runtime or Runtime()
        self.weights: dict[str, np.ndarray] | None = None
        self.fitted = False

    # ------------------------------------------------------------------------------------------ parameters
    @classmethod
    def param_names(cls) -> list[str]:
        return [n for n in inspect.signature(cls.__init__).parameters if n != "self"]

    def get_params(self) -> dict[str, Any]:
        return {n: getattr(self, n) for n in self.param_names()}

    def clone(self) -> EmbeddingClassifier:
        """A fresh, unfitted copy with the same parameters."""
        return type(self)(**self.get_params())

    def with_runtime(self, runtime: Runtime) -> EmbeddingClassifier:
        """A view with the same head that encodes with ``runtime``."""
        view = copy.copy(self)
        view.runtime = runtime
        return view

    def __repr__(self) -> str:
        return f"EmbeddingClassifier({self.encoder!r}, head={self.head!r}, labels={self.labels}, fitted={self.fitted})"

    @property
    def languages(self) -> tuple[str, ...]:
        return ENCODERS[self.encoder][3]

    # ------------------------------------------------------------------------------------------- inference
    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """The frozen encoder's unit vectors for ``texts``."""
        return multilingual_encoder(self.encoder, self.runtime).encode(list(texts))

    def predict_proba(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        """Class probabilities, shape ``(len(texts), len(labels))``, in the input order."""
        if isinstance(texts, str):
            raise ConfigError("predict_proba takes a list of texts, not a single string")
        if self.weights is None:
            raise ModelError("this embedding classifier is not trained: call fit() or load a saved one")
        if not len(texts):
            return np.empty((0, len(self.labels)), dtype=np.float32)
        return _softmax(self._logits(self.embed(texts), self.weights)).astype(np.float32)

    def predict(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        return self.predict_proba(texts).argmax(axis=1)

    def _logits(self, x: np.ndarray, w: dict[str, np.ndarray]) -> np.ndarray:
        if self.head == "logistic":
            return x @ w["W"] + w["b"]
        h = np.maximum(x @ w["W1"] + w["b1"], 0.0)
        return h @ w["W2"] + w["b2"]

    # -------------------------------------------------------------------------------------------- training
    def fit(
        self,
        train: LabeledData,
        eval: LabeledData | None = None,
        *,
        config: TrainConfig | None = None,
        epoch_callback: Callable[..., tuple[list[str], list[int]]] | None = None,
        progress: bool = True,
        on_progress: Callable[[str], None] | None = None,
    ) -> EmbeddingClassifier:
        """Fit the head on ``train`` (``eval`` is not needed: the logistic head has no early stopping); with an
        ``epoch_callback``, ``train_config.epochs`` warm-started rounds, each after the first adding the rows the
        callback returns (online adversarial training). ``on_progress`` hears ``round 2/3`` as each round starts (as
        :meth:`TextClassifier.fit` reports epochs). Returns ``self``."""
        if config is not None:
            self.train_config = config
        if list(train.label_names) != self.labels:
            raise ModelError(f"training labels {train.label_names} differ from the classifier's {self.labels}")
        texts, labels = list(train.texts), [int(y) for y in train.labels]
        x = self.embed(texts)
        y = np.asarray(labels, dtype=np.int64)
        self.weights = self._fit_head(x, y, None)
        self.fitted = True
        rounds = self.train_config.epochs if epoch_callback is not None else 1
        if on_progress is not None:
            on_progress(f"round 1/{rounds}")
        for epoch in range(1, rounds):
            if epoch_callback is None:  # rounds is 1 without a callback: never reached, but says so to mypy
                break
            if on_progress is not None:
                on_progress(f"round {epoch + 1}/{rounds}")
            extra_texts, extra_labels = epoch_callback(self, epoch, texts, labels)
            if not extra_texts:
                continue
            ex = self.embed(list(extra_texts))
            ey = np.asarray([int(v) for v in extra_labels], dtype=np.int64)
            self.weights = self._fit_head(np.concatenate([x, ex]), np.concatenate([y, ey]), self.weights)
        return self

    def _fit_head(self, x: np.ndarray, y: np.ndarray, init: dict[str, np.ndarray] | None) -> dict[str, np.ndarray]:
        import torch

        k, d = len(self.labels), x.shape[1]
        g = torch.Generator().manual_seed(self.seed)
        xt, yt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)), torch.from_numpy(y)
        if self.head == "logistic":
            shapes = {"W": (d, k), "b": (k,)}
        else:
            shapes = {"W1": (d, self.hidden), "b1": (self.hidden,), "W2": (self.hidden, k), "b2": (k,)}
        params = {}
        for name, shape in shapes.items():
            if init is not None:
                t = torch.from_numpy(init[name].copy())
            elif name.startswith("W"):
                t = torch.randn(shape, generator=g) * (1.0 / np.sqrt(shape[0]))
            else:
                t = torch.zeros(shape)
            params[name] = t.float().requires_grad_(True)
        # Dropout draws from torch's global generator: fork it, so training is a function of the seed alone.
        with torch.random.fork_rng(devices=[]), torch.enable_grad():
            torch.manual_seed(self.seed)
            if self.head == "logistic":
                self._lbfgs(params, xt, yt)
            else:
                self._adam(params, xt, yt, g)
        return {n: p.detach().numpy().copy() for n, p in params.items()}

    def _lbfgs(self, params: dict[str, Any], x: Any, y: Any) -> None:
        import torch

        opt = torch.optim.LBFGS(list(params.values()), max_iter=self.max_iter, line_search_fn="strong_wolfe")

        def closure() -> Any:
            opt.zero_grad()
            logits = x @ params["W"] + params["b"]
            loss = torch.nn.functional.cross_entropy(logits, y) + self.l2 * (params["W"] ** 2).sum()
            loss.backward()
            return loss

        opt.step(closure)

    def _adam(self, params: dict[str, Any], x: Any, y: Any, g: Any) -> None:
        import torch

        cfg = self.train_config
        opt = torch.optim.Adam(list(params.values()), lr=1e-3, weight_decay=self.l2)
        for _ in range(self.max_iter // 10 or 1):  # max_iter=200 -> 20 passes over the data
            order = torch.randperm(len(y), generator=g)
            for start in range(0, len(y), max(cfg.batch_size, 64)):
                idx = order[start : start + max(cfg.batch_size, 64)]
                h = torch.relu(x[idx] @ params["W1"] + params["b1"])
                h = torch.nn.functional.dropout(h, 0.1, training=True)
                loss = torch.nn.functional.cross_entropy(h @ params["W2"] + params["b2"], y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()

    # ---------------------------------------------------------------------------------------- save / load
    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write ``textrobust.json`` (kind, parameters, runtime) and ``head.npz`` atomically."""
        if self.weights is None:
            raise ModelError("cannot save an untrained embedding classifier: call fit() first")
        directory = Path(directory)
        with atomic_path(directory, directory=True) as tmp:
            np.savez(tmp / HEAD_FILE, **self.weights)  # type: ignore[arg-type]  # numpy's stub misreads **arrays
            params = {k: v for k, v in self.get_params().items() if k not in ("train_config", "runtime")}
            meta = {
                "kind": KIND,
                **params,
                "train_config": asdict(self.train_config),
                "runtime": self.runtime.to_dict(),
                "fitted": self.fitted,
            }
            (tmp / META_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
        return directory

    @classmethod
    def load(cls, directory: str | os.PathLike[str], *, runtime: Runtime | None = None) -> EmbeddingClassifier:
        """Load a classifier saved with :meth:`save` (``runtime``: how this machine encodes)."""
        directory = Path(directory)
        try:
            meta = json.loads((directory / META_FILE).read_text(encoding="utf-8"))
            if meta.get("kind") != KIND:
                raise ModelError(f"{directory}: not an embedding classifier (kind {meta.get('kind')!r})")
            plain = set(cls.param_names()) - {"train_config", "runtime"}
            params = {k: meta[k] for k in plain if k in meta}
            clf = cls(
                **params,
                train_config=TrainConfig(**meta.get("train_config", {})),
                runtime=runtime or Runtime.from_dict(meta.get("runtime")),
            )
            with np.load(directory / HEAD_FILE) as npz:
                clf.weights = {k: npz[k] for k in npz.files}
        except (OSError, json.JSONDecodeError, TypeError, KeyError, ValueError) as e:
            raise ModelError(f"{directory}: cannot load the embedding classifier ({e}); retrain it") from None
        clf.fitted = bool(meta.get("fitted", True))
        return clf


def is_embedding_dir(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` holds a saved :class:`EmbeddingClassifier`."""
    meta = Path(path) / META_FILE
    if not meta.is_file():
        return False
    try:
        return json.loads(meta.read_text(encoding="utf-8")).get("kind") == KIND
    except (OSError, json.JSONDecodeError, AttributeError):
        return False


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


__all__ = ["HEADS", "EmbeddingClassifier", "is_embedding_dir", "parse_embedding_name"]
