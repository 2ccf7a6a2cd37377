"""``textrobust generate``: LAMBADA and few-shot generation from the CLI with the tiny GPT-2 (no hub).

The command runs in-process through ``textrobust.cli.main`` (the same error handling as the script, without paying
the torch import per call); the tiny LM writes gibberish, so the tests check the file contract, seeding and errors.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from conftest import CPU, tiny_corpus
from test_augment_lambada import _one_thread  # noqa: F401  (fixture: one torch thread; gpt_dir is in conftest)

from textrobust.cli import main

FAST = ["--device", "cpu", "--max-new-tokens", "8"]


@pytest.fixture
def cli(capsys):
    """Run the CLI in-process: ``(exit code, stdout, stderr)``."""

    def run(*args: object) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as info:
            main([str(a) for a in args])
        out = capsys.readouterr()
        return info.value.code or 0, out.out, out.err

    return run


@pytest.fixture(scope="module")
def seed_csv(tmp_path_factory):
    rows = tiny_corpus()[::5]  # 96 rows, both labels
    p = tmp_path_factory.mktemp("generate") / "seed.csv"
    pd.DataFrame({"review": [t for t, _ in rows], "sentiment": ["pos" if y else "neg" for _, y in rows]}).to_csv(
        p, index=False
    )
    return p


@pytest.fixture(scope="module")
def clf_dir(tmp_path_factory, tiny_model_dir):
    """An (untrained) tiny BERT classifier saved as 'textrobust train' would: enough to exercise the selection."""
    from textrobust.models import TextClassifier

    return TextClassifier(str(tiny_model_dir), labels=["neg", "pos"], max_length=32, runtime=CPU).save(
        tmp_path_factory.mktemp("clf") / "clf"
    )


def test_lambada_file_contract_seed_and_saved_lm(tmp_path, cli, seed_csv, gpt_dir) -> None:
    lm_dir, out = tmp_path / "lm", tmp_path / "out.csv"
    args = [
        "generate",
        seed_csv,
        "--method",
        "lambada",
        "--model",
        gpt_dir,
        "-n",
        3,
        "--text-column",
        "review",
        "--label-column",
        "sentiment",
        "--epochs",
        1,
        "--lr",
        "1e-2",
        "--seed",
        5,
        *FAST,
    ]
    code, stdout, _ = cli(*args, "-o", out, "--save-lm", lm_dir)
    assert code == 0
    rows = pd.read_csv(out)
    assert list(rows.columns) == ["review", "sentiment", "method"]
    assert set(rows.sentiment) <= {"neg", "pos"} and (rows.method == "lambada").all()
    counts = rows.sentiment.value_counts()
    assert len(rows) > 0 and (counts <= 3).all()
    assert stdout.startswith(f"lambada: {len(rows)} rows in ")
    for label in ("neg", "pos"):
        assert f"  {label}: {counts.get(label, 0)}/3" in stdout
    assert not set(rows.review) & set(pd.read_csv(seed_csv).review)  # no copies of the seed rows

    again = tmp_path / "again.csv"
    code, stdout, _ = cli(*args, "-o", again, "--batch-size", 2, "--json")
    assert code == 0 and again.read_bytes() == out.read_bytes()  # same seed: same file, whatever the batch size
    summary = json.loads(stdout)
    assert summary["method"] == "lambada" and summary["rows"] == len(rows) and summary["n_per_label"] == 3
    assert summary["per_label"] == {label: int(counts.get(label, 0)) for label in ("neg", "pos")}
    # the saved fine-tuned LM samples the same rows without fine-tuning again
    reused = tmp_path / "reused.csv"
    assert (
        cli(
            "generate",
            seed_csv,
            "--method",
            "lambada",
            "--model",
            lm_dir,
            "--no-finetune",
            "-n",
            3,
            "--text-column",
            "review",
            "--label-column",
            "sentiment",
            "--seed",
            5,
            *FAST,
            "-o",
            reused,
        )[0]
        == 0
    )
    assert reused.read_bytes() == out.read_bytes()


def test_fewshot_with_classifier_and_filter(tmp_path, cli, seed_csv, gpt_dir, clf_dir) -> None:
    out = tmp_path / "out.jsonl"
    code, stdout, _ = cli(
        "generate",
        seed_csv,
        "-o",
        out,
        "--method",
        "fewshot",
        "--model",
        gpt_dir,
        "-n",
        4,
        "--k-shots",
        2,
        "--text-column",
        "review",
        "--label-column",
        "sentiment",
        "--classifier",
        clf_dir,
        "--min-confidence",
        "0.3",
        "--filter",
        "length:min_words=3",
        "--oversample",
        3,
        *FAST,
    )
    assert code == 0
    rows = pd.read_json(out, lines=True)
    assert len(rows) > 0 and list(rows.columns) == ["review", "sentiment", "method", "confidence"]
    assert set(rows.sentiment) <= {"neg", "pos"} and (rows.method == "fewshot").all()
    assert rows.confidence.between(0.5, 1).all()  # kept rows are the classifier's argmax, with 2 labels
    assert (rows.review.str.split().str.len() >= 3).all()
    counts = rows.sentiment.value_counts()
    assert (counts <= 4).all()
    # the untrained classifier prefers one label: the other gets fewer rows, and the summary says so
    assert len(rows) < 8 and "fewer than asked" in stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["{tmp}/missing.csv"], "missing.csv: file not found"),
        (["{csv}", "--text-column", "body"], "no text column 'body'; columns are: review, sentiment"),
        (["{csv}", "--method", "beam"], "unknown method 'beam'; use --method lambada or --method fewshot"),
        (["{csv}", "--k-shots", "2"], "--k-shots do(es) not apply to --method lambada"),
        (["{csv}", "-n", "0"], "invalid n_per_label=0"),
        (["{csv}", "--filter", "nope"], "unknown filter 'nope'"),
        (["{csv}", "--filter", "length:words=3"], "filter length: expected key=value with key in min_words"),
        (["{csv}", "--filter", "label_preserving"], "needs a classifier: pass --classifier"),
        (["{csv}", "--save-lm", "{tmp}/lm", "--no-finetune"], "save_lm saves the fine-tuned LM"),
        (["{csv}", "-o", "{tmp}/out.xlsx"], "unknown file extension '.xlsx'"),
        (["{csv}", "--model", "{tmp}/no-model"], "no such causal LM folder"),
    ],
)
def test_errors_are_one_line_exit_2_and_write_nothing(tmp_path, cli, seed_csv, args, message) -> None:
    base = [
        "generate",
        "-o",
        "{tmp}/out.csv",
        "--method",
        "lambada",
        "--model",
        "{tmp}/no-model",
        "--text-column",
        "review",
        "--label-column",
        "sentiment",
        "--device",
        "cpu",
    ]
    argv = [a.format(csv=seed_csv, tmp=tmp_path) for a in [*base, *args]]
    code, _, stderr = cli(*argv)
    assert code == 2
    assert message in stderr and "Traceback" not in stderr and len(stderr.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir())  # no output file, no saved LM, no temp files
