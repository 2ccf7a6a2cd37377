"""How a model runs here: one frozen :class:`Runtime`, built once per run, handed to every model the run builds.

What varies, and nothing else:

* ``device`` — ``auto`` (CUDA when a GPU is visible, else the CPU), ``cpu``, ``cuda``, ``cuda:N`` or ``mps``;
* ``precision`` — ``auto`` (bf16 autocast on CUDA, fp16 where the GPU has no bf16; exact fp32 on the CPU),
  ``fp32`` (no autocast anywhere), ``bf16`` (also on the CPU, for inference: fast on CPUs with AVX512-BF16/AMX,
  probabilities move by ~1e-3), ``fp16`` (CUDA only) or ``int8`` (CPU only: dynamic int8 quantisation of the
  linear layers for inference; not exact, see :func:`quantize_int8`). Training keeps fp32 master weights and
  autocasts on CUDA; on the CPU it is always fp32;
* ``max_tokens`` — the token budget of one forward pass (rows x padded width; default per device and, on CUDA,
  per role: sentence encoders get a larger one, :func:`~textrobust.models.batching.default_token_budget`); on the
  CPU an inference batch also ends where the padded width changes (:attr:`Runtime.one_width_batches`), on CUDA
  its shape is bucketed (:attr:`Runtime.bucketed_shapes`);
* ``threads`` — torch's intra-op threads (default: torch's own choice), set by :meth:`Runtime.apply_threads`;
* ``max_length`` — the truncation length of models that do not set their own (sentence encoders, masked LMs,
  Hugging Face classifiers loaded as they are); a :class:`~textrobust.models.TextClassifier` keeps its own.

This module is the only place that resolves a device or opens autocast: the classifier, the encoders, the masked
and causal LMs, translators and remote models all take a ``runtime=`` and ask it. ``precision="auto"`` also lets
the library choose bf16 where exactness does not matter and the CPU computes it natively: attacks that only
generate adversarial *training* data run in bf16 there (:meth:`Runtime.for_training_data`).

Example:
    >>> rt = Runtime(device="cpu", precision="fp32", max_tokens=2048)
    >>> rt.token_budget, rt.resolved_device
    (2048, 'cpu')
    >>> Runtime(precision="fp64")
    Traceback (most recent call last):
    ...
    textrobust.errors.ConfigError: precision 'fp64': use auto, fp32, bf16, fp16 or int8
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError

PRECISIONS = ("auto", "fp32", "bf16", "fp16", "int8")
#: Truncation of every model that does not set its own (the classifier's default too): one number, not three.
DEFAULT_MAX_LENGTH = 128
_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


@dataclass(frozen=True)
class Runtime:
    """Device, precision, token budget, threads and default truncation of the models of one run (see the module
    docstring). Frozen and picklable: it travels to worker processes and Ray tasks as it is.

    Example:
        >>> Runtime().replace(device="cpu").device
        'cpu'
    """

    device: str = "auto"
    precision: str = "auto"
    max_tokens: int | None = None
    threads: int | None = None
    max_length: int = DEFAULT_MAX_LENGTH

    def __post_init__(self) -> None:
        if not isinstance(self.device, str) or not _DEVICE.match(self.device):
            raise ConfigError(f"device {self.device!r}: use auto, cpu, cuda, cuda:N or mps")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision {self.precision!r}: use auto, fp32, bf16, fp16 or int8")
        if self.max_length < 2:
            raise ConfigError(f"max_length {self.max_length}: give at least 2 tokens")
        if self.threads is not None and self.threads < 1:
            raise ConfigError(f"threads {self.threads}: give a positive number of torch threads")
        if self.max_tokens is not None:
            check_token_budget(self.max_tokens, self.max_length)
        if self.device == "cpu" and self.precision == "fp16":
            raise ConfigError("precision fp16 needs a CUDA device; on the CPU use fp32, bf16 or int8")
        if self.device.startswith("cuda") and self.precision == "int8":
            raise ConfigError("precision int8 is a CPU mode (dynamic quantisation); on CUDA use auto, bf16 or fp16")

    # ------------------------------------------------------------------------------------------------ building
    def replace(self, **changes: Any) -> Runtime:
        """A copy with ``changes`` (checked like a new one)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The fields as plain values (for ``textrobust.json`` and fingerprints)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Runtime:
        """Inverse of :meth:`to_dict`; unknown keys are an error naming them."""
        data = dict(data or {})
        unknown = sorted(set(data) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ConfigError(f"runtime: unknown setting(s) {unknown}")
        return cls(**data)

    def check(self) -> Runtime:
        """Resolve the device now (a missing GPU or an impossible precision fails here, before any model loads)."""
        device = self.resolved_device
        if device.startswith("cuda") and self.precision == "int8":
            raise ConfigError("precision int8 is a CPU mode; this run's device resolved to CUDA: pass --device cpu")
        if not device.startswith("cuda") and self.precision == "fp16":
            raise ConfigError(f"precision fp16 needs a CUDA device; the device resolved to {device}")
        return self

    # ------------------------------------------------------------------------------------------- questions
    @property
    def resolved_device(self) -> str:
        """``auto`` resolved (``cuda`` or ``cpu``); an explicit device checked against what torch sees."""
        return resolve_device(self.device)

    @property
    def on_cuda(self) -> bool:
        return self.resolved_device.startswith("cuda")

    @property
    def token_budget(self) -> int:
        """Tokens (rows x padded width) per forward pass of a classifier (or LM): ``max_tokens``, else the
        device's default."""
        return self.token_budget_for("classifier")

    def token_budget_for(self, role: str) -> int:
        """The token budget of a forward pass computing ``role`` (``classifier`` or ``encoder``): ``max_tokens``
        when given (one number for every model of the run), else the device's default for that role (larger for
        sentence encoders on CUDA, see :func:`~textrobust.models.batching.default_token_budget`).

        Example:
            >>> Runtime(device="cpu", max_tokens=2048).token_budget_for("encoder")
            2048
        """
        from .batching import default_token_budget

        return self.max_tokens or default_token_budget(self.resolved_device, role)

    @property
    def one_width_batches(self) -> bool:
        """Whether inference batches hold rows of one padded width only (cut where the width changes): on the CPU.

        A CPU forward pass costs by the token, padding included, and a small batch costs little more per token
        than a full one: attack-sized calls of MiniLM (90-200 texts) ran 1.3-1.6x faster cut at width changes,
        with the same outputs (``benchmarks/inference_bench.py --sweep cuts``; RESULTS.md, "One padded width per
        batch"). A GPU is bound by launches at these sizes: there full token-budget batches stay.
        """
        return not self.resolved_device.startswith(("cuda", "mps"))

    @property
    def bucketed_shapes(self) -> bool:
        """Whether inference batches are padded to a few shapes: widths to multiples of 16 (:attr:`pad_multiple`),
        rows up to a power of two but never past a full batch (:func:`~textrobust.models.batching.bucket_rows`;
        the extra rows repeat the first and their outputs are dropped): on CUDA.

        Attacks send calls of every size, and on a GPU each new (rows, width) shape paid a kernel-selection
        warm-up: an H100 probe (``benchmarks/attack_bench.py``'s docstring) ran the same random-size calls 5.5x
        faster bucketed, with identical outputs; ``inference_bench.py --sweep shapes`` measures it on the device
        at hand. On the CPU the extra rows would only add work.
        """
        return self.on_cuda

    @property
    def pad_multiple(self) -> int:
        """What an inference batch's width is rounded up to: 16 under :attr:`bucketed_shapes`, else 8."""
        return 16 if self.bucketed_shapes else 8

    @property
    def int8(self) -> bool:
        """Inference through int8 copies of the linear layers (CPU only)."""
        return self.precision == "int8" and not self.on_cuda

    def for_training_data(self) -> Runtime:
        """The runtime of attacks that only make adversarial *training* data: with ``precision="auto"`` on a CPU
        that computes bf16 natively, bf16 (MiniLM ran ~3x faster there; a few borderline swaps differ, which
        does not matter for training data). Any explicit precision is kept.

        Example:
            >>> Runtime(device="cpu", precision="fp32").for_training_data().precision
            'fp32'
        """
        if self.precision == "auto" and not self.on_cuda and cpu_has_fast_bf16():
            return self.replace(precision="bf16")
        return self

    # --------------------------------------------------------------------------------------------- actions
    def apply_threads(self) -> None:
        """Set torch's intra-op threads when ``threads`` is given (a process-wide setting: call it once, at the
        start of a command or a worker)."""
        if self.threads is not None:
            import torch

            torch.set_num_threads(self.threads)

    def autocast(self, *, training: bool = False) -> Any:
        """The precision context of a forward pass: bf16 (fp16 where unsupported, or asked) autocast on CUDA with
        attention kept off cuDNN; bf16 autocast for CPU inference with ``precision="bf16"``; otherwise nothing.

        cuDNN attention builds a new plan for every (batch, length) shape, which made per-batch padding several
        times slower on an H100 (torch 2.11); flash / memory-efficient / math kernels do not.
        """
        import torch

        if self.on_cuda:
            if self.precision == "fp32":
                return contextlib.nullcontext()
            stack = contextlib.ExitStack()
            stack.enter_context(torch.autocast("cuda", dtype=self._cuda_dtype()))
            with contextlib.suppress(ImportError):  # older torch: no backend selection
                from torch.nn.attention import SDPBackend, sdpa_kernel

                stack.enter_context(
                    sdpa_kernel([SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH])
                )
            return stack
        if self.precision == "bf16" and not training and self.resolved_device == "cpu":
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def grad_scaler(self) -> Any:
        """A loss scaler when training autocasts to fp16 (CUDA without bf16, or ``precision="fp16"``), else None."""
        import torch

        if self.on_cuda and self.precision != "fp32" and self._cuda_dtype() == torch.float16:
            return torch.amp.GradScaler("cuda")
        return None

    def place(self, module: Any, *, cast: bool = False) -> Any:
        """``module`` on the device, in eval mode. ``cast=True`` (models that only generate, never train) also
        stores the weights in the compute precision: bf16 (or fp16) on CUDA, bf16 on the CPU with
        ``precision="bf16"``; otherwise fp32, the master weights autocast computes from."""
        import torch

        dtype = torch.float32
        if cast and self.on_cuda and self.precision != "fp32":
            dtype = self._cuda_dtype()
        elif cast and self.precision == "bf16":
            dtype = torch.bfloat16
        if any(p.dtype != dtype for p in module.parameters()):
            module = module.to(dtype=dtype)
        return module.to(self.resolved_device).eval()

    def inference_module(self, module: Any) -> Any:
        """What inference runs: an int8 copy of ``module`` when ``precision="int8"`` on the CPU, else ``module``.
        Owners cache the copy and drop it when the weights change."""
        return quantize_int8(module) if self.int8 else module

    def _cuda_dtype(self) -> Any:
        import torch

        if self.precision == "fp16" or not torch.cuda.is_bf16_supported():
            return torch.float16
        return torch.bfloat16


def check_token_budget(max_tokens: int, max_length: int, who: str = "max_tokens") -> None:
    """A token budget must hold at least one row of ``max_length`` tokens (else every batch would overflow it).

    Example:
        >>> check_token_budget(64, 128)
        Traceback (most recent call last):
        ...
        textrobust.errors.ConfigError: max_tokens 64 is below one row of max_length 128: give at least 128
    """
    if max_tokens < 1 or max_tokens < max_length:
        raise ConfigError(f"{who} {max_tokens} is below one row of max_length {max_length}: give at least {max_length}")


@functools.lru_cache(maxsize=8)
def resolve_device(device: str = "auto") -> str:
    """``auto`` -> ``cuda`` when a GPU is visible, else ``cpu``; explicit devices are checked and returned."""
    import torch

    if not _DEVICE.match(device):
        raise ConfigError(f"device {device!r}: use auto, cpu, cuda, cuda:N or mps")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} requested but no CUDA GPU is available; use --device cpu or auto")
    if device == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("device 'mps' requested but this torch sees no Apple GPU; use --device cpu or auto")
    return device


