"""augment_file (chunked, atomic, resumable) and YAML pipelines."""

from __future__ import annotations

import pandas as pd
import pytest

from textrobust.augment import Sequential, parse_op
from textrobust.augment import run as run_mod
from textrobust.augment.filters import Dedup, Length
from textrobust.augment.run import augment_file, load_filters_yaml, load_pipeline_yaml
from textrobust.errors import ConfigError, DataError

TEXTS = ["the movie was great fun", "bad, boring film", "", "a truly lovely story about friends",
         "Terrible acting; I left early!"]


@pytest.fixture()
def frame() -> pd.DataFrame:
    return pd.DataFrame({"text": TEXTS * 40, "label": [1, 0, 0, 1, 0] * 40})


OPS = [parse_op("char:kind=ocr"), parse_op("eda:alpha_sr=0,alpha_ri=0")]


@pytest.mark.parametrize("src,dst", [("csv", "jsonl"), ("parquet", "csv"), ("jsonl", "parquet"), ("tsv", "tsv")])
def test_formats_round_trip_and_columns(tmp_path, frame, src, dst) -> None:
    inp = tmp_path / f"in.{src}"
    {"csv": lambda p: frame.to_csv(p, index=False), "tsv": lambda p: frame.to_csv(p, index=False, sep="\t"),
     "jsonl": lambda p: frame.to_json(p, orient="records", lines=True),
     "parquet": lambda p: frame.to_parquet(p)}[src](inp)
    out = tmp_path / f"out.{dst}"
    summary = augment_file(inp, out, OPS, n=2, batch_size=64, keep_original=True, progress=False,
                           filters=[Dedup(), Length(min_words=3)])
    got = {"csv": lambda p: pd.read_csv(p, keep_default_na=False), "tsv": lambda p: pd.read_csv(p, sep="\t", keep_default_na=False),
           "jsonl": lambda p: pd.read_json(p, lines=True), "parquet": pd.read_parquet}[dst](out)
    assert list(got.columns) == ["text", "label", "source_index", "operator"]
    assert summary.rows_in == 200 and summary.rows_out == len(got)
    assert summary.dropped["length"] > 0 and set(summary.dropped) == {"dedup", "length"}
    assert set(got["operator"]) == {"original", "char:kind=ocr", "eda:alpha_sr=0.0,alpha_ri=0.0"}
    assert got[got.operator == "original"]["source_index"].tolist() == list(range(200))
    assert got["source_index"].is_monotonic_increasing
    assert not list(tmp_path.glob(".out*"))  # no partial files left behind


def test_same_output_whatever_batch_size(tmp_path, frame) -> None:
    frame.to_csv(tmp_path / "in.csv", index=False)
    augment_file(tmp_path / "in.csv", tmp_path / "a.jsonl", OPS, n=3, batch_size=7, progress=False)
    augment_file(tmp_path / "in.csv", tmp_path / "b.jsonl", OPS, n=3, batch_size=500, progress=False)
    assert (tmp_path / "a.jsonl").read_text() == (tmp_path / "b.jsonl").read_text()


@pytest.mark.parametrize("dst", ["csv", "parquet"])
def test_resume_matches_uninterrupted_run(tmp_path, frame, monkeypatch, dst) -> None:
    frame.to_csv(tmp_path / "in.csv", index=False)
    ref = tmp_path / f"ref.{dst}"
    augment_file(tmp_path / "in.csv", ref, OPS, n=2, batch_size=32, progress=False)

    real = run_mod._augment_chunk

    def crash_at_row_96(texts, labels, ops, names, seeds, n, offset, *rest):
        if offset >= 96:
            raise KeyboardInterrupt
        return real(texts, labels, ops, names, seeds, n, offset, *rest)

    out = tmp_path / f"out.{dst}"
    monkeypatch.setattr(run_mod, "_augment_chunk", crash_at_row_96)
    with pytest.raises(KeyboardInterrupt):
        augment_file(tmp_path / "in.csv", out, OPS, n=2, batch_size=32, progress=False)
    monkeypatch.setattr(run_mod, "_augment_chunk", real)
    assert not out.exists()
    partial = out.with_name(f".{out.name}.partial")
    if dst == "csv":
        with open(partial, "a") as fh:
            fh.write("half a row written when the process died\n")  # must be truncated on resume
    summary = augment_file(tmp_path / "in.csv", out, OPS, n=2, batch_size=32, progress=False, resume=True)
    assert summary.resumed_from == 96
    read = pd.read_parquet if dst == "parquet" else pd.read_csv
    pd.testing.assert_frame_equal(read(out), read(ref))
    with pytest.raises(ConfigError, match="different settings"):
        monkeypatch.setattr(run_mod, "_augment_chunk", crash_at_row_96)
        with pytest.raises(KeyboardInterrupt):
            augment_file(tmp_path / "in.csv", out, OPS, n=2, batch_size=32, progress=False)
        augment_file(tmp_path / "in.csv", out, OPS, n=3, batch_size=32, progress=False, resume=True)


