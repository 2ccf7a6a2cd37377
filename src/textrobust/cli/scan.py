"""``scan``: score models you already have with every evaluation (no retraining); ``serve`` (``cli/serve.py``)
puts a model behind the HTTP protocol ``scan`` and ``attack`` speak.

A scan is an experiment whose conditions are fixed models: the same evaluations, statistics, run directory,
summary and report as ``textrobust run``, with nothing trained (``docs/scan.md``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from . import app
from .commands import DEVICE, ENCODING, FORMAT, LABEL_COLUMN, MAX_TOKENS, PRECISION, TEXT_COLUMN, THREADS

DEFAULT_SUITES = ["typo", "char", "punctuation", "contraction"]


def parse_eval(text: str) -> dict[str, Any]:
    """An evaluation entry from the command line: YAML (``{kind: attack, recipe: textfooler, n: 200}``) or
    ``KIND:key=value,key=value`` with YAML values (``attack:recipe=textfooler,n=200``).

    Example:
        >>> parse_eval("attack:recipe=textfooler,n=200")
        {'kind': 'attack', 'recipe': 'textfooler', 'n': 200}
        >>> parse_eval("inv:suites=[typo, case]")
        {'kind': 'inv', 'suites': ['typo', 'case']}
    """
    import yaml

    from ..errors import ConfigError

    text = text.strip()
    if text.startswith("{"):
        try:
            entry = yaml.safe_load(text)
        except yaml.YAMLError:
            raise ConfigError(f"--eval {text!r}: not valid YAML") from None
        if not isinstance(entry, dict):
            raise ConfigError(f"--eval {text!r}: expected a mapping with a kind")
        return entry
    kind, _, rest = text.partition(":")
    entry: dict[str, Any] = {"kind": kind.strip()}
    for part in _split_top_level(rest):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--eval {text!r}: expected KIND:key=value,... (got '{part}')")
        try:
            entry[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:
            raise ConfigError(f"--eval {text!r}: cannot read the value of {key.strip()}") from None
    return entry


def _split_top_level(text: str) -> list[str]:
    """Split on commas outside brackets (``suites=[a, b],seed=1``)."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        depth += ch in "[{"
        depth -= ch in "]}"
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    return [p for p in parts + [cur] if p.strip()]


def default_evaluations(label_names: list[str]) -> list[dict[str, Any]]:
    """Clean, INV suites, the sentiment behaviour tests when the data's labels fit them, calibration and a
    DeepWordBug attack (black-box, needs no resources, so it works against HTTP models too)."""
    from ..errors import ConfigError
    from ..robustness.labels import match_labels
    from ..robustness.testpack import load_pack

    evals: list[dict[str, Any]] = [{"kind": "clean"}, {"kind": "inv", "suites": DEFAULT_SUITES}]
    try:
        match_labels(load_pack(None).labels, label_names, where="scan")
        evals += [{"kind": "mft"}, {"kind": "dir"}]
    except ConfigError:
        typer.echo(
            f"behaviour tests skipped: the built-in pack is for sentiment, the data's labels are {label_names}"
            " (give your own with --eval '{kind: mft, pack: my_pack.yaml}')",
            err=True,
        )
    return evals + [{"kind": "calibration", "suites": ["typo"]}, {"kind": "attack", "recipe": "deepwordbug", "n": 100}]


def _models(
    models: list[str],
    labels: str | None,
    batch_size: int | None,
    timeout: float,
    retries: int,
    prompt: dict[str, Any] | None = None,
) -> dict[str, dict[str, Any]]:
    from ..errors import ConfigError

    out: dict[str, dict[str, Any]] = {}
    for i, spec in enumerate(models):
        name, sep, path = spec.partition("=")
        if not sep or "://" in name:  # a bare path or URL
            name, path = f"model{i + 1}" if len(models) > 1 else "model", spec
        if name in out:
            raise ConfigError(f"--model {spec}: the name '{name}' is used twice; write NAME=MODEL")
        entry: dict[str, Any] = {"path": path, "timeout": timeout, "retries": retries}
        if labels:
            entry["labels"] = [x.strip() for x in labels.split(",")]
        if batch_size:
            entry["batch_size"] = batch_size
        if prompt is not None:
            from ..models.loading import PROMPTED_KINDS, model_kind

            if model_kind(path) in PROMPTED_KINDS:  # the classifiers of a side-by-side scan take no prompt
                entry["prompt"] = prompt
        out[name] = {"model": entry}
    return out


@app.command()
def scan(
    data: str = typer.Argument(..., help="Labelled test data (CSV/TSV/JSONL/Parquet, a label directory, ...)."),
    model: list[str] = typer.Option(
        ...,
        "--model",
        "-m",
        help="MODEL or NAME=MODEL, repeatable: a 'textrobust "
        "train' directory, a Hugging Face classifier directory or hub name, an "
        "http(s):// endpoint, a causal LM asked through --prompt (smollm2, a directory, a .gguf file) or an "
        "OpenAI-compatible chat endpoint (openai+http://HOST:PORT/v1?model=NAME) (docs/scan.md, docs/llm.md). "
        "The first is the baseline.",
    ),
    prompt: str | None = typer.Option(
        None,
        "--prompt",
        help="Prompted models: a YAML file or inline YAML with instruction, text_name, answer_name, "
        "verbalizers, examples, template, system (docs/llm.md). Default: 'Classify the text as {labels}.'",
    ),
    evals: list[str] = typer.Option(
        [],
        "--eval",
        help="An evaluation entry, repeatable: "
        "'attack:recipe=textfooler,n=200' or \"{kind: transfer, sets: {...}}\". "
        "Default: clean, inv, mft/dir (sentiment labels), calibration, deepwordbug.",
    ),
    output: Path = typer.Option(Path("runs/scan"), "--output", "-o", help="Run directory."),
    text_column: str = TEXT_COLUMN,
    label_column: str = LABEL_COLUMN,
    encoding: str = ENCODING,
    fmt: str | None = FORMAT,
    data_labels: str | None = typer.Option(
        None, "--data-labels", help="Names of the data's integer labels, in order (e.g. negative,positive)."
    ),
    labels: str | None = typer.Option(
        None,
        "--labels",
        help="Output order of models that do not say it "
        "(HTTP endpoints without 'labels', checkpoints named LABEL_0, ...).",
    ),
    n: int | None = typer.Option(None, "-n", help="Score a stratified sample of N test examples."),
    resource: list[str] = typer.Option(
        [], "--resource", help="NAME=PATH for attack resources (neighbours, encoder, ...)."
    ),
    device: str = DEVICE,
    precision: str = PRECISION,
    max_tokens: int | None = MAX_TOKENS,
    threads: int | None = THREADS,
    batch_size: int | None = typer.Option(None, help="Texts per model call (per HTTP request)."),
    timeout: float = typer.Option(30.0, help="HTTP models: seconds per request."),
    retries: int = typer.Option(3, help="HTTP models: extra attempts on connection errors, timeouts and 5xx."),
    resume: bool = typer.Option(
        True,
        "--resume/--no-resume",
        help="Keep models already scored with the same "
        "settings (an HTTP model is always taken as unchanged: --no-resume rescans).",
    ),
    report: bool = typer.Option(True, "--report/--no-report", help="Write report.html and report.json."),
    dry_run: bool = typer.Option(
        False,
        "--dry-run",
        help="Check everything and print the plan: per model the estimated model calls, those already cached, "
        "and the time at a rate measured on 8 test texts; writes nothing.",
    ),
) -> None:
    """Score models you already have with every evaluation, side by side, without retraining."""
    from ..adversarial.resources import parse_resource_args
    from ..data import load_dataset
    from ..robustness import parse_experiment
    from .experiment import _run

    names = [x.strip() for x in data_labels.split(",")] if data_labels else None
    source: dict[str, Any] = {
        "path": data,
        "text_column": text_column,
        "label_column": label_column,
        "encoding": encoding,
        "format": fmt,
        "label_names": names,
    }
    entries = [parse_eval(e) for e in evals]
    if not entries:
        found = load_dataset(
            data, text_column=text_column, label_column=label_column, encoding=encoding, fmt=fmt, label_names=names
        ).label_names
        entries = default_evaluations(found)
    conditions = _models(model, labels, batch_size, timeout, retries, read_prompt(prompt))
    raw = {
        "name": f"scan of {Path(data).name}",
        "data": {"test": source, **({"test_size": n} if n else {})},
        "model": {
            "device": device,
            "precision": precision,
            "max_tokens": max_tokens,
            "threads": threads,
            **({"batch_size": batch_size} if batch_size else {}),
        },
        "conditions": conditions,
        "baseline": next(iter(conditions)),
        "seeds": [0],
        "evaluations": entries,
        "resources": parse_resource_args(resource),
        "output": str(output),
    }
    exp = parse_experiment(raw, "scan")
    if dry_run:
        import json

        from ..robustness import Runner

        typer.echo(json.dumps(Runner(exp, output, progress=False).plan(), indent=2))
        return
    typer.echo(f"scanning {len(conditions)} model(s) with {len(entries)} evaluation(s) into {output}", err=True)
    _run(exp, output, resume, [], report)


def read_prompt(text: str | None) -> dict[str, Any] | None:
    """``--prompt``: a YAML file, or inline YAML (a mapping).

    Example:
        >>> read_prompt("{instruction: 'Is this review {labels}?', text_name: Review}")
        {'instruction': 'Is this review {labels}?', 'text_name': 'Review'}
    """
    import yaml

    from ..errors import ConfigError

    if text is None:
        return None
    path = Path(text).expanduser()
    source = path.read_text(encoding="utf-8") if path.suffix in (".yaml", ".yml", ".json") and path.is_file() else text
    try:
        value = yaml.safe_load(source)
    except yaml.YAMLError:
        raise ConfigError(f"--prompt {text!r}: not valid YAML (nor a .yaml file that exists)") from None
    if not isinstance(value, dict):
        raise ConfigError(f"--prompt {text!r}: expected a mapping (instruction, text_name, verbalizers, ...) or a file")
    return value
