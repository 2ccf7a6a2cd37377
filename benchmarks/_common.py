"""Small helpers shared by the benchmark scripts: environment record, device-synchronised timing, tables."""

from __future__ import annotations

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
    with contextlib.suppress(ImportError, AttributeError):
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
