"""The labelled-text container every part of textrobust passes around."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ..errors import DataError

if TYPE_CHECKING:  # pragma: no cover
    import datasets
    import pandas as pd


@dataclass(frozen=True)
class LabeledData:
    """Texts with integer labels indexing into ``label_names``.

    Plain lists keep it cheap to build, slice and hash; ``to_pandas()`` and ``to_hf()`` convert when a library
    wants its own type.

    Example:
        >>> d = LabeledData(["good", "bad"], [1, 0], ["negative", "positive"])
        >>> d.label_of(0), len(d)
        ('positive', 2)
    """

    texts: list[str]
    labels: list[int]
    label_names: list[str]
    name: str = field(default="data", compare=False)

    def __post_init__(self) -> None:
        if len(self.texts) != len(self.labels):
            raise DataError(f"{self.name}: {len(self.texts)} texts but {len(self.labels)} labels")
        k = len(self.label_names)
        if k == 0:
            raise DataError(f"{self.name}: no label names; pass label_names")
        bad = [i for i, y in enumerate(self.labels) if not 0 <= int(y) < k]
        if bad:
            raise DataError(
                f"{self.name}: label index {self.labels[bad[0]]} at row {bad[0] + 1} is outside 0..{k - 1} "
                f"(label names: {self.label_names})"
            )

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def num_labels(self) -> int:
        return len(self.label_names)

    def label_of(self, i: int) -> str:
        """The label name of row ``i``."""
        return self.label_names[self.labels[i]]

    def subset(self, indices: Sequence[int], name: str | None = None) -> LabeledData:
        """Rows at ``indices`` (in that order)."""
        return LabeledData(
            [self.texts[i] for i in indices],
            [self.labels[i] for i in indices],
            list(self.label_names),
            name or self.name,
        )

    def sample(self, n: int, seed: int = 0, stratify: bool = True) -> LabeledData:
        """``n`` rows drawn without replacement; stratified by label so small samples keep the class balance.

        Example:
            >>> d = LabeledData(["a", "b", "c", "d"], [0, 0, 1, 1], ["x", "y"])
            >>> sorted(d.sample(2, seed=1).labels)
            [0, 1]
        """
        if n >= len(self):
            return self
        if n <= 0:
            raise DataError(f"{self.name}: sample size must be positive, got {n}")
        rng = np.random.default_rng(seed)
        if not stratify:
            idx = rng.choice(len(self), size=n, replace=False)
            return self.subset(sorted(idx.tolist()))
        return self.subset(sorted(_stratified_indices(self.labels, n, seed)))

    def split(self, test_size: float = 0.2, seed: int = 0) -> tuple[LabeledData, LabeledData]:
        """Stratified train/test split.

        Example:
            >>> d = LabeledData([str(i) for i in range(10)], [0] * 5 + [1] * 5, ["x", "y"])
            >>> [len(p) for p in d.split(0.2)]
            [8, 2]
        """
        if not 0 < test_size < 1:
            raise DataError(f"{self.name}: test_size must be between 0 and 1, got {test_size}")
        # Rows are split by index, not text, so duplicate texts are handled correctly.
        test_idx = set(_stratified_indices(self.labels, max(1, round(len(self) * test_size)), seed))
        train_idx = [i for i in range(len(self)) if i not in test_idx]
        return self.subset(train_idx, f"{self.name}[train]"), self.subset(sorted(test_idx), f"{self.name}[test]")

    def deduplicated(self, exclude: Sequence[str] = ()) -> tuple[LabeledData, dict[str, int]]:
        """Each text once (compared with whitespace removed), texts that carry two labels dropped altogether, and
        texts in ``exclude`` (e.g. the training set, for a test set) dropped; returns the data and the counts of
        each drop. The first occurrence keeps its place.

        Example:
            >>> d = LabeledData(["a b", "ab", "c", "c", "x"], [1, 1, 0, 1, 0], ["neg", "pos"])
            >>> kept, dropped = d.deduplicated(exclude=["x"])
            >>> kept.texts, dropped
            (['a b'], {'duplicates': 1, 'conflicting': 2, 'excluded': 1})
        """

        def key(t: str) -> str:
            return "".join(t.split())

        labels_of: dict[str, set[int]] = {}
        for t, y in zip(self.texts, self.labels, strict=True):
            labels_of.setdefault(key(t), set()).add(int(y))
        out_keys = {key(t) for t in exclude}
        seen: set[str] = set()
        keep, dropped = [], {"duplicates": 0, "conflicting": 0, "excluded": 0}
        for i, t in enumerate(self.texts):
            k = key(t)
            if len(labels_of[k]) > 1:
                dropped["conflicting"] += 1
            elif k in out_keys:
                dropped["excluded"] += 1
            elif k in seen:
                dropped["duplicates"] += 1
            else:
                seen.add(k)
                keep.append(i)
        return self.subset(keep), dropped

    def concat(self, other: LabeledData) -> LabeledData:
        """Rows of ``self`` followed by rows of ``other`` (label names must match)."""
        if list(other.label_names) != list(self.label_names):
            raise DataError(f"cannot concatenate: label names {self.label_names} vs {other.label_names}")
        return LabeledData(self.texts + other.texts, self.labels + other.labels, list(self.label_names), self.name)

    def to_pandas(self) -> pd.DataFrame:
        """A DataFrame with ``text`` and ``label`` (label *names*) columns."""
        import pandas as pd

        return pd.DataFrame({"text": self.texts, "label": [self.label_names[y] for y in self.labels]})

    def to_hf(self) -> datasets.Dataset:
        """A ``datasets.Dataset`` with ``text`` and a ``ClassLabel`` ``label`` column."""
        import datasets

        features = datasets.Features(
            {"text": datasets.Value("string"), "label": datasets.ClassLabel(names=list(self.label_names))}
        )
        return datasets.Dataset.from_dict({"text": self.texts, "label": self.labels}, features=features)


def _stratified_indices(labels_list: Sequence[int], n: int, seed: int) -> list[int]:
    """``n`` row indices drawn per class in proportion to its size (largest-remainder rounding)."""
    labels = np.asarray(labels_list)
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    exact = counts / counts.sum() * n
    alloc = np.floor(exact).astype(int)
    for j in np.argsort(-(exact - alloc))[: n - alloc.sum()]:
        alloc[j] += 1
    chosen: list[int] = []
    for c, k in zip(classes, alloc, strict=True):
        pool = np.flatnonzero(labels == c)
        chosen.extend(rng.choice(pool, size=min(k, len(pool)), replace=False).tolist())
    return chosen
