"""A new user's first hour (issue 28): each trap a new user hit, pinned so it does not come back.

The one-line bad-input cases (``--fail-under`` before training, model names, hints) are rows of
``tests/test_bad_inputs.py``; here are the checks that need more than a message: the dry run's time estimate, the
report's headline, augment's row accounting, the attack record, file modes and progress off a terminal.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from textrobust.errors import ConfigError
from textrobust.robustness import MetricInfo, check_gates
from textrobust.robustness.estimate import DEFAULT_CPU, estimate_units, measured_rates


class _Ev:
    """The two things the estimate asks of an evaluation."""

    def __init__(self, name: str, kind: str, examples: int | None) -> None:
        self.name, self.kind, self._examples = name, kind, examples

    def examples_scored(self, n_test: int) -> int | None:
        return None if self._examples is None else min(self._examples, n_test)


def _pilot(root: Path, *, work: bool) -> Path:
    """A finished run directory with two units' timings: 100 s training 1,000 example-epochs, 10 s of clean accuracy
    on 200 examples, 40 s attacking 20 examples, 6 s for a behaviour pack."""
    (root / "config.json").parent.mkdir(parents=True, exist_ok=True)
    (root / "config.json").write_text(json.dumps({"model": {"train": {"epochs": 2}}}))
    for seed in (0, 1):
        unit = root / "units" / "baseline" / f"seed{seed}"
        unit.mkdir(parents=True)
        done = {"seconds": 156, "phase_seconds": {"train": 100.0, "clean": 10.0, "attack:x": 40.0, "mft": 6.0}}
        if work:
            done["work"] = {"train_example_epochs": 1000, "examples": {"clean": 200, "attack:x": 20, "mft": None}}
        (unit / "done.json").write_text(json.dumps(done))
        metrics = [("train", "train_size", 500), ("clean", "n", 200), ("attack:x", "n", 20), ("mft", "n", 90)]
        rows = [{"evaluation": e, "metric": m, "value": v, "seed": seed} for e, m, v in metrics]
        (unit / "metrics.json").write_text(json.dumps(rows))
    return root


@pytest.mark.parametrize("work", [True, False], ids=["done-json-work", "older-pilot"])
def test_dry_run_time_estimate_scales_the_pilot_to_the_plan(tmp_path, work):
    pilot = _pilot(tmp_path / "pilot", work=work)
    rates = measured_rates(pilot)
    assert rates["train"]["per_example_epoch"] == pytest.approx(0.1)
    assert rates["clean"]["per_example"] == pytest.approx(0.05) and rates["attack:x"]["per_example"] == 2.0
    rows = [{"unit": "baseline/seed0", "train_examples": 300}, {"unit": "big/seed0", "train_examples": 600}]
    evs = [_Ev("clean", "clean", 10**9), _Ev("attack:x", "attack", 50), _Ev("mft", "mft", None)]
    info = estimate_units(rows, evs, 400, epochs=3, max_length=64, device="cpu", pilot=pilot)
    # 0.1 s x 300 x 3 epochs + 0.05 s x 400 test examples + 2 s x 50 attacked + the pack's own 6 s
    assert rows[0]["estimated_seconds"] == pytest.approx(90 + 20 + 100 + 6)
    assert rows[1]["estimated_seconds"] == pytest.approx(180 + 20 + 100 + 6)
    assert info["source"] == f"pilot {pilot}" and info["rough"] is False and info["total_seconds"] == 522


def test_dry_run_time_estimate_without_a_pilot_says_it_is_rough(tmp_path):
    rows = [{"unit": "baseline/seed0", "train_examples": 100}]
    info = estimate_units(rows, [_Ev("clean", "clean", 10**9)], 50, epochs=1, max_length=128, device="cpu")
    expected = 2 * (DEFAULT_CPU["train"] * 100 + DEFAULT_CPU["evaluate"] * 50)  # max_length 128: twice 64's work
    assert rows[0]["estimated_seconds"] == pytest.approx(expected, abs=0.05)
    assert info["rough"] and "--pilot" in info["note"]
    info = estimate_units(rows, [], 50, epochs=1, max_length=64, device="cuda")
    assert rows[0]["estimated_seconds"] is None and "no default for device cuda" in info["note"]
    # A pilot without the evaluation asked for: measured where it can, the rest said to be a default.
    info = estimate_units(
        rows,
        [_Ev("inv", "inv", 10**9)],
        50,
        epochs=1,
        max_length=64,
        device="cpu",
        pilot=None,
        run_dir=_pilot(tmp_path / "run", work=True),
    )
    assert info["source"] == "this run's finished units" and info["rough"] and "inv" in info["note"]


def test_fail_under_gates_are_checked_against_the_declared_metrics():
    infos = [
        MetricInfo("clean", "accuracy", "clean accuracy", headline=True, role="clean"),
        MetricInfo("mft", "failure_rate", "MFT failure rate", higher_is_better=False, headline=True),
        MetricInfo("attack", "avg_queries", "queries", unit="count", range=(0, None), higher_is_better=None),
    ]
    assert [g.key for g in check_gates(["clean.accuracy=0.8", "attack.avg_queries=3"], infos)] == [
        "clean.accuracy",
        "attack.avg_queries",
    ]
    with pytest.raises(ConfigError, match="lower-is-better"):
        check_gates(["mft.failure_rate=0.1"], infos)
    with pytest.raises(ConfigError, match="lies between 0 and 1, so 1.5 can never be reached"):
        check_gates(["clean.accuracy=1.5"], infos)
    with pytest.raises(ConfigError, match="lies at least 0"):
        check_gates(["attack.avg_queries=-1"], infos)


# -- trap 2 and 5: attack --labels against an endpoint that does not say them; model names without a hub -------------
def test_attack_an_endpoint_without_labels_says_how_and_then_works(tmp_path, capsys, no_labels_url):
    from textrobust.cli import main

    data = tmp_path / "d.csv"
    data.write_text("text,label\na good film,pos\na dull film,neg\nso good,pos\n")
    argv = ["attack", str(data), "--model", no_labels_url, "--recipe", "deepwordbug"]
    with pytest.raises(SystemExit) as stop:
        main(argv)
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "(--labels a,b or labels: [a, b])" in err
    with pytest.raises(SystemExit) as stop:
        main([*argv, "--labels", "neg,pos", "--json"])
    assert stop.value.code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["num_examples"] == 3 and summary["original_accuracy"] == 1.0  # the labels given were used


def test_a_hub_name_with_no_network_fails_at_once_without_asking(monkeypatch):
    import socket

    from textrobust.errors import ModelError
    from textrobust.models import check_model_source, hub_unreachable, minilm_path

    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)

    def no_dns(host, *args, **kw):
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    assert hub_unreachable() == "huggingface.co cannot be reached (no network)"
    with pytest.raises(ModelError, match="not in the Hugging Face cache; huggingface.co cannot be reached"):
        check_model_source("some-org/some-model")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy:3128")  # a proxy resolves names itself: the hub may be asked
    assert hub_unreachable() is None and check_model_source("some-org/some-model") == "some-org/some-model"
    # The names textrobust knows mean the same in YAML and on the command line, with or without the hub.
    assert check_model_source("MiniLM") == check_model_source("all-MiniLM-L6-v2") == minilm_path()


# -- trap 7: augment's rows add up, per operator too; an empty input after the header is said ------------------------
def test_augment_accounting_adds_up_on_real_reviews(tmp_path, caplog):
    import logging

    import pandas as pd

    from textrobust.augment import augment_file, parse_op
    from textrobust.augment.filters import Dedup, Length
    from textrobust.data import demo_data_path

    reviews = pd.read_csv(demo_data_path()).head(40)
    reviews.loc[3, "text"] = "ok"  # too short for OCR confusions or a second word: some variants cannot be made
    inp = tmp_path / "rows40.csv"
    reviews.to_csv(inp, index=False)
    ops = [parse_op("char:kind=ocr"), parse_op("eda:alpha_sr=0,alpha_ri=0,alpha_rs=0.3,p_rd=0")]
    s = augment_file(inp, tmp_path / "out.csv", ops, n=2, keep_original=True, progress=False,
                     filters=[Dedup(), Length(min_words=3)])  # fmt: skip
    rows = pd.read_csv(tmp_path / "out.csv")
    assert s.rows_out == len(rows) and s.rows_in == 40 and s.originals_kept == 40
    assert s.variants_asked == 40 * 2 * 2 and s.not_possible > 0 and sum(s.dropped.values()) > 0
    assert s.rows_out == s.originals_kept + s.variants_asked - s.not_possible - sum(s.dropped.values())
    for name, op in s.operators.items():  # each operator's own rows in the output, and its numbers add up
        assert op["asked"] - op["not_possible"] - sum(op["dropped"].values()) == op["kept"]
        assert op["kept"] == (rows.operator == name).sum()
    assert s.operators["char:kind=ocr"]["rows_without_variant"] >= 1
    assert s.accounting().startswith("40 rows in: 40 kept + 160 variants asked - ") and s.accounting().endswith(
        f"= {len(rows)} rows out"
    )
    (tmp_path / "header_only.csv").write_text("text,label\n")
    with caplog.at_level(logging.WARNING):
        empty = augment_file(tmp_path / "header_only.csv", tmp_path / "empty.csv", ops, progress=False)
    assert empty.rows_out == 0 and "has no rows after its header: the output" in caplog.text


# -- trap 8: one meaning of "failed" in attack records; model files follow the umask; no library bars in logs -------
def test_attack_records_say_model_failed_beside_the_attack_status(tmp_path):
    from textrobust.adversarial import AttackReport, AttackResult, read_results
    from textrobust.data.records import model_failed

    results = [
        AttackResult(0, "a good film", "a g00d film", 1, 1, 0, [0.1, 0.9], [0.6, 0.4], [1], 3, 7, "succeeded"),
        AttackResult(1, "a fine cast", "a fine cast", 1, 1, 1, [0.2, 0.8], [0.3, 0.7], [], 3, 9, "failed"),
        AttackResult(2, "dull", "dull", 1, 0, 0, [0.7, 0.3], [0.7, 0.3], [], 1, 1, "skipped"),
    ]
    report = AttackReport(results, elapsed_s=1.0, attack_name="deepwordbug")
    path = report.to_jsonl(tmp_path / "a.jsonl", ["neg", "pos"])
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert all("failed" not in r for r in records)  # the attack's "failed" is its status; the model's is model_failed
    assert [(r["model_failed"], r["info"]["status"]) for r in records] == [
        (True, "succeeded"),
        (False, "failed"),
        (False, "skipped"),
    ]
    summary = report.summary()
    assert (summary["succeeded"], summary["failed"]) == (1, 1)  # counts of statuses, as the records say them
    assert [r.status for r in read_results(path)] == ["succeeded", "failed", "skipped"]
    assert model_failed({"failed": True}) and not model_failed({"failed": False})  # 0.2 records still read


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_saved_model_files_follow_the_umask(tmp_path, tiny_model_dir, umask):
    import os

    from textrobust.models import Runtime, TextClassifier

    clf = TextClassifier(tiny_model_dir, labels=["neg", "pos"], max_length=16, runtime=Runtime(device="cpu"))
    old = os.umask(umask)
    try:
        out = clf.save(tmp_path / "model")
    finally:
        os.umask(old)
    modes = {p.name: p.stat().st_mode & 0o777 for p in out.iterdir()}
    assert "model.safetensors" in modes and set(modes.values()) == {0o666 & ~umask}, modes
    assert out.stat().st_mode & 0o777 == 0o777 & ~umask


def test_no_library_progress_bar_off_a_terminal(tmp_path, gpt_dir):
    import subprocess
    import sys

    (tmp_path / "d.csv").write_text("text,label\na good film,pos\na dull film,neg\nso good,pos\nso bad,neg\n")
    args = ["generate", str(tmp_path / "d.csv"), "-o", str(tmp_path / "g.csv"), "--method", "fewshot"]
    r = subprocess.run(
        [sys.executable, "-m", "textrobust", *args, "--model", gpt_dir, "-n", "1", "--max-new-tokens", "4"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Loading weights" not in r.stderr and "\r" not in r.stderr, r.stderr[-2000:]  # a log gets lines only


# -- trap 3: the headline of a scan of two identical models crowns nobody, in the report and on the command line ------
def test_a_scan_of_two_identical_models_names_no_winner(tmp_path, trained_dir, capsys):
    import pandas as pd
    from conftest import tiny_corpus

    from textrobust.cli import main

    rows = tiny_corpus()[::3]
    pd.DataFrame({"text": [t for t, _ in rows], "label": ["pos" if y else "neg" for _, y in rows]}).to_csv(
        tmp_path / "test.csv", index=False
    )
    argv = ["scan", str(tmp_path / "test.csv"), "--model", f"a={trained_dir}", "--model", f"b={trained_dir}"]
    with pytest.raises(SystemExit) as stop:
        main([*argv, "--eval", "clean", "--eval", "inv:suites=[typo]", "-o", str(tmp_path / "scan")])
    out = capsys.readouterr().out
    assert stop.value.code == 0
    report = json.loads((tmp_path / "scan" / "report.json").read_text())
    (found,) = report["findings"]
    assert found["condition"] == "b" and not found["better"] and not found["worse"] and found["no_change"] == 2
    assert found["text"] == "b: no detectable change from a in any of the 2 judged metrics"
    assert "b: no detectable change from a in any of the 2 judged metrics" in " ".join(out.split())
    html = (tmp_path / "scan" / "report.html").read_text()
    assert "best" not in html.replace("--best-bg", "") and "★" not in html
    assert "n = " in html and "Value over the test examples" in html and "none: given models" in html


# -- trap 9: report cosmetics -----------------------------------------------------------------------------------------
def test_report_cosmetics_say_what_the_tables_say(tmp_path):
    from test_reports import make_run_dir

    from textrobust.reports import build_report
    from textrobust.reports.charts import hbar_chart, nice_axis
    from textrobust.reports.fmt import num, value_text

    # Bar labels in the metric's unit (a Brier score as the table writes it), lopsided intervals as [low, high].
    cell = {"mean": 0.225, "ci_low": 0.176, "ci_high": 0.274}
    svg = str(hbar_chart("Brier", [("clean", [{"label": "a", "series": 0, "cell": cell}])], unit="number",
                         value_unit="score"))  # fmt: skip
    assert "0.225 ± 0.049" in svg and "0.2 ± 0.0" not in svg
    share = {"mean": 1.0, "ci_low": 0.966, "ci_high": 1.0}
    svg = str(hbar_chart("Inv", [("case", [{"label": "a", "series": 0, "cell": share}])], unit="fraction"))
    assert "100.0% [96.6%, 100.0%]" in svg and "± 1.7" not in svg
    # Round ticks only (no 6.25% / 18.75%), counts without a spurious decimal.
    for peak in (0.07, 23.0, 18.75, 85.0, 170.0, 3.2):
        top, step = nice_axis(peak)
        assert top >= peak and top / step <= 4 and float(f"{step:.3g}") == step
    assert num(85) == "85" and value_text(61.0, "count") == "61" and num(2.5) == "2.5"
    # Placeholders read as what they stand for; captions promise whiskers only where they are drawn.
    run = make_run_dir(tmp_path)
    config = json.loads((run / "config.json").read_text())
    config["data"]["train"] = {"path": "{package_data}/demo_reviews.csv"}
    (run / "config.json").write_text(json.dumps(config))
    html = build_report(run).read_text()
    assert "demo_reviews.csv (built into textrobust)" in html and "{package_data}" not in html.split("<pre")[0]
    report = json.loads(build_report(run).with_suffix(".json").read_text())
    assert report["header"]["data"]["test_size"] is None or report["header"]["data"]["test_size"] > 0
    captions = [part.split("</figcaption>")[0] for part in html.split("<figcaption>")[1:]]
    assert captions and all(("whiskers" in c) == ("no intervals" not in c) for c in captions)


# -- trap 10: no long silences: phases and where training is, on a terminal and as lines in a log ----------------------
def test_training_reports_where_it_is(tiny_model_dir):
    from conftest import tiny_corpus

    from textrobust.data import LabeledData
    from textrobust.models import Runtime, TextClassifier, TrainConfig

    rows = tiny_corpus()[:48]
    train = LabeledData([t for t, _ in rows], [y for _, y in rows], ["neg", "pos"])
    heard: list[str] = []
    clf = TextClassifier(tiny_model_dir, labels=["neg", "pos"], max_length=16, runtime=Runtime(device="cpu"),
                         train_config=TrainConfig(epochs=2, batch_size=16))  # fmt: skip
    clf.fit(train, progress=False, on_progress=heard.append)
    assert heard[0].startswith("epoch 1/2 · ") and heard[-1] == "epoch 2/2 · 100%" and "epoch 1/2 · 100%" in heard
    percents = [int(h.split("· ")[1].rstrip("%")) for h in heard if h.startswith("epoch 1/2")]
    assert percents == sorted(set(percents))  # each percentage once, in order


def test_unit_progress_lines_off_a_terminal(capsys):
    from textrobust.robustness.runner import _UnitProgress

    with _UnitProgress(total=4, done=1, enabled=True, every_s=3600) as bar:
        bar.phase("noise/seed0", "train")
        bar.phase("noise/seed0", "train · epoch 1/3 · 40%")  # same phase, within the interval: not repeated
        bar.phase("noise/seed0", "clean")
        bar.advance()
        bar.phase("noise/seed1", "augment")
    with _UnitProgress(total=2, done=0, enabled=True, every_s=0) as every:
        every.phase("b/seed0", "train · epoch 2/3 · 41%")
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        "unit 2/4 · noise/seed0 · train",
        "unit 2/4 · noise/seed0 · clean",
        lines[2],  # the unit line: "units: 2/4 (50%), ..."
        "unit 3/4 · noise/seed1 · augment",
        "unit 1/2 · b/seed0 · train · epoch 2/3 · 41%",
    ]
    assert lines[2].startswith("units: 2/4 (50%)")


def test_a_run_in_a_log_says_each_units_phases(tmp_path, tiny_model_dir):
    import subprocess
    import sys

    import yaml
    from conftest import tiny_experiment

    spec = tiny_experiment(tmp_path, tiny_model_dir, ["typo"])
    spec.update(seeds=[0], evaluations=[{"kind": "clean"}, {"kind": "inv", "suites": ["typo"]}])
    spec["model"]["train"]["epochs"] = 1
    (tmp_path / "exp.yaml").write_text(yaml.safe_dump(spec))
    r = subprocess.run(
        [sys.executable, "-m", "textrobust", "run", str(tmp_path / "exp.yaml"), "--no-report"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    for line in (
        "unit 1/2 · baseline/seed0 · train",
        "unit 1/2 · baseline/seed0 · inv",
        "unit 2/2 · char/seed0 · augment",
    ):
        assert line in r.stderr.splitlines(), r.stderr[-2000:]
