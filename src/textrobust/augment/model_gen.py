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

import math
from dataclasses import dataclass

import numpy as np

from textrobust import lang as _lang
from textrobust.augment.base import Operator, Params, check, register
from textrobust.models.causal_lm import check_causal_lm, check_sampling, load_causal_lm, sample_continuations


@dataclass(frozen=True)
class GenerateParams(Params):
    model: str = ""  # causal LM: hub name, model directory, a folder holding one .gguf file, or smollm2
    mode: str = "continue"  # continue | prompt
    keep: float = 0.5  # continue mode: fraction of the input's words kept as the prefix
    prompt: str = "{text}"  # prompt mode: template with {text}
    max_new_tokens: int = 32
    top_k: int = 50
    top_p: float = 0.95
    temperature: float = 1.0
    batch_size: int = 16

    def validate(self, op: str) -> None:
        check(op, "model", bool(self.model), "a causal LM name or path", self.model)
        check(op, "mode", self.mode in ("continue", "prompt"), "continue|prompt", self.mode)
        check(op, "keep", 0 < self.keep < 1, "a float in (0, 1)", self.keep)
        check(op, "prompt", "{text}" in self.prompt, "a template containing {text}", self.prompt)
        check_sampling(
            op,
            max_new_tokens=self.max_new_tokens,
            top_k=self.top_k,
            top_p=self.top_p,
            temperature=self.temperature,
            batch_size=self.batch_size,
        )


@register
class Generate(Operator):
    """Generate text with a causal LM from a prefix of the input (or a prompt built from it)."""

    name = "generate"
    Params = GenerateParams
    params: GenerateParams
    batched = True
    languages = _lang.SPACED  # the prefix is cut at whitespace; the model must write the language

    def check_extras(self) -> None:
        check_causal_lm(self.params.model, "generate")

    def apply_batch(self, texts: list[str], rngs: list[np.random.Generator]) -> list[str | None]:
        p = self.params
        lm, tok = load_causal_lm(p.model, self.runtime, who="generate")
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
        rows = [i for i, q in enumerate(prompts) if q]
        conts = sample_continuations(
            lm,
            tok,
            [prompts[i] or "" for i in rows],
            [seeds[i] for i in rows],
            max_new_tokens=p.max_new_tokens,
            top_k=p.top_k,
            top_p=p.top_p,
            temperature=p.temperature,
            batch_size=p.batch_size,
            runtime=self.runtime,
        )
        results: list[str | None] = [None] * len(texts)
        for i, cont in zip(rows, conts, strict=True):
            if cont:
                results[i] = " ".join(f"{prompts[i]} {cont}".split()) if p.mode == "continue" else cont
        return results
