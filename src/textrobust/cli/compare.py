"""``compare``: NEW against BASE on the same test data — two models, two run directories or two scans — with
every metric's interval and non-inferiority gates for CI (``docs/ci.md``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from . import app
from .commands import DEVICE, ENCODING, FORMAT, LABEL_COLUMN, MAX_TOKENS, PRECISION, TEXT_COLUMN, THREADS


def _scan_models(
    models: dict[str, str],
    source: dict[str, Any],
    entries: list[dict[str, Any]],
    out: Path,
    runtime: dict[str, Any],
    resources: dict[str, str],
    labels: str | None,
    test_size: int | None,
) -> Any:
    """The experiment that scores the given models (a scan) on DATA."""
    from ..robustness import parse_experiment
    from .scan import _models

    conditions = _models([f"{k}={v}" for k, v in models.items()], labels, runtime.pop("batch_size", None), 30.0, 3)
    raw = {
        "name": "compare: " + " vs ".join(models.values()),
        "data": {"test": source, **({"test_size": test_size} if test_size else {})},
        "model": runtime,
        "conditions": conditions,
        "baseline": next(iter(conditions)),
        "seeds": [0],
        "evaluations": entries,
        "resources": resources,
        "output": str(out),
    }
    return parse_experiment(raw, "compare")


@app.command()
def compare(
    base: str = typer.Argument(..., help="BASE: a model (directory, hub name, http(s) endpoint) or a run directory."),
    new: str = typer.Argument(..., help="NEW: the candidate, as BASE."),
    data: str = typer.Argument(..., help="The test data both are compared on."),
    non_inferior: list[str] = typer.Option(
        [],
        "--non-inferior",
        help="Gate METRIC=MARGIN, repeatable (e.g. clean.accuracy=1pts, "
        "inv:typo.accuracy=2pts): exit 1 when NEW is worse than BASE by more than MARGIN with 95% confidence.",
    ),
    evals: list[str] = typer.Option([], "--eval", help="Evaluations for models (as scan's --eval; default: scan's)."),
    base_condition: str | None = typer.Option(None, "--base-condition", help="BASE run directory: which condition."),
    new_condition: str | None = typer.Option(None, "--new-condition", help="NEW run directory: which condition."),
    output: Path = typer.Option(
        Path("runs/compare"), "--output", "-o", help="Where compare.{json,html,md} and junit.xml go."
    ),
    text_column: str = TEXT_COLUMN,
    label_column: str = LABEL_COLUMN,
    encoding: str = ENCODING,
    fmt: str | None = FORMAT,
    data_labels: str | None = typer.Option(None, "--data-labels", help="Names of integer labels, in order."),
    labels: str | None = typer.Option(None, "--labels", help="Output order of models that do not say it."),
    n: int | None = typer.Option(None, "-n", help="Compare on a stratified sample of N test examples."),
    resource: list[str] = typer.Option([], "--resource", help="NAME=PATH for attack resources."),
    device: str = DEVICE,
    precision: str = PRECISION,
    max_tokens: int | None = MAX_TOKENS,
    threads: int | None = THREADS,
    resume: bool = typer.Option(True, "--resume/--no-resume", help="Keep model scans already finished."),
) -> None:
    """Compare NEW with BASE example by example on DATA: every metric with its interval, breakdowns, the worst
    examples, and gates. Exit 1 only when a gate finds NEW worse by more than its margin (95% confidence)."""
    import json

    from ..adversarial.resources import parse_resource_args
    from ..data import load_dataset
    from ..reports.comparison import write_outputs, write_text
    from ..robustness import Runner
    from ..robustness.compare import common_metrics, compare_sides, is_run_dir, metric_keys, open_side, parse_gates
    from .scan import default_evaluations, parse_eval

    names = [x.strip() for x in data_labels.split(",")] if data_labels else None
    source = {
        "path": data,
        "text_column": text_column,
        "label_column": label_column,
        "encoding": encoding,
        "format": fmt,
        "label_names": names,
    }
    test = load_dataset(
        data, text_column=text_column, label_column=label_column, encoding=encoding, fmt=fmt, label_names=names
    )
    if n:
        test = test.sample(n, seed=0)
    models = {k: p for k, p in (("base", base), ("new", new)) if not is_run_dir(p)}
    sides: dict[str, Any] = {}
    for key, path, cond in (("base", base, base_condition), ("new", new, new_condition)):
        if key not in models:
            sides[key] = open_side(path, cond, key.upper())
    if models:
        entries = [parse_eval(e) for e in evals]
        if not entries:  # a run directory on the other side decides what is measured; else scan's defaults
            other = next(iter(sides.values()), None)
            entries = list(other.config.get("evaluations", [])) if other else default_evaluations(test.label_names)
        runtime = {"device": device, "precision": precision, "max_tokens": max_tokens, "threads": threads}
        exp = _scan_models(models, source, entries, output / "scan", runtime, parse_resource_args(resource), labels, n)
        runner = Runner(exp, output / "scan", command=None)
        runner.ws.check()  # bad models, evaluations or labels: one line, before anything is written
        infos = [m.to_dict() for m in runner.ws.metric_infos() if m.role != "info" and not m.timing]
        if sides:  # gates must name metrics both sides have
            other = next(iter(sides.values()))
            infos = [m for m in infos if (m["evaluation"], m["metric"]) in other.metrics()]
        parse_gates(non_inferior, metric_keys(infos))
        typer.echo(f"scanning {', '.join(models.values())} on {data} into {output / 'scan'}", err=True)
        runner.run(resume=resume)
        if runner.failed:
            typer.echo(f"failed: {runner.failed[0]['unit']}: {runner.failed[0]['error']}", err=True)
            raise typer.Exit(2)
        for key, path in models.items():
            sides[key] = open_side(output / "scan", key, key.upper(), kind="model", shown=path)
            sides[key].label = path
    else:
        parse_gates(non_inferior, metric_keys(common_metrics(sides["base"], sides["new"])[0]))
    result = compare_sides(sides["base"], sides["new"], test, data, non_inferior)
    output.mkdir(parents=True, exist_ok=True)
    write_text(output / "compare.json", json.dumps(result, indent=2, ensure_ascii=False, default=str) + "\n")
    paths = write_outputs(output, result, "compare")
    typer.echo((output / "compare.md").read_text(encoding="utf-8"))
    typer.echo("wrote " + ", ".join(str(p) for p in [output / "compare.json", *paths]))
    raise typer.Exit(result["exit_code"])
