"""``mft``: minimum functionality tests (CheckList): templated sentences with an expected label, e.g. negation
("The film was not good." -> negative). Metric: failure rate, overall and per capability."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from .base import EvalContext, EvaluationResult, Model, record
from .behaviour import PackEvaluation, PackParams


class MftParams(PackParams):
    kind: Literal["mft"] = "mft"


class MftEvaluation(PackEvaluation):
    """Share of MFT cases whose prediction is not the expected label."""

    kind = "mft"
    Params = MftParams
    label_word = "MFT"

    def run(self, model: Model, test: Any, ctx: EvalContext) -> EvaluationResult:
        index = self.label_index(model.labels)
        cases = self.pack().expand("mft", seed=self.params.seed)
        probs = model.predict_proba([c.text for c in cases])
        pred = probs.argmax(1)
        expected = np.array([index[str(c.expect)] for c in cases])  # MFT cases always name their expected label
        failed = pred != expected
        res = EvaluationResult()
        self.scores(cases, failed, res)
        res.records = [
            record(
                self.name,
                c.id,
                model_failed=failed[i],
                text=c.text,
                label=model.labels[expected[i]],
                pred=model.labels[pred[i]],
                conf=probs[i].max(),
                capability=c.capability,
                test=c.test,
            )
            for i, c in enumerate(cases)
        ]
        return res
