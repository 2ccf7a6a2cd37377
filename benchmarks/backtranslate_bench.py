"""Back-translation throughput: our ``backtranslate`` operator vs nlpaug 1.1.11 ``BackTranslationAug`` vs the
practical limit (plain batched ``model.generate`` forward then backward on length-sorted input).

Run:  .venv/bin/python benchmarks/backtranslate_bench.py [--size tiny|base] [--n 256] [--device cpu]

No hub access: two random MarianMT models (forward, backward) are built from configs and saved to temp dirs
with a WordPiece tokenizer trained on the MR sentences (the approach of tests/test_augment_models.py).
``tiny`` is a 2-layer d_model=64 Marian; ``base`` has the opus-mt-en-de dimensions (d_model 512, 6+6 layers,
8 heads, FFN 2048, vocab 58,101 — the tokenizer vocabulary is padded with filler pieces to that size).

Same settings everywhere: beam search with --num-beams, exactly --max-new-tokens generated tokens per
translation (min_new_tokens = max_new_tokens), batch --batch-size. nlpaug's ``generate`` call passes only
``max_length``, so beam width and min_new_tokens reach it through the saved ``generation_config.json``
(num_beams, min_new_tokens), which our operator and the limit also read; nlpaug gets max_length =
max_new_tokens + 1 (decoder start token + N new tokens). Remaining differences, inherent to nlpaug: it pads all
N sentences to the longest one before batching (no length sorting) and runs a 1-worker DataLoader per step.
Our operator runs twice: with the runtime's default precision (``Runtime(device)``: fp32 on CPU, as nlpaug; bf16
on CUDA, where nlpaug stays fp32) and with ``Runtime(device, precision="bf16")`` (opt-in on CPU; the limit row
stays fp32 on CPU). Model loading is excluded; each
system is warmed up on a few sentences first, then timed --repeat times (best).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from _common import environment, format_table, sync  # noqa: E402

OPUS_VOCAB = 58101


def load_sentences(n: int) -> list[str]:
    from textrobust.data import load_dataset, shared_data_dir

    d = load_dataset(shared_data_dir() / "textfooler_eval" / "mr", fmt="label-text")
    texts = [t for t in d.texts if t.strip()]
    while len(texts) < n:
        texts = texts + texts
    return texts[:n]


def build_tokenizer(corpus: list[str], vocab_size: int, pad_to: int | None, max_len: int):
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(corpus, trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=specials))
    if pad_to is not None:  # filler pieces so the vocabulary (and the output projection) has the opus-mt size
        vocab = dict(tok.get_vocab())
        k = 0
        while len(vocab) < pad_to:
            vocab.setdefault(f"fill{k}", len(vocab))
            k += 1
        old = tok
        tok = Tokenizer(models.WordPiece(vocab=vocab, unk_token="[UNK]"))
        tok.normalizer, tok.pre_tokenizer = old.normalizer, old.pre_tokenizer
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]", special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=max_len,
    )


def build_models(root: Path, size: str, corpus: list[str], num_beams: int, new_tokens: int) -> tuple[str, str]:
    import torch
    from transformers import GenerationConfig, MarianConfig, MarianMTModel

    if size == "tiny":
        tok = build_tokenizer(corpus, 2000, None, 128)
        dims = dict(
            d_model=64,
            encoder_layers=2,
            decoder_layers=2,
            encoder_attention_heads=4,
            decoder_attention_heads=4,
            encoder_ffn_dim=128,
            decoder_ffn_dim=128,
            max_position_embeddings=256,
        )
    else:
        tok = build_tokenizer(corpus, 16000, OPUS_VOCAB, 512)
        dims = dict(
            d_model=512,
            encoder_layers=6,
            decoder_layers=6,
            encoder_attention_heads=8,
            decoder_attention_heads=8,
            encoder_ffn_dim=2048,
            decoder_ffn_dim=2048,
            max_position_embeddings=512,
            scale_embedding=True,
        )
    dirs = []
    for k, name in enumerate(("fwd", "bwd")):
        torch.manual_seed(k)
        cfg = MarianConfig(
            vocab_size=len(tok),
            pad_token_id=tok.pad_token_id,
            eos_token_id=tok.sep_token_id,
            decoder_start_token_id=tok.pad_token_id,
            forced_eos_token_id=tok.sep_token_id,
            **dims,
        )
        model = MarianMTModel(cfg)
        model.generation_config = GenerationConfig(
            num_beams=num_beams,
            min_new_tokens=new_tokens,
            pad_token_id=tok.pad_token_id,
            eos_token_id=tok.sep_token_id,
            decoder_start_token_id=tok.pad_token_id,
            forced_eos_token_id=tok.sep_token_id,
        )
        out = root / name
        model.save_pretrained(out)
        tok.save_pretrained(out)
        dirs.append(str(out))
    return dirs[0], dirs[1]


def limit_runner(fwd: str, bwd: str, device: str, args: argparse.Namespace):
    import torch
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    pairs = []
    for path in (fwd, bwd):
        m = AutoModelForSeq2SeqLM.from_pretrained(path).to(device).eval()
        if device.startswith("cuda"):
            m = m.to(torch.bfloat16)
        pairs.append((m, AutoTokenizer.from_pretrained(path)))
    counts: list[int] = []

    def step(model, tok, texts: list[str]) -> list[str]:
        out = [""] * len(texts)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for s in range(0, len(order), args.batch_size):
            rows = order[s : s + args.batch_size]
            enc = tok([texts[i] for i in rows], padding=True, truncation=True, return_tensors="pt").to(device)
            with torch.inference_mode():
                gen = model.generate(
                    **enc,
                    num_beams=args.num_beams,
                    do_sample=False,
                    max_new_tokens=args.max_new_tokens,
                    min_new_tokens=args.max_new_tokens,
                )
            counts.append(gen.shape[1] - 1)
            for i, t in zip(rows, tok.batch_decode(gen, skip_special_tokens=True), strict=True):
                out[i] = t
        return out

    def run(texts: list[str]) -> list[str]:
        return step(*pairs[1], step(*pairs[0], texts))

    return run, counts


def timed(fn, texts: list[str], device: str) -> float:
    sync(device)
    t0 = time.perf_counter()
    fn(texts)
    sync(device)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=256, help="MR sentences to back-translate (default 256)")
    ap.add_argument("--size", choices=("tiny", "base"), default="tiny", help="random Marian size (default tiny)")
    ap.add_argument("--num-beams", type=int, default=4)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--max-new-tokens", type=int, default=32, help="exact generated tokens per translation")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per system, best kept (default 3)")
    ap.add_argument("--warmup", type=int, default=8, help="sentences for the untimed warm-up of each system")
    args = ap.parse_args(argv)

    import os

    for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        os.environ.setdefault(v, "1")
    import nlpaug.augmenter.word as naw
    from transformers.utils import logging as hf_logging

    from textrobust.augment import parse_op
    from textrobust.models import Runtime

    hf_logging.disable_progress_bar()
    device = args.device
    texts = load_sentences(args.n)
    env = environment(device)
    print(
        f"# backtranslate bench: size={args.size} n={args.n} beams={args.num_beams} batch={args.batch_size} "
        f"new_tokens={args.max_new_tokens} repeat={args.repeat} (best) device={device} torch={env['torch']} "
        f"transformers={env['transformers']} threads={env['torch_threads']} ({env['device_name']})"
    )
    with tempfile.TemporaryDirectory(prefix="bt_bench_") as tmp:
        fwd, bwd = build_models(Path(tmp), args.size, texts, args.num_beams, args.max_new_tokens)
        spec = (
            f"backtranslate:forward={fwd},backward={bwd},sampling=false,num_beams={args.num_beams},"
            f"max_new_tokens={args.max_new_tokens},batch_size={args.batch_size}"
        )
        op = parse_op(spec, runtime=Runtime(device=device))  # precision auto: fp32 on CPU (as nlpaug), bf16 on CUDA
        op_bf16 = parse_op(spec, runtime=Runtime(device=device, precision="bf16"))
        aug = naw.BackTranslationAug(
            from_model_name=fwd,
            to_model_name=bwd,
            device=device,
            batch_size=args.batch_size,
            max_length=args.max_new_tokens + 1,
        )
        limit, counts = limit_runner(fwd, bwd, device, args)
        systems = [
            ("textrobust backtranslate", lambda xs: op(xs, seed=0, n=1)),
            ("textrobust backtranslate, precision bf16", lambda xs: op_bf16(xs, seed=0, n=1)),
            ("nlpaug BackTranslationAug", lambda xs: aug.augment(xs)),
            ("limit: sorted model.generate", limit),
        ]
        secs = {}
        for name, fn in systems:
            fn(texts[: args.warmup])
            secs[name] = min(timed(fn, texts, device) for _ in range(args.repeat))
            print(f"  {name}: {secs[name]:.2f}s", flush=True)
    assert counts and all(c == args.max_new_tokens for c in counts), f"generated lengths {set(counts)}"
    ours, ours_bf16, nl, lim = (secs[name] for name, _ in systems)
    rows = [
        (name, args.n, secs[name], args.n / secs[name], secs[name] and nl / secs[name], lim / secs[name])
        for name, _ in systems
    ]
    print(format_table(["system", "sentences", "seconds", "sent/s", "x nlpaug", "of limit"], rows))
    print(
        f"ours vs nlpaug: {nl / ours:.2f}x at the default precision, {nl / ours_bf16:.2f}x with precision bf16 "
        f"(target >= 3x); ours of limit: {100 * lim / ours:.0f}% (target >= 70%)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
