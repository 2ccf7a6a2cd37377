"""Load and save labelled text: CSV, TSV, JSONL, Parquet, one-file-per-label directories, HF datasets.

Every problem with the input becomes a one-line :class:`~textrobust.errors.DataError` naming the file and what to
do; inputs are never modified and outputs are written atomically.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
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


def read_frame(path: str | os.PathLike, fmt: str | None = None, encoding: str = "utf-8") -> pd.DataFrame:
    """Read a table file into a DataFrame of strings/numbers, with clear errors for unreadable files."""
    import pandas as pd

    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found")
    if path.is_dir():
        raise DataError(f"{path}: is a directory; give a file, or a directory with one file per label")
    kind = format_of(path, fmt)
    try:
        if kind in ("csv", "tsv"):
            # keep_default_na=False: the text "NA" or "null" is a real sentence, not a missing value.
            return pd.read_csv(
                path, sep="," if kind == "csv" else "\t", encoding=encoding, dtype=str,
                keep_default_na=False,
            )
        if kind == "jsonl":
            return _read_jsonl(path, encoding)
        if kind == "parquet":
            return pd.read_parquet(path)
        if kind == "label-text":
            return _read_label_text(path, encoding)
    except UnicodeDecodeError as e:
        raise DataError(
            f"{path}: cannot decode byte {e.object[e.start:e.start + 1]!r} at offset {e.start} as {encoding}; "
            f"pass the file's encoding (e.g. --encoding cp1252)"
        ) from None
    except DataError:
        raise
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: file is empty") from None
    except Exception as e:  # parser errors of pandas/pyarrow: the file is not what its extension says
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DataError(f"{path}: not a valid {kind.upper()} file ({first})") from None
    raise DataError(f"{path}: unsupported format {kind}")  # pragma: no cover


def _read_jsonl(path: Path, encoding: str) -> pd.DataFrame:
    import pandas as pd

    rows = []
    with open(path, encoding=encoding) as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                raise DataError(f"{path}: line {lineno} is not valid JSON; expected one JSON object per line") from None
            if not isinstance(row, dict):
                raise DataError(f"{path}: line {lineno} is a JSON {type(row).__name__}, expected an object")
            rows.append(row)
    if not rows:
        raise DataError(f"{path}: file is empty")
    return pd.DataFrame(rows)


def _read_label_text(path: Path, encoding: str) -> pd.DataFrame:
    import pandas as pd

    labels, texts = [], []
    with open(path, encoding=encoding, newline="") as f:
        for lineno, line in enumerate(f.read().split("\n"), 1):
            if not line.strip():
                continue
            label, _, text = line.rstrip("\r").partition(" ")
            if not text.strip():
                raise DataError(f"{path}: line {lineno} has no text after the label; expected '<label> <text>'")
            labels.append(label)
            texts.append(text.strip())
    if not texts:
        raise DataError(f"{path}: file is empty")
    return pd.DataFrame({"text": texts, "label": labels})


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
            raise DataError(
                f"{p}: cannot decode byte {e.object[e.start:e.start + 1]!r} at offset {e.start} as {encoding}; "
                f"pass the file's encoding (e.g. --encoding cp1252)"
            ) from None
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
    src = str(source)
    path = Path(src)
    if src.startswith("hf:"):
        frame = _load_hf(src[3:], split)
        name = src
    elif path.is_dir():
        if (path / "dataset_info.json").exists() or (path / "state.json").exists() or (path / "dataset_dict.json").exists():
            frame = _load_hf(str(path), split, local=True)
        else:
            frame = _read_label_dir(path, encoding)
            text_column, label_column = "text", "label"
        name = str(path)
    else:
        frame = read_frame(path, fmt, encoding)
        name = str(path)
    return frame_to_data(frame, name=name, text_column=text_column, label_column=label_column, label_names=label_names)


def _load_hf(name: str, split: str, local: bool = False) -> pd.DataFrame:
    import datasets

    try:
        ds: Any = datasets.load_from_disk(name) if local else datasets.load_dataset(name, split=split)
    except Exception as e:
        where = "local datasets directory" if local else "Hugging Face dataset (is the hub reachable?)"
        raise DataError(f"{name}: cannot load {where}: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    if isinstance(ds, datasets.DatasetDict):
        if split not in ds:
            raise DataError(f"{name}: no split '{split}'; available: {', '.join(ds)}")
        ds = ds[split]
    frame = ds.to_pandas()
    # Keep ClassLabel names so labels read as names, not bare integers.
    for col, feat in ds.features.items():
        if isinstance(feat, datasets.ClassLabel):
            frame[col] = [feat.names[i] for i in frame[col]]
    return frame


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
                f"{name}: no {what} column '{col}'; columns are: {', '.join(cols)} "
                f"(choose with --{what}-column)"
            )
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
                for t, y in zip(frame["text"], frame["label"]):
                    f.write(f"{y} {t}\n")
    return path


def save_dataset(data: LabeledData, path: str | os.PathLike, fmt: str | None = None) -> Path:
    """Save ``data`` (``text``, ``label`` columns with label names) atomically; the format follows the extension.

    Example:
        >>> save_dataset(LabeledData(["fine"], [0], ["pos"]), "out.jsonl")  # doctest: +SKIP
    """
    return save_frame(data.to_pandas(), path, fmt)
