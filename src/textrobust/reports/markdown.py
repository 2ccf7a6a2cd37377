"""A Markdown summary for a pull-request comment: at most :data:`MAX_LINES` lines, headings and one table (the
verdict table), renders on GitHub as it is.

Example:
    >>> md = markdown_summary("Compare", "pass", [{"metric": "clean accuracy ↑", "change": "+0.3 pts",
    ...     "interval": "[−0.4, +1.0] pts", "verdict": "non-inferior", "decide": "margin −1.0 pts"}], ["note"])
    >>> md.splitlines()[0], md.count("\\n| ") >= 2
    ('## Compare', True)
"""

from __future__ import annotations

from typing import Any

from .verdicts import compare_rows, fix_rows

MAX_LINES = 60
COLUMNS = (
    ("metric", "metric"),
    ("change", "change"),
    ("interval", "interval"),
    ("verdict", "verdict"),
    ("decide", "what would decide it"),
)


def _cell(text: Any) -> str:
    """A table cell: pipes escaped, one line."""
    return " ".join(str(text or "").split()).replace("|", "\\|")


def markdown_summary(title: str, headline: str, rows: list[dict[str, str]], notes: list[str]) -> str:
    """``## title``, a one-line headline, the verdict table and notes, cut to :data:`MAX_LINES` lines (rows beyond
    what fits are counted, not dropped silently)."""
    head = [f"## {_cell(title)}", "", f"**{_cell(headline)}**", ""]
    tail = [""] + [f"- {_cell(n)}" for n in notes if n]
    room = MAX_LINES - len(head) - len(tail) - 2 - 1  # table header, rule, and a line for what was left out
    shown, left = rows[: max(room, 0)], max(len(rows) - max(room, 0), 0)
    table = ["| " + " | ".join(h for _, h in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    table += ["| " + " | ".join(_cell(r.get(k, "")) for k, _ in COLUMNS) + " |" for r in shown]
    if left:
        table.append(f"| {left} more in the HTML report |" + " |" * (len(COLUMNS) - 1))
    return "\n".join(head + table + tail) + "\n"


def fix_markdown(result: dict[str, Any], html_name: str = "fix.html") -> str:
    """The fix report in Markdown."""
    targeted = [v for v in result.get("verdicts", []) if v["targeted"]]
    improved = sum(v.get("verdict") == "better" for v in targeted)
    clean = result.get("clean") or {}
    clean_word = {"pass": "non-inferior", "fail": "WORSE than the margin", "inconclusive": "inconclusive"}.get(
        clean.get("verdict", ""), "not measured"
    )
    collateral = result.get("collateral") or []
    headline = f"{improved} of {len(targeted)} targeted categories improved; clean accuracy {clean_word}; " + (
        f"collateral damage: {', '.join(collateral)}" if collateral else "no untargeted category detectably worse"
    )
    family = result.get("family_size")
    notes = [
        f"Categories: intervals are simultaneous 95% over {family} categories (Bonferroni); verdicts Holm over the "
        "same family; ↑/↓: higher/lower is better.",
        "Clean accuracy: one-sided 95% bound against the non-inferiority margin.",
        f"Details, breakdowns and the targeted rows: {html_name}",
    ]
    return markdown_summary("textrobust fix", headline, fix_rows(result), notes)


def compare_markdown(result: dict[str, Any], html_name: str = "compare.html") -> str:
    """The compare report in Markdown."""
    gates = result.get("gates", [])
    counts = {v: sum(g.get("verdict") == v for g in gates) for v in ("fail", "inconclusive", "pass")}
    if gates:
        headline = (
            f"{'FAIL' if counts['fail'] else 'PASS'}: {counts['fail']} failed, {counts['inconclusive']} "
            f"inconclusive, {counts['pass']} non-inferior of {len(gates)} gate(s)"
        )
    else:
        headline = "no gates: every metric with its interval below"
    notes = [
        f"NEW = {result['new']['label']}, BASE = {result['base']['label']}; paired on {result['data']['test_size']} "
        f"test examples; {result.get('design', '')}",
        "Gates fail only when NEW is worse than BASE by more than the margin with 95% confidence; inconclusive: "
        "neither that nor non-inferiority could be shown.",
        f"Other verdicts Holm-corrected over {result.get('family_size', 0)} comparisons; ↑/↓: higher/lower is better.",
        f"Breakdowns, worst examples and every metric: {html_name}",
    ]
    return markdown_summary("textrobust compare", headline, compare_rows(result), notes)
