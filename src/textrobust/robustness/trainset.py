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
from ..layout import UnitLayout
from .evaluations.base import MetricInfo
from .fingerprint import digest
from .spec import AugmentSpec, Experiment, GenerateSpec, resolve_path

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


def new_model(exp: Experiment, labels: list[str], seed: int, runtime: Any = None) -> Any:
    """A fresh, unfitted classifier for this experiment (same seed = same initial head): a fine-tuned transformer,
    or with ``model.name: embedding:use-m`` (``embedding:e5``, ...) a head on frozen multilingual embeddings."""
    from ..models import TextClassifier, TrainConfig
    from ..models.embedding import EmbeddingClassifier, parse_embedding_name
    from .resources import model_path

    m = exp.model
    emb = parse_embedding_name(m.name)
    if emb is not None:
        config = TrainConfig(**m.train.model_dump(), seed=seed)
        return EmbeddingClassifier(**emb, labels=labels, seed=seed, train_config=config, runtime=runtime or m.runtime())
    return TextClassifier(
        model_path(m.name),
        labels=labels,
        max_length=m.max_length,
        batch_size=m.batch_size,
        seed=seed,
        train_config=TrainConfig(**m.train.model_dump(), seed=seed),
        runtime=runtime or m.runtime(),
    )


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        f.writelines(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in rows)


def cached_frame(path: Path, make: Callable[[], Any]) -> Any:
    """A parquet cache: read ``path`` if present, else ``make()`` a DataFrame and write it atomically."""
    import pandas as pd

    if path.exists():
        return pd.read_parquet(path)
    frame = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)
    return frame


def augment_pipeline(
    spec: AugmentSpec, condition: str, runtime: Any = None, lang: str | None = None
) -> tuple[list[Any], list[Any]]:
    """The operators (applied side by side, see :mod:`textrobust.augment.pipeline`) and filters of a condition's
    ``augment:``, their models run as ``runtime`` says, bound to the data's language ``lang`` when given; bad specs
    and operators or filters that do not support the language fail here, before any training."""
    from ..augment import filter_from_spec, operators_from_config
    from ..augment.filters import check_filter_language

    where = f"conditions.{condition}.augment.ops"
    ops = operators_from_config(spec.ops, where, meant="one_of", resolve=resolve_path, runtime=runtime)
    filters = [filter_from_spec(f, runtime=runtime) for f in spec.filters]
    if lang is not None:
        ops = [op.for_language(lang) for op in ops]
        for f in filters:
            check_filter_language(f, lang)
    return ops, filters


def augmented_rows(
    spec: AugmentSpec,
    condition: str,
    train: LabeledData,
    seed: int,
    cache_dir: Path,
    out: UnitLayout,
    runtime: Any = None,
    lang: str | None = None,
) -> LabeledData:
    """``spec.n`` variants per training row and operator (the rows ``textrobust augment`` would write), cached."""
    import pandas as pd

    from ..augment import augment_rows

    def make() -> Any:
        ops, filters = augment_pipeline(spec, condition, runtime, lang)
        dropped: dict[str, int] = {}
        rows = augment_rows(train.texts, train.labels, ops, seed=seed, n=spec.n, filters=filters, dropped=dropped)
        for name, k in dropped.items():
            log.info("filter %s dropped %d variants", name, k)
        return pd.DataFrame(rows, columns=["text", "label", "source_index", "operator"])

    key = digest([digest([train.texts, train.labels]), spec.model_dump(), seed] + ([lang] if lang else []))
    frame = cached_frame(cache_dir / f"augment-{key}.parquet", make)
    write_jsonl(
        out.augmented_sample,
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
    exp: Experiment,
    condition: str,
    gen: GenerateSpec,
    data: Any,
    seed: int,
    cache_dir: Path,
    out: UnitLayout,
    progress: bool,
    runtime: Any = None,
) -> LabeledData:
    """LAMBADA / few-shot rows for this unit (cached by training data, spec, model and seed)."""
    import pandas as pd

    from ..augment import fewshot_generate, filter_from_spec, lambada_generate

    train = data.train

    def make() -> Any:
        selector = None
        if gen.select:  # LAMBADA's filter: a classifier trained on the original training set
            selector = new_model(exp, train.label_names, seed, runtime).fit(train, data.validation, progress=progress)
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
                runtime=runtime or exp.model.runtime(),
                classifier=selector,
                min_confidence=gen.min_confidence,
                filters=[filter_from_spec(f, runtime=runtime, classifier=selector) for f in gen.filters],
                **kwargs,
            )
        except TypeError as exc:  # an unknown key in options
            raise ConfigError(f"conditions.{condition}.generate.options: {exc}") from None
        return pd.DataFrame({"text": made.texts, "label": made.labels})

    key = digest([digest([train.texts, train.labels]), gen.model_dump(), exp.model.model_dump(), seed])
    frame = cached_frame(cache_dir / f"generate-{key}.parquet", make)
    write_jsonl(
        out.generated_sample,
        [
            {"method": gen.method, "text": r.text, "label": train.label_names[r.label]}
            for r in frame.head(SAMPLE_ROWS).itertuples()
        ],
    )
    return LabeledData(frame.text.tolist(), [int(y) for y in frame.label], train.label_names)