def test_errors_are_typed(tmp_path, frame) -> None:
    frame.to_csv(tmp_path / "in.csv", index=False)
    with pytest.raises(DataError, match="no column 'sentence'"):
        augment_file(tmp_path / "in.csv", tmp_path / "o.csv", OPS, text_column="sentence", progress=False)
    with pytest.raises(DataError, match="not found"):
        augment_file(tmp_path / "missing.csv", tmp_path / "o.csv", OPS, progress=False)
    with pytest.raises(DataError, match="extension"):
        augment_file(tmp_path / "in.csv", tmp_path / "o.xlsx", OPS, progress=False)
    with pytest.raises(ConfigError, match="overwrite the input"):
        augment_file(tmp_path / "in.csv", tmp_path / "in.csv", OPS, progress=False)


def test_progress_bar_runs(tmp_path, frame) -> None:
    frame.to_csv(tmp_path / "in.csv", index=False)
    s = augment_file(tmp_path / "in.csv", tmp_path / "o.csv", OPS[0], progress=True, batch_size=50)
    assert s.rows_in == 200 and s.seconds >= 0


def test_pipeline_yaml(tmp_path) -> None:
    (tmp_path / "p.yaml").write_text(
        "pipeline:\n"
        "  - char:kind=ocr,p=0.2\n"
        "  - one_of:\n"
        "      weights: [1, 2]\n"
        "      ops:\n"
        "        - {name: char, params: {kind: random_swap}}\n"
        "        - eda: {alpha_sr: 0, alpha_ri: 0}\n"
        "filters:\n"
        "  - dedup\n"
        "  - length: {min_words: 2}\n"
    )
    op = load_pipeline_yaml(tmp_path / "p.yaml")
    assert isinstance(op, Sequential) and op.params.ops[1].name == "one_of"
    assert op.params.ops[1].params.weights == (1.0, 2.0)
    assert len(op(["the movie was a great one"], seed=0, n=2)[0]) == 2
    filters = load_filters_yaml(tmp_path / "p.yaml")
    assert [f.name for f in filters] == ["dedup", "length"]
    (tmp_path / "bad.yaml").write_text("pipeline:\n  - nosuch: {}\n")
    with pytest.raises(ConfigError, match="unknown operator 'nosuch'"):
        load_pipeline_yaml(tmp_path / "bad.yaml")
    (tmp_path / "bad2.yaml").write_text("pipeline: [char: {wrong: 1}]\n")
    with pytest.raises(ConfigError, match="unknown parameter"):
        load_pipeline_yaml(tmp_path / "bad2.yaml")


@pytest.mark.parametrize("dst", ["csv", "parquet"])
def test_workers_output_identical_to_one_worker(tmp_path, frame, dst) -> None:
    frame.to_csv(tmp_path / "in.csv", index=False)
    flt = [Dedup(), Length(min_words=3)]
    one = augment_file(tmp_path / "in.csv", tmp_path / f"one.{dst}", OPS, n=2, batch_size=32, keep_original=True,
                       progress=False, filters=flt)
    two = augment_file(tmp_path / "in.csv", tmp_path / f"two.{dst}", OPS, n=2, batch_size=17, keep_original=True,
                       progress=False, filters=flt, workers=2)
    if dst == "csv":
        assert (tmp_path / "one.csv").read_bytes() == (tmp_path / "two.csv").read_bytes()
    else:
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "one.parquet"), pd.read_parquet(tmp_path / "two.parquet"))
    assert (one.rows_in, one.rows_out, one.dropped) == (two.rows_in, two.rows_out, two.dropped)
    assert not list(tmp_path.glob(".two*"))


def test_workers_resume_matches_uninterrupted_run(tmp_path, frame, monkeypatch) -> None:
    frame.to_csv(tmp_path / "in.csv", index=False)
    augment_file(tmp_path / "in.csv", tmp_path / "ref.csv", OPS, n=2, batch_size=32, progress=False)
    real = run_mod._write_state

    def crash_after_row_96(path, state):
        real(path, state)
        if state["rows_done"] >= 96:
            raise KeyboardInterrupt

    out = tmp_path / "out.csv"
    monkeypatch.setattr(run_mod, "_write_state", crash_after_row_96)
    with pytest.raises(KeyboardInterrupt):
        augment_file(tmp_path / "in.csv", out, OPS, n=2, batch_size=32, progress=False, workers=2)
    monkeypatch.setattr(run_mod, "_write_state", real)
    assert not out.exists()
    summary = augment_file(tmp_path / "in.csv", out, OPS, n=2, batch_size=32, progress=False, resume=True, workers=2)
    assert summary.resumed_from == 96
    assert out.read_bytes() == (tmp_path / "ref.csv").read_bytes()


def test_workers_fall_back_or_refuse(tmp_path, frame, caplog) -> None:
    from textrobust.augment.filters import Similarity

    frame.to_csv(tmp_path / "in.csv", index=False)
    with pytest.raises(ConfigError, match="workers must be"):
        augment_file(tmp_path / "in.csv", tmp_path / "o.csv", OPS, workers=0, progress=False)
    assert run_mod._effective_workers(4, OPS, [Similarity()]) == 1
    assert "1 worker" in caplog.text
    assert run_mod._effective_workers(4, OPS, [Dedup()]) == 4

    class Local(Dedup):  # defined in a function: cannot be pickled
        pass

    with pytest.raises(ConfigError, match="picklable"):
        run_mod._effective_workers(2, OPS, [Local()])
