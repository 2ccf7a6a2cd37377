"""Augment a whole file in chunks: flat memory, atomic output, resumable, with progress.

Output rows: the text, the label (when the input has one), ``source_index`` (0-based input row) and ``operator``
(the operator's spec string, or ``original`` for kept inputs). Randomness depends only on (seed, row, attempt), so a
resumed run writes exactly what an uninterrupted one would, and ``workers=N`` (chunks augmented in N spawned worker
processes, written in input order) writes the same bytes as ``workers=1``.

Example:
    >>> from textrobust.augment import parse_op
    >>> summary = augment_file("train.csv", "aug.jsonl", [parse_op("char:kind=ocr")], n=2)  # doctest: +SKIP
    >>> summary.rows_out  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pickle
import shutil
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from textrobust.augment.base import Operator, operator_from_spec
from textrobust.augment.containers import Sequential
from textrobust.augment.filters import Filter, filter_from_spec
from textrobust.errors import ConfigError, DataError

log = logging.getLogger(__name__)


@dataclass
class AugmentSummary:
    """What a run did: rows read and written, variants dropped per filter, wall time."""

    output: str
    rows_in: int = 0
    rows_out: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    resumed_from: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _fmt(path: Path) -> str:
    from textrobust.data.io import format_of

    kind = format_of(path)
    if kind not in ("csv", "tsv", "jsonl", "parquet"):
        raise DataError(f"{path}: augment_file reads and writes .csv, .tsv, .jsonl or .parquet")
    return kind


def _read_chunks(path: Path, batch_size: int) -> Iterator[Any]:
    """Yield DataFrames of ``batch_size`` rows without loading the whole file."""
    import pandas as pd

    kind = _fmt(path)
    if not path.exists():
        raise DataError(f"{path}: input file not found")
    if kind == "parquet":
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_size):
            yield batch.to_pandas()
        return
    if kind == "jsonl":
        reader = pd.read_json(path, lines=True, chunksize=batch_size, dtype=False)
    else:
        reader = pd.read_csv(path, sep="\t" if kind == "tsv" else ",", chunksize=batch_size, dtype=str,
                             keep_default_na=False, quoting=3 if kind == "tsv" else 0)
    with reader as chunks:
        yield from chunks


class _Writer:
    """Appends chunks to a partial output; CSV/TSV/JSONL append to one file, Parquet writes one part per chunk
    (a Parquet file cannot be appended to after a crash) and merges them at the end."""

    def __init__(self, output: Path, state: dict[str, Any]) -> None:
        self.output, self.kind, self.state = output, _fmt(output), state
        self.partial = output.with_name(f".{output.name}.partial")
        if self.kind == "parquet":
            self.partial.mkdir(parents=True, exist_ok=True)
        elif self.partial.exists():
            # Drop anything written after the last checkpoint (a chunk interrupted half-way).
            with open(self.partial, "r+b") as fh:
                fh.truncate(state.get("bytes", 0))
        else:
            self.partial.touch()

    def write(self, frame: Any) -> None:
        if self.kind == "parquet":
            frame.to_parquet(self.partial / f"part-{self.state['parts']:06d}.parquet", index=False)
            self.state["parts"] += 1
            return
        with open(self.partial, "a", encoding="utf-8", newline="") as fh:
            if self.kind == "jsonl":
                if len(frame):
                    text = frame.to_json(orient="records", lines=True, force_ascii=False)
                    fh.write(text if text.endswith("\n") else text + "\n")
            else:
                frame.to_csv(fh, index=False, header=self.state["bytes"] == 0,
                             sep="\t" if self.kind == "tsv" else ",")
        self.state["bytes"] = self.partial.stat().st_size

    def finish(self) -> None:
        if self.kind != "parquet":
            os.replace(self.partial, self.output)
            return
        import pyarrow.parquet as pq

        tmp = self.output.with_name(f".{self.output.name}.merge")
        parts = sorted(self.partial.glob("part-*.parquet"))
        writer = None
        try:
            for part in parts:
                table = pq.read_table(part)
                if writer is None:
                    writer = pq.ParquetWriter(tmp, table.schema)
                writer.write_table(table.cast(writer.schema))
        finally:
            if writer is not None:
                writer.close()
        if writer is None:
            raise DataError(f"{self.output}: nothing to write (empty input)")
        os.replace(tmp, self.output)
        shutil.rmtree(self.partial, ignore_errors=True)


def augment_file(
    input_path: str | os.PathLike,
    output_path: str | os.PathLike,
    ops: Sequence[Operator] | Operator,
    *,
    n: int = 1,
    seed: int = 0,
    keep_original: bool = False,
    text_column: str = "text",
    label_column: str = "label",
    batch_size: int = 256,
    resume: bool = False,
    progress: bool = True,
    filters: Sequence[Filter] = (),
    workers: int = 1,
) -> AugmentSummary:
    """Write up to ``n`` variants per input row and per operator to ``output_path`` (format from its extension).

    Each operator in ``ops`` runs separately on every row (its variants tagged with its spec string); operator k > 0
    uses a seed derived from (seed, k) so two copies of one operator do not produce the same variants.

    ``workers > 1`` augments chunks of ``batch_size`` rows in that many spawned worker processes (at most
    ``2 * workers`` chunks in flight, written in input order), so the output is byte-identical to ``workers=1`` and
    ``resume`` works across worker counts. Operators and filters must be picklable (ConfigError otherwise).
    Model-backed operators (``Operator.batched``, e.g. contextual, backtranslate, generate) and the ``similarity`` /
    ``label_preserving`` filters stay in-process (one model, batched on the device): with any of them the run falls
    back to one worker and logs a warning.

    Example:
        >>> augment_file("in.csv", "out.parquet", parse_op("eda:alpha_sr=0,alpha_ri=0"), n=4)  # doctest: +SKIP
    """
    import numpy as np
    import pandas as pd

    inp, out = Path(input_path), Path(output_path)
    ops = [ops] if isinstance(ops, Operator) else list(ops)
    if not ops or not all(isinstance(o, Operator) for o in ops):
        raise ConfigError("augment_file: ops must be an operator or a non-empty list of operators")
    for o in ops:  # a missing optional resource stops the run here, before anything is written
        o.check_resources()
    if batch_size < 1 or n < 1:
        raise ConfigError(f"augment_file: batch_size and n must be >= 1, got batch_size={batch_size}, n={n}")
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ConfigError(f"augment_file: workers must be an integer >= 1, got {workers!r}")
    workers = _effective_workers(workers, ops, filters)
    _fmt(inp), _fmt(out)
    if inp.resolve() == out.resolve():
        raise ConfigError(f"augment_file: output {out} would overwrite the input; choose another path")
    names = [o.spec_str() for o in ops]
    seeds = [seed] + [int(np.random.SeedSequence([seed, k]).generate_state(1)[0]) for k in range(1, len(ops))]
    fingerprint = {"input": str(inp.resolve()), "ops": [o.spec() for o in ops], "n": n, "seed": seed,
                   "keep_original": keep_original, "text_column": text_column, "label_column": label_column,
                   "batch_size": batch_size, "filters": [repr(f) for f in filters]}
    fingerprint = json.loads(json.dumps(fingerprint, default=repr))
    state_path = out.with_name(f".{out.name}.partial.json")
    state = {"fingerprint": fingerprint, "rows_done": 0, "rows_out": 0, "bytes": 0, "parts": 0,
             "dropped": {f.name: 0 for f in filters}}
    if resume and state_path.exists():
        saved = json.loads(state_path.read_text(encoding="utf-8"))
        if saved.get("fingerprint") != fingerprint:
            raise ConfigError(f"augment_file: {state_path} was written with different settings; rerun them "
                              "or drop --resume to start over")
        state = saved
    else:
        _clear_partial(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = _Writer(out, state)
    summary = AugmentSummary(output=str(out), resumed_from=state["rows_done"])
    start = time.perf_counter()

    def pending_chunks() -> Iterator[tuple[int, list[str], list[Any] | None]]:
        row = 0
        for chunk in _read_chunks(inp, batch_size):
            if row + len(chunk) <= state["rows_done"]:
                row += len(chunk)  # written before the interruption
                continue
            if text_column not in chunk.columns:
                raise DataError(f"{inp}: no column {text_column!r}; columns are {list(chunk.columns)} "
                                "(pass text_column=)")
            texts = ["" if pd.isna(t) else str(t) for t in chunk[text_column].tolist()]
            labels = chunk[label_column].tolist() if label_column in chunk.columns else None
            yield row, texts, labels
            row += len(chunk)

    def commit(offset: int, texts: list[str], labels: Any, records: list[tuple], dropped: dict[str, int]) -> None:
        frame = pd.DataFrame.from_records(records, columns=_columns(text_column, label_column, labels))
        writer.write(frame)
        for k, v in dropped.items():
            state["dropped"][k] = state["dropped"].get(k, 0) + v
        state["rows_done"], state["rows_out"] = offset + len(texts), state["rows_out"] + len(frame)
        _write_state(state_path, state)  # checkpoint after the chunk is on disk
        advance(len(texts))

    with _progress(progress, _count_rows(inp), state["rows_done"]) as advance:
        if workers == 1:
            for offset, texts, labels in pending_chunks():
                dropped: dict[str, int] = {}
                records = _augment_chunk(texts, labels, ops, names, seeds, n, offset, keep_original, filters,
                                         dropped)
                commit(offset, texts, labels, records, dropped)
        else:
            _run_parallel(pending_chunks(), commit, workers, (ops, names, seeds, n, keep_original, list(filters)))
    row = state["rows_done"]
    writer.finish()
    state_path.unlink(missing_ok=True)
    summary.rows_in, summary.rows_out, summary.dropped = row, state["rows_out"], dict(state["dropped"])
    summary.seconds = round(time.perf_counter() - start, 3)
    log.info("augmented %d rows -> %d rows in %.1fs", summary.rows_in, summary.rows_out, summary.seconds)
    return summary


def _effective_workers(workers: int, ops: Sequence[Operator], filters: Sequence[Filter]) -> int:
    """``workers``, or 1 (with a warning) when a model-backed operator or filter must stay in this process;
    ConfigError when the pipeline cannot be sent to worker processes."""
    if workers == 1:
        return 1
    in_process = [o.spec_str() for o in ops if o.batched]
    in_process += [f.name for f in filters if getattr(f, "name", None) in _IN_PROCESS_FILTERS]
    if in_process:
        log.warning("augment_file: %s run a model in this process; using 1 worker instead of %d",
                    ", ".join(in_process), workers)
        return 1
    try:
        pickle.dumps((list(ops), list(filters)))
    except Exception as exc:  # noqa: BLE001 - any pickling failure means the pipeline cannot be shipped
        raise ConfigError(f"augment_file: workers={workers} needs picklable operators and filters ({exc}); "
                          "use workers=1") from None
    return workers


_IN_PROCESS_FILTERS = ("similarity", "label_preserving")

# The pipeline of a worker process, set once by _init_worker (not pickled with every chunk).
_WORKER_PIPELINE: tuple[Any, ...] | None = None


def _init_worker(pipeline: tuple[Any, ...]) -> None:
    global _WORKER_PIPELINE
    _WORKER_PIPELINE = pipeline


def _work(offset: int, texts: list[str], labels: list[Any] | None) -> tuple[list[tuple], dict[str, int]]:
    assert _WORKER_PIPELINE is not None
    ops, names, seeds, n, keep_original, filters = _WORKER_PIPELINE
    dropped: dict[str, int] = {}
    records = _augment_chunk(texts, labels, ops, names, seeds, n, offset, keep_original, filters, dropped)
    return records, dropped


def _run_parallel(chunks: Iterator[tuple[int, list[str], Any]], commit: Any, workers: int,
                  pipeline: tuple[Any, ...]) -> None:
    """Augment ``chunks`` in ``workers`` spawned processes; ``commit`` each result in input order, with at most
    ``2 * workers`` chunks in flight so memory stays flat."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    window: deque[tuple[int, list[str], Any, Any]] = deque()
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_init_worker,
                             initargs=(pipeline,)) as pool:
        try:
            for offset, texts, labels in chunks:
                window.append((offset, texts, labels, pool.submit(_work, offset, texts, labels)))
                if len(window) >= 2 * workers:
                    offset, texts, labels, fut = window.popleft()
                    commit(offset, texts, labels, *fut.result())
            while window:
                offset, texts, labels, fut = window.popleft()
                commit(offset, texts, labels, *fut.result())
        except BaseException:
            for *_, fut in window:
                fut.cancel()
            raise


