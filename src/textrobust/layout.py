"""The run directory's file names, in one block: what ``textrobust run`` / ``scan`` write, what executors move,
what reports read.

::

    config.json  config.yaml      resolved spec
    environment.json              versions, device, runtime, git commit, command, timing
    results.csv  results.parquet  tidy: condition, seed, evaluation, metric, value
    outcomes.parquet              per-example outcomes of every unit
    summary.json                  statistics per condition/evaluation/metric, metric metadata, unit status
    report.html  report.json      the report and its JSON twin
    fix.json  fix.html  fix.md    textrobust fix: selection, targeted rows, verdicts (and junit.xml)
    .lock                         held while a run writes here
    units/<condition>/seed<k>/    metrics.json, outcomes.parquet, examples.jsonl, augmented_sample.jsonl,
                                  generated_sample.jsonl, targeted_sample.jsonl, model/ (kept when another
                                  condition attacks it), done.json (or failed.json), written last
    cache/                        augmented and generated training rows, keyed by fingerprint;
      model_calls.sqlite          answers of prompted LMs and chat endpoints, keyed by model and text

Standard library only: any layer (the runner, the Ray executor, the report) may import it.

Example:
    >>> run = RunLayout("runs/x")
    >>> str(run.summary), str(run.unit("baseline", 0).done)
    ('runs/x/summary.json', 'runs/x/units/baseline/seed0/done.json')
    >>> run.unit_prefix("baseline", 0)
    'units/baseline/seed0'
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

#: Written last in a unit directory: a unit counts as finished (or failed) only once one of these exists.
MARKERS = ("done.json", "failed.json")


@dataclass(frozen=True)
class UnitLayout:
    """The files of one condition x seed unit."""

    dir: Path

    @property
    def metrics(self) -> Path:
        return self.dir / "metrics.json"

    @property
    def outcomes(self) -> Path:
        return self.dir / "outcomes.parquet"

    @property
    def examples(self) -> Path:
        return self.dir / "examples.jsonl"

    @property
    def augmented_sample(self) -> Path:
        return self.dir / "augmented_sample.jsonl"

    @property
    def generated_sample(self) -> Path:
        return self.dir / "generated_sample.jsonl"

    @property
    def targeted_sample(self) -> Path:
        return self.dir / "targeted_sample.jsonl"

    @property
    def model(self) -> Path:
        """The trained model, kept only when another condition attacks it (``targeted``: ``textrobust fix``)."""
        return self.dir / "model"

    @property
    def done(self) -> Path:
        return self.dir / MARKERS[0]

    @property
    def failed(self) -> Path:
        return self.dir / MARKERS[1]


@dataclass(frozen=True)
class RunLayout:
    """The files of a run directory ``root`` (see the module docstring)."""

    root: Path

    def __init__(self, root: str | os.PathLike) -> None:
        object.__setattr__(self, "root", Path(root))

    config_json = property(lambda self: self.root / "config.json")
    config_yaml = property(lambda self: self.root / "config.yaml")
    environment = property(lambda self: self.root / "environment.json")
    results_csv = property(lambda self: self.root / "results.csv")
    results_parquet = property(lambda self: self.root / "results.parquet")
    outcomes = property(lambda self: self.root / "outcomes.parquet")
    summary = property(lambda self: self.root / "summary.json")
    report_html = property(lambda self: self.root / "report.html")
    fix_json = property(lambda self: self.root / "fix.json")
    fix_html = property(lambda self: self.root / "fix.html")
    fix_md = property(lambda self: self.root / "fix.md")
    junit = property(lambda self: self.root / "junit.xml")
    lock = property(lambda self: self.root / ".lock")
    units = property(lambda self: self.root / "units")
    cache = property(lambda self: self.root / "cache")
    model_calls = property(lambda self: self.root / "cache" / "model_calls.sqlite")

    @staticmethod
    def unit_prefix(condition: str, seed: int) -> str:
        """A unit's directory relative to the run directory (how a store names it)."""
        return f"units/{condition}/seed{seed}"

    def unit(self, condition: str, seed: int) -> UnitLayout:
        return UnitLayout(self.root / self.unit_prefix(condition, seed))


__all__ = ["MARKERS", "RunLayout", "UnitLayout"]
