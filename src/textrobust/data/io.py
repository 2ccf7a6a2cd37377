"""Load and save labelled text: CSV, TSV, JSONL, Parquet, one-file-per-label directories, HF datasets.

Every problem with the input becomes a one-line :class:`~textrobust.errors.DataError` naming the file and what to
do; inputs are never modified and outputs are written atomically.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import DataError
from .atomic import atomic_path
from .dataset import LabeledData

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

log = logging.getLogger(__name__)

#: File extension -> format name.
FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}
#: Formats with no extension of their own, chosen with ``fmt=``.
#: ``label-text``: one example per line, the label before the first space (TextFooler's attack sets).
EXTRA_FORMATS = ("label-text",)


def format_of(path: str | os.PathLike, fmt: str | None = None) -> str:
    """The format of ``path``: ``fmt`` if given, else from the extension.

    Example:
        >>> format_of("train.tsv")
        'tsv'
    """
    if fmt:
        if fmt not in set(FORMATS.values()) | set(EXTRA_FORMATS):
            known = sorted(set(FORMATS.values()) | set(EXTRA_FORMATS))
            raise DataError(f"unknown format '{fmt}'; use one of {', '.join(known)}")
        return fmt
    ext = Path(path).suffix.lower()
    if ext not in FORMATS:
        raise DataError(
            f"{path}: unknown file extension '{ext or '(none)'}'; use .csv, .tsv, .jsonl or .parquet "
            f"(or pass the format explicitly, e.g. --format label-text)"
        )
    return FORMATS[ext]


def source_kind(source: str | os.PathLike, fmt: str | None = None) -> str:
    """What kind of source ``source`` is: ``hf`` (``hf:NAME``), ``datasets`` (a directory saved by HF
    ``datasets``), ``label-dir`` (one plain-text file per label) or a file format (``csv``, ``tsv``, ``jsonl``,
    ``parquet``, ``label-text``).

    Example:
        >>> source_kind("hf:imdb")
        'hf'
    """
    src = str(source)
    if src.startswith("hf:"):
        return "hf"
    path = Path(src)
    if path.is_dir():
        markers = ("dataset_info.json", "state.json", "dataset_dict.json")
        return "datasets" if any((path / m).exists() for m in markers) else "label-dir"
    if not path.exists():
        raise DataError(f"{path}: file not found")
    return format_of(path, fmt)


def iter_frames(
    source: str | os.PathLike,
    *,
    fmt: str | None = None,
    encoding: str = "utf-8",
    split: str = "train",
    chunk_rows: int | None = None,
) -> Iterator[pd.DataFrame]:
    """Read any source :func:`load_dataset` accepts, as DataFrames of strings/numbers: the whole table in one
    frame, or with ``chunk_rows`` in frames of at most that many rows, streamed (memory stays flat for CSV, TSV,
    JSONL, Parquet, label-text files and saved ``datasets`` directories). Every command reads through here, so a
    file parses the same way everywhere: CSV and TSV use standard quoting (``"a, b"``; a TSV is a CSV with tabs)
    and keep ``NA``/``null`` as text; one-file-per-label directories give the columns ``text`` and ``label``.
    Unreadable input raises a one-line :class:`~textrobust.errors.DataError`, also half-way through a file.

    Example:
        >>> for chunk in iter_frames("train.csv", chunk_rows=1000):  # doctest: +SKIP
        ...     print(len(chunk))
    """
    if chunk_rows is not None and chunk_rows < 1:
        raise DataError(f"chunk_rows must be >= 1, got {chunk_rows}")
    kind = source_kind(source, fmt)
    src = str(source)
    if kind in ("hf", "datasets"):
        yield from _hf_frames(src[3:] if kind == "hf" else src, split, kind == "datasets", chunk_rows)
        return
    path = Path(src)
    if kind == "label-dir":
        yield from _slices(_read_label_dir(path, encoding), chunk_rows)
        return
    if kind == "jsonl":
        yield from _batched(_jsonl_rows(path, encoding), chunk_rows, path)
        return
    if kind == "label-text":
        yield from _batched(_label_text_rows(path, encoding), chunk_rows, path)
        return
    yield from _guarded(path, kind, encoding, _table_frames(path, kind, encoding, chunk_rows))


def read_table(
    source: str | os.PathLike, *, fmt: str | None = None, encoding: str = "utf-8", split: str = "train"
) -> pd.DataFrame:
    """The whole of ``source`` as one DataFrame (see :func:`iter_frames` for the sources and parsing rules).

    Example:
        >>> read_table("../shared/data/mr", encoding="cp1252").columns.tolist()  # doctest: +SKIP
        ['text', 'label']
    """
    return next(iter_frames(source, fmt=fmt, encoding=encoding, split=split))


def read_frame(path: str | os.PathLike, fmt: str | None = None, encoding: str = "utf-8") -> pd.DataFrame:
    """Read a table file (not a directory) into a DataFrame, with clear errors for unreadable files."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found")
    if path.is_dir():
        raise DataError(f"{path}: is a directory; give a file, or a directory with one file per label")
    return read_table(path, fmt=fmt, encoding=encoding)


