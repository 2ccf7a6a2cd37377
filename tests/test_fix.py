"""``textrobust fix``: targeted rows stay disjoint from the evaluation, categories are picked and sized by their
measured failure, and the command scans, retrains and judges end to end (tiny models: seconds, not minutes)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from conftest import cli_in_process, run_cli, tiny_corpus

from textrobust.robustness.evaluations import build_evaluation
from textrobust.robustness.fix import Category, FixOptions, select
from textrobust.robustness.spec import TargetedPart
from textrobust.robustness.targeted import evaluation_texts, normalise, template_pool
from textrobust.robustness.testpack import load_pack

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("seed", [0, 7])
def test_template_rows_never_contain_an_evaluation_case(seed):
    """The guarantee docs/fix.md states: the evaluation's cases are recomputed with its own function and seed, and
    no targeted row equals any of them (case, spacing and final punctuation ignored) — while collisions do exist
    in the raw pool, so the exclusion is doing work."""
    pack = load_pack(None)
    ev = build_evaluation({"kind": "mft", "seed": seed})
    scored = {normalise(c.text) for c in ev.pack().expand("mft", seed=seed)}  # what the evaluation runs
    assert scored <= evaluation_texts(pack, seed)
    for cap in pack.capabilities("mft"):
        part = TargetedPart(category=f"mft:{cap}", kind="templates", rows=10, capability=cap, exclude_seed=seed)
        texts, labels, excluded = template_pool(part, ["negative", "positive"])
        assert texts and excluded > 0, cap
        assert not {normalise(t) for t in texts} & evaluation_texts(pack, seed), cap
        assert len(set(texts)) == len(texts) and set(labels) <= {0, 1}


def _cat(name: str, part: dict | None = None) -> Category:
    return Category(name, name.split(":")[0], name, "failure_rate", "failure_rate", name, part)


def test_categories_are_picked_by_failure_and_sized_in_proportion():
    part = {"kind": "templates", "capability": "x", "test_type": "mft"}
    cats = [_cat("mft:a", part), _cat("mft:b", part), _cat("mft:c", part), _cat("dir:d"), _cat("mft:e", part)]
    measured = [
        {"name": "mft:a", "failure": 0.60, "failure_low": 0.5, "failure_high": 0.7},
        {"name": "mft:b", "failure": 0.20, "failure_low": 0.1, "failure_high": 0.3},
        {"name": "mft:c", "failure": 0.05, "failure_low": 0.0, "failure_high": 0.1},
        {"name": "dir:d", "failure": 0.90, "failure_low": 0.8, "failure_high": 1.0},
        {"name": "mft:e", "failure": None, "failure_low": None, "failure_high": None},
    ]
    table, spec = select(cats, measured, 1000, FixOptions(min_failure=0.1, rows=400))
    rows = {p.category: p.rows for p in spec.parts}
    assert rows == {"mft:a": 300, "mft:b": 100}  # 3:1 like their failures; 400 in all
    by = {r["name"]: r for r in table}
    assert by["mft:c"]["reason"].startswith("below") and not by["mft:c"]["targeted"]
    assert by["dir:d"]["failing"] and not by["dir:d"]["targeted"] and "no generator" in by["dir:d"]["reason"]
    assert by["mft:e"]["reason"] == "not scored by the scan"
    table, spec = select(cats, measured, 1000, FixOptions(min_failure=0.1, max_categories=1))
    assert [p.category for p in spec.parts] == ["mft:a"] and spec.parts[0].rows == 500  # default: half the train
    assert "worse categories were targeted" in {r["name"]: r for r in table}["mft:b"]["reason"]
    assert select(cats, measured, 1000, FixOptions(min_failure=0.95))[1] is None


@pytest.fixture(scope="module")
def sentiment_csv(tmp_path_factory) -> Path:
    rows = tiny_corpus()
    path = tmp_path_factory.mktemp("fixdata") / "data.csv"
    pd.DataFrame({"text": [t for t, _ in rows], "label": ["positive" if y else "negative" for _, y in rows]}).to_csv(
        path, index=False
    )
    return path


def _fix_args(data: Path, model: Path, out: Path, *more: str) -> list[str]:
    return [
        "fix", str(data), "--model", str(model), "--seeds", "0,1,2", "--test-split", "0.25", "--epochs", "3",
        "--lr", "3e-3", "--set", "model.train.batch_size=16", "--max-length", "32", "--device", "cpu",
        "--eval", "clean", "--eval", "inv:suites=[typo]", "--eval", "mft", "--eval", "attack:recipe=deepwordbug,n=10",
        "--rows", "90", "-o", str(out), *more,
    ]  # fmt: skip


def test_fix_scans_targets_retrains_and_judges(tmp_path, sentiment_csv, tiny_model_dir):
    xmlschema = pytest.importorskip("xmlschema")
    out = tmp_path / "fix"
    r = run_cli(*_fix_args(sentiment_csv, tiny_model_dir, out, "--min-failure", "0.05"))
    assert r.returncode in (0, 1), r.stderr[-2000:]
    result = json.loads((out / "fix.json").read_text())
    better = [v["verdict"] == "better" for v in result["verdicts"] if v["targeted"]]
    assert result["status"] == ("fixed" if better and all(better) else "partly_fixed" if any(better) else "not_fixed")
    assert result["exit_code"] == r.returncode
    targeted = [c for c in result["categories"] if c["targeted"]]
    planned = sum(c["rows"] for c in targeted)
    assert targeted and abs(planned - 90) <= len(targeted)  # shared out in proportion, each part rounded
    # every category is judged in one Holm family; clean accuracy has its gate
    assert result["family_size"] == len(result["verdicts"]) == len(result["categories"])
    assert result["clean"]["verdict"] in ("pass", "fail", "inconclusive") and result["clean"]["delta"] == 0.01
    for v in result["verdicts"]:
        assert v["adj_ci_low"] <= v["diff_ci_low"] + 1e-12 and v["adj_ci_high"] >= v["diff_ci_high"] - 1e-12
    # the fix units trained on the targeted rows; the scan's baseline units were not trained twice
    results = pd.read_parquet(out / "results.parquet")
    size = results[results.metric == "train_size"].pivot_table(index="seed", columns="condition", values="value")
    added = size["fix"] - size["baseline"]  # attacks may find fewer successes than asked for, never more rows
    assert (added > 0).all() and (added <= planned).all(), size
    sample = [json.loads(x) for x in (out / "units/fix/seed0/targeted_sample.jsonl").read_text().splitlines()]
    banned = evaluation_texts(load_pack(None), 0)
    assert sample and not {normalise(s["text"]) for s in sample} & banned
    done = (out / "units/baseline/seed0/done.json").stat().st_mtime
    md = (out / "fix.md").read_text()
    assert len(md.splitlines()) <= 60 and md.startswith("## textrobust fix")
    xsd = ROOT / ".cache" / "junit-10.xsd"
    if xsd.is_file():
        xmlschema.XMLSchema(str(xsd)).validate(str(out / "junit.xml"))
    assert "<table" in (out / "fix.html").read_text()
    # resumable like run: a second call trains nothing and judges the same
    again = run_cli(*_fix_args(sentiment_csv, tiny_model_dir, out, "--min-failure", "0.05"))
    assert again.returncode == r.returncode
    assert (out / "units/baseline/seed0/done.json").stat().st_mtime == done
    assert json.loads((out / "fix.json").read_text())["verdicts"] == result["verdicts"]


def test_nothing_failing_says_so_and_retrains_nothing(tmp_path, capsys, sentiment_csv, tiny_model_dir):
    out = tmp_path / "fix"
    r = run_cli(*_fix_args(sentiment_csv, tiny_model_dir, out, "--min-failure", "1.01"))
    assert r.returncode == 0, r.stderr[-2000:]
    assert "nothing to fix, nothing retrained" in r.stdout
    assert json.loads((out / "fix.json").read_text())["status"] == "nothing_failing"
    assert not (out / "units" / "fix").exists()
    # a fix from an existing scan that found nothing failing is bad input: one line, exit 2, nothing written
    again = tmp_path / "again"
    code, err = cli_in_process(
        capsys, *_fix_args(sentiment_csv, tiny_model_dir, again, "--min-failure", "1.01", "--scan", str(out))
    )
    assert code == 2 and "found nothing failing" in err, err[-800:]
    assert len(err.strip().splitlines()) == 1 and not again.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--delta", "-1pts"], "positive number"),
        (["--delta", "0.01"], "give the margin in points"),
        (["--scan", "/nonexistent"], "--scan /nonexistent"),
        (["--eval", "attack:recipe=nope"], "unknown attack recipe"),
    ],
)
def test_fix_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys, sentiment_csv, tiny_model_dir, args, message):
    out = tmp_path / "fix"
    code, err = cli_in_process(capsys, *_fix_args(sentiment_csv, tiny_model_dir, out), *args)
    assert code == 2 and message in err, err[-800:]
    assert len(err.strip().splitlines()) == 1 and not out.exists()
