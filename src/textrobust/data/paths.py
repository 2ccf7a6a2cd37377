"""Where the shared datasets and word resources live.

Tests, benchmarks and examples read ``../shared/data`` through this one function so the location can be changed
with the ``TEXTROBUST_DATA_DIR`` environment variable (never copy those files into the repository).
"""

from __future__ import annotations

import os
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parents[3]


def shared_data_dir() -> Path:
    """Return the shared data directory: ``$TEXTROBUST_DATA_DIR`` or ``<repo>/../shared/data``.

    Example:
        >>> (shared_data_dir() / "sst2" / "dev.tsv").name
        'dev.tsv'
    """
    env = os.environ.get("TEXTROBUST_DATA_DIR")
    if env:
        return Path(env).expanduser().resolve()
    return (_REPO_ROOT / ".." / "shared" / "data").resolve()


def demo_data_path() -> Path:
    """The demo dataset shipped with the package (used by the quickstart; needs no download)."""
    return Path(__file__).resolve().parents[1] / "resources" / "demo_reviews.csv"
