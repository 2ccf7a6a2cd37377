"""A hard-label (decision-based) search: it reads only the victim's predicted label.

After Maheshwary, Maheshwary & Pudi (2021), "Generating Natural Language Attacks in a Hard Label Black Box
Setting", AAAI. Against an API or a guardrail that answers a label and nothing else, no word importance can be
ranked and no score can be climbed; the search instead

1. **initialises at random**: swaps randomly chosen words (in random order) for random synonyms, one more word per
   query, until the label flips — an adversarial but heavily perturbed text (``init_starts`` fresh starts at most);
2. **reduces the perturbation**: tries reverting each swapped word to the original (one query each); of the
   reverts that stay adversarial keeps the one most similar to the original, and repeats until no revert stays
   adversarial;
3. **refines**: at each still-swapped word tries its other synonyms and keeps the adversarial one that is most
   similar to the original, for ``refine_rounds`` rounds or until nothing improves;

all within ``max_queries`` victim queries per example (the queries are counted as the lockstep runner counts them:
every text asked about, the original included).

Deviations from the paper: a random start that does not flip the label is begun again (``init_starts`` times) rather
than given up; the paper's optimisation step is a genetic algorithm (crossover and mutation over a
population, fitness = USE similarity); here it is the greedy per-word refinement above, which keeps the same
objective (most similar adversarial text) at a fraction of the queries. Similarity is the cosine of the sentence
``encoder`` (MiniLM here, USE in the paper); without an encoder, fewer swapped words is the only criterion and the
refinement step is skipped.

Example:
    >>> attack = hardlabel(model, neighbours=nb, encoder=enc)  # doctest: +SKIP
    >>> report = attack.run(texts, labels)  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
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


def revert(text: AttackText, original: AttackText, index: int) -> AttackText:
    """``text`` with word ``index`` put back to the original's (and no longer counted as modified)."""
    back = text.replace(index, original.words[index])
    return dataclasses.replace(back, modified=back.modified - {index})


@dataclass(frozen=True)
class HardLabelSearch:
    """The three steps of the module docstring; ``encoder`` (a batched sentence encoder, optional) measures
    similarity to the original, ``max_queries`` bounds the victim queries per example, ``refine_rounds`` the passes
    of the refinement step, ``init_starts`` the random starts."""

    requires_gradients: ClassVar[bool] = False
    #: Reads only the predicted label (the goal's ``done``), never a probability.
    label_only: ClassVar[bool] = True

    encoder: Any = None
    max_queries: int = 500
    refine_rounds: int = 2
    init_starts: int = 3

    def __post_init__(self) -> None:
        if self.max_queries < 2 or self.refine_rounds < 0 or self.init_starts < 1:
            raise ConfigError(
                f"hard-label search: max_queries must be >= 2, refine_rounds >= 0 and init_starts >= 1, got "
                f"{self.max_queries}, {self.refine_rounds}, {self.init_starts}"
            )

    def run(
        self, attack: Attack, original: AttackText, label: int, orig_probs: np.ndarray, rng: np.random.Generator
    ) -> SearchGen:
        goal = attack.goal
        budget = [self.max_queries - 1]  # the original was one query

        def ask(texts: list[AttackText]) -> Generator[Any, Any, list[bool]]:
            """Whether each text flips the label (and the queries it cost)."""
            budget[0] -= len(texts)
            probs = yield ModelQuery(texts)
            return [bool(goal.done(p, label)) for p in probs]

        indices = attack.modifiable_indices(original, original)
        proposals = yield from attack.candidates(original, original, indices, rng, check=False)
        synonyms: dict[int, list[str]] = {}
        for c in proposals:
            if c.new_index is not None:
                synonyms.setdefault(c.new_index, []).append(c.words[c.new_index])
        if not synonyms:
            return original
        # 1. random initialisation: one more random swap per query until the label flips (a fresh start, with new
        # draws, up to init_starts times)
        cur, flipped = original, False
        for _ in range(self.init_starts):
            cur = original
            for i in rng.permutation(sorted(synonyms)).tolist():
                if budget[0] < 1:
                    return cur
                words = synonyms[i]
                cur = cur.replace(i, words[int(rng.integers(len(words)))])
                (flipped,) = yield from ask([cur])
                if flipped:
                    break
            if flipped:
                break
        if not flipped:
            return cur
        # 2. reduce: revert swapped words while the text stays adversarial, the most similar revert first
        while len(cur.modified) > 1 and budget[0] >= len(cur.modified):
            reverts = [revert(cur, original, i) for i in sorted(cur.modified)]
            ok = [r for r, f in zip(reverts, (yield from ask(reverts)), strict=True) if f]
            if not ok:
                break
            sims = yield from self._similarity(original, ok)
            cur = ok[int(np.argmax(sims))]
        # 3. refine: other synonyms at each swapped word, kept when adversarial and more similar
        if self.encoder is None:
            return cur
        (best,) = yield from self._similarity(original, [cur])
        for _ in range(self.refine_rounds):
            improved = False
            for i in sorted(cur.modified):
                alts = [cur.replace(i, w) for w in synonyms[i] if w != cur.words[i]]
                if not alts or budget[0] < len(alts):
                    continue
                ok = [a for a, f in zip(alts, (yield from ask(alts)), strict=True) if f]
                if not ok:
                    continue
                sims = yield from self._similarity(original, ok)
                k = int(np.argmax(sims))
                if sims[k] > best + 1e-9:
                    cur, best, improved = ok[k], float(sims[k]), True
            if not improved:
                break
        return cur

    def _similarity(self, original: AttackText, texts: list[AttackText]) -> Generator[Any, Any, list[float]]:
        """Cosine similarity of each text to the original (the sentence encoder, one batched call); without an
        encoder, minus the number of swapped words."""
        if self.encoder is None:
            return [-float(len(t.modified)) for t in texts]
        vecs = yield BatchCall(self.encoder, [original.text] + [t.text for t in texts])
        a = np.asarray(vecs, dtype=np.float64)
        a /= np.linalg.norm(a, axis=1, keepdims=True) + 1e-12
        return (a[1:] @ a[0]).tolist()


__all__ = ["HardLabelSearch", "revert"]
