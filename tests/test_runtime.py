"""One Runtime decides how every model of a run runs: built once from the spec (or the CLI) and handed to each
constructor. Every model the harness, ``attack``, ``augment`` and ``scan`` can build is built here through the
public entry points from one spec with ``device: cpu``, a non-default precision and a token budget, and each must
have received that runtime."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest
from conftest import CPU, build_tiny_gpt, save_tiny_model, tiny_corpus

from textrobust.errors import ConfigError
from textrobust.models import Runtime

#: Non-default precision and token budget; the classifier's max_length (48) is the run's truncation.
RT = Runtime(device="cpu", precision="bf16", max_tokens=2048, max_length=48)


@pytest.fixture(scope="module")
def models(tmp_path_factory, tiny_tokenizer_dir, tiny_bert_config, tiny_model_dir, tiny_marian_dirs):
    from transformers import BertForMaskedLM

    from textrobust.data import LabeledData
    from textrobust.models import TextClassifier, TrainConfig

    root = tmp_path_factory.mktemp("runtime")
    mlm = save_tiny_model(BertForMaskedLM, tiny_bert_config, tiny_tokenizer_dir, root / "mlm")
    gpt = build_tiny_gpt(root / "gpt", str(tiny_tokenizer_dir), n_embd=16)
    rows = tiny_corpus()
    clf = TextClassifier(
        tiny_model_dir, labels=["neg", "pos"], max_length=32, runtime=CPU, train_config=TrainConfig(epochs=1, lr=3e-3)
    )
    clf.fit(LabeledData([t for t, _ in rows], [y for _, y in rows], ["neg", "pos"]), progress=False)
    clf.save(root / "clf")
    (root / "neighbours.json").write_text(json.dumps({"good": ["fine"], "bad": ["awful"]}))
    return {"mlm": str(mlm), "gpt": gpt, "marian": tiny_marian_dirs, "clf": str(root / "clf"), "root": root}


@pytest.fixture
def built(monkeypatch):
    """Every model object constructed meanwhile, with the runtime it received."""
    from textrobust.models import causal_lm, classifier, encoders, remote, translation

    seen: list[tuple[str, Runtime]] = []
    for module, name in (
        (classifier, "TextClassifier"),
        (encoders, "SentenceEncoder"),
        (encoders, "MaskedLM"),
        (translation, "Seq2SeqTranslator"),
        (translation, "BergamotTranslator"),
        (remote, "RemoteModel"),
    ):
        cls = getattr(module, name)
        original = cls.__init__

        def spy(original, name):
            @functools.wraps(original)  # keeps the signature: TextClassifier reads its parameters from it
            def init(self, *args, **kwargs):
                original(self, *args, **kwargs)
                seen.append((name, self.runtime))

            return init

        monkeypatch.setattr(cls, "__init__", spy(original, name))
    load = causal_lm.load_causal_lm

    def load_lm(name, runtime=None, **kw):
        seen.append(("causal LM", runtime))
        return load(name, runtime, **kw)

    for module in ("textrobust.augment.model_gen", "textrobust.augment.paraphrase", "textrobust.augment.lambada"):
        monkeypatch.setattr(f"{module}.load_causal_lm", load_lm)
    return seen


def _spec(models: dict, tiny_model_dir: Path) -> dict:
    fwd, bwd = models["marian"]
    root = models["root"]
    pd = pytest.importorskip("pandas")
    rows = tiny_corpus()[::6]
    labels = [["neg", "pos"][y] for _, y in rows]
    pd.DataFrame({"text": [t for t, _ in rows], "label": labels}).to_csv(root / "data.csv", index=False)
    ops = [
        f"contextual:model={models['mlm']},p=0.3",
        f"paraphrase:model={models['gpt']},max_new_tokens=4",
        f"generate:model={models['gpt']},max_new_tokens=4",
        f"backtranslate:forward={fwd},backward={bwd},max_new_tokens=4",
    ]
    return {
        "data": {"train": {"path": str(root / "data.csv")}, "test_split": 0.25},
        "model": {
            "name": str(tiny_model_dir),
            "device": "cpu",
            "precision": "bf16",
            "max_tokens": 2048,
            "max_length": 48,
        },
        "conditions": {
            "baseline": {},
            "aug": {"augment": {"ops": {"each": ops}, "filters": [{"similarity": {"model": str(tiny_model_dir)}}]}},
        },
        "evaluations": [
            {"kind": "attack", "recipe": "textfooler", "n": 2},
            {"kind": "attack", "recipe": "bae", "n": 2},
        ],
        "resources": {
            "encoder": str(tiny_model_dir),
            "neighbours": str(root / "neighbours.json"),
            "mlm": models["mlm"],
        },
        "output": str(root / "run"),
    }


def test_every_model_a_run_builds_receives_the_runs_runtime(models, tiny_model_dir, built):
    from textrobust.adversarial import AttackSetup
    from textrobust.models import load_model
    from textrobust.robustness import parse_experiment
    from textrobust.robustness.trainset import augment_pipeline, new_model
    from textrobust.robustness.unit import Workspace
    from textrobust.serving import ServeConfig, serve

    exp = parse_experiment(_spec(models, tiny_model_dir))
    ws = Workspace(exp, models["root"] / "run")
    assert ws.runtime == RT
    # the harness: the classifier it trains, the attack resources, the augmentation operators and filter
    new_model(exp, ws.data.label_names, 0, ws.runtime)
    resources = ws.resources()
    assert {k: v.runtime for k, v in resources.items() if hasattr(v, "runtime")} == {"encoder": RT, "mlm": RT}
    ops, filters = augment_pipeline(exp.conditions["aug"].augment, "aug", ws.runtime)
    assert [op.runtime for op in ops] == [RT] * 4 and filters[0].runtime == RT
    for op in ops:  # each operator builds its models when it runs
        op(["the film was good and the cast was great"], seed=0)
    filters[0](["the film was good"], [["the film was fine"]])
    # attack: the same set-up locally and on Ray
    AttackSetup(models["clf"], "textfooler", resources=exp.resources, runtime=ws.runtime).build()
    # scan: a saved model and one behind HTTP
    server = serve(load_model(models["clf"], runtime=CPU), ServeConfig(port=0), background=True)
    try:
        url = server.url
        scan = parse_experiment(
            {
                **{k: v for k, v in _spec(models, tiny_model_dir).items() if k not in ("conditions", "resources")},
                "data": {"test": {"path": str(models["root"] / "data.csv")}},
                "conditions": {"local": {"model": models["clf"]}, "api": {"model": url}},
                "baseline": "local",
                "seeds": [0],
                "evaluations": [{"kind": "clean"}],
            }
        )
        scan_ws = Workspace(scan, models["root"] / "scan")
        scan_ws.fixed_model("local"), scan_ws.fixed_model("api")
    finally:
        server.shutdown()
    kinds = {name for name, _ in built}
    assert kinds >= {"TextClassifier", "SentenceEncoder", "MaskedLM", "Seq2SeqTranslator", "RemoteModel", "causal LM"}
    wrong = [(name, rt) for name, rt in built if rt != RT and rt != CPU]
    assert not wrong, wrong
    # CPU is only the test server's own model; everything the run built got the run's runtime
    assert [name for name, rt in built if rt == CPU] == ["TextClassifier"]


@pytest.mark.parametrize(
    "setting, message",
    [
        ({"device": "gpu"}, r"model: device 'gpu': use auto, cpu, cuda, cuda:N or mps"),
        ({"precision": "fp64"}, r"model: precision 'fp64': use auto, fp32, bf16, fp16 or int8"),
        ({"device": "cuda", "precision": "int8"}, r"model: precision int8 is a CPU mode"),
        ({"max_tokens": 100}, r"model: max_tokens 100 is below one row of max_length 128"),
    ],
)
def test_bad_runtime_settings_in_a_spec_name_the_setting(setting, message):
    from textrobust.robustness import parse_experiment

    spec = {"data": {"train": {"path": "x.csv"}, "test_split": 0.2}, "model": setting}
    with pytest.raises(ConfigError, match=message):
        parse_experiment(spec)


def test_a_view_with_another_runtime_shares_the_weights_and_keeps_the_device(tiny_model_dir):
    from textrobust.models import TextClassifier
    from textrobust.models.encoders import SentenceEncoder

    clf = TextClassifier(tiny_model_dir, labels=["neg", "pos"], runtime=CPU)
    view = clf.with_runtime(CPU.replace(precision="int8"))
    assert view.model is clf.model and view.runtime.int8 and not clf.runtime.int8
    enc = SentenceEncoder(tiny_model_dir, runtime=CPU)
    assert enc.with_runtime(RT).model is enc.model  # loaded once per path and device
    assert (
        RT.for_training_data() == RT and Runtime(device="cpu", precision="fp32").for_training_data().precision == "fp32"
    )