def _columns(text_column: str, label_column: str, labels: Any) -> list[str]:
    cols = [text_column] + ([label_column] if labels is not None else [])
    return cols + ["source_index", "operator"]


def _augment_chunk(texts, labels, ops, names, seeds, n, offset, keep_original, filters, dropped) -> list[tuple]:
    per_row: list[list[tuple[str, str]]] = [[("original", t)] if keep_original else [] for t in texts]
    for op, name, op_seed in zip(ops, names, seeds):
        variants = op(texts, seed=op_seed, n=n, offset=offset)
        for f in filters:
            variants, k = f(texts, variants, labels)
            dropped[f.name] = dropped.get(f.name, 0) + k
        for i, vs in enumerate(variants):
            per_row[i].extend((name, v) for v in vs)
    records = []
    for i, rows in enumerate(per_row):
        for name, text in rows:
            lab = () if labels is None else (labels[i],)
            records.append((text, *lab, offset + i, name))
    return records


def _write_state(path: Path, state: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(state), encoding="utf-8")
    os.replace(tmp, path)


def _clear_partial(out: Path) -> None:
    for p in (out.with_name(f".{out.name}.partial"), out.with_name(f".{out.name}.partial.json")):
        if p.is_dir():
            shutil.rmtree(p)
        else:
            p.unlink(missing_ok=True)


