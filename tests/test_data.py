"""Data loading/saving: formats, label handling, splits, and every bad-input message."""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import pytest

from textrobust.data import LabeledData, load_dataset, save_dataset
from textrobust.errors import DataError

SAMPLE = LabeledData(["a fine film", 'dull, "quoted" and long', "NA", "émoji 🙂 ok"], [1, 0, 0, 1], ["neg", "pos"])


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
    import numpy as np

    from textrobust.models import classification_metrics

    m = classification_metrics(np.array([[0.9, 0.1], [0.3, 0.7]]), [0, 0], ["a", "b"])
    json.dumps(m)


def test_local_hf_datasets_directory(tmp_path):
    SAMPLE.to_hf().save_to_disk(str(tmp_path / "ds"))
    back = load_dataset(tmp_path / "ds")
    assert back.texts == SAMPLE.texts and back.label_names == ["neg", "pos"] and back.labels == SAMPLE.labels
    with pytest.raises(DataError, match="hub"):
        load_dataset("hf:no-such-user/no-such-dataset")


SOURCES = {
    "csv": lambda d, p: d.to_pandas().to_csv(p / "d.csv", index=False) or p / "d.csv",
    "tsv": lambda d, p: d.to_pandas().to_csv(p / "d.tsv", index=False, sep="\t") or p / "d.tsv",
    "jsonl": lambda d, p: save_dataset(d, p / "d.jsonl"),
    "parquet": lambda d, p: save_dataset(d, p / "d.parquet"),
    "label-text": lambda d, p: save_dataset(d, p / "d", fmt="label-text"),
    "hf-dir": lambda d, p: d.to_hf().save_to_disk(str(p / "hfds")) or p / "hfds",
}


@pytest.mark.parametrize("kind", sorted(SOURCES))
def test_one_reader_whole_or_in_chunks(tmp_path, kind):
    """Every command reads through iter_frames: chunked reading gives exactly the rows of a whole read, for
    every format, including a saved datasets directory (which augment used to refuse)."""
    from textrobust.data import iter_frames, read_table

    data = LabeledData(
        [f'text {i}, "quoted" \tand NA' if kind != "label-text" else f"text {i} NA" for i in range(23)],
        [i % 2 for i in range(23)],
        ["neg", "pos"],
    )
    src = SOURCES[kind](data, tmp_path)
    fmt = "label-text" if kind == "label-text" else None
    whole = read_table(src, fmt=fmt)
    chunks = list(iter_frames(src, fmt=fmt, chunk_rows=5))
    assert [len(c) for c in chunks] == [5, 5, 5, 5, 3]
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), whole, check_dtype=False)
    assert load_dataset(src, fmt=fmt).texts == data.texts


def test_tsv_is_read_the_same_by_every_command(tmp_path):
    """A TSV with quoted fields (what pandas and augment write) parses the same in load_dataset and augment."""
    from textrobust.augment import augment_file, parse_op

    p = tmp_path / "d.tsv"
    p.write_text('text\tlabel\n"a ""quoted""\ttab"\t1\nplain text\t0\n', encoding="utf-8")
    assert load_dataset(p).texts == ['a "quoted"\ttab', "plain text"]
    augment_file(p, tmp_path / "out.jsonl", parse_op("char:kind=ocr"), keep_original=True, progress=False)
    out = pd.read_json(tmp_path / "out.jsonl", lines=True)
    assert out[out.operator == "original"].text.tolist() == ['a "quoted"\ttab', "plain text"]


def test_bad_rows_half_way_are_one_line_data_errors(tmp_path):
    from textrobust.data import iter_frames

    p = tmp_path / "d.jsonl"
    p.write_text("".join(json.dumps({"text": f"t{i}", "label": 1}) + "\n" for i in range(12)) + "{oops\n")
    with pytest.raises(DataError, match="line 13 is not valid JSON"):
        list(iter_frames(p, chunk_rows=5))
    c = tmp_path / "d.csv"
    c.write_bytes(b"text,label\n" + b"fine,1\n" * 12 + b"caf\xe9,0\n")
    with pytest.raises(DataError, match="cannot decode byte.*--encoding"):
        list(iter_frames(c, chunk_rows=5))


def test_shared_data_dir_does_not_depend_on_the_install_location(tmp_path, monkeypatch):
    """$TEXTROBUST_DATA_DIR, else shared/data beside the current directory or a parent; never the package path."""
    from textrobust.data import shared_data_dir

    (tmp_path / "shared" / "data").mkdir(parents=True)
    (tmp_path / "checkout" / "tests").mkdir(parents=True)
    monkeypatch.delenv("TEXTROBUST_DATA_DIR", raising=False)
    for cwd in (tmp_path / "checkout", tmp_path / "checkout" / "tests"):
        monkeypatch.chdir(cwd)
        assert shared_data_dir() == (tmp_path / "shared" / "data").resolve()
    monkeypatch.setenv("TEXTROBUST_DATA_DIR", str(tmp_path / "elsewhere"))
    assert shared_data_dir() == (tmp_path / "elsewhere").resolve()
    monkeypatch.delenv("TEXTROBUST_DATA_DIR")
    monkeypatch.chdir(tmp_path)  # nothing beside it or above it: the plain ../shared/data, which is absent
    assert shared_data_dir() != (tmp_path / "shared" / "data").resolve()
