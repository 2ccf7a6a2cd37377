"""Run directories on a filesystem URI (fsspec ``memory://`` here, in one process): a staged run uploads every
unit as it finishes (``done.json`` last), and a later run resumes from what the store holds. No Ray needed."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from conftest import tiny_corpus

from textrobust.errors import ConfigError
from textrobust.robustness import Runner, parse_experiment
from textrobust.scale.backend import unit_backend
from textrobust.scale.storage import open_run_store


@pytest.fixture
def memfs():
    fsspec = pytest.importorskip("fsspec")
    fs = fsspec.filesystem("memory")
    yield fs
    fs.rm("/runs", recursive=True) if fs.exists("/runs") else None


def test_store_push_pull_round_trip_markers_last(memfs, tmp_path):
    store = open_run_store("memory://runs/a", stage_dir=tmp_path / "stage")
    assert store.staged and store.display() == "memory://runs/a"
    unit = tmp_path / "stage" / "units" / "base" / "seed0"
    unit.mkdir(parents=True)
    for name in ("metrics.json", "done.json", "outcomes.parquet"):
        (unit / name).write_text(name)
    order = []
    real_put = store.fs.put_file
    store.fs.put_file = lambda src, dst, **k: (order.append(dst.rsplit("/", 1)[1]), real_put(src, dst, **k))
    assert store.push("units/base/seed0") == 3 and order[-1] == "done.json"  # a unit is done only when complete
    assert store.push("units/base/seed0") == 1  # unchanged files are not sent again; the marker always is
    again = open_run_store("memory://runs/a", stage_dir=tmp_path / "other")
    assert again.pull() == 3 and (tmp_path / "other/units/base/seed0/metrics.json").read_text() == "metrics.json"
    assert again.pull(only_missing=True) == 0
    local = open_run_store("runs/x")
    assert not local.staged and local.push() == 0 and open_run_store(f"file://{tmp_path}").local == tmp_path
    with pytest.raises(ConfigError, match="cannot open this filesystem"):
        open_run_store("nosuchfs://bucket/x")


def test_local_backend_on_a_uri_run_dir_uploads_and_resumes(memfs, tmp_path, tiny_model_dir, monkeypatch):
    import textrobust.robustness.work as work_mod

    rows = tiny_corpus()
    pd.DataFrame({"text": [t for t, _ in rows], "label": ["pos" if y else "neg" for _, y in rows]}).to_csv(
        tmp_path / "data.csv", index=False
    )
    exp = parse_experiment(
        {
            "name": "tiny",
            "data": {"train": {"path": str(tmp_path / "data.csv")}, "test_split": 0.25, "train_size": 60},
            "model": {
                "name": str(tiny_model_dir),
                "max_length": 32,
                "device": "cpu",
                "train": {"epochs": 1, "lr": 3e-3, "batch_size": 16},
            },
            "conditions": {"baseline": {}},
            "seeds": [0],
            "evaluations": [{"kind": "clean"}],
        }
    )
    with unit_backend("local", "memory://runs/exp") as (executor, sync, store):
        table = Runner(exp, store.local, progress=False, executor=executor, sync=sync).run()
    assert memfs.exists("/runs/exp/units/baseline/seed0/done.json") and memfs.exists("/runs/exp/summary.json")
    summary = json.loads(memfs.cat("/runs/exp/summary.json"))
    assert summary["units"]["done"] == 1
    # A new machine (a new staging directory): the store says the unit is done, so nothing is trained again.
    monkeypatch.setattr(work_mod, "run_unit", lambda *a, **k: pytest.fail("a finished unit ran again"))
    with unit_backend("local", "memory://runs/exp") as (executor, sync, store):
        again = Runner(exp, store.local, progress=False, executor=executor, sync=sync).run()
    pd.testing.assert_frame_equal(again, table)
    with pytest.raises(ConfigError, match="--num-cpus / --num-gpus apply to --backend ray"):
        with unit_backend("local", "runs/x", num_cpus=2):
            pass
