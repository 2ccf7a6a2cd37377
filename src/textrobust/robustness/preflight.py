"""Check an experiment's optional language extras before anything is written or trained.

A missing extra (WordNet, the spaCy tagger, SmolLM2, the Bergamot models) would otherwise surface only when the
unit that needs it runs, possibly an hour in; here it is one :class:`~textrobust.errors.ResourceError` naming the
condition, the operator and the package to install. Nothing is loaded.
"""

from __future__ import annotations

from typing import Any

from ..errors import ResourceError


def check_extras(exp: Any, needed: list[str]) -> None:
    """Raise ResourceError (prefixed with where in the spec) for the first missing optional resource of the
    conditions (augmentation operators, generation, POS checks) and of the shared attack resources ``needed``.
    Evaluations check their own (perturbation suites and attack options) in ``Evaluation.check``.

    Example:
        >>> check_extras(load_experiment("examples/sst2_language_models.yaml"), [])  # doctest: +SKIP
    """
    from ..extras import require
    from ..models.causal_lm import check_causal_lm
    from .spec import resolve_path
    from .trainset import augment_pipeline

    def at(where: str, check: Any) -> None:
        try:
            check()
        except ResourceError as exc:
            raise ResourceError(f"{where}: {exc}") from None

    for name, cond in exp.conditions.items():
        for op in augment_pipeline(cond.augment, name)[0] if cond.augment else []:
            at(f"conditions.{name}.augment.ops", op.check_extras)
        if cond.generate:
            at(f"conditions.{name}.generate", lambda g=cond.generate: check_causal_lm(resolve_path(g.model), g.method))
        if cond.adversarial and cond.adversarial.options.get("pos") == "spacy":
            at(f"conditions.{name}.adversarial", lambda: require("spacy", "pos='spacy'"))
    if "lexicon" in needed and "lexicon" not in exp.resources:  # pwws: WordNet unless a lexicon file is given
        at("resources.lexicon", lambda: require("wordnet", "the 'lexicon' resource (pwws)"))
