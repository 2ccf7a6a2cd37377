"""What an attack needs, as names and paths: one :class:`AttackSetup` that ``textrobust attack`` builds in this
process and the Ray backend ships to its actors (each builds the model, the resources and the attack where it runs).

Example:
    >>> setup = AttackSetup("models/sst2", "textfooler", resources={"neighbours": "nb.json"})  # doctest: +SKIP
    >>> setup.check()  # doctest: +SKIP
    >>> report = run_attack(setup.build(), texts, labels)  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from textrobust.errors import ConfigError
from textrobust.models.runtime import Runtime


def recipe_key(recipe: str) -> str:
    """The registry key of a recipe name (``bert-attack`` -> ``bert_attack``); ConfigError lists the known ones."""
    from textrobust.adversarial.recipes import RECIPES

    key = recipe.replace("-", "_")
    if key not in RECIPES:
        raise ConfigError(f"unknown recipe '{recipe}'; known: {', '.join(sorted(RECIPES))}")
    return key


@dataclass(frozen=True)
class AttackSetup:
    """The victim (``model``: a model directory, a Hugging Face classifier or an http(s):// endpoint; ``labels``
    where an endpoint does not say them), the ``recipe``, its ``resources`` (name -> path; the others from the
    defaults of :data:`~textrobust.adversarial.resources.RESOURCES`), recipe ``options`` (keyword arguments, e.g.
    ``pos="lexicon"``) and the ``runtime`` every model of the attack runs with. Picklable: names, not objects.

    Example:
        >>> AttackSetup("models/sst2", "deepwordbug").resource_names()
        []
    """

    model: str
    recipe: str
    resources: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    runtime: Runtime = field(default_factory=Runtime)
    labels: tuple[str, ...] | None = None

    @property
    def key(self) -> str:
        return recipe_key(self.recipe)

    def resource_names(self) -> list[str]:
        """The resources to build: those the recipe needs, and any other it accepts that was named."""
        from textrobust.adversarial.recipes import RECIPES, recipe_parameters

        accepted = recipe_parameters(self.key)
        return list(RECIPES[self.key].resources) + [n for n in self.resources if n in accepted]

    def check(self) -> None:
        """Everything that can be checked before a model loads: the recipe, its options, the resource names and
        paths, the runtime (device and precision)."""
        from textrobust.adversarial.recipes import check_recipe_options
        from textrobust.adversarial.resources import check_resource_paths

        check_recipe_options(self.key, self.options)
        check_resource_paths(self.resource_names(), self.resources, where="--resource")
        self.runtime.check()

    def build_model(self) -> Any:
        """The victim, loaded with this setup's runtime."""
        from textrobust.models import load_model

        return load_model(self.model, labels=self.labels, runtime=self.runtime)

    def build(self, model: Any = None) -> Any:
        """Load the victim (unless given) and the resources, and build the attack."""
        from textrobust.adversarial.recipes import build_attack
        from textrobust.adversarial.resources import build_resources

        model = self.build_model() if model is None else model
        resources = build_resources(self.resource_names(), self.resources, runtime=self.runtime)
        return build_attack(self.key, model, **resources, **self.options)


__all__ = ["AttackSetup", "recipe_key"]
