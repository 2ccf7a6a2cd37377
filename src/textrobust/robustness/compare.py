"""``textrobust compare``: NEW against BASE on the same inputs, paired example by example, every metric with its
interval, and non-inferiority gates for CI (``docs/ci.md``).

Each side is a condition of a run directory — a ``textrobust run`` (trained across seeds), or a scan of a model
(``compare`` scans models itself). The two are checked to have been scored on the same test set (digest of texts
and labels), with the same label set and the same evaluation settings; then their per-example outcomes are paired
on the seeds they share (a single model on one side is paired with each of the other side's seeds) and the run's
own statistics (:func:`textrobust.stats.summarise`) compare them: two-level intervals over seeds and examples from
3 seeds, over examples for given models. Gates (:mod:`textrobust.stats.gate`) answer "is NEW worse by more than
delta?"; breakdowns slice the paired differences by perturbation, capability, class and text length.

Example:
    >>> base, new = open_side("runs/prod", None, "BASE"), open_side("runs/candidate", None, "NEW")  # doctest: +SKIP
    >>> result = compare_sides(base, new, test, "data/test.csv", ["clean.accuracy=1pts"])  # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..data import LabeledData
from ..errors import ConfigError, DataError
from ..layout import RunLayout

WORST = 5  # worst examples shown per judged metric (so every perturbation shows its own)
#: Evaluation kinds whose per-example items are test rows (so classes and lengths can slice them).
ROW_KINDS = ("clean", "inv", "attack")


@dataclass
class Side:
    """One side of a comparison: ``condition`` of the run directory ``run_dir`` (``kind``: what the user gave)."""

    label: str
    kind: str
    path: str
    run_dir: Path
    condition: str
    summary: dict[str, Any]
    config: dict[str, Any]

    @property
    def fixed(self) -> bool:
        return bool(self.summary.get("models_fixed"))

    def seeds(self) -> list[int]:
        return sorted({int(r["seed"]) for r in self.results().to_dict("records") if r["condition"] == self.condition})

    def results(self) -> Any:
        import pandas as pd

        t = pd.read_parquet(RunLayout(self.run_dir).results_parquet)
        return t[t.condition == self.condition]

    def outcomes(self) -> Any:
        import pandas as pd

        t = pd.read_parquet(RunLayout(self.run_dir).outcomes)
        return t[t.condition == self.condition]

    def metrics(self) -> dict[tuple[str, str], dict[str, Any]]:
        return {(m["evaluation"], m["metric"]): m for m in self.summary.get("metrics", [])}

    def evaluations(self) -> dict[str, dict[str, Any]]:
        """The evaluation entries by name, as the run's config wrote them."""
        from .evaluations import build_evaluation

        out = {}
        for e in self.config.get("evaluations", []):
            ev = build_evaluation(e)
            out[ev.name] = ev.fingerprint()
        return out


def is_run_dir(path: str) -> bool:
    """A directory ``run``/``scan`` wrote (``summary.json`` and ``config.json``), as opposed to a model."""
    p = Path(path)
    return p.is_dir() and RunLayout(p).summary.is_file() and RunLayout(p).config_json.is_file()