def count_rows(source: str | os.PathLike, fmt: str | None = None) -> int | None:
    """Rows in ``source`` for a progress bar's ETA, cheaply: Parquet and ``datasets`` metadata, else a newline
    count (approximate for CSV with line breaks inside quotes); None when it cannot tell."""
    try:
        kind = source_kind(source, fmt)
        if kind == "parquet":
            import pyarrow.parquet as pq

            return pq.ParquetFile(source).metadata.num_rows
        if kind not in ("csv", "tsv", "jsonl", "label-text"):
            return None
        lines = 0
        with open(source, "rb") as fh:
            while block := fh.read(1 << 20):
                lines += block.count(b"\n")
        return max(lines - (1 if kind in ("csv", "tsv") else 0), 0)
    except (OSError, DataError):
        return None


def _table_frames(path: Path, kind: str, encoding: str, chunk_rows: int | None) -> Iterator[pd.DataFrame]:
    import pandas as pd

    if kind == "parquet":
        import pyarrow.parquet as pq

        if chunk_rows is None:
            yield pd.read_parquet(path)
            return
        for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_rows):
            yield batch.to_pandas()
        return
    # keep_default_na=False: the text "NA" or "null" is a real sentence, not a missing value.
    options = dict(sep="," if kind == "csv" else "\t", encoding=encoding, dtype=str, keep_default_na=False)
    if chunk_rows is None:
        yield pd.read_csv(path, **options)
        return
    with pd.read_csv(path, chunksize=chunk_rows, **options) as chunks:
        yield from chunks


