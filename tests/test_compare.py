"""``textrobust compare`` and its non-inferiority gate: the gate's verdicts and margins, the gate by simulation
(a fast seeded subset of ``benchmarks/gate_sim.py``), the command end to end with its JUnit XML (validated
against Jenkins' junit-10.xsd) and Markdown, and bad input (one line, exit 2, nothing written)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import CPU, cli_in_process, run_cli, tiny_corpus

from textrobust.errors import ConfigError
from textrobust.stats import checks
from textrobust.stats.gate import adjust, gate, parse_margin

ROOT = Path(__file__).resolve().parents[1]
XSD = ROOT / ".cache" / "junit-10.xsd"


def _tables(rng: np.random.Generator, flip: float, seeds: int = 3, n: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """BASE right on 85%; NEW = BASE with ``flip`` of the right answers turned wrong (a worsening of ~flip*85%)."""
    base = (rng.random((seeds, n)) < 0.85).astype(float)
    new = np.where((base == 1) & (rng.random((seeds, n)) < flip), 0.0, base)
    return new, base


def test_gate_fails_passes_and_says_when_it_cannot_tell():
    rng = np.random.default_rng(0)
    bad = gate(*_tables(rng, 0.10), (0.0, 1.0), 0.02, True)  # ~8.5 points worse
    same = gate(*_tables(rng, 0.0), (0.0, 1.0), 0.02, True)
    small = gate(*_tables(rng, 0.02, seeds=1, n=150), (0.0, 1.0), 0.02, True, models_fixed=True)
    adjust([bad])
    adjust([same])
    adjust([small])
    assert bad.verdict == "fail" and bad.upper < -0.02 and bad.p_adjusted < 0.05
    assert same.verdict == "pass" and same.lower > -0.02
    assert small.verdict == "inconclusive" and small.mde > 0.02 and small.needed["examples"] > 150
    # lower is better (a failure rate): the same tables read the other way round
    worse_rate = gate(*(1 - t for t in _tables(rng, 0.10)), (0.0, 1.0), 0.02, False)
    adjust([worse_rate])
    assert worse_rate.verdict == "fail" and worse_rate.estimate < 0


def test_holm_over_gates_needs_more_evidence_than_one_gate():
    rng = np.random.default_rng(3)
    new, base = _tables(rng, 0.04, seeds=1, n=3000)
    alone = gate(new, base, (0.0, 1.0), 0.0, True, models_fixed=True)
    adjust([alone])
    many = [gate(new, base, (0.0, 1.0), 0.0, True, models_fixed=True) for _ in range(5)]
    adjust(many)
    assert many[0].p_adjusted == pytest.approx(min(1.0, 5 * alone.p))


@pytest.mark.parametrize(
    ("text", "unit", "value"),
    [("2pts", "share", 0.02), ("1.5 pts", "share", 0.015), ("3pp", "percent", 3.0), ("5s", "seconds", 5.0),
     ("0.01", "score", 0.01), ("0pts", "share", 0.0)],
)  # fmt: skip
def test_margins_carry_their_unit(text, unit, value):
    assert parse_margin(text, unit, "m") == pytest.approx(value)


@pytest.mark.parametrize(
    ("text", "unit", "message"),
    [("-2pts", "share", "positive number"), ("0.02", "share", "in points"), ("2%", "share", "ambiguous"),
     ("150pts", "share", "whole range"), ("2pts", "score", "plain number"), ("two", "share", "cannot read")],
)  # fmt: skip
def test_margins_of_the_wrong_sign_or_unit_are_refused(text, unit, message):
    with pytest.raises(ConfigError, match=message):
        parse_margin(text, unit, "m")


@pytest.mark.parametrize("process", ["independent", "correlated", "accuracy 97%", "large seed variance"])
def test_gate_by_simulation_false_fails_and_power(process):
    """1,000 examples x 3 seeds, margin 2 points (the benchmark runs 1,000+ experiments per cell; here 300, seeded):
    nothing changed -> at most 5% fail (measured: 0-1.3%); at the margin itself the one-sided 5% holds; a true
    worsening of 4 points is caught, more often than not where the design allows (the oracle's power says where)."""
    rng = np.random.default_rng(25)
    p = checks.PROCESSES[process]
    null = checks.gate_rates(p, rng, 3, 1000, 300, 0.0, 0.02)
    edge = checks.gate_rates(p, rng, 3, 1000, 300, -0.02, 0.02)
    worse = checks.gate_rates(p, rng, 3, 1000, 300, -0.04, 0.02)
    assert null["fail"] <= 0.03 and edge["fail"] <= 0.07, (null, edge)
    assert worse["fail"] <= worse["oracle_fail"] + 0.05  # no test beats knowing the variance
    assert worse["fail"] >= (0.45 if worse["oracle_fail"] > 0.8 else 0.04), worse


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    """Test data (labels neg/pos), other test data, and an untrained model (a NEW that is much worse)."""

    d = tmp_path_factory.mktemp("compare")
    rows = tiny_corpus()
    for name, part in (("test.csv", rows[1::4]), ("other.csv", rows[2::4])):
        pd.DataFrame({"text": [t for t, _ in part], "label": ["pos" if y else "neg" for _, y in part]}).to_csv(
            d / name, index=False
        )
    return {"dir": d, "test": d / "test.csv", "other": d / "other.csv"}


@pytest.fixture(scope="module")
def good(tmp_path_factory, tiny_model_dir) -> Path:
    """A tiny classifier that gets the tiny corpus right (3 epochs at 3e-3, batches of 16)."""
    from textrobust.data import LabeledData
    from textrobust.models import TextClassifier, TrainConfig

    rows = tiny_corpus()
    train = LabeledData([t for t, _ in rows], [y for _, y in rows], ["neg", "pos"])
    config = TrainConfig(epochs=3, lr=3e-3, batch_size=16)
    clf = TextClassifier(tiny_model_dir, labels=["neg", "pos"], max_length=32, runtime=CPU, train_config=config)
    return clf.fit(train, progress=False).save(tmp_path_factory.mktemp("good") / "model")


@pytest.fixture(scope="module")
def untrained(tmp_path_factory, tiny_model_dir) -> Path:
    from textrobust.models import TextClassifier

    clf = TextClassifier(tiny_model_dir, labels=["neg", "pos"], max_length=32, runtime=CPU)
    clf.model  # noqa: B018 - load the weights (a random head) so that they can be saved
    clf.fitted = True
    return clf.save(tmp_path_factory.mktemp("untrained") / "model")


EVALS = ["--eval", "clean", "--eval", "inv:suites=[typo]", "--eval", "mft", "--device", "cpu"]


def test_compare_two_models_gates_and_writes_what_ci_reads(tmp_path, data, good, untrained):
    xmlschema = pytest.importorskip("xmlschema")
    from markdown_it import MarkdownIt

    out = tmp_path / "cmp"
    r = run_cli(
        "compare", str(good), str(untrained), str(data["test"]), *EVALS,
        "--non-inferior", "clean.accuracy=2pts", "--non-inferior", "inv:typo.accuracy=50pts", "-o", str(out),
    )  # fmt: skip
    assert r.returncode == 1, r.stderr[-2000:]  # the untrained NEW is far worse on clean accuracy
    result = json.loads((out / "compare.json").read_text())
    gates = {g["metric"]: g for g in result["gates"]}
    assert gates["clean.accuracy"]["verdict"] == "fail" and gates["inv:typo.accuracy"]["verdict"] != "fail"
    assert result["models_fixed"] and result["data"]["test_size"] == len(pd.read_csv(data["test"]))
    for m in result["metrics"]:  # every metric with its direction, and an interval where it is a mean per example
        assert m["higher_is_better"] in (True, False)
        if m["diff_method"] == "examples":
            assert m["diff_ci_low"] <= m["diff_mean"] <= m["diff_ci_high"], m
        else:  # macro-F1 and the like of two given models: said to have none, never a made-up one
            assert m["diff_method"] == "none" and m["diff_ci_low"] is None, m
    assert {m["key"] for m in result["metrics"] if m["diff_method"] == "examples"} >= {"clean.accuracy"}
    directed = {m["key"] for m in result["metrics"] if m["higher_is_better"] is not None}
    assert set(_ci_gates()) <= directed, sorted(directed)  # docs/ci.md gates metrics that exist, with a direction
    assert {"perturbation", "capability", "class", "length"} <= set(result["breakdowns"])
    assert len(result["breakdowns"]["class"]) >= 2 and result["examples"]
    assert any(e["original"] and e["original"] != e["text"] for e in result["examples"])  # perturbed with original
    md = (out / "compare.md").read_text()
    tokens = MarkdownIt("commonmark").enable("table").parse(md)
    assert len(md.splitlines()) <= 60 and sum(t.type == "table_open" for t in tokens) == 1
    assert any(t.type == "heading_open" for t in tokens) and "FAIL" in md
    junit = (out / "junit.xml").read_text()
    assert junit.count("<testcase") == 2 and junit.count("<failure") == 1
    if not XSD.is_file():
        pytest.skip(f"{XSD} absent: `make junit-schema` extracts Jenkins' junit-10.xsd from pytest's sdist")
    xmlschema.XMLSchema(str(XSD)).validate(str(out / "junit.xml"))


def test_compare_run_directories_and_refuse_different_data(tmp_path, data, good):
    out = tmp_path / "a"
    r = run_cli("compare", str(good), str(good), str(data["test"]), *EVALS, "-o", str(out))
    assert r.returncode == 0, r.stderr[-2000:]
    scan = out / "scan"  # conditions base and new, both the same model: no detectable change anywhere
    r = run_cli("compare", str(scan), str(scan), str(data["test"]), "--base-condition", "base",
                "--new-condition", "new", "--non-inferior", "clean.accuracy=5pts",
                "-o", str(tmp_path / "b"))  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    result = json.loads((tmp_path / "b" / "compare.json").read_text())
    assert all(m["diff_mean"] == 0 and m.get("verdict") in (None, "no_change") for m in result["metrics"])
    assert result["gates"][0]["verdict"] in ("pass", "inconclusive")
    bad = tmp_path / "c"
    r = run_cli("compare", str(scan), str(scan), str(data["other"]), "-o", str(bad))
    assert r.returncode == 2 and "different data" in r.stderr and not bad.exists(), r.stderr[-800:]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--non-inferior", "clean.f1=1pts"], "was not computed by both sides"),
        (["--non-inferior", "clean.accuracy=-1pts"], "positive number"),
        (["--non-inferior", "clean.accuracy=0.01"], "in points"),
        (["--non-inferior", "clean.accuracy"], "METRIC=MARGIN"),
    ],
)
def test_compare_bad_gates_are_one_line_and_write_nothing(tmp_path, capsys, data, good, extra, message):
    out = tmp_path / "out"
    code, err = cli_in_process(
        capsys, "compare", str(good), str(good), str(data["test"]), *EVALS, *extra, "-o", str(out)
    )
    assert code == 2 and message in err, err[-800:]
    assert len(err.strip().splitlines()) == 1 and not out.exists()


