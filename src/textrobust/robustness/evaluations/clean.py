"""``clean``: accuracy, macro-F1 and the per-class report on the unperturbed test set (what ``evaluate`` prints)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from .base import EvalContext, EvalParams, Evaluation, EvaluationResult, MetricInfo, Model, item_ids, record


class CleanParams(EvalParams):
    kind: Literal["clean"] = "clean"


class CleanEvaluation(Evaluation):
    """Clean accuracy (headline), macro-F1, and precision / recall / F1 per class."""

    kind = "clean"
    Params = CleanParams

    def metrics(self, labels: Sequence[str]) -> list[MetricInfo]:
        ev = self.name
        out = [
            self.info(ev, "accuracy", "clean accuracy", headline=True, role="clean", chart="Clean accuracy"),
            self.info(ev, "macro_f1", "clean macro-F1", role="clean"),
            self.info(ev, "n", "test examples", unit="count", range=(0, None), higher_is_better=None, role="info"),
        ]
        for name in labels:
            out += [
                self.info(ev, f"{m}:{name}", f"{m} of class '{name}'", role="clean")
                for m in ("precision", "recall", "f1")
            ]
        return out

    def estimate_calls(self, n_test: int, words: float) -> int | None:
        return n_test

    def run(self, model: Model, test: Any, ctx: EvalContext) -> EvaluationResult:
        from ...models import classification_metrics

        probs = model.predict_proba(test.texts)
        m = classification_metrics(probs, test.labels, test.label_names)
        y, pred = np.asarray(test.labels), probs.argmax(1)
        items = item_ids(len(test))
        res = EvaluationResult()
        ev = self.name
        res.add_outcomes(ev, "accuracy", items, (pred == y).astype(float))
        res.add(ev, "macro_f1", m["macro_f1"])
        res.add(ev, "n", len(test))
        for k, row in enumerate(m["per_class"]):
            # Recall of class k is the accuracy on the examples of class k: a per-example outcome.
            res.add_outcomes(ev, f"recall:{row['label']}", items, np.where(y == k, pred == y, np.nan))
            res.add(ev, f"precision:{row['label']}", row["precision"])
            res.add(ev, f"f1:{row['label']}", row["f1"])
        names = test.label_names
        res.records = [
            record(
                ev,
                items[i],
                model_failed=pred[i] != y[i],
                text=t,
                label=names[y[i]],
                pred=names[pred[i]],
                conf=probs[i].max(),
            )
            for i, t in enumerate(test.texts)
        ]
        return res
