"""Read a run directory written by the robustness harness (read-only; nothing is recomputed).

Layout (see ``docs/report-schema.md``): ``config.json``, ``environment.json``, ``results.parquet`` or
``results.csv``, ``summary.json`` (statistics and metric metadata) and optional ``units/<condition>/seed<k>/*.jsonl``
files (``examples.jsonl``, ``augmented_sample.jsonl``, ``generated_sample.jsonl``).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textrobust.errors import DataError
from textrobust.layout import RunLayout

RESULT_COLUMNS = ("condition", "seed", "evaluation", "metric", "value")
SUMMARY_KEYS = ("condition", "evaluation", "metric", "mean")
METRIC_KEYS = ("evaluation", "metric", "label", "unit", "range", "higher_is_better", "headline", "role")
_SEED_DIR = re.compile(r"^seed(-?\d+)$")


@dataclass
class RunDir:
    """Everything a report needs from one run directory, as plain Python data."""

    path: Path
    config: dict[str, Any]
    environment: dict[str, Any]
    summary: dict[str, Any]
    results: list[dict[str, Any]]
    #: ``{condition: {seed: Path}}`` for every ``units/<condition>/seed<k>`` directory present.
    record_dirs: dict[str, dict[int, Path]] = field(default_factory=dict)

    def records(self, filename: str, order: list[str] | None = None) -> Iterator[tuple[str, int, int, dict[str, Any]]]:
        """Yield ``(condition, seed, line_no, row)`` for ``filename`` in every record directory.

        Conditions named in ``order`` come first, in that order; the rest follow alphabetically.
        """
        rank = {name: i for i, name in enumerate(order or [])}
        ordered = sorted(self.record_dirs.items(), key=lambda item: (rank.get(item[0], len(rank)), item[0]))
        for condition, seeds in ordered:
            for seed, directory in seeds.items():
                file = directory / filename
                if file.is_file():
                    for line_no, row in _read_jsonl(file):
                        yield condition, seed, line_no, row


def load_run_dir(run_dir: str | Path) -> RunDir:
    """Load and validate ``run_dir``; raise :class:`DataError` with a one-line message when it is unusable."""
    path = Path(run_dir)
    if not path.is_dir():
        raise DataError(f"run directory {path} does not exist or is not a directory; pass the folder a run wrote")
    layout = RunLayout(path)
    config = _read_json_object(layout.config_json, required=True)
    environment = _read_json_object(layout.environment, required=False)
    summary = _read_json_object(layout.summary, required=True)
    rows = summary.get("rows")
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise DataError(f"{layout.summary} has no 'rows' list; re-run the experiment to regenerate it")
    for i, row in enumerate(rows):
        missing = [k for k in SUMMARY_KEYS if k not in row]
        if missing:
            raise DataError(f"{layout.summary}: row {i} lacks {', '.join(missing)}; the file is corrupt")
    metrics = summary.get("metrics")
    if not isinstance(metrics, list):
        raise DataError(
            f"{layout.summary} has no metric metadata (written by textrobust 0.1); run "
            "'textrobust run' on the experiment again to regenerate it"
        )
    for i, m in enumerate(metrics):
        missing = [k for k in METRIC_KEYS if not isinstance(m, dict) or k not in m]
        if missing:
            raise DataError(f"{layout.summary}: metrics[{i}] lacks {', '.join(missing)}; the file is corrupt")
    return RunDir(
        path=path,
        config=config,
        environment=environment,
        summary=summary,
        results=_read_results(path),
        record_dirs=_find_record_dirs(layout.units),
    )


def _read_json_object(file: Path, *, required: bool) -> dict[str, Any]:
    if not file.is_file():
        if required:
            raise DataError(f"{file} is missing; is {file.parent} a complete run directory?")
        return {}
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{file} cannot be read as JSON ({_one_line(exc)}); the run directory is corrupt") from exc
    if not isinstance(data, dict):
        raise DataError(f"{file} must hold a JSON object, found {type(data).__name__}")
    return data


def _read_results(run_dir: Path) -> list[dict[str, Any]]:
    """The tidy results table as a list of dicts (parquet preferred, CSV otherwise)."""
    import pandas as pd  # heavy: imported only when a report is built

    parquet, csv = RunLayout(run_dir).results_parquet, RunLayout(run_dir).results_csv
    try:
        if parquet.is_file():
            frame, file = pd.read_parquet(parquet), parquet
        elif csv.is_file():
            frame, file = pd.read_csv(csv), csv
        else:
            raise DataError(f"{run_dir} has neither results.parquet nor results.csv; the run did not finish")
    except DataError:
        raise
    except Exception as exc:  # pandas/pyarrow raise many types for a damaged file
        raise DataError(f"results table in {run_dir} cannot be read ({_one_line(exc)})") from exc
    missing = [c for c in RESULT_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"{file} lacks column(s) {', '.join(missing)}; expected {', '.join(RESULT_COLUMNS)}")
    frame = frame[list(RESULT_COLUMNS)]
    frame["value"] = pd.to_numeric(frame["value"], errors="coerce")
    return [
        {**row, "value": None if _is_nan(row["value"]) else float(row["value"])}
        for row in frame.to_dict(orient="records")
    ]


def _find_record_dirs(records: Path) -> dict[str, dict[int, Path]]:
    found: dict[str, dict[int, Path]] = {}
    if not records.is_dir():
        return found
    for cond_dir in sorted(p for p in records.iterdir() if p.is_dir()):
        seeds = {}
        for seed_dir in cond_dir.iterdir():
            match = _SEED_DIR.match(seed_dir.name)
            if match and seed_dir.is_dir():
                seeds[int(match.group(1))] = seed_dir
        if seeds:
            found[cond_dir.name] = dict(sorted(seeds.items()))
    return found


def _read_jsonl(file: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        with file.open(encoding="utf-8") as handle:
            for line_no, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DataError(f"{file}:{line_no} is not valid JSON ({_one_line(exc)})") from exc
                if isinstance(row, dict):
                    yield line_no, row
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{file} cannot be read ({_one_line(exc)})") from exc


def _is_nan(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200]
