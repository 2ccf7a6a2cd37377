"""Search methods, written as generators.

``run(attack, original, label, orig_probs, rng)`` yields requests (:class:`ModelQuery` for the victim model,
:class:`BatchCall` for encoders / masked LMs, usually via ``yield from attack.candidates(...)``), receives their
answers, and returns the final :class:`AttackText` (the runner decides success from its probabilities). Because
a search is plain sequential code, the runner can advance hundreds of them in lockstep with one model call a step.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from textrobust.adversarial.requests import BatchCall, ModelQuery
from textrobust.adversarial.text import AttackText
from textrobust.errors import ConfigError

if TYPE_CHECKING:
    from textrobust.adversarial.attack import Attack

SearchGen = Generator[Any, Any, AttackText]
RANKINGS = ("delete", "unk", "weighted_saliency", "gradient", "none")


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


@dataclass(frozen=True)
class GreedyWordSwapWIR:
    """Greedy word swap in order of word importance (TextAttack's ``GreedyWordSwapWIR``).

    Rankings: ``"delete"`` (goal score with the word deleted; TextFooler, BAE), ``"unk"`` (word replaced by
    ``unk_token``; DeepWordBug, BERT-Attack), ``"weighted_saliency"`` (PWWS: softmax of the ``unk`` saliency times
    the best swap's gain), ``"gradient"`` (A2T: norm of the loss gradient w.r.t. each word's embeddings, one
    backward pass; needs ``gradient_backend``, e.g. :class:`~textrobust.adversarial.gradients.WordGradients`),
    ``"none"`` (left to right). Then, word by word, keep the best candidate if it improves the goal score; stop
    as soon as the goal is reached.
    """

    ranking: str = "delete"
    unk_token: str = "[UNK]"
    gradient_backend: Any = None

    def __post_init__(self) -> None:
        if self.ranking not in RANKINGS:
            raise ConfigError(f"unknown ranking {self.ranking!r}; choose from {RANKINGS}")
        if self.ranking == "gradient" and self.gradient_backend is None:
            raise ConfigError("ranking='gradient' needs gradient_backend= (e.g. WordGradients(model))")

    def _rank(self, attack: Attack, original: AttackText, label: int, orig_probs: np.ndarray,
              indices: list[int], rng: np.random.Generator) -> Generator[Any, Any, list[int]]:
        goal = attack.goal
        base = float(goal.score(orig_probs, label))
        if self.ranking == "none":
            return indices
        if self.ranking == "gradient":
            (importance,) = yield BatchCall(self.gradient_backend, [(original.words, label)])
            imp = {i: float(importance[i]) for i in indices}
        else:
            if self.ranking == "delete":
                probes = [original.without_word(i) for i in indices]
            else:
                probes = [original.with_word(i, self.unk_token) for i in indices]
            probs = yield ModelQuery(probes)
            scores = goal.score(probs, label)
            imp = dict(zip(indices, scores.tolist()))
            if self.ranking == "weighted_saliency":
                saliency = _softmax(scores - base)
                cands = yield from attack.candidates(original, original, indices, rng)
                gain = dict.fromkeys(indices, 0.0)
                if cands:
                    cprobs = yield ModelQuery(cands)
                    for c, s in zip(cands, goal.score(cprobs, label).tolist()):
                        gain[c.new_index] = max(gain[c.new_index], s - base)
                imp = {i: float(sal) * gain[i] for i, sal in zip(indices, saliency)}
        return sorted(indices, key=lambda i: -imp[i])  # stable: ties keep left-to-right order

    def run(self, attack: Attack, original: AttackText, label: int, orig_probs: np.ndarray,
            rng: np.random.Generator) -> SearchGen:
        goal = attack.goal
        indices = attack.modifiable_indices(original, original)
        if not indices:
            return original
        order = yield from self._rank(attack, original, label, orig_probs, indices, rng)
        cur, cur_score = original, float(goal.score(orig_probs, label))
        for i in order:
            cands = yield from attack.candidates(original, cur, [i], rng)
            if not cands:
                continue
            probs = yield ModelQuery(cands)
            scores = goal.score(probs, label)
            k = int(np.argmax(scores))
            if scores[k] > cur_score:
                cur, cur_score = cands[k], float(scores[k])
                if goal.done(probs[k], label):
                    return cur
        return cur


@dataclass(frozen=True)
class BeamSearch:
    """Beam search over word swaps: expand every beam state at every allowed index, keep the ``beam_width``
    best-scoring candidates, stop when the goal is reached or nothing is left (``beam_width=1`` is greedy search
    without ranking, as in TextAttack's ``BeamSearch``)."""

    beam_width: int = 4

    def __post_init__(self) -> None:
        if self.beam_width < 1:
            raise ConfigError(f"beam_width must be >= 1, got {self.beam_width}")

    def run(self, attack: Attack, original: AttackText, label: int, orig_probs: np.ndarray,
            rng: np.random.Generator) -> SearchGen:
        goal = attack.goal
        beam, best = [original], original
        for _ in range(len(original)):
            seen: dict[str, AttackText] = {}
            for state in beam:
                for c in (yield from attack.candidates(original, state, None, rng)):
                    seen.setdefault(c.text, c)
            cands = list(seen.values())
            if not cands:
                break
            probs = yield ModelQuery(cands)
            scores = goal.score(probs, label)
            order = np.argsort(-scores, kind="stable")
            best = cands[int(order[0])]
            if goal.done(probs[int(order[0])], label):
                return best
            beam = [cands[int(j)] for j in order[: self.beam_width]]
        return best
