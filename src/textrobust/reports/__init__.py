"""Reports (``textrobust.reports``): one self-contained HTML page and a JSON twin from a run directory.

Reports read what the robustness harness wrote (``config.json``, ``environment.json``, ``results.*``,
``summary.json``, ``units/``) and never recompute scores. The schema is documented in
``docs/report-schema.md``.

Example:
    >>> from textrobust.reports import build_report
    >>> build_report("runs/sst2-aug")  # doctest: +SKIP
    PosixPath('runs/sst2-aug/report.html')
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["build_report"]


def build_report(run_dir: str | os.PathLike, output: str | os.PathLike | None = None) -> Path:
    """Write ``report.html`` (default ``run_dir/report.html``) and its JSON twin; return the HTML path.

    Raises :class:`textrobust.errors.DataError` when ``run_dir`` is missing or corrupt.
    """
    from .render import build_report as _build  # jinja2/pandas load only when a report is built

    return _build(run_dir, output)
