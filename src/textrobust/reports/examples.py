"""Example tables sampled from the per-example records: the failures of every evaluation (successful attacks,
invariance failures, failed behaviour tests, misclassified transfer examples, ...) and augmented training rows.

Every table is capped (``cap`` rows) and shared fairly: rows are taken round-robin across groups (conditions, or
operators for augmentation) so one condition cannot crowd out the others. Totals are always reported so the page
can say how many rows were not shown.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from textrobust.data.records import model_failed
from textrobust.layout import UnitLayout

from .fmt import is_number
from .rundir import RunDir
from .textdiff import clip, word_diff

EXAMPLE_ROWS = 50

#: A unit directory's file names (only ``.name`` is used: records are read from every unit directory).
_FILES = UnitLayout(Path("."))


def build_examples(
    run: RunDir, conditions: list[str], metrics: list[dict[str, Any]], cap: int = EXAMPLE_ROWS
) -> dict[str, Any]:
    """``{"failures": [block per evaluation], "augmented": block}``; evaluations in metric-metadata order."""
    rows: dict[str, list[dict[str, Any]]] = {}
    for row in _failure_rows(run, conditions):
        rows.setdefault(row["evaluation"], []).append(row)
    order = list(dict.fromkeys(m["evaluation"] for m in metrics)) + sorted(rows)
    headline = {m["evaluation"]: m["label"] for m in metrics if m.get("headline")}
    failures = []
    for ev in dict.fromkeys(order):
        if ev in rows:
            block = _sample(rows[ev], "condition", cap)
            slug = re.sub(r"[^A-Za-z0-9]+", "-", ev).strip("-").lower() or "evaluation"
            failures.append(
                {
                    "evaluation": ev,
                    "id": f"fail-{slug}-{len(failures) + 1}"
                    if any(f["id"] == f"fail-{slug}" for f in failures)
                    else f"fail-{slug}",
                    "metric_label": headline.get(ev),
                    **block,
                    "info_columns": _varying_info(block["rows"]),
                }
            )
            rejected = [r for r in rows[ev] if r["info"].get("judge") == "rejected"]
            if rejected:  # successful attacks whose edit changed the gold label: what raw attack success over-counts
                block = _sample(rejected, "condition", cap)
                failures.append(
                    {
                        "evaluation": f"{ev}: rejected by the validity judge",
                        "id": f"{failures[-1]['id']}-judge-rejected",
                        "metric_label": None,
                        "legend": "successful attacks the validity judge says changed the gold label (not counted "
                        "in accuracy under valid attack)",
                        **block,
                        "info_columns": _varying_info(block["rows"]),
                    }
                )
    return {"failures": failures, "augmented": _sample(_augmented_rows(run, conditions), "operator", cap)}


def _failure_rows(run: RunDir, order: list[str]) -> Iterable[dict[str, Any]]:
    for condition, seed, _, r in run.records(_FILES.examples.name, order):
        if not model_failed(r):
            continue
        original, text = r.get("original"), r.get("text")
        info = r.get("info") if isinstance(r.get("info"), dict) else {}
        yield {
            "condition": condition,
            "seed": seed,
            "evaluation": _text(r.get("evaluation")),
            "label": _text(r.get("label")),
            "pred_original": None if r.get("pred_original") is None else _text(r.get("pred_original")),
            "pred": _text(r.get("pred")),
            "conf_original": _number(r.get("conf_original")),
            "conf": _number(r.get("conf")),
            "original": None if original is None else clip(original),
            "text": clip(text),
            "diff": word_diff(original, text) if original is not None else None,
            "info": {str(k): (v if is_number(v) else _text(v)) for k, v in info.items()},
        }


def _varying_info(rows: list[dict[str, Any]]) -> list[str]:
    """Info keys worth a column: those whose value differs between the rows shown."""
    keys = list(dict.fromkeys(k for r in rows for k in r["info"]))
    return [k for k in keys if len({repr(r["info"].get(k)) for r in rows}) > 1]


def _augmented_rows(run: RunDir, order: list[str]) -> Iterable[dict[str, Any]]:
    for condition, seed, _, r in run.records(_FILES.augmented_sample.name, order):
        yield {
            "condition": condition,
            "seed": seed,
            "operator": _text(r.get("operator")),
            "label": _text(r.get("label")),
            "source_text": clip(r.get("source_text")),
            "augmented_text": clip(r.get("augmented_text")),
            "diff": word_diff(r.get("source_text"), r.get("augmented_text")),
        }
    for condition, seed, _, r in run.records(_FILES.generated_sample.name, order):  # LM-generated rows: no source
        yield {
            "condition": condition,
            "seed": seed,
            "operator": f"generate:{_text(r.get('method'))}",
            "label": _text(r.get("label")),
            "source_text": "",
            "augmented_text": clip(r.get("text")),
            "diff": word_diff("", r.get("text")),
        }


def _sample(rows: Iterable[dict[str, Any]], group_key: str, cap: int) -> dict[str, Any]:
    """Keep at most ``cap`` rows, round-robin over groups; count everything."""
    groups: dict[str, list[dict[str, Any]]] = {}
    totals: dict[str, int] = {}
    for row in rows:
        key = row[group_key]
        totals[key] = totals.get(key, 0) + 1
        bucket = groups.setdefault(key, [])
        if len(bucket) < cap:
            bucket.append(row)
    shown: list[dict[str, Any]] = []
    depth = 0
    while len(shown) < cap and any(depth < len(b) for b in groups.values()):
        for bucket in groups.values():
            if depth < len(bucket) and len(shown) < cap:
                shown.append(bucket[depth])
        depth += 1
    total = sum(totals.values())
    return {"total": total, "shown": len(shown), "not_shown": total - len(shown), "by_group": totals, "rows": shown}


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _number(value: Any) -> float | None:
    return float(value) if is_number(value) else None
