"""Turn a loaded run directory into the report's content: one JSON-ready dict.

The same dict is written as ``report.json`` and rendered into ``report.html``, so both always carry the same
numbers. Means and intervals come from ``summary.json`` as the harness computed them; nothing is re-estimated.
"""

from __future__ import annotations

import datetime as _dt
import math
from typing import Any

from .examples import build_examples
from .fmt import duration, is_number, verdict
from .rundir import RunDir

SCHEMA_VERSION = 1
_CELL_FIELDS = (
    "n_seeds", "mean", "ci_low", "ci_high", "diff_mean", "diff_ci_low", "diff_ci_high", "diff_includes_zero",
)
_ATTACK_COST = (("avg_queries", "Average queries per attacked example", "number"),
                ("avg_words_perturbed_pct", "Words perturbed (% of words, average)", "percent"))


def build_content(run: RunDir) -> dict[str, Any]:
    summary = run.summary
    confidence = float(summary.get("confidence") or 0.95)
    baseline = str(summary.get("baseline") or "baseline")
    index = {(str(r["condition"]), str(r["evaluation"]), str(r["metric"])): r for r in summary["rows"]}
    conditions = _conditions(run, index, baseline)
    suites = _ordered(e[4:] for _, e, _ in index if e.startswith("inv:"))
    recipes = _ordered(e[7:] for _, e, _ in index if e.startswith("attack:"))
    columns = _columns(suites, recipes, index)

    def cell(condition: str, evaluation: str, metric: str) -> dict[str, Any] | None:
        row = index.get((condition, evaluation, metric))
        return None if row is None else {k: _clean(row.get(k)) for k in _CELL_FIELDS}

    table = []
    for name in conditions:
        cells = {c["key"]: cell(name, c["evaluation"], c["metric"]) for c in columns}
        table.append({"name": name, "is_baseline": name == baseline, "cells": cells,
                      "n_seeds": _max_seeds(cells), "verdicts": [], "is_best": False})
    _mark_best(table, columns)
    best = _best_condition(table, columns)
    for row in table:
        row["is_best"] = row["name"] == best["condition"]
        row["verdicts"] = _verdicts(row, columns, suites, recipes, confidence)

    charts = {
        "robustness": [
            {"suite": s, "condition": c, "invariance": cell(c, f"inv:{s}", "invariance"),
             "accuracy": cell(c, f"inv:{s}", "accuracy")}
            for s in suites for c in conditions
        ],
        "attack": [
            {"condition": c, "clean": cell(c, "clean", "accuracy"),
             "under_attack": {r: cell(c, f"attack:{r}", "accuracy_under_attack") for r in recipes}}
            for c in conditions
        ],
        "attack_cost": [
            {"recipe": r, "condition": c, **{m: cell(c, f"attack:{r}", m) for m, _, _ in _ATTACK_COST},
             "success_rate": cell(c, f"attack:{r}", "success_rate")}
            for r in recipes for c in conditions
        ],
    }
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "run_dir": str(run.path.resolve()),
        "header": _clean_tree(_header(run, conditions)),
        "confidence": confidence,
        "method": summary.get("method"),
        "baseline": baseline,
        "suites": suites,
        "recipes": recipes,
        "columns": columns,
        "best": best,
        "conditions": table,
        "charts": charts,
        "per_seed": _per_seed(run, columns),
        "examples": build_examples(run, conditions),
        "summary_rows": [{k: _clean(v) for k, v in r.items()} for r in summary["rows"]],
        "config": _clean_tree(run.config),
        "environment": _clean_tree(run.environment),
    }


def _conditions(run: RunDir, index: dict, baseline: str) -> list[str]:
    """Config order first (that is how the user wrote them), then anything else the summary mentions."""
    configured = run.config.get("conditions")
    names = list(configured) if isinstance(configured, (dict, list)) else []
    names = [str(n if not isinstance(n, dict) else n.get("name")) for n in names]
    names += [c for c, _, _ in index]
    ordered = _ordered(names)
    if baseline in ordered:  # the reference row goes first
        ordered.remove(baseline)
        ordered.insert(0, baseline)
    return ordered


def _columns(suites: list[str], recipes: list[str], index: dict) -> list[dict[str, Any]]:
    present = {(e, m) for _, e, m in index}
    cols = [{"key": "clean", "evaluation": "clean", "metric": "accuracy", "label": "Clean accuracy",
             "kind": "clean", "unit": "fraction"}]
    cols += [{"key": f"inv:{s}", "evaluation": f"inv:{s}", "metric": "accuracy", "label": f"Perturbed: {s}",
              "kind": "inv", "unit": "fraction", "suite": s} for s in suites]
    cols += [{"key": f"attack:{r}", "evaluation": f"attack:{r}", "metric": "accuracy_under_attack",
              "label": f"Under attack: {r}", "kind": "attack", "unit": "fraction", "recipe": r} for r in recipes]
    if ("train", "train_seconds") in present:
        cols.append({"key": "train", "evaluation": "train", "metric": "train_seconds", "label": "Training time (s)",
                     "kind": "train", "unit": "seconds"})
    return [c for c in cols if (c["evaluation"], c["metric"]) in present]


def _mark_best(table: list[dict[str, Any]], columns: list[dict[str, Any]]) -> None:
    """Flag the highest mean in every accuracy column (only when there is something to compare)."""
    for col in columns:
        for row in table:
            if row["cells"][col["key"]] is not None:
                row["cells"][col["key"]]["is_best"] = False
        if col["unit"] != "fraction":
            continue
        values = [(r["cells"][col["key"]] or {}).get("mean") for r in table]
        numbers = [v for v in values if is_number(v)]
        top = max(numbers) if len(numbers) >= 2 else None
        for row, value in zip(table, values):
            if row["cells"][col["key"]] is not None:
                row["cells"][col["key"]]["is_best"] = top is not None and value == top