def test_compare_refuses_models_with_different_label_sets(tmp_path, capsys, data, good, tiny_model_dir):
    from textrobust.models import TextClassifier

    three = TextClassifier(tiny_model_dir, labels=["neg", "pos", "meh"], max_length=32, runtime=CPU)
    three.model  # noqa: B018
    three.fitted = True
    other = three.save(tmp_path / "three")
    out = tmp_path / "out"
    code, err = cli_in_process(capsys, "compare", str(good), str(other), str(data["test"]), *EVALS, "-o", str(out))
    assert code == 2 and "meh" in err and not out.exists(), err[-800:]
    assert len(err.strip().splitlines()) == 1


def _ci_compare_args() -> list[str]:
    """The arguments of ``textrobust compare`` in docs/ci.md's GitHub Actions workflow."""
    import shlex

    import yaml

    text = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
    workflow = yaml.safe_load(text.split("```yaml", 1)[1].split("```", 1)[0])
    runs = [s["run"] for job in workflow["jobs"].values() for s in job["steps"] if "compare" in s.get("run", "")]
    assert len(runs) == 1, runs
    args = shlex.split(runs[0].replace("\\\n", " "))
    assert args[:2] == ["textrobust", "compare"], args
    return args[2:]


def _ci_gates() -> dict[str, str]:
    args = _ci_compare_args()
    return dict(args[i + 1].split("=", 1) for i, a in enumerate(args) if a == "--non-inferior")


def test_the_ci_workflow_in_the_docs_parses_and_its_compare_command_is_valid():
    """docs/ci.md's workflow is YAML with one compare step whose options the command accepts, whose evaluations
    parse and need no resources, and whose margins carry the unit of a share (the metric names are checked
    against a real compare in the end-to-end test above)."""
    import typer

    from textrobust.cli import app
    from textrobust.cli.scan import parse_eval

    args = _ci_compare_args()
    command = typer.main.get_command(app).commands["compare"]  # type: ignore[attr-defined]
    ctx = command.make_context("compare", list(args))  # raises on an unknown option or a missing argument
    assert ctx.params["non_inferior"] and ctx.params["evals"], ctx.params
    for entry in ctx.params["evals"]:
        ev = parse_eval(entry)
        assert ev["kind"] in ("clean", "inv", "mft", "dir"), ev  # nothing that needs a data folder or a download
        assert "synonym" not in ev.get("suites", []), ev  # the counter-fitted neighbours live in shared/data
    gates = _ci_gates()
    assert "clean.accuracy" in gates
    for key, margin in gates.items():
        assert parse_margin(margin, "share", key) > 0
