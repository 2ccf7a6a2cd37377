"""Data loading/saving: formats, label handling, splits, and every bad-input message."""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import pytest

from textrobust.data import LabeledData, load_dataset, save_dataset
from textrobust.errors import DataError

SAMPLE = LabeledData(["a fine film", "dull, \"quoted\" and long", "NA", "émoji 🙂 ok"], [1, 0, 0, 1], ["neg", "pos"])


@pytest.mark.parametrize("ext", ["csv", "tsv", "jsonl", "parquet"])
def test_save_load_round_trip(tmp_path, ext):
    path = save_dataset(SAMPLE, tmp_path / f"d.{ext}")
    back = load_dataset(path)
    assert back.texts == SAMPLE.texts  # "NA" stays a text, quotes and emoji survive
    assert back.label_names == ["neg", "pos"]
    assert back.labels == SAMPLE.labels
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "temp files left behind"


def test_integer_labels_and_declared_names(tmp_path):
    p = tmp_path / "d.csv"
    pd.DataFrame({"sentence": ["x", "y", "z"], "y": [2, 0, 1]}).to_csv(p, index=False)
    d = load_dataset(p, text_column="sentence", label_column="y")
    assert d.label_names == ["0", "1", "2"] and d.labels == [2, 0, 1]
    named = load_dataset(p, text_column="sentence", label_column="y", label_names=["a", "b", "c"])
    assert [named.label_of(i) for i in range(3)] == ["c", "a", "b"]


def test_label_dir_cp1252(tmp_path):
    (tmp_path / "reviews.pos").write_bytes("caf\xe9 was great\nnice \x97 really\n".encode("latin-1"))
    (tmp_path / "reviews.neg").write_bytes(b"bad \x85 film\n")
    d = load_dataset(tmp_path, encoding="cp1252")
    assert d.label_names == ["neg", "pos"]
    assert len(d) == 3  # U+0085 must not split a line
    assert "café was great" in d.texts
    with pytest.raises(DataError, match=r"reviews\.(neg|pos).*--encoding"):
        load_dataset(tmp_path)


def test_label_text_format(tmp_path):
    p = tmp_path / "attack_set"
    p.write_text("1 a good one\n0 a bad one\n", encoding="utf-8")
    d = load_dataset(p, fmt="label-text")
    assert d.texts == ["a good one", "a bad one"] and d.labels == [1, 0]


def test_split_and_sample_are_stratified_and_seeded():
    d = LabeledData([f"t{i}" for i in range(100)], [0] * 70 + [1] * 30, ["a", "b"])
    tr, te = d.split(0.2, seed=3)
    assert len(tr) == 80 and len(te) == 20
    assert sorted(te.labels).count(1) == 6
    assert set(tr.texts).isdisjoint(te.texts)
    assert d.split(0.2, seed=3)[1].texts == te.texts
    assert d.split(0.2, seed=4)[1].texts != te.texts
    s = d.sample(10, seed=1)
    assert s.labels.count(0) == 7 and s == d.sample(10, seed=1)


def test_to_hf_keeps_class_names():
    ds = SAMPLE.to_hf()
    assert ds.features["label"].names == ["neg", "pos"] and ds["text"] == SAMPLE.texts


def _write(tmp_path, name, content: str | bytes):
    p = tmp_path / name
    p.write_bytes(content if isinstance(content, bytes) else content.encode())
    return p


@pytest.mark.parametrize(
    "name,content,kwargs,pattern",
    [
        ("missing.csv", None, {}, r"missing\.csv: file not found"),
        ("data.xlsx", "x", {}, r"unknown file extension '\.xlsx'"),
        ("d.csv", "sentence,label\nhi,1\n", {}, r"no text column 'text'; columns are: sentence, label"),
        ("d.csv", "text,y\nhi,1\n", {}, r"no label column 'label'; columns are: text, y"),
        ("d.csv", "text,label\nhi,1\n   ,0\n", {}, r"row 2 has an empty text"),
        ("d.csv", "text,label\nhi,pos\nho,meh\n", {"label_names": ["neg", "pos"]}, r"row 2 has label 'meh'"),
        ("d.csv", "text,label\nhi,\n", {}, r"row 1 has no label"),
        ("d.csv", b"text,label\ncaf\xe9,1\n", {}, r"cannot decode .* as utf-8.*--encoding"),
        ("d.parquet", "text,label\nnot parquet,1\n", {}, r"d\.parquet: not a valid PARQUET file"),
        ("d.jsonl", '{"text": "ok", "label": 1}\nnot json\n', {}, r"line 2 is not valid JSON"),
        ("d.csv", "", {}, r"file is empty"),
    ],
)
def test_bad_input_messages(tmp_path, name, content, kwargs, pattern):
    p = tmp_path / name if content is None else _write(tmp_path, name, content)
    before = hashlib.md5(p.read_bytes()).hexdigest() if p.exists() else None
    with pytest.raises(DataError, match=pattern) as info:
        load_dataset(p, **kwargs)
    assert "\n" not in str(info.value)
    if before:
        assert hashlib.md5(p.read_bytes()).hexdigest() == before  # inputs never modified


def test_failed_save_leaves_old_file(tmp_path, monkeypatch):
    target = save_dataset(SAMPLE, tmp_path / "out.jsonl")
    original = target.read_text()

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_json", boom)
    with pytest.raises(RuntimeError):
        save_dataset(SAMPLE, target)
    assert target.read_text() == original
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]


def test_real_datasets(data_dir):
    mr = load_dataset(data_dir / "mr", encoding="cp1252")
    assert mr.label_names == ["neg", "pos"] and mr.labels.count(0) == 5331 and mr.labels.count(1) == 5331
    dev = load_dataset(data_dir / "sst2" / "dev.tsv", text_column="sentence")
    assert len(dev) == 872 and dev.labels.count(1) == 444
    tf = load_dataset(data_dir / "textfooler_eval" / "mr", fmt="label-text")
    assert len(tf) == 1000 and tf.labels.count(0) == 511
    subj = load_dataset(data_dir / "subj", encoding="cp1252")
    assert len(subj) == 10000 and subj.label_names == ["objective", "subjective"]


def test_json_metrics_are_serialisable():
    from textrobust.models import classification_metrics
    import numpy as np

    m = classification_metrics(np.array([[0.9, 0.1], [0.3, 0.7]]), [0, 0], ["a", "b"])
    json.dumps(m)


def test_local_hf_datasets_directory(tmp_path):
    SAMPLE.to_hf().save_to_disk(str(tmp_path / "ds"))
    back = load_dataset(tmp_path / "ds")
    assert back.texts == SAMPLE.texts and back.label_names == ["neg", "pos"] and back.labels == SAMPLE.labels
    with pytest.raises(DataError, match="hub"):
        load_dataset("hf:no-such-user/no-such-dataset")
