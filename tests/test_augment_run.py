"""augment_file (chunked, atomic, resumable) and YAML pipelines."""

from __future__ import annotations

import pandas as pd
import pytest

from textrobust.augment import Sequential, parse_op
from textrobust.augment import files as files_mod
from textrobust.augment.files import augment_file
from textrobust.augment.filters import Dedup, Length
from textrobust.augment.pipeline import load_filters_yaml, load_pipeline_yaml
from textrobust.errors import ConfigError, DataError

TEXTS = [
    "the movie was great fun",
    "bad, boring film",
    "",
    "a truly lovely story about friends",
    "Terrible acting; I left early!",
]


@pytest.fixture()
def frame() -> pd.DataFrame:
    return pd.DataFrame({"text": TEXTS * 40, "label": [1, 0, 0, 1, 0] * 40})


OPS = [parse_op("char:kind=ocr"), parse_op("eda:alpha_sr=0,alpha_ri=0")]


@pytest.mark.parametrize("src,dst", [("csv", "jsonl"), ("parquet", "csv"), ("jsonl", "parquet"), ("tsv", "tsv")])
def test_formats_round_trip_and_columns(tmp_path, frame, src, dst) -> None:
    inp = tmp_path / f"in.{src}"
    {
        "csv": lambda p: frame.to_csv(p, index=False),
        "tsv": lambda p: frame.to_csv(p, index=False, sep="\t"),
        "jsonl": lambda p: frame.to_json(p, orient="records", lines=True),
        "parquet": lambda p: frame.to_parquet(p),
    }[src](inp)
    out = tmp_path / f"out.{dst}"
    summary = augment_file(
        inp, out, OPS, n=2, batch_size=64, keep_original=True, progress=False, filters=[Dedup(), Length(min_words=3)]
    )
    got = {
        "csv": lambda p: pd.read_csv(p, keep_default_na=False),
        "tsv": lambda p: pd.read_csv(p, sep="\t", keep_default_na=False),
        "jsonl": lambda p: pd.read_json(p, lines=True),
        "parquet": pd.read_parquet,
    }[dst](out)
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

    real = files_mod.augment_chunk

    def crash_at_row_96(texts, labels, ops, names, seeds, n, offset, *rest):
        if offset >= 96:
            raise KeyboardInterrupt
        return real(texts, labels, ops, names, seeds, n, offset, *rest)

    out = tmp_path / f"out.{dst}"
    monkeypatch.setattr(files_mod, "augment_chunk", crash_at_row_96)
    with pytest.raises(KeyboardInterrupt):
        augment_file(tmp_path / "in.csv", out, OPS, n=2, batch_size=32, progress=False)
    monkeypatch.setattr(files_mod, "augment_chunk", real)
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
        monkeypatch.setattr(files_mod, "augment_chunk", crash_at_row_96)
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
        "  sequence:\n"
        "    - char:kind=ocr,p=0.2\n"
        "    - one_of:\n"
        "        weights: [1, 2]\n"
        "        ops:\n"
        "          - {name: char, params: {kind: random_swap}}\n"
        "          - eda: {alpha_sr: 0, alpha_ri: 0}\n"
        "filters:\n"
        "  - dedup\n"
        "  - length: {min_words: 2}\n"
    )
    (op,) = load_pipeline_yaml(tmp_path / "p.yaml")
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


def test_a_list_of_operators_means_each_and_the_others_are_explicit(tmp_path) -> None:
    """One meaning for a list: each operator makes its own variants (like repeated --op); one_of and sequence
    are written out; a bare list of several in YAML (0.1 read it as sequence) is refused, saying what to write."""
    from textrobust.augment import OneOf, operators_from_config

    each = load_pipeline_yaml(_yaml(tmp_path, "pipeline: {each: [char:kind=ocr, 'char:kind=keyboard']}"))
    assert [o.spec_str() for o in each] == ["char:kind=ocr", "char"]
    (one,) = load_pipeline_yaml(_yaml(tmp_path, "one_of: [char:kind=ocr, 'char:kind=keyboard']"))
    assert isinstance(one, OneOf) and len(one.params.ops) == 2
    (seq,) = load_pipeline_yaml(_yaml(tmp_path, "pipeline: {sequence: [char:kind=ocr, 'char:kind=keyboard']}"))
    assert isinstance(seq, Sequential)
    assert [o.spec_str() for o in load_pipeline_yaml(_yaml(tmp_path, "[char:kind=ocr]"))] == ["char:kind=ocr"]
    with pytest.raises(ConfigError, match=r"read it as sequence\); write 'one_of: \[\.\.\.\]'") as err:
        load_pipeline_yaml(_yaml(tmp_path, "pipeline: [char:kind=ocr, 'char:kind=keyboard']"))
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="at the top only"):
        operators_from_config({"one_of": [{"each": ["char"]}, "char"]}, "x")
    # the CLI's repeated --op and 'each:' give the same file
    frame = pd.DataFrame({"text": TEXTS * 4, "label": [1, 0, 0, 1, 0] * 4})
    frame.to_csv(tmp_path / "in.csv", index=False)
    augment_file(
        tmp_path / "in.csv", tmp_path / "a.csv", [parse_op("char:kind=ocr"), parse_op("char")], n=2, progress=False
    )
    augment_file(tmp_path / "in.csv", tmp_path / "b.csv", each, n=2, progress=False)
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()


