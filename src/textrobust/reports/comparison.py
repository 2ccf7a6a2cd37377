"""The compare and fix reports: one self-contained HTML page led by the verdict table, the details one click away
(``<details>``), from ``compare.json`` / ``fix.json``; plus the Markdown summary and JUnit XML beside it.

Like the run report, nothing is recomputed and every dataset string is untrusted: the template autoescapes, spells
out invisible characters (:func:`textrobust.reports.render.visible_text`) and the page's Content-Security-Policy
allows only its own inline style.

Example:
    >>> write_outputs("runs/cmp", json.loads(Path("runs/cmp/compare.json").read_text()), "compare")  # doctest: +SKIP
    [PosixPath('runs/cmp/compare.html'), PosixPath('runs/cmp/compare.md'), PosixPath('runs/cmp/junit.xml')]
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from textrobust.data import atomic_path

from .junit import compare_junit, fix_junit
from .markdown import compare_markdown, fix_markdown
from .textdiff import word_diff
from .verdicts import compare_rows, fix_rows

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;padding:0 1em;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em}table{border-collapse:collapse;margin:.6em 0;width:100%}
th,td{border-bottom:1px solid #ddd;padding:.3em .5em;text-align:left;vertical-align:top}th{background:#f4f4f4}
td.num{text-align:right;white-space:nowrap}.fail,.worse{color:#b00020;font-weight:600}
.pass,.better,.improved{color:#0a6b2b;font-weight:600}.inconclusive,.no_change,.too_few_seeds{color:#8a5a00}
.headline{font-size:1.1em;padding:.6em;border-left:4px solid #888;background:#fafafa}
details{margin:.8em 0}summary{cursor:pointer;font-weight:600}.muted{color:#666}
del{background:#fdd;text-decoration:line-through}ins{background:#dfd;text-decoration:none}.cp{background:#fe8}
code{background:#f4f4f4;padding:0 .2em}
""".strip()


def _render(content: dict[str, Any]) -> str:
    from .render import _environment, _sha256

    template = _environment().get_template("comparison.html.j2")
    return template.render(c=content, css=CSS, csp=f"default-src 'none'; style-src '{_sha256(CSS)}'")


def _examples(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Worst examples with the original -> perturbed word diff, as data the template renders."""
    out = []
    for r in rows:
        diff = word_diff(r["original"], r["text"]) if r.get("original") and r.get("text") != r.get("original") else None
        out.append({**r, "diff": diff})
    return out


def compare_content(result: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "compare",
        "title": f"compare: {result['new']['label']} vs {result['base']['label']}",
        "headline": compare_markdown(result).split("\n")[2].strip("*"),
        "verdicts": compare_rows(result),
        "r": result,
        "examples": _examples(result.get("examples", [])),
    }


def fix_content(result: dict[str, Any]) -> dict[str, Any]:
    headline = (
        fix_markdown(result).split("\n")[2].strip("*")
        if result.get("status") != "nothing_failing"
        else ("the scan found nothing failing that can be targeted: nothing retrained")
    )
    return {
        "kind": "fix",
        "title": "fix: " + str(result.get("name") or result.get("run_dir")),
        "headline": headline,
        "verdicts": fix_rows(result) if result.get("verdicts") is not None else [],
        "r": result,
        "examples": _examples(result.get("examples", [])),
    }


def write_text(path: Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def write_outputs(out_dir: str | Path, result: dict[str, Any], kind: str) -> list[Path]:
    """``<kind>.html``, ``<kind>.md`` and ``junit.xml`` in ``out_dir`` (each written atomically)."""
    out = Path(out_dir)
    if kind == "compare":
        html, md, xml = _render(compare_content(result)), compare_markdown(result), compare_junit(result)
    else:
        html, md = _render(fix_content(result)), fix_markdown(result) if result.get("verdicts") is not None else ""
        xml = fix_junit(result)
    paths = [write_text(out / f"{kind}.html", html), write_text(out / "junit.xml", xml)]
    if md:
        paths.insert(1, write_text(out / f"{kind}.md", md))
    return paths


def write_fix_outputs(run_dir: str | Path) -> list[Path]:
    """The fix report of a run directory from its ``fix.json``."""
    from textrobust.layout import RunLayout

    result = json.loads(RunLayout(run_dir).fix_json.read_text(encoding="utf-8"))
    return write_outputs(run_dir, result, "fix")
