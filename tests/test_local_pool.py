"""Several units at once on this machine (``run --jobs N``): the same files as one unit at a time."""

from __future__ import annotations

import json

import pytest
from conftest import assert_same_run, tiny_experiment

from textrobust.errors import ConfigError
from textrobust.robustness import Runner, parse_experiment
from textrobust.scale.backend import parse_jobs, unit_backend


def test_two_units_at_once_write_what_one_at_a_time_writes(tmp_path, tiny_model_dir):
    import torch

    spec = tiny_experiment(tmp_path, tiny_model_dir, ["case", "typo"])
    spec["model"]["threads"] = 1  # each unit one torch thread, in both runs: float sums in the same order
    exp = parse_experiment(spec)
    threads = torch.get_num_threads()
    try:
        Runner(exp, tmp_path / "one", progress=False).run()
    finally:
        torch.set_num_threads(threads)
    runtime = exp.model.runtime()
    with unit_backend("local", str(tmp_path / "two"), jobs=2, runtime=runtime, units=4) as (pool, sync, store):
        assert pool is not None and pool.capacity == 2 and pool.threads == 1 and sync is None
        runner = Runner(exp, store.local, progress=False, executor=pool)
        runner.run()
    assert not runner.failed
    assert_same_run(tmp_path / "one", tmp_path / "two")
    env = json.loads((tmp_path / "two" / "environment.json").read_text())
    assert env["runtime"]["threads"] == 1


def test_jobs_are_checked_before_anything_runs(tmp_path):
    assert parse_jobs("3") == 3 and parse_jobs("AUTO") == "auto" and parse_jobs(None) == 1
    for bad in ("0", "-1", "two"):
        with pytest.raises(ConfigError, match="--jobs must be a positive number of units at once, or auto"):
            parse_jobs(bad)
    with pytest.raises(ConfigError, match="--jobs applies to --backend local"):
        with unit_backend("ray", str(tmp_path / "x"), jobs=2):
            pass
    with pytest.raises(ConfigError, match="unit_compute.jobs: jobs must be an integer >= 1 or auto"):
        parse_experiment({"data": {"train": {"path": "x.csv"}, "test_split": 0.2}, "unit_compute": {"jobs": 0}})


def test_auto_is_one_unit_at_a_time_on_a_cpu(tmp_path, tiny_model_dir):
    from textrobust.models import Runtime
    from textrobust.scale.local import auto_jobs

    assert auto_jobs(Runtime(device="cpu"), str(tiny_model_dir), units=8) == 1
    spec = tiny_experiment(tmp_path, tiny_model_dir, ["case"])
    exp = parse_experiment(spec)
    with unit_backend("local", str(tmp_path / "r"), jobs="auto", runtime=exp.model.runtime(), units=4) as (pool, *_):
        assert pool is None  # in this process, as before