def _yaml(tmp_path, text: str):
    path = tmp_path / "pipeline.yaml"
    path.write_text(text + "\n")
    return path


@pytest.mark.parametrize("dst", ["csv", "parquet"])
def test_workers_output_identical_to_one_worker(tmp_path, frame, dst) -> None:
    frame.to_csv(tmp_path / "in.csv", index=False)
    flt = [Dedup(), Length(min_words=3)]
    one = augment_file(
        tmp_path / "in.csv",
        tmp_path / f"one.{dst}",
        OPS,
        n=2,
        batch_size=32,
        keep_original=True,
        progress=False,
        filters=flt,
    )
    two = augment_file(
        tmp_path / "in.csv",
        tmp_path / f"two.{dst}",
        OPS,
        n=2,
        batch_size=17,
        keep_original=True,
        progress=False,
        filters=flt,
        workers=2,
    )
    if dst == "csv":
        assert (tmp_path / "one.csv").read_bytes() == (tmp_path / "two.csv").read_bytes()
    else:
        pd.testing.assert_frame_equal(
            pd.read_parquet(tmp_path / "one.parquet"), pd.read_parquet(tmp_path / "two.parquet")
        )
    assert (one.rows_in, one.rows_out, one.dropped) == (two.rows_in, two.rows_out, two.dropped)
    assert not list(tmp_path.glob(".two*"))


def test_workers_resume_matches_uninterrupted_run(tmp_path, frame, monkeypatch) -> None:
    frame.to_csv(tmp_path / "in.csv", index=False)
    augment_file(tmp_path / "in.csv", tmp_path / "ref.csv", OPS, n=2, batch_size=32, progress=False)
    real = files_mod._write_state

    def crash_after_row_96(path, state):
        real(path, state)
        if state["rows_done"] >= 96:
            raise KeyboardInterrupt

    out = tmp_path / "out.csv"
    monkeypatch.setattr(files_mod, "_write_state", crash_after_row_96)
    with pytest.raises(KeyboardInterrupt):
        augment_file(tmp_path / "in.csv", out, OPS, n=2, batch_size=32, progress=False, workers=2)
    monkeypatch.setattr(files_mod, "_write_state", real)
    assert not out.exists()
    summary = augment_file(tmp_path / "in.csv", out, OPS, n=2, batch_size=32, progress=False, resume=True, workers=2)
    assert summary.resumed_from == 96
    assert out.read_bytes() == (tmp_path / "ref.csv").read_bytes()


def test_workers_fall_back_or_refuse(tmp_path, frame, caplog) -> None:
    from textrobust.augment.filters import Similarity

    frame.to_csv(tmp_path / "in.csv", index=False)
    with pytest.raises(ConfigError, match="workers must be"):
        augment_file(tmp_path / "in.csv", tmp_path / "o.csv", OPS, workers=0, progress=False)
    assert files_mod._effective_workers(4, OPS, [Similarity()]) == 1
    assert "1 worker" in caplog.text
    assert files_mod._effective_workers(4, OPS, [Dedup()]) == 4

    class Local(Dedup):  # defined in a function: cannot be pickled
        pass

    with pytest.raises(ConfigError, match="picklable"):
        files_mod._effective_workers(2, OPS, [Local()])


