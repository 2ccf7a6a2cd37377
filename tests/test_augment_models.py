"""Model-backed operators (contextual masked LM, back-translation) with tiny random models built from configs.

Outputs are gibberish; the tests check the contract (shape, determinism across chunking, seeds, specs, edge
inputs) and the rules (never the original word, no subword fragments or special tokens).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import CPU, build_tiny_gpt

from textrobust.augment import Operator, operator_from_spec, parse_op, registered

SENTENCES = [
    "the film was good and the music was great",
    "a boring movie , really",
    "i thought the plot is fun",
    "the cast was lovely",
    "the ending was messy and weak",
]
EDGE = ["", "   ", "word " * 300, "great movie 😀 loved it", "这部电影非常好看 Фильм был хорошим"]


@pytest.fixture(scope="module")
def tiny_mlm_dir(tmp_path_factory, tiny_tokenizer_dir, tiny_bert_config) -> Path:
    from conftest import save_tiny_model
    from transformers import BertForMaskedLM

    return save_tiny_model(BertForMaskedLM, tiny_bert_config, tiny_tokenizer_dir, tmp_path_factory.mktemp("tiny_mlm"))


@pytest.fixture(scope="module")
def tiny_gpt_dir(tmp_path_factory, tiny_tokenizer_dir) -> str:
    return build_tiny_gpt(tmp_path_factory.mktemp("tiny_gpt"), tiny_tokenizer_dir, n_embd=16)


@pytest.fixture(params=["contextual_sub", "contextual_ins", "backtranslate", "generate", "paraphrase"])
def op(request, tiny_mlm_dir, tiny_marian_dirs, tiny_gpt_dir) -> Operator:
    fwd, bwd = tiny_marian_dirs
    return {
        "generate": lambda: parse_op(f"generate:model={tiny_gpt_dir},max_new_tokens=5,batch_size=4"),
        "paraphrase": lambda: parse_op(f"paraphrase:model={tiny_gpt_dir},max_new_tokens=5,batch_size=4"),
        "contextual_sub": lambda: parse_op(f"contextual:model={tiny_mlm_dir},p=0.3,batch_size=4"),
        "contextual_ins": lambda: parse_op(f"contextual:model={tiny_mlm_dir},action=insert,top_p=0.9"),
        "backtranslate": lambda: parse_op(f"backtranslate:forward={fwd},backward={bwd},max_new_tokens=6,batch_size=4"),
    }[request.param]()


def test_model_backed_operators_are_all_covered() -> None:
    covered = {"contextual", "backtranslate", "generate", "paraphrase"}
    model_backed = {name for name, cls in registered().items() if getattr(cls, "batched", False) is True}
    assert model_backed <= covered, f"add model-backed contract cases for {sorted(model_backed - covered)}"


def test_contract(op: Operator) -> None:
    whole = op(SENTENCES, seed=5, n=2)
    assert len(whole) == len(SENTENCES)
    for text, vs in zip(SENTENCES, whole, strict=True):
        assert len(vs) <= 2 and text not in vs and all(v.strip() for v in vs)
    assert sum(map(len, whole)) > 0
    chunked = op(SENTENCES[:3], seed=5, n=2) + op(SENTENCES[3:], seed=5, n=2, offset=3)
    assert chunked == whole
    assert op(SENTENCES, seed=6, n=2) != whole
    edge = op(EDGE, seed=0, lang="en")  # EDGE mixes scripts: told the language, rows are treated as English
    assert len(edge) == len(EDGE) and edge[0] == [] and edge[1] == []
    again = operator_from_spec(json.loads(json.dumps(op.spec())))
    assert again == op and parse_op(op.spec_str()) == op
    assert repr(op).startswith(type(op).__name__ + "(")


def test_contextual_never_proposes_original_fragments_or_specials(tiny_mlm_dir) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_mlm_dir)
    op = parse_op(f"contextual:model={tiny_mlm_dir},p=1.0,top_k=50")
    text = "the film was good"
    for vs in op([text] * 8, seed=1, n=3):
        for v in vs:
            assert "##" not in v and not any(s in v for s in tok.all_special_tokens)
            words = v.split()
            assert len(words) == 4
            assert all(w != o for w, o in zip(words, text.split(), strict=True) if o not in {"the", "was"})


def test_backtranslate_beam_is_deterministic(tiny_marian_dirs) -> None:
    fwd, bwd = tiny_marian_dirs
    op = parse_op(f"backtranslate:forward={fwd},backward={bwd},sampling=false,num_beams=2,max_new_tokens=6")
    assert op.deterministic
    out = op(SENTENCES[:2], seed=0, n=3)
    assert all(len(vs) <= 1 for vs in out)
    assert op(SENTENCES[:2], seed=9, n=3) == out


def test_bf16_on_cpu_is_opt_in(tiny_marian_dirs) -> None:
    import torch

    from textrobust.models.translation import _seq2seq

    fwd, bwd = tiny_marian_dirs
    spec = f"backtranslate:forward={fwd},backward={bwd},sampling=false,num_beams=2,max_new_tokens=6"
    out = parse_op(spec, runtime=CPU.replace(precision="bf16"))(SENTENCES[:3], seed=0)
    assert len(out) == 3 and all(isinstance(v, str) for vs in out for v in vs)
    assert next(_seq2seq(fwd, "cpu", "bf16")[0].parameters()).dtype == torch.bfloat16
    assert next(_seq2seq(fwd, "cpu", "auto")[0].parameters()).dtype == torch.float32


@pytest.mark.parametrize("op", ["backtranslate", "contextual:model=m", "generate:model=m", "paraphrase"])
@pytest.mark.parametrize("setting", ["dtype=bfloat16", "device=cuda"])
def test_device_and_dtype_are_run_settings_not_operator_parameters(op: str, setting: str) -> None:
    from textrobust.errors import ConfigError

    with pytest.raises(ConfigError, match=r"is set for the whole run, not per operator: use --device / --precision"):
        parse_op(op + ("," if ":" in op else ":") + setting)


def test_backtranslate_builds_marian_names() -> None:
    op = parse_op("backtranslate:via=de|fr")
    assert op.params.models("fr") == ("Helsinki-NLP/opus-mt-en-fr", "Helsinki-NLP/opus-mt-fr-en")


def test_missing_model_is_a_model_error(tmp_path) -> None:
    from textrobust.errors import ModelError

    op = parse_op(f"contextual:model={tmp_path / 'nope'}")
    with pytest.raises(ModelError, match="cannot load masked LM"):
        op(["the film was good"])


def test_generate_continue_keeps_the_prefix(tiny_gpt_dir) -> None:
    op = parse_op(f"generate:model={tiny_gpt_dir},keep=0.5,max_new_tokens=4")
    for v in op(["the film was good and the music was great"], seed=0, n=2)[0]:
        assert v.startswith("the film was good")
    prompt = parse_op(f"generate:model={tiny_gpt_dir},mode=prompt,prompt=review: {{text}} ;")
    assert prompt.params.prompt == "review: {text} ;"
    with pytest.raises(Exception, match="template containing"):
        parse_op(f"generate:model={tiny_gpt_dir},mode=prompt,prompt=no placeholder")


def test_paraphrase_prompt_goes_through_the_chat_template(tmp_path, tiny_tokenizer_dir, monkeypatch) -> None:
    from transformers import AutoTokenizer

    import textrobust.augment.paraphrase as paraphrase_mod

    out = build_tiny_gpt(tmp_path / "chat_gpt", str(tiny_tokenizer_dir), n_embd=16)
    tok = AutoTokenizer.from_pretrained(out)
    tok.chat_template = "{% for m in messages %}<{{ m['role'] }}> {{ m['content'] }} {% endfor %}<assistant>"
    tok.save_pretrained(out)
    seen: list[str] = []

    def fake_sample(lm, tok, prompts, seeds, **kw):
        seen.extend(prompts)
        return ['Rewritten sentence: "a fine film"'] * len(prompts)

    monkeypatch.setattr(paraphrase_mod, "sample_continuations", fake_sample)
    chat = parse_op(f"paraphrase:model={out},prompt=Reword: {{text}}")
    assert chat(["a  good film", "  "]) == [["a fine film"], []]  # reply cleaned; a blank input is not sent
    plain = parse_op(f"paraphrase:model={out},chat=false")
    plain(["a good film"])
    assert seen[0] == "<user> Reword: a good film <assistant>"
    assert seen[1].startswith("Rewrite the following sentence") and seen[1].endswith("a good film")
    assert len(seen) == 2


def test_paraphrase_cleans_lead_ins_and_quotes() -> None:
    from textrobust.augment.paraphrase import clean_reply

    assert clean_reply('Sure! Here is the rewritten sentence: "A fine film."') == "A fine film."
    assert clean_reply("Paraphrase: the plot drags") == "the plot drags"
    assert clean_reply("The sentence is good.") == "The sentence is good."  # no colon: not a lead-in
    assert clean_reply("Rewrite: the plot drags") == "the plot drags"
    assert clean_reply("Rewrite:") == ""  # SmolLM2 echoing the instruction: the operator then returns no variant


def test_gguf_folder_resolution(tmp_path) -> None:
    from textrobust.errors import ConfigError
    from textrobust.models.causal_lm import resolve_causal_lm

    (tmp_path / "one").mkdir()
    (tmp_path / "one" / "m.Q4.gguf").write_bytes(b"")
    assert resolve_causal_lm(str(tmp_path / "one")) == (str(tmp_path / "one"), "m.Q4.gguf")
    assert resolve_causal_lm(str(tmp_path / "one" / "m.Q4.gguf")) == (str(tmp_path / "one"), "m.Q4.gguf")
    (tmp_path / "one" / "m.Q8.gguf").write_bytes(b"")
    with pytest.raises(ConfigError, match="several .gguf files"):
        resolve_causal_lm(str(tmp_path / "one"))
    assert resolve_causal_lm("org/some-model") == ("org/some-model", None)  # a hub name passes through


def test_backtranslate_bergamot_validates_its_languages() -> None:
    from textrobust.errors import ConfigError

    op = parse_op("backtranslate:engine=bergamot,via=pt")
    assert op.deterministic and op.spec_str() == "backtranslate:engine=bergamot,via=pt"
    for bad, match in (
        ("via=de", "invalid via='de'; valid: the other of en/pt"),
        ("via=pt,source_lang=fr", "source_lang"),
        ("engine=fairseq", "invalid engine='fairseq'"),
    ):
        with pytest.raises(ConfigError, match=match):
            parse_op(f"backtranslate:engine=bergamot,{bad}" if "engine" not in bad else f"backtranslate:{bad}")
