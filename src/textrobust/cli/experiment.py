"""``run``, ``quickstart`` and ``report`` commands: the robustness harness and its HTML report."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from . import app


def _print_summary(run_dir: Path) -> None:
    """The headline metrics (as the evaluations declare them): mean over seeds with the 95% CI, and the paired
    difference to the baseline with its CI."""
    from rich.console import Console
    from rich.table import Table

    from ..layout import RunLayout
    from ..reports.fmt import diff_text, value_text

    summary = json.loads(RunLayout(run_dir).summary.read_text(encoding="utf-8"))
    headline = {(m["evaluation"], m["metric"]): m for m in summary.get("metrics", []) if m.get("headline")}
    keep = [r for r in summary["rows"] if (r["evaluation"], r["metric"]) in headline]
    title = "value [95% CI over test examples]" if summary.get("models_fixed") else "mean over seeds [95% CI]"
    table = Table(title=f"{title}; change vs '{summary['baseline']}' [95% CI]")
    for col in (
        "condition",
        "metric",
        "value [CI]" if summary.get("models_fixed") else "mean [CI]",
        "change [CI]",
        "verdict",
    ):
        table.add_column(col, overflow="fold")
    for r in keep:
        m = headline[(r["evaluation"], r["metric"])]
        unit = m["unit"]
        ci = "" if r["ci_low"] is None else f" [{value_text(r['ci_low'], unit)}, {value_text(r['ci_high'], unit)}]"
        change = ""
        if r["diff_mean"] is not None:
            change = diff_text(r["diff_mean"], unit)
            if r["diff_ci_low"] is not None:
                change += f" [{diff_text(r['diff_ci_low'], unit)}, {diff_text(r['diff_ci_high'], unit)}]"
        arrow = {True: " ↑", False: " ↓"}.get(m.get("higher_is_better"), "")
        table.add_row(r["condition"], m["label"] + arrow, value_text(r["mean"], unit) + ci, change, _verdict_word(r))
    Console(width=max(Console().width, 100)).print(table)
    corr = summary.get("correction") or {}
    design = (
        "fixed models compared over test examples"
        if summary.get("models_fixed")
        else f"intervals over seeds and test examples where a condition has >= {summary.get('min_seeds', 3)} seeds, "
        'else over test examples only, and the verdict is about these training runs ("runs:")'
    )
    family = corr.get("family")
    verdicts = f"verdicts: Holm-corrected over {family} comparisons; " if family else "no comparisons; "
    Console().print(f"{verdicts}{design}; ↑/↓: higher/lower is better; details in report.html")


def _print_power(rows: list[dict[str, Any]]) -> None:
    """The pilot-based minimum detectable effects, as a table on stderr (stdout stays JSON)."""
    from rich.console import Console
    from rich.table import Table

    from ..reports.fmt import diff_text

    table = Table(title="minimum detectable effect (5% level, 80% power), from the pilot's variance components")
    for col in ("metric", "examples", "pilot seeds", "MDE (pilot)", "planned seeds", "MDE (planned)"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(
            r["label"],
            str(r["examples"]),
            str(r["pilot_seeds"]),
            diff_text(r["mde_pilot"], r["unit"]).lstrip("+"),
            str(r["planned_seeds"]),
            diff_text(r["mde_planned"], r["unit"]).lstrip("+")
            + (
                f" ({diff_text(r['mde_planned_low'], r['unit']).lstrip('+')} to "
                f"{diff_text(r['mde_planned_high'], r['unit']).lstrip('+')} as far as the pilot's seeds can tell)"
                if r.get("mde_planned_low") is not None and r.get("mde_planned_high") is not None
                else ""
            )
            + ("" if r["seeds_random"] else " (seeds fixed: fewer than 3)"),
        )
    Console(stderr=True, width=120).print(table)


def _verdict_word(r: dict[str, Any]) -> str:
    v = r.get("verdict")
    if v == "too_few_seeds":
        return f"runs: {_verdict_word({'verdict': r['these_runs']})}" if r.get("these_runs") else "too few seeds"
    return {"no_change": "no detectable change", None: ""}.get(v, v or "")


def _run(
    exp: Any,
    run_dir: str | Path,
    resume: bool,
    fail_under: list[str],
    report: bool,
    backend: dict[str, Any] | None = None,
) -> None:
    # A staged (URI) run directory is worked on in a local copy and uploaded when the block ends.
    from ..robustness.resources import model_path
    from ..scale.backend import unit_backend

    units = len(exp.conditions) * len(exp.seeds)
    with unit_backend(
        **(backend or {"backend": "local"}),
        run_dir=str(run_dir),
        unit_compute=exp.unit_compute,
        runtime=exp.model.runtime(),
        model_source=None if exp.fixed_models else model_path(exp.model.name),
        units=units,
        echo=lambda m: typer.echo(m, err=True),
    ) as (executor, sync, store):
        _run_in(exp, store.local, resume, fail_under, report, (executor, sync), store.display())


def _run_in(
    exp: Any, run_dir: Path, resume: bool, fail_under: list[str], report: bool, backend: Any, shown: str
) -> None:
    from ..robustness import Runner, check_fail_under

    executor, sync = backend
    command = "textrobust " + " ".join(sys.argv[1:])
    runner = Runner(exp, run_dir, command=command, executor=executor, sync=sync)
    if run_dir.exists() and any(run_dir.iterdir()) and not resume:
        typer.echo(f"{run_dir} exists: finished units whose config is unchanged are skipped (--no-resume reruns all)")
    table = runner.run(resume=resume)
    from ..models.distributed import is_main_process

    if not is_main_process():  # under accelerate launch: every rank trained the units together; rank 0 reports
        return
    _print_summary(run_dir)
    if report:
        from ..reports import build_report

        html = build_report(run_dir)
        typer.echo(f"report: {html} (JSON twin: {html.with_suffix('.json')})")
    typer.echo(f"results: {shown}/results.csv, {shown}/summary.json")
    for f in runner.failed:
        typer.echo(f"failed: {f['unit']}: {f['error']} (details in {shown}/units/{f['unit']}/failed.json)", err=True)
    if runner.failed:
        typer.echo(
            f"{len(runner.failed)} unit(s) failed; fix the cause and run again (finished units are kept)", err=True
        )
        raise typer.Exit(1)
    problems = check_fail_under(table, fail_under) if len(table) else []
    if problems:
        for p in problems:
            typer.echo(f"fail-under: {p}", err=True)
        raise typer.Exit(1)


@app.command()
def run(
    experiment: Path = typer.Argument(..., help="Experiment YAML (data, model, conditions, seeds, evaluations)."),
    output: str | None = typer.Option(
        None,
        "--output",
        "-o",
        help="Run directory (default: the spec's output): "
        "a path, or a filesystem URI such as s3://bucket/runs/x (needs its fsspec "
        "driver; the run is staged locally and uploaded unit by unit).",
    ),
    resume: bool = typer.Option(
        True, "--resume/--no-resume", help="Skip condition x seed units already finished with the same config."
    ),
    overrides: list[str] = typer.Option([], "--set", help="Override a spec value: key.path=value (repeatable)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan (units, data sizes, model work) and exit."),
    pilot: Path | None = typer.Option(
        None,
        "--pilot",
        help="With --dry-run: a finished run directory whose "
        "variance components give the minimum detectable effect of this plan.",
    ),
    fail_under: list[str] = typer.Option(
        [], "--fail-under", help="EVALUATION.METRIC=VALUE: exit 1 if a condition's mean is below."
    ),
    report: bool = typer.Option(True, "--report/--no-report", help="Write report.html and report.json."),
    backend: str = typer.Option(
        "local",
        "--backend",
        help="local (units one after another here) or ray (each "
        "unit a Ray task; needs the ray extra). Results are the same.",
    ),
    address: str | None = typer.Option(
        None,
        "--address",
        help="With --backend ray: the cluster (HOST:PORT, "
        "ray://HOST:10001 or auto); default: start a local Ray instance.",
    ),
    num_cpus: float | None = typer.Option(
        None, "--num-cpus", help="With --backend ray: CPUs per unit (default: the spec's unit_compute, 1)."
    ),
    num_gpus: float | None = typer.Option(
        None, "--num-gpus", help="With --backend ray: GPUs per unit (default: the spec's unit_compute, 0)."
    ),
    jobs: str | None = typer.Option(
        None,
        "--jobs",
        "-j",
        help="Units at once on this machine (default: the spec's unit_compute.jobs, 1). 'auto' fits as many as the "
        "GPU's free memory holds (1 on a CPU). Each unit gets the cores shared out; results are those of one unit "
        "at a time with the same threads per unit.",
    ),
) -> None:
    """Retrain and score every condition x seed; write tidy results, statistics and a report."""
    from ..robustness import Runner, load_experiment
    from ..scale.backend import check_backend, parse_jobs

    check_backend(backend, address)
    jobs_value = parse_jobs(jobs) if jobs is not None else None
    exp = load_experiment(experiment, overrides)
    run_dir = output or exp.output
    options = {"backend": backend, "address": address, "num_cpus": num_cpus, "num_gpus": num_gpus, "jobs": jobs_value}
    if dry_run:
        plan = Runner(exp, run_dir, progress=False).plan()
        if pilot is not None:
            from ..stats.power import pilot_power

            plan["power"] = pilot_power(pilot, len(exp.seeds))
        typer.echo(json.dumps(plan, indent=2))
        if pilot is not None:
            _print_power(plan["power"])
        return
    _run(exp, run_dir, resume, fail_under, report, options)


@app.command()
def quickstart(
    output: Path = typer.Option(Path("runs/quickstart"), "--output", "-o", help="Run directory."),
    overrides: list[str] = typer.Option([], "--set", help="Override a value of the built-in spec: key.path=value."),
    resume: bool = typer.Option(True, "--resume/--no-resume", help="Skip units already finished."),
) -> None:
    """Built-in experiment, offline: MiniLM on the demo reviews, baseline vs char-noise augmentation, 2 seeds,
    INV suites and a DeepWordBug attack; writes results and an HTML report (a few minutes on 2 CPU cores)."""
    import yaml

    from ..data import demo_data_path
    from ..robustness import apply_overrides, parse_experiment

    spec_path = demo_data_path().parent / "quickstart.yaml"
    raw = apply_overrides(yaml.safe_load(spec_path.read_text(encoding="utf-8")), overrides)
    exp = parse_experiment(raw, "quickstart")
    typer.echo(f"quickstart: {exp.name}")
    _run(exp, output, resume, [], True)


@app.command()
def report(
    run_dir: Path = typer.Argument(..., help="A run directory written by 'textrobust run'."),
    output: Path | None = typer.Option(None, "--output", "-o", help="HTML file (default RUN_DIR/report.html)."),
) -> None:
    """Write the self-contained HTML robustness report (and report.json) for a run directory."""
    from ..reports import build_report

    html = build_report(run_dir, output)
    typer.echo(f"report: {html}")
