"""A causal language model as a classifier: prompt it, and score each label by the log-probability of its words.

:class:`PromptedClassifier` renders every text through a :class:`~textrobust.models.prompt.Prompt` (the chat
template when the model has one), and scores label ``y`` by ``log P(words of y | prompt)`` — the sum of the
log-probabilities of the word's tokens, so multi-token words are scored exactly; several words per label are
combined with log-sum-exp — then normalises the labels with a softmax. The result is a classifier like any other
(``labels``, ``predict_proba``): every evaluation and every score-based attack runs on it unchanged.

Batching (what makes it usable as an attack victim on a CPU):

* **one row per text** reads the first token of every label word from one forward pass; only words of two or more
  tokens add a row (the prompt followed by the word's leading tokens);
* **the shared prompt prefix** (system message, instruction, few-shot examples, field name) is run once and its
  key/value cache reused by every row, so a forward pass only computes the text and what follows it;
* rows are sorted by length and packed into forward passes by the runtime's token budget
  (:func:`~textrobust.models.batching.plan_batches`), padded on the left, and only the logits of the positions that
  are read are computed (``logits_to_keep``).

Example:
    >>> clf = PromptedClassifier("smollm2", labels=["negative", "positive"],  # doctest: +SKIP
    ...                          prompt={"instruction": "Is this movie review {labels}?", "text_name": "Review"})
    >>> clf.predict_proba(["a charming and often affecting journey"]).round(2)  # doctest: +SKIP
    array([[0.08, 0.92]], dtype=float32)
"""

from __future__ import annotations

import copy
import hashlib
import inspect
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, ModelError
from .prompt import Prompt, PromptFormat
from .runtime import Runtime

log = logging.getLogger(__name__)

#: Tokens per forward pass on the CPU unless the runtime says otherwise (smaller, cache-friendlier passes than the
#: classifier's 4,096; not swept yet: ``benchmarks/llm_victim_bench.py --max-tokens N`` measures one).
CPU_LLM_TOKEN_BUDGET = 1024


