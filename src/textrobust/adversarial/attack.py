"""The attack: a frozen composition of model, transformation, constraints, goal and search."""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from textrobust.adversarial.goals import UntargetedClassification
from textrobust.adversarial.text import AttackText

if TYPE_CHECKING:
    from textrobust.adversarial.results import AttackReport


@dataclass(frozen=True)
class Attack:
    """transformation + constraints + goal + search, bound to a victim ``model``.

    ``model`` is anything with ``labels`` and ``predict_proba(texts, batch_size=None) -> ndarray[n, k]``
    (e.g. :class:`textrobust.models.TextClassifier`).

    Example:
        >>> attack = Attack(model, WordSwapSource(neighbours), GreedyWordSwapWIR("delete"),  # doctest: +SKIP
        ...                 pre_constraints=(RepeatModification(), StopwordModification(stop)))
        >>> report = attack.run(texts, labels)  # doctest: +SKIP
    """

    model: Any
    transformation: Any
    search: Any
    goal: Any = field(default_factory=UntargetedClassification)
    pre_constraints: tuple[Any, ...] = ()
    post_constraints: tuple[Any, ...] = ()
    name: str = "custom"

    def __post_init__(self) -> None:
        object.__setattr__(self, "pre_constraints", tuple(self.pre_constraints))
        object.__setattr__(self, "post_constraints", tuple(self.post_constraints))

    def modifiable_indices(self, original: AttackText, current: AttackText) -> list[int]:
        """Word indices that every pre-transformation constraint allows, ascending."""
        allowed = set(range(len(current)))
        for c in self.pre_constraints:
            ok = c.allowed(original, current)
            if ok is not None:
                allowed &= ok
        return sorted(allowed)

    def candidates(
        self,
        original: AttackText,
        current: AttackText,
        indices: Sequence[int] | None,
        rng: np.random.Generator,
        *,
        check: bool = True,
    ) -> Generator[Any, Any, list[AttackText]]:
        """Generator: transformed copies of ``current`` at ``indices`` (None: all allowed) that pass every
        constraint (with ``check=False``: the pre-transformation constraints only; see :meth:`passing`). May
        yield backend requests; use with ``yield from`` inside a search. ``rng`` is the example's generator (the
        runner seeds one per example from its ``seed``): random transformations draw from it, so there is no
        hidden default that would give every example the same draws."""
        allowed = self.modifiable_indices(original, current)
        if indices is not None:
            keep = set(allowed)
            allowed = [i for i in indices if i in keep]
        if not allowed:
            return []
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"Attack.candidates needs the example's numpy Generator as rng, got {rng!r}")
        cands = yield from self.transformation.generate(current, allowed, rng)
        if check:
            cands = yield from self.passing(original, current, cands)
        return cands

    def passing(
        self, original: AttackText, current: AttackText, cands: list[AttackText]
    ) -> Generator[Any, Any, list[AttackText]]:
        """Generator: the ``cands`` that pass every post-transformation constraint, in their order."""
        for constraint in self.post_constraints:
            if not cands:
                break
            cands = yield from constraint.filter(original, current, cands)
        return cands

    def run(self, texts: Sequence[str], labels: Sequence[int], **kw: Any) -> AttackReport:
        """Shortcut for :func:`textrobust.adversarial.lockstep.run_attack`."""
        from textrobust.adversarial.lockstep import run_attack

        return run_attack(self, texts, labels, **kw)
