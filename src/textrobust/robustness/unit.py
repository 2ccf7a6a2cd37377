"""The unit of work: one condition x seed. :func:`run_unit` builds the training set, trains, runs every
evaluation and writes the unit's files; it is what any executor (the local loop, a worker pool, Ray) calls.

A unit's directory (``units/<condition>/seed<k>/``) holds ``metrics.json`` (tidy rows), ``outcomes.parquet``
(per-example outcomes of every evaluation: ``evaluation, metric, item, value``), ``examples.jsonl`` (per-example
records for the report, failures first, capped per evaluation), the augmented / generated samples, and
``done.json`` (the fingerprint) once everything else is written. A unit that raised has ``failed.json`` instead.
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..data import atomic_path
from ..errors import ConfigError
from ..layout import RunLayout, UnitLayout
from .evaluations import EvalContext, Evaluation, MetricInfo, Score, build_evaluation
from .fingerprint import digest
from .inputs import LoadedData, load_data
from .spec import Experiment
from .trainset import TRAIN_METRICS, augment_pipeline, train_unit, write_jsonl

RECORD_LIMIT = 500  # per unit and evaluation: enough for the report's examples, small enough to keep runs light


@dataclass(frozen=True)
class Unit:
    condition: str
    seed: int
    fingerprint: str

    @property
    def key(self) -> str:
        return f"{self.condition}/seed{self.seed}"


def write_json(path: Path, obj: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, ensure_ascii=False, default=str), encoding="utf-8")


class CachedModel:
    """``predict_proba`` memoised by text for one unit: evaluations that score the same texts (clean accuracy,
    calibration, the base texts of DIR tests) pay for them once."""

    def __init__(self, model: Any) -> None:
        self.model, self.labels = model, list(model.labels)
        self._probs: dict[str, np.ndarray] = {}

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        todo = list(dict.fromkeys(t for t in texts if t not in self._probs))
        if todo:
            self._probs.update(zip(todo, self.model.predict_proba(todo), strict=True))
        if not texts:
            return np.empty((0, len(self.labels)), dtype=np.float32)
        return np.stack([self._probs[t] for t in texts])


class Workspace:
    """What the units of one run share in one process: the spec, its data, evaluations, resources and caches.

    Example:
        >>> ws = Workspace(load_experiment("exp.yaml"), "runs/exp")  # doctest: +SKIP
        >>> for u in ws.units(): run_unit(ws, u)  # doctest: +SKIP
    """

    def __init__(
        self,
        exp: Experiment,
        run_dir: str | Path,
        *,
        progress: bool = False,
        data: LoadedData | None = None,
        keep: set[str] | frozenset[str] = frozenset(),
    ) -> None:
        self.exp, self.run_dir, self.progress = exp, Path(run_dir), progress
        # Conditions whose trained models are saved with their units: those another condition attacks, and any
        # the caller asks for (textrobust fix keeps the baseline's before it knows whether an attack is targeted).
        self.keep = set(keep) | exp.kept_models
        # How every model of this run runs (classifier, encoders, LMs): built once, handed to each constructor.
        self.runtime = exp.model.runtime()
        self.evaluations: list[Evaluation] = [build_evaluation(e) for e in exp.evaluations]
        self._data = data
        self._resources: dict[str, Any] | None = None
        self._fixed: dict[str, Any] = {}
        self.cache: dict[Any, Any] = {}  # per run: perturbed texts, test packs, transfer sets
        self._calls: Any = None

    @property
    def data(self) -> LoadedData:
        if self._data is None:
            self._data = load_data(self.exp)
        return self._data

    def resources(self) -> dict[str, Any]:
        from ..adversarial.resources import build_resources
        from .resources import needed_resources
        from .spec import resolve_path

        if self._resources is None:
            names = needed_resources(self.exp, self.evaluations)
            self._resources = build_resources(names, self.exp.resources, runtime=self.runtime, resolve=resolve_path)
        return self._resources

    @property
    def lang(self) -> str:
        """The data's language: the spec's ``data.lang``, else detected from the training and test texts."""
        if "_lang" not in self.__dict__:
            from ..lang import resolve

            data = self.data
            texts = (data.train.texts[:1000] if data.train else []) + data.test.texts[:1000]
            self.__dict__["_lang"] = resolve(texts, self.exp.data.lang)
        return self.__dict__["_lang"]

    def context(self, raw_model: Any = None) -> EvalContext:
        return EvalContext(
            self.data.label_names,
            self.runtime,
            self.progress,
            self.resources,
            self.cache,
            raw_model=raw_model,
            lang=self.lang,
        )

    def check(self) -> None:
        """Everything that can fail before training: recipes and options, evaluation files and labels, and
        metric names emitted twice."""
        from ..adversarial.resources import check_resource_paths
        from .preflight import check_extras
        from .resources import check_model_name, needed_resources
        from .spec import resolve_path

        self.runtime.check()  # an absent GPU or an impossible precision: one line, before any model loads
        if not self.exp.fixed_models:
            check_model_name(self.exp.model.name)
        ctx = self.context()
        for ev in self.evaluations:
            ev.check(ctx)
        needed = needed_resources(self.exp, self.evaluations)
        check_resource_paths(needed, self.exp.resources, resolve=resolve_path)
        check_extras(self.exp, needed)
        for name, cond in self.exp.conditions.items():  # a missing model or server fails here, not mid-run
            if cond.model is not None:
                model = self.fixed_model(name)
                for ev in self.evaluations:  # e.g. a score-based attack on a label-only endpoint
                    ev.check_model(model, ctx)
            if cond.augment is not None:  # so does an unknown operator or filter, or one refusing the language
                augment_pipeline(cond.augment, name, lang=self.lang)
            if cond.adversarial is not None and cond.adversarial.judge is not None:  # a judge with other labels
                from ..adversarial.validity import check_judge

                check_judge(cond.adversarial.judge, self.data.label_names, f"conditions.{name}.adversarial.judge")
        keys = [m.key for m in self.metric_infos()]
        dup = sorted({k for k in keys if keys.count(k) > 1})
        if dup:
            raise ConfigError(f"evaluations: metrics {dup} are emitted twice; give one of the entries a 'name:'")

    def metric_infos(self) -> list[MetricInfo]:
        labels = self.data.label_names
        return TRAIN_METRICS + [m for ev in self.evaluations for m in ev.metrics(labels)]

    def fixed_model(self, condition: str) -> Any:
        """The condition's already trained model (loaded once, labels checked against the data). Prompted LMs and
        chat endpoints answer through the run's cache of model calls (:attr:`calls`)."""
        if condition not in self._fixed:
            spec = self.exp.conditions[condition].model
            self._fixed[condition] = load_fixed(
                spec, self.exp, self.data.label_names, condition, self.runtime, calls=self.calls
            )
        return self._fixed[condition]

    def call_stats(self) -> dict[str, int] | None:
        """Record this process's counts in the cache of model calls and return its totals (None when this run
        has no cached model): ``computed`` and ``hits`` of this process, ``entries`` and ``repeated_entries`` of
        the file."""
        if self._calls is None or not self._calls.path.is_file():
            return None
        self._calls.flush()
        return {
            **self._calls.stats(),
            "computed_now": self._calls.counts["computed"],
            "hits_now": self._calls.counts["hits"],
        }

    @property
    def calls(self) -> Any:
        """The run's :class:`~textrobust.models.callcache.CallStore` (``cache/model_calls.sqlite``; opened on first
        use, so checks and dry runs write nothing)."""
        from ..models.callcache import CallStore

        if self._calls is None:
            self._calls = CallStore(self.layout.model_calls)
        return self._calls

    def units(self) -> list[Unit]:
        """One unit per condition x seed; the fingerprint covers everything that changes its results."""
        from .. import __version__

        data = self.data
        shared = {
            "version": __version__,
            "train": digest([data.train.texts, data.train.labels, data.train.label_names]) if data.train else None,
            "test": digest([data.test.texts, data.test.labels]),
            "validation": digest([data.validation.texts, data.validation.labels]) if data.validation else None,
            "model": self.exp.model.model_dump(),
            "evaluations": [ev.fingerprint() for ev in self.evaluations],
            "resources": self.exp.resources,
        }
        return [
            Unit(
                name,
                seed,
                digest(
                    {**shared, "condition": cond.model_dump(), "seed": seed, "model_files": _model_digest(cond.model)}
                ),
            )
            for name, cond in self.exp.conditions.items()
            for seed in self.exp.seeds
        ]

    @property
    def layout(self) -> RunLayout:
        return RunLayout(self.run_dir)

    def unit_dir(self, u: Unit) -> Path:
        return self.layout.unit(u.condition, u.seed).dir

    def is_done(self, u: Unit) -> bool:
        """Finished with this fingerprint (and, where its model must be kept, with the model saved)."""
        files = self.layout.unit(u.condition, u.seed)
        try:
            done = json.loads(files.done.read_text())["fingerprint"] == u.fingerprint
        except (FileNotFoundError, json.JSONDecodeError, KeyError):
            return False
        return done and (u.condition not in self.keep or self.exp.fixed_models or files.model.is_dir())

    def failure(self, u: Unit) -> dict[str, Any] | None:
        """The error of a unit whose last attempt with this fingerprint failed, else None."""
        try:
            info = json.loads(self.layout.unit(u.condition, u.seed).failed.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        return info if info.get("fingerprint") == u.fingerprint else None


def _model_digest(model: Any) -> str | None:
    """Fixed models: a digest of the local directory's files, so a retrained model is scanned again (an HTTP
    model cannot be fingerprinted: rerun with --no-resume when the deployment changes)."""
    from .fingerprint import file_digest
    from .spec import resolve_path

    if model is None or model.path.startswith(("http://", "https://", "openai+")):
        return None
    return file_digest(resolve_path(model.path))


def load_fixed(
    spec: Any, exp: Experiment, data_labels: list[str], name: str, runtime: Any = None, calls: Any = None
) -> Any:
    """A fixed model (a scan), its probability columns put in the data's label order; a prompted LM or chat
    endpoint answers through ``calls`` (a :class:`~textrobust.models.callcache.CallStore`) when given."""
    from ..models import load_model
    from ..models.callcache import CallCache, cacheable
    from ..models.loading import PROMPTED_KINDS, model_kind
    from .labels import LabelAligned
    from .spec import resolve_path

    remote = spec.path.startswith(("http://", "https://", "openai+"))
    source = spec.path if remote else resolve_path(spec.path)
    kind = model_kind(source)
    kwargs: dict[str, Any] = {
        "labels": spec.labels,
        "runtime": runtime or exp.model.runtime(),
        "batch_size": spec.batch_size or exp.model.batch_size,
    }
    if remote:
        kwargs.update(timeout=spec.timeout, retries=spec.retries, headers=spec.headers)
    if kind in PROMPTED_KINDS:  # asked through a prompt, in the data's label names unless told otherwise
        kwargs.update(labels=spec.labels or data_labels, prompt=spec.prompt)
    else:
        # a saved model keeps its own truncation unless the spec sets one (the default 128 is not a choice)
        kwargs["max_length"] = exp.model.max_length if "max_length" in exp.model.model_fields_set else None
        if spec.prompt is not None:
            raise ConfigError(f"conditions.{name}.model: prompt is for causal LMs and chat endpoints, not {spec.path}")
    model = load_model(source, **kwargs)
    model.predict_proba(["a probe: the server answers, the weights load"])  # fail before the run, not in it
    if calls is not None and cacheable(model):
        model = CallCache(model, calls)
    return LabelAligned.wrap(model, data_labels, spec.label_map, where=f"conditions.{name}.model ({spec.path})")


def evaluate(ws: Workspace, model: Any, phase: Callable[[str], None]) -> tuple[list[Score], list[dict]]:
    """Run every evaluation on ``model``; returns the scores and the capped per-example records."""
    ctx = ws.context(raw_model=model)
    cached = CachedModel(model)
    scores: list[Score] = []
    records: list[dict[str, Any]] = []
    for ev in ws.evaluations:
        phase(ev.name)
        res = ev.run(cached, ws.data.test, ctx)
        scores += res.scores
        by_eval: dict[str, list[dict[str, Any]]] = {}
        for r in res.records:
            by_eval.setdefault(r["evaluation"], []).append(r)
        for rows in by_eval.values():  # failures first: they are what the report shows
            records += sorted(rows, key=lambda r: not r["model_failed"])[:RECORD_LIMIT]
    return scores, records


class PhaseTimer:
    """Passes phase names on to ``report`` and keeps the seconds spent in each (``done.json`` records them);
    :meth:`detail` passes on where the current phase is (``train · epoch 2/3 · 41%``) without starting a new one."""

    def __init__(self, report: Callable[[str], None]) -> None:
        self.report, self.seconds = report, dict[str, float]()
        self._name, self._start = "", time.perf_counter()

    def detail(self, text: str) -> None:
        self.report(f"{self._name} \u00b7 {text}" if self._name else text)

    def __call__(self, name: str) -> None:
        self.stop()
        self._name, self._start = name, time.perf_counter()
        self.report(name)

    def stop(self) -> None:
        if self._name:
            self.seconds[self._name] = self.seconds.get(self._name, 0.0) + time.perf_counter() - self._start
            self._name = ""


def run_unit(ws: Workspace, u: Unit, phase: Callable[[str], None] = lambda p: None) -> None:
    """Train and evaluate one unit and write its files; ``done.json`` is written last (see the module doc)."""
    files = ws.layout.unit(u.condition, u.seed)
    files.dir.mkdir(parents=True, exist_ok=True)
    for marker in (files.done, files.failed):
        marker.unlink(missing_ok=True)
    timer = PhaseTimer(phase)
    t0 = time.perf_counter()  # train_seconds covers building the training set too (augmentation, attacks)
    fixed = ws.exp.conditions[u.condition].model
    if fixed is not None:  # a scan: the model as it is
        timer("load model")
        model, scores = ws.fixed_model(u.condition), []
    else:
        model, n_train = train_unit(ws, u.condition, u.seed, files, timer, timer.detail)
        scores = [Score("train", "train_size", n_train), Score("train", "train_seconds", time.perf_counter() - t0)]
        if u.condition in ws.keep:  # another condition attacks this model (targeted rows)
            timer("save model")
            model.save(files.model)
    more, records = evaluate(ws, model, timer)
    timer.stop()
    scores += more
    write_scores(files, u, scores)
    write_jsonl(files.examples, records)
    n_test = len(ws.data.test)
    write_json(
        files.done,
        {
            "fingerprint": u.fingerprint,
            "seconds": time.perf_counter() - t0,
            "phase_seconds": {k: round(v, 3) for k, v in timer.seconds.items()},
            # What each phase worked through, so a later --dry-run can scale these times to another plan.
            "work": {
                "train_example_epochs": None if fixed is not None else n_train * ws.exp.model.train.epochs,
                "examples": {ev.name: ev.examples_scored(n_test) for ev in ws.evaluations},
            },
        },
    )


def write_scores(files: UnitLayout, u: Unit, scores: list[Score]) -> None:
    """``metrics.json`` (tidy rows) and ``outcomes.parquet`` (per-item outcomes where an evaluation gives them)."""
    import pandas as pd

    write_json(
        files.metrics,
        [
            {
                "condition": u.condition,
                "seed": u.seed,
                "evaluation": s.evaluation,
                "metric": s.metric,
                "value": float(s.value),
            }
            for s in scores
        ],
    )
    parts = [
        pd.DataFrame(
            {
                "evaluation": s.evaluation,
                "metric": s.metric,
                "item": list(s.items),
                "value": np.asarray(s.outcomes, dtype=float),
            }
        )
        for s in scores
        if s.outcomes is not None and s.items is not None
    ]
    frame = (
        pd.concat(parts, ignore_index=True)
        if parts
        else pd.DataFrame({"evaluation": [], "metric": [], "item": [], "value": []})
    )
    with atomic_path(files.outcomes) as tmp:
        frame.to_parquet(tmp, index=False)


def record_failure(ws: Workspace, u: Unit, exc: BaseException, attempts: int, trace: str = "") -> dict[str, Any]:
    """Write ``failed.json`` for a unit that raised (``trace``: the traceback text, when it was raised in another
    process); returns what was written."""
    info = {
        "unit": u.key,
        "fingerprint": u.fingerprint,
        "error": f"{type(exc).__name__}: {exc}".strip(),
        "attempts": attempts,
        "traceback": (trace or "".join(traceback.format_exception(exc)))[-4000:],
    }
    files = ws.layout.unit(u.condition, u.seed)
    files.dir.mkdir(parents=True, exist_ok=True)
    write_json(files.failed, info)
    return info
