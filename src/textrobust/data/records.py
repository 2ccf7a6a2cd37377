"""The per-example record: one schema for every file that lists examples a model saw (a run's
``examples.jsonl``, ``textrobust attack -o``).

A record is a dict with ``evaluation``, ``item`` (a stable id, e.g. the test row), ``model_failed`` (the model
failed this example's test: got it wrong, changed its prediction, or an attack on it succeeded; named for the model so
it never reads against an attack's status, where ``failed`` means the attack failed), ``original`` (the unperturbed
text or None), ``text`` (what the model saw), ``label`` (expected label or behaviour), ``pred_original``, ``pred``,
``conf_original``, ``conf`` and ``info`` (columns the report shows for that evaluation). Evaluations with more to keep
add one top-level key of their own
(attacks: ``attack``, see :meth:`textrobust.adversarial.AttackResult.to_record`).
"""

from __future__ import annotations

from typing import Any


def example_record(
    evaluation: str,
    item: str,
    *,
    model_failed: bool,
    text: str,
    pred: str,
    conf: float,
    original: str | None = None,
    label: str | None = None,
    pred_original: str | None = None,
    conf_original: float | None = None,
    **info: Any,
) -> dict[str, Any]:
    """One per-example record (see the module notes); keyword arguments beyond the named ones go to ``info``.

    Example:
        >>> example_record("clean", "0", model_failed=False, text="fine", pred="pos", conf=0.9)["info"]
        {}
    """
    return {
        "evaluation": evaluation,
        "item": item,
        "model_failed": bool(model_failed),
        "original": original,
        "text": text,
        "label": label,
        "pred_original": pred_original,
        "pred": pred,
        "conf_original": None if conf_original is None else float(conf_original),
        "conf": float(conf),
        "info": info,
    }


def model_failed(record: dict[str, Any]) -> bool:
    """Whether the model failed a record's test; reads records written before the field was named ``model_failed``
    (textrobust 0.2: ``failed``, with the same meaning).

    Example:
        >>> model_failed({"model_failed": True}), model_failed({"failed": True}), model_failed({})
        (True, True, False)
    """
    return bool(record.get("model_failed", record.get("failed", False)))
