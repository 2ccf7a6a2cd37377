"""The evaluation plug-in interface: typed parameters, metric metadata, ``run(model, test, ctx)``.

An evaluation scores one trained (or loaded) model and returns tidy :class:`Score` rows plus per-example records.
Everything downstream (the runner's tables, the CLI summary, ``summary.json``, the HTML report) reads the
:class:`MetricInfo` each evaluation declares for every metric it emits: label, unit, range, direction, and whether
it is a headline number. Nothing downstream recognises an evaluation by its name.

Like CheckList, the model enters as a batch function: anything with ``labels`` and ``predict_proba(texts)``
(a model being retrained, a saved one, one behind an HTTP endpoint). Evaluations that need more (gradient
attacks) say so in their error message.

Adding an evaluation: one module with a params model and an :class:`Evaluation` subclass, one line in
``EVALUATIONS`` (``evaluations/__init__.py``), one case in ``tests/test_evaluation_contract.py``. See
``docs/evaluations.md`` for a worked example.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ...data.records import example_record
from ...models.runtime import Runtime

#: How a metric's values read: ``share`` is a fraction in [0, 1] shown as a percentage (differences in points),
#: ``percent`` is already 0..100, ``count`` and ``seconds`` are plain numbers, ``score`` a unitless number.
MetricUnit = Literal["share", "percent", "count", "seconds", "score"]
#: What a metric tells the reader: ``clean`` performance, ``robustness``, attack ``cost`` (effort an attacker
#: needs), ``calibration``, or ``info`` (sizes and speeds, never judged better or worse).
MetricRole = Literal["clean", "robustness", "cost", "calibration", "info"]


@dataclass(frozen=True)
class MetricInfo:
    """Metadata of one metric of one evaluation (what the runner, summary and report read).

    Example:
        >>> MetricInfo("clean", "accuracy", "clean accuracy", headline=True, role="clean").range
        (0.0, 1.0)
    """

    evaluation: str
    metric: str
    label: str
    unit: MetricUnit = "share"
    range: tuple[float | None, float | None] = (0.0, 1.0)
    higher_is_better: bool | None = True
    headline: bool = False
    role: MetricRole = "robustness"
    kind: str = ""  # the plug-in kind that emits it (clean, inv, attack, ...)
    group: str = ""  # the evaluation entry it belongs to (its name in the spec), for the report's details
    chart: str | None = None  # metrics with the same chart title are drawn in one chart, one group per evaluation
    timing: bool = False  # a wall-clock measurement: differs between identical runs

    @property
    def key(self) -> str:
        return f"{self.evaluation}.{self.metric}"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["range"] = list(self.range)
        return d


@dataclass
class Score:
    """One metric value. ``outcomes`` are per-item values (NaN where the item does not count) whose mean is
    ``value``; ``items`` name those items (test-example or test-case ids, the same across conditions), so
    conditions can be compared example by example."""

    evaluation: str
    metric: str
    value: float
    items: Sequence[str] | None = None
    outcomes: Sequence[float] | None = None


@dataclass
class EvaluationResult:
    """What :meth:`Evaluation.run` returns: scores and per-example records (failures first).

    A record is a dict with ``evaluation``, ``item``, ``failed`` (the model got this one wrong), ``original`` (the
    unperturbed text or None), ``text`` (what the model saw), ``label`` (expected label or behaviour),
    ``pred_original``, ``pred``, ``conf_original``, ``conf`` and ``info`` (evaluation-specific columns).
    """

    scores: list[Score] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)

    def add(
        self,
        evaluation: str,
        metric: str,
        value: float,
        items: Sequence[str] | None = None,
        outcomes: Sequence[float] | np.ndarray | None = None,
    ) -> None:
        out = None if outcomes is None else [float(x) for x in outcomes]
        self.scores.append(Score(evaluation, metric, float(value), None if items is None else list(items), out))

    def add_outcomes(
        self, evaluation: str, metric: str, items: Sequence[str], outcomes: Sequence[float] | np.ndarray
    ) -> None:
        """A metric that is the mean of per-item outcomes (NaN = does not count); NaN when none counts."""
        x = np.asarray(outcomes, dtype=float)
        value = float(np.nanmean(x)) if np.isfinite(x).any() else math.nan
        self.add(evaluation, metric, value, items, x)


#: One per-example record in the shape the report reads (see :class:`EvaluationResult`).
record = example_record


class Model(Protocol):
    """What an evaluation needs of a model: label names and batched class probabilities."""

    labels: list[str]

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass
class EvalContext:
    """What the runner gives every evaluation besides the model and the test data.

    ``resources()`` builds the attack resources the experiment needs (once, shared); ``cache`` lives for the
    whole run (perturbed texts, loaded test packs: the same for every condition and seed); ``raw_model`` is the
    unwrapped model (attacks need it; ``model`` may be a cache); ``runtime`` is how any model an evaluation builds
    runs (a model-backed perturbation suite); ``lang`` is the language of the data (:mod:`textrobust.lang`).
    """

    label_names: list[str]
    runtime: Runtime = field(default_factory=Runtime)
    progress: bool = False
    resources: Callable[[], dict[str, Any]] = dict
    cache: dict[Any, Any] = field(default_factory=dict)
    raw_model: Any = None
    #: The test data's language (the spec's ``data.lang``, else detected): evaluations refuse one they do not support.
    lang: str | None = None

    def cached(self, key: Any, make: Callable[[], Any]) -> Any:
        """``make()`` once per run for ``key``."""
        if key not in self.cache:
            self.cache[key] = make()
        return self.cache[key]


class EvalParams(BaseModel):
    """Base of every evaluation's parameters: strict (unknown keys are errors), frozen, with an optional name."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str | None = Field(None, description="name in tables and the report (default: from the kind)")
    if TYPE_CHECKING:  # each evaluation's Params declares it, a Literal (the spec's discriminator); no field here
        kind: str


