"""Search methods, written as generators.

``run(attack, original, label, orig_probs, rng)`` yields requests (:class:`ModelQuery` for the victim model,
:class:`BatchCall` for encoders / masked LMs, usually via ``yield from attack.candidates(...)``), receives their
answers, and returns the final :class:`AttackText` (the runner decides success from its probabilities). Because
a search is plain sequential code, the runner can advance hundreds of them in lockstep with one model call a step.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

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


def _most_similar_winner(
    goal: Any, cands: list[AttackText], probs: np.ndarray, scores: np.ndarray, label: int
) -> AttackText:
    """Walk the candidates by score (best first, stable) while they reach the goal; return the most similar
    (strictly higher similarity replaces; a candidate without a recorded similarity ends the walk)."""
    order = np.argsort(-scores, kind="stable")
    best = cands[int(order[0])]
    best_sim = -np.inf
    for k in order.tolist():
        c = cands[k]
        if not goal.done(probs[k], label) or c.similarity is None:
            break
        if c.similarity > best_sim:
            best, best_sim = c, c.similarity
    return best


@dataclass(frozen=True)
class GreedyWordSwapWIR:
    """Greedy word swap in order of word importance (TextAttack's ``GreedyWordSwapWIR``).

    Rankings: ``"delete"`` (goal score with the word deleted; TextFooler, BAE), ``"unk"`` (word replaced by
    ``unk_token``; DeepWordBug, BERT-Attack), ``"weighted_saliency"`` (PWWS: softmax of the ``unk`` saliency times
    the best swap's gain), ``"gradient"`` (A2T: norm of the loss gradient w.r.t. each word's embeddings, one
    backward pass; needs ``gradient_backend``, e.g. :class:`~textrobust.adversarial.gradients.WordGradients`),
    ``"none"`` (left to right). Then, word by word, keep the best candidate if it improves the goal score; stop
    as soon as the goal is reached. When several candidates reach it, the most similar one wins (TextFooler's
    rule, as TextAttack applies it: among the top-scoring winners, in score order, the highest
    ``AttackText.similarity`` the sentence-similarity constraint recorded against its reference text; without
    such a constraint, the best score).

    ``lazy_constraints=True`` scores every transformed candidate first and runs the post-transformation
    constraints (sentence encoder, embeddings, POS) only on candidates that improve the score, best first, until
    one passes: the same choice as checking all of them first (TextAttack's order), with far fewer encoder
    calls, but every scored candidate counts as a query, so average queries are higher and a query budget binds
    sooner. Adversarial training turns it on (it wants the examples, not the query counts).
    """

    ranking: str = "delete"
    unk_token: str = "[UNK]"
    gradient_backend: Any = None
    lazy_constraints: bool = False
    lazy_chunk: int = 4  # candidates checked per lazy step: fewer lockstep steps, a little extra encoder work

    @property
    def requires_gradients(self) -> bool:
        """Gradient ranking reads the victim's gradients (A2T); the other rankings only query it."""
        return self.ranking == "gradient"

    def __post_init__(self) -> None:
        if self.ranking not in RANKINGS:
            raise ConfigError(f"unknown ranking {self.ranking!r}; choose from {RANKINGS}")
        if self.ranking == "gradient" and self.gradient_backend is None:
            raise ConfigError("ranking='gradient' needs gradient_backend= (e.g. WordGradients(model))")

    def _rank(
        self,
        attack: Attack,
        original: AttackText,
        label: int,
        orig_probs: np.ndarray,
        indices: list[int],
        rng: np.random.Generator,
    ) -> Generator[Any, Any, list[int]]:
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
            imp = dict(zip(indices, scores.tolist(), strict=True))
            if self.ranking == "weighted_saliency":
                saliency = _softmax(scores - base)
                cands = yield from attack.candidates(original, original, indices, rng)
                gain = dict.fromkeys(indices, 0.0)
                if cands:
                    cprobs = yield ModelQuery(cands)
                    for c, s in zip(cands, goal.score(cprobs, label).tolist(), strict=True):
                        i = c.new_index
                        if i is None:
                            raise TypeError(
                                "weighted_saliency ranking needs candidates that name the word they changed "
                                "(AttackText.replace sets new_index)"
                            )
                        gain[i] = max(gain[i], s - base)
                imp = {i: float(sal) * gain[i] for i, sal in zip(indices, saliency, strict=True)}
        return sorted(indices, key=lambda i: -imp[i])  # stable: ties keep left-to-right order

    def run(
        self, attack: Attack, original: AttackText, label: int, orig_probs: np.ndarray, rng: np.random.Generator
    ) -> SearchGen:
        goal = attack.goal
        indices = attack.modifiable_indices(original, original)
        if not indices:
            return original
        order = yield from self._rank(attack, original, label, orig_probs, indices, rng)
        cur, cur_score = original, float(goal.score(orig_probs, label))
        for i in order:
            cands = yield from attack.candidates(original, cur, [i], rng, check=not self.lazy_constraints)
            if not cands:
                continue
            probs = yield ModelQuery(cands)
            scores = goal.score(probs, label)
            if self.lazy_constraints:
                k = yield from self._best_passing(attack, original, cur, cands, scores, cur_score)
                if k is None:
                    continue
            else:
                k = int(np.argmax(scores))
            if scores[k] > cur_score:
                cur, cur_score = cands[k], float(scores[k])
                if goal.done(probs[k], label):
                    if self.lazy_constraints:  # only the chosen candidate's similarity is known
                        return cur
                    return _most_similar_winner(goal, cands, probs, scores, label)
        return cur

    def _best_passing(
        self,
        attack: Attack,
        original: AttackText,
        current: AttackText,
        cands: list[AttackText],
        scores: np.ndarray,
        cur_score: float,
    ) -> Generator[Any, Any, int | None]:
        """Index of the best-scoring candidate that improves on ``cur_score`` and passes the post constraints
        (ties: the earlier candidate, as ``argmax``), checking ``lazy_chunk`` candidates per step."""
        better = [int(k) for k in np.argsort(-scores, kind="stable") if scores[k] > cur_score]
        for s in range(0, len(better), self.lazy_chunk):
            chunk = better[s : s + self.lazy_chunk]
            ok = yield from attack.passing(original, current, [cands[k] for k in chunk])
            # Constraints return copies (carrying their similarity); texts are unique among one word's candidates.
            ok_texts = {c.text for c in ok}
            for k in chunk:
                if cands[k].text in ok_texts:
                    return k
        return None


@dataclass(frozen=True)
class BeamSearch:
    """Beam search over word swaps: expand every beam state at every allowed index, keep the ``beam_width``
    best-scoring candidates, stop when the goal is reached or nothing is left (``beam_width=1`` is greedy search
    without ranking, as in TextAttack's ``BeamSearch``)."""

    requires_gradients: ClassVar[bool] = False

    beam_width: int = 4

    def __post_init__(self) -> None:
        if self.beam_width < 1:
            raise ConfigError(f"beam_width must be >= 1, got {self.beam_width}")

    def run(
        self, attack: Attack, original: AttackText, label: int, orig_probs: np.ndarray, rng: np.random.Generator
    ) -> SearchGen:
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
