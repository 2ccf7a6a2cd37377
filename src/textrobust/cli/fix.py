"""``fix``: scan a model, target its failing categories with training rows, retrain across seeds, and prove the
repair worked without breaking anything else (``docs/fix.md``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from . import app
from .commands import DEVICE, ENCODING, FORMAT, LABEL_COLUMN, MAX_TOKENS, PRECISION, TEXT_COLUMN, THREADS


def _seeds(text: str) -> list[int]:
    from ..errors import ConfigError

    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise ConfigError(f"--seeds expects integers separated by commas (e.g. 0,1,2), got '{text}'") from None


def _scan_evaluations(scan: str) -> list[dict[str, Any]]:
    """The evaluations an existing scan ran (its config.json), so that the fix measures what the scan found."""
    import json

    from ..errors import DataError
    from ..layout import RunLayout

    path = RunLayout(scan).config_json
    try:
        return list(json.loads(path.read_text(encoding="utf-8"))["evaluations"])
    except (OSError, ValueError, KeyError):
        raise DataError(f"--scan {scan}: no readable config.json with evaluations there") from None


def build_fix_spec(
    data: str,
    *,
    model: str,
    test: str | None,
    test_split: float,
    source: dict[str, Any],
    seeds: list[int],
    evals: list[str],
    scan: str | None,
    train_size: int | None,
    test_size: int | None,
    model_block: dict[str, Any],
    resources: dict[str, str],
    output: Path,
) -> dict[str, Any]:
    """The raw experiment of ``fix DATA --model M``: M fine-tuned on DATA (its baseline), scored by the scan's
    evaluations (given, from ``--scan``, or scan's defaults)."""
    from ..data import load_dataset
    from .scan import default_evaluations, parse_eval

    train = {**source, "path": data}
    data_block: dict[str, Any] = {"train": train}
    if test:
        data_block["test"] = {**source, "path": test}
    else:
        data_block["test_split"] = test_split
    if train_size:
        data_block["train_size"] = train_size
    if test_size:
        data_block["test_size"] = test_size
    entries = [parse_eval(e) for e in evals]
    if not entries and scan:
        entries = _scan_evaluations(scan)
    if not entries:
        names = load_dataset(
            data,
            text_column=source["text_column"],
            label_column=source["label_column"],
            encoding=source["encoding"],
            fmt=source["format"],
            label_names=source["label_names"],
        ).label_names
        entries = default_evaluations(names)
    return {
        "name": f"fix of {model} on {Path(data).name}",
        "data": data_block,
        "model": {"name": model, **model_block},
        "conditions": {"baseline": {}},
        "seeds": seeds,
        "evaluations": entries,
        "resources": resources,
        "output": str(output),
    }


@app.command()
def fix(
    data: str = typer.Argument(
        ..., help="Training data (CSV/TSV/JSONL/Parquet, a label directory, ...) or an experiment YAML."
    ),
    model: str = typer.Option(
        "minilm", "--model", "-m", help="The model to fine-tune (minilm, a directory or a hub name)."
    ),
    test: str | None = typer.Option(None, "--test", help="Test data (default: --test-split of DATA)."),
    test_split: float = typer.Option(0.2, "--test-split", help="Share of DATA held out as the test set."),
    seeds: str = typer.Option("0,1,2", "--seeds", help="Training seeds (3 or more for claims beyond these runs)."),
    evals: list[str] = typer.Option([], "--eval", help="An evaluation entry, repeatable (as scan's --eval)."),
    scan: str | None = typer.Option(
        None, "--scan", help="Pick categories from an existing scan or run directory instead of scanning."
    ),
    min_failure: float = typer.Option(0.10, "--min-failure", help="A category fails at this share or more."),
    max_categories: int = typer.Option(4, "--max-categories", help="Target at most this many (the worst)."),
    rows: int | None = typer.Option(
        None, "--rows", help="Targeted training rows in all (default: half the training set)."
    ),
    delta: str = typer.Option("1pts", "--delta", help="Clean-accuracy non-inferiority margin, in points."),
    output: Path = typer.Option(Path("runs/fix"), "--output", "-o", help="Run directory."),
    overrides: list[str] = typer.Option([], "--set", help="Override a spec value: key.path=value (repeatable)."),
    train_size: int | None = typer.Option(None, "--train-size", help="Subsample the training set (stratified)."),
    test_size: int | None = typer.Option(None, "--test-size", help="Subsample the test set (stratified)."),
    epochs: int = typer.Option(3, "--epochs"),
    lr: float = typer.Option(5e-5, "--lr"),
    max_length: int = typer.Option(128, "--max-length"),
    text_column: str = TEXT_COLUMN,
    label_column: str = LABEL_COLUMN,
    encoding: str = ENCODING,
    fmt: str | None = FORMAT,
    data_labels: str | None = typer.Option(None, "--data-labels", help="Names of integer labels, in order."),
    resource: list[str] = typer.Option([], "--resource", help="NAME=PATH for attack resources."),
    device: str = DEVICE,
    precision: str = PRECISION,
    max_tokens: int | None = MAX_TOKENS,
    threads: int | None = THREADS,
    resume: bool = typer.Option(True, "--resume/--no-resume", help="Keep units already finished."),
) -> None:
    """Scan, target the failing categories with training rows, retrain across seeds, and report per category
    the paired change (Holm), clean-accuracy non-inferiority and collateral damage. Exit 1 when clean accuracy
    is worse by more than --delta or a category got detectably worse."""
    import yaml

    from ..adversarial.resources import parse_resource_args
    from ..robustness import apply_overrides, parse_experiment
    from ..robustness.fix import FixOptions, run_fix
    from ..stats.gate import parse_margin

    margin = parse_margin(delta, "share", "--delta (clean accuracy)")
    if Path(data).suffix.lower() in (".yaml", ".yml"):
        from ..errors import ConfigError

        if not Path(data).is_file():
            raise ConfigError(f"{data}: experiment file not found")
        raw = yaml.safe_load(Path(data).read_text(encoding="utf-8")) or {}
        raw["output"] = str(output)
    else:
        source = {
            "text_column": text_column,
            "label_column": label_column,
            "encoding": encoding,
            "format": fmt,
            "label_names": [x.strip() for x in data_labels.split(",")] if data_labels else None,
        }
        block = {
            "max_length": max_length,
            "device": device,
            "precision": precision,
            "max_tokens": max_tokens,
            "threads": threads,
            "train": {"epochs": epochs, "lr": lr},
        }
        raw = build_fix_spec(
            data,
            model=model,
            test=test,
            test_split=test_split,
            source=source,
            seeds=_seeds(seeds),
            evals=evals,
            scan=scan,
            train_size=train_size,
            test_size=test_size,
            model_block=block,
            resources=parse_resource_args(resource),
            output=output,
        )
    exp = parse_experiment(apply_overrides(raw, overrides), str(data))
    options = FixOptions(min_failure=min_failure, max_categories=max_categories, rows=rows, delta=margin, scan=scan)
    result = run_fix(
        exp,
        output,
        options,
        command="textrobust " + " ".join(sys.argv[1:]),
        resume=resume,
        echo=lambda m: typer.echo(m, err=True),
    )
    from ..reports.comparison import write_fix_outputs

    paths = write_fix_outputs(output)
    _print(result)
    for p in paths:
        typer.echo(f"wrote {p}")
    raise typer.Exit(result["exit_code"])


def _print(result: dict[str, Any]) -> None:
    from ..reports.markdown import fix_markdown

    if result["status"] == "nothing_failing":
        typer.echo(
            f"the scan found nothing failing at {result['options']['min_failure']:.0%} or more that can be targeted:"
            " nothing to fix, nothing retrained"
        )
        return
    typer.echo(fix_markdown(result))