class PromptedClassifier:
    """A causal LM scored as a classifier (see the module docstring).

    ``source``: ``smollm2``, a model directory, a ``.gguf`` file or a directory holding one (loaded by
    :func:`~textrobust.models.causal_lm.load_causal_lm`), or ``(model, tokenizer)`` already loaded; ``labels``:
    the class names in output order; ``prompt``: a :class:`Prompt` or its configuration (see
    :meth:`Prompt.from_config`); ``prefix_cache``: reuse the shared prompt prefix (exact up to float rounding).
    """

    #: Scored through its own forward passes; no attack reads its gradients.
    supports_gradients = False
    #: It gives a probability for every label (scores), not only a label.
    label_only = False

    def __init__(
        self,
        source: Any,
        *,
        labels: Sequence[str],
        prompt: Prompt | Mapping[str, Any] | None = None,
        runtime: Runtime | None = None,
        batch_size: int | None = None,
        prefix_cache: bool = True,
    ) -> None:
        self.source = source if isinstance(source, tuple) else str(source)
        self.name = "model" if isinstance(source, tuple) else str(source)
        self.runtime = runtime or Runtime()
        self.prompt = prompt if isinstance(prompt, Prompt) else Prompt.from_config(prompt, labels, who=self.name)
        if list(self.prompt.labels) != [str(x) for x in labels]:
            raise ConfigError(f"{self.name}: the prompt's labels {list(self.prompt.labels)} differ from {list(labels)}")
        if batch_size is not None and batch_size < 1:
            raise ConfigError(f"{self.name}: batch_size must be >= 1, got {batch_size}")
        self.batch_size, self.prefix_cache = batch_size, prefix_cache
        self._lm: Any = None
        self._tok: Any = None
        self._module: Any = None
        self._plan: _Plan | None = None

    def __repr__(self) -> str:
        return f"PromptedClassifier({self.name!r}, labels={self.labels})"

    # ------------------------------------------------------------------------------------------- questions
    @property
    def labels(self) -> list[str]:
        return list(self.prompt.labels)

    @property
    def token_budget(self) -> int:
        """Tokens (rows x padded width) per forward pass: the runtime's ``max_tokens``, else 1,024 on the CPU and
        the device default elsewhere."""
        if self.runtime.max_tokens:
            return self.runtime.max_tokens
        return CPU_LLM_TOKEN_BUDGET if not self.runtime.on_cuda else self.runtime.token_budget

    @property
    def prompt_format(self) -> PromptFormat:
        return self.prompt.format

    def with_prompt_format(self, fmt: PromptFormat) -> PromptedClassifier:
        """The same model (shared weights) with its prompt laid out by ``fmt``."""
        other = copy.copy(self)
        other.prompt, other._plan = self.prompt.with_format(fmt), None
        return other

    def cache_identity(self) -> dict[str, Any]:
        """What determines this model's answers (the key of cached calls): the weights' files, the prompt, and
        how it runs (precision and device)."""
        return {
            "kind": "prompted",
            "weights": _weights_digest(self.source),
            "prompt": self.prompt.to_dict(),
            "precision": self.runtime.precision,
            "device": self.runtime.resolved_device,
        }

    # ------------------------------------------------------------------------------------------- loading
    def load(self) -> PromptedClassifier:
        """Load the model and tokenizer now (also checks the label words against the tokenizer)."""
        self._ensure()
        return self

    def _ensure(self) -> _Plan:
        if self._lm is None:
            if isinstance(self.source, tuple):
                from .causal_lm import prepare_tokenizer

                self._lm, self._tok = self.source[0], prepare_tokenizer(self.source[1], self.name)
            else:
                from .causal_lm import load_causal_lm

                self._lm, self._tok = load_causal_lm(self.source, self.runtime, who=self.name)
        if self._plan is None:
            self._plan = _Plan(self._tok, self.prompt, self.name, self._use_chat())
        return self._plan

    def _use_chat(self) -> bool:
        has = bool(getattr(self._tok, "chat_template", None))
        if self.prompt.chat and not has:
            raise ConfigError(f"{self.name}: prompt chat=true, but the tokenizer has no chat template")
        return has if self.prompt.chat is None else self.prompt.chat

    def prompts(self, texts: Sequence[str]) -> list[str]:
        """The exact strings the model reads for ``texts`` (chat template applied)."""
        plan = self._ensure()
        return [plan.render(t) for t in texts]

    # ------------------------------------------------------------------------------------------- scoring
    def predict_proba(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        """Class probabilities, one row per text: a softmax over the labels' log-probabilities."""
        scores = self.label_logprobs(texts, batch_size=batch_size)
        if not len(scores):
            return np.empty((0, len(self.labels)), dtype=np.float32)
        z = scores - scores.max(axis=1, keepdims=True)
        p = np.exp(z)
        return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)

    def label_logprobs(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        """``log P(label's words | prompt)`` per text and label (unnormalised over the labels), float64."""
        if isinstance(texts, str):
            raise ConfigError("predict_proba takes a list of texts, not a single string")
        texts = list(texts)
        plan = self._ensure()
        if not texts:
            return np.empty((0, len(self.labels)))
        prompts = [plan.ids(t) for t in texts]
        rows, targets = plan.rows(prompts)
        token_lp = self._run(rows, targets, batch_size or self.batch_size, plan.prefix if self.prefix_cache else None)
        return plan.combine(token_lp, len(texts))

    def _run(
        self,
        rows: list[list[int]],
        targets: list[list[tuple[int, int]]],
        batch_size: int | None,
        prefix: list[int] | None,
    ) -> list[list[float]]:
        """For every row, the log-probability of each target ``(position from the end, token id)``."""
        out: list[list[float]] = [[] for _ in rows]

        def read(logp: Any, batch: list[int], keep: int) -> None:
            for b, r in enumerate(batch):
                pos = [keep - 1 - back for back, _ in targets[r]]
                ids = [tok for _, tok in targets[r]]
                out[r] = logp[b, pos, ids].tolist()

        keep = [1 + max(back for back, _ in t) for t in targets]
        if self._module is None:  # int8: one quantised copy, made once
            self._module = self.runtime.inference_module(self._lm)
        forward_rows(self._module, self._tok, rows, keep, read, self.runtime, self.token_budget, batch_size, prefix)
        return out


class _Plan:
    """The token layout of one prompt on one tokenizer: how a text becomes ids, which rows score which label words,
    and the shared prefix."""

    def __init__(self, tok: Any, prompt: Prompt, who: str, chat: bool) -> None:
        self.tok, self.prompt, self.who, self.chat = tok, prompt, who, chat
        self.words: list[tuple[int, list[int]]] = []  # (label index, token ids) per verbalizer word
        seen: dict[tuple[int, ...], str] = {}
        for k, label in enumerate(prompt.labels):
            for w in prompt.verbalizers[label]:
                ids = tok(prompt.answer_prefix(chat) + w, add_special_tokens=False)["input_ids"]
                if not ids:
                    raise ConfigError(f"{who}: the label word {w!r} of {label!r} tokenises to nothing; give a word")
                if tuple(ids) in seen and seen[tuple(ids)] != label:
                    raise ConfigError(
                        f"{who}: the label words of {seen[tuple(ids)]!r} and {label!r} tokenise to the same tokens "
                        f"{ids}; give words that differ"
                    )
                seen[tuple(ids)] = label
                self.words.append((k, list(ids)))
        self.multi = [i for i, (_, ids) in enumerate(self.words) if len(ids) > 1]
        self.prefix = self._shared_prefix()

    def render(self, text: str) -> str:
        if self.chat:
            return self.tok.apply_chat_template(self.prompt.messages(text), tokenize=False, add_generation_prompt=True)
        return self.prompt.plain(text)

    def ids(self, text: str) -> list[int]:
        # A chat template writes its own special tokens; a plain prompt gets the tokenizer's (e.g. BOS).
        return list(self.tok(self.render(text), add_special_tokens=not self.chat)["input_ids"])

    def _shared_prefix(self) -> list[int]:
        """The tokens every prompt starts with: the common start of two prompts with different texts, less one
        token (a text may merge with the token before it); each row is checked against it."""
        a, b = self.ids("x"), self.ids("Q 9")
        n = 0
        while n < min(len(a), len(b)) and a[n] == b[n]:
            n += 1
        return a[: max(0, n - 1)]

    def rows(self, prompts: list[list[int]]) -> tuple[list[list[int]], list[list[tuple[int, int]]]]:
        """Rows to run and, per row, the targets ``(position from the end, token id)``: row 0 of a text reads the
        first token of every word; each multi-token word adds the prompt plus its leading tokens."""
        rows, targets = [], []
        firsts = sorted({ids[0] for _, ids in self.words})
        for p in prompts:
            rows.append(p)
            targets.append([(0, t) for t in firsts])
            for w in self.multi:
                ids = self.words[w][1]
                rows.append(p + ids[:-1])
                targets.append([(len(ids) - 1 - j, ids[j]) for j in range(1, len(ids))])
        return rows, targets

    def combine(self, token_lp: list[list[float]], n: int) -> np.ndarray:
        """Per text and label: log-sum-exp over the label's words of the sum of their tokens' log-probabilities."""
        firsts = sorted({ids[0] for _, ids in self.words})
        per_text = 1 + len(self.multi)
        k = len(self.prompt.labels)
        scores = np.full((n, k), -np.inf)
        for i in range(n):
            first = dict(zip(firsts, token_lp[i * per_text], strict=True))
            for w, (label, ids) in enumerate(self.words):
                lp = first[ids[0]]
                if len(ids) > 1:
                    lp += sum(token_lp[i * per_text + 1 + self.multi.index(w)])
                scores[i, label] = np.logaddexp(scores[i, label], lp)
        return scores


def forward_rows(
    model: Any,
    tok: Any,
    rows: list[list[int]],
    keep: list[int],
    read: Callable[[Any, list[int], int], None],
    runtime: Runtime,
    token_budget: int,
    batch_size: int | None = None,
    prefix: list[int] | None = None,
) -> None:
    """Run ``rows`` (token ids) through ``model`` (ready for inference) in token-budget batches, padded on the
    left, and hand each batch's log-probabilities of its last ``max(keep)`` positions to
    ``read(logp[B, M, V], row indices, M)``.

    With ``prefix``, rows that start with it run on a copy of its key/value cache (computed once), so only their
    remainder is computed; the others run whole.
    """
    import torch

    from .batching import plan_batches

    device = next(model.parameters()).device
    n_pos = getattr(model.config, "max_position_embeddings", None) or 1 << 30
    too_long = [r for r in rows if len(r) > n_pos]
    if too_long:
        raise ModelError(f"a prompt has {len(too_long[0])} tokens, beyond the model's {n_pos}; shorten the text")
    params = inspect.signature(model.forward).parameters
    takes_keep = "logits_to_keep" in params
    cache_arg = "cache" if "cache" in params else "past_key_values"  # transformers 5.2x renamed it
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0
    groups: list[tuple[list[int], int]] = [(list(range(len(rows))), 0)]
    cache: Any = None
    if prefix and len(prefix) > 1:
        cut = len(prefix)
        with_prefix = [i for i, r in enumerate(rows) if len(r) > cut and r[:cut] == prefix]
        if with_prefix:
            rest = sorted(set(range(len(rows))) - set(with_prefix))
            groups = [(with_prefix, cut), (rest, 0)]
            with torch.inference_mode(), runtime.autocast():
                head = {"logits_to_keep": 1} if takes_keep else {}
                first = model(input_ids=torch.tensor([prefix], device=device), use_cache=True, **head)
                cache = getattr(first, "cache", None) or first.past_key_values
    with torch.inference_mode(), runtime.autocast():
        for members, cut in groups:
            if not members:
                continue
            lengths = [len(rows[i]) - cut for i in members]
            for plan in plan_batches(lengths, max_tokens=token_budget, batch_size=batch_size, multiple=1):
                batch = [members[j] for j in plan]
                width = max(len(rows[i]) - cut for i in batch)
                ids = torch.full((len(batch), width), pad, dtype=torch.long)
                mask = torch.zeros((len(batch), width), dtype=torch.long)
                for b, i in enumerate(batch):
                    tail = rows[i][cut:]
                    ids[b, width - len(tail) :] = torch.tensor(tail)
                    mask[b, width - len(tail) :] = 1
                positions = (mask.cumsum(-1) - 1).clamp(min=0) + cut
                kw: dict[str, Any] = {}
                if cut:
                    past = copy.deepcopy(cache)
                    past.batch_repeat_interleave(len(batch))
                    mask = torch.cat([torch.ones((len(batch), cut), dtype=torch.long), mask], dim=1)
                    kw[cache_arg] = past
                m = max(keep[i] for i in batch)
                if takes_keep:
                    kw["logits_to_keep"] = m
                out = model(
                    input_ids=ids.to(device),
                    attention_mask=mask.to(device),
                    position_ids=positions.to(device),
                    use_cache=bool(cut),
                    **kw,
                )
                logp = out.logits[:, -m:].float().log_softmax(-1).cpu()
                read(logp, batch, m)


def _weights_digest(source: Any) -> str:
    """A short digest of the model's files (sizes and modification times; names for hub models)."""
    if isinstance(source, tuple):
        return f"object:{id(source[0])}"
    from .causal_lm import resolve_causal_lm

    path, gguf = resolve_causal_lm(str(source))
    target = Path(path) / gguf if gguf else Path(path)
    if not target.exists():
        return f"name:{source}"
    files = [target] if target.is_file() else sorted(p for p in target.rglob("*") if p.is_file())
    parts = [f"{p.relative_to(target.parent)}|{p.stat().st_size}|{p.stat().st_mtime_ns}" for p in files]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


__all__ = ["CPU_LLM_TOKEN_BUDGET", "PromptedClassifier", "forward_rows"]
