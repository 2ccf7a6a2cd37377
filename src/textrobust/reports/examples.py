"""Example tables (successful attacks, INV failures, augmented rows) sampled from the per-example records.

Every table is capped (``cap`` rows) and shared fairly: rows are taken round-robin across groups (conditions,
or operators for augmentation) so one condition cannot crowd out the others. Totals are always reported so
the page can say how many rows were not shown.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .fmt import is_number
from .rundir import RunDir
from .textdiff import clip, word_diff

EXAMPLE_ROWS = 50


def build_examples(run: RunDir, conditions: list[str], cap: int = EXAMPLE_ROWS) -> dict[str, dict[str, Any]]:
    """Sampled example rows; ``conditions`` gives the display order (baseline first, then config order)."""
    return {
        "attacks": _sample(_attack_rows(run, conditions), "condition", cap),
        "inv_failures": _sample(_inv_failure_rows(run, conditions), "condition", cap),
        "augmented": _sample(_augmented_rows(run, conditions), "operator", cap),
    }


def _attack_rows(run: RunDir, order: list[str]) -> Iterable[dict[str, Any]]:
    for condition, seed, _, r in run.records("attack.jsonl", order):
        if r.get("status") != "succeeded":
            continue
        yield {
            "condition": condition,
            "seed": seed,
            "recipe": _text(r.get("recipe")),
            "label": _text(r.get("label")),
            "original_pred": _text(r.get("original_pred")),
            "perturbed_pred": _text(r.get("perturbed_pred")),
            "original_conf": _number(r.get("original_conf")),
            "perturbed_conf": _number(r.get("perturbed_conf")),
            "queries": _number(r.get("queries")),
            "words_perturbed_pct": _number(r.get("words_perturbed_pct")),
            "original_text": clip(r.get("original_text")),
            "perturbed_text": clip(r.get("perturbed_text")),
            "diff": word_diff(r.get("original_text"), r.get("perturbed_text")),
        }


def _inv_failure_rows(run: RunDir, order: list[str]) -> Iterable[dict[str, Any]]:
    for condition, seed, _, r in run.records("inv.jsonl", order):
        invariant = r.get("invariant")
        if invariant is None:  # older writers: derive it from the two predictions
            invariant = r.get("pred_original") == r.get("pred_perturbed")
        if invariant:
            continue
        yield {
            "condition": condition,
            "seed": seed,
            "suite": _text(r.get("suite")),
            "label": _text(r.get("label")),
            "original": clip(r.get("original")),
            "perturbed": clip(r.get("perturbed")),
            "pred_original": _text(r.get("pred_original")),
            "pred_perturbed": _text(r.get("pred_perturbed")),
            "conf_original": _number(r.get("conf_original")),
            "conf_perturbed": _number(r.get("conf_perturbed")),
            "diff": word_diff(r.get("original"), r.get("perturbed")),
        }


def _augmented_rows(run: RunDir, order: list[str]) -> Iterable[dict[str, Any]]:
    for condition, seed, _, r in run.records("augmented_sample.jsonl", order):
        yield {
            "condition": condition,
            "seed": seed,
            "operator": _text(r.get("operator")),
            "label": _text(r.get("label")),
            "source_text": clip(r.get("source_text")),
            "augmented_text": clip(r.get("augmented_text")),
            "diff": word_diff(r.get("source_text"), r.get("augmented_text")),
        }
    for condition, seed, _, r in run.records("generated_sample.jsonl", order):  # LM-generated rows: no source
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
