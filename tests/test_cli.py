"""The CLI: fast --help, train/evaluate end to end with a tiny model, one-line errors with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
from conftest import tiny_corpus


def run(*args: str, check: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "textrobust", *args], capture_output=True, text=True, check=check, timeout=300
    )


def test_help_lists_commands_without_heavy_imports():
    out = run("--help", check=True).stdout
    for cmd in ("train", "evaluate", "quickstart"):
        assert cmd in out
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, textrobust.cli; print(sorted({'torch', 'transformers', 'pandas'} & set(sys.modules)))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.strip() == "[]"


@pytest.fixture
def train_csv(tmp_path):
    rows = tiny_corpus()
    p = tmp_path / "train.csv"
    pd.DataFrame({"review": [t for t, _ in rows], "sentiment": ["pos" if y else "neg" for _, y in rows]}).to_csv(
        p, index=False
    )
    return p


def test_train_then_evaluate_json(tmp_path, train_csv, tiny_model_dir):
    model_dir = tmp_path / "model"
    r = run(
        "train",
        str(train_csv),
        "--model",
        str(tiny_model_dir),
        "-o",
        str(model_dir),
        "--text-column",
        "review",
        "--label-column",
        "sentiment",
        "--epochs",
        "3",
        "--lr",
        "3e-3",
        "--batch-size",
        "16",
        "--max-length",
        "32",
        "--device",
        "cpu",
    )
    assert r.returncode == 0, r.stderr
    assert "model saved to" in r.stdout
    r = run(
        "evaluate",
        str(train_csv),
        "--model",
        str(model_dir),
        "--text-column",
        "review",
        "--label-column",
        "sentiment",
        "--json",
        "--device",
        "cpu",
    )
    assert r.returncode == 0, r.stderr
    metrics = json.loads(r.stdout)
    assert metrics["labels"] == ["neg", "pos"] and metrics["n"] == len(tiny_corpus())
    assert metrics["accuracy"] > 0.9
    table = run(
        "evaluate",
        str(train_csv),
        "--model",
        str(model_dir),
        "--text-column",
        "review",
        "--label-column",
        "sentiment",
        "--device",
        "cpu",
    )
    assert "macro-F1" in table.stdout
    out = tmp_path / "attack.jsonl"
    r = run(
        "attack",
        str(train_csv),
        "--model",
        str(model_dir),
        "--recipe",
        "deepwordbug",
        "-n",
        "6",
        "--text-column",
        "review",
        "--label-column",
        "sentiment",
        "--device",
        "cpu",
        "--precision",
        "bf16",
        "--json",
        "-o",
        str(out),
    )
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["num_examples"] == 6 and 0 <= summary["accuracy_under_attack"] <= summary["original_accuracy"]
    assert len(out.read_text().splitlines()) == 6
    r = run(
        "attack",
        str(train_csv),
        "--model",
        str(model_dir),
        "--recipe",
        "hotflip",
        "-n",
        "4",
        "--text-column",
        "review",
        "--label-column",
        "sentiment",
        "--device",
        "cpu",
        "--pos",
        "lexicon",
        "--json",
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["num_examples"] == 4
    for extra, message in (
        (["--recipe", "deepwordbug", "--pos", "lexicon"], "has no part-of-speech check"),
        (["--recipe", "hotflip", "--pos", "flair"], "--pos must be 'spacy', 'lexicon' or 'nltk'"),
        (["--recipe", "hotflip", "--pos-lexicon", "x.json"], "--pos-lexicon needs --pos"),
    ):
        r = run(
            "attack",
            str(train_csv),
            "--model",
            str(model_dir),
            "--text-column",
            "review",
            "--label-column",
            "sentiment",
            *extra,
        )
        assert r.returncode == 2 and message in r.stderr, r.stderr


@pytest.mark.parametrize(
    "args,message",
    [
        (["evaluate", "{csv}", "--model", "{tmp}/nothing"], "nothing: no such model folder"),
        (["train", "{tmp}/missing.csv", "--model", "x", "-o", "{tmp}/m"], "missing.csv: file not found"),
        (["train", "{csv}", "--model", "x", "-o", "{tmp}/m"], "no text column 'text'; columns are: review, sentiment"),
        (
            [
                "train",
                "{csv}",
                "--model",
                "{tmp}/nope",
                "-o",
                "{tmp}/m",
                "--text-column",
                "review",
                "--label-column",
                "sentiment",
            ],
            "nope: no such model folder",
        ),
        (
            [
                "train",
                "{csv}",
                "--model",
                "x",
                "-o",
                "{tmp}/m",
                "--epochs",
                "0",
                "--text-column",
                "review",
                "--label-column",
                "sentiment",
            ],
            "invalid training parameter epochs=0",
        ),
    ],
)
def test_errors_are_one_line_exit_2(tmp_path, train_csv, args, message):
    r = run(*[a.format(csv=train_csv, tmp=tmp_path) for a in args])
    assert r.returncode == 2
    assert message in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "m").exists()  # nothing half-written


def test_debug_shows_traceback(tmp_path):
    r = run("--debug", "train", str(tmp_path / "missing.csv"), "--model", "x", "-o", str(tmp_path / "m"))
    assert r.returncode != 0 and "Traceback" in r.stderr


def test_list_commands():
    ops = run("list", "ops", check=True).stdout
    for name in ("synonym", "eda", "char", "contextual", "backtranslate", "nlpaug"):
        assert name in ops
    recipes = run("list", "recipes", check=True).stdout
    for name in ("textfooler", "pwws", "deepwordbug", "textbugger", "bae", "bert_attack", "a2t", "hotflip"):
        assert name in recipes
    assert "contraction" in run("list", "suites", check=True).stdout


def test_augment_command_and_bad_spec(tmp_path, train_csv):
    out = tmp_path / "aug.jsonl"
    r = run(
        "augment",
        str(train_csv),
        "-o",
        str(out),
        "--op",
        "char:kind=keyboard,p=0.3",
        "-n",
        "2",
        "--text-column",
        "review",
        "--label-column",
        "sentiment",
        "--seed",
        "3",
    )
    assert r.returncode == 0, r.stderr
    rows = pd.read_json(out, lines=True)
    assert {"review", "sentiment", "source_index", "operator"} <= set(rows.columns)
    src = pd.read_csv(train_csv)
    assert (rows.sentiment.to_numpy() == src.sentiment.to_numpy()[rows.source_index]).all()  # labels kept
    again = tmp_path / "again.jsonl"
    run(
        "augment",
        str(train_csv),
        "-o",
        str(again),
        "--op",
        "char:kind=keyboard,p=0.3",
        "-n",
        "2",
        "--text-column",
        "review",
        "--label-column",
        "sentiment",
        "--seed",
        "3",
        "--batch-size",
        "7",
        check=True,
    )
    assert out.read_text() == again.read_text()  # same seed, other chunking: same output
    bad = run("augment", str(train_csv), "-o", str(tmp_path / "x.csv"), "--op", "char:kind=nope")
    assert bad.returncode == 2 and "char" in bad.stderr and "kind" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "x.csv").exists()
    short = run(
        "augment",
        str(train_csv),
        "-o",
        str(tmp_path / "short.csv"),
        "--op",
        "char:kind=keyboard,p=0.3",
        "--text-column",
        "review",
        "--label-column",
        "sentiment",
        "--filter",
        "length:max_words=4",
        check=True,
    )
    assert json.loads(short.stdout[short.stdout.index("{") :])["dropped"]["length"] > 0  # key=value parameters read
    bad = run("augment", str(train_csv), "-o", str(tmp_path / "y.csv"), "--op", "char", "--filter", "label_preserving")
    assert bad.returncode == 2 and "needs a classifier: pass --classifier" in bad.stderr


def test_run_dry_run_and_spec_error(tmp_path, train_csv, tiny_model_dir):
    import yaml

    spec = {
        "data": {
            "train": {"path": str(train_csv), "text_column": "review", "label_column": "sentiment"},
            "test_split": 0.2,
        },
        "model": {"name": str(tiny_model_dir)},
        "output": str(tmp_path / "run"),
    }
    p = tmp_path / "exp.yaml"
    p.write_text(yaml.safe_dump(spec))
    r = run("run", str(p), "--dry-run")
    assert r.returncode == 0, r.stderr
    plan = json.loads(r.stdout)
    assert plan["units_total"] == 1 and plan["labels"] == ["neg", "pos"]
    spec["model"]["learning_rate"] = 1
    p.write_text(yaml.safe_dump(spec))
    r = run("run", str(p))
    assert r.returncode == 2 and "model.learning_rate: unknown key" in r.stderr


def test_attack_command_errors(tmp_path, train_csv):
    r = run("attack", str(train_csv), "--model", str(tmp_path), "--recipe", "nope")
    assert r.returncode == 2 and "unknown recipe 'nope'" in r.stderr
    r = run("attack", str(train_csv), "--model", str(tmp_path), "--recipe", "bae")
    assert r.returncode == 2 and "mlm" in r.stderr
