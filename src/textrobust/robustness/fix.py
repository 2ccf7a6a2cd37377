"""``textrobust fix``: from a finding to a repair with evidence (``docs/fix.md``).

1. **Scan.** The baseline condition is trained across the seeds and scored by every evaluation (its units are the
   scan, and are reused unchanged as the baseline of step 4), or an existing scan's ``summary.json`` is read.
2. **Pick.** Every category — an INV suite, an MFT or DIR capability, an attack recipe — gets its measured failure
   (share of predictions flipped, of behaviour tests failed, of correctly classified examples the attack flips).
   Those at or above ``min_failure`` fail; the worst ``max_categories`` with a generator are targeted.
3. **Build.** A ``targeted:`` condition adds ``rows`` training rows shared out in proportion to the failures, each
   from its category's generator (:mod:`textrobust.robustness.targeted`: the suite's own perturbation, the pack's
   templates minus the evaluation's cases, offline attacks against the baseline model of the same seed).
4. **Retrain** both conditions across the same seeds through the runner (resumable like ``run``).
5. **Judge.** Per category, the paired change with Holm over every category (targeted or not) and a simultaneous
   (Bonferroni) interval; clean accuracy non-inferior (:mod:`textrobust.stats.gate`, margin ``delta``); collateral
   damage = an untargeted category detectably worse.

Example:
    >>> result = run_fix(exp, "runs/fix", FixOptions())  # doctest: +SKIP
    >>> result["status"], result["exit_code"]  # doctest: +SKIP
    ('fixed', 0)
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DataError
from ..layout import RunLayout
from .spec import ConditionSpec, Experiment, TargetedPart, TargetedSpec
from .unit import Workspace, write_json

log = logging.getLogger(__name__)

FIX = "fix"


@dataclass(frozen=True)
class FixOptions:
    """How categories are picked and how much is added. ``rows``: targeted rows in all (default ``rows_share`` of
    the training set); ``delta``: the clean-accuracy non-inferiority margin (a share: 0.01 = 1 point)."""

    min_failure: float = 0.10
    max_categories: int = 4
    rows: int | None = None
    rows_share: float = 0.5
    delta: float = 0.01
    scan: str | None = None  # an existing scan's run directory (its baseline condition is the scanned model)


@dataclass(frozen=True)
class Category:
    """One thing that can fail: ``evaluation`` and ``metric`` as ``summary.json`` names them (the metric judged),
    ``failure_metric`` the one its failure is measured by (``1 - invariance`` for INV), ``part`` its generator (the
    fields of a :class:`~textrobust.robustness.spec.TargetedPart` but rows; None: nothing can target it)."""

    name: str
    family: str
    evaluation: str
    metric: str
    failure_metric: str
    label: str
    part: dict[str, Any] | None = field(default=None, hash=False, compare=False)


def categories(ws: Workspace, baseline: str = "baseline") -> list[Category]:
    """The categories the experiment's evaluations score, with their generators."""
    from .evaluations.inv import SuiteSpec, suite_names
    from .targeted import targetable

    out = []
    part: dict[str, Any] | None
    for ev in ws.evaluations:
        p: Any = ev.params
        if ev.kind == "inv":
            for name, s in zip(suite_names(p.suites), p.suites, strict=True):
                op = s.op if isinstance(s, SuiteSpec) else None
                part = {"kind": "perturb", "suite": name, "op": op}
                out.append(
                    Category(
                        f"{ev.name}:{name}",
                        "inv",
                        f"{ev.name}:{name}",
                        "invariance",
                        "invariance",
                        f"invariance under {name}",
                        part,
                    )
                )
        elif ev.kind in ("mft", "dir"):
            behaviour: Any = ev  # a BehaviourEvaluation: mft and dir evaluations read a test pack
            for cap in behaviour.pack().capabilities(ev.kind):
                ok = targetable(ev.kind, cap, p.pack)
                part = (
                    {
                        "kind": "templates",
                        "capability": cap,
                        "test_type": ev.kind,
                        "pack": p.pack,
                        "label_map": p.label_map,
                        "exclude_seed": p.seed,
                    }
                    if ok
                    else None
                )
                key = f"{ev.name}:{cap}"
                out.append(
                    Category(
                        key,
                        ev.kind,
                        key,
                        "failure_rate",
                        "failure_rate",
                        f"{ev.kind.upper()} failure rate: {cap}",
                        part,
                    )
                )
        elif ev.kind == "attack":
            part = {
                "kind": "attack",
                "recipe": p.recipe,
                "options": dict(p.options),
                "against": baseline,
                "query_budget": p.query_budget,
            }
            out.append(
                Category(
                    ev.name,
                    "attack",
                    ev.name,
                    "accuracy_under_attack",
                    "success_rate",
                    f"accuracy under {p.recipe} attack",
                    part,
                )
            )
    return out