def open_side(path: str | Path, condition: str | None, label: str, kind: str = "run", shown: str | None = None) -> Side:
    """A side from a run directory; ``condition`` defaults to the only one, else the run's baseline."""
    run = RunLayout(path)
    try:
        summary = json.loads(run.summary.read_text(encoding="utf-8"))
        config = json.loads(run.config_json.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise DataError(f"{label} {path}: not a readable run directory ({e})") from None
    conditions = list(config.get("conditions") or {})
    if condition is None:
        condition = conditions[0] if len(conditions) == 1 else str(summary.get("baseline"))
    if condition not in conditions:
        raise ConfigError(f"{label} {path}: no condition '{condition}' (conditions: {', '.join(conditions)})")
    return Side(label, kind, str(shown or path), Path(path), condition, summary, config)


def check_pair(base: Side, new: Side, test: LabeledData) -> None:
    """Refuse what cannot be paired: different label sets, different test data, different evaluation settings."""
    from .aggregate import test_inputs

    want = test_inputs(test)
    for side in (base, new):
        have = side.summary.get("inputs")
        if not have:
            raise DataError(
                f"{side.label} {side.path}: the run does not record its test set (written before textrobust 0.3); "
                "run it again to compare it"
            )
        if list(have["labels"]) != list(want["labels"]) and sorted(have["labels"]) != sorted(want["labels"]):
            raise ConfigError(
                f"{side.label} has labels {have['labels']}, DATA has {want['labels']}: different label sets"
            )
        if have["test_digest"] != want["test_digest"]:
            raise ConfigError(
                f"{side.label} {side.path} was scored on different data ({have['test_size']} test examples) than "
                f"DATA ({want['test_size']}): compare needs both on the same test set"
            )
    if base.summary["inputs"]["labels"] != new.summary["inputs"]["labels"]:
        raise ConfigError(
            f"BASE has labels {base.summary['inputs']['labels']}, NEW {new.summary['inputs']['labels']}: "
            "different label sets"
        )


def common_metrics(base: Side, new: Side) -> tuple[list[dict[str, Any]], list[str]]:
    """Metrics both sides computed with the same evaluation settings (metadata from NEW), and what was left out."""
    eb, en = base.evaluations(), new.evaluations()
    mb, mn = base.metrics(), new.metrics()
    keep, left = [], []
    for key, m in mn.items():
        group = m.get("group") or m["evaluation"]
        if key not in mb:
            continue
        if group in eb and group in en and eb[group] != en[group]:
            left.append(f"{m['evaluation']}.{m['metric']} (the evaluation '{group}' is configured differently)")
            continue
        if m.get("role") == "info" or m.get("timing"):
            continue
        keep.append(m)
    return keep, left


def metric_keys(metrics: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {f"{m['evaluation']}.{m['metric']}": m for m in metrics}


def parse_gates(specs: list[str], metrics: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """``METRIC=delta`` gates checked against the metrics computed: an unknown metric, one without a direction,
    or a margin of the wrong sign or unit is a :class:`ConfigError` (one line, before anything is written)."""
    from ..stats.gate import parse_margin

    out = []
    for spec in specs:
        key, sep, margin = spec.partition("=")
        key = key.strip()
        if not sep:
            raise ConfigError(f"--non-inferior expects METRIC=MARGIN (e.g. clean.accuracy=1pts), got '{spec}'")
        m = metrics.get(key)
        if m is None:
            have = ", ".join(sorted(k for k, v in metrics.items() if v.get("higher_is_better") is not None))
            raise ConfigError(f"--non-inferior {key}: that metric was not computed by both sides (gateable: {have})")
        if m.get("higher_is_better") is None:
            raise ConfigError(f"--non-inferior {key}: the metric has no better direction, so nothing can be worse")
        delta = parse_margin(margin, m["unit"], f"--non-inferior {key}")
        out.append({"metric": key, "delta": delta, "margin_text": margin.strip(), "info": m})
    return out


def _frames(base: Side, new: Side) -> tuple[Any, Any, list[int], str]:
    """Results and outcomes of both sides as conditions ``base`` / ``new`` of one table, on paired seeds."""
    import pandas as pd

    sb, sn = base.seeds(), new.seeds()
    if len(sb) == 1 and len(sn) > 1:
        seeds, how = sn, f"BASE is one model, paired with each of NEW's {len(sn)} seeds"
        mb = {s: sb[0] for s in sn}
        mn = {s: s for s in sn}
    elif len(sn) == 1 and len(sb) > 1:
        seeds, how = sb, f"NEW is one model, paired with each of BASE's {len(sb)} seeds"
        mb = {s: s for s in sb}
        mn = {s: sn[0] for s in sb}
    else:
        seeds = sorted(set(sb) & set(sn)) if len(sb) > 1 or len(sn) > 1 else [0]
        if not seeds:
            raise ConfigError(f"BASE has seeds {sb} and NEW {sn}: no seed in common to pair runs on")
        mb = {s: (s if len(sb) > 1 else sb[0]) for s in seeds}
        mn = {s: (s if len(sn) > 1 else sn[0]) for s in seeds}
        how = "two given models" if len(seeds) == 1 else f"paired on seeds {seeds}"

    def relabel(frame: Any, mapping: dict[int, int], name: str) -> Any:
        parts = [frame[frame.seed == src].assign(seed=dst, condition=name) for dst, src in mapping.items()]
        return pd.concat(parts, ignore_index=True) if parts else frame.iloc[:0]

    results = pd.concat([relabel(base.results(), mb, "base"), relabel(new.results(), mn, "new")], ignore_index=True)
    outcomes = pd.concat([relabel(base.outcomes(), mb, "base"), relabel(new.outcomes(), mn, "new")], ignore_index=True)
    return results, outcomes, seeds, how


def compare_sides(base: Side, new: Side, test: LabeledData, data_path: str, gate_specs: list[str]) -> dict[str, Any]:
    """The comparison (``compare.json``): every common metric with its interval and verdict, the gates, the
    breakdowns and the worst examples. Raises :class:`ConfigError`/:class:`DataError` for pairs that cannot be
    compared (see :func:`check_pair`, :func:`parse_gates`)."""
    from ..stats.gate import adjust, gate, gate_seeds
    from ..stats.summary import Outcomes, summarise

    check_pair(base, new, test)
    metrics, left_out = common_metrics(base, new)
    keyed = metric_keys(metrics)
    specs = parse_gates(gate_specs, keyed)
    results, outcomes, seeds, how = _frames(base, new)
    fixed = len(seeds) == 1
    rows = summarise(results, "base", outcomes, metrics, models_fixed=fixed)
    by_key = {(r["evaluation"], r["metric"]): r for r in rows if r["condition"] == "new"}
    base_means = {(r["evaluation"], r["metric"]): r for r in rows if r["condition"] == "base"}
    table = []
    for m in metrics:
        r = by_key.get((m["evaluation"], m["metric"]))
        if r is None:
            continue
        b = base_means.get((m["evaluation"], m["metric"]), {})
        table.append(
            {
                "key": f"{m['evaluation']}.{m['metric']}",
                "label": m["label"],
                "unit": m["unit"],
                "kind": m.get("kind"),
                "higher_is_better": m.get("higher_is_better"),
                "headline": m.get("headline"),
                "base_mean": b.get("mean"),
                "base_ci_low": b.get("ci_low"),
                "base_ci_high": b.get("ci_high"),
                **{k: v for k, v in r.items() if k not in ("condition", "by_seed", "components")},
            }
        )
    tables = Outcomes(outcomes)
    # Runs collapsed to chance are left out of every statistic (summarise's rule), the gates' too.
    collapsed = {s for r in rows if r.get("collapsed_left_out") for s in r.get("collapsed_seeds") or []}
    gate_seeds_kept = [s for s in seeds if s not in collapsed] or seeds
    gates = []
    for spec in specs:
        m = spec["info"]
        bounds = tuple(m.get("range") or (None, None))
        hib = bool(m["higher_is_better"])
        t_new = tables.table("new", m["evaluation"], m["metric"], gate_seeds_kept)
        t_base = tables.table("base", m["evaluation"], m["metric"], gate_seeds_kept)
        if t_new is not None and t_base is not None:
            g = gate(
                t_new,
                t_base,
                bounds,
                spec["delta"],
                hib,
                models_fixed=fixed,
            )
        else:  # no per-example outcomes (ECE, macro-F1): per-seed values, about this test set
            diffs = _seed_values(results, "new", m, gate_seeds_kept) - _seed_values(results, "base", m, gate_seeds_kept)
            g = gate_seeds(diffs if not fixed else diffs[:0], bounds, spec["delta"], hib)
        gates.append((spec, g))
    adjust([g for _, g in gates])
    family = sum(1 for t in table if t.get("in_family"))
    return {
        "kind": "compare",
        "base": {
            "label": base.label if base.kind != "run" else f"{base.path}:{base.condition}",
            "kind": base.kind,
            "path": base.path,
            "condition": base.condition,
        },
        "new": {
            "label": new.label if new.kind != "run" else f"{new.path}:{new.condition}",
            "kind": new.kind,
            "path": new.path,
            "condition": new.condition,
        },
        "data": {"path": data_path, "test_size": len(test), "labels": list(test.label_names)},
        "design": how,
        "models_fixed": fixed,
        "seeds": seeds,
        "metrics": table,
        "family_size": family,
        "not_compared": left_out,
        "gates": [
            {
                "metric": s["metric"],
                "label": s["info"]["label"],
                "unit": s["info"]["unit"],
                "margin_text": s["margin_text"],
                **g.to_dict(),
            }
            for s, g in gates
        ],
        "breakdowns": breakdowns(tables, metrics, test, seeds),
        "examples": worst_examples(tables, metrics, test, seeds, base, new),
        "exit_code": 1 if any(g.verdict == "fail" for _, g in gates) else 0,
    }


def _seed_values(results: Any, cond: str, m: dict[str, Any], seeds: list[int]) -> Any:
    """Per-seed values of one metric (metrics without per-example outcomes)."""
    import numpy as np

    sel = results[
        (results.condition == cond) & (results.evaluation == m["evaluation"]) & (results.metric == m["metric"])
    ]
    values = dict(zip(sel.seed.astype(int), sel.value.astype(float), strict=True))
    return np.array([values.get(s, math.nan) for s in seeds])


def _slice_row(
    tables: Any, m: dict[str, Any], seeds: list[int], items: list[str], slice_name: str
) -> dict[str, Any] | None:
    from ..stats.crossed import difference

    keys_b, keys_n = tables.keys("base", m["evaluation"], m["metric"]), tables.keys("new", m["evaluation"], m["metric"])
    if not keys_b or not keys_n:
        return None
    have = set(keys_b[1]) & set(keys_n[1])
    items = [i for i in items if i in have]
    if not items:
        return None
    b = tables.table("base", m["evaluation"], m["metric"], seeds, items)
    n = tables.table("new", m["evaluation"], m["metric"], seeds, items)
    import numpy as np

    counted = np.isfinite(b).all(0) & np.isfinite(n).all(0)
    if counted.sum() < 2:
        return None
    est = difference(n[:, counted], b[:, counted], tuple(m.get("range") or (None, None)))
    return {
        "label": m["label"],
        "key": f"{m['evaluation']}.{m['metric']}",
        "slice": slice_name,
        "n": int(counted.sum()),
        "unit": m["unit"],
        "higher_is_better": m.get("higher_is_better"),
        "base": float(np.mean(b[:, counted])),
        "new": float(np.mean(n[:, counted])),
        "change": est.estimate,
        "low": est.low,
        "high": est.high,
    }


def breakdowns(tables: Any, metrics: list[dict[str, Any]], test: LabeledData, seeds: list[int]) -> dict[str, list]:
    """Paired changes by perturbation (INV suites, attacks), capability (MFT/DIR), class and text-length third
    (of the test rows; for the headline metrics of clean, INV and attack evaluations). Intervals are 95% and not
    corrected: these are descriptions, outside the verdicts' family."""
    import numpy as np

    out: dict[str, list] = {"perturbation": [], "capability": [], "class": [], "length": []}
    all_items = [str(i) for i in range(len(test))]
    for m in metrics:
        kind, ev = m.get("kind"), m["evaluation"]
        if kind in ("inv", "attack") and m.get("headline") or (kind == "inv" and m["metric"] == "invariance"):
            row = _slice_row(tables, m, seeds, all_items, ev.split(":", 1)[-1])
            if row:
                out["perturbation"].append(row)
        if kind in ("mft", "dir") and ":" in ev:
            found = tables.keys("new", ev, m["metric"])
            cases: list[str] = found[1] if found else []
            row = _slice_row(tables, m, seeds, cases, ev.split(":", 1)[1])
            if row:
                out["capability"].append(row)
    words = np.array([len(t.split()) for t in test.texts])
    cuts = np.quantile(words, [1 / 3, 2 / 3]) if len(words) else np.array([0, 0])
    thirds = [
        (f"short (≤ {int(cuts[0])} words)", words <= cuts[0]),
        (f"medium ({int(cuts[0]) + 1}-{int(cuts[1])} words)", (words > cuts[0]) & (words <= cuts[1])),
        (f"long (> {int(cuts[1])} words)", words > cuts[1]),
    ]
    labels = np.array(test.labels)
    for m in metrics:
        if m.get("kind") not in ROW_KINDS or not m.get("headline"):
            continue
        for k, name in enumerate(test.label_names):
            row = _slice_row(tables, m, seeds, [str(i) for i in np.nonzero(labels == k)[0]], f"class {name}")
            if row:
                out["class"].append(row)
        for name, mask in thirds:
            row = _slice_row(tables, m, seeds, [str(i) for i in np.nonzero(mask)[0]], name)
            if row:
                out["length"].append(row)
    return out


def _records(side: Side, seeds: list[int]) -> dict[tuple[str, str], dict[str, Any]]:
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for s in sorted(set(seeds) | set(side.seeds())):
        path = RunLayout(side.run_dir).unit(side.condition, s).examples
        if not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                r = json.loads(line)
                out.setdefault((str(r["evaluation"]), str(r["item"])), r)
    return out


def worst_examples(
    tables: Any, metrics: list[dict[str, Any]], test: LabeledData, seeds: list[int], base: Side, new: Side
) -> list[dict[str, Any]]:
    """For each judged share metric, the examples NEW lost most on against BASE (share of seeds right, in the
    metric's good direction), with the text the model saw and its original where a perturbation made it."""
    import numpy as np

    candidates = []
    for m in metrics:
        if m.get("higher_is_better") is None or m.get("unit") != "share" or not m.get("headline"):
            continue
        ev, metric = m["evaluation"], m["metric"]
        kb, kn = tables.keys("base", ev, metric), tables.keys("new", ev, metric)
        if not kb or not kn:
            continue
        items = [i for i in kn[1] if i in set(kb[1])]
        b, n = tables.table("base", ev, metric, seeds, items), tables.table("new", ev, metric, seeds, items)
        sign = 1.0 if m["higher_is_better"] else -1.0
        with warnings.catch_warnings():  # an item no seed scored is NaN ("Mean of empty slice"), then skipped
            warnings.simplefilter("ignore", RuntimeWarning)
            good_b = np.nanmean(b, 0) if sign > 0 else 1 - np.nanmean(b, 0)
            good_n = np.nanmean(n, 0) if sign > 0 else 1 - np.nanmean(n, 0)
        loss = good_b - good_n
        for j in np.argsort(-np.nan_to_num(loss, nan=-1), kind="stable")[:WORST]:
            if np.isfinite(loss[j]) and loss[j] > 0:
                candidates.append((float(loss[j]), ev, items[j], float(good_b[j]), float(good_n[j])))
    recs_new, recs_base = _records(new, seeds), _records(base, seeds)
    out = []
    for loss, ev, item, gb, gn in candidates:
        rec = recs_new.get((ev, item)) or recs_base.get((ev, item)) or {}
        text = rec.get("text")
        if text is None and item.isdigit() and int(item) < len(test):
            text = test.texts[int(item)]
        label = rec.get("label")
        if label is None and item.isdigit() and int(item) < len(test):
            label = test.label_names[test.labels[int(item)]]
        out.append(
            {
                "evaluation": ev,
                "item": item,
                "loss": loss,
                "base_right": gb,
                "new_right": gn,
                "text": text,
                "original": rec.get("original"),
                "label": label,
            }
        )
    return out
