"""Word importance from loss gradients (A2T's cheap ranking): one forward + backward pass per batch of texts."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from textrobust.errors import ConfigError


def _embedding_gradients(
    clf: Any, word_lists: Sequence[Sequence[str]], labels: Sequence[int] | None, batch_size: int
) -> Iterator[tuple[list[int], Any, Any, Any]]:
    """Length-sorted batches of ``word_lists`` through ``clf``'s transformers module in eval mode: yields
    ``(indices, encoding, input_ids, grad)`` with ``grad`` = d(summed cross-entropy)/d(input embeddings), against
    ``labels`` or, when None, the model's own predictions. The module's training mode is restored afterwards."""
    import torch

    module, tok = clf.model, clf.tokenizer
    device = getattr(clf, "device", None) or next(module.parameters()).device
    max_length = getattr(clf, "max_length", None) or 512
    was_training = module.training
    module.eval()
    try:
        order = sorted(range(len(word_lists)), key=lambda i: len(word_lists[i]))
        for b in range(0, len(order), batch_size):
            idx = order[b : b + batch_size]
            enc = tok(
                [list(word_lists[i]) for i in idx],
                is_split_into_words=True,
                padding=True,
                truncation=True,
                max_length=max_length,
                return_tensors="pt",
            )
            ids = enc["input_ids"].to(device)
            batch = {k: v.to(device) for k, v in enc.items() if k != "input_ids"}
            embeds = module.get_input_embeddings()(ids).detach().requires_grad_(True)
            logits = module(inputs_embeds=embeds, **batch).logits.float()
            target = logits.argmax(-1) if labels is None else torch.tensor([int(labels[i]) for i in idx], device=device)
            loss = torch.nn.functional.cross_entropy(logits, target, reduction="sum")
            (grad,) = torch.autograd.grad(loss, embeds)
            yield idx, enc, ids, grad
    finally:
        module.train(was_training)


def _need_gradients(classifier: Any, what: str) -> None:
    """ConfigError unless the classifier declares ``supports_gradients`` (a model behind HTTP does not)."""
    if not getattr(classifier, "supports_gradients", False):
        raise ConfigError(
            f"{what} a classifier that supports gradients (a TextClassifier), not a {type(classifier).__name__}; "
            "choose a score-based recipe such as textfooler or deepwordbug"
        )


class WordGradients:
    """Batched backend: ``[(words, label), ...] -> [importance per word, ...]``.

    Importance of a word = L1 norm of d(cross-entropy)/d(input embeddings) summed over its sub-tokens (as
    TextAttack's ``wir_method="gradient"``). Needs a HF-backed classifier exposing ``model`` (the module),
    ``tokenizer``, ``max_length`` and ``device`` (e.g. :class:`textrobust.models.TextClassifier`).
    """

    def __init__(self, classifier: Any, batch_size: int = 32) -> None:
        _need_gradients(classifier, "gradient ranking needs")
        self.classifier = classifier
        self.batch_size = batch_size

    def __call__(self, inputs: list[tuple[Sequence[str], int]]) -> list[np.ndarray]:
        words = [inp[0] for inp in inputs]
        labels = [inp[1] for inp in inputs]
        out: list[Any] = [None] * len(inputs)
        for idx, enc, _, grad in _embedding_gradients(self.classifier, words, labels, self.batch_size):
            tok_imp = grad.abs().sum(-1).float().cpu().numpy()
            for row, i in enumerate(idx):
                imp = np.zeros(len(words[i]))
                for t, w in enumerate(enc.word_ids(row)):
                    if w is not None:
                        imp[w] += tok_imp[row, t]
                out[i] = imp
        return out


class GradientSwapCandidates:
    """Batched backend for gradient-guided word swaps (HotFlip, Ebrahimi et al. 2018; TextAttack's
    ``WordSwapGradientBased``): ``[(words, indices, k), ...] -> [[candidates for each index], ...]``.

    One forward + backward pass per text gives g = d(loss)/d(input embedding) at each word's first sub-token; a
    vocabulary token w scores (e_w - e_word) . g, the first-order increase of the loss if the word became w, and
    the ``k`` best whole-word tokens (alphabetic, no sub-word pieces or special tokens, not the word itself) are
    returned, best first. The loss is the cross-entropy of the model's *current* prediction, so the swaps push
    away from it (untargeted; for correctly classified inputs that is the true label). Needs a transformers-backed
    classifier with ``model`` and ``tokenizer`` (e.g. :class:`textrobust.models.TextClassifier`).

    Example:
        >>> cands = GradientSwapCandidates(clf)([(("a", "good", "film"), (1,), 5)])  # doctest: +SKIP
    """

    def __init__(self, classifier: Any, batch_size: int = 32) -> None:
        _need_gradients(classifier, "gradient-guided swaps need")
        self.classifier = classifier
        self.batch_size = batch_size
        self._vocab: tuple[np.ndarray, list[str]] | None = None

    def _whole_words(self) -> tuple[np.ndarray, list[str]]:
        """Boolean mask of vocabulary ids that are whole alphabetic words, and each id's word text."""
        if self._vocab is None:
            tok = self.classifier.tokenizer
            vocab = tok.get_vocab()
            texts = [""] * (max(vocab.values()) + 1)
            for t, i in vocab.items():
                texts[i] = t
            # WordPiece marks continuations with "##"; BPE / SentencePiece mark word starts with "Ġ" / "▁".
            marked = sum(1 for t in texts if t[:1] in ("Ġ", "▁")) > len(texts) // 10
            special = set(tok.all_special_tokens)
            ok = np.zeros(len(texts), dtype=bool)
            words = [""] * len(texts)
            for i, t in enumerate(texts):
                if marked:
                    start, word = t[:1] in ("Ġ", "▁"), t[1:]
                else:
                    start, word = not t.startswith("##"), t
                if start and t not in special and word.isalpha():
                    ok[i], words[i] = True, word
            self._vocab = (ok, words)
        return self._vocab

    def __call__(self, inputs: list[tuple[Sequence[str], Sequence[int], int]]) -> list[list[list[str]]]:
        import torch

        ok, words_of = self._whole_words()
        table = self.classifier.model.get_input_embeddings().weight.detach()
        allowed = torch.as_tensor(ok[: table.shape[0]], device=table.device)
        words = [inp[0] for inp in inputs]
        out: list[Any] = [None] * len(inputs)
        for idx, enc, ids, grad in _embedding_gradients(self.classifier, words, None, self.batch_size):
            for row, i in enumerate(idx):
                _, positions, k = inputs[i]
                word_ids = enc.word_ids(row)
                per_index: list[list[str]] = []
                for w in positions:
                    if w not in word_ids:  # truncated away
                        per_index.append([])
                        continue
                    p = word_ids.index(w)
                    g = grad[row, p].to(table.dtype)
                    scores = (table @ g - table[ids[row, p]] @ g).float()
                    scores = scores.masked_fill(~allowed, float("-inf"))
                    scores[ids[row, p]] = float("-inf")
                    top = torch.topk(scores, min(k + 1, int(allowed.sum()))).indices.tolist()
                    original = words[i][w].lower()
                    per_index.append([words_of[t] for t in top if words_of[t].lower() != original][:k])
                out[i] = per_index
        return out
