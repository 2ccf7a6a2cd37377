"""``inv``: CheckList-style invariance tests. Each suite perturbs every test text once (typos, character swaps,
case, punctuation, contractions, any augmentation operator); the prediction should not change.

Perturbations depend only on the suite seed and the row, so every condition and seed sees the same perturbed texts.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from ...models.runtime import Runtime
from ..suites import Suite, build_suite
from .base import EvalContext, EvalParams, Evaluation, EvaluationResult, MetricInfo, Model, item_ids, record


class SuiteSpec(BaseModel):
    """A perturbation suite: a built-in name, or any augmentation operator spec under ``op``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    op: str | dict[str, Any] | None = None


def suite_names(suites: Sequence[str | SuiteSpec]) -> list[str]:
    return [s if isinstance(s, str) else s.name for s in suites]


def check_unique(suites: list[str | SuiteSpec]) -> list[str | SuiteSpec]:
    names = suite_names(suites)
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"duplicate suite names: {dup}")
    return suites


#: A list of suites whose names are unique (validated wherever suites are listed).
Suites = Annotated[list[str | SuiteSpec], AfterValidator(check_unique)]


def perturbed_texts(suite_spec: str | SuiteSpec, seed: int, test: Any, ctx: EvalContext) -> list[str | None]:
    """The suite's perturbation of every test text (``None`` where it does not apply), computed once per run."""
    suite = ctx.cached(("suite", str(suite_spec)), lambda: _build(suite_spec, ctx.runtime, ctx.lang))
    return ctx.cached(("perturbed", str(suite_spec), seed), lambda: suite.perturb(test.texts, seed))


def _build(s: str | SuiteSpec, runtime: Runtime | None = None, lang: str | None = None) -> Suite:
    if isinstance(s, str):
        return build_suite(s, runtime=runtime, lang=lang)
    return build_suite(s.name, s.op, runtime=runtime, lang=lang)


class InvParams(EvalParams):
    kind: Literal["inv"] = "inv"
    suites: Suites = Field(..., min_length=1, description="built-in suite names or {name, op}")
    seed: int = Field(0, description="seed of the perturbations; the same for every condition and seed")


class InvEvaluation(Evaluation):
    """Accuracy on perturbed inputs (headline) and invariance rate, per suite."""

    kind = "inv"
    Params = InvParams
    params: InvParams

    def metrics(self, labels: Sequence[str]) -> list[MetricInfo]:
        out = []
        for s in suite_names(self.params.suites):
            ev = f"{self.name}:{s}"
            out += [
                self.info(
                    ev,
                    "accuracy",
                    f"accuracy on {s}-perturbed inputs",
                    headline=True,
                    chart="Accuracy on perturbed inputs, by suite",
                ),
                self.info(
                    ev,
                    "invariance",
                    f"invariance under {s} (share of predictions unchanged)",
                    chart="Invariance rate (share of predictions unchanged), by suite",
                ),
                self.info(
                    ev,
                    "n",
                    f"test examples {s} applies to",
                    unit="count",
                    range=(0, None),
                    higher_is_better=None,
                    role="info",
                ),
            ]
        return out

    def check(self, ctx: EvalContext) -> None:
        for s in self.params.suites:  # unknown suites and bad operator specs fail before training
            ctx.cached(("suite", str(s)), functools.partial(_build, s, ctx.runtime, ctx.lang))

    def estimate_calls(self, n_test: int, words: float) -> int | None:
        return n_test * len(self.params.suites)

    def run(self, model: Model, test: Any, ctx: EvalContext) -> EvaluationResult:
        seed = self.params.seed
        perturbed = {
            name: perturbed_texts(s, seed, test, ctx)
            for name, s in zip(suite_names(self.params.suites), self.params.suites, strict=True)
        }
        clean = model.predict_proba(test.texts)
        # One prediction call over every perturbed text of every suite (the model dedups and sorts by length).
        flat = [p for ps in perturbed.values() for p in ps if p is not None]
        probs = dict(zip(flat, model.predict_proba(flat), strict=True)) if flat else {}
        y, pred = np.asarray(test.labels), clean.argmax(1)
        names, items, res = test.label_names, item_ids(len(test)), EvaluationResult()
        for suite, texts in perturbed.items():
            ev = f"{self.name}:{suite}"
            rows = [i for i, p in enumerate(texts) if p is not None]
            ppred = np.full(len(texts), -1)
            for i in rows:
                ppred[i] = probs[str(texts[i])].argmax()
            applies = np.array([p is not None for p in texts])
            res.add_outcomes(ev, "accuracy", items, np.where(applies, ppred == y, np.nan))
            res.add_outcomes(ev, "invariance", items, np.where(applies, ppred == pred, np.nan))
            res.add(ev, "n", len(rows))
            res.records += [
                record(
                    ev,
                    items[i],
                    model_failed=ppred[i] != pred[i],
                    original=test.texts[i],
                    text=str(texts[i]),
                    label=names[y[i]],
                    pred_original=names[pred[i]],
                    pred=names[ppred[i]],
                    conf_original=clean[i].max(),
                    conf=probs[str(texts[i])].max(),
                    suite=suite,
                )
                for i in rows
            ]
        return res
