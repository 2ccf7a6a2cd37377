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

from textrobust.augment.base import Operator
from textrobust.augment.filters import Filter
from textrobust.data.atomic import atomic_path
from textrobust.errors import ConfigError, DataError, TextRobustError
from textrobust.progress import Bar

log = logging.getLogger(__name__)


@dataclass
class AugmentSummary:
    """What a run did, in numbers that add up: ``rows_out = originals_kept + variants_made - sum(dropped.values())``,
    and ``variants_made = variants_asked - not_possible``.

    ``variants_asked`` is rows x ``n`` x operators; ``not_possible`` counts the variants the operators could not make
    (a text too short, nothing to replace, fewer distinct variants than asked); ``dropped`` the variants each filter
    removed. ``operators`` has the same numbers per operator, with ``rows_without_variant``: input rows it could not
    vary at all.
    """

    output: str
    rows_in: int = 0
    originals_kept: int = 0
    variants_asked: int = 0
    variants_made: int = 0
    not_possible: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    rows_out: int = 0
    operators: dict[str, dict[str, Any]] = field(default_factory=dict)
    seconds: float = 0.0
    resumed_from: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_counts(
        cls, output: str, rows_in: int, rows_out: int, keep_original: bool, tally: dict[str, Any], **more: Any
    ) -> AugmentSummary:
        """The summary of a run from its per-operator ``tally`` (see :func:`augment_chunk`)."""
        operators = {
            name: {
                "asked": t["asked"],
                "made": t["made"],
                "not_possible": t["asked"] - t["made"],
                "rows_without_variant": t["rows_without_variant"],
                "dropped": dict(t["dropped"]),
                "kept": t["made"] - sum(t["dropped"].values()),
            }
            for name, t in tally.items()
        }
        dropped: dict[str, int] = dict.fromkeys(more.pop("filter_names", ()), 0)
        for t in operators.values():
            for f, k in t["dropped"].items():
                dropped[f] = dropped.get(f, 0) + k
        return cls(
            output=output,
            rows_in=rows_in,
            originals_kept=rows_in if keep_original else 0,
            variants_asked=sum(t["asked"] for t in operators.values()),
            variants_made=sum(t["made"] for t in operators.values()),
            not_possible=sum(t["not_possible"] for t in operators.values()),
            dropped=dropped,
            rows_out=rows_out,
            operators=operators,
            **more,
        )

    def accounting(self) -> str:
        """One line that adds the numbers up, e.g. ``40 rows in: 40 kept + 160 variants asked - 3 not possible
        - 0 dropped (dedup) = 197 rows out``."""
        parts = [f"{self.rows_in:,} rows in: {self.originals_kept:,} kept + {self.variants_asked:,} variants asked"]
        parts.append(f"{self.not_possible:,} not possible")
        parts += [f"{k:,} dropped ({name})" for name, k in self.dropped.items()]
        return " - ".join(parts) + f" = {self.rows_out:,} rows out"


def add_counts(into: dict[str, Any], more: dict[str, Any]) -> dict[str, Any]:
    """Sum nested count dicts (per-operator tallies of chunks, parts or resumed runs) into ``into``; returns it."""
    for key, value in more.items():
        if isinstance(value, dict):
            add_counts(into.setdefault(key, {}), value)
        else:
            into[key] = into.get(key, 0) + value
    return into


#: Output formats (the columns source_index and operator do not fit the label-text format).
OUTPUT_FORMATS = ("csv", "tsv", "jsonl", "parquet")


def output_format(path: Path) -> str:
    from textrobust.data.io import format_of

    kind = format_of(path)
    if kind not in OUTPUT_FORMATS:
        raise DataError(f"{path}: augment writes .csv, .tsv, .jsonl or .parquet")
    return kind


