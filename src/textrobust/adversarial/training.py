"""Adversarial training helpers: offline attack samples and an online (A2T-style) ``fit`` epoch callback."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from textrobust.adversarial.attack import Attack
from textrobust.adversarial.lockstep import run_attack
from textrobust.adversarial.search import GreedyWordSwapWIR
from textrobust.errors import ConfigError

RecipeLike = str | Callable[[Any], Attack] | Attack


def _make_attack(model: Any, recipe: RecipeLike, resources: dict[str, Any], lazy_constraints: bool) -> Attack:
    if isinstance(recipe, Attack):
        attack = recipe
    elif isinstance(recipe, str):
        from textrobust.adversarial.recipes import build_attack

        attack = build_attack(recipe, model, **resources)
    elif callable(recipe):
        attack = recipe(model, **resources)
    else:
        raise ConfigError(f"recipe must be a recipe name, a callable model -> Attack or an Attack, got {recipe!r}")
    if lazy_constraints and isinstance(attack.search, GreedyWordSwapWIR):
        # Same adversarial examples, far fewer sentence-encoder calls; only query counts change (see the class).
        attack = replace(attack, search=replace(attack.search, lazy_constraints=True))
    return attack


@contextlib.contextmanager
def _fast_inference(model: Any, resources: dict[str, Any], enabled: bool | None) -> Iterator[None]:
    """bf16 autocast on CPU for the victim and the sentence encoder(s) while attacking, then restored.

    ``enabled=None`` turns it on where the CPU has native bf16: the attacks here only produce training data, and
    on such a CPU MiniLM inference ran ~3x faster (outputs move by ~1e-3, so a few borderline swaps differ).
    """
    if enabled is None:
        from textrobust.models.classifier import cpu_has_fast_bf16

        enabled = cpu_has_fast_bf16()
    targets = [m for m in (model, *resources.values()) if hasattr(m, "cpu_bf16")] if enabled else []
    before = [m.cpu_bf16 for m in targets]
    for m in targets:
        m.cpu_bf16 = True
    try:
        yield
    finally:
        for m, b in zip(targets, before, strict=True):
            m.cpu_bf16 = b


def adversarial_examples_for_training(
    model: Any,
    recipe: RecipeLike,
    texts: Sequence[str],
    labels: Sequence[Any],
    *,
    resources: dict[str, Any] | None = None,
    batch_size: int | None = None,
    query_budget: int | None = None,
    seed: int = 0,
    progress: bool = False,
    lazy_constraints: bool = False,
    model_batch_size: int | None = None,
    cpu_bf16: bool | None = None,
) -> tuple[list[str], list[Any]]:
    """Attack ``texts`` and return the successful adversarial texts paired with their TRUE labels.

    ``lazy_constraints`` (greedy searches): check the sentence encoder only on improving candidates, best first
    (same examples, fewer encoder calls, more model queries: it pays when the encoder costs more than the victim;
    with MiniLM as both it broke even). ``model_batch_size``: texts per victim-model call (default: the model's
    own). ``cpu_bf16``: bf16 autocast for the victim and encoder on CPU while attacking (None: where the CPU
    has native bf16).

    Example:
        >>> extra_x, extra_y = adversarial_examples_for_training(model, "deepwordbug", xs, ys)  # doctest: +SKIP
    """
    attack = _make_attack(model, recipe, resources or {}, lazy_constraints)
    with _fast_inference(model, resources or {}, cpu_bf16):
        report = run_attack(
            attack,
            texts,
            labels,
            batch_size=batch_size,
            query_budget=query_budget,
            seed=seed,
            progress=progress,
            model_batch_size=model_batch_size,
        )
    wins = report.successful()
    return [r.perturbed_text for r in wins], [labels[r.index] for r in wins]


def make_online_callback(
    recipe_fn: RecipeLike,
    fraction: float = 0.2,
    every_k_epochs: int = 1,
    seed: int = 0,
    *,
    resources: dict[str, Any] | None = None,
    query_budget: int | None = None,
    batch_size: int | None = None,
    lazy_constraints: bool = False,
    model_batch_size: int | None = None,
    cpu_bf16: bool | None = None,
) -> Callable[[Any, int, Sequence[str], Sequence[Any]], tuple[list[str], list[Any]]]:
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

    def callback(
        model: Any, epoch: int, train_texts: Sequence[str], train_labels: Sequence[Any]
    ) -> tuple[list[str], list[Any]]:
        if epoch < 1 or epoch % every_k_epochs or not train_texts:
            return [], []
        rng = np.random.default_rng([seed, epoch])
        n = max(1, round(fraction * len(train_texts)))
        idx = np.sort(rng.choice(len(train_texts), size=n, replace=False))
        return adversarial_examples_for_training(
            model,
            recipe_fn,
            [train_texts[i] for i in idx],
            [train_labels[i] for i in idx],
            resources=resources,
            batch_size=batch_size,
            query_budget=query_budget,
            seed=seed + epoch,
            lazy_constraints=lazy_constraints,
            model_batch_size=model_batch_size,
            cpu_bf16=cpu_bf16,
        )

    return callback
