"""``format_spread``: how much a prompted classifier's accuracy moves when only the prompt's *format* changes.

Sclar et al. (ICLR 2024, FormatSpread) measured accuracy spreads of up to 76 points across meaning-preserving
formats of the same prompt (separators, casing, spacing, ...). This evaluation draws ``k`` formats (the model's own
first, then ``k - 1`` seeded variants along ``dimensions``: see :func:`textrobust.models.prompt.sample_formats`),
scores the same test texts under each, and reports the worst, median and best format's accuracy — each with its
per-example outcomes, so the summary gives them intervals over test examples — the spread (best minus worst, paired
per example), every format's accuracy, and which format is worst (its index here, its layout in the records).

The worst and best formats are chosen after seeing the test set, so their intervals are those of a format fixed in
advance: read the worst accuracy's interval as "this format, on this kind of data", not as a bound over formats.

It needs a prompted model (``smollm2``, a causal LM directory, an ``openai+http://`` endpoint).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator

from ...errors import ConfigError
from .base import EvalContext, EvalParams, Evaluation, EvaluationResult, MetricInfo, Model, item_ids, record


class FormatSpreadParams(EvalParams):
    kind: Literal["format_spread"] = "format_spread"
    k: int = Field(10, ge=2, le=100, description="formats scored: the model's own and k - 1 variants")
    n: int | None = Field(None, ge=1, description="score the first n test examples (default: all)")
    seed: int = Field(0, description="seed of the format variants; the same for every model")
    dimensions: list[str] = Field(
        ["separators", "spacing", "casing", "label_order", "field_names"],
        min_length=1,
        description="what the variants change (textrobust.models.prompt.FORMAT_SPACE)",
    )

    @field_validator("dimensions")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        from ...models.prompt import FORMAT_SPACE

        unknown = sorted(set(v) - set(FORMAT_SPACE))
        if unknown:
            raise ValueError(f"unknown dimension(s) {unknown}; known: {', '.join(FORMAT_SPACE)}")
        return v


class FormatSpreadEvaluation(Evaluation):
    """Worst-format accuracy (headline), median and best, the spread, and each format's accuracy."""

    kind = "format_spread"
    Params = FormatSpreadParams
    params: FormatSpreadParams

    def metrics(self, labels: Sequence[str]) -> list[MetricInfo]:
        ev, k = self.name, self.params.k
        chart = "Accuracy across prompt formats"
        out = [
            self.info(ev, "accuracy_min", f"accuracy in the worst of {k} prompt formats", headline=True, chart=chart),
            self.info(ev, "accuracy_median", f"accuracy in the median of {k} prompt formats", chart=chart),
            self.info(ev, "accuracy_max", f"accuracy in the best of {k} prompt formats", role="clean", chart=chart),
            self.info(
                ev, "spread", f"accuracy spread across {k} prompt formats (best - worst)", higher_is_better=False
            ),
            self.info(
                ev, "n", "test examples per format", unit="count", range=(0, None), higher_is_better=None, role="info"
            ),
            self.info(
                ev,
                "worst_format",
                "index of the worst prompt format (its layout: the records)",
                unit="count",
                range=(0, None),
                higher_is_better=None,
                role="info",
            ),
        ]
        return out + [
            self.info(
                ev, f"accuracy:f{i:02d}", f"accuracy with prompt format {i}" + (" (the model's own)" if i == 0 else "")
            )
            for i in range(k)
        ]

    def check_model(self, model: Any, ctx: EvalContext) -> None:
        _format_of(model, self.name)

    def estimate_calls(self, n_test: int, words: float) -> int | None:
        return self.params.k * min(self.params.n or n_test, n_test)

    def run(self, model: Model, test: Any, ctx: EvalContext) -> EvaluationResult:
        from ...models.prompt import sample_formats
        from ...progress import Bar

        p = self.params
        raw: Any = ctx.raw_model if ctx.raw_model is not None else model
        base = _format_of(raw, self.name)
        formats = sample_formats(base, len(test.label_names), p.k, seed=p.seed, dimensions=p.dimensions)
        n = min(p.n or len(test), len(test))
        texts, y = list(test.texts[:n]), np.asarray(test.labels[:n])
        correct = []
        with Bar(f"{self.name}: formats", total=len(formats), unit="formats", enabled=ctx.progress) as bar:
            for fmt in formats:
                probs = np.asarray(raw.with_prompt_format(fmt).predict_proba(texts))
                correct.append((probs.argmax(1) == y).astype(float))
                bar.advance()
        acc = np.array([c.mean() for c in correct])
        order = np.argsort(acc, kind="stable")  # worst first; ties: the earlier format
        worst, best, median = int(order[0]), int(order[-1]), int(order[(len(order) - 1) // 2])
        ev, items, res = self.name, item_ids(n), EvaluationResult()
        res.add_outcomes(ev, "accuracy_min", items, correct[worst])
        res.add_outcomes(ev, "accuracy_median", items, correct[median])
        res.add_outcomes(ev, "accuracy_max", items, correct[best])
        res.add_outcomes(ev, "spread", items, correct[best] - correct[worst])
        res.add(ev, "n", n)
        res.add(ev, "worst_format", worst)
        for i in range(p.k):  # fewer formats than k when the variant space is smaller: NaN for the rest
            if i < len(formats):
                res.add_outcomes(ev, f"accuracy:f{i:02d}", items, correct[i])
            else:
                res.add(ev, f"accuracy:f{i:02d}", float("nan"))
        prompt = _prompt_of(raw)
        for i in [int(j) for j in order]:
            layout = prompt.with_format(formats[i]).describe() if prompt is not None else repr(formats[i])
            res.records.append(
                record(
                    ev,
                    f"f{i:02d}",
                    model_failed=i == worst,
                    text=layout,
                    pred=f"accuracy {acc[i]:.3f}",
                    conf=float(acc[i]),
                    format_spread={"format": i, "accuracy": float(acc[i]), "worst": i == worst, "best": i == best},
                )
            )
        return res


def _format_of(model: Any, who: str) -> Any:
    fmt = getattr(model, "prompt_format", None)
    if fmt is None:
        raise ConfigError(
            f"evaluation '{who}' varies the prompt of a prompted model (smollm2, a causal LM, an openai+http:// "
            f"endpoint); {model!r} takes no prompt"
        )
    return fmt


def _prompt_of(model: Any) -> Any:
    """The :class:`~textrobust.models.prompt.Prompt` inside wrappers (label alignment, the call cache)."""
    from ...models.prompt import Prompt

    for _ in range(5):
        prompt = getattr(model, "prompt", None)
        if isinstance(prompt, Prompt):
            return prompt
        model = getattr(model, "model", None)
        if model is None:
            break
    return None