def read_scan(scan_dir: str | Path) -> tuple[dict[str, Any], str]:
    """An existing scan's (or run's) ``summary.json`` and the condition scanned (its baseline)."""
    path = RunLayout(scan_dir).summary
    if not path.is_file():
        raise DataError(f"--scan {scan_dir}: no summary.json there; give a directory 'textrobust scan' or 'run' wrote")
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise DataError(f"{path}: not valid JSON ({e.msg}); the scan is corrupt") from None
    return summary, str(summary.get("baseline") or "baseline")


def measure(cats: list[Category], summary: dict[str, Any], condition: str) -> list[dict[str, Any]]:
    """Each category's failure in the scanned condition: ``{name, failure, low, high}`` (None where the scan did
    not score it)."""
    rows = {(r["evaluation"], r["metric"]): r for r in summary.get("rows", []) if r.get("condition") == condition}
    out = []
    for c in cats:
        r = rows.get((c.evaluation, c.failure_metric))
        value = low = high = None
        if r is not None and r.get("mean") is not None and math.isfinite(r["mean"]):
            flip = c.failure_metric == "invariance"  # failure = share of predictions that changed
            value = 1 - r["mean"] if flip else r["mean"]
            lo, hi = r.get("ci_low"), r.get("ci_high")
            if lo is not None and hi is not None:
                low, high = (1 - hi, 1 - lo) if flip else (lo, hi)
        out.append({"name": c.name, "failure": value, "failure_low": low, "failure_high": high})
    return out


def select(
    cats: list[Category], measured: list[dict[str, Any]], train_size: int, options: FixOptions
) -> tuple[list[dict[str, Any]], TargetedSpec | None]:
    """The selection table (one row per category: failure, failing, targeted, rows, reason) and the targeted
    spec (None when nothing failing can be targeted)."""
    table = []
    for c, m in zip(cats, measured, strict=True):
        failing = m["failure"] is not None and m["failure"] >= options.min_failure
        table.append(
            {
                **m,
                "family": c.family,
                "label": c.label,
                "failing": failing,
                "targeted": False,
                "rows": 0,
                "generator": _generator(c),
                "reason": _reason(c, m, failing, options),
            }
        )
    order = sorted(
        (i for i, r in enumerate(table) if r["failing"] and cats[i].part), key=lambda i: -table[i]["failure"]
    )
    chosen = order[: options.max_categories]
    for i in order[options.max_categories :]:
        table[i]["reason"] = f"failing, but {options.max_categories} worse categories were targeted"
    if not chosen:
        return table, None
    budget = options.rows or max(len(chosen), round(options.rows_share * train_size))
    total = sum(table[i]["failure"] for i in chosen)
    parts = []
    for i in chosen:
        rows = max(1, round(budget * table[i]["failure"] / total))  # in proportion to the measured failure
        table[i].update(targeted=True, rows=rows, reason="targeted")
        part = {k: v for k, v in (cats[i].part or {}).items() if v is not None}
        parts.append(TargetedPart(category=cats[i].name, rows=rows, **part))
    return table, TargetedSpec(parts=parts)


def _generator(c: Category) -> str | None:
    if c.part is None:
        return None
    kind = c.part["kind"]
    if kind == "perturb":
        return f"the {c.part['suite']} suite's perturbation on training rows"
    if kind == "attack":
        return f"offline {c.part['recipe']} attacks on training rows against the baseline model of each seed"
    if c.part["test_type"] == "dir":
        return "the DIR test's perturbation on training rows whose label it keeps"
    return "the pack's templates, minus every case the evaluation scores"


