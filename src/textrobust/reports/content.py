"""Turn a loaded run directory into the report's content: one JSON-ready dict.

The same dict is written as ``report.json`` and rendered into ``report.html``, so both always carry the same
numbers. Means and intervals come from ``summary.json`` as the harness computed them, and every label, unit and
direction from its metric metadata; nothing is re-estimated and no evaluation is recognised by its name.
"""

from __future__ import annotations

import datetime as _dt
import math
from typing import Any

from .examples import build_examples
from .fmt import duration, n_text
from .rundir import RunDir
from .table import Cells, columns, details, findings, summary_rows

SCHEMA_VERSION = 3


def build_content(run: RunDir) -> dict[str, Any]:
    summary = run.summary
    confidence = float(summary.get("confidence") or 0.95)
    baseline = str(summary.get("baseline") or "baseline")
    cells = Cells(summary["rows"], _clean)
    metrics = [_clean_tree(m) for m in summary["metrics"]]
    conditions = _conditions(run, cells.conditions(), baseline)
    cols = columns(metrics)
    table = summary_rows(conditions, baseline, cols, cells, confidence)
    models_fixed = bool(summary.get("models_fixed"))
    for col in cols:  # what each figure of the column rests on, shown beside the metric's name
        col["n"] = n_text([row["cells"].get(col["key"]) for row in table], models_fixed)
    raw_units = summary.get("units") if isinstance(summary.get("units"), dict) else {}
    units = {
        "total": raw_units.get("total"),
        "done": raw_units.get("done"),
        "missing": raw_units.get("missing"),
        "failed": [
            {"unit": str(f.get("unit")), "error": str(f.get("error"))}
            for f in raw_units.get("failed") or []
            if isinstance(f, dict)
        ],
    }
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "run_dir": str(run.path.resolve()),
        "header": _clean_tree(_header(run, conditions, table, cols)),
        "confidence": confidence,
        "models_fixed": models_fixed,
        "method": summary.get("method"),
        "correction": _clean_tree(summary.get("correction")) if isinstance(summary.get("correction"), dict) else None,
        "baseline": baseline,
        "metrics": metrics,
        "columns": cols,
        "findings": findings(table, cols, baseline),
        "conditions": table,
        "details": _with_n(details(metrics, conditions, cells), models_fixed),
        "charts": _charts(metrics, conditions, cells),
        "per_seed": _per_seed(run, cols),
        "examples": build_examples(run, conditions, metrics),
        "units": _clean_tree(units),
        "summary_rows": [{k: _clean(v) for k, v in r.items()} for r in summary["rows"]],
        "config": _clean_tree(run.config),
        "environment": _clean_tree(run.environment),
    }


def _with_n(groups: list[dict[str, Any]], models_fixed: bool) -> list[dict[str, Any]]:
    """Each detail metric with ``n``: what its figures rest on (as the summary table's columns have it)."""
    for g in groups:
        for m in g["metrics"]:
            m["n"] = n_text(list(m["cells"].values()), models_fixed)
    return groups


def _conditions(run: RunDir, in_summary: list[str], baseline: str) -> list[str]:
    """Config order first (that is how the user wrote them), then anything else the summary mentions."""
    configured = run.config.get("conditions")
    names = list(configured) if isinstance(configured, (dict, list)) else []
    names = [str(n if not isinstance(n, dict) else n.get("name")) for n in names]
    ordered = _ordered(names + in_summary)
    if baseline in ordered:  # the reference row goes first
        ordered.remove(baseline)
        ordered.insert(0, baseline)
    return ordered


