"""``dir``: directional expectation tests (CheckList): a change to the text must not move the probability of a
label the wrong way by more than a tolerance (adding praise must not lower P(positive)). Base texts come from the
pack's templates or from the test set (``data: test`` tests). Metric: failure rate, overall and per capability."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field

from .base import EvalContext, EvaluationResult, Model, record
from .behaviour import PackEvaluation, PackParams


class DirParams(PackParams):
    kind: Literal["dir"] = "dir"
    n_test: int = Field(100, ge=1, description="test texts used as base texts by 'data: test' tests")


class DirEvaluation(PackEvaluation):
    """Share of DIR cases where the watched probability moved the wrong way by more than the tolerance."""

    kind = "dir"
    Params = DirParams
    params: DirParams
    label_word = "DIR"

    def run(self, model: Model, test: Any, ctx: EvalContext) -> EvaluationResult:
        index = self.label_index(model.labels)
        cases = self.pack().expand("dir", seed=self.params.seed, test_texts=test.texts, n_test=self.params.n_test)
        probs = model.predict_proba([c.text for c in cases] + [str(c.perturbed) for c in cases])  # DIR: both set
        base, pert = probs[: len(cases)], probs[len(cases) :]
        watched = np.array([index[str(c.label)] for c in cases])
        rows = np.arange(len(cases))
        delta = pert[rows, watched] - base[rows, watched]
        tol = np.array([c.tolerance for c in cases])
        direction = np.array([c.direction for c in cases])
        failed = np.where(
            direction == "not_decrease",
            delta < -tol,
            np.where(direction == "not_increase", delta > tol, np.abs(delta) > tol),
        )
        res = EvaluationResult()
        self.scores(cases, failed, res)
        names = model.labels
        res.records = [
            record(
                self.name,
                c.id,
                model_failed=failed[i],
                original=c.text,
                text=str(c.perturbed),
                label=f"P({names[watched[i]]}) {c.direction} (±{c.tolerance:g})",
                pred_original=names[base[i].argmax()],
                pred=names[pert[i].argmax()],
                conf_original=base[i, watched[i]],
                conf=pert[i, watched[i]],
                capability=c.capability,
                test=c.test,
                delta=round(float(delta[i]), 4),
            )
            for i, c in enumerate(cases)
        ]
        return res