def _reason(c: Category, m: dict[str, Any], failing: bool, options: FixOptions) -> str:
    if m["failure"] is None:
        return "not scored by the scan"
    if not failing:
        return f"below the {options.min_failure:.0%} failure threshold"
    return "failing, but no generator (template DIR tests carry no label)" if c.part is None else ""


def fix_experiment(exp: Experiment, targeted: TargetedSpec | None) -> Experiment:
    """The experiment of step 4: the baseline and, when something is targeted, the ``fix`` condition (the
    baseline's training plus the targeted rows)."""
    base = exp.conditions[exp.baseline]
    conditions = {exp.baseline: base}
    if targeted is not None:
        conditions[FIX] = ConditionSpec(**{**base.model_dump(exclude_none=True), "targeted": targeted.model_dump()})
    return exp.model_copy(update={"conditions": conditions})


def check_fix_spec(exp: Experiment) -> None:
    """A fix needs one trained condition (the baseline) and the clean evaluation (non-inferiority)."""
    if exp.fixed_models:
        raise ConfigError("fix retrains: give a model to fine-tune (model.name), not fixed models to score")
    extra = [c for c in exp.conditions if c != exp.baseline]
    if extra:
        raise ConfigError(f"fix adds its own condition: give only the baseline, not {extra}")
    if exp.conditions[exp.baseline].targeted is not None:
        raise ConfigError("fix builds the targeted rows itself: the baseline takes no targeted:")
    if not any(ev.get("kind") == "clean" for ev in [e.model_dump() for e in exp.evaluations]):
        raise ConfigError(
            "fix needs the clean evaluation ({kind: clean}): clean accuracy is checked for non-inferiority"
        )


def run_fix(
    exp: Experiment,
    run_dir: str | Path,
    options: FixOptions,
    *,
    command: str | None = None,
    resume: bool = True,
    echo: Callable[[str], None] = lambda m: None,
) -> dict[str, Any]:
    """Steps 1-5 (see the module docstring); writes ``fix.json`` in ``run_dir`` and returns it. Status
    ``nothing_failing`` (no retraining) when the scan finds no failing category that can be targeted."""
    from .runner import Runner

    check_fix_spec(exp)
    run_dir = Path(run_dir)
    started = time.time()
    scan_exp = fix_experiment(exp, None)
    runner = Runner(scan_exp, run_dir, command=command, keep={exp.baseline})
    runner.ws.check()
    cats = categories(runner.ws, exp.baseline)
    train_size = len(runner.ws.data.train or ())
    if options.scan is not None:
        summary, scanned = read_scan(options.scan)
        source: dict[str, Any] = {"kind": "existing scan", "path": str(options.scan), "condition": scanned}
    else:
        echo(f"scan: training and scoring '{exp.baseline}' with seeds {exp.seeds}")
        runner.run(resume=resume)
        if runner.failed:
            raise ConfigError(f"the scan's units failed ({runner.failed[0]['error']}); see {run_dir}/units")
        summary = json.loads(RunLayout(run_dir).summary.read_text(encoding="utf-8"))
        scanned = exp.baseline
        source = {"kind": "baseline runs", "path": str(run_dir), "condition": scanned, "seeds": list(exp.seeds)}
    scan_seconds = time.time() - started
    table, targeted = select(cats, measure(cats, summary, scanned), train_size, options)
    if options.scan is not None and not any(r["failing"] for r in table):
        raise ConfigError(
            f"--scan {options.scan}: the scan found nothing failing (threshold "
            f"{options.min_failure:.0%}); there is nothing to fix"
        )
    result: dict[str, Any] = {
        "kind": "fix",
        "run_dir": str(run_dir.resolve()),
        "scan": source,
        "options": asdict(options),
        "baseline": exp.baseline,
        "condition": FIX,
        "categories": table,
        "seconds": {"scan": round(scan_seconds, 1)},
    }
    if targeted is None:
        result.update(status="nothing_failing", exit_code=0)
        write_json(RunLayout(run_dir).fix_json, result)
        return result
    echo("targeting " + ", ".join(f"{p.category} ({p.rows} rows)" for p in targeted.parts))
    t1 = time.time()
    full = Runner(fix_experiment(exp, targeted), run_dir, command=command)  # keeps what an attack part needs
    full.run(resume=True)  # the scan's units are the baseline's: never redone
    result["seconds"].update(retrain=round(time.time() - t1, 1), total=round(time.time() - started, 1))
    if full.failed:
        raise ConfigError(
            f"{len(full.failed)} unit(s) failed, e.g. {full.failed[0]['unit']}: {full.failed[0]['error']}"
        )
    result.update(judge(run_dir, cats, table, options, exp.baseline, runner.ws.data.test))
    write_json(RunLayout(run_dir).fix_json, result)
    return result