class ChunkWriter:
    """Appends chunks to a partial output, created at the first chunk (nothing exists before there is
    progress); CSV/TSV/JSONL append to one file, Parquet writes one part per chunk (a Parquet file cannot be
    appended to after a crash) and merges them at the end."""

    def __init__(self, output: Path, state: dict[str, Any]) -> None:
        self.output, self.kind, self.state = output, output_format(output), state
        self.partial = partial_paths(output)[0]
        self.created: list[Path] = []  # output folders this run made (removed again if nothing was written)
        self.ready = False
        if self.kind != "parquet" and self.partial.exists():
            # Drop anything written after the last checkpoint (a chunk interrupted half-way).
            with open(self.partial, "r+b") as fh:
                fh.truncate(state.get("bytes", 0))

    def _prepare(self) -> None:
        if self.ready:
            return
        self.ready = True
        missing = [p for p in (self.output.parent, *self.output.parent.parents) if not p.exists()]
        self.output.parent.mkdir(parents=True, exist_ok=True)
        self.created = missing
        if self.kind == "parquet":
            self.partial.mkdir(exist_ok=True)

    def write(self, frame: Any) -> None:
        self._prepare()
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
                frame.to_csv(fh, index=False, header=self.state["bytes"] == 0, sep="\t" if self.kind == "tsv" else ",")
        self.state["bytes"] = self.partial.stat().st_size

    def finish(self, state_path: Path) -> None:
        """Move the finished output into place. The checkpoint goes first: a crash in between leaves no
        checkpoint, so a rerun starts over instead of resuming into an output that is already complete."""
        self._prepare()
        if self.kind != "parquet" and not self.partial.exists():
            self.partial.touch()  # an input with no rows: an empty output
        if self.kind != "parquet":
            state_path.unlink(missing_ok=True)
            os.replace(self.partial, self.output)
            return
        import pyarrow.parquet as pq

        tmp = partial_paths(self.output)[2]
        parts = [self.partial / f"part-{i:06d}.parquet" for i in range(self.state["parts"])]
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
        state_path.unlink(missing_ok=True)
        shutil.rmtree(self.partial, ignore_errors=True)
        os.replace(tmp, self.output)

    def discard(self, state_path: Path) -> None:
        """Remove everything this run wrote (used when it stopped before any progress)."""
        clear_partial(self.output)
        state_path.unlink(missing_ok=True)
        for folder in self.created:  # innermost first
            with contextlib.suppress(OSError):
                folder.rmdir()


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
    fmt: str | None = None,
    encoding: str = "utf-8",
    split: str = "train",
    lang: str | None = None,
) -> AugmentSummary:
    """Write up to ``n`` variants per input row and per operator to ``output_path`` (format from its extension).

    The input is anything :func:`textrobust.data.load_dataset` reads (CSV, TSV, JSONL, Parquet, ``label-text``
    with ``fmt=``, a one-file-per-label directory, a saved ``datasets`` directory), read in chunks of
    ``batch_size`` rows by :func:`textrobust.data.iter_frames`, so it parses exactly as ``train`` and
    ``evaluate`` parse it.

    Each operator in ``ops`` runs separately on every row (its variants tagged with its spec string); operator k > 0
    uses a seed derived from (seed, k) so two copies of one operator do not produce the same variants.

    Nothing is written before the first chunk is augmented, so a bad operator, resource or column fails with
    nothing on disk. The partial output (hidden, next to the output) stays behind only when a run stops after
    some progress, and the error then says how many rows are kept and that ``resume=True`` continues.

    ``workers > 1`` augments chunks of ``batch_size`` rows in that many spawned worker processes (at most
    ``2 * workers`` chunks in flight, written in input order), so the output is byte-identical to ``workers=1`` and
    ``resume`` works across worker counts. Operators and filters must be picklable (ConfigError otherwise).
    Model-backed operators (``Operator.batched``, e.g. contextual, backtranslate, generate) and the ``similarity`` /
    ``label_preserving`` filters stay in-process (one model, batched on the device): with any of them the run falls
    back to one worker and logs a warning.

    ``lang``: the input's language (default: detected from its first chunk, see :func:`textrobust.lang.resolve`);
    every operator is bound to it before anything is read further, so one that does not support it refuses in one
    line with nothing on disk, and every chunk is treated alike.

    Example:
        >>> augment_file("in.csv", "out.parquet", parse_op("eda:alpha_sr=0,alpha_ri=0"), n=4)  # doctest: +SKIP
    """
    import pandas as pd

    from textrobust.data.io import count_rows, iter_frames, source_kind

    out = Path(output_path)
    ops = checked_ops(ops, n, batch_size, "augment_file")
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ConfigError(f"augment_file: workers must be an integer >= 1, got {workers!r}")
    kind = source_kind(input_path, fmt)  # a missing input or unknown format fails here
    output_format(out)
    workers = _effective_workers(workers, ops, filters)
    src = str(input_path) if kind == "hf" else str(Path(input_path).resolve())
    if kind != "hf" and Path(src) == out.resolve():
        raise ConfigError(f"augment_file: output {out} would overwrite the input; choose another path")
    if kind == "label-dir":  # its files give the columns text and label, as load_dataset reads them
        text_column, label_column = "text", "label"
    lang = input_language(input_path, lang, text_column, fmt=fmt, encoding=encoding, split=split)
    if lang is not None:  # None: no rows to augment
        ops = [o.for_language(lang) for o in ops]  # refuses (LanguageError) before anything is written
    names = [o.spec_str() for o in ops]
    seeds = operator_seeds(seed, len(ops))
    fingerprint = {
        "lang": lang,
        "input": src,
        "ops": [o.spec() for o in ops],
        "n": n,
        "seed": seed,
        "keep_original": keep_original,
        "text_column": text_column,
        "label_column": label_column,
        "batch_size": batch_size,
        "filters": [repr(f) for f in filters],
        "format": fmt,
        "encoding": encoding,
        "split": split,
    }
    fingerprint = json.loads(json.dumps(fingerprint, default=repr))
    state_path = partial_paths(out)[1]
    state: dict[str, Any] = {
        "fingerprint": fingerprint,
        "rows_done": 0,
        "rows_out": 0,
        "bytes": 0,
        "parts": 0,
        "tally": {},
    }
    if resume and state_path.exists():
        saved = json.loads(state_path.read_text(encoding="utf-8"))
        if saved.get("fingerprint") != fingerprint:
            raise ConfigError(
                f"augment_file: {state_path} was written with different settings; rerun them "
                "or drop --resume to start over"
            )
        state = {"tally": {}, **saved}
    elif any(p.exists() for p in partial_paths(out)):
        log.info("augment_file: discarding the partial output of an earlier run (resume=True continues one)")
        clear_partial(out)
    writer = ChunkWriter(out, state)
    resumed_from = state["rows_done"]
    start = time.perf_counter()

    def pending_chunks() -> Iterator[tuple[int, list[str], list[Any] | None]]:
        row = 0
        for chunk in iter_frames(input_path, fmt=fmt, encoding=encoding, split=split, chunk_rows=batch_size):
            if row + len(chunk) <= state["rows_done"]:
                row += len(chunk)  # written before the interruption
                continue
            if row < state["rows_done"]:  # chunking changed within a file: skip what is written
                chunk = chunk.iloc[state["rows_done"] - row :]
                row = state["rows_done"]
            if text_column not in chunk.columns:
                raise DataError(
                    f"{input_path}: no column {text_column!r}; columns are {list(chunk.columns)} (pass --text-column)"
                )
            texts = ["" if pd.isna(t) else str(t) for t in chunk[text_column].tolist()]
            labels = chunk[label_column].tolist() if label_column in chunk.columns else None
            yield row, texts, labels
            row += len(chunk)

    def commit(offset: int, texts: list[str], labels: Any, records: list[tuple], tally: dict[str, Any]) -> None:
        frame = pd.DataFrame.from_records(records, columns=output_columns(text_column, label_column, labels))
        writer.write(frame)
        add_counts(state["tally"], tally)
        state["rows_done"], state["rows_out"] = offset + len(texts), state["rows_out"] + len(frame)
        _write_state(state_path, state)  # checkpoint after the chunk is on disk
        bar.advance(len(texts))

    try:
        total = count_rows(input_path, fmt)
        with Bar(
            "augment", total=total, done=state["rows_done"], unit="rows", enabled=progress, transient=False
        ) as bar:
            if workers == 1:
                for offset, texts, labels in pending_chunks():
                    tally: dict[str, Any] = {}
                    records = augment_chunk(
                        texts, labels, ops, names, seeds, n, offset, keep_original, filters, {}, tally
                    )
                    commit(offset, texts, labels, records, tally)
            else:
                _run_parallel(pending_chunks(), commit, workers, (ops, names, seeds, n, keep_original, list(filters)))
        writer.finish(state_path)
    except BaseException as exc:
        raise _stopped(exc, out, writer, state_path, state["rows_done"]) from None
    summary = AugmentSummary.from_counts(
        str(out),
        state["rows_done"],
        state["rows_out"],
        keep_original,
        state["tally"],
        filter_names=[f.name for f in filters],
        seconds=round(time.perf_counter() - start, 3),
        resumed_from=resumed_from,
    )
    warn_if_empty(summary, input_path)
    log.info("augmented %d rows -> %d rows in %.1fs", summary.rows_in, summary.rows_out, summary.seconds)
    return summary


