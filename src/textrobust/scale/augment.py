"""Augment a file on Ray: ``textrobust augment IN -o OUT --backend ray``.

Ray Data reads the input (CSV/TSV/JSONL/Parquet, read the way :func:`~textrobust.augment.augment_file` reads it:
standard quoting, columns as strings), each row gets its input row number (Ray Data does not keep order by default, so
the order is restored from these ids, never assumed), and ``map_batches`` augments the rows: rule-based pipelines as
stateless tasks, model-backed ones (``contextual``, ``backtranslate``, ``generate``, the ``similarity`` /
``label_preserving`` filters) as actors that load the model once (``num_gpus`` each). Every batch writes its
output rows atomically as one part file named by the input rows it covers, then the driver merges the parts in
input-row order into the output, chunk by chunk as the single-process writer does. Randomness depends only on
(seed, row, attempt), so the output is identical to ``augment_file``'s for the same seed (byte for byte: CSV, TSV,
JSONL and Parquet).

Resume (``resume=True``, ``--resume``) after a killed driver: the parts already written are kept and their rows
are not recomputed; only the missing rows are read into the pipeline again.

Example:
    >>> with RayCluster():  # doctest: +SKIP
    ...     augment_file_ray("train.csv", "aug.parquet", [parse_op("char:kind=ocr")], n=2)
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..augment.base import Operator
from ..augment.files import (
    IN_PROCESS_FILTERS,
    AugmentSummary,
    ChunkWriter,
    add_counts,
    augment_chunk,
    checked_ops,
    clear_partial,
    operator_seeds,
    output_columns,
    output_format,
    partial_paths,
    warn_if_empty,
)
from ..augment.filters import Filter
from ..data.atomic import atomic_path
from ..errors import ConfigError, DataError
from ..progress import Bar
from .cluster import require_ray

log = logging.getLogger(__name__)

ROW = "__textrobust_row"  # the input row number carried through the pipeline


def augment_file_ray(
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
    num_cpus: float = 1,
    num_gpus: float = 0,
    concurrency: int | None = None,
) -> AugmentSummary:
    """:func:`~textrobust.augment.augment_file` on a Ray cluster (Ray must be initialised, e.g. by
    :class:`~textrobust.scale.RayCluster`); same arguments, same output. ``num_cpus`` / ``num_gpus`` are per task
    (rule-based) or per actor (model-backed); ``concurrency`` caps the number of actors (default: as many as the
    cluster's resources allow, at most 8). Input and output must be paths every worker can reach (shared storage).

    Example:
        >>> augment_file_ray("in.csv", "out.jsonl", parse_op("eda:alpha_sr=0,alpha_ri=0"), n=4)  # doctest: +SKIP
    """

    ray = require_ray()
    inp, out = Path(input_path).resolve(), Path(output_path).resolve()
    ops = checked_ops(ops, n, batch_size, "augment_file_ray")
    if not inp.is_file():
        raise DataError(f"{inp}: input file not found (--backend ray reads one CSV/TSV/JSONL/Parquet file)")
    kind = _in_fmt(inp)
    output_format(out)
    if inp == out:
        raise ConfigError(f"augment_file_ray: output {out} would overwrite the input; choose another path")
    names = [o.spec_str() for o in ops]
    seeds = operator_seeds(seed, len(ops))
    fingerprint = json.loads(
        json.dumps(
            {
                "backend": "ray",
                "input": str(inp),
                "ops": [o.spec() for o in ops],
                "n": n,
                "seed": seed,
                "keep_original": keep_original,
                "text_column": text_column,
                "label_column": label_column,
                "filters": [repr(f) for f in filters],
            },
            default=repr,
        )
    )
    parts = _parts_dir(out, fingerprint, resume)
    start = time.perf_counter()
    ds, total, done, has_labels = _read_pending(ray, inp, kind, text_column, label_column, parts)
    pipeline = (ops, names, seeds, n, keep_original, list(filters), text_column, label_column, has_labels, str(parts))
    with Bar("augment", total=total, done=done, unit="rows", enabled=progress, transient=False) as bar:
        if ds is not None:
            for row in _map(ray, ds, pipeline, batch_size, num_cpus, num_gpus, concurrency).iter_rows():
                bar.advance(int(row["rows"]))
    rows_out, tally = _merge(parts, out, total, batch_size, text_column, label_column, has_labels)
    shutil.rmtree(parts, ignore_errors=True)
    summary = AugmentSummary.from_counts(
        str(out),
        total,
        rows_out,
        keep_original,
        tally,
        filter_names=[f.name for f in filters],
        seconds=round(time.perf_counter() - start, 3),
        resumed_from=done,
    )
    warn_if_empty(summary, input_path)
    log.info("augmented %d rows -> %d rows on Ray in %.1fs", total, rows_out, summary.seconds)
    return summary


def _in_fmt(path: Path) -> str:
    from ..data.io import format_of

    kind = format_of(path)
    if kind not in ("csv", "tsv", "jsonl", "parquet"):
        raise DataError(
            f"{path}: --backend ray reads .csv, .tsv, .jsonl or .parquet files (convert it, or run "
            "without --backend ray)"
        )
    return kind


def _parts_dir(out: Path, fingerprint: dict[str, Any], resume: bool) -> Path:
    """The directory of part files next to the output, checked (resume) or emptied (a fresh run)."""
    parts = out.with_name(f".{out.name}.ray-parts")
    state = parts / "state.json"
    if resume and state.exists():
        if json.loads(state.read_text(encoding="utf-8")).get("fingerprint") != fingerprint:
            raise ConfigError(
                f"augment: {parts} was written with different settings; rerun them or drop --resume to start over"
            )
        for tmp in parts.glob(".*"):  # a part interrupted half-way
            tmp.unlink(missing_ok=True)
        return parts
    shutil.rmtree(parts, ignore_errors=True)
    parts.mkdir(parents=True)
    with atomic_path(state) as tmp:
        tmp.write_text(json.dumps({"fingerprint": fingerprint}), encoding="utf-8")
    return parts


def _done_ranges(parts: Path) -> list[tuple[int, int]]:
    """The input-row ranges (first, last inclusive) whose output is already written, merged and sorted."""
    spans = sorted(tuple(int(x) for x in p.stem.split("-")[1:3]) for p in parts.glob("part-*.parquet"))
    merged: list[list[int]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return [(a, b) for a, b in merged]


def _read_pending(
    ray: Any, inp: Path, kind: str, text_column: str, label_column: str, parts: Path
) -> tuple[Any, int, int, bool]:
    """A Ray dataset of the rows not yet written (with their row numbers), the input's row count, how many
    rows were already done, and whether the input has the label column; the dataset is None when nothing is left."""
    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True  # blocks come back in file order: row numbers follow from it
    ctx.enable_progress_bars = False  # our own bar counts rows
    ds = _read(ray, inp, kind)
    names = ds.schema().names
    if text_column not in names:
        raise DataError(f"{inp}: no column {text_column!r}; columns are {names} (pass text_column=)")
    ds = ds.select_columns([text_column] + ([label_column] if label_column in names else []))
    refs = ds.to_arrow_refs()
    counts = ray.get([ray.remote(num_cpus=0.25)(_num_rows).remote(r) for r in refs])
    total = int(sum(counts))
    done_ranges = _done_ranges(parts)
    done = sum(b - a + 1 for a, b in done_ranges)
    has_labels = label_column in names
    if done >= total:
        return None, total, done, has_labels
    offsets = [0]
    for c in counts[:-1]:
        offsets.append(offsets[-1] + c)
    number = ray.remote(num_cpus=0.25)(_number_rows)
    return (
        ray.data.from_arrow_refs([number.remote(r, off, done_ranges) for r, off in zip(refs, offsets, strict=True)]),
        total,
        done,
        has_labels,
    )


def _read(ray: Any, inp: Path, kind: str) -> Any:
    """Ray Data's reader for the format, set to read what :func:`~textrobust.data.iter_frames` reads in
    ``augment_file`` (CSV/TSV: standard quoting, a TSV being a CSV with tabs; every column a string; empty fields
    and 'NA' kept as text)."""
    if kind == "parquet":
        return ray.data.read_parquet(str(inp))
    if kind == "jsonl":
        return ray.data.read_json(str(inp), lines=True, file_extensions=None)
    import pandas as pd
    import pyarrow as pa
    import pyarrow.csv as pacsv

    sep = "\t" if kind == "tsv" else ","
    header = pd.read_csv(inp, sep=sep, nrows=0).columns
    convert = pacsv.ConvertOptions(
        column_types={c: pa.string() for c in header}, strings_can_be_null=False, quoted_strings_can_be_null=False
    )
    parse = pacsv.ParseOptions(delimiter=sep, quote_char='"', newlines_in_values=True)
    return ray.data.read_csv(str(inp), convert_options=convert, parse_options=parse, file_extensions=None)


def _num_rows(table: Any) -> int:
    return table.num_rows


def _number_rows(table: Any, offset: int, done: list[tuple[int, int]]) -> Any:
    """The block with its input row numbers, minus the rows whose output is already written."""
    import numpy as np
    import pyarrow as pa

    rows = np.arange(offset, offset + table.num_rows, dtype=np.int64)
    table = table.append_column(ROW, pa.array(rows))
    if not done:
        return table
    keep = np.ones(len(rows), dtype=bool)
    for a, b in done:
        keep &= ~((rows >= a) & (rows <= b))
    return table.filter(pa.array(keep))


def _map(
    ray: Any,
    ds: Any,
    pipeline: tuple[Any, ...],
    batch_size: int,
    num_cpus: float,
    num_gpus: float,
    concurrency: int | None,
) -> Any:
    ops, filters = pipeline[0], pipeline[5]
    model_backed = any(o.batched for o in ops) or any(getattr(f, "name", None) in IN_PROCESS_FILTERS for f in filters)
    common = {"batch_size": batch_size, "batch_format": "pyarrow", "num_cpus": num_cpus, "num_gpus": num_gpus}
    if not model_backed:  # stateless tasks: any worker, any number at once
        return ds.map_batches(_augment_batch, fn_args=(pipeline,), **common)
    if concurrency is None:
        have = ray.cluster_resources()
        slots = have.get("GPU", 0) / num_gpus if num_gpus else have.get("CPU", 1) / num_cpus
        concurrency = max(1, min(8, int(slots)))
    return ds.map_batches(_AugmentActor, fn_constructor_args=(pipeline,), concurrency=concurrency, **common)


def _augment_batch(batch: Any, pipeline: tuple[Any, ...]) -> dict[str, list[int]]:
    """Augment one batch and write its output rows as part files (one per run of consecutive input rows, so a
    part always covers a contiguous row range); returns how many input rows it covered."""
    import pandas as pd

    ops, names, seeds, n, keep_original, filters, text_column, label_column, has_labels, parts = pipeline
    rows = batch.column(ROW).to_pylist()
    texts_all = ["" if pd.isna(t) else str(t) for t in batch.column(text_column).to_pylist()]
    labels_all = batch.column(label_column).to_pylist() if has_labels else None
    start = 0
    for end in range(1, len(rows) + 1):
        if end < len(rows) and rows[end] == rows[end - 1] + 1:
            continue
        texts = texts_all[start:end]
        labels = labels_all[start:end] if labels_all is not None else None
        tally: dict[str, Any] = {}
        records = augment_chunk(texts, labels, ops, names, seeds, n, rows[start], keep_original, filters, {}, tally)
        frame = pd.DataFrame.from_records(records, columns=output_columns(text_column, label_column, labels))
        _write_part(Path(parts), rows[start], rows[end - 1], frame, tally)
        start = end
    return {"rows": [len(rows)]}


class _AugmentActor:
    """A model-backed pipeline in a Ray actor: the models load once here, then every batch reuses them."""

    def __init__(self, pipeline: tuple[Any, ...]) -> None:
        self.pipeline = pipeline
        ops, _, seeds, n = pipeline[:4]
        for op in ops:  # load the model now (operators cache it per process), not inside the first batch
            op(["warm up"], seed=seeds[0], n=1)

    def __call__(self, batch: Any) -> dict[str, list[int]]:
        return _augment_batch(batch, self.pipeline)


def _write_part(parts: Path, first: int, last: int, frame: Any, tally: dict[str, Any]) -> None:
    """One part, atomically (temp file + rename): its name says which input rows it covers, its metadata the
    per-operator counts (variants asked, made, dropped per filter)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[b"textrobust.tally"] = json.dumps(tally).encode()
    target = parts / f"part-{first:012d}-{last:012d}.parquet"
    with atomic_path(target) as tmp:
        pq.write_table(table.replace_schema_metadata(meta), tmp)


def _merge(
    parts: Path,
    out: Path,
    total: int,
    batch_size: int,
    text_column: str,
    label_column: str,
    has_labels: bool,
) -> tuple[int, dict[str, Any]]:
    """Write the parts in input-row order to ``out``, one frame per ``batch_size`` input rows as ``augment_file``
    writes them (so Parquet row groups match too); returns the rows written and the per-operator counts."""
    import pandas as pd
    import pyarrow.parquet as pq

    files = sorted(parts.glob("part-*.parquet"), key=lambda p: int(p.stem.split("-")[1]))
    columns = output_columns(text_column, label_column, [] if has_labels else None)
    tally: dict[str, Any] = {}
    clear_partial(out)  # the single-process writer's scratch files, from whatever ran before
    writer = ChunkWriter(out, {"bytes": 0, "parts": 0})
    pending: list[tuple] = []
    rows_out, next_row = 0, 0
    bounds = [min(b, total) for b in range(batch_size, total + batch_size, batch_size)]  # local chunk ends

    def flush(upto: int) -> None:
        nonlocal pending, rows_out
        cut = [r for r in pending if r[-2] < upto]  # r[-2] is source_index
        pending = [r for r in pending if r[-2] >= upto]
        writer.write(pd.DataFrame.from_records(cut, columns=columns))
        rows_out += len(cut)

    for path in files:
        first, last = (int(x) for x in path.stem.split("-")[1:3])
        if last < next_row:  # a batch written twice (a retried task): its rows are already in
            continue
        if first > next_row:
            break  # a gap: reported below
        table = pq.read_table(path)
        add_counts(tally, json.loads((table.schema.metadata or {}).get(b"textrobust.tally", b"{}")))
        pending += [r for r in table.to_pandas().itertuples(index=False, name=None) if r[-2] >= next_row]
        next_row = last + 1
        while bounds and bounds[0] <= next_row:
            flush(bounds.pop(0))
    if next_row < total:
        raise DataError(f"{out}: rows {next_row}..{total - 1} have no output in {parts}; rerun with --resume")
    writer.finish(partial_paths(out)[1])  # no checkpoint file here: the parts directory is the checkpoint
    return rows_out, tally