def judge(
    run_dir: Path,
    cats: list[Category],
    table: list[dict[str, Any]],
    options: FixOptions,
    baseline: str,
    test: Any = None,
) -> dict[str, Any]:
    """Step 5 from the run directory's tables: per-category verdicts (Holm over every category), the clean
    non-inferiority gate and collateral damage."""
    import pandas as pd

    from ..stats.crossed import CONFIDENCE, difference
    from ..stats.gate import adjust, gate
    from ..stats.summary import Outcomes, summarise

    layout = RunLayout(run_dir)
    results = pd.read_parquet(layout.results_parquet)
    outcomes = pd.read_parquet(layout.outcomes)
    metrics = json.loads(layout.summary.read_text(encoding="utf-8"))["metrics"]
    judged = {(c.evaluation, c.metric) for c in cats}
    # One Holm family: every category (targeted or not), nothing else; clean accuracy has its own gate.
    meta = [
        {**m, "headline": (m["evaluation"], m["metric"]) in judged, "role": "robustness"}
        if (m["evaluation"], m["metric"]) in judged
        else {**m, "headline": False}
        for m in metrics
    ]
    every = summarise(results, baseline, outcomes, meta)
    rows = {(r["evaluation"], r["metric"]): r for r in every if r["condition"] == FIX}
    # Runs collapsed to chance are left out of every statistic (summarise's rule), the gate's too.
    collapsed = {s for r in every if r.get("collapsed_left_out") for s in r.get("collapsed_seeds") or []}
    family = sum(1 for c in cats if (c.evaluation, c.metric) in rows)
    tables = Outcomes(outcomes)
    info = {(m["evaluation"], m["metric"]): m for m in metrics}
    verdicts = []
    for c, sel in zip(cats, table, strict=True):
        r = rows.get((c.evaluation, c.metric))
        if r is None:
            continue
        m = info[(c.evaluation, c.metric)]
        row = {
            "name": c.name,
            "label": m["label"],
            "unit": m["unit"],
            "higher_is_better": m["higher_is_better"],
            "targeted": sel["targeted"],
            **{k: r.get(k) for k in _SUMMARY_FIELDS},
        }
        row["base_mean"] = _mean(results, baseline, c)
        row.update(_simultaneous(tables, baseline, c, m, family, 1 - CONFIDENCE, difference, collapsed))
        row["improvement"] = (
            None if r.get("diff_mean") is None else r["diff_mean"] * (1 if m["higher_is_better"] else -1)
        )
        verdicts.append(row)
    clean = _clean_gate(tables, metrics, baseline, options.delta, gate, adjust, collapsed)
    collateral = [v["name"] for v in verdicts if not v["targeted"] and v.get("verdict") == "worse"]
    status = fix_status([v.get("verdict") for v in verdicts if v["targeted"]])
    # A category detectably worse (targeted or not) fails the build like an inferior clean accuracy does.
    worse = any(v.get("verdict") == "worse" for v in verdicts)
    exit_code = 1 if (clean and clean["verdict"] == "fail") or worse else 0
    out = {
        "verdicts": verdicts,
        "family_size": family,
        "clean": clean,
        "collateral": collateral,
        "status": status,
        "exit_code": exit_code,
    }
    if test is not None:  # breakdowns by class and length, and the examples the fix lost most on
        from .compare import breakdowns, open_side, worst_examples

        paired = Outcomes(outcomes.replace({"condition": {baseline: "base", FIX: "new"}}))
        seeds = sorted({int(s) for s in outcomes.seed} - collapsed)
        shown = [m for m in metrics if m.get("role") != "info" and not m.get("timing")]
        out["breakdowns"] = breakdowns(paired, shown, test, seeds)
        sides = open_side(run_dir, baseline, "baseline"), open_side(run_dir, FIX, "fix")
        out["examples"] = worst_examples(paired, shown, test, seeds, *sides)
    return out


