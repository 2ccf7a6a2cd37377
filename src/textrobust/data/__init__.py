"""Loading and saving labelled text (``textrobust.data``).

Example:
    >>> from textrobust.data import load_dataset
    >>> sst2 = load_dataset("../shared/data/sst2/dev.tsv", text_column="sentence")  # doctest: +SKIP
"""

from .atomic import atomic_path
from .dataset import LabeledData
from .io import (
    count_rows,
    format_of,
    frame_to_data,
    iter_frames,
    load_dataset,
    read_frame,
    read_table,
    save_dataset,
    save_frame,
    source_kind,
)
from .paths import demo_data_path, shared_data_dir

__all__ = [
    "LabeledData",
    "atomic_path",
    "count_rows",
    "demo_data_path",
    "format_of",
    "frame_to_data",
    "iter_frames",
    "load_dataset",
    "read_frame",
    "read_table",
    "save_dataset",
    "save_frame",
    "shared_data_dir",
    "source_kind",
]
