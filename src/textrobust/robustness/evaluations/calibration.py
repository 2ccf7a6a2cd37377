"""``calibration``: expected calibration error (top-label, 15 bins; Guo et al. 2017) and Brier score, on clean
inputs and, optionally, on the perturbed inputs of any INV suite (calibration often degrades under noise)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from pydantic import Field

from .base import EvalContext, EvalParams, Evaluation, EvaluationResult, MetricInfo, Model, item_ids
from .inv import Suites, perturbed_texts, suite_names


class CalibrationParams(EvalParams):
    kind: Literal["calibration"] = "calibration"
    bins: int = Field(15, ge=2, le=100, description="equal-width confidence bins of the ECE")
    suites: Suites = Field([], description="also measure on these perturbation suites' texts")
    seed: int = Field(0, description="seed of the perturbations (the same seed as an inv entry shares its texts)")


class CalibrationEvaluation(Evaluation):
    """ECE (headline on clean inputs) and Brier score, lower is better."""

    kind = "calibration"
    Params = CalibrationParams
    params: CalibrationParams

    def metrics(self, labels: Sequence[str]) -> list[MetricInfo]:
        out = []
        for inputs in ["clean", *suite_names(self.params.suites)]:
            ev, on = f"{self.name}:{inputs}", "clean inputs" if inputs == "clean" else f"{inputs}-perturbed inputs"
            out += [
                self.info(
                    ev,
                    "ece",
                    f"expected calibration error on {on}",
                    headline=inputs == "clean",
                    higher_is_better=False,
                    role="calibration",
                    chart=f"Expected calibration error ({self.params.bins} bins)",
                ),
                self.info(
                    ev,
                    "brier",
                    f"Brier score on {on}",
                    unit="score",
                    range=(0, 2),
                    higher_is_better=False,
                    role="calibration",
                    chart="Brier score",
                ),
                self.info(
                    ev, "n", f"examples ({on})", unit="count", range=(0, None), higher_is_better=None, role="info"
                ),
            ]
        return out

    def check(self, ctx: EvalContext) -> None:
        from .inv import InvEvaluation, InvParams

        if self.params.suites:
            InvEvaluation(InvParams(suites=self.params.suites)).check(ctx)

    def run(self, model: Model, test: Any, ctx: EvalContext) -> EvaluationResult:
        from ...models.metrics import brier_scores, expected_calibration_error

        y = np.asarray(test.labels)
        inputs: dict[str, tuple[list[int], list[str]]] = {"clean": (list(range(len(test))), list(test.texts))}
        for name, s in zip(suite_names(self.params.suites), self.params.suites, strict=True):
            perturbed = perturbed_texts(s, self.params.seed, test, ctx)
            rows = [i for i, t in enumerate(perturbed) if t is not None]
            inputs[name] = (rows, [str(perturbed[i]) for i in rows])
        res, items = EvaluationResult(), item_ids(len(test))
        for name, (rows, texts) in inputs.items():
            ev = f"{self.name}:{name}"
            probs = model.predict_proba(texts)
            brier = np.full(len(test), np.nan)
            brier[rows] = brier_scores(probs, y[rows])
            res.add(ev, "ece", expected_calibration_error(probs, y[rows], self.params.bins) if rows else np.nan)
            res.add_outcomes(ev, "brier", items, brier)
            res.add(ev, "n", len(rows))
        return res