def warn_if_empty(summary: AugmentSummary, input_path: Any) -> None:
    """An input with a header and no rows gives an empty output: said, not silent."""
    if summary.rows_in == 0:
        log.warning("%s has no rows after its header: the output %s is empty", input_path, summary.output)


def input_language(input_path: str | os.PathLike, lang: str | None, text_column: str, **read: Any) -> str | None:
    """``lang`` (normalised), or the language detected in the input's first 2,000 rows; None for an input with no
    rows (nothing to augment, nothing to refuse: the run writes an empty output and warns)."""
    from textrobust import lang as _lang
    from textrobust.data.io import iter_frames

    if lang is not None and lang.lower() != "auto":
        return _lang.normalise(lang)
    first = next(iter(iter_frames(input_path, chunk_rows=2000, **read)), None)
    if first is None or not len(first):
        return None
    if text_column not in first.columns:  # the same message as the reading loop's
        raise DataError(
            f"{input_path}: no column {text_column!r}; columns are {list(first.columns)} (pass --text-column)"
        )
    return _lang.detect_language(str(t) for t in first[text_column].tolist()).lang


def checked_ops(ops: Sequence[Operator] | Operator, n: int, batch_size: int, who: str) -> list[Operator]:
    """``ops`` as a non-empty list, with their optional resources present and ``n`` / ``batch_size`` >= 1;
    ConfigError / ResourceError otherwise (before anything is written)."""
    ops = [ops] if isinstance(ops, Operator) else list(ops)
    if not ops or not all(isinstance(o, Operator) for o in ops):
        raise ConfigError(f"{who}: ops must be an operator or a non-empty list of operators")
    for o in ops:
        o.check_extras()
    if batch_size < 1 or n < 1:
        raise ConfigError(f"{who}: batch_size and n must be >= 1, got batch_size={batch_size}, n={n}")
    return ops


