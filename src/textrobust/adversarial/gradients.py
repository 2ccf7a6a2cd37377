"""Word importance from loss gradients (A2T's cheap ranking): one forward + backward pass per batch of texts."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import numpy as np

from textrobust.errors import ConfigError


class WordGradients:
    """Batched backend: ``[(words, label), ...] -> [importance per word, ...]``.

    Importance of a word = L1 norm of d(cross-entropy)/d(input embeddings) summed over its sub-tokens (as
    TextAttack's ``wir_method="gradient"``). Needs a HF-backed classifier exposing ``model`` (the module),
    ``tokenizer``, ``max_length`` and ``device`` (e.g. :class:`textrobust.models.TextClassifier`).
    """

    def __init__(self, classifier: Any, batch_size: int = 32) -> None:
        for attr in ("model", "tokenizer"):
            if not hasattr(classifier, attr):
                raise ConfigError(f"gradient ranking needs a transformers-backed classifier with .{attr}")
        self.classifier = classifier
        self.batch_size = batch_size

    def __call__(self, inputs: list[Hashable]) -> list[np.ndarray]:
        import torch

        clf = self.classifier
        module, tok = clf.model, clf.tokenizer
        device = getattr(clf, "device", None) or next(module.parameters()).device
        max_length = getattr(clf, "max_length", None) or 512
        was_training = module.training
        module.eval()
        out: list[Any] = [None] * len(inputs)
        try:
            order = sorted(range(len(inputs)), key=lambda i: len(inputs[i][0]))  # type: ignore[index]
            for b in range(0, len(order), self.batch_size):
                idx = order[b : b + self.batch_size]
                words = [list(inputs[i][0]) for i in idx]  # type: ignore[index]
                labels = torch.tensor([int(inputs[i][1]) for i in idx], device=device)  # type: ignore[index]
                enc = tok(words, is_split_into_words=True, padding=True, truncation=True,
                          max_length=max_length, return_tensors="pt")
                batch = {k: v.to(device) for k, v in enc.items() if k != "input_ids"}
                embeds = module.get_input_embeddings()(enc["input_ids"].to(device)).detach().requires_grad_(True)
                logits = module(inputs_embeds=embeds, **batch).logits
                loss = torch.nn.functional.cross_entropy(logits.float(), labels, reduction="sum")
                (grad,) = torch.autograd.grad(loss, embeds)
                tok_imp = grad.abs().sum(-1).float().cpu().numpy()
                for row, i in enumerate(idx):
                    imp = np.zeros(len(words[row]))
                    for t, w in enumerate(enc.word_ids(row)):
                        if w is not None:
                            imp[w] += tok_imp[row, t]
                    out[i] = imp
        finally:
            module.train(was_training)
        return out
