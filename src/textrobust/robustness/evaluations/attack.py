"""``attack``: accuracy under an adversarial attack (any registered recipe), with the attack's cost.

An experiment may list any number of attacks (e.g. textfooler and deepwordbug side by side); each entry has its own
recipe, options, number of examples and query budget. Two entries with the same recipe need distinct ``name``s.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from pydantic import Field

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


class AttackEvaluation(Evaluation):
    """Accuracy under attack (headline), success rate, words perturbed, queries and speed."""

    kind = "attack"
    Params = AttackParams
    params: AttackParams

    def default_name(self) -> str:
        return f"attack:{self.params.recipe}"

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

    def resources(self) -> list[str]:
        from ...adversarial.recipes import RECIPES
        from ...adversarial.setup import recipe_key

        return list(RECIPES[recipe_key(self.params.recipe)].resources)

    def check(self, ctx: EvalContext) -> None:
        check_recipe(self.params.recipe, self.params.options)
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
        return self._result(report, test, n)

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
        res.add(ev, "n", n)
        res.add(ev, "examples_per_s", min(report.summary()["examples_per_s"], 1e9))
        # The same record schema as 'textrobust attack -o' writes (AttackResult.to_record).
        res.records += [r.to_record(names, evaluation=ev, recipe=self.params.recipe) for r in report.results]
        return res


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
