"""The robustness harness end to end with a tiny fixture model: table shape, hand-checked values, statistics,
resumption, fingerprint invalidation, spec errors and --fail-under."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from conftest import tiny_experiment

from textrobust.errors import ConfigError
from textrobust.layout import UnitLayout
from textrobust.robustness import (
    Runner,
    apply_overrides,
    check_fail_under,
    load_experiment,
    parse_experiment,
)
from textrobust.robustness.suites import contraction, punctuation
from textrobust.robustness.unit import Workspace
from textrobust.robustness.work import UnitWork
from textrobust.stats import summarise


@pytest.fixture
def spec(tmp_path, tiny_model_dir):
    return tiny_experiment(tmp_path, tiny_model_dir, ["case", "punctuation", "typo"])


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
    records = [json.loads(x) for x in (unit / "examples.jsonl").read_text().splitlines()]
    clean = [r for r in records if r["evaluation"] == "clean"]
    acc = sum(r["pred"] == r["label"] for r in clean) / len(clean)
    got = table.query("condition == 'baseline' and seed == 0 and evaluation == 'clean' and metric == 'accuracy'")
    assert len(clean) == 120 and got.value.item() == pytest.approx(acc)  # every test example
    inv = [r for r in records if r["evaluation"] == "inv:punctuation"]
    rate = sum(not r["model_failed"] for r in inv) / len(inv)
    got = table.query(
        "condition == 'baseline' and seed == 0 and evaluation == 'inv:punctuation' and metric == 'invariance'"
    )
    assert got.value.item() == pytest.approx(rate)
    attack = [r for r in records if r["evaluation"] == "attack:deepwordbug"]
    assert len(attack) == 8 and {r["info"]["status"] for r in attack} <= {
        "succeeded",
        "failed",
        "skipped",
        "budget_exhausted",
    }
    # Per-example outcomes: every metric that is a mean over examples is the mean of its stored outcomes.
    outcomes = pd.read_parquet(unit / "outcomes.parquet")
    for (ev, metric), group in outcomes.groupby(["evaluation", "metric"]):
        got = table.query("condition == 'baseline' and seed == 0 and evaluation == @ev and metric == @metric")
        assert got.value.item() == pytest.approx(group.value.mean(), nan_ok=True), (ev, metric)
    assert set(outcomes.evaluation) >= {"clean", "inv:typo", "attack:deepwordbug"}

    # summary.json: with 2 seeds the difference is a paired t over test examples of the seed-averaged difference
    # (seeds fixed: seed variance is not estimable from 2), checked here by hand from the stored outcomes.
    summary = json.loads((run / "summary.json").read_text())
    row = next(
        r
        for r in summary["rows"]
        if r["condition"] == "char" and r["evaluation"] == "clean" and r["metric"] == "accuracy"
    )
    vals = table.query("condition == 'char' and evaluation == 'clean' and metric == 'accuracy'").sort_values("seed")
    base = table.query("condition == 'baseline' and evaluation == 'clean' and metric == 'accuracy'").sort_values("seed")
    assert row["mean"] == pytest.approx(vals.value.mean())
    assert row["diff_mean"] == pytest.approx((vals.value.to_numpy() - base.value.to_numpy()).mean())
    out = pd.read_parquet(run / "outcomes.parquet").query("evaluation == 'clean' and metric == 'accuracy'")
    wide = out.pivot_table(index=["item"], columns=["condition", "seed"], values="value")
    d = ((wide["char"] - wide["baseline"]).mean(axis=1)).to_numpy()
    half = 1.9801 * d.std(ddof=1) / math.sqrt(len(d))  # t(0.975, 119)
    assert row["diff_method"] == "examples" and row["diff_ci_high"] - row["diff_mean"] == pytest.approx(half, rel=1e-3)
    assert row["verdict"] == "too_few_seeds" and row["in_family"] is True
    assert 0.0 <= row["ci_low"] <= row["ci_high"] <= 1.0
    assert {r["seed"] for r in row["by_seed"]} == {0, 1} and all("p" in r for r in row["by_seed"])  # McNemar
    # A pilot: minimum detectable effects for a planned 5-seed run, from this run's variance components.
    from textrobust.stats.power import pilot_power

    power = {(r["evaluation"], r["metric"]): r for r in pilot_power(run, 5)}
    acc = power[("clean", "accuracy")]
    assert acc["pilot_seeds"] == 2 and acc["examples"] == 120 and acc["seeds_random"] is True
    assert 0 < acc["mde_pilot"] < 1 and 0 < acc["mde_planned"] < 1
    # 2 pilot seeds know the seed variance from 1 df: the planned MDE comes with the range that leaves open (none
    # when the two seeds' differences agreed exactly: then a chi-square interval of 0 is 0)
    low, high = acc["mde_planned_low"], acc["mde_planned_high"]
    assert (low is None and acc["sd_seed"] == 0) or low <= acc["mde_planned"] + 1e-9 < high

    # The report reads the per-unit records the runner wrote (examples of attacks, INV failures, augmented rows).
    from textrobust.reports import build_report

    html = build_report(run)
    examples = json.loads(html.with_suffix(".json").read_text())["examples"]
    assert examples["augmented"]["total"] == 2 * min(50, 120)
    all_records = [
        json.loads(line) for d in run.glob("units/*/seed*/examples.jsonl") for line in d.read_text().splitlines()
    ]
    failures = {b["evaluation"]: b["total"] for b in examples["failures"]}
    for ev in ("attack:deepwordbug", "inv:typo", "clean"):  # an evaluation without failures has no table
        assert failures.get(ev, 0) == sum(r["model_failed"] for r in all_records if r["evaluation"] == ev)
    assert failures["clean"] > 0

    # Resume: nothing reruns and the table is identical.
    def boom(*a, **k):
        raise AssertionError("a finished unit ran again")

    monkeypatch.setattr(UnitWork, "run", boom)
    again = Runner(parse_experiment(spec), progress=False).run()
    assert (run / "summary.json").exists()
    pd.testing.assert_frame_equal(again.reset_index(drop=True), table.reset_index(drop=True))


def test_fingerprint_invalidation_reruns_only_changed_units(spec, monkeypatch):
    Runner(parse_experiment(spec), progress=False).plan()  # planning trains nothing
    ran = []
    monkeypatch.setattr(UnitWork, "run", lambda self, ws, phase: ran.append(self.unit.key))
    monkeypatch.setattr("textrobust.robustness.runner.aggregate", lambda ws, units: None)
    monkeypatch.setattr(Runner, "_write_environment", lambda self, started: None)
    runner = Runner(parse_experiment(spec), progress=False)
    runner.run()
    assert sorted(ran) == ["baseline/seed0", "baseline/seed1", "char/seed0", "char/seed1"]
    # Mark all done, then change only the char condition.
    from textrobust.robustness.unit import write_json

    for u in runner.ws.units():
        write_json(runner.ws.unit_dir(u) / "done.json", {"fingerprint": u.fingerprint})
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
        (lambda s: s["evaluations"][1].update(suites=["case", "case"]), "duplicate suite names"),
        (lambda s: s["evaluations"].append({"kind": "nope"}), r"evaluations\.3: .*'nope'.*'clean'"),
        (lambda s: s["evaluations"][2].update(colour=1), r"evaluations\.2\.attack\.colour: unknown key"),
        (
            lambda s: s["evaluations"].append({"kind": "attack", "recipe": "deepwordbug"}),
            r"evaluation names \['attack:deepwordbug'\] appear twice",
        ),
        (lambda s: s.update(evaluations={"clean": True, "attacks": []}), r"evaluations: write evaluations as a list"),
        (
            lambda s: s["conditions"]["char"].update(adversarial={"mode": "sometimes"}),
            r"conditions\.char\.adversarial\.mode",
        ),
        # a bare list of several operators meant one_of in 0.1; a list now means each: say which
        (
            lambda s: s["conditions"]["char"]["augment"].update(ops=["char:kind=ocr", "char"]),
            r"conditions\.char\.augment\.ops: a bare list of several operators is ambiguous \(textrobust 0\.1 read "
            r"it as one_of\); write 'one_of: \[\.\.\.\]'",
        ),
        (lambda s: s["conditions"]["char"]["augment"].update(ops={"one_of": []}), r"takes a non-empty list"),
    ],
)
def test_spec_errors_name_the_key(spec, change, pattern):
    change(spec)
    with pytest.raises(ConfigError, match=pattern):
        parse_experiment(spec)


def test_unknown_suite_and_recipe(spec):
    spec["evaluations"][1]["suites"] = ["nonsense"]
    with pytest.raises(ConfigError, match="unknown suite 'nonsense'"):
        Runner(parse_experiment(spec), progress=False).plan()
    spec["evaluations"][1]["suites"] = ["case"]
    spec["evaluations"][2]["recipe"] = "nope"
    with pytest.raises(ConfigError, match="unknown attack recipe 'nope'"):
        Runner(parse_experiment(spec), progress=False).run()


def test_augment_ops_each_one_of_and_sequence(spec, tmp_path):
    """each: n variants from every operator (the rows 'textrobust augment' writes); one_of: n in all."""
    from textrobust.augment import augment_rows, parse_op
    from textrobust.robustness.trainset import augment_pipeline, augmented_rows

    exp = parse_experiment(spec)
    train = Workspace(exp, tmp_path / "ws").data.train
    got = {}
    for name, ops in (
        ("each", {"each": ["char:kind=ocr", "char:kind=keyboard"]}),
        ("one_of", {"one_of": ["char:kind=ocr", "char:kind=keyboard"]}),
        ("seq", {"sequence": ["char:kind=ocr", "char:kind=keyboard"]}),
        ("one", "char:kind=ocr"),
    ):
        aug = exp.conditions["char"].augment.model_copy(update={"ops": ops, "n": 2})
        got[name] = augmented_rows(aug, "char", train, 0, tmp_path / "cache", UnitLayout(tmp_path))
        assert [o.name for o in augment_pipeline(aug, "char")[0]] == (
            ["char", "char"] if name == "each" else [{"one_of": "one_of", "seq": "sequential", "one": "char"}[name]]
        )
    assert len(got["each"]) > len(got["one_of"]) and len(got["one_of"]) <= 2 * len(train)
    rows = augment_rows(train.texts, train.labels, [parse_op("char:kind=ocr"), parse_op("char")], n=2)
    assert got["each"].texts == [r[0] for r in rows]


def test_the_mapping_form_of_evaluations_is_refused_with_what_to_write(spec):
    spec["evaluations"] = {"clean": True, "suites": ["case"], "suite_seed": 3, "attack": {"recipe": "pwws", "n": 4}}
    with pytest.raises(ConfigError, match=r"evaluations: write evaluations as a list of entries with a kind"):
        parse_experiment(spec)


def test_attack_options_reach_the_recipe_and_bad_ones_fail_before_training(spec, tmp_path):
    spec.update(conditions={"baseline": {}}, seeds=[0])
    spec["evaluations"] = [{"kind": "attack", "recipe": "deepwordbug", "n": 8, "options": {"max_edit_distance": 0}}]
    Runner(parse_experiment(spec), progress=False).run()
    attack = [json.loads(x) for x in (tmp_path / "run/units/baseline/seed0/examples.jsonl").read_text().splitlines()]
    # No character edit fits in an edit distance of 0: every attacked example fails.
    status = {r["info"]["status"] for r in attack}
    assert status <= {"failed", "skipped"} and "failed" in status
    for options, pattern in (
        ({"max_candidates": 3}, r"takes no parameter\(s\) \['max_candidates'\]"),
        ({"neighbours": "x.json"}, "resources:"),
    ):
        spec["output"] = str(tmp_path / "run2")
        spec["evaluations"] = [
            {"kind": "attack", "options": options, "recipe": "textfooler" if "neighbours" in options else "deepwordbug"}
        ]
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
    exp = load_experiment(p, ["evaluations.2.n=3", "evaluations.1.suites=[case]"])
    assert exp.evaluations[2].n == 3 and exp.evaluations[1].suites == ["case"]
    with pytest.raises(ConfigError, match="'7' is not an index of a list of 3 entries"):
        load_experiment(p, ["evaluations.7.n=3"])
    with pytest.raises(ConfigError, match="'max_length' is not a mapping or a list"):
        load_experiment(p, ["model.max_length.x=3"])


def test_dry_run_plan(spec):
    plan = Runner(parse_experiment(spec), progress=False).plan()
    assert plan["units_total"] == 4 and plan["train_size"] == 120 and plan["units_done"] == 0
    assert {u["unit"] for u in plan["units"]} == {"baseline/seed0", "baseline/seed1", "char/seed0", "char/seed1"}


def test_statistics_by_hand():
    # No per-example outcomes: the seed-only view (a paired t over the 3 seeds).
    t = pd.DataFrame(
        {
            "condition": ["baseline"] * 3 + ["x"] * 3,
            "seed": [0, 1, 2] * 2,
            "evaluation": ["clean"] * 6,
            "metric": ["accuracy"] * 6,
            "value": [0.80, 0.82, 0.84, 0.81, 0.83, 0.85],
        }
    )
    meta = [
        {
            "evaluation": "clean",
            "metric": "accuracy",
            "range": [0, 1],
            "headline": True,
            "role": "clean",
            "higher_is_better": True,
        }
    ]
    x = next(r for r in summarise(t, metrics=meta) if r["condition"] == "x")
    assert x["diff_mean"] == pytest.approx(0.01) and x["diff_includes_zero"] is False  # constant +0.01: CI width 0
    assert x["diff_method"] == "seeds" and x["verdict"] == "better" and x["diff_p_adjusted"] == 0.0
    t.loc[5, "value"] = 0.80
    x = next(r for r in summarise(t, metrics=meta) if r["condition"] == "x")
    assert x["diff_includes_zero"] is True and x["verdict"] == "no_change"
    diffs = np.array([0.01, 0.01, -0.04])
    half = 4.302653 * diffs.std(ddof=1) / math.sqrt(3)
    assert (x["diff_ci_low"], x["diff_ci_high"]) == pytest.approx((diffs.mean() - half, diffs.mean() + half))


def test_fail_under():
    t = pd.DataFrame(
        {
            "condition": ["a", "b"],
            "seed": [0, 0],
            "evaluation": ["clean"] * 2,
            "metric": ["accuracy"] * 2,
            "value": [0.9, 0.5],
        }
    )
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
    spec = {**spec, "seeds": [0], "evaluations": [{"kind": "clean"}]}
    spec["conditions"] = {
        "baseline": {},
        "lambada": {
            "generate": {
                "method": "lambada",
                "model": gpt_dir,
                "n_per_label": 4,
                "select": True,
                "options": {"epochs": 1, "max_new_tokens": 8, "oversample": 3.0},
            }
        },
    }
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
    bad["conditions"] = {
        "baseline": {
            "generate": {
                "method": "lambada",
                "model": gpt_dir,
                "n_per_label": 2,
                "select": False,
                "options": {"nope": 1},
            }
        }
    }
    with pytest.raises(ConfigError, match="conditions.baseline.generate.options"):
        Runner(parse_experiment(bad), progress=False).run()


def test_a_failing_unit_is_isolated_recorded_and_rerun(spec, tmp_path, monkeypatch):
    """One unit raises: it is retried once, recorded in failed.json and summary.json while the other units finish;
    the next run redoes only that unit."""
    import textrobust.robustness.work as runner_mod

    spec.update(seeds=[0], evaluations=[{"kind": "clean"}])
    real = runner_mod.run_unit
    attempts = []

    def flaky(ws, u, phase):
        if u.condition == "char":
            attempts.append(u.key)
            raise RuntimeError("CUDA out of memory (simulated)")
        return real(ws, u, phase)

    monkeypatch.setattr(runner_mod, "run_unit", flaky)
    runner = Runner(parse_experiment(spec), progress=False)
    table = runner.run()
    assert attempts == ["char/seed0", "char/seed0"]  # retried once
    assert set(table.condition) == {"baseline"} and [f["unit"] for f in runner.failed] == ["char/seed0"]
    failed = json.loads((tmp_path / "run/units/char/seed0/failed.json").read_text())
    assert failed["error"] == "RuntimeError: CUDA out of memory (simulated)" and failed["attempts"] == 2
    summary = json.loads((tmp_path / "run/summary.json").read_text())
    assert summary["units"]["failed"][0]["unit"] == "char/seed0" and summary["units"]["done"] == 1
    from textrobust.reports import build_report

    assert "CUDA out of memory (simulated)" in build_report(tmp_path / "run").read_text()
    monkeypatch.setattr(runner_mod, "run_unit", real)
    ran = []
    monkeypatch.setattr(runner_mod, "run_unit", lambda ws, u, phase: (ran.append(u.key), real(ws, u, phase)))
    again = Runner(parse_experiment(spec), progress=False)
    again.run()
    assert ran == ["char/seed0"] and not again.failed
    assert not (tmp_path / "run/units/char/seed0/failed.json").exists()
    # Input errors are not isolated: they stop the run (every unit would hit them).
    monkeypatch.setattr(runner_mod, "run_unit", lambda ws, u, phase: (_ for _ in ()).throw(ConfigError("bad op")))
    with pytest.raises(ConfigError, match="bad op"):
        Runner(parse_experiment(spec), progress=False).run(resume=False)
