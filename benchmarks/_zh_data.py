"""The Chinese and multilingual evaluation data of the language benchmarks, prepared the same way every time.

* ChnSentiCorp (ERNIE splits): read as plain tab-separated lines (its reviews hold unbalanced double quotes, which
  a CSV reader with quoting merges into neighbouring rows: 9,146 of the 9,600 training rows survive that), then
  deduplicated: each text once per split, texts with both labels dropped, dev/test texts that occur in train
  dropped (:meth:`LabeledData.deduplicated`). Written to JSONL so that ``textrobust`` commands read the same rows.
* online_shopping_10_cats: the gzipped CSV (its ``review`` column is quoted properly), by category.
* UMSAB: ``{split}_text.txt`` / ``{split}_labels.txt`` per language (0 negative, 1 neutral, 2 positive).

Example:
    >>> from _zh_data import chnsenticorp
    >>> train, dev, test, counts = chnsenticorp()  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

from textrobust.data import LabeledData, shared_data_dir

LABELS = ["negative", "positive"]
UMSAB_LABELS = ["negative", "neutral", "positive"]
UMSAB_DIRS = {"fr": "french", "pt": "portuguese", "en": "english", "de": "german", "es": "spanish", "it": "italian"}


def _tsv(path: Path) -> LabeledData:
    texts, labels = [], []
    with open(path, encoding="utf-8", newline="") as fh:
        rows = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        next(rows)  # label, text_a
        for row in rows:
            if len(row) >= 2 and row[0] in ("0", "1"):
                texts.append("\t".join(row[1:]).strip())
                labels.append(int(row[0]))
    return LabeledData(texts, labels, LABELS, path.stem)


def chnsenticorp(data_dir: Path | None = None) -> tuple[LabeledData, LabeledData, LabeledData, dict]:
    """Deduplicated ChnSentiCorp train, dev, test and what was dropped from each."""
    root = (data_dir or shared_data_dir()) / "chnsenticorp"
    raw = {split: _tsv(root / f"{split}.tsv") for split in ("train", "dev", "test")}
    seen = list(raw["train"].texts)
    train, d_train = raw["train"].deduplicated()
    test, d_test = raw["test"].deduplicated(exclude=seen)
    dev, d_dev = raw["dev"].deduplicated(exclude=seen + test.texts)
    counts = {
        "raw": {k: len(v) for k, v in raw.items()},
        "kept": {"train": len(train), "dev": len(dev), "test": len(test)},
        "dropped": {"train": d_train, "dev": d_dev, "test": d_test},
    }
    return train, dev, test, counts


def write_jsonl(data: LabeledData, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        for t, y in zip(data.texts, data.labels, strict=True):
            fh.write(json.dumps({"text": t, "label": data.label_names[y]}, ensure_ascii=False) + "\n")
    return path


def shopping(data_dir: Path | None = None) -> dict[str, LabeledData]:
    """online_shopping_10_cats by category (empty reviews dropped, each text once per category)."""
    path = (data_dir or shared_data_dir()) / "online_shopping_10_cats" / "online_shopping_10_cats.csv.gz"
    by: dict[str, tuple[list[str], list[int]]] = {}
    with gzip.open(path, "rt", encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            text = (row.get("review") or "").strip().lstrip("\ufeff")
            if text and row.get("label") in ("0", "1"):
                texts, labels = by.setdefault(row["cat"], ([], []))
                texts.append(text)
                labels.append(int(row["label"]))
    return {
        cat: LabeledData(t, y, LABELS, cat).deduplicated()[0] for cat, (t, y) in sorted(by.items(), key=lambda x: x[0])
    }


def umsab(lang: str, split: str = "test", data_dir: Path | None = None) -> LabeledData:
    """UMSAB tweets of one language (``fr``, ``pt``, ...)."""
    folder = (data_dir or shared_data_dir()) / "umsab" / UMSAB_DIRS[lang]
    texts = (folder / f"{split}_text.txt").read_text(encoding="utf-8").splitlines()
    labels = [int(x) for x in (folder / f"{split}_labels.txt").read_text(encoding="utf-8").split()]
    return LabeledData(texts[: len(labels)], labels, UMSAB_LABELS, f"umsab-{lang}-{split}")