def operator_seeds(seed: int, k: int) -> list[int]:
    """The seed of each of ``k`` operators applied side by side: ``seed`` for the first, one derived from
    ``(seed, i)`` for operator ``i > 0`` (two copies of one operator give different variants)."""
    import numpy as np

    return [seed] + [int(np.random.SeedSequence([seed, i]).generate_state(1)[0]) for i in range(1, k)]


def _stopped(exc: BaseException, out: Path, writer: ChunkWriter, state_path: Path, rows_done: int) -> BaseException:
    """What to raise when a run stops early. Without progress everything it wrote is removed; with progress the
    partial output is kept and the message says how to continue."""
    if rows_done == 0:
        writer.discard(state_path)
        if isinstance(exc, OSError):
            return DataError(f"{out}: cannot write the output: {exc.strerror or exc}")
        return exc
    note = (
        f"{rows_done} input rows are done and kept in {writer.partial}: rerun with --resume (resume=True) to "
        "continue, or without it to start over"
    )
    if isinstance(exc, TextRobustError):
        return type(exc)(f"{exc}; {note}")
    if isinstance(exc, OSError):
        return DataError(f"{out}: cannot write the output: {exc.strerror or exc}; {note}")
    log.warning("augment stopped (%s); %s", type(exc).__name__, note)
    return exc


def _effective_workers(workers: int, ops: Sequence[Operator], filters: Sequence[Filter]) -> int:
    """``workers``, or 1 (with a warning) when a model-backed operator or filter must stay in this process;
    ConfigError when the pipeline cannot be sent to worker processes."""
    if workers == 1:
        return 1
    in_process = [o.spec_str() for o in ops if o.batched]
    in_process += [f.name for f in filters if getattr(f, "name", None) in IN_PROCESS_FILTERS]
    if in_process:
        log.warning(
            "augment_file: %s run a model in this process; using 1 worker instead of %d", ", ".join(in_process), workers
        )
        return 1
    try:
        pickle.dumps((list(ops), list(filters)))
    except Exception as exc:  # noqa: BLE001 - any pickling failure means the pipeline cannot be shipped
        raise ConfigError(
            f"augment_file: workers={workers} needs picklable operators and filters ({exc}); use workers=1"
        ) from None
    return workers


IN_PROCESS_FILTERS = ("similarity", "label_preserving")

# The pipeline of a worker process, set once by _init_worker (not pickled with every chunk).
_WORKER_PIPELINE: tuple[Any, ...] | None = None


def _init_worker(pipeline: tuple[Any, ...]) -> None:
    global _WORKER_PIPELINE
    _WORKER_PIPELINE = pipeline