def _best_condition(table: list[dict[str, Any]], columns: list[dict[str, Any]]) -> dict[str, Any]:
    """The most robust condition: best accuracy under the first attack, else mean perturbed, else clean."""
    attack = [c for c in columns if c["kind"] == "attack"]
    inv = [c for c in columns if c["kind"] == "inv"]
    if attack:
        criterion, keys = f"accuracy under {attack[0]['recipe']} attack", [attack[0]["key"]]
    elif inv:
        criterion, keys = "mean accuracy over perturbation suites", [c["key"] for c in inv]
    else:
        criterion, keys = "clean accuracy", ["clean"]
    scores = {}
    for row in table:
        values = [(row["cells"].get(k) or {}).get("mean") for k in keys]
        if values and all(is_number(v) for v in values):
            scores[row["name"]] = sum(values) / len(values)
    winner = max(scores, key=lambda name: scores[name]) if len(scores) >= 2 else None
    return {"condition": winner, "criterion": criterion, "score": scores.get(winner) if winner else None}


def _verdicts(row: dict[str, Any], columns: list[dict[str, Any]], suites: list[str], recipes: list[str],
              confidence: float) -> list[dict[str, str]]:
    if row["is_baseline"]:
        return [{"key": "baseline", "kind": "baseline", "text": "reference condition: the others are compared to it"}]
    out = []
    for col in columns:
        if col["kind"] == "attack":
            name = "attack" if len(recipes) == 1 else f"{col['recipe']} attack"
            v = verdict(row["cells"][col["key"]], what=f"accuracy under {name}", better=f"more robust under {name}",
                        worse=f"less robust under {name}", confidence=confidence)
        elif col["kind"] == "clean":
            v = verdict(row["cells"]["clean"], what="clean accuracy", better="higher clean accuracy",
                        worse="lower clean accuracy", confidence=confidence)
        elif col["kind"] == "inv":
            s = col["suite"]
            v = verdict(row["cells"][col["key"]], what=f"accuracy on {s}-perturbed inputs",
                        better=f"more robust to {s} perturbations", worse=f"less robust to {s} perturbations",
                        confidence=confidence)
        else:
            continue
        out.append({"key": col["key"], **v})
    # Attack first, then clean, then suites: the order a reader asks the questions in.
    rank = {"attack": 0, "clean": 1, "inv": 2}
    kinds = {c["key"]: c["kind"] for c in columns}
    return sorted(out, key=lambda v: rank[kinds[v["key"]]])


def _header(run: RunDir, conditions: list[str]) -> dict[str, Any]:
    cfg, env = run.config, run.environment
    data = cfg.get("data") if isinstance(cfg.get("data"), dict) else {}
    model = cfg.get("model") if isinstance(cfg.get("model"), dict) else {}
    seeds = cfg.get("seeds") or sorted({r["seed"] for r in run.results}, key=str)
    return {
        "name": str(cfg.get("name") or run.path.name),
        "data": {"train": _source(data.get("train")), "train_size": data.get("train_size"),
                 "test": _source(data.get("test")) or (
                     f"{data['test_split']:.0%} of train held out" if data.get("test_split") else None)},
        "model": {"name": model.get("name"), "max_length": model.get("max_length")},
        "seeds": list(seeds),
        "conditions": conditions,
        "started_at": env.get("started_at"),
        "finished_at": env.get("finished_at"),
        "duration_s": _clean(env.get("duration_s")),
        "duration": duration(env.get("duration_s")),
        "hardware": {k: env.get(k) for k in ("device", "gpu", "cpu_count", "platform", "python")},
        "git_commit": env.get("git_commit"),
        "command": env.get("command"),
        "packages": env.get("packages") if isinstance(env.get("packages"), dict) else {},
    }


def _source(src: Any) -> str | None:
    """A data source as written in the config: a path string, or a mapping with a ``path`` (plus columns)."""
    if isinstance(src, dict):
        extra = [f"{k}={src[k]}" for k in ("text_column", "format", "encoding")
                 if src.get(k) not in (None, "text", "utf-8")]
        return str(src.get("path")) + (f" ({', '.join(extra)})" if extra else "")
    return None if src is None else str(src)


def _per_seed(run: RunDir, columns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Raw per-seed values of the summary columns, straight from the results table."""
    wanted = {(c["evaluation"], c["metric"]): c["key"] for c in columns}
    rows: dict[tuple[str, Any], dict[str, Any]] = {}
    for r in run.results:
        key = wanted.get((str(r["evaluation"]), str(r["metric"])))
        if key is None:
            continue
        entry = rows.setdefault((str(r["condition"]), r["seed"]),
                                {"condition": str(r["condition"]), "seed": _clean(r["seed"]), "values": {}})
        entry["values"][key] = _clean(r["value"])
    return list(rows.values())


def _max_seeds(cells: dict[str, Any]) -> int | None:
    counts = [c["n_seeds"] for c in cells.values() if c and is_number(c.get("n_seeds"))]
    return int(max(counts)) if counts else None


def _ordered(items: Any) -> list[str]:
    return list(dict.fromkeys(str(i) for i in items))


def _clean(value: Any) -> Any:
    """JSON-safe scalars: NaN/inf -> None, numpy scalars -> Python."""
    if hasattr(value, "item") and not isinstance(value, (list, dict, str)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _clean_tree(value: Any) -> Any:
    """:func:`_clean` applied through nested dicts/lists (config files may hold NaN)."""
    if isinstance(value, dict):
        return {str(k): _clean_tree(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean_tree(v) for v in value]
    return _clean(value)
