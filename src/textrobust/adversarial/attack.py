"""The attack: a frozen composition of model, transformation, constraints, goal and search.

The four roles are :class:`typing.Protocol` s (:class:`Goal`, :class:`Transformation`, :class:`PreConstraint` /
:class:`PostConstraint`, :class:`Search`); each part declares ``requires_gradients``, and :class:`Attack` refuses a
part that needs gradients when the victim does not declare ``supports_gradients`` (a model behind HTTP). A victim
that declares ``label_only`` (an endpoint without scores) is refused unless the goal and the search declare
``label_only`` too (:class:`~textrobust.adversarial.goals.LabelFlip`, the hard-label search).
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from textrobust.adversarial.goals import UntargetedClassification
from textrobust.adversarial.text import WORDS, AttackText, Segmenter
from textrobust.errors import ConfigError

if TYPE_CHECKING:
    from textrobust.adversarial.results import AttackReport


@runtime_checkable
class Goal(Protocol):
    """What counts as success: ``score`` (higher = closer to the goal) and ``done``, per row of probabilities."""

    @property
    def requires_gradients(self) -> bool: ...

    def score(self, probs: np.ndarray, label: int) -> np.ndarray: ...

    def done(self, probs: np.ndarray, label: int) -> np.ndarray: ...


@runtime_checkable
class Transformation(Protocol):
    """Candidate edits of ``text`` at ``indices`` (a generator that may yield batched backend calls)."""

    @property
    def requires_gradients(self) -> bool: ...

    def generate(
        self, text: AttackText, indices: Sequence[int], rng: np.random.Generator
    ) -> Generator[Any, Any, list[AttackText]]: ...


@runtime_checkable
class PreConstraint(Protocol):
    """Word indices that may be changed (None: no restriction), checked before transforming."""

    @property
    def requires_gradients(self) -> bool: ...

    def allowed(self, original: AttackText, current: AttackText) -> set[int] | None: ...


@runtime_checkable
class PostConstraint(Protocol):
    """The candidates that pass (a generator that may yield batched backend calls), checked after transforming."""

    @property
    def requires_gradients(self) -> bool: ...

    def filter(
        self, original: AttackText, current: AttackText, candidates: list[AttackText]
    ) -> Generator[Any, Any, list[AttackText]]: ...


@runtime_checkable
class Search(Protocol):
    """The search: sequential generator code that yields model queries and backend calls, returns the final text."""

    @property
    def requires_gradients(self) -> bool: ...

    def run(
        self, attack: Attack, original: AttackText, label: int, orig_probs: np.ndarray, rng: np.random.Generator
    ) -> Generator[Any, Any, AttackText]: ...


_ROLES: tuple[tuple[str, type], ...] = (
    ("transformation", Transformation),
    ("search", Search),
    ("goal", Goal),
)


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
    transformation: Transformation
    search: Search
    goal: Goal = field(default_factory=UntargetedClassification)
    pre_constraints: tuple[PreConstraint, ...] = ()
    post_constraints: tuple[PostConstraint, ...] = ()
    name: str = "custom"
    #: The units it edits (words; for Chinese, jieba words or characters) and the languages it supports
    #: (:mod:`textrobust.lang`; registered recipes get theirs from ``RECIPE_LANGUAGES``).
    segmenter: Segmenter = WORDS
    languages: tuple[str, ...] = ("*",)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pre_constraints", tuple(self.pre_constraints))
        object.__setattr__(self, "post_constraints", tuple(self.post_constraints))
        parts: list[tuple[str, Any, type]] = [(role, getattr(self, role), proto) for role, proto in _ROLES]
        parts += [("pre_constraints", c, PreConstraint) for c in self.pre_constraints]
        parts += [("post_constraints", c, PostConstraint) for c in self.post_constraints]
        for role, part, proto in parts:
            if not isinstance(part, proto):
                raise ConfigError(
                    f"attack {self.name!r}: {type(part).__name__} is not a {proto.__name__} for {role} (it needs "
                    f"requires_gradients and the {proto.__name__} methods; see textrobust.adversarial.attack)"
                )
        if getattr(self.model, "label_only", False):
            scored = [type(p).__name__ for p in (self.goal, self.search) if not getattr(p, "label_only", False)]
            if scored:
                raise ConfigError(
                    f"attack {self.name!r}: {', '.join(scored)} reads the victim's scores, but {self.model!r} answers "
                    "labels only (no logprobs); use the label-only recipe hardlabel"
                )
        needs = [type(part).__name__ for _, part, _ in parts if part.requires_gradients]
        if needs and not getattr(self.model, "supports_gradients", False):
            raise ConfigError(
                f"attack {self.name!r}: {', '.join(needs)} needs the victim's gradients, but "
                f"{type(self.model).__name__} does not expose them (a model behind HTTP, or any model without "
                "supports_gradients); choose a score-based recipe such as textfooler or deepwordbug"
            )

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

    def check_language(self, texts: Sequence[str], lang: str | None = None) -> str:
        """The texts' language (``lang``, else detected), refused with a one-line
        :class:`~textrobust.errors.LanguageError` when this attack does not support it."""
        from textrobust import lang as _lang

        code = _lang.resolve(texts, lang)
        _lang.check_supported(f"attack {self.name!r}", code, self.languages, _recipe_hint(code))
        return code

    def run(self, texts: Sequence[str], labels: Sequence[int], **kw: Any) -> AttackReport:
        """Shortcut for :func:`textrobust.adversarial.lockstep.run_attack`."""
        from textrobust.adversarial.lockstep import run_attack

        return run_attack(self, texts, labels, **kw)


def _recipe_hint(code: str) -> str:
    return "for Chinese use the zh_char or zh_word recipe" if code == "zh" else ""
