"""``attack``: accuracy under an adversarial attack (any registered recipe), with the attack's cost.

An experiment may list any number of attacks (e.g. textfooler and deepwordbug side by side); each entry has its own
recipe, options, number of examples and query budget. Two entries with the same recipe need distinct ``name``s.

Every successful attack is also scored for quality (``quality:``, the cheap metrics by default; ``perplexity`` is
opt-in) and, with a ``judge:``, for validity: valid-ASR and accuracy under *valid* attack are reported beside the
raw ones; each record's ``info.judge`` says ``kept``, ``rejected`` or ``abstained`` and the report lists the rejected
ones in a table of their own (docs/validity.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator

from ...adversarial.quality import DEFAULT_QUALITY
from ...errors import ConfigError
from .base import EvalContext, EvalParams, Evaluation, EvaluationResult, MetricInfo, Model, item_ids


class AttackParams(EvalParams):
    kind: Literal["attack"] = "attack"
    recipe: str = Field("deepwordbug", description="attack recipe (textrobust list recipes)")
    n: int = Field(100, ge=1, description="attack the first n test examples")
    query_budget: int | None = Field(None, ge=1)
    batch_size: int | None = Field(
        None, ge=1, description="examples advanced in lockstep (default: from the model's token budget)"
    )
    options: dict[str, Any] = Field({}, description="recipe keyword arguments, e.g. {pos: lexicon}")
    quality: list[str] = Field(
        list(DEFAULT_QUALITY),
        description="quality metrics of successful attacks: modification, edits, similarity, perplexity (opt-in)",
    )
    quality_options: dict[str, dict[str, Any]] = Field(
        {}, description="per-metric options, e.g. {perplexity: {lm: smollm2}, similarity: {encoder: minilm}}"
    )
    judge: Any = Field(
        None,
        description="validity judge: {kind: classifier, path: DIR}, {kind: llm, prompt: ...} or {kind: ensemble, "
        "judges: [...]} (docs/validity.md)",
    )

    @field_validator("judge", mode="before")
    @classmethod
    def _judge(cls, v: Any) -> Any:
        from ...adversarial.validity import judge_field

        return judge_field(v)

    @field_validator("quality")
    @classmethod
    def _quality(cls, v: list[str]) -> list[str]:
        from ...adversarial.quality import QUALITY_METRICS

        unknown = sorted(set(v) - set(QUALITY_METRICS))
        if unknown:
            raise ValueError(f"unknown quality metric(s) {unknown}; known: {', '.join(QUALITY_METRICS)}")
        return v


class AttackEvaluation(Evaluation):
    """Accuracy under attack (headline), success rate, words perturbed, queries and speed."""

    kind = "attack"
    Params = AttackParams
    params: AttackParams

    def default_name(self) -> str:
        return f"attack:{self.params.recipe}"

    def examples_scored(self, n_test: int) -> int | None:
        return min(self.params.n, n_test)

    def metrics(self, labels: Sequence[str]) -> list[MetricInfo]:
        ev, r = self.name, self.params.recipe
        return [
            self.info(
                ev, "accuracy_under_attack", f"accuracy under {r} attack", headline=True, chart="Accuracy under attack"
            ),
            self.info(
                ev, "original_accuracy", f"accuracy on the {r}-attacked examples before the attack", role="clean"
            ),
            self.info(
                ev, "success_rate", f"{r} attack success rate (of examples the model got right)", higher_is_better=False
            ),
            self.info(
                ev,
                "avg_words_perturbed_pct",
                f"words {r} perturbed per successful attack (%)",
                unit="percent",
                range=(0, 100),
                role="cost",
                chart="Attack cost: words perturbed (%)",
            ),
            self.info(
                ev,
                "avg_queries",
                f"model queries per attacked example ({r})",
                unit="count",
                range=(0, None),
                role="cost",
                chart="Attack cost: model queries per example",
            ),
            self.info(
                ev, "n", f"examples attacked ({r})", unit="count", range=(0, None), higher_is_better=None, role="info"
            ),
            *self._validity_metrics(ev, r),
            *self._quality_metrics(ev, r),
            self.info(
                ev,
                "examples_per_s",
                f"{r} attack speed (examples/s)",
                unit="score",
                range=(0, None),
                higher_is_better=None,
                role="info",
                timing=True,
            ),
        ]

    def _validity_metrics(self, ev: str, r: str) -> list[MetricInfo]:
        if self.params.judge is None:
            return []
        return [
            self.info(
                ev,
                "accuracy_under_valid_attack",
                f"accuracy under valid {r} attack (successes the judge rejects do not count)",
                headline=True,
                chart="Accuracy under attack",
            ),
            self.info(
                ev,
                "valid_success_rate",
                f"valid {r} attack success rate (succeeded and the judge keeps the label)",
                higher_is_better=False,
            ),
            self.info(
                ev,
                "judge_rejected",
                f"successful {r} attacks the judge rejected (label changed)",
                higher_is_better=None,
                role="info",
            ),
            self.info(
                ev,
                "judge_abstained",
                f"successful {r} attacks the judge abstained on",
                higher_is_better=None,
                role="info",
            ),
        ]

    def _quality_metrics(self, ev: str, r: str) -> list[MetricInfo]:
        q, out = set(self.params.quality), []
        meta = {"higher_is_better": None, "role": "cost"}
        if "similarity" in q:
            out.append(
                self.info(
                    ev,
                    "similarity",
                    f"{r}: sentence-encoder similarity of successes",
                    unit="score",
                    range=(-1, 1),
                    chart="Attack quality: similarity to the original",
                    **meta,
                )
            )
        if "modification" in q:
            out += [
                self.info(
                    ev,
                    "word_mod_pct",
                    f"{r}: words modified per success (%)",
                    unit="percent",
                    range=(0, None),
                    chart="Attack quality: words modified (%)",
                    **meta,
                ),
                self.info(
                    ev,
                    "char_mod_pct",
                    f"{r}: characters modified per success (%)",
                    unit="percent",
                    range=(0, None),
                    **meta,
                ),
            ]
        if "edits" in q:
            out += [
                self.info(
                    ev, "edits_word", f"{r}: whole-word swaps per success", unit="count", range=(0, None), **meta
                ),
                self.info(
                    ev, "edits_char", f"{r}: in-word character edits per success", unit="count", range=(0, None), **meta
                ),
            ]
        if "perplexity" in q:
            out.append(
                self.info(
                    ev,
                    "ppl_log_ratio",
                    f"{r}: perplexity increase of successes (ln ratio; 0.69 = doubled)",
                    unit="score",
                    range=(None, None),
                    chart="Attack quality: perplexity increase",
                    **meta,
                )
            )
        return out

    def resources(self) -> list[str]:
        from ...adversarial.recipes import RECIPES
        from ...adversarial.setup import recipe_key

        return list(RECIPES[recipe_key(self.params.recipe)].resources)

    def check(self, ctx: EvalContext) -> None:
        from ...adversarial.quality import check_quality
        from ...adversarial.validity import check_judge

        check_recipe(self.params.recipe, self.params.options)
        check_quality(self.params.quality, ctx.runtime, self.params.quality_options)
        if self.params.judge is not None:
            check_judge(self.params.judge, ctx.label_names, where=f"evaluation '{self.name}': judge")
        if ctx.lang is not None:  # an English recipe on Chinese data refuses now, not after training
            from ...adversarial.recipes import RECIPE_LANGUAGES
            from ...adversarial.setup import recipe_key
            from ...lang import check_supported

            key = recipe_key(self.params.recipe)
            hint = "Chinese recipes: zh_char, zh_word" if ctx.lang == "zh" else ""
            check_supported(f"evaluation '{self.name}' (recipe {key})", ctx.lang, RECIPE_LANGUAGES[key], hint)
        if self.params.options.get("pos") == "spacy":
            from ...extras import require

            require("spacy", f"evaluation '{self.name}' (pos='spacy')")

    def check_model(self, model: Any, ctx: EvalContext) -> None:
        from ...adversarial.recipes import check_victim

        check_victim(self.params.recipe, model)  # a score-based recipe on a label-only endpoint

    def estimate_calls(self, n_test: int, words: float) -> int | None:
        """Up to ``1 + W x (1 + C)`` queries per attacked example (the original, a ranking probe and C candidates
        per word of W), or the query budget when smaller."""
        per = 1 + words * (1 + _CANDIDATES.get(self.params.recipe.replace("-", "_"), 10))
        if self.params.query_budget is not None:
            per = min(per, self.params.query_budget)
        return int(min(self.params.n, n_test) * per)

    def run(self, model: Model, test: Any, ctx: EvalContext) -> EvaluationResult:
        from ...adversarial import build_attack, run_attack

        p = self.params
        n = min(p.n, len(test))
        target = ctx.raw_model if ctx.raw_model is not None else model
        # build_attack drops the resources that other recipes of this experiment need.
        attack = build_attack(p.recipe, target, **{**ctx.resources(), **p.options})
        report = run_attack(
            attack,
            test.texts[:n],
            test.labels[:n],
            batch_size=p.batch_size,
            query_budget=p.query_budget,
            progress=ctx.progress,
            lang=ctx.lang,
        )
        self.assess(report, ctx)
        return self._result(report, test, n)

    def assess(self, report: Any, ctx: EvalContext) -> None:
        """Quality metrics and the judge on the successes (the judge is built once per run and shared)."""
        from ...adversarial.assess import assess
        from ...adversarial.validity import build_judge

        p = self.params
        judge = None
        if p.judge is not None:
            spec = p.judge
            judge = ctx.cached(
                ("judge", spec.model_dump_json()), lambda: build_judge(spec, ctx.label_names, ctx.runtime)
            )
        assess(report, judge=judge, quality=p.quality, quality_options=p.quality_options, runtime=ctx.runtime)

    def _result(self, report: Any, test: Any, n: int) -> EvaluationResult:
        ev, names, items = self.name, test.label_names, item_ids(n)
        status = np.array([r.status for r in report.results])
        attacked = status != "skipped"
        won = status == "succeeded"
        res = EvaluationResult()
        res.add_outcomes(ev, "accuracy_under_attack", items, (attacked & ~won).astype(float))
        res.add_outcomes(ev, "original_accuracy", items, attacked.astype(float))
        res.add_outcomes(ev, "success_rate", items, np.where(attacked, won, np.nan))
        frac = np.array([100.0 * r.perturbed_fraction for r in report.results])
        res.add_outcomes(ev, "avg_words_perturbed_pct", items, np.where(won, frac, np.nan))
        res.add_outcomes(
            ev, "avg_queries", items, np.where(attacked, [float(r.num_queries) for r in report.results], np.nan)
        )
        self._add_assessment(res, report, items, attacked, won)
        res.add(ev, "n", n)
        res.add(ev, "examples_per_s", min(report.summary()["examples_per_s"], 1e9))
        # The same record schema as 'textrobust attack -o' writes (AttackResult.to_record).
        res.records += [r.to_record(names, evaluation=ev, recipe=self.params.recipe) for r in report.results]
        return res

    def _add_assessment(self, res: EvaluationResult, report: Any, items: list[str], attacked: Any, won: Any) -> None:
        ev, results = self.name, report.results
        if self.params.judge is not None:
            valid = np.array([bool(r.valid) if r.status == "succeeded" else False for r in results])
            verdict = [(r.judge or {}).get("verdict") for r in results]
            res.add_outcomes(ev, "accuracy_under_valid_attack", items, (attacked & ~(won & valid)).astype(float))
            res.add_outcomes(ev, "valid_success_rate", items, np.where(attacked, won & valid, np.nan))
            for metric, word in (("judge_rejected", "rejected"), ("judge_abstained", "abstained")):
                res.add_outcomes(ev, metric, items, np.where(won, [v == word for v in verdict], np.nan))
        for m in self._quality_metrics(ev, self.params.recipe):
            col = [r.quality.get(m.metric, np.nan) if r.status == "succeeded" else np.nan for r in results]
            res.add_outcomes(ev, m.metric, items, np.asarray(col, dtype=float))


#: Candidates per word a recipe tries (for a dry run's estimate): DeepWordBug's four character edits, the up to 8
#: counter-fitted neighbours of TextFooler and the hard-label search, ...
_CANDIDATES = {"deepwordbug": 4, "textfooler": 8, "hardlabel": 8, "a2t": 8, "textbugger": 12}


def check_recipe(recipe: str, options: dict[str, Any]) -> None:
    """Unknown recipes, unknown options and resources given as options fail before any training."""
    from ...adversarial.recipes import check_recipe_options
    from ...adversarial.resources import RESOURCES

    check_recipe_options(recipe, options)  # also rejects an unknown recipe
    given = sorted(set(options) & set(RESOURCES))
    if given:
        raise ConfigError(
            f"recipe '{recipe}' options name resource(s) {given}: give their paths under the "
            "experiment's 'resources:' instead (they are loaded once and shared)"
        )