def _count_rows(path: Path) -> int | None:
    """Row count for the progress bar: Parquet metadata, or a fast newline count (approximate for CSV with
    embedded newlines; used only for the ETA)."""
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            return pq.ParquetFile(path).metadata.num_rows
        lines = 0
        with open(path, "rb") as fh:
            while block := fh.read(1 << 20):
                lines += block.count(b"\n")
        return max(lines - (0 if path.suffix.lower() in (".jsonl", ".ndjson") else 1), 0)
    except OSError:
        return None


@contextlib.contextmanager
def _progress(enabled: bool, total: int | None, done: int) -> Iterator[Any]:
    if not enabled:
        yield lambda k: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = [TextColumn("augment"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
               TextColumn("{task.fields[rate]} rows/s"), TimeElapsedColumn(), TextColumn("ETA"),
               TimeRemainingColumn()]
    start = time.perf_counter()
    with Progress(*columns, transient=False) as bar:
        task = bar.add_task("augment", total=total, completed=done, rate="-")
        count = [0]

        def advance(k: int) -> None:
            count[0] += k
            rate = count[0] / max(time.perf_counter() - start, 1e-9)
            bar.update(task, advance=k, rate=f"{rate:,.0f}")

        yield advance


def load_pipeline_yaml(path: str | os.PathLike) -> Operator:
    """Read an operator pipeline from YAML: a spec, or a list of specs (applied in sequence), under the top level
    or a ``pipeline:`` key. A spec is ``"char:kind=ocr"``, ``{name: ..., params: {...}}`` or ``{char: {kind: ocr}}``.

    Example:
        >>> op = load_pipeline_yaml("pipeline.yaml")  # doctest: +SKIP
    """
    doc = _read_yaml(path)
    if isinstance(doc, dict) and "pipeline" in doc:
        doc = doc["pipeline"]
    try:
        if isinstance(doc, list):
            ops = [operator_from_spec(_normalise_spec(s)) for s in doc]
            return ops[0] if len(ops) == 1 else Sequential(ops)
        return operator_from_spec(_normalise_spec(doc))
    except TypeError as exc:
        raise ConfigError(f"{path}: bad operator spec: {exc}") from None


def load_filters_yaml(path: str | os.PathLike, **context: Any) -> list[Filter]:
    """The ``filters:`` list of a pipeline YAML (``- dedup``, ``- length: {min_words: 3}``); ``context`` passes
    objects such as ``classifier=`` to filters that need them."""
    doc = _read_yaml(path)
    specs = doc.get("filters", []) if isinstance(doc, dict) else []
    return [filter_from_spec(s, **context) for s in specs or []]


def _read_yaml(path: str | os.PathLike) -> Any:
    import yaml

    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read pipeline file {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {str(exc).splitlines()[0]}") from None


def _normalise_spec(spec: Any) -> Any:
    """Accept the ``{opname: {params}}`` shorthand next to ``{name:, params:}`` and strings, recursively."""
    if isinstance(spec, dict) and "name" not in spec and len(spec) == 1:
        name, params = next(iter(spec.items()))
        spec = {"name": name, "params": dict(params or {})}
    if isinstance(spec, dict):
        params = dict(spec.get("params") or {})
        if "ops" in params:
            params["ops"] = [_normalise_spec(s) for s in params["ops"]]
        if "op" in params:
            params["op"] = _normalise_spec(params["op"])
        spec = {"name": spec["name"], "params": params}
    return spec
