"""Loading and saving labelled text (``textrobust.data``).

Example:
    >>> from textrobust.data import load_dataset
    >>> sst2 = load_dataset("../shared/data/sst2/dev.tsv", text_column="sentence")  # doctest: +SKIP
"""

from .atomic import atomic_path
from .dataset import LabeledData
from .io import format_of, frame_to_data, load_dataset, read_frame, save_dataset, save_frame
from .paths import demo_data_path, shared_data_dir

__all__ = [
    "LabeledData",
    "atomic_path",
    "demo_data_path",
    "format_of",
    "frame_to_data",
    "load_dataset",
    "read_frame",
    "save_dataset",
    "save_frame",
    "shared_data_dir",
]