def _charts(metrics: list[dict[str, Any]], conditions: list[str], cells: Cells) -> list[dict[str, Any]]:
    """Metrics that share a chart title are drawn together: one group per metric, one bar per condition."""
    charts: dict[str, dict[str, Any]] = {}
    for m in metrics:
        if not m.get("chart"):
            continue
        chart = charts.setdefault(
            m["chart"],
            {
                "title": m["chart"],
                "unit": m["unit"],
                "range": m["range"],
                "higher_is_better": m.get("higher_is_better"),
                "groups": [],
            },
        )
        chart["groups"].append(
            {
                "label": m["label"],
                "evaluation": m["evaluation"],
                "metric": m["metric"],
                "bars": [{"condition": c, "cell": cells(c, m["evaluation"], m["metric"])} for c in conditions],
            }
        )
    return list(charts.values())


def _header(
    run: RunDir, conditions: list[str], table: list[dict[str, Any]], cols: list[dict[str, Any]]
) -> dict[str, Any]:
    cfg, env = run.config, run.environment
    data = cfg.get("data") if isinstance(cfg.get("data"), dict) else {}
    model = cfg.get("model") if isinstance(cfg.get("model"), dict) else {}
    seeds = cfg.get("seeds") or sorted({r["seed"] for r in run.results}, key=str)
    conds = cfg.get("conditions") if isinstance(cfg.get("conditions"), dict) else {}
    fixed = [
        str((c.get("model") or {}).get("path"))
        for c in conds.values()
        if isinstance(c, dict) and isinstance(c.get("model"), dict)
    ]
    if fixed:  # a scan: the models are the conditions' own
        model = {"name": "fixed models: " + ", ".join(fixed), "max_length": None}
    baseline_rows = [r["value"] for r in run.results if r["metric"] == "train_size" and r["evaluation"] == "train"]
    return {
        "name": str(cfg.get("name") or run.path.name),
        "data": {
            "train": _source(data.get("train")),
            # Rows a baseline unit trained on (after any held-out split and subsample), else the spec's subsample.
            "train_size": _clean(min(baseline_rows)) if baseline_rows else data.get("train_size"),
            "test": _source(data.get("test"))
            or (f"{data['test_split']:.0%} of train held out" if data.get("test_split") else None),
            "test_size": _test_size(table, cols),
        },
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
    """A data source as written in the config: a path string, or a mapping with a ``path`` (plus columns);
    placeholders read as what they stand for (``{package_data}/demo_reviews.csv`` is the built-in demo data)."""
    if isinstance(src, dict):
        extra = [
            f"{k}={src[k]}" for k in ("text_column", "format", "encoding") if src.get(k) not in (None, "text", "utf-8")
        ]
        return _placeholders(str(src.get("path"))) + (f" ({', '.join(extra)})" if extra else "")
    return None if src is None else _placeholders(str(src))


def _placeholders(path: str) -> str:
    if path.startswith("{package_data}/"):
        return path.removeprefix("{package_data}/") + " (built into textrobust)"
    return path.replace("{data_dir}", "<shared data>")


def _test_size(table: list[dict[str, Any]], cols: list[dict[str, Any]]) -> int | None:
    """Test examples behind the clean-accuracy comparison (the test set), else the most any headline metric has."""
    sizes: dict[str, list[int]] = {}
    for row in table:
        for col in cols:
            cell = row["cells"].get(col["key"]) or {}
            if isinstance(cell.get("n_examples"), int):
                sizes.setdefault(col.get("role", ""), []).append(cell["n_examples"])
    chosen = sizes.get("clean") or [n for ns in sizes.values() for n in ns]
    return max(chosen) if chosen else None


def _per_seed(run: RunDir, cols: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Raw per-seed values of the summary columns, straight from the results table."""
    wanted = {(c["evaluation"], c["metric"]): c["key"] for c in cols}
    rows: dict[tuple[str, Any], dict[str, Any]] = {}
    for r in run.results:
        key = wanted.get((str(r["evaluation"]), str(r["metric"])))
        if key is None:
            continue
        entry = rows.setdefault(
            (str(r["condition"]), r["seed"]),
            {"condition": str(r["condition"]), "seed": _clean(r["seed"]), "values": {}},
        )
        entry["values"][key] = _clean(r["value"])
    return list(rows.values())


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
