"""One unit's training: build its training set (augmentation, LM-generated rows, offline adversarial examples;
cached under a fingerprint), then fine-tune a fresh model (online adversarial training hooks into ``fit``)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..data import LabeledData, atomic_path
from ..errors import ConfigError
from .evaluations.base import MetricInfo
from .fingerprint import digest
from .spec import AdversarialSpec, AugmentSpec, Experiment, GenerateSpec, resolve_path

log = logging.getLogger(__name__)

SAMPLE_ROWS = 50  # augmented / generated rows kept per unit for the report

#: The metrics every unit reports about its training.
TRAIN_METRICS = [
    MetricInfo(
        "train",
        "train_seconds",
        "training time (s), incl. building the training set",
        unit="seconds",
        range=(0, None),
        higher_is_better=False,
        headline=True,
        role="info",
        kind="train",
        group="train",
        timing=True,
    ),
    MetricInfo(
        "train",
        "train_size",
        "training examples (incl. added rows)",
        unit="count",
        range=(0, None),
        higher_is_better=None,
        role="info",
        kind="train",
        group="train",
    ),
]


def new_model(exp: Experiment, labels: list[str], seed: int) -> Any:
    """A fresh, unfitted classifier for this experiment (same seed = same initial head)."""
    from ..models import TextClassifier, TrainConfig
    from .resources import model_path

    m = exp.model
    return TextClassifier(
        model_path(m.name),
        labels=labels,
        max_length=m.max_length,
        batch_size=m.batch_size,
        max_tokens=m.max_tokens,
        device=m.device,
        seed=seed,
        train_config=TrainConfig(**m.train.model_dump(), seed=seed),
    )


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        f.writelines(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in rows)


def _cached_frame(path: Path, make: Callable[[], Any]) -> Any:
    """A parquet cache: read ``path`` if present, else ``make()`` a DataFrame and write it atomically."""
    import pandas as pd

    if path.exists():
        return pd.read_parquet(path)
    frame = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)
    return frame


def augment_pipeline(spec: AugmentSpec, condition: str) -> tuple[list[Any], list[Any]]:
    """The operators (applied side by side, see :mod:`textrobust.augment.pipeline`) and filters of a condition's
    ``augment:``; bad specs fail here, before any training."""
    from ..augment import filter_from_spec, operators_from_config

    ops = operators_from_config(spec.ops, f"conditions.{condition}.augment.ops", meant="one_of", resolve=resolve_path)
    return ops, [filter_from_spec(f) for f in spec.filters]


def augmented_rows(
    spec: AugmentSpec, condition: str, train: LabeledData, seed: int, cache_dir: Path, out: Path
) -> LabeledData:
    """``spec.n`` variants per training row and operator (the rows ``textrobust augment`` would write), cached."""
    import pandas as pd

    from ..augment import augment_rows

    def make() -> Any:
        ops, filters = augment_pipeline(spec, condition)
        dropped: dict[str, int] = {}
        rows = augment_rows(train.texts, train.labels, ops, seed=seed, n=spec.n, filters=filters, dropped=dropped)
        for name, k in dropped.items():
            log.info("filter %s dropped %d variants", name, k)
        return pd.DataFrame(rows, columns=["text", "label", "source_index", "operator"])

    key = digest([digest([train.texts, train.labels]), spec.model_dump(), seed])
    frame = _cached_frame(cache_dir / f"augment-{key}.parquet", make)
    write_jsonl(
        out / "augmented_sample.jsonl",
        [
            {
                "operator": r.operator,
                "source_text": train.texts[r.source_index],
                "augmented_text": r.text,
                "label": train.label_names[r.label],
            }
            for r in frame.head(SAMPLE_ROWS).itertuples()
        ],
    )
    return LabeledData(frame.text.tolist(), [int(y) for y in frame.label], train.label_names)


def generated_rows(
    exp: Experiment, condition: str, gen: GenerateSpec, data: Any, seed: int, cache_dir: Path, out: Path, progress: bool
) -> LabeledData:
    """LAMBADA / few-shot rows for this unit (cached by training data, spec, model and seed)."""
    import pandas as pd

    from ..augment import fewshot_generate, filter_from_spec, lambada_generate

    train = data.train

    def make() -> Any:
        selector = None
        if gen.select:  # LAMBADA's filter: a classifier trained on the original training set
            selector = new_model(exp, train.label_names, seed).fit(train, data.validation, progress=progress)
        run = lambada_generate if gen.method == "lambada" else fewshot_generate
        kwargs = dict(gen.options)
        if gen.method == "lambada":
            kwargs.setdefault("progress", progress)
        try:
            made = run(
                train,
                model=resolve_path(gen.model),
                n_per_label=gen.n_per_label,
                seed=seed,
                device=exp.model.device,
                classifier=selector,
                min_confidence=gen.min_confidence,
                filters=[filter_from_spec(f, classifier=selector) for f in gen.filters],
                **kwargs,
            )
        except TypeError as exc:  # an unknown key in options
            raise ConfigError(f"conditions.{condition}.generate.options: {exc}") from None
        return pd.DataFrame({"text": made.texts, "label": made.labels})

    key = digest([digest([train.texts, train.labels]), gen.model_dump(), exp.model.model_dump(), seed])
    frame = _cached_frame(cache_dir / f"generate-{key}.parquet", make)
    write_jsonl(
        out / "generated_sample.jsonl",
        [
            {"method": gen.method, "text": r.text, "label": train.label_names[r.label]}
            for r in frame.head(SAMPLE_ROWS).itertuples()
        ],
    )
    return LabeledData(frame.text.tolist(), [int(y) for y in frame.label], train.label_names)


def offline_adversarial_rows(
    adv: AdversarialSpec,
    clf: Any,
    train: LabeledData,
    val: LabeledData | None,
    resources: dict[str, Any],
    seed: int,
    out: Path,
    progress: bool,
) -> LabeledData:
    """Train ``clf`` on clean data, attack a fraction of the training set, return the successes (true labels)."""
    from ..adversarial import adversarial_examples_for_training

    clf.fit(train, val, progress=progress)
    subset = train.sample(max(1, round(adv.fraction * len(train))), seed=seed)
    texts, labels = adversarial_examples_for_training(
        clf,
        adv.recipe,
        subset.texts,
        subset.labels,
        resources={**resources, **adv.options},
        query_budget=adv.query_budget,
        seed=seed,
        progress=progress,
    )
    write_jsonl(
        out / "augmented_sample.jsonl",
        [
            {
                "operator": f"adversarial:{adv.recipe}",
                "source_text": "",
                "augmented_text": t,
                "label": train.label_names[y],
            }
            for t, y in list(zip(texts, labels, strict=True))[:SAMPLE_ROWS]
        ],
    )
    log.info("%d adversarial training examples from %d attacked", len(texts), len(subset))
    return LabeledData(texts, [int(y) for y in labels], train.label_names)


def train_unit(ws: Any, condition: str, seed: int, out: Path, phase: Callable[[str], None]) -> tuple[Any, int]:
    """Build this unit's training set and fit a fresh model on it; returns ``(model, training-set size)``."""
    exp, data, cond = ws.exp, ws.data, ws.exp.conditions[condition]
    cache_dir = ws.run_dir / "cache"
    train = data.train
    if cond.augment is not None:
        phase("augment")
        train = train.concat(augmented_rows(cond.augment, condition, data.train, seed, cache_dir, out))
    if cond.generate is not None:
        phase("generate")
        train = train.concat(generated_rows(exp, condition, cond.generate, data, seed, cache_dir, out, ws.progress))
    clf = new_model(exp, data.train.label_names, seed)
    callback = None
    adv = cond.adversarial
    if adv and adv.mode == "offline":
        phase("adversarial examples")
        train = train.concat(
            offline_adversarial_rows(adv, clf, train, data.validation, ws.resources(), seed, out, ws.progress)
        )
        clf = clf.clone()
    elif adv:
        from ..adversarial import make_online_callback

        callback = make_online_callback(
            adv.recipe,
            adv.fraction,
            adv.every_k_epochs,
            seed=seed,
            resources={**ws.resources(), **adv.options},
            query_budget=adv.query_budget,
        )
    phase("train")
    clf.fit(train, data.validation, epoch_callback=callback, progress=ws.progress)
    return clf, len(train)
