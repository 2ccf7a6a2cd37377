"""``run``, ``quickstart`` and ``report`` commands: the robustness harness and its HTML report."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional

import typer

from . import app


def _print_summary(run_dir: Path) -> None:
    """The headline numbers: clean accuracy, invariance per suite, accuracy under attack; mean over seeds with
    the 95% CI, and the paired difference to the baseline with its CI."""
    from rich.console import Console
    from rich.table import Table

    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    headline = {"clean": "accuracy", "inv": "invariance", "attack": "accuracy_under_attack"}
    keep = [r for r in summary["rows"] if headline.get(r["evaluation"].split(":")[0]) == r["metric"]]
    table = Table(title=f"mean over seeds [95% CI]; change vs '{summary['baseline']}' [95% CI]")
    for col in ("condition", "score", "mean [CI]", "change [CI]"):
        table.add_column(col, overflow="fold")

    def ci(lo: Any, hi: Any) -> str:
        return "" if lo is None else f" [{lo:.3f}, {hi:.3f}]"

    for r in keep:
        change = ""
        if r["diff_mean"] is not None:
            change = f"{r['diff_mean']:+.3f}{ci(r['diff_ci_low'], r['diff_ci_high'])}"
            change += " ~0" if r["diff_includes_zero"] else ""
        name = r["evaluation"] + ("" if r["evaluation"] == "clean" else f" {r['metric'].replace('_', ' ')}")
        table.add_row(r["condition"], name, f"{r['mean']:.3f}{ci(r['ci_low'], r['ci_high'])}", change)
    Console(width=max(Console().width, 100)).print(table)
    Console().print("~0: the interval includes zero (no detectable change)")


def _run(exp: Any, run_dir: Path, resume: bool, fail_under: list[str], report: bool) -> None:
    from ..robustness import Runner, check_fail_under

    runner = Runner(exp, run_dir, command="textrobust " + " ".join(sys.argv[1:]))
    if run_dir.exists() and any(run_dir.iterdir()) and not resume:
        typer.echo(f"{run_dir} exists: finished units whose config is unchanged are skipped (--no-resume reruns all)")
    table = runner.run(resume=resume)
    _print_summary(run_dir)
    if report:
        from ..reports import build_report

        html = build_report(run_dir)
        typer.echo(f"report: {html} (JSON twin: {html.with_suffix('.json')})")
    typer.echo(f"results: {run_dir}/results.csv, {run_dir}/summary.json")
    problems = check_fail_under(table, fail_under)
    if problems:
        for p in problems:
            typer.echo(f"fail-under: {p}", err=True)
        raise typer.Exit(1)


@app.command()
def run(
    experiment: Path = typer.Argument(..., help="Experiment YAML (data, model, conditions, seeds, evaluations)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Run directory (default: the spec's output)."),
    resume: bool = typer.Option(True, "--resume/--no-resume",
                                help="Skip condition x seed units already finished with the same config."),
    overrides: list[str] = typer.Option([], "--set", help="Override a spec value: key.path=value (repeatable)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan (units, data sizes, model work) and exit."),
    fail_under: list[str] = typer.Option([], "--fail-under",
                                         help="EVALUATION.METRIC=VALUE: exit 1 if a condition's mean is below."),
    report: bool = typer.Option(True, "--report/--no-report", help="Write report.html and report.json."),
) -> None:
    """Retrain and score every condition x seed; write tidy results, statistics and a report."""
    from ..robustness import Runner, load_experiment

    exp = load_experiment(experiment, overrides)
    run_dir = output or Path(exp.output)
    if dry_run:
        typer.echo(json.dumps(Runner(exp, run_dir, progress=False).plan(), indent=2))
        return
    _run(exp, run_dir, resume, fail_under, report)


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
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="HTML file (default RUN_DIR/report.html)."),
) -> None:
    """Write the self-contained HTML robustness report (and report.json) for a run directory."""
    from ..reports import build_report

    html = build_report(run_dir, output)
    typer.echo(f"report: {html}")