@pytest.mark.parametrize("lexicon", ["missing.json", "not_json.json"])
def test_configuration_errors_leave_nothing_behind(tmp_path, frame, lexicon) -> None:
    """The defect of issue 16: a bad lexicon used to leave .out.csv.partial behind."""
    from textrobust.errors import ResourceError

    frame.to_csv(tmp_path / "in.csv", index=False)
    (tmp_path / "not_json.json").write_text("this is not json")
    before = sorted(p.name for p in tmp_path.iterdir())
    op = parse_op(f"synonym:source=lexicon,path={tmp_path / lexicon}")
    for workers in (1, 2):
        with pytest.raises(ResourceError, match="lexicon"):
            augment_file(tmp_path / "in.csv", tmp_path / "new" / "out.csv", op, progress=False, workers=workers)
        assert sorted(p.name for p in tmp_path.iterdir()) == before  # no output, partial or new folder


def test_partial_output_is_kept_only_with_progress_and_the_message_says_so(tmp_path, frame, monkeypatch) -> None:
    frame.to_csv(tmp_path / "in.csv", index=False)
    augment_file(tmp_path / "in.csv", tmp_path / "ref.csv", OPS, n=2, batch_size=32, progress=False)
    real = files_mod.augment_chunk

    def bad_row_at(limit):
        def chunk(texts, labels, ops, names, seeds, n, offset, *rest):
            if offset >= limit:
                raise DataError("row 97: something wrong in the data")
            return real(texts, labels, ops, names, seeds, n, offset, *rest)

        return chunk

    out = tmp_path / "out.csv"
    monkeypatch.setattr(files_mod, "augment_chunk", bad_row_at(0))
    with pytest.raises(DataError) as err:
        augment_file(tmp_path / "in.csv", out, OPS, n=2, batch_size=32, progress=False)
    assert "resume" not in str(err.value) and not list(tmp_path.glob(".out*"))  # no progress: nothing kept
    monkeypatch.setattr(files_mod, "augment_chunk", bad_row_at(96))
    with pytest.raises(DataError) as err:
        augment_file(tmp_path / "in.csv", out, OPS, n=2, batch_size=32, progress=False)
    assert "96 input rows are done and kept in" in str(err.value) and "--resume" in str(err.value)
    assert "\n" not in str(err.value) and out.with_name(".out.csv.partial").exists()
    monkeypatch.setattr(files_mod, "augment_chunk", real)
    summary = augment_file(tmp_path / "in.csv", out, OPS, n=2, batch_size=32, progress=False, resume=True)
    assert summary.resumed_from == 96 and out.read_bytes() == (tmp_path / "ref.csv").read_bytes()
    assert not list(tmp_path.glob(".out*"))


def test_augment_reads_a_saved_datasets_directory(tmp_path) -> None:
    from textrobust.data import LabeledData

    LabeledData(TEXTS[:2] * 3, [1, 0] * 3, ["neg", "pos"]).to_hf().save_to_disk(str(tmp_path / "hfds"))
    s = augment_file(tmp_path / "hfds", tmp_path / "out.csv", OPS[0], keep_original=True, progress=False)
    out = pd.read_csv(tmp_path / "out.csv")
    assert s.rows_in == 6 and out[out.operator == "original"].label.tolist() == ["pos", "neg"] * 3


def test_off_a_terminal_progress_is_a_few_plain_lines(tmp_path, frame, capsys) -> None:
    frame.to_csv(tmp_path / "in.csv", index=False)
    augment_file(tmp_path / "in.csv", tmp_path / "o.csv", OPS[0], batch_size=10, progress=True)
    err = capsys.readouterr().err
    assert "\r" not in err and 1 <= len(err.splitlines()) <= 10 and "augment: 200/200 (100%) rows" in err


def test_ray_augment_takes_the_same_options() -> None:
    """augment_file_ray takes augment_file's arguments (its docstring says "same arguments"); the two signatures are
    written out twice, so this keeps them from drifting apart: same names, order, kind, default and annotation."""
    import inspect

    from textrobust.scale.augment import augment_file_ray

    local, ray = (inspect.signature(f).parameters for f in (augment_file, augment_file_ray))
    shared = [name for name in local if name in ray]
    assert shared == [name for name in ray if name in local]
    options = "n seed keep_original text_column label_column batch_size resume progress filters".split()
    assert shared == ["input_path", "output_path", "ops", *options]
    for name in shared:
        here, there = local[name], ray[name]
        assert (here.kind, here.default, here.annotation) == (there.kind, there.default, there.annotation), name
