"""Small helpers shared by the benchmark scripts: environment record, device-synchronised timing, tables, the
runtime options every model-running benchmark takes, and the classifier architectures they compare."""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def quiet_libraries() -> None:
    """Silence transformers / datasets / textrobust logging, progress bars and warnings, so a benchmark prints only
    its table."""
    import contextlib
    import logging
    import warnings

    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    logging.getLogger("textrobust").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore")
    with contextlib.suppress(Exception):  # datasets is optional here (see train_bench.hf_dataset)
        import datasets

        datasets.disable_progress_bars()
        datasets.logging.set_verbosity_error()


def sync(device: str) -> None:
    """Wait for queued GPU work so wall-clock timings are honest."""
    if str(device).startswith("cuda"):
        import torch

        torch.cuda.synchronize()


class Timer:
    """``with Timer(device) as t: ...`` then ``t.seconds``; synchronises the GPU on entry and exit."""

    def __init__(self, device: str) -> None:
        self.device = device
        self.seconds = float("nan")

    def __enter__(self) -> Timer:  # noqa: PYI034
        sync(self.device)
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        sync(self.device)
        self.seconds = time.perf_counter() - self._t0


class Timed:
    """Proxy timing calls to ``method`` of ``inner`` (``"__call__"`` for callables); other attributes forward.
    Counts ``seconds``, ``calls`` and ``items`` (length of the first argument)."""

    def __init__(self, inner: Any, method: str, record: bool = False) -> None:
        self._inner, self._method = inner, method
        self.seconds, self.calls, self.items = 0.0, 0, 0
        self.recorded: list[Any] | None = [] if record else None  # every first argument's items, in order

    def _timed(self, *args: Any, **kw: Any) -> Any:
        t = time.perf_counter()
        try:
            return getattr(self._inner, self._method)(*args, **kw)
        finally:
            self.seconds += time.perf_counter() - t
            self.calls += 1
            self.items += len(args[0]) if args else 0
            if self.recorded is not None and args:
                self.recorded.extend(args[0])

    def __getattr__(self, name: str) -> Any:
        if name == self._method:
            return self._timed
        return getattr(self._inner, name)

    def __call__(self, *args: Any, **kw: Any) -> Any:
        return self._timed(*args, **kw)


