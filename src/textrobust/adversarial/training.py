"""Adversarial training helpers: offline attack samples and an online (A2T-style) ``fit`` epoch callback."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from textrobust.adversarial.attack import Attack
from textrobust.adversarial.runner import run_attack
from textrobust.errors import ConfigError

RecipeLike = str | Callable[[Any], Attack] | Attack


def _make_attack(model: Any, recipe: RecipeLike, resources: dict[str, Any]) -> Attack:
    if isinstance(recipe, Attack):
        return recipe
    if isinstance(recipe, str):
        from textrobust.adversarial.recipes import build_attack

        return build_attack(recipe, model, **resources)
    if callable(recipe):
        return recipe(model, **resources)
    raise ConfigError(f"recipe must be a recipe name, a callable model -> Attack or an Attack, got {recipe!r}")


def adversarial_examples_for_training(model: Any, recipe: RecipeLike, texts: Sequence[str], labels: Sequence[Any],
                                      *, resources: dict[str, Any] | None = None, batch_size: int = 256,
                                      query_budget: int | None = None, seed: int = 0,
                                      progress: bool = False) -> tuple[list[str], list[Any]]:
    """Attack ``texts`` and return the successful adversarial texts paired with their TRUE labels.

    Example:
        >>> extra_x, extra_y = adversarial_examples_for_training(model, "deepwordbug", xs, ys)  # doctest: +SKIP
    """
    attack = _make_attack(model, recipe, resources or {})
    report = run_attack(attack, texts, labels, batch_size=batch_size, query_budget=query_budget, seed=seed,
                        progress=progress)
    wins = report.successful()
    return [r.perturbed_text for r in wins], [labels[r.index] for r in wins]


def make_online_callback(recipe_fn: RecipeLike, fraction: float = 0.2, every_k_epochs: int = 1, seed: int = 0,
                         *, resources: dict[str, Any] | None = None, query_budget: int | None = None,
                         batch_size: int = 256) -> Callable[[Any, int, Sequence[str], Sequence[Any]],
                                                           tuple[list[str], list[Any]]]:
    """An epoch callback for ``TextClassifier.fit(..., epoch_callback=...)`` (A2T-style online training).

    ``callback(model, epoch, train_texts, train_labels) -> (extra_texts, extra_labels)``: on epochs ``>= 1``
    that are multiples of ``every_k_epochs`` it attacks a random ``fraction`` of the training set with the
    current model (sample drawn from ``seed`` and the epoch) and returns the successful adversarial texts with
    their true labels; otherwise it returns empty lists.

    Example:
        >>> cb = make_online_callback(lambda m: a2t(m, neighbours=nb, encoder=enc), fraction=0.2)  # doctest: +SKIP
        >>> clf.fit(train, epoch_callback=cb)  # doctest: +SKIP
    """
    if not 0 < fraction <= 1:
        raise ConfigError(f"fraction must be in (0, 1], got {fraction}")
    if every_k_epochs < 1:
        raise ConfigError(f"every_k_epochs must be >= 1, got {every_k_epochs}")

    def callback(model: Any, epoch: int, train_texts: Sequence[str],
                 train_labels: Sequence[Any]) -> tuple[list[str], list[Any]]:
        if epoch < 1 or epoch % every_k_epochs or not train_texts:
            return [], []
        rng = np.random.default_rng([seed, epoch])
        n = max(1, round(fraction * len(train_texts)))
        idx = np.sort(rng.choice(len(train_texts), size=n, replace=False))
        return adversarial_examples_for_training(
            model, recipe_fn, [train_texts[i] for i in idx], [train_labels[i] for i in idx],
            resources=resources, batch_size=batch_size, query_budget=query_budget, seed=seed + epoch)

    return callback