def write_adversarial_sample(out: UnitLayout, recipe: str, added: LabeledData) -> None:
    """The first rows offline adversarial training added, for the report."""
    rows = [
        {"operator": f"adversarial:{recipe}", "source_text": "", "augmented_text": t, "label": added.label_names[y]}
        for t, y in list(zip(added.texts, added.labels, strict=True))[:SAMPLE_ROWS]
    ]
    write_jsonl(out.augmented_sample, rows)


def train_unit(
    ws: Any,
    condition: str,
    seed: int,
    out: UnitLayout,
    phase: Callable[[str], None],
    on_progress: Callable[[str], None] | None = None,
) -> tuple[Any, int]:
    """Build this unit's training set and fit a fresh model on it; returns ``(model, training-set size)``.
    ``phase`` hears each step's name (augment, train, ...), ``on_progress`` where training is (``epoch 2/3 · 41%``).

    Offline adversarial training adds its adversarial examples to the training set (returned size includes them);
    online adversarial training adds them per epoch (not counted). Both are
    :func:`textrobust.adversarial.adversarial_fit`, as ``textrobust train --adversarial`` is.
    """
    exp, data, cond, runtime = ws.exp, ws.data, ws.exp.conditions[condition], ws.runtime
    cache_dir = ws.layout.cache
    train = data.train
    if cond.augment is not None:
        phase("augment")
        rows = augmented_rows(cond.augment, condition, data.train, seed, cache_dir, out, runtime, ws.lang)
        train = train.concat(rows)
    if cond.targeted is not None:
        from .targeted import targeted_rows

        phase("targeted rows")
        train = train.concat(targeted_rows(ws, condition, cond.targeted, seed, out))
    if cond.generate is not None:
        phase("generate")
        rows = generated_rows(exp, condition, cond.generate, data, seed, cache_dir, out, ws.progress, runtime)
        train = train.concat(rows)
    clf = new_model(exp, data.train.label_names, seed, runtime)
    adv = cond.adversarial
    if adv is None:
        phase("train")
        clf.fit(train, data.validation, progress=ws.progress, on_progress=on_progress)
        return clf, len(train)
    from ..adversarial import adversarial_fit

    judge = None
    if adv.validity == "judge":
        from ..adversarial.validity import build_judge

        spec = adv.judge
        key = ("judge", spec.model_dump_json())
        if key not in ws.cache:  # one judge per run, shared by its units
            ws.cache[key] = build_judge(spec, data.train.label_names, runtime)
        judge = ws.cache[key]
    tally: dict[str, int] = {}
    added = adversarial_fit(
        clf,
        train,
        data.validation,
        recipe=adv.recipe,
        mode=adv.mode,
        fraction=adv.fraction,
        every_k_epochs=adv.every_k_epochs,
        resources={**ws.resources(), **adv.options},
        query_budget=adv.query_budget,
        seed=seed,
        progress=ws.progress,
        phase=phase,
        on_progress=on_progress,
        judge=judge,
        tally=tally,
    )
    if judge is not None:
        log.info("validity judge kept %s of %s adversarial examples", tally.get("kept"), tally.get("successes"))
    if adv.mode == "offline":
        write_adversarial_sample(out, adv.recipe, added)
        log.info("%d adversarial training examples added", len(added))
    return clf, len(train) + len(added)