def _work(offset: int, texts: list[str], labels: list[Any] | None) -> tuple[list[tuple], dict[str, Any]]:
    assert _WORKER_PIPELINE is not None
    ops, names, seeds, n, keep_original, filters = _WORKER_PIPELINE
    tally: dict[str, Any] = {}
    records = augment_chunk(texts, labels, ops, names, seeds, n, offset, keep_original, filters, {}, tally)
    return records, tally


def _run_parallel(
    chunks: Iterator[tuple[int, list[str], Any]], commit: Any, workers: int, pipeline: tuple[Any, ...]
) -> None:
    """Augment ``chunks`` in ``workers`` spawned processes; ``commit`` each result in input order, with at most
    ``2 * workers`` chunks in flight so memory stays flat."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    window: deque[tuple[int, list[str], Any, Any]] = deque()
    with ProcessPoolExecutor(
        workers, mp_context=multiprocessing.get_context("spawn"), initializer=_init_worker, initargs=(pipeline,)
    ) as pool:
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


def output_columns(text_column: str, label_column: str, labels: Any) -> list[str]:
    cols = [text_column] + ([label_column] if labels is not None else [])
    return cols + ["source_index", "operator"]


def augment_rows(
    texts: Sequence[str],
    labels: Sequence[Any] | None,
    ops: Sequence[Operator],
    *,
    seed: int = 0,
    n: int = 1,
    offset: int = 0,
    keep_original: bool = False,
    filters: Sequence[Filter] = (),
    dropped: dict[str, int] | None = None,
) -> list[tuple]:
    """What :func:`augment_file` writes for these rows, in memory: ``(text, label, source_index, operator)``
    tuples (no label without ``labels``), every operator making up to ``n`` variants of every row (``each``),
    filtered; ``dropped`` counts the variants each filter removed. Experiments build their training rows here.

    Example:
        >>> from textrobust.augment import parse_op
        >>> rows = augment_rows(["a fine movie about friends"], [1], [parse_op("char:p=0.5")], n=2)
        >>> len(rows), {r[1:] for r in rows}
        (2, {(1, 0, 'char:p=0.5')})
    """
    texts, ops = list(texts), list(ops)
    names, seeds = [o.spec_str() for o in ops], operator_seeds(seed, len(ops))
    return augment_chunk(
        texts,
        None if labels is None else list(labels),
        ops,
        names,
        seeds,
        n,
        offset,
        keep_original,
        filters,
        {} if dropped is None else dropped,
    )


def augment_chunk(
    texts, labels, ops, names, seeds, n, offset, keep_original, filters, dropped, tally=None
) -> list[tuple]:
    """The output rows of one chunk. ``dropped`` counts the variants each filter removed; ``tally`` (when given)
    counts per operator the variants asked (rows x ``n``), made, dropped per filter, and the rows it could not vary
    (what :class:`AugmentSummary` reports)."""
    per_row: list[list[tuple[str, str]]] = [[("original", t)] if keep_original else [] for t in texts]
    for op, name, op_seed in zip(ops, names, seeds, strict=True):
        variants = op(texts, seed=op_seed, n=n, offset=offset)
        counts = {
            "asked": len(texts) * n,
            "made": sum(len(vs) for vs in variants),
            "rows_without_variant": sum(not vs for vs in variants),
            "dropped": {f.name: 0 for f in filters},
        }
        for f in filters:
            variants, k = f(texts, variants, labels)
            dropped[f.name] = dropped.get(f.name, 0) + k
            counts["dropped"][f.name] += k
        if tally is not None:
            add_counts(tally.setdefault(name, {}), counts)
        for i, vs in enumerate(variants):
            per_row[i].extend((name, v) for v in vs)
    records = []
    for i, rows in enumerate(per_row):
        for name, text in rows:
            lab = () if labels is None else (labels[i],)
            records.append((text, *lab, offset + i, name))
    return records


def _write_state(path: Path, state: dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(state), encoding="utf-8")


def partial_paths(out: Path) -> tuple[Path, Path, Path]:
    """The hidden files of an unfinished output: the partial data, its checkpoint, the Parquet merge file."""
    return (
        out.with_name(f".{out.name}.partial"),
        out.with_name(f".{out.name}.partial.json"),
        out.with_name(f".{out.name}.merge"),
    )


def clear_partial(out: Path) -> None:
    for p in partial_paths(out):
        if p.is_dir():
            shutil.rmtree(p)
        else:
            p.unlink(missing_ok=True)