def fix_status(targeted_verdicts: list[str | None]) -> str:
    """``fixed`` when every targeted category got detectably better, ``partly_fixed`` when some did, else
    ``not_fixed``: a status claims no more than the verdicts.

    Example:
        >>> fix_status(["better", "better"]), fix_status(["better", "no_change"]), fix_status(["no_change"])
        ('fixed', 'partly_fixed', 'not_fixed')
    """
    better = sum(v == "better" for v in targeted_verdicts)
    if better and better == len(targeted_verdicts):
        return "fixed"
    return "partly_fixed" if better else "not_fixed"


_SUMMARY_FIELDS = (
    "mean",
    "diff_mean",
    "diff_ci_low",
    "diff_ci_high",
    "diff_method",
    "diff_p",
    "diff_p_adjusted",
    "verdict",
    "diff_mde",
    "diff_mde_low",
    "diff_mde_high",
    "seeds_needed",
    "examples_needed",
    "diff_n_seeds",
    "n_examples",
    "collapsed_seeds",
)


def _mean(results: Any, condition: str, c: Category) -> float | None:
    sel = results[
        (results.condition == condition) & (results.evaluation == c.evaluation) & (results.metric == c.metric)
    ]
    return float(sel.value.mean()) if len(sel) else None


def _simultaneous(
    tables: Any,
    baseline: str,
    c: Category,
    m: dict[str, Any],
    family: int,
    alpha: float,
    difference: Any,
    collapsed: set[int],
) -> dict[str, Any]:
    """The change's interval at 1 - alpha / family (Bonferroni: simultaneous over the family; when it excludes 0,
    Holm rejects too)."""
    keys_b, keys_f = tables.keys(baseline, c.evaluation, c.metric), tables.keys(FIX, c.evaluation, c.metric)
    if not keys_b or not keys_f or family < 1:
        return {"adj_ci_low": None, "adj_ci_high": None}
    seeds = sorted((set(keys_b[0]) & set(keys_f[0])) - collapsed)  # the seeds summarise() pairs
    items = [i for i in keys_f[1] if i in set(keys_b[1])]
    est = difference(
        tables.table(FIX, c.evaluation, c.metric, seeds, items),
        tables.table(baseline, c.evaluation, c.metric, seeds, items),
        tuple(m.get("range") or (None, None)),
        1 - alpha / family,
    )
    return {"adj_ci_low": est.low, "adj_ci_high": est.high, "adj_confidence": 1 - alpha / family}


def _clean_gate(
    tables: Any,
    metrics: list[dict[str, Any]],
    baseline: str,
    delta: float,
    gate: Any,
    adjust: Any,
    collapsed: set[int],
) -> dict[str, Any] | None:
    m = next((m for m in metrics if m.get("kind") == "clean" and m["metric"] == "accuracy"), None)
    if m is None:
        return None
    kb, kf = tables.keys(baseline, m["evaluation"], "accuracy"), tables.keys(FIX, m["evaluation"], "accuracy")
    if not kb or not kf:
        return None
    seeds = sorted((set(kb[0]) & set(kf[0])) - collapsed)
    g = gate(
        tables.table(FIX, m["evaluation"], "accuracy", seeds),
        tables.table(baseline, m["evaluation"], "accuracy", seeds),
        tuple(m.get("range") or (0.0, 1.0)),
        delta,
        True,
    )
    adjust([g])
    return {"metric": f"{m['evaluation']}.accuracy", "label": m["label"], "unit": m["unit"], **g.to_dict()}
