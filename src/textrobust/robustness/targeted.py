"""Targeted training rows: one pool per failing category, built from the project's own perturbations, test-pack
templates and attacks (``textrobust fix`` plans them; a condition's ``targeted:`` block holds them).

* ``perturb`` — an INV suite's own perturbation (typos, character swaps, synonyms, case, punctuation, ...) applied
  to training rows, label kept: the invariance the suite tests, taught on texts the evaluation never sees (training
  and test rows are disjoint by the data split).
* ``templates`` — the test pack's templates of one capability. **Disjoint from the evaluation cases by
  construction**: the evaluation's cases are recomputed here with the same function and seed
  (:meth:`~textrobust.robustness.testpack.BehaviourPack.expand`), and every filling whose normalised text (case,
  spacing and trailing punctuation ignored) equals any text or perturbed text of any evaluation case of the pack is
  removed from the pool (:func:`evaluation_texts`, checked by ``tests/test_fix.py``). What is shared is the
  templates and lexicons: a gain on the MFT measures unseen fillings of the same templates, not new phrasings.
  DIR tests that perturb real texts (``data: test``) perturb training rows instead, where the direction keeps the
  label (``unchanged``: any row; ``not_decrease`` of label L: rows labelled L).
* ``attack`` — a recipe run offline on training rows against the trained model of another condition with the same
  seed (the baseline: ``textrobust fix`` keeps its models); successful adversarial texts join with their true labels.

Rows are drawn with the unit's seed; the pool of each part is cached under a fingerprint like augmented rows.
"""

from __future__ import annotations

import hashlib
import logging
import re
from typing import Any

import numpy as np

from ..data import LabeledData
from ..errors import ConfigError
from ..layout import UnitLayout
from .fingerprint import digest
from .spec import TargetedPart, TargetedSpec, resolve_path
from .testpack import BehaviourPack, _perturb_plain, load_pack

log = logging.getLogger(__name__)

SAMPLE_PER_PART = 10  # rows of each part kept in targeted_sample.jsonl for the report
_PUNCT = re.compile(r"[\s.!?,;:]+$")


def normalise(text: str) -> str:
    """What counts as "the same text" for disjointness: case, runs of spaces and trailing punctuation ignored.

    Example:
        >>> normalise("The film was  NOT good !") == normalise("the film was not good")
        True
    """
    return _PUNCT.sub("", " ".join(text.split()).casefold())


def evaluation_texts(pack: BehaviourPack, seed: int) -> set[str]:
    """Normalised texts (and perturbed texts) of every template case the pack's MFT and DIR evaluations score
    with ``seed``: what targeted rows must never contain."""
    cases = pack.expand("mft", seed=seed) + pack.expand("dir", seed=seed)
    return {normalise(t) for c in cases for t in (c.text, c.perturbed) if t}


def _rng(seed: int, category: str) -> np.random.Generator:
    return np.random.default_rng([seed, int(hashlib.sha256(category.encode()).hexdigest()[:8], 16)])


def _pack(part: TargetedPart) -> BehaviourPack:
    return load_pack(resolve_path(part.pack) if part.pack else None)


def template_pool(part: TargetedPart, label_names: list[str]) -> tuple[list[str], list[int], int]:
    """MFT fillings of the part's capability minus the evaluation's cases: ``(texts, labels, n_excluded)``."""
    from .labels import match_labels

    pack = _pack(part)
    index = match_labels(pack.labels, label_names, part.label_map, where=f"targeted part {part.category}")
    banned = evaluation_texts(pack, part.exclude_seed)
    texts, labels, seen, excluded = [], [], set(), 0
    for test in pack.tests:
        if test.type != "mft" or test.capability != part.capability:
            continue
        for text, _ in pack.fillings(test):
            key = normalise(text)
            if key in banned:
                excluded += 1
            elif key not in seen:
                seen.add(key)
                texts.append(text)
                labels.append(index[str(test.expect)])
    return texts, labels, excluded


def dir_rules(pack: BehaviourPack, capability: str) -> list[Any]:
    """The DIR tests of ``capability`` that can make labelled training rows: those on real texts (``data: test``)
    whose direction keeps a row's label (``unchanged``, or ``not_decrease``/``not_increase`` of a label)."""
    return [t for t in pack.tests if t.type == "dir" and t.capability == capability and t.data == "test"]


def targetable(kind: str, capability: str, pack: str | None = None) -> bool:
    """Whether a behaviour-test capability has a generator: MFT templates, or DIR tests on real texts."""
    p = load_pack(resolve_path(pack) if pack else None)
    if kind == "mft":
        return any(t.type == "mft" and t.capability == capability for t in p.tests)
    return bool(dir_rules(p, capability))


def _take(texts: list[str], labels: list[int], n: int, rng: np.random.Generator) -> tuple[list[str], list[int]]:
    idx = sorted(rng.permutation(len(texts))[:n].tolist())
    return [texts[i] for i in idx], [labels[i] for i in idx]