@functools.lru_cache(maxsize=1)
def cpu_has_fast_bf16() -> bool:
    """True when the CPU does bf16 matrix maths natively (AVX512-BF16 or AMX; read from ``/proc/cpuinfo``).

    Elsewhere torch emulates bf16 and autocast would slow inference down.
    """
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="ignore")
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def quantize_int8(module: Any) -> Any:
    """A copy of ``module`` whose linear layers run in int8 on the CPU (dynamic quantisation: int8 weights,
    activations quantised per batch); the original is untouched.

    Not exact, so opt-in: on a MiniLM fine-tuned on MR it ran 1.8x fp32 on attack queries but moved probabilities by
    up to 0.51 and flipped 3% of the predicted labels (benchmarks/RESULTS.md, "CPU inference modes").
    torch 2.13 deprecates its quantised tensors (pytorch issue 184982) without a built-in replacement for
    ``quantize_dynamic``; the warning is silenced here and the path stays opt-in until torch removes it.
    """
    import copy
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(
            copy.deepcopy(module).cpu().eval(), {torch.nn.Linear}, dtype=torch.qint8
        )


__all__ = [
    "DEFAULT_MAX_LENGTH",
    "PRECISIONS",
    "Runtime",
    "check_token_budget",
    "cpu_has_fast_bf16",
    "quantize_int8",
    "resolve_device",
]
