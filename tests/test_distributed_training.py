"""One model trained by two processes (DDP over gloo on CPU) under ``accelerate launch``: both ranks train on their
share of the batches, rank 0 saves, and the saved model loads and predicts."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import CPU, tiny_corpus


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_process_ddp_training_saves_a_model_that_loads_and_predicts(tmp_path, tiny_model_dir):
    accelerate = Path(sys.executable).with_name("accelerate")
    if not accelerate.exists() and not shutil.which("accelerate"):
        pytest.skip("accelerate is not installed (dev extra)")
    rows = tiny_corpus()
    pd.DataFrame({"text": [t for t, _ in rows], "label": ["pos" if y else "neg" for _, y in rows]}).to_csv(
        tmp_path / "train.csv", index=False
    )
    # --multi_gpu selects accelerate's torch.distributed launcher; with --device cpu the processes talk over gloo.
    cmd = [
        str(accelerate if accelerate.exists() else "accelerate"),
        "launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--main_process_port",
        str(_free_port()),
        "-m",
        "textrobust",
        "-v",
        "train",
        str(tmp_path / "train.csv"),
        "--model",
        str(tiny_model_dir),
        "-o",
        str(tmp_path / "model"),
        "--epochs",
        "2",
        "--lr",
        "3e-3",
        "--batch-size",
        "16",
        "--max-length",
        "32",
        "--device",
        "cpu",
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "DDP: rank 0 of 2 (gloo)" in res.stderr and "DDP: rank 1 of 2 (gloo)" in res.stderr
    assert res.stdout.count("model saved to") == 1  # rank 0 saves, rank 1 does not
    # 480 rows / 16 per batch = 30 batches per epoch, 15 on each rank
    assert "DDP rank 0: 15 of 30 batches" in res.stderr and "DDP rank 1: 15 of 30 batches" in res.stderr

    from textrobust.models import TextClassifier

    clf = TextClassifier.load(tmp_path / "model", runtime=CPU)
    probs = clf.predict_proba(["the film was great .", "the plot was awful ."])
    assert probs.shape == (2, 2) and clf.labels == ["neg", "pos"]
    assert abs(probs.sum(axis=1) - 1).max() < 1e-5
