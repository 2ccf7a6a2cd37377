"""Evaluations: named, registered plug-ins that score a model (see :mod:`.base` for the interface).

``EVALUATIONS`` maps each ``kind`` to its class; the experiment spec's ``evaluations:`` list is a discriminated
union of their ``Params`` models. Adding one: a module, a line here, a case in
``tests/test_evaluation_contract.py`` (``docs/evaluations.md`` walks through an example).

Example:
    >>> ev = build_evaluation({"kind": "attack", "recipe": "textfooler", "n": 50})
    >>> ev.name
    'attack:textfooler'
"""

from __future__ import annotations

from typing import Any

from ...errors import ConfigError
from .attack import AttackEvaluation
from .base import EvalContext, EvalParams, Evaluation, EvaluationResult, MetricInfo, Score, record
from .calibration import CalibrationEvaluation
from .clean import CleanEvaluation
from .crosslingual import CrosslingualEvaluation
from .dir import DirEvaluation
from .format_spread import FormatSpreadEvaluation
from .inv import InvEvaluation, SuiteSpec
from .mft import MftEvaluation
from .transfer import TransferEvaluation

EVALUATIONS: dict[str, type[Evaluation]] = {
    "clean": CleanEvaluation,
    "inv": InvEvaluation,
    "mft": MftEvaluation,
    "dir": DirEvaluation,
    "attack": AttackEvaluation,
    "transfer": TransferEvaluation,
    "calibration": CalibrationEvaluation,
    "format_spread": FormatSpreadEvaluation,
    "crosslingual": CrosslingualEvaluation,
}


def build_evaluation(params: EvalParams | dict[str, Any]) -> Evaluation:
    """The evaluation for a params model (from the spec) or a plain dict with a ``kind``."""
    if isinstance(params, dict):
        kind = params.get("kind")
        if kind not in EVALUATIONS:
            raise ConfigError(f"unknown evaluation kind {kind!r}; known: {', '.join(EVALUATIONS)}")
        from pydantic import ValidationError

        try:
            params = EVALUATIONS[kind].Params.model_validate(params)
        except ValidationError as e:
            err = e.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise ConfigError(f"evaluation '{kind}': {where}: {err['msg']}") from None
    return EVALUATIONS[params.kind](params)


__all__ = [
    "EVALUATIONS",
    "EvalContext",
    "EvalParams",
    "Evaluation",
    "EvaluationResult",
    "MetricInfo",
    "Score",
    "SuiteSpec",
    "build_evaluation",
    "record",
]
