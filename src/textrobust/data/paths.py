"""Where the shared datasets and word resources live.

Tests, benchmarks, examples and ``{data_dir}`` in experiment files find ``shared/data`` through
:func:`shared_data_dir`, by one documented rule that does not depend on where textrobust is installed (an
installed wheel has no source tree to climb out of):

1. ``$TEXTROBUST_DATA_DIR`` when set;
2. else ``shared/data`` beside the current directory or beside one of its parents, i.e. ``../shared/data`` seen
   from a checkout's root (or any folder inside it), which is where the development layout keeps it;
3. else ``../shared/data`` from the current directory, which does not exist: callers say it is missing.

Never copy those files into the repository.
"""

from __future__ import annotations

import os
from pathlib import Path


def shared_data_dir() -> Path:
    """The shared data directory (see the module notes for the rule).

    Example:
        >>> (shared_data_dir() / "sst2" / "dev.tsv").name
        'dev.tsv'
    """
    env = os.environ.get("TEXTROBUST_DATA_DIR")
    if env:
        return Path(env).expanduser().resolve()
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        candidate = folder.parent / "shared" / "data"
        if candidate.is_dir():
            return candidate
    return (here.parent / "shared" / "data").resolve()


def demo_data_path() -> Path:
    """The demo dataset shipped with the package (used by the quickstart; needs no download)."""
    return Path(__file__).resolve().parents[1] / "resources" / "demo_reviews.csv"
