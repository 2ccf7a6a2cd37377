"""What a search generator yields to the runner.

A search is sequential code that ``yield``s one request at a time and receives its answer; the runner collects the
requests of all active examples and answers each kind with one batched call:

* :class:`ModelQuery` -> ``np.ndarray[n, k]`` of class probabilities (counted against the query budget);
* :class:`BatchCall` -> a list with one result per input, from a batched backend such as a sentence encoder or a
  masked LM (not counted as model queries). Inputs must be hashable: results are cached per backend for the run.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from textrobust.adversarial.text import AttackText


class BatchBackend(Protocol):
    """Anything called with a list of hashable inputs that returns one result per input."""

    def __call__(self, inputs: list[Any], /) -> Sequence[Any]: ...


@dataclass(frozen=True)
class ModelQuery:
    """Score these states with the victim model (plain strings: probes that are not attack states, e.g. a text
    with one word deleted for ranking)."""

    states: Sequence[AttackText | str]


@dataclass(frozen=True)
class BatchCall:
    """Run ``backend`` on ``inputs`` (batched with other examples' calls to the same backend object)."""

    backend: BatchBackend
    inputs: Sequence[Hashable]
