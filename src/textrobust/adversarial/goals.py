"""Goal functions: what counts as a successful attack, and how close a candidate is.

Goals are stateless: ``score(probs, label)`` (higher is closer to the goal) and ``done(probs, label)`` take one
probability row or a 2-D array of rows. The query budget is enforced by the runner, not here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from textrobust.errors import ConfigError


@dataclass(frozen=True)
class UntargetedClassification:
    """Succeed when the predicted label differs from the true one (with ``1 - p[true] >= min_confidence``)."""

    requires_gradients: ClassVar[bool] = False

    min_confidence: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_confidence < 1.0:
            raise ConfigError(f"min_confidence must be in [0, 1), got {self.min_confidence}")

    def score(self, probs: np.ndarray, label: int) -> np.ndarray:
        return 1.0 - np.asarray(probs)[..., label]

    def done(self, probs: np.ndarray, label: int) -> np.ndarray:
        probs = np.asarray(probs)
        ok = probs.argmax(axis=-1) != label
        if self.min_confidence > 0:
            ok &= (1.0 - probs[..., label]) >= self.min_confidence
        return ok


@dataclass(frozen=True)
class TargetedClassification:
    """Succeed when the model predicts ``target`` (with ``p[target] >= min_confidence``)."""

    requires_gradients: ClassVar[bool] = False

    target: int
    min_confidence: float = 0.0

    def __post_init__(self) -> None:
        if self.target < 0:
            raise ConfigError(f"target must be a label index >= 0, got {self.target}")
        if not 0.0 <= self.min_confidence < 1.0:
            raise ConfigError(f"min_confidence must be in [0, 1), got {self.min_confidence}")

    def score(self, probs: np.ndarray, label: int) -> np.ndarray:
        return np.asarray(probs)[..., self.target]

    def done(self, probs: np.ndarray, label: int) -> np.ndarray:
        probs = np.asarray(probs)
        ok = probs.argmax(axis=-1) == self.target
        if self.min_confidence > 0:
            ok &= probs[..., self.target] >= self.min_confidence
        return ok


@dataclass(frozen=True)
class LabelFlip:
    """Label-only (decision-based) untargeted goal: succeed when the predicted label differs from the true one.

    It reads nothing but the predicted label (``argmax``): the score is 1 on success and 0 otherwise, so a search
    driven by it works against a model that answers labels only (an API, a guardrail). ``label_only`` tells
    :class:`~textrobust.adversarial.attack.Attack` so.

    Example:
        >>> LabelFlip().score(np.array([[0.9, 0.1], [0.2, 0.8]]), 0).tolist()
        [0.0, 1.0]
    """

    requires_gradients: ClassVar[bool] = False
    label_only: ClassVar[bool] = True

    def score(self, probs: np.ndarray, label: int) -> np.ndarray:
        return self.done(probs, label).astype(float)

    def done(self, probs: np.ndarray, label: int) -> np.ndarray:
        return np.asarray(np.asarray(probs).argmax(axis=-1) != label)
