"""``generate``: new text from a causal LM, conditioned on the input (LAMBADA-style, Anaby-Tavor et al. 2020).

Two modes: ``continue`` keeps the first ``keep`` fraction of the input's words and lets the model write the rest
(the contextual sentence augmentation of nlpaug); ``prompt`` fills ``{text}`` into a template and keeps the first
line of the continuation (for instruction-tuned or LAMBADA-style fine-tuned models, e.g. a template
``"{label} [SEP] "`` trained on labelled rows). Deviation from LAMBADA: no label conditioning or classifier filter
inside the operator: use the ``label_preserving`` filter for the latter.

Sampling is per-row deterministic (Gumbel-max with one torch generator per row), as in back-translation.

Example:
    >>> from textrobust.augment import parse_op
    >>> op = parse_op("generate:model=gpt2,keep=0.5,max_new_tokens=20")  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from textrobust.augment.base import Operator, Params, check, register
from textrobust.augment.model_ops import _check_dtype, _device, _GumbelSampler, _load_message, _place
from textrobust.errors import ModelError


@functools.lru_cache(maxsize=4)
def _causal_lm(name: str, device: str, dtype: str = "auto") -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(name)
        model = AutoModelForCausalLM.from_pretrained(name)
    except (OSError, ValueError) as exc:
        raise ModelError(_load_message("causal LM", name, exc)) from None
    # Decoder-only models must be padded on the left so every row continues from its own last token.
    tok.padding_side = "left"
    tok.truncation_side = "left"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token or tok.sep_token
    return _place(model, device, dtype), tok


@dataclass(frozen=True)
class GenerateParams(Params):
    model: str = ""  # causal LM name or path (AutoModelForCausalLM)
    mode: str = "continue"  # continue | prompt
    keep: float = 0.5  # continue mode: fraction of the input's words kept as the prefix
    prompt: str = "{text}"  # prompt mode: template with {text}
    max_new_tokens: int = 32
    top_k: int = 50
    top_p: float = 0.95
    temperature: float = 1.0
    batch_size: int = 16
    device: str = "auto"
    dtype: str = "auto"  # auto (bf16 on CUDA, fp32 on CPU) | float32 | bfloat16 | float16

    def validate(self, op: str) -> None:
        check(op, "model", bool(self.model), "a causal LM name or path", self.model)
        check(op, "mode", self.mode in ("continue", "prompt"), "continue|prompt", self.mode)
        check(op, "keep", 0 < self.keep < 1, "a float in (0, 1)", self.keep)
        check(op, "prompt", "{text}" in self.prompt, "a template containing {text}", self.prompt)
        for f in ("max_new_tokens", "top_k", "batch_size"):
            check(op, f, getattr(self, f) >= 1, "an integer >= 1", getattr(self, f))
        check(op, "top_p", 0 < self.top_p <= 1, "a float in (0, 1]", self.top_p)
        check(op, "temperature", self.temperature > 0, "a float > 0", self.temperature)
        _check_dtype(op, self.dtype)


@register
class Generate(Operator):
    """Generate text with a causal LM from a prefix of the input (or a prompt built from it)."""

    name = "generate"
    Params = GenerateParams
    params: GenerateParams
    batched = True

    def apply_batch(self, texts: list[str], rngs: list[np.random.Generator]) -> list[str | None]:
        import torch
        from transformers import LogitsProcessorList

        p = self.params
        model, tok = _causal_lm(p.model, _device(p.device), p.dtype)
        device = next(model.parameters()).device
        prompts: list[str | None] = []
        for t in texts:
            words = t.split()
            if not words:
                prompts.append(None)
            elif p.mode == "continue":
                prompts.append(" ".join(words[: max(1, math.ceil(p.keep * len(words)))]))
            else:
                prompts.append(p.prompt.replace("{text}", " ".join(words)))
        seeds = [int(g.integers(2**62)) for g in rngs]
        results: list[str | None] = [None] * len(texts)
        rows_all = sorted((i for i, q in enumerate(prompts) if q), key=lambda i: len(prompts[i]))  # buckets
        limit = max(8, (getattr(tok, "model_max_length", 1024) or 1024) - p.max_new_tokens)
        limit = min(limit, getattr(model.config, "max_position_embeddings", limit) - p.max_new_tokens)
        eos = tok.eos_token_id if tok.eos_token_id is not None else tok.sep_token_id
        for s in range(0, len(rows_all), p.batch_size):
            rows = rows_all[s:s + p.batch_size]
            enc = tok([prompts[i] for i in rows], padding=True, truncation=True, max_length=limit,
                      return_tensors="pt", add_special_tokens=False).to(device)
            gens = [torch.Generator().manual_seed(seeds[i]) for i in rows]
            sampler = _GumbelSampler(gens, p.top_k, p.top_p, p.temperature)
            with torch.inference_mode():
                # Only ids and mask: some tokenizers also return token_type_ids, which GPT-2 would add as embeddings.
                out = model.generate(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"],
                                     max_new_tokens=p.max_new_tokens, do_sample=False, num_beams=1,
                                     logits_processor=LogitsProcessorList([sampler]), pad_token_id=tok.pad_token_id,
                                     eos_token_id=eos)
            new = tok.batch_decode(out[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
            for i, cont in zip(rows, new):
                cont = cont.strip().split("\n")[0].strip()
                if not cont:
                    continue
                results[i] = " ".join((prompts[i] + " " + cont).split()) if p.mode == "continue" else cont
        return results