class Evaluation:
    """Base class of evaluations. Subclasses set ``kind`` and ``Params`` and implement :meth:`metrics` and
    :meth:`run`; :meth:`check` validates what can be checked before any training (files, labels, resources).

    Example:
        >>> from textrobust.robustness.evaluations import build_evaluation
        >>> ev = build_evaluation({"kind": "clean"})
        >>> [m.metric for m in ev.metrics(["neg", "pos"]) if m.headline]
        ['accuracy']
    """

    kind: ClassVar[str]
    Params: ClassVar[type[EvalParams]]

    def __init__(self, params: EvalParams) -> None:
        self.params = params

    @property
    def name(self) -> str:
        """The entry's name: ``params.name`` or a default from the kind (and recipe, for attacks)."""
        return self.params.name or self.default_name()

    def default_name(self) -> str:
        return self.kind

    def metrics(self, labels: Sequence[str]) -> list[MetricInfo]:  # pragma: no cover - abstract
        """Every metric :meth:`run` emits for a model with these label names (known before training)."""
        raise NotImplementedError

    def resources(self) -> list[str]:
        """Names of shared resources (neighbours, encoder, ...) this evaluation needs from the experiment."""
        return []

    def check(self, ctx: EvalContext) -> None:
        """Raise a ConfigError/DataError/ResourceError now for anything that would fail after training."""

    def examples_scored(self, n_test: int) -> int | None:
        """How many test examples one run of this evaluation works through, for time estimates (``--dry-run``):
        its time scales with this number. None: it works on a fixed set of its own (a behaviour pack, other data
        sets), whatever the test set's size."""
        return n_test

    def check_model(self, model: Any, ctx: EvalContext) -> None:
        """Raise now when this evaluation cannot run on ``model``, a model scored as it is (a scan), e.g. a
        score-based attack on a label-only endpoint."""

    def estimate_calls(self, n_test: int, words: float) -> int | None:
        """Texts this evaluation will ask the model about, for ``n_test`` test texts of ``words`` words on average
        (a dry run's estimate; None: cannot say)."""
        return None

    def fingerprint(self) -> Any:
        """What changes this evaluation's results (default: its parameters; add file digests where it reads files)."""
        return {"kind": self.kind, **self.params.model_dump()}

    def run(self, model: Model, test: Any, ctx: EvalContext) -> EvaluationResult:  # pragma: no cover - abstract
        raise NotImplementedError

    def info(self, evaluation: str, metric: str, label: str, **kw: Any) -> MetricInfo:
        """A :class:`MetricInfo` of this entry (kind and group filled in)."""
        return MetricInfo(evaluation, metric, label, kind=self.kind, group=self.name, **kw)


def item_ids(n: int, prefix: str = "") -> list[str]:
    """Stable ids of the first ``n`` items (the test set is the same for every condition, so its row number is)."""
    return [f"{prefix}{i}" for i in range(n)]
