"""Which attack resources an experiment needs (its recipes' and its ``resources:``), and checks of its model name,
all before any training. Building them is :func:`textrobust.adversarial.resources.build_resources`."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import ConfigError
from .evaluations import Evaluation
from .evaluations.attack import AttackEvaluation, check_recipe
from .spec import Experiment, resolve_path


def model_path(name: str) -> str:
    """The spec's model name as a path or hub name: placeholders expanded, ``minilm`` the packaged MiniLM."""
    from ..models import resolve_model_name

    return resolve_model_name(resolve_path(name))


def check_model_name(name: str) -> None:
    """The spec's model must exist: a local path as a folder, a hub name in the local cache or on a reachable hub
    (:func:`textrobust.models.check_model_source`); fail before training."""
    from ..errors import ModelError
    from ..models import check_model_source
    from ..models.embedding import EmbeddingClassifier, parse_embedding_name

    emb = parse_embedding_name(name)
    if emb is not None:  # bad keys, an unknown encoder or a missing package fail here
        from ..models.multilingual import MultilingualEncoder

        MultilingualEncoder(EmbeddingClassifier(**emb, labels=["a", "b"]).encoder).check()
        return
    try:
        check_model_source(resolve_path(name), setting="model.name:")
    except ModelError as exc:
        raise ConfigError(str(exc)) from None


def needed_resources(exp: Experiment, evaluations: Sequence[Evaluation]) -> list[str]:
    """The resources the experiment's recipes need, plus those its ``resources:`` names that one of its recipes
    accepts (e.g. ``stopwords``); recipe names and ``options`` are checked here, before any training (adversarial
    conditions and attack evaluations alike)."""
    from ..adversarial.recipes import RECIPES, recipe_parameters
    from ..adversarial.setup import recipe_key

    recipes = [c.adversarial.recipe for c in exp.conditions.values() if c.adversarial]
    for c in exp.conditions.values():
        if c.adversarial:
            check_recipe(c.adversarial.recipe, c.adversarial.options)
    recipes += [ev.params.recipe for ev in evaluations if isinstance(ev, AttackEvaluation)]
    names = [n for r in recipes for n in RECIPES[recipe_key(r)].resources]
    names += [n for ev in evaluations for n in ev.resources()]
    accepted = {p for r in recipes for p in recipe_parameters(recipe_key(r))}
    names += [n for n in exp.resources if n in accepted]
    return list(dict.fromkeys(names))
