"""kill -9 safety with fewer rows and kills than benchmarks/kill_resume.py (which does 100,000 rows, 10 kills):
SIGKILLed augment and run processes, resumed, give what an uninterrupted run gives."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import kill_resume  # noqa: E402
from conftest import tiny_corpus  # noqa: E402


def test_augment_killed_and_resumed_is_byte_identical(tmp_path):
    res = kill_resume.augment_kills(tmp_path, rows=6000, kills=3, seed=1)
    assert res["identical"] and res["leftovers"] == [], res
    assert res["kills"] >= 1, res


@pytest.mark.integration
def test_run_killed_and_resumed_gives_the_same_table(tmp_path, tiny_model_dir):
    data = kill_resume.write_corpus(tmp_path / "data.csv", tiny_corpus())
    res = kill_resume.run_kills(tmp_path, str(tiny_model_dir), data, kills=2, seed=1)
    assert res["identical_except_timings"] and res["kills"] >= 1, res
