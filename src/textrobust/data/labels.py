"""Label to index: the one rule every part of textrobust uses for a label given by index or by name.

(Matching two sets of label *names* that differ in case or prefix, model vs data, is
:func:`textrobust.robustness.labels.match_labels`.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import ConfigError


def label_index(label: Any, names: Sequence[Any], *, where: str = "label") -> int:
    """The index of ``label`` in ``names``: an integer (also ``"1"`` and numpy integers) is an index and must be in
    range when ``names`` is known; a string is looked up among the names first. Anything else is a
    :class:`ConfigError` naming ``where``.

    Example:
        >>> label_index("pos", ["neg", "pos"]), label_index(0, ["neg", "pos"]), label_index("1", ["neg", "pos"])
        (1, 0, 1)
    """
    names = [str(n) for n in names]
    if isinstance(label, str) and label in names:
        return names.index(label)
    index: int | None = None
    if hasattr(label, "__index__") and not isinstance(label, bool):
        index = int(label.__index__())
    elif isinstance(label, str) and label.strip().lstrip("-").isdigit():
        index = int(label)
    if index is not None and (not names or 0 <= index < len(names)):
        return index
    if index is not None:
        raise ConfigError(f"{where}: label index {index} is out of range for the labels {names}")
    raise ConfigError(f"{where}: label {label!r} is neither an index into nor one of the labels {names}")