def _perturb_rows(part: TargetedPart, train: LabeledData, seed: int, runtime: Any) -> tuple[list[str], list[int]]:
    from .suites import build_suite

    suite = build_suite(str(part.suite), part.op, runtime=runtime)
    order = _rng(seed, part.category).permutation(len(train)).tolist()
    texts: list[str] = []
    labels: list[int] = []
    chunk = max(64, 2 * part.rows)
    for k in range(0, len(order), chunk):  # perturb only as many rows as needed (model-backed suites are slow)
        idx = order[k : k + chunk]
        for i, p in zip(idx, suite.perturb([train.texts[i] for i in idx], seed * 7919 + k), strict=True):
            if p is not None and len(texts) < part.rows:
                texts.append(p)
                labels.append(train.labels[i])
        if len(texts) >= part.rows:
            break
    return texts, labels


def _dir_rows(part: TargetedPart, train: LabeledData, seed: int) -> tuple[list[str], list[int]]:
    from .labels import match_labels

    pack = _pack(part)
    tests = dir_rules(pack, str(part.capability))
    if not tests:
        raise ConfigError(f"targeted part {part.category}: no DIR test of '{part.capability}' perturbs real texts")
    index = match_labels(pack.labels, train.label_names, part.label_map, where=f"targeted part {part.category}")
    rng = _rng(seed, part.category)
    texts: list[str] = []
    labels: list[int] = []
    for i in rng.permutation(len(train)).tolist():
        test = tests[len(texts) % len(tests)]
        watched = index[str(test.label)]
        keeps = test.direction == "unchanged" or ((train.labels[i] == watched) == (test.direction == "not_decrease"))
        if keeps:
            texts.append(str(_perturb_plain(test.perturb, train.texts[i], rng)))
            labels.append(train.labels[i])
        if len(texts) >= part.rows:
            break
    return texts, labels


def _attack_rows(part: TargetedPart, ws: Any, train: LabeledData, seed: int) -> tuple[list[str], list[int]]:
    from ..adversarial.training import adversarial_examples_for_training
    from ..models import TextClassifier

    model_dir = ws.layout.unit(str(part.against), seed).model
    if not model_dir.is_dir():
        raise ConfigError(
            f"targeted part {part.category}: the trained model of {part.against}/seed{seed} is missing "
            f"({model_dir}); run the experiment again so that unit retrains and keeps it"
        )
    model = TextClassifier.load(model_dir, runtime=ws.runtime)
    order = _rng(seed, part.category).permutation(len(train)).tolist()
    texts: list[str] = []
    labels: list[int] = []
    # Attack in rounds of `rows` training rows until enough attacks succeeded; at most 3x rows are attacked, so
    # a robust model costs a bounded amount of search.
    for k in range(0, min(len(order), 3 * part.rows), part.rows):
        idx = order[k : k + part.rows]
        got, ys = adversarial_examples_for_training(
            model,
            str(part.recipe),
            [train.texts[i] for i in idx],
            [train.labels[i] for i in idx],
            resources={**ws.resources(), **part.options},
            query_budget=part.query_budget,
            seed=seed + k,
            progress=ws.progress,
        )
        texts += got[: part.rows - len(texts)]
        labels += [int(y) for y in ys][: part.rows - len(labels)]
        if len(texts) >= part.rows:
            break
    return texts, labels


def part_rows(part: TargetedPart, ws: Any, train: LabeledData, seed: int) -> tuple[list[str], list[int]]:
    """The rows of one part for this seed (see the module docstring)."""
    if part.kind == "perturb":
        return _perturb_rows(part, train, seed, ws.runtime)
    if part.kind == "attack":
        return _attack_rows(part, ws, train, seed)
    if part.test_type == "dir":
        return _dir_rows(part, train, seed)
    texts, labels, _ = template_pool(part, train.label_names)
    return _take(texts, labels, part.rows, _rng(seed, part.category))


def targeted_rows(ws: Any, condition: str, spec: TargetedSpec, seed: int, out: UnitLayout) -> LabeledData:
    """Every part's rows for this unit (cached by training data, spec, seed and attacked models), with a sample
    per part written to ``targeted_sample.jsonl``."""
    import pandas as pd

    from .fingerprint import file_digest
    from .trainset import cached_frame, write_jsonl

    train = ws.data.train
    models = [file_digest(ws.layout.unit(p.against, seed).model) for p in spec.parts if p.kind == "attack"]

    def make() -> Any:
        frames = []
        for part in spec.parts:
            texts, labels = part_rows(part, ws, train, seed)
            if len(texts) < part.rows:
                log.warning("%s: %d of %d targeted rows (the pool is smaller)", part.category, len(texts), part.rows)
            frames.append(pd.DataFrame({"text": texts, "label": labels, "category": part.category}))
        return pd.concat(frames, ignore_index=True)

    key = digest([digest([train.texts, train.labels]), spec.model_dump(), seed, models])
    frame = cached_frame(ws.layout.cache / f"targeted-{key}.parquet", make)
    sample = [
        {"category": r.category, "text": r.text, "label": train.label_names[int(r.label)]}
        for _, g in frame.groupby("category", sort=False)
        for r in g.head(SAMPLE_PER_PART).itertuples()
    ]
    write_jsonl(out.targeted_sample, sample)
    return LabeledData(frame.text.tolist(), [int(y) for y in frame.label], train.label_names)
