"""``extras`` command: which optional language extras (WordNet, spaCy's tagger, SmolLM2, Bergamot) are installed,
where, and what to install."""

from __future__ import annotations

import json

import typer

from . import app


@app.command()
def extras(
    prepare: bool = typer.Option(
        False,
        "--prepare",
        help="Make installed extras ready: write WordNet's "
        "lexnames file (and an NLTK_DATA folder for other NLTK tools), and cache the "
        "dequantised SmolLM2 checkpoint (about 20 s once).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the status as JSON."),
) -> None:
    """Optional offline language extras (WordNet, spaCy tagger, SmolLM2, Bergamot): installed or not, where, and
    the package that provides each."""
    from ..extras import prepare_wordnet, status

    prepared: dict[str, str] = {}
    if prepare:
        rows = {r["name"]: r for r in status()}
        if rows["wordnet"]["available"]:
            prepared["wordnet"] = f"NLTK_DATA={prepare_wordnet()} (for NLTK-based tools: TextAttack, nlpaug)"
        if rows["smollm2"]["available"]:
            from ..models.causal_lm import smollm2_checkpoint

            prepared["smollm2"] = f"dequantised checkpoint: {smollm2_checkpoint()}"
    rows_out = status()
    if as_json:
        typer.echo(json.dumps({"extras": rows_out, "prepared": prepared}, indent=2))
        return
    for r in rows_out:
        mark = "yes" if r["available"] else "no "
        typer.echo(f"{r['name']:<9} {mark}  {r['what']}: {r['where']}")
        typer.echo(f"{'':<14} used by: {r['used_by']}")
        if not r["available"]:
            typer.echo(f"{'':<14} install: {r['install']}")
    for name, line in prepared.items():
        typer.echo(f"prepared {name}: {line}")
