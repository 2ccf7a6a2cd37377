"""``TextClassifier``: a transformers sequence classifier with fast batched inference, training, clone and save.

Inference sorts inputs by length, packs them into batches of at most a token budget (rows x padded width; see
:mod:`textrobust.models.batching`), pads per batch (never to the model maximum), runs under
``torch.inference_mode()`` in the precision its :class:`~textrobust.models.runtime.Runtime` says, and returns
probabilities in the input order. Its parameters are its constructor's arguments (scikit-learn's habit):
:meth:`TextClassifier.get_params` reads them, :meth:`~TextClassifier.clone` passes them back, and
:meth:`~TextClassifier.save` / :meth:`~TextClassifier.load` keep every one.
"""

from __future__ import annotations

import copy
import inspect
import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..data.atomic import atomic_path
from ..errors import ConfigError, ModelError
from .config import TrainConfig
from .runtime import DEFAULT_MAX_LENGTH, Runtime, check_token_budget

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from ..data import LabeledData

log = logging.getLogger(__name__)

META_FILE = "textrobust.json"


class TextClassifier:
    """A text classifier over ``AutoModelForSequenceClassification``.

    The constructor only stores parameters (scikit-learn style); weights load on first use. ``source`` is a
    model directory or hub name (or None with a ``config`` to train from scratch, then ``tokenizer_source`` names
    the tokenizer). ``seed`` fixes the initial classification head, so two instances with the same arguments start
    from identical weights. ``runtime`` says how it runs (device, precision, token budget); inference batches hold
    at most ``runtime.token_budget`` tokens, or ``batch_size`` rows when that is given.

    Example:
        >>> clf = TextClassifier("path/to/minilm", labels=["neg", "pos"], max_length=64)  # doctest: +SKIP
        >>> clf.fit(train_data)  # doctest: +SKIP
        >>> clf.predict_proba(["a fine film"]).shape  # doctest: +SKIP
        (1, 2)
    """

    #: Parameters that :meth:`save` turns into files in the saved directory (weights, config, tokenizer): a
    #: loaded classifier's ``source`` and ``tokenizer_source`` are that directory. Every other parameter is
    #: stored in ``textrobust.json`` and comes back as it was (tests/test_models.py checks each one).
    SAVED_AS_FILES = ("source", "config", "tokenizer_source")
    #: Gradient-based attacks (A2T's ranking, HotFlip) can read this model's embeddings and gradients.
    supports_gradients = True

    def __init__(
        self,
        source: str | os.PathLike | None = None,
        *,
        labels: Sequence[str],
        config: Any = None,
        tokenizer_source: str | os.PathLike | None = None,
        max_length: int = DEFAULT_MAX_LENGTH,
        batch_size: int | None = None,
        seed: int = 0,
        train_config: TrainConfig | None = None,
        trust_remote_code: bool = False,
        runtime: Runtime | None = None,
    ) -> None:
        if source is None and config is None:
            raise ConfigError("give a model name/path, or a config to train from scratch")
        if config is not None and tokenizer_source is None and source is None:
            raise ConfigError("a model built from a config needs a tokenizer name or path (tokenizer_source=)")
        if len(labels) < 2 or len(set(labels)) != len(labels):
            raise ConfigError(f"labels must be at least two distinct names, got {list(labels)}")
        if max_length < 2 or (batch_size is not None and batch_size < 1):
            raise ConfigError(f"invalid max_length={max_length} or batch_size={batch_size}")
        self.runtime = runtime or Runtime()
        if self.runtime.max_tokens is not None and batch_size is None:
            check_token_budget(self.runtime.max_tokens, max_length)
        self.source = None if source is None else str(source)
        self.labels = [str(x) for x in labels]
        self.config = config
        self.tokenizer_source = None if tokenizer_source is None else str(tokenizer_source)
        self.max_length = int(max_length)
        self.batch_size = None if batch_size is None else int(batch_size)
        self.seed = int(seed)
        self.train_config = train_config or TrainConfig()
        self.trust_remote_code = bool(trust_remote_code)
        self._int8_model: Any = None
        self._model: Any = None
        self._tokenizer: Any = None
        self.fitted = False

    # -------------------------------------------------------------------------------------------- parameters
    def get_params(self) -> dict[str, Any]:
        """The constructor's arguments, read back from the attributes of the same names.

        Example:
            >>> sorted(TextClassifier("m", labels=["a", "b"]).get_params())[:3]
            ['batch_size', 'config', 'labels']
        """
        return {n: getattr(self, n) for n in self.param_names()}

    @classmethod
    def param_names(cls) -> list[str]:
        """The constructor's parameter names, in order."""
        return [n for n in inspect.signature(cls.__init__).parameters if n != "self"]

    def clone(self) -> TextClassifier:
        """A fresh, unfitted copy with the same parameters: it starts from the same weights this one did."""
        return type(self)(**self.get_params())

    def with_runtime(self, runtime: Runtime) -> TextClassifier:
        """A view that shares this classifier's weights (and their training) but infers with ``runtime`` (e.g. bf16
        while generating adversarial training data); the device must be the same.

        Example:
            >>> fast = clf.with_runtime(clf.runtime.replace(precision="bf16"))  # doctest: +SKIP
        """
        if runtime.resolved_device != self.runtime.resolved_device:
            raise ConfigError(f"with_runtime: a view shares the weights, so it keeps the device {self.device}")
        self.model  # noqa: B018 - load the weights first, so that the view shares them
        view = copy.copy(self)
        view.runtime, view._int8_model = runtime, None
        return view

    def __repr__(self) -> str:
        src = self.source or "config"
        return f"TextClassifier({src!r}, labels={self.labels}, max_length={self.max_length}, fitted={self.fitted})"

    # ------------------------------------------------------------------------------------------------ loading
    @property
    def device(self) -> str:
        """The resolved device (from the runtime)."""
        return self.runtime.resolved_device

    @property
    def token_budget(self) -> int:
        """Tokens (rows x padded width) per inference batch (from the runtime)."""
        return self.runtime.token_budget

    @property
    def tokenizer(self) -> Any:
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            name = self.tokenizer_source or self.source
            try:
                tok = AutoTokenizer.from_pretrained(name, trust_remote_code=self.trust_remote_code)
            except Exception as e:
                raise ModelError(_load_message("tokenizer", name, e)) from None
            if tok.pad_token is None and (tok.eos_token or tok.unk_token) is not None:
                # Decoder tokenizers (GPT-2, Qwen and Llama exports) have no padding token: pad with EOS. The
                # attention mask hides it, and the classification head reads the last real token.
                tok.pad_token = tok.eos_token or tok.unk_token
            self._tokenizer = tok
        return self._tokenizer

    @property
    def model(self) -> Any:
        """The torch module (loaded on first use, on the runtime's device, fp32 master weights)."""
        if self._model is None:
            model = self._build_model()
            if getattr(model.config, "pad_token_id", None) is None and self.tokenizer.pad_token_id is not None:
                # A decoder's sequence-classification head finds each row's last token through pad_token_id.
                model.config.pad_token_id = self.tokenizer.pad_token_id
            self._model = self.runtime.place(model)
        return self._model

    def _build_model(self) -> Any:
        import torch
        from transformers import AutoModelForSequenceClassification
        from transformers.utils import logging as hf_logging

        id2label = dict(enumerate(self.labels))
        label2id = {v: k for k, v in id2label.items()}
        # The head is initialised from torch's global RNG: fix it so clones start from identical weights.
        # transformers reports the freshly initialised head on every load; that is expected here, so quiet it.
        verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            try:
                if self.config is not None and self.source is None:
                    cfg = copy.deepcopy(self.config)
                    cfg.num_labels, cfg.id2label, cfg.label2id = len(self.labels), id2label, label2id
                    return AutoModelForSequenceClassification.from_config(cfg)
                return AutoModelForSequenceClassification.from_pretrained(
                    self.source,
                    num_labels=len(self.labels),
                    id2label=id2label,
                    label2id=label2id,
                    trust_remote_code=self.trust_remote_code,
                )
            except ModelError:
                raise
            except Exception as e:
                raise ModelError(_load_message("model", self.source, e)) from None
            finally:
                hf_logging.set_verbosity(verbosity)
                if bars:
                    hf_logging.enable_progress_bar()

    # ---------------------------------------------------------------------------------------------- inference
    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids per text, truncated to ``max_length``, unpadded."""
        if not texts:
            return []
        # An empty text still gets [CLS] [SEP]; a space keeps tokenizers that return nothing for "" happy.
        enc = self.tokenizer(
            [t if t else " " for t in texts], truncation=True, max_length=self.max_length, padding=False
        )
        return enc["input_ids"]

    def predict_proba(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        """Class probabilities, shape ``(len(texts), len(labels))``, in the input order.

        Batches hold at most :attr:`token_budget` tokens (rows x padded width), longest texts first;
        ``batch_size`` (here or in the constructor) asks for fixed row counts instead. The batching never changes
        the result beyond float rounding.

        Example:
            >>> clf.predict_proba(["great", "awful"]).argmax(1)  # doctest: +SKIP
            array([1, 0])
        """
        import torch

        from .batching import plan_batches

        if isinstance(texts, str):
            raise ConfigError("predict_proba takes a list of texts, not a single string")
        n = len(texts)
        if n == 0:
            return np.empty((0, len(self.labels)), dtype=np.float32)
        ids = self.encode(texts)
        rows = batch_size or self.batch_size
        rt, budget = self.runtime, None if rows else self.token_budget
        multiple = rt.pad_multiple
        batches = plan_batches(
            [len(x) for x in ids],
            batch_size=rows,
            max_tokens=budget,
            multiple=multiple,
            limit=self.max_length,
            one_width=rt.one_width_batches,
        )
        model = self.inference_model()
        was_training = model.training
        model.eval()
        chunks = []
        try:
            with torch.inference_mode(), self.runtime.autocast():
                for idx in batches:
                    batch = self.pad([ids[i] for i in idx], multiple=multiple, max_tokens=budget, batch_size=rows)
                    # Stay on the device: one copy to the host at the end instead of a sync per batch. Rows past
                    # len(idx) are the bucketed shape's copies (Runtime.bucketed_shapes).
                    chunks.append(torch.softmax(model(**batch).logits[: len(idx)].float(), dim=-1))
            sorted_probs = torch.cat(chunks).cpu().numpy()
        finally:
            model.train(was_training)
        out = np.empty_like(sorted_probs)
        out[np.concatenate(batches)] = sorted_probs
        return out

    def inference_model(self) -> Any:
        """The module ``predict_proba`` runs: the model, or its int8 copy under ``precision="int8"``."""
        if not self.runtime.int8:
            return self.model
        if self._int8_model is None:
            self._int8_model = self.runtime.inference_module(self.model)
        return self._int8_model

    def forget_inference_copies(self) -> None:
        """Drop the int8 copy (it is rebuilt from the current weights on the next ``predict_proba``)."""
        self._int8_model = None

    def predict(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        """Predicted label indices."""
        return self.predict_proba(texts, batch_size).argmax(axis=1)

    def pad(
        self,
        seqs: Sequence[Sequence[int]],
        *,
        multiple: int = 8,
        max_tokens: int | None = None,
        batch_size: int | None = None,
    ) -> dict[str, torch.Tensor]:
        """Pad a batch of id lists to its own longest member (rounded up to ``multiple``, which keeps the number of
        distinct shapes small for GPU kernels) and move it to the device in one transfer. ``predict_proba`` passes
        the runtime's :attr:`~textrobust.models.runtime.Runtime.pad_multiple` and its plan's ``max_tokens`` or
        ``batch_size`` (bucketed shapes, :func:`~textrobust.models.batching.pad_batch`); training keeps multiples
        of 8 and its own rows."""
        from .batching import pad_batch

        pad_id = self.tokenizer.pad_token_id or 0
        return pad_batch(
            seqs,
            pad_id,
            self.runtime,
            multiple=multiple,
            limit=self.max_length,
            max_tokens=max_tokens,
            batch_size=batch_size,
        )

    # ----------------------------------------------------------------------------------------------- training
    def fit(
        self,
        train: LabeledData,
        eval: LabeledData | None = None,
        *,
        config: TrainConfig | None = None,
        epoch_callback: Callable[..., tuple[list[str], list[int]]] | None = None,
        progress: bool = True,
        on_progress: Callable[[str], None] | None = None,
    ) -> TextClassifier:
        """Fine-tune on ``train`` (see :func:`textrobust.models.finetune.fit`); returns ``self``.

        ``epoch_callback(model, epoch, texts, labels) -> (extra_texts, extra_labels)`` runs before every epoch
        after the first; what it returns is added to that epoch's data (online adversarial training).
        ``on_progress`` hears ``epoch 2/3 · 41%`` as training moves on.
        """
        from .finetune import fit as _fit

        if config is not None:
            self.train_config = config
        self.forget_inference_copies()
        _fit(
            self,
            train,
            eval,
            self.train_config,
            epoch_callback=epoch_callback,
            progress=progress,
            on_progress=on_progress,
        )
        self.forget_inference_copies()
        self.fitted = True
        return self

    # ------------------------------------------------------------------------------------------- save / load
    def save(self, directory: str | os.PathLike) -> Path:
        """Write weights (safetensors), tokenizer and ``textrobust.json`` (every other parameter, see
        :attr:`SAVED_AS_FILES`)."""
        from transformers.utils import logging as hf_logging

        directory = Path(directory)
        bars = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()
        with atomic_path(directory, directory=True) as tmp:
            try:
                self.model.save_pretrained(tmp)
            except OSError:
                raise
            except Exception as e:  # safetensors reports a full disk as its own SafetensorError, not OSError
                if "I/O error" not in str(e):
                    raise
                raise OSError(f"cannot write the model to {directory}: {str(e).split(': ', 1)[-1]}") from None
            self.tokenizer.save_pretrained(tmp)
            params = {k: v for k, v in self.get_params().items() if k not in self.SAVED_AS_FILES}
            meta = {
                **params,
                "train_config": asdict(self.train_config),
                "runtime": self.runtime.to_dict(),
                "base_model": self.source,
                "fitted": self.fitted,
            }
            (tmp / META_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
        if bars:
            hf_logging.enable_progress_bar()
        return directory

    @classmethod
    def load(
        cls,
        directory: str | os.PathLike,
        *,
        runtime: Runtime | None = None,
        batch_size: int | None = None,
        max_length: int | None = None,
    ) -> TextClassifier:
        """Load a classifier saved with :meth:`save`: every parameter as saved, except those given here (how this
        machine should run it: ``runtime``; fixed inference rows: ``batch_size``; truncation: ``max_length``).

        Example:
            >>> clf = TextClassifier.load("runs/minilm-sst2", runtime=Runtime(device="cpu"))  # doctest: +SKIP
        """
        directory = Path(directory)
        if not directory.is_dir():
            raise ModelError(f"{directory}: no such model folder; train one with 'textrobust train'")
        meta_path = directory / META_FILE
        if not meta_path.exists():
            raise ModelError(
                f"{directory}: not a textrobust model directory (no {META_FILE}); train one with 'textrobust train'"
            )
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            plain = set(cls.param_names()) - set(cls.SAVED_AS_FILES) - {"train_config", "runtime"}
            params = {k: meta[k] for k in plain if k in meta}
            params["train_config"] = TrainConfig(**meta.get("train_config", {}))
            params["runtime"] = runtime or Runtime.from_dict(meta.get("runtime"))
        except (json.JSONDecodeError, TypeError, KeyError, ConfigError) as e:
            raise ModelError(f"{meta_path}: corrupt metadata ({e}); retrain or restore the file") from None
        if batch_size is not None:
            params["batch_size"] = batch_size
        if max_length is not None:
            params["max_length"] = max_length
        clf = cls(directory, **params)
        clf.fitted = bool(meta.get("fitted", True))
        return clf


def _load_message(what: str, name: str | None, err: Exception) -> str:
    first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    if name and not Path(name).exists():
        return (
            f"cannot load {what} '{name}': not a local directory and it could not be fetched from the "
            f"Hugging Face hub (offline?) — give a local path ({first})"
        )
    return f"cannot load {what} from '{name}': {first}"