def _guarded(path: Path, kind: str, encoding: str, frames: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """``frames``, with the parser's errors (at the start or half-way) turned into one-line DataErrors."""
    import pandas as pd

    while True:
        try:
            frame = next(frames)
        except StopIteration:
            return
        except UnicodeDecodeError as e:
            raise DataError(_decode_message(path, e, encoding)) from None
        except DataError:
            raise
        except pd.errors.EmptyDataError:
            raise DataError(f"{path}: file is empty") from None
        except Exception as e:  # parser errors of pandas/pyarrow: the file is not what its extension says
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise DataError(f"{path}: not a valid {kind.upper()} file ({first})") from None
        yield frame


def _decode_message(path: Path, e: UnicodeDecodeError, encoding: str) -> str:
    return (
        f"{path}: cannot decode byte {e.object[e.start : e.start + 1]!r} at offset {e.start} as {encoding}; "
        f"pass the file's encoding (e.g. --encoding cp1252)"
    )


def _lines(path: Path, encoding: str) -> Iterator[tuple[int, str]]:
    """Numbered lines split on ``\\n`` only (``str.splitlines`` would also split on U+0085, common in cp1252)."""
    try:
        with open(path, encoding=encoding, newline="") as f:
            for lineno, line in enumerate(f, 1):
                yield lineno, line.rstrip("\n").rstrip("\r")
    except UnicodeDecodeError as e:
        raise DataError(_decode_message(path, e, encoding)) from None


def jsonl_objects(lines: Iterable[tuple[int, str]], where: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for every non-blank JSON Lines line; a line that is not a JSON object is a
    one-line :class:`DataError` naming ``where`` and the line.

    Example:
        >>> list(jsonl_objects(enumerate(['{"a": 1}', ""], 1), "x.jsonl"))
        [(1, {'a': 1})]
    """
    for lineno, line in lines:
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            raise DataError(f"{where}: line {lineno} is not valid JSON; expected one JSON object per line") from None
        if not isinstance(row, dict):
            raise DataError(f"{where}: line {lineno} is a JSON {type(row).__name__}, expected an object")
        yield lineno, row


def _jsonl_rows(path: Path, encoding: str) -> Iterator[dict[str, Any]]:
    return (row for _, row in jsonl_objects(_lines(path, encoding), str(path)))


def _label_text_rows(path: Path, encoding: str) -> Iterator[dict[str, Any]]:
    for lineno, line in _lines(path, encoding):
        if not line.strip():
            continue
        label, _, text = line.partition(" ")
        if not text.strip():
            raise DataError(f"{path}: line {lineno} has no text after the label; expected '<label> <text>'")
        yield {"text": text.strip(), "label": label}


def _batched(rows: Iterator[dict[str, Any]], chunk_rows: int | None, path: Path) -> Iterator[pd.DataFrame]:
    """DataFrames of ``chunk_rows`` rows (all rows when None) built from dict rows; an empty file is an error."""
    import pandas as pd

    batch: list[dict[str, Any]] = []
    seen = False
    for row in rows:
        batch.append(row)
        if chunk_rows is not None and len(batch) == chunk_rows:
            seen = True
            yield pd.DataFrame(batch)
            batch = []
    if batch or not seen:
        if not batch:
            raise DataError(f"{path}: file is empty")
        yield pd.DataFrame(batch)


def _slices(frame: pd.DataFrame, chunk_rows: int | None) -> Iterator[pd.DataFrame]:
    if chunk_rows is None:
        yield frame
        return
    for start in range(0, len(frame), chunk_rows):
        yield frame.iloc[start : start + chunk_rows].reset_index(drop=True)


def _hf_frames(name: str, split: str, local: bool, chunk_rows: int | None) -> Iterator[pd.DataFrame]:
    """A saved ``datasets`` directory (memory-mapped Arrow) or a hub dataset, with ClassLabel ids read as names."""
    import datasets

    try:
        ds: Any = datasets.load_from_disk(name) if local else datasets.load_dataset(name, split=split)
    except Exception as e:
        where = "local datasets directory" if local else "Hugging Face dataset (is the hub reachable?)"
        raise DataError(
            f"{name}: cannot load {where}: {str(e).splitlines()[0] if str(e) else type(e).__name__}"
        ) from None
    if isinstance(ds, datasets.DatasetDict):
        if split not in ds:
            raise DataError(f"{name}: no split '{split}'; available: {', '.join(ds)}")
        ds = ds[split]
    names = {col: feat.names for col, feat in ds.features.items() if isinstance(feat, datasets.ClassLabel)}
    frames = [ds.to_pandas()] if chunk_rows is None else ds.to_pandas(batch_size=chunk_rows, batched=True)
    for frame in frames:
        for col, labels in names.items():  # keep ClassLabel names so labels read as names, not bare integers
            frame[col] = [labels[i] for i in frame[col]]
        yield frame


def _read_label_dir(path: Path, encoding: str) -> pd.DataFrame:
    """One plain-text file per label, one example per line (MR ``rt-polarity.pos``, SUBJ ``subj.objective``)."""
    import pandas as pd

    files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
    if not files:
        raise DataError(f"{path}: directory has no files; expected one text file per label")
    texts, labels = [], []
    for p in files:
        label = label_from_filename(p.name)
        try:
            # Split on "\n" only: str.splitlines() would also split on U+0085, which cp1252/latin-1 files contain.
            lines = p.read_bytes().decode(encoding).split("\n")
        except UnicodeDecodeError as e:
            raise DataError(_decode_message(p, e, encoding)) from None
        for line in lines:
            line = line.rstrip("\r")
            if line.strip():
                texts.append(line.strip())
                labels.append(label)
    return pd.DataFrame({"text": texts, "label": labels})


def label_from_filename(name: str) -> str:
    """``rt-polarity.pos`` -> ``pos``; ``subj.objective`` -> ``objective``; ``positive.txt`` -> ``positive``."""
    stem = name[:-4] if name.lower().endswith(".txt") else name
    return stem.rsplit(".", 1)[-1] if "." in stem else stem


def load_dataset(
    source: str | os.PathLike,
    *,
    text_column: str = "text",
    label_column: str = "label",
    label_names: Sequence[str] | None = None,
    encoding: str = "utf-8",
    fmt: str | None = None,
    split: str = "train",
) -> LabeledData:
    """Load labelled text from a file, a one-file-per-label directory, a saved ``datasets`` directory or a
    Hugging Face dataset name (``hf:NAME``; needs the hub, which is unreachable offline).

    Labels may be names or integers. With ``label_names``, integer labels index into it and string labels must
    be among it; without, the sorted distinct values become the names (integers stay in numeric order).

    Example:
        >>> d = load_dataset("../shared/data/mr", encoding="cp1252")  # doctest: +SKIP
        >>> d.label_names, len(d)  # doctest: +SKIP
        (['neg', 'pos'], 10662)
    """
    if source_kind(source, fmt) == "label-dir":  # its files give the columns text and label
        text_column, label_column = "text", "label"
    frame = read_table(source, fmt=fmt, encoding=encoding, split=split)
    name = str(source)
    return frame_to_data(frame, name=name, text_column=text_column, label_column=label_column, label_names=label_names)


def frame_to_data(
    frame: pd.DataFrame,
    *,
    name: str = "data",
    text_column: str = "text",
    label_column: str = "label",
    label_names: Sequence[str] | None = None,
) -> LabeledData:
    """Validate a DataFrame and turn it into :class:`LabeledData` (errors name the row, 1-based)."""
    cols = [str(c) for c in frame.columns]
    for col, what in ((text_column, "text"), (label_column, "label")):
        if col not in cols:
            raise DataError(
                f"{name}: no {what} column '{col}'; columns are: {', '.join(cols)} (choose with --{what}-column)"
            )
    if len(frame) == 0:
        raise DataError(f"{name}: no rows (the file is empty but for its header)")
    texts_raw = frame[text_column].tolist()
    texts: list[str] = []
    for i, t in enumerate(texts_raw):
        if t is None or (isinstance(t, float) and t != t) or not str(t).strip():
            raise DataError(f"{name}: row {i + 1} has an empty text in column '{text_column}'; remove or fill it")
        texts.append(str(t))
    raw = frame[label_column].tolist()
    for i, v in enumerate(raw):
        if v is None or (isinstance(v, float) and v != v) or str(v).strip() == "":
            raise DataError(f"{name}: row {i + 1} has no label in column '{label_column}'; remove or fill it")
    values = [_normalise_label(v) for v in raw]
    if label_names is not None:
        names = [str(n) for n in label_names]
        if len(set(names)) != len(names):
            raise DataError(f"{name}: label names must be distinct, got {names}")
        index = {n: i for i, n in enumerate(names)}
        labels = []
        for i, v in enumerate(values):
            if isinstance(v, int) and str(v) not in index:
                if not 0 <= v < len(names):
                    raise DataError(
                        f"{name}: row {i + 1} has label {v}, outside 0..{len(names) - 1} for label names {names}"
                    )
                labels.append(v)
            elif str(v) in index:
                labels.append(index[str(v)])
            else:
                raise DataError(f"{name}: row {i + 1} has label '{v}', which is not one of {names}")
    else:
        distinct = sorted(set(values), key=lambda v: (not isinstance(v, int), v if isinstance(v, int) else 0, str(v)))
        names = [str(v) for v in distinct]
        index = {str(v): i for i, v in enumerate(distinct)}
        labels = [index[str(v)] for v in values]
    return LabeledData(texts, labels, names, name)


def _normalise_label(v: Any) -> int | str:
    """Integers (also ``"1"`` and ``1.0``) become ``int``; anything else its string."""
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    s = str(v).strip()
    if s.lstrip("-").isdigit():
        return int(s)
    return s


def save_frame(frame: pd.DataFrame, path: str | os.PathLike, fmt: str | None = None) -> Path:
    """Write a DataFrame atomically in the format its extension names."""
    path = Path(path)
    kind = format_of(path, fmt)
    with atomic_path(path) as tmp:
        if kind == "csv":
            frame.to_csv(tmp, index=False)
        elif kind == "tsv":
            frame.to_csv(tmp, index=False, sep="\t")
        elif kind == "jsonl":
            frame.to_json(tmp, orient="records", lines=True, force_ascii=False)
        elif kind == "parquet":
            frame.to_parquet(tmp, index=False)
        else:
            with open(tmp, "w", encoding="utf-8") as f:
                for t, y in zip(frame["text"], frame["label"], strict=True):
                    f.write(f"{y} {t}\n")
    return path


def save_dataset(data: LabeledData, path: str | os.PathLike, fmt: str | None = None) -> Path:
    """Save ``data`` (``text``, ``label`` columns with label names) atomically; the format follows the extension.

    Example:
        >>> save_dataset(LabeledData(["fine"], [0], ["pos"]), "out.jsonl")  # doctest: +SKIP
    """
    return save_frame(data.to_pandas(), path, fmt)
