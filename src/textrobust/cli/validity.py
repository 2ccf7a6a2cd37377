"""``judge-check``: a validity judge's keep / reject rates on control edits built from labelled data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from . import app
from .commands import DEVICE, ENCODING, FORMAT, LABEL_COLUMN, PRECISION, TEXT_COLUMN, THREADS, _load, make_runtime

#: ``--quality``'s default: the cheap metrics (textrobust.adversarial.quality.DEFAULT_QUALITY; not imported here so
#: that the CLI starts without numpy).
DEFAULT_QUALITY = "modification,edits,similarity"
JUDGE = typer.Option(
    [],
    "--judge",
    "-j",
    help="A validity judge: a classifier directory trained on other data, 'llm' or 'llm:MODEL' (SmolLM2 by "
    "default). Repeat to ensemble (attack, train) or to compare (judge-check). See docs/validity.md.",
)
JUDGE_PROMPT = typer.Option(
    None, "--judge-prompt", help="The LLM judge's prompt; {text} takes the text, {labels} the answer words."
)


def judge_spec(judges: list[str], prompt: str | None) -> Any:
    """The ``--judge`` / ``--judge-prompt`` options as one judge spec (None when no judge), parsed and checked for
    what needs no labels (unknown keys, the prompt's placeholder)."""
    from ..adversarial.validity import parse_judge
    from ..errors import ConfigError

    if not judges:
        if prompt is not None:
            raise ConfigError("--judge-prompt needs --judge llm")
        return None
    raws: list[Any] = []
    for j in judges:
        raw = parse_judge(j, where=f"--judge {j}").model_dump()
        if prompt is not None and raw["kind"] == "llm":
            raw["prompt"] = prompt
        raws.append(raw)
    if prompt is not None and not any(r["kind"] == "llm" for r in raws):
        raise ConfigError("--judge-prompt applies to an LLM judge: add --judge llm")
    return parse_judge(raws, where="--judge")


def quality_names(quality: str) -> list[str]:
    """``--quality`` as metric names (``none``: no quality metrics)."""
    return [] if quality.strip().lower() == "none" else [q.strip() for q in quality.split(",") if q.strip()]


@app.command("judge-check")
def judge_check(
    data: str = typer.Argument(..., help="Labelled sentiment data to build the control edits from (e.g. MR)."),
    judges: list[str] = JUDGE,
    judge_prompt: str | None = JUDGE_PROMPT,
    ensemble: bool = typer.Option(True, help="With several --judge: also check their ensemble."),
    n: int = typer.Option(240, "-n", help="Controls per side: n label-flipping and n label-keeping edits."),
    seed: int = typer.Option(0, help="Seed of the sentence order and the typos."),
    text_column: str = TEXT_COLUMN,
    label_column: str = LABEL_COLUMN,
    encoding: str = ENCODING,
    fmt: str | None = FORMAT,
    output: Path | None = typer.Option(None, "--output", "-o", help="Each control with every judge's verdict (.jsonl)"),
    device: str = DEVICE,
    precision: str = PRECISION,
    threads: int | None = THREADS,
    as_json: bool = typer.Option(False, "--json", help="Print the rates as JSON."),
) -> None:
    """Measure validity judges on control edits: the share of label-keeping edits (typos, contractions,
    punctuation) each keeps and of label-flipping edits (WordNet antonyms, negation, PromptAttack-style rewrites)
    each rejects, with Wilson 95% intervals."""
    from ..adversarial.validity import EnsembleJudge, build_judge, check_judge
    from ..data import atomic_path
    from ..errors import ConfigError
    from ..robustness.controls import build_controls, judge_quality, polarity_labels

    if not judges:
        raise ConfigError("judge-check needs at least one --judge (a classifier directory, or llm)")
    if n < 1:
        raise ConfigError(f"-n must be >= 1, got {n}")
    runtime = make_runtime(device, precision, threads=threads)
    dataset = _load(data, text_column, label_column, encoding, fmt)
    polarity_labels(dataset.label_names)
    specs = [judge_spec([j], judge_prompt if j.startswith("llm") else None) for j in judges]
    if ensemble and len(judges) > 1:
        specs.append(judge_spec(judges, judge_prompt))
    for spec in specs:  # every judge checked before any model loads
        check_judge(spec, dataset.label_names)
    controls = build_controls(dataset.texts, dataset.labels, dataset.label_names, n=n, seed=seed)
    built = [build_judge(s, dataset.label_names, runtime) for s in specs[: len(judges)]]
    if len(specs) > len(judges):  # the ensemble reuses its members (and what they already computed)
        built.append(EnsembleJudge(specs[-1], dataset.label_names, runtime, members=built))
    results = [judge_quality(j, controls) for j in built]
    if output is not None:
        with atomic_path(output) as tmp, open(tmp, "w", encoding="utf-8") as fh:
            for i, c in enumerate(controls):
                verdicts = {q["judge"]: {"verdict": q["verdicts"][i], "p": round(q["p"][i], 4)} for q in results}
                fh.write(json.dumps({**c.to_dict(), "judges": verdicts}, ensure_ascii=False) + "\n")
    summary = [{k: v for k, v in q.items() if k not in ("verdicts", "p")} for q in results]
    if as_json:
        typer.echo(json.dumps({"n_flip": n, "n_keep": n, "judges": summary}, indent=2))
        return
    _print(summary, n)


def _print(summary: list[dict[str, Any]], n: int) -> None:
    from rich.console import Console
    from rich.table import Table

    def cell(r: dict[str, Any]) -> str:
        return f"{r['rate']:.1%} [{r['low']:.1%}, {r['high']:.1%}]  abst. {r['abstained']:.0%}"

    table = Table(title=f"validity judges on {n} label-keeping and {n} label-flipping control edits (95% Wilson)")
    table.add_column("judge")
    table.add_column("keeps label-keeping (target ≥ 90%)")
    table.add_column("rejects label-flipping (target ≥ 80%)")
    for q in summary:
        table.add_row(q["judge"], cell(q["keep"]), cell(q["reject"]))
    console = Console()
    console.print(table)
    fams = Table(title="by edit family (keep rate for keeping edits, reject rate for flipping edits)")
    fams.add_column("judge")
    names = list(summary[0]["families"])
    for f in names:
        fams.add_column(f)
    for q in summary:
        fams.add_row(q["judge"], *[f"{q['families'][f]['rate']:.0%} (n={q['families'][f]['n']})" for f in names])
    console.print(fams)
