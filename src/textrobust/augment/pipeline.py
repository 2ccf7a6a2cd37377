"""Operators from configuration: pipeline YAML files, experiment ``augment:`` entries and the CLI.

A list of operators means one thing everywhere: **each** operator makes its own ``n`` variants of every row
(tagged with its spec in the output's ``operator`` column), as repeated ``--op`` options do. The other two ways to
combine operators are written out:

* ``one_of: [A, B]`` - one operator drawn per variant (``{one_of: {ops: [...], weights: [...]}}`` for weights);
* ``sequence: [A, B]`` - A, then B, applied to the same text (one variant goes through both).

``each: [A, B]`` spells the default out. In YAML files a bare list of two or more operators is refused with a
message saying what to write: textrobust 0.1 read such a list as ``one_of`` in experiment files and as ``sequence``
in pipeline files, and a silent change of meaning would change results.

Example:
    >>> [op.name for op in operators_from_config({"one_of": ["char:kind=ocr", "char:kind=keyboard"]}, "x")]
    ['one_of']
    >>> [op.spec_str() for op in operators_from_config({"each": ["char:kind=ocr", "char:kind=keyboard"]}, "x")]
    ['char:kind=ocr', 'char']
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textrobust.augment.base import Operator, operator_from_spec
from textrobust.augment.containers import OneOf, Sequential
from textrobust.augment.filters import Filter, filter_from_spec
from textrobust.errors import ConfigError
from textrobust.models.runtime import Runtime

#: The explicit ways to combine a list of operators, and the container each one builds (``each``: none).
COMBINATIONS = {"each": None, "one_of": "one_of", "sequence": "sequential"}


def bare_list_message(where: str, meant: str) -> str:
    """The one-line error for a bare list of several operators in a YAML file (``meant``: its 0.1 meaning)."""
    return (
        f"{where + ': ' if where else ''}a bare list of several operators is ambiguous "
        f"(textrobust 0.1 read it as {meant}); write "
        f"'one_of: [...]' (one operator drawn per variant), 'sequence: [...]' (applied in turn) or "
        f"'each: [...]' (every operator makes its own variants, like repeated --op)"
    )


def check_combination(node: Any, where: str, meant: str) -> None:
    """Raise :class:`ConfigError` when ``node`` is a bare list of several operators (see the module notes), or
    an ``each:`` that is not at the top."""
    if isinstance(node, list) and len(node) > 1:
        raise ConfigError(bare_list_message(where, meant))
    if isinstance(node, dict) and len(node) == 1:
        key, value = next(iter(node.items()))
        if key in COMBINATIONS:
            if not isinstance(value, list) or not value:
                if key == "one_of" and isinstance(value, dict):
                    return  # {one_of: {ops: [...], weights: [...]}}: an operator spec
                raise ConfigError(f"{where + ': ' if where else ''}'{key}:' takes a non-empty list of operators")
            for child in value:
                if isinstance(child, dict) and "each" in child:
                    raise ConfigError(
                        f"{where + ': ' if where else ''}'each:' combines operators at the top "
                        "only; nest one_of or sequence instead"
                    )


def operators_from_config(
    node: Any,
    where: str,
    *,
    meant: str = "sequence",
    resolve: Callable[[str], str] | None = None,
    runtime: Runtime | None = None,
) -> list[Operator]:
    """The operators a config entry names, applied side by side (``each``): a spec (``"char:kind=ocr"``,
    ``{name: char, params: {...}}``, ``{char: {kind: ocr}}``), ``each:`` / ``one_of:`` / ``sequence:`` lists,
    or a one-item list. ``resolve`` rewrites string values (e.g. ``{data_dir}`` in paths); model-backed operators
    run as ``runtime`` says.

    Example:
        >>> operators_from_config({"sequence": ["char:kind=ocr", {"char": {"kind": "keyboard"}}]}, "p")[0].name
        'sequential'
    """
    check_combination(node, where, meant)
    if isinstance(node, list):
        node = node[0] if node else None
    if node is None:
        raise ConfigError(f"{where}: no operator given")
    if isinstance(node, dict) and len(node) == 1:
        key, children = next(iter(node.items()))
        if key in COMBINATIONS and isinstance(children, list):
            ops = [_operator(c, where, resolve, runtime) for c in children]
            if key == "each" or len(ops) == 1:
                return ops
            return [OneOf(ops) if key == "one_of" else Sequential(ops)]
    return [_operator(node, where, resolve, runtime)]


def _operator(node: Any, where: str, resolve: Callable[[str], str] | None, runtime: Runtime | None = None) -> Operator:
    try:
        return operator_from_spec(_normalise_spec(node, resolve), runtime=runtime)
    except TypeError as exc:
        raise ConfigError(f"{where}: bad operator spec: {exc}") from None


def _normalise_spec(spec: Any, resolve: Callable[[str], str] | None = None) -> Any:
    """Accept the ``{opname: {params}}`` shorthand next to ``{name:, params:}`` and strings, recursively, with
    ``one_of: [...]`` / ``sequence: [...]`` lists as containers."""
    if isinstance(spec, str):
        return resolve(spec) if resolve else spec
    if (
        isinstance(spec, dict)
        and len(spec) == 1
        and next(iter(spec)) in ("one_of", "sequence")
        and isinstance(next(iter(spec.values())), list)
    ):
        key, children = next(iter(spec.items()))
        spec = {"name": COMBINATIONS[key], "params": {"ops": children}}
    if isinstance(spec, dict) and "name" not in spec and len(spec) == 1:
        name, params = next(iter(spec.items()))
        if params is not None and not isinstance(params, dict):
            raise ConfigError(f"operator {name!r}: expected its parameters as a mapping, got {params!r}")
        spec = {"name": name, "params": dict(params or {})}
    if isinstance(spec, dict):
        params = {
            k: (resolve(v) if resolve and isinstance(v, str) else v) for k, v in dict(spec.get("params") or {}).items()
        }
        if "ops" in params:
            params["ops"] = [_normalise_spec(s, resolve) for s in params["ops"]]
        if "op" in params:
            params["op"] = _normalise_spec(params["op"], resolve)
        spec = {"name": spec.get("name"), "params": params}
    return spec


def load_pipeline_yaml(path: str | os.PathLike, *, runtime: Runtime | None = None) -> list[Operator]:
    """The operators of a pipeline YAML file (top level or under ``pipeline:``), applied side by side: one spec,
    or ``each:`` / ``one_of:`` / ``sequence:`` lists (see the module notes).

    Example:
        >>> ops = load_pipeline_yaml("pipeline.yaml")  # doctest: +SKIP
    """
    doc = _read_yaml(path)
    if isinstance(doc, dict) and "pipeline" in doc:
        doc = doc["pipeline"]
    return operators_from_config(doc, f"{path}: pipeline", meant="sequence", runtime=runtime)


def load_filters_yaml(path: str | os.PathLike, *, runtime: Runtime | None = None, **context: Any) -> list[Filter]:
    """The ``filters:`` list of a pipeline YAML (``- dedup``, ``- length: {min_words: 3}``); ``context`` passes
    objects such as ``classifier=`` to filters that need them."""
    doc = _read_yaml(path)
    specs = doc.get("filters", []) if isinstance(doc, dict) else []
    return [filter_from_spec(s, runtime=runtime, **context) for s in specs or []]


def _read_yaml(path: str | os.PathLike) -> Any:
    import yaml

    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read pipeline file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a UTF-8 text file; expected a YAML pipeline") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {str(exc).splitlines()[0]}") from None
