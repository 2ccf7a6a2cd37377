"""Shared resources of an experiment's attacks (neighbours, lexicon, encoder, masked LM): which are needed,
checked before any training, and built once from the spec's ``resources:`` paths or the shared-data defaults."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import ConfigError
from .evaluations import Evaluation
from .evaluations.attack import check_recipe
from .spec import Experiment, resolve_path


def model_path(name: str) -> str:
    """``minilm`` -> the packaged MiniLM; anything else is a hub name or local path."""
    from ..models import minilm_path

    return minilm_path() if name.lower() in ("minilm", "all-minilm-l6-v2") else resolve_path(name)


def check_model_name(name: str) -> None:
    """A model named by a local path must exist: fail before training. (A hub name, ``org/name`` or ``name``,
    cannot be checked offline.)"""
    from pathlib import Path

    path = model_path(name)
    local = Path(path).is_absolute() or path.startswith((".", "~")) or path.count("/") > 1
    if local and not Path(path).is_dir():
        raise ConfigError(f"model.name: {path} is not a model directory (nor a Hugging Face hub name)")


def needed_resources(exp: Experiment, evaluations: Sequence[Evaluation]) -> list[str]:
    """The resources the experiment's recipes need; recipe names and ``options`` are checked here, before any
    training (adversarial conditions and attack evaluations alike)."""
    from ..adversarial.recipes import RECIPES

    names: list[str] = []
    for c in exp.conditions.values():
        if c.adversarial:
            check_recipe(c.adversarial.recipe, c.adversarial.options)
            names += [n for n in RECIPES[c.adversarial.recipe.replace("-", "_")].resources if n not in names]
    for ev in evaluations:
        names += [n for n in ev.resources() if n not in names]
    return names


def check_resource_paths(names: Sequence[str], given: dict[str, str]) -> None:
    """The files and folders ``given`` names for the ``names`` an experiment needs must exist (loading them waits
    for the first attack; a missing one fails now, before anything is written)."""
    from pathlib import Path

    from ..errors import ResourceError

    for name in names:
        path = given.get(name)
        if path is None or (name == "encoder" and path.lower() == "minilm"):
            continue
        p = resolve_path(path)
        local = Path(p).is_absolute() or p.startswith((".", "~")) or p.count("/") > 1 or bool(Path(p).suffix)
        if local and not Path(p).exists():
            raise ResourceError(f"resources.{name}: {p} not found")


def build_resources(names: Sequence[str], given: dict[str, str]) -> dict[str, Any]:
    """Recipe resources by name: from the paths in ``given``, else the defaults from the shared data folder.

    Example:
        >>> res = build_resources(["neighbours"], {"neighbours": "words.json"})  # doctest: +SKIP
    """
    from ..adversarial import MaskedLM, SentenceEncoder
    from ..adversarial import load_resources as default_resources
    from ..augment import load_source

    out: dict[str, Any] = {}
    for name in names:
        path = given.get(name)
        if path is None:
            out.update(default_resources([name]))
        elif name in ("neighbours", "lexicon"):
            p = resolve_path(path)
            kind = "wordnet" if p.lower() == "wordnet" else "lexicon" if p.endswith(".json") else "embedding"
            out[name] = load_source(kind, None if kind == "wordnet" else p)
        elif name == "encoder":
            out[name] = SentenceEncoder(None if path.lower() == "minilm" else resolve_path(path))
        elif name == "mlm":
            out[name] = MaskedLM.from_pretrained(resolve_path(path))
        else:
            raise ConfigError(f"resources: unknown resource '{name}'; known: neighbours, lexicon, encoder, mlm")
    return out
