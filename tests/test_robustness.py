"""The robustness harness end to end with a tiny fixture model: table shape, hand-checked values, statistics,
resumption, fingerprint invalidation, spec errors and --fail-under."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from conftest import tiny_corpus
from textrobust.errors import ConfigError
from textrobust.robustness import (
    Runner, apply_overrides, check_fail_under, load_experiment, parse_experiment, summarise, t_interval,
)
from textrobust.robustness.suites import contraction, punctuation


@pytest.fixture
def spec(tmp_path, tiny_model_dir):
    rows = tiny_corpus()
    pd.DataFrame({"text": [t for t, _ in rows], "label": ["pos" if y else "neg" for _, y in rows]}).to_csv(
        tmp_path / "data.csv", index=False)
    return {
        "name": "tiny",
        "data": {"train": {"path": str(tmp_path / "data.csv")}, "test_split": 0.25, "train_size": 120},
        "model": {"name": str(tiny_model_dir), "max_length": 32, "device": "cpu",
                  "train": {"epochs": 2, "lr": 3e-3, "batch_size": 16}},
        "conditions": {"baseline": {}, "char": {"augment": {"ops": ["char:kind=keyboard,p=0.3"], "n": 1}}},
        "seeds": [0, 1],
        "evaluations": {"clean": True, "suites": ["case", "punctuation", "typo"],
                        "attack": {"recipe": "deepwordbug", "n": 8}},
        "output": str(tmp_path / "run"),
    }


def test_end_to_end_table_values_and_resume(spec, tmp_path, monkeypatch):
    exp = parse_experiment(spec)
    runner = Runner(exp, progress=False)
    table = runner.run()
    run = tmp_path / "run"
    for f in ("results.csv", "results.parquet", "summary.json", "config.json", "config.yaml", "environment.json"):
        assert (run / f).exists(), f
    assert set(table.condition) == {"baseline", "char"} and set(table.seed) == {0, 1}
    evs = set(table.evaluation)
    assert evs == {"train", "clean", "inv:case", "inv:punctuation", "inv:typo", "attack:deepwordbug"}
    # Every unit reports the same metrics.
    per_unit = table.groupby(["condition", "seed"]).size()
    assert per_unit.nunique() == 1
    # Augmented training set = train + one variant per row (keyboard noise applies to every row here).
    sizes = table[(table.metric == "train_size")].set_index(["condition", "seed"]).value
    assert sizes[("baseline", 0)] == 120 and 120 < sizes[("char", 0)] <= 240

    # Clean accuracy and invariance match a hand computation from the per-example records.
    unit = run / "units" / "baseline" / "seed0"
    clean = [json.loads(x) for x in (unit / "clean.jsonl").read_text().splitlines()]
    acc = sum(r["pred"] == r["label"] for r in clean) / len(clean)
    got = table.query("condition == 'baseline' and seed == 0 and evaluation == 'clean' and metric == 'accuracy'")
    assert got.value.item() == pytest.approx(acc)
    inv = [json.loads(x) for x in (unit / "inv.jsonl").read_text().splitlines() if '"punctuation"' in x]
    rate = sum(r["invariant"] for r in inv) / len(inv)
    got = table.query("condition == 'baseline' and seed == 0 and evaluation == 'inv:punctuation' and "
                      "metric == 'invariance'")
    assert got.value.item() == pytest.approx(rate)
    attack = [json.loads(x) for x in (unit / "attack.jsonl").read_text().splitlines()]
    assert len(attack) == 8 and {r["status"] for r in attack} <= {"succeeded", "failed", "skipped",
                                                                   "budget_exhausted"}

    # summary.json: mean and t interval over the two seeds, paired difference to baseline.
    summary = json.loads((run / "summary.json").read_text())
    row = next(r for r in summary["rows"] if r["condition"] == "char" and r["evaluation"] == "clean"
               and r["metric"] == "accuracy")
    vals = table.query("condition == 'char' and evaluation == 'clean' and metric == 'accuracy'").sort_values("seed")
    base = table.query("condition == 'baseline' and evaluation == 'clean' and metric == 'accuracy'").sort_values("seed")
    assert row["mean"] == pytest.approx(vals.value.mean())
    diffs = vals.value.to_numpy() - base.value.to_numpy()
    assert row["diff_mean"] == pytest.approx(diffs.mean())
    if diffs[0] != diffs[1]:
        half = 12.706 * abs(diffs[0] - diffs[1]) / math.sqrt(2) / math.sqrt(2)  # t(0.975, 1) * sd / sqrt(n)
        assert row["diff_ci_high"] - row["diff_mean"] == pytest.approx(half, rel=1e-3)

    # The report reads the per-unit records the runner wrote (examples of attacks, INV failures, augmented rows).
    from textrobust.reports import build_report

    html = build_report(run)
    examples = json.loads(html.with_suffix(".json").read_text())["examples"]
    assert examples["augmented"]["total"] == 2 * min(50, 120)
    succeeded = sum(1 for d in run.glob("units/*/seed*/attack.jsonl") for line in d.read_text().splitlines()
                    if json.loads(line)["status"] == "succeeded")
    assert examples["attacks"]["total"] == succeeded
    assert examples["inv_failures"]["total"] == sum(
        1 for d in run.glob("units/*/seed*/inv.jsonl") for line in d.read_text().splitlines()
        if not json.loads(line)["invariant"])

    # Resume: nothing reruns and the table is identical.
    def boom(*a, **k):
        raise AssertionError("a finished unit ran again")

    monkeypatch.setattr(Runner, "_run_unit", boom)
    again = Runner(parse_experiment(spec), progress=False).run()
    pd.testing.assert_frame_equal(again.reset_index(drop=True), table.reset_index(drop=True))


def test_fingerprint_invalidation_reruns_only_changed_units(spec, monkeypatch):
    Runner(parse_experiment(spec), progress=False).plan()  # planning trains nothing
    ran = []
    monkeypatch.setattr(Runner, "_run_unit", lambda self, u, data, phase: ran.append(u.key))
    monkeypatch.setattr(Runner, "aggregate", lambda self, units: None)
    monkeypatch.setattr(Runner, "_write_environment", lambda self, started: None)
    runner = Runner(parse_experiment(spec), progress=False)
    runner.run()
    assert sorted(ran) == ["baseline/seed0", "baseline/seed1", "char/seed0", "char/seed1"]
    # Mark all done, then change only the char condition.
    from textrobust.robustness.runner import _write_json, load_data, unit_fingerprints

    exp = parse_experiment(spec)
    for u in unit_fingerprints(exp, load_data(exp)):
        _write_json(runner._unit_dir(u) / "done.json", {"fingerprint": u.fingerprint})
    ran.clear()
    spec["conditions"]["char"]["augment"]["n"] = 2
    Runner(parse_experiment(spec), progress=False).run()
    assert sorted(ran) == ["char/seed0", "char/seed1"]
    ran.clear()
    spec["model"]["train"]["epochs"] = 3  # a shared setting: everything reruns
    Runner(parse_experiment(spec), progress=False).run()
    assert len(ran) == 4


@pytest.mark.parametrize(
    "change,pattern",
    [
        (lambda s: s["model"].update(colour="red"), r"model\.colour: unknown key"),
        (lambda s: s["conditions"]["char"]["augment"].update(n=0), r"conditions\.char\.augment\.n"),
        (lambda s: s.update(seeds=[1, 1]), "seeds must be distinct"),
        (lambda s: s.update(baseline="none"), "baseline condition 'none'"),
        (lambda s: s["data"].pop("test_split"), "exactly one of test"),
        (lambda s: s["evaluations"].update(suites=["case", "case"]), "duplicate suite names"),
        (lambda s: s["conditions"]["char"].update(adversarial={"mode": "sometimes"}),
         r"conditions\.char\.adversarial\.mode"),
    ],
)
def test_spec_errors_name_the_key(spec, change, pattern):
    change(spec)
    with pytest.raises(ConfigError, match=pattern):
        parse_experiment(spec)


def test_unknown_suite_and_recipe(spec):
    spec["evaluations"]["suites"] = ["nonsense"]
    with pytest.raises(ConfigError, match="unknown suite 'nonsense'"):
        Runner(parse_experiment(spec), progress=False).suites()
    spec["evaluations"]["suites"] = []
    spec["evaluations"]["attack"]["recipe"] = "nope"
    with pytest.raises(ConfigError, match="unknown attack recipe 'nope'"):
        Runner(parse_experiment(spec), progress=False).run()


def test_attack_options_reach_the_recipe_and_bad_ones_fail_before_training(spec, tmp_path):
    spec.update(conditions={"baseline": {}}, seeds=[0])
    spec["evaluations"].update(suites=[], attack={"recipe": "deepwordbug", "n": 8,
                                                  "options": {"max_edit_distance": 0}})
    Runner(parse_experiment(spec), progress=False).run()
    attack = [json.loads(x) for x in (tmp_path / "run/units/baseline/seed0/attack.jsonl").read_text().splitlines()]
    # No character edit fits in an edit distance of 0: every attacked example fails.
    assert {r["status"] for r in attack} <= {"failed", "skipped"} and any(r["status"] == "failed" for r in attack)
    for options, pattern in (({"max_candidates": 3}, r"takes no parameter\(s\) \['max_candidates'\]"),
                             ({"neighbours": "x.json"}, "resources:")):
        spec["output"] = str(tmp_path / "run2")
        spec["evaluations"]["attack"] = {"recipe": "textfooler" if "neighbours" in options else "deepwordbug",
                                         "options": options}
        runner = Runner(parse_experiment(spec), progress=False)
        with pytest.raises(ConfigError, match=pattern):
            runner.plan()
        with pytest.raises(ConfigError, match=pattern):
            runner.run()
        assert not (tmp_path / "run2" / "units").exists()  # nothing trained


def test_yaml_loading_and_overrides(tmp_path, spec):
    import yaml

    p = tmp_path / "exp.yaml"
    p.write_text(yaml.safe_dump(spec))
    exp = load_experiment(p, ["model.max_length=16", "seeds=[3]"])
    assert exp.model.max_length == 16 and exp.seeds == [3]
    with pytest.raises(ConfigError, match="key.path=value"):
        load_experiment(p, ["justakey"])
    (tmp_path / "bad.yaml").write_text("a: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_experiment(tmp_path / "bad.yaml")
    with pytest.raises(ConfigError, match="not found"):
        load_experiment(tmp_path / "missing.yaml")
    assert apply_overrides({}, ["a.b=1"]) == {"a": {"b": 1}}


def test_dry_run_plan(spec):
    plan = Runner(parse_experiment(spec), progress=False).plan()
    assert plan["units_total"] == 4 and plan["train_size"] == 120 and plan["units_done"] == 0
    assert {u["unit"] for u in plan["units"]} == {"baseline/seed0", "baseline/seed1", "char/seed0", "char/seed1"}


def test_statistics_by_hand():
    m, lo, hi = t_interval([1.0, 2.0, 3.0])
    assert m == 2.0 and hi - m == pytest.approx(4.302653 * 1.0 / math.sqrt(3), rel=1e-5)
    assert math.isnan(t_interval([1.0])[1])
    t = pd.DataFrame({"condition": ["baseline"] * 3 + ["x"] * 3, "seed": [0, 1, 2] * 2,
                      "evaluation": ["clean"] * 6, "metric": ["accuracy"] * 6,
                      "value": [0.80, 0.82, 0.84, 0.81, 0.83, 0.85]})
    x = next(r for r in summarise(t) if r["condition"] == "x")
    assert x["diff_mean"] == pytest.approx(0.01) and x["diff_includes_zero"] is False  # constant +0.01: CI width 0
    t.loc[5, "value"] = 0.80
    x = next(r for r in summarise(t) if r["condition"] == "x")
    assert x["diff_includes_zero"] is True


def test_fail_under():
    t = pd.DataFrame({"condition": ["a", "b"], "seed": [0, 0], "evaluation": ["clean"] * 2,
                      "metric": ["accuracy"] * 2, "value": [0.9, 0.5]})
    assert check_fail_under(t, ["clean.accuracy=0.6"]) == ["b: clean.accuracy = 0.5000 < 0.6"]
    with pytest.raises(ConfigError, match="EVALUATION.METRIC=VALUE"):
        check_fail_under(t, ["accuracy"])
    with pytest.raises(ConfigError, match="no such evaluation"):
        check_fail_under(t, ["attack.accuracy=0.1"])


def test_rule_perturbations():
    assert contraction("i do not like it") == "i don't like it"
    assert contraction("ca n't stop watching") == "can not stop watching"
    assert contraction("a movie") is None
    assert punctuation("fine!!") == "fine" and punctuation("fine") == "fine."



def test_generate_condition_adds_lambada_rows_and_caches_them(spec, tmp_path, gpt_dir):
    spec = {**spec, "seeds": [0], "evaluations": {"clean": True}}
    spec["conditions"] = {"baseline": {}, "lambada": {"generate": {
        "method": "lambada", "model": gpt_dir, "n_per_label": 4, "select": True,
        "options": {"epochs": 1, "max_new_tokens": 8, "oversample": 3.0}}}}
    runner = Runner(parse_experiment(spec), progress=False)
    plan = runner.plan()["units"]
    assert plan[1]["train_examples"] == plan[0]["train_examples"] + 8
    table = runner.run()
    sizes = table[table.metric == "train_size"].set_index("condition").value
    added = int(sizes["lambada"] - sizes["baseline"])
    assert 0 < added <= 8
    path = tmp_path / "run" / "units" / "lambada" / "seed0" / "generated_sample.jsonl"
    sample = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(sample) == added and {r["label"] for r in sample} <= {"neg", "pos"}
    assert all(r["method"] == "lambada" and r["text"].strip() for r in sample)
    from textrobust.reports import build_report

    report = json.loads(build_report(tmp_path / "run").with_suffix(".json").read_text())
    assert sample[0]["text"][:20] in json.dumps(report)  # generated rows are shown with the augmented examples
    again = Runner(parse_experiment(spec), progress=False).run(resume=False)  # generated rows come from the cache
    assert again[again.metric == "train_size"].set_index("condition").value["lambada"] == sizes["lambada"]
    bad = {**spec, "output": str(tmp_path / "bad")}
    bad["conditions"] = {"baseline": {"generate": {"method": "lambada", "model": gpt_dir, "n_per_label": 2,
                                                   "select": False, "options": {"nope": 1}}}}
    with pytest.raises(ConfigError, match="conditions.baseline.generate.options"):
        Runner(parse_experiment(bad), progress=False).run()