def environment(device: str) -> dict[str, Any]:
    """Versions, device name, thread counts and the UTC date, for the header and the JSON record."""
    import torch
    import transformers

    env: dict[str, Any] = {
        "date_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "device": device,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
    }
    try:
        env["cpu_affinity"] = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        pass
    try:
        import accelerate

        env["accelerate"] = accelerate.__version__
    except ImportError:
        env["accelerate"] = None
    if str(device).startswith("cuda"):
        env["device_name"] = torch.cuda.get_device_name(0)
        env["cuda"] = torch.version.cuda
        env["bf16_supported"] = torch.cuda.is_bf16_supported()
    else:
        env["device_name"] = platform.processor() or platform.machine()
    return env


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain fixed-width text table (first column left-aligned, the rest right-aligned)."""
    cells = [[str(h) for h in headers]] + [[_fmt(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for k, r in enumerate(cells):
        parts = [r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)]
        lines.append("  ".join(parts).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(x: Any) -> str:
    if isinstance(x, float):
        if math.isnan(x):
            return "-"
        return f"{x:,.1f}" if abs(x) >= 100 else f"{x:.2f}"
    return str(x)


def write_json(path: str | os.PathLike, record: dict[str, Any]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")


# ------------------------------------------------------------------------------------- runtime and models
#: Classifier architectures the GPU benchmarks compare (``--arch``): the packaged all-MiniLM-L6-v2 (22M parameters,
#: 6 layers x 384) and a BERT-base-size model (110M parameters, 12 layers x 768, randomly initialised from a
#: ``BertConfig`` with MiniLM's tokenizer: its throughput is BERT-base's, its accuracy is not a pretrained one's).
ARCHS = ("minilm", "bert-base")

#: BERT-base dimensions (Devlin et al. 2019): what ``--arch bert-base`` builds.
BERT_BASE = {
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "max_position_embeddings": 512,
    "type_vocab_size": 2,
}


def add_runtime_args(p: argparse.ArgumentParser, *, device: str = "auto", threads: bool = True) -> None:
    """``--device``, ``--precision`` and ``--max-tokens`` (and ``--threads``): the fields of a
    :class:`textrobust.models.Runtime`, as the CLI names them."""
    p.add_argument("--device", default=device, help="auto, cpu, cuda or cuda:N (models.Runtime)")
    p.add_argument(
        "--precision",
        default="auto",
        choices=["auto", "fp32", "bf16", "fp16", "int8"],
        help="models.Runtime precision (auto: bf16 autocast on CUDA, fp32 on the CPU)",
    )
    p.add_argument("--max-tokens", type=int, default=None, help="token budget per forward pass (default: the device's)")
    if threads:
        p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")


def runtime_from_args(args: argparse.Namespace, **changes: Any) -> Any:
    """The :class:`textrobust.models.Runtime` of ``args`` (see :func:`add_runtime_args`), checked, with its threads
    applied to this process."""
    from textrobust.models import Runtime

    fields = {
        "device": getattr(args, "device", "auto"),
        "precision": getattr(args, "precision", "auto"),
        "max_tokens": getattr(args, "max_tokens", None),
        "threads": getattr(args, "threads", None),
    }
    rt = Runtime(**{**fields, **changes}).check()
    rt.apply_threads()
    return rt


def add_arch_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--arch",
        default="minilm",
        choices=ARCHS,
        help="classifier: minilm (all-MiniLM-L6-v2, pretrained) or bert-base (BERT-base dimensions, random "
        "initialisation, MiniLM's tokenizer; for throughput only)",
    )


def bert_base_config(tokenizer_source: str) -> Any:
    """A ``BertConfig`` with BERT-base dimensions and the vocabulary of ``tokenizer_source``."""
    from transformers import AutoConfig, BertConfig

    vocab = AutoConfig.from_pretrained(tokenizer_source).vocab_size
    return BertConfig(vocab_size=vocab, **BERT_BASE)


def build_classifier(
    arch: str,
    *,
    labels: Sequence[str],
    runtime: Any,
    base: str | None = None,
    max_length: int = 128,
    batch_size: int | None = None,
    seed: int = 0,
    train_config: Any = None,
) -> Any:
    """A new :class:`textrobust.models.TextClassifier` of ``arch`` (see :data:`ARCHS`). ``base``: the MiniLM
    directory (default: the packaged one); for ``bert-base`` it gives only the tokenizer."""
    from textrobust.models import TextClassifier, minilm_path

    base = base or minilm_path()
    kw: dict[str, Any] = {
        "labels": list(labels),
        "max_length": max_length,
        "batch_size": batch_size,
        "seed": seed,
        "train_config": train_config,
        "runtime": runtime,
    }
    if arch == "minilm":
        return TextClassifier(base, **kw)
    if arch == "bert-base":
        return TextClassifier(None, config=bert_base_config(base), tokenizer_source=base, **kw)
    raise SystemExit(f"unknown --arch {arch!r}; use one of {', '.join(ARCHS)}")


def describe_arch(arch: str, model: Any = None) -> str:
    """One line for a benchmark header: the architecture and, when the model is given, its parameter count."""
    what = {
        "minilm": "all-MiniLM-L6-v2 (pretrained, 6 layers x 384)",
        "bert-base": "BERT-base dimensions (12 layers x 768), random initialisation, MiniLM tokenizer",
    }.get(arch, arch)
    if model is not None:
        what += f", {sum(p.numel() for p in model.parameters()) / 1e6:.1f}M parameters"
    return what
