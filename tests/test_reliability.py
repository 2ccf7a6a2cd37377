"""Guarantees: full or read-only disks give one line and no partial output, one run per run directory (a lock
that a SIGKILL releases), seeded training leaves the caller's random state alone, logs get lines, not bars."""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import CPU, run_cli, tiny_corpus

from textrobust.errors import ConfigError


@contextlib.contextmanager
def _small_fs(path: Path, size: str, readonly: bool = False):
    """A tiny tmpfs (or a read-only one) mounted at ``path``; skips where mounting is not allowed (not root)."""
    path.mkdir()
    opts = f"size={size}" + (",ro" if readonly else "")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or 'mount failed'}); needs root")
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=False)


@pytest.fixture
def csv_file(tmp_path) -> Path:
    rows = tiny_corpus()
    p = tmp_path / "in" / "train.csv"
    p.parent.mkdir()
    pd.DataFrame({"text": [t for t, _ in rows] * 4, "label": [y for _, y in rows] * 4}).to_csv(p, index=False)
    return p


def _digest(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


@pytest.mark.parametrize("readonly", [False, True], ids=["disk-full", "read-only"])
def test_full_or_read_only_disk_is_one_line_and_leaves_nothing(tmp_path, csv_file, readonly):
    before = _digest(csv_file)
    with _small_fs(tmp_path / "fs", "48k", readonly) as fs:
        r = run_cli(
            "augment",
            str(csv_file),
            "-o",
            str(fs / "out.csv"),
            "--op",
            "char:kind=keyboard",
            "-n",
            "3",
            "--batch-size",
            "5000",
        )
        assert r.returncode == 2, r.stderr
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
        assert ("No space left on device" if not readonly else "Read-only file system") in lines[0]
        assert sorted(os.listdir(fs)) == []  # no output, no hidden partial
    assert _digest(csv_file) == before


def test_full_disk_after_some_progress_keeps_the_partial_and_says_resume(tmp_path, csv_file):
    with _small_fs(tmp_path / "fs", "160k") as fs:
        r = run_cli(
            "augment",
            str(csv_file),
            "-o",
            str(fs / "out.csv"),
            "--op",
            "char:kind=keyboard",
            "-n",
            "3",
            "--batch-size",
            "200",
        )
        errors = [x for x in r.stderr.splitlines() if x.startswith("error:")]  # after the per-tenth progress lines
        assert r.returncode == 2 and len(errors) == 1 and "Traceback" not in r.stderr, r.stderr
        assert "No space left on device" in errors[0] and "--resume" in errors[0] and "rows are done" in errors[0]
        assert not (fs / "out.csv").exists() and (fs / ".out.csv.partial").exists()


def test_model_save_on_a_full_disk_leaves_no_half_model(tmp_path, csv_file, tiny_model_dir):
    with _small_fs(tmp_path / "fs", "64k") as fs:
        r = run_cli(
            "train",
            str(csv_file),
            "--model",
            str(tiny_model_dir),
            "-o",
            str(fs / "model"),
            "--epochs",
            "1",
            "--max-length",
            "16",
            "--device",
            "cpu",
        )
        assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
        assert len([x for x in r.stderr.splitlines() if x.strip()]) <= 3, r.stderr
        assert sorted(os.listdir(fs)) == []


def test_a_run_directory_takes_one_run_at_a_time_and_sigkill_frees_it(tmp_path):
    from textrobust.robustness.lock import run_dir_lock

    run_dir = tmp_path / "run"
    with run_dir_lock(run_dir):
        with pytest.raises(ConfigError, match=r"is in use by another textrobust run \(pid \d+"):
            with run_dir_lock(run_dir):
                pass
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import sys, time; from textrobust.robustness.lock import run_dir_lock\n"
                f"with run_dir_lock({str(run_dir)!r}):\n    print('held', flush=True); time.sleep(600)"
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    spec = tmp_path / "exp.yaml"
    spec.write_text(f"data: {{train: {{path: {tmp_path / 'x.csv'}}}, test_split: 0.5}}\n")
    pd.DataFrame({"text": ["a fine film", "a dull film"] * 4, "label": ["pos", "neg"] * 4}).to_csv(
        tmp_path / "x.csv", index=False
    )
    r = run_cli("run", str(spec), "-o", str(run_dir), "--set", "model.name=./nowhere/model")
    assert r.returncode == 2  # the spec's checks come first: a bad model path fails before the lock is tried
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    with run_dir_lock(run_dir):  # the kernel dropped the killed holder's lock
        pass


def test_two_runs_on_one_directory_second_stops_with_a_clear_message(tmp_path, tiny_model_dir):
    import yaml

    rows = tiny_corpus()
    pd.DataFrame({"text": [t for t, _ in rows], "label": ["pos" if y else "neg" for _, y in rows]}).to_csv(
        tmp_path / "d.csv", index=False
    )
    spec = {
        "data": {"train": {"path": str(tmp_path / "d.csv")}, "test_split": 0.25, "train_size": 80},
        "model": {"name": str(tiny_model_dir), "max_length": 16, "device": "cpu", "train": {"epochs": 1}},
        "seeds": [0, 1, 2],
    }
    (tmp_path / "exp.yaml").write_text(yaml.safe_dump(spec))
    first = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "textrobust",
            "run",
            str(tmp_path / "exp.yaml"),
            "-o",
            str(tmp_path / "run"),
            "--no-report",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 300
        while not (tmp_path / "run" / ".lock").exists() or not (tmp_path / "run" / "config.json").exists():
            assert first.poll() is None and time.monotonic() < deadline, "the first run ended early"
            time.sleep(0.05)
        second = run_cli("run", str(tmp_path / "exp.yaml"), "-o", str(tmp_path / "run"), "--no-report")
        if first.poll() is None:  # still running: the second run must have been turned away
            assert second.returncode == 2 and "is in use by another textrobust run" in second.stderr, second.stderr
        assert first.wait(timeout=600) == 0
    finally:
        if first.poll() is None:
            first.kill()
    assert len(pd.read_csv(tmp_path / "run" / "results.csv").query("metric == 'accuracy'")) == 3


def test_fit_leaves_the_callers_random_state_alone(tiny_model_dir):
    import torch

    from textrobust.data import LabeledData
    from textrobust.models import TextClassifier, TrainConfig

    rows = tiny_corpus()[::6]
    data = LabeledData([t for t, _ in rows], [y for _, y in rows], ["neg", "pos"])

    def fit_once() -> np.ndarray:
        clf = TextClassifier(
            str(tiny_model_dir),
            labels=["neg", "pos"],
            max_length=16,
            runtime=CPU,
            seed=3,
            train_config=TrainConfig(epochs=1, lr=3e-3, batch_size=8, seed=3),
        )
        clf.fit(data, progress=False)
        return clf.predict_proba(data.texts[:4])

    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    first = fit_once()
    assert torch.equal(torch.random.get_rng_state(), state)
    torch.manual_seed(999)  # whatever ran before, the same seed trains the same model
    np.testing.assert_allclose(fit_once(), first, rtol=1e-5, atol=1e-6)


def test_attack_candidates_need_the_examples_generator():
    from textrobust.adversarial import Attack, GreedyWordSwapWIR, WordSwapSource
    from textrobust.adversarial.text import AttackText

    attack = Attack(object(), WordSwapSource({"good": ["fine"]}), GreedyWordSwapWIR("delete"))
    text = AttackText.from_text("a good film")
    with pytest.raises(TypeError, match="numpy Generator"):
        next(attack.candidates(text, text, None, None))


def test_train_off_a_terminal_prints_one_line_per_epoch(tmp_path, csv_file, tiny_model_dir):
    r = run_cli(
        "train",
        str(csv_file),
        "--model",
        str(tiny_model_dir),
        "-o",
        str(tmp_path / "m"),
        "--epochs",
        "2",
        "--max-length",
        "16",
        "--device",
        "cpu",
        "--eval",
        str(csv_file),
    )
    assert r.returncode == 0, r.stderr
    assert "\r" not in r.stderr and "\r" not in r.stdout
    epochs = [x for x in r.stderr.splitlines() if x.startswith("epoch ")]
    assert [x.split(":")[0] for x in epochs] == ["epoch 1/2", "epoch 2/2"] and "eval accuracy" in epochs[-1]


def test_atomic_outputs_get_the_mode_of_any_new_file(tmp_path):
    """Temp files are 0600 and temp dirs 0700; what lands (results, reports, saved models) follows the umask."""
    import stat

    from textrobust.data.atomic import atomic_path

    old = os.umask(0o022)
    try:
        with atomic_path(tmp_path / "results.csv") as tmp:
            tmp.write_text("a\n1\n")
        with atomic_path(tmp_path / "model", directory=True) as tmp:
            (tmp / "weights").write_text("w")
        os.umask(0o077)
        with atomic_path(tmp_path / "private.csv") as tmp:
            tmp.write_text("a\n")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "results.csv").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "model").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "private.csv").stat().st_mode) == 0o600
