"""Adversarial training helpers: offline attack samples and an online (A2T-style) ``fit`` epoch callback."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from textrobust.adversarial.attack import Attack
from textrobust.adversarial.lockstep import run_attack
from textrobust.adversarial.search import GreedyWordSwapWIR
from textrobust.errors import ConfigError

log = logging.getLogger(__name__)

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


def _training_data_views(model: Any, resources: dict[str, Any], enabled: bool | None) -> tuple[Any, dict[str, Any]]:
    """The victim and model-backed resources as views that infer in the runtime's training-data precision
    (:meth:`~textrobust.models.runtime.Runtime.for_training_data`: bf16 on CPUs that compute it natively when the
    precision is ``auto``; the attacks here only produce training data, and MiniLM ran ~3x faster there). The views
    share the weights; nothing is mutated. ``enabled=False`` keeps every model as it is; ``True`` asks for bf16."""
    if enabled is False:
        return model, resources

    def view(m: Any) -> Any:
        rt = getattr(m, "runtime", None)
        if rt is None or not hasattr(m, "with_runtime"):
            return m
        fast = rt.replace(precision="bf16") if enabled and not rt.on_cuda else rt.for_training_data()
        return m if fast == rt else m.with_runtime(fast)

    return view(model), {k: view(v) for k, v in resources.items()}


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
    judge: Any = None,
    tally: dict[str, int] | None = None,
) -> tuple[list[str], list[Any]]:
    """Attack ``texts`` and return the successful adversarial texts paired with their TRUE labels.

    ``judge`` (a :class:`~textrobust.adversarial.validity.Judge`; ``validity: judge``): keep only the successes the
    judge says still carry their true label (abstentions dropped), so training is not taught labels the edit
    flipped. ``tally`` (a dict) receives ``successes`` and ``kept`` counts.

    ``lazy_constraints`` (greedy searches): check the sentence encoder only on improving candidates, best first
    (same examples, fewer encoder calls, more model queries: it pays when the encoder costs more than the victim;
    with MiniLM as both it broke even). ``model_batch_size``: texts per victim-model call (default: the model's
    own). ``cpu_bf16``: bf16 autocast for the victim and encoder on CPU while attacking (None: where the CPU
    has native bf16).

    Example:
        >>> extra_x, extra_y = adversarial_examples_for_training(model, "deepwordbug", xs, ys)  # doctest: +SKIP
    """
    model, resources = _training_data_views(model, resources or {}, cpu_bf16)
    attack = _make_attack(model, recipe, resources, lazy_constraints)
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
    if judge is not None and wins:
        from textrobust.adversarial.assess import keep_valid

        kept, _ = keep_valid(
            [r.perturbed_text for r in wins], [r.original_text for r in wins], [r.label for r in wins], judge
        )
        log.info("validity judge kept %d of %d adversarial training examples", int(kept.sum()), len(wins))
        wins = [r for r, k in zip(wins, kept, strict=True) if k]
    if tally is not None:
        tally["successes"] = tally.get("successes", 0) + len(report.successful())
        tally["kept"] = tally.get("kept", 0) + len(wins)
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
    judge: Any = None,
    tally: dict[str, int] | None = None,
) -> Callable[[Any, int, Sequence[str], Sequence[Any]], tuple[list[str], list[Any]]]:
    """An epoch callback for ``TextClassifier.fit(..., epoch_callback=...)`` (A2T-style online training).

    ``callback(model, epoch, train_texts, train_labels) -> (extra_texts, extra_labels)``: on epochs ``>= 1``
    that are multiples of ``every_k_epochs`` it attacks a random ``fraction`` of the training set with the
    current model (sample drawn from ``seed`` and the epoch) and returns the successful adversarial texts with
    their true labels (only those a ``judge`` keeps, when one is given); otherwise it returns empty lists.

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
            judge=judge,
            tally=tally,
        )

    return callback


def adversarial_fit(
    clf: Any,
    train: Any,
    eval: Any = None,
    *,
    recipe: RecipeLike,
    mode: str = "online",
    fraction: float = 0.2,
    every_k_epochs: int = 1,
    resources: dict[str, Any] | None = None,
    query_budget: int | None = None,
    seed: int = 0,
    progress: bool = False,
    phase: Callable[[str], None] = lambda name: None,
    on_progress: Callable[[str], None] | None = None,
    judge: Any = None,
    tally: dict[str, int] | None = None,
) -> Any:
    """Fit ``clf`` with adversarial training; returns the adversarial rows added to its training set.

    ``online`` (A2T-style): before every ``every_k_epochs``-th epoch after the first, a random ``fraction`` of the
    training set is attacked with the model being trained and the successes join that epoch
    (:func:`make_online_callback`); no rows are returned. ``offline``: a copy of ``clf`` is trained on clean
    data, a ``fraction`` of the training set is attacked, and ``clf`` is trained on the training set plus the
    successful adversarial examples (with their true labels), which are returned. The CLI's ``train
    --adversarial`` and the experiment runner both train this way. ``phase`` hears each step's name, ``on_progress``
    where the training of each step is (``epoch 2/3 · 41%``). ``judge`` (``validity: judge``): only the adversarial
    examples the judge keeps are trained on, in both modes; ``tally`` counts successes and kept ones.

    Example:
        >>> added = adversarial_fit(clf, train, recipe="a2t", mode="offline", resources=res)  # doctest: +SKIP
    """
    from textrobust.data import LabeledData

    if mode not in ("online", "offline"):
        raise ConfigError(f"adversarial mode must be online or offline, got '{mode}'")
    resources = resources or {}
    if mode == "online":
        callback = make_online_callback(
            recipe,
            fraction,
            every_k_epochs,
            seed=seed,
            resources=resources,
            query_budget=query_budget,
            judge=judge,
            tally=tally,
        )
        phase("train")
        clf.fit(train, eval, epoch_callback=callback, progress=progress, on_progress=on_progress)
        return LabeledData([], [], train.label_names)
    if not 0 < fraction <= 1:
        raise ConfigError(f"fraction must be in (0, 1], got {fraction}")
    phase("adversarial examples")
    clean = clf.clone().fit(train, eval, progress=progress, on_progress=on_progress)
    subset = train.sample(max(1, round(fraction * len(train))), seed=seed)
    texts, labels = adversarial_examples_for_training(
        clean,
        recipe,
        subset.texts,
        subset.labels,
        resources=resources,
        query_budget=query_budget,
        seed=seed,
        progress=progress,
        judge=judge,
        tally=tally,
    )
    added = LabeledData(texts, [int(y) for y in labels], train.label_names)
    phase("train")
    clf.fit(train.concat(added), eval, progress=progress, on_progress=on_progress)
    return added
