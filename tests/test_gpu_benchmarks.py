"""The GPU benchmark kit of issue 22, without a GPU: the one table ``benchmarks/gpu_table.py`` builds from a working
folder, the BERT-base-size classifier of ``--arch bert-base``, and PWWS's fallback to the shipped OEWN lexicon in
``benchmarks/attack_bench.py``. (The script itself is dry-run on the CPU with ``benchmarks/gpu_all.sh --dry-run``;
no test here depends on a timing.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import CPU

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))


def _run_dir(path: Path, values: list[float]) -> None:
    path.mkdir(parents=True)
    metrics = [{"evaluation": "clean", "metric": "accuracy"}, {"evaluation": "clean", "metric": "seconds", "timing": 1}]
    units = {"total": 2, "done": 2, "failed": 0, "missing": 0}
    (path / "summary.json").write_text(json.dumps({"metrics": metrics, "units": units}))
    rows = [("baseline", s, "clean", "accuracy", v) for s, v in enumerate(values)]
    rows += [("baseline", s, "clean", "seconds", 10.0 + s * values[0]) for s in range(len(values))]
    pd.DataFrame(rows, columns=["condition", "seed", "evaluation", "metric", "value"]).to_parquet(
        path / "results.parquet"
    )


def test_gpu_table_from_a_working_folder(tmp_path: Path) -> None:
    work, out = tmp_path / "work", tmp_path / "out"
    (work / "json").mkdir(parents=True)
    steps = [
        ("setup", "ok", 5, "", 0),
        ("main_jobs1", "ok", 120, 170, 0),
        ("main_auto", "ok", 40, 110, 0),
        ("train_minilm", "ok", 20, 50, 0),
        ("attack_minilm", "timed out", 75, 75, 124),
    ]
    (work / "steps.tsv").write_text("".join("\t".join(map(str, s)) + "\n" for s in steps))
    (work / "util_main_jobs1.csv").write_text("10, 900\n20, 1000\n30, 1100\n")
    (work / "util_main_auto.csv").write_text("60, 5000\n70, 6000\n[N/A], 1\n90, 7000\n")
    _run_dir(work / "runs" / "main_jobs1", [0.8, 0.7])
    _run_dir(work / "runs" / "main_auto", [0.8, 0.7])
    train = {
        "args": {"n_train": 1024, "batch_size": 32, "n_infer": 2048},
        "train": [
            {"key": "ours", "throughput": 300.0},
            {"key": "trainer_default", "throughput": 100.0},
            {"key": "trainer_grouped", "throughput": 150.0},
        ],
        "inference": [
            {"key": "ours_budget", "method": "ours: predict_proba, default (32768 tokens)", "throughput": 30.0},
            {"key": "pipeline", "throughput": 20.0, "agree": 1.0},
        ],
    }
    (work / "json" / "train_minilm.json").write_text(json.dumps(train))
    (work / "settings.json").write_text(json.dumps({"dry": False, "main_seeds": "[0,1]", "main_train": 4000}))

    subprocess.run(
        [sys.executable, str(BENCH / "gpu_table.py"), "--work", str(work), "--out", str(out)], check=True, text=True
    )
    md = (out / "gpu_all.md").read_text()
    record = json.loads((out / "gpu_all.json").read_text())
    rows = {r["figure"]: r for r in record["rows"]}

    one = rows["main job `textrobust run examples/mr_adversarial.yaml --jobs 1`"]
    auto = rows["main job `textrobust run examples/mr_adversarial.yaml --jobs auto`"]
    assert "GPU util median 20%, max 30%" in one["value"] and one["met"] is False
    assert "GPU util median 70%, max 90%" in auto["value"] and auto["met"] is True  # the unparsable sample is skipped
    assert auto["ratio"] == pytest.approx(3.0)  # 60 s per unit at --jobs 1, 20 s at auto
    same = rows["main job: `--jobs auto` results vs `--jobs 1`"]
    assert same["met"] is True and same["value"].startswith("0 of 2 ")  # timing metrics left out
    fit = next(r for f, r in rows.items() if f.startswith("fine-tuning, MiniLM"))
    assert fit["ratio"] == pytest.approx(3.0) and fit["met"] is True
    infer = next(r for f, r in rows.items() if f.startswith("inference at the defaults, MiniLM"))
    assert infer["ratio"] == pytest.approx(1.5) and infer["met"] is False
    # every figure that did not come back says so, with the step's state
    assert rows["attacks, MiniLM victim"]["value"] == "not measured"
    assert "timed out after 75 s" in rows["attacks, MiniLM victim"]["note"]
    assert "not run" in rows["fine-tuning, BERT-base"]["note"]
    assert "| **no** |" in md and md.startswith("# GPU figures of issue 22\n")


def test_gpu_table_flags_different_results(tmp_path: Path) -> None:
    import gpu_table

    _run_dir(tmp_path / "a", [0.8, 0.7])
    _run_dir(tmp_path / "b", [0.8, 0.75])
    same = gpu_table.same_results(tmp_path / "a", tmp_path / "b")
    assert same == {"values": 2, "differ": 1, "max_abs_diff": pytest.approx(0.05)}


def test_bert_base_classifier_has_bert_base_dimensions(tiny_model_dir: Path) -> None:
    from _common import build_classifier

    clf = build_classifier("bert-base", labels=["neg", "pos"], runtime=CPU, base=str(tiny_model_dir), max_length=32)
    cfg = clf.get_params()["config"]
    assert (cfg.hidden_size, cfg.num_hidden_layers, cfg.num_attention_heads, cfg.intermediate_size) == (
        768,
        12,
        12,
        3072,
    )
    assert clf.source is None and clf.tokenizer_source == str(tiny_model_dir)
    assert cfg.vocab_size == len(clf.tokenizer)
    minilm = build_classifier("minilm", labels=["neg", "pos"], runtime=CPU, base=str(tiny_model_dir))
    assert minilm.source == str(tiny_model_dir) and minilm.runtime == CPU


def test_pwws_falls_back_to_the_shipped_lexicon_without_wordnet(data_dir: Path, monkeypatch, capsys) -> None:
    from attack_bench import pwws_lexicon

    monkeypatch.setenv("TEXTROBUST_WORDNET", str(data_dir / "no-wordnet-here"))
    source, desc = pwws_lexicon("auto", data_dir)
    assert "Open English WordNet" in desc and "WordNet not installed" in desc
    assert "note:" in capsys.readouterr().out  # the reason WordNet was not used is printed
    assert source.synonyms("good")  # a working synonym source
    with pytest.raises(Exception, match="WordNet"):
        pwws_lexicon("wordnet", data_dir)  # asked for by name: no silent fallback
