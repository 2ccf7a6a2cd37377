"""JUnit XML for CI: one test case per gated metric (or per judged category of a fix), in the schema CI systems
read (Jenkins / Surefire ``junit-10.xsd``: ``testsuites > testsuite > testcase`` with ``failure`` and
``system-out``). A failed gate is a ``failure``; an inconclusive one passes and says so in its ``system-out``
(``INCONCLUSIVE: ...``), so the build stays green while the log tells why it could not decide.

Example:
    >>> xml = junit_xml("textrobust compare", [{"name": "clean.accuracy", "verdict": "fail", "message": "worse"}])
    >>> 'failures="1"' in xml and "<failure" in xml
    True
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from .verdicts import fix_rows, gate_row


def junit_xml(suite: str, cases: list[dict[str, Any]], seconds: float | None = None) -> str:
    """``cases``: ``{name, verdict, message}``; a case fails when its verdict is ``fail``."""
    failures = sum(c["verdict"] == "fail" for c in cases)
    root = ET.Element("testsuites", name=suite, tests=str(len(cases)), failures=str(failures), errors="0")
    ts = ET.SubElement(
        root, "testsuite", name=suite, tests=str(len(cases)), failures=str(failures), errors="0", skipped="0"
    )
    if seconds is not None:
        ts.set("time", f"{seconds:.3f}")
    for c in cases:
        tc = ET.SubElement(ts, "testcase", name=str(c["name"]), classname=suite.replace(" ", "."))
        if c["verdict"] == "fail":
            ET.SubElement(tc, "failure", message=str(c["message"]), type="NonInferiorityFailure").text = str(
                c["message"]
            )
        out = ET.SubElement(tc, "system-out")
        out.text = f"{c['verdict'].upper()}: {c['message']}"
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _case(row: dict[str, str], verdict: str, name: str) -> dict[str, Any]:
    message = f"{row['verdict']}: {row['change']}, {row['interval']}" + (f"; {row['decide']}" if row["decide"] else "")
    return {"name": name, "verdict": verdict, "message": message}


def compare_junit(result: dict[str, Any]) -> str:
    """One test case per gate (``--non-inferior METRIC=delta``)."""
    cases = [
        _case(gate_row(g), g["verdict"], f"{g['metric']} non-inferior (margin {g['margin_text']})")
        for g in result.get("gates", [])
    ]
    return junit_xml("textrobust compare", cases)


def fix_junit(result: dict[str, Any]) -> str:
    """The clean-accuracy gate, and one case per category: a category that got detectably worse fails (an
    untargeted one is collateral damage)."""
    rows = fix_rows(result)
    cases = []
    if result.get("clean"):
        g = result["clean"]
        cases.append(_case(rows.pop(0), g["verdict"], f"{g['metric']} non-inferior"))
    ordered = sorted(result.get("verdicts", []), key=lambda v: (not v["targeted"], v["name"]))
    for v, row in zip(ordered, rows, strict=True):
        verdict = "fail" if v.get("verdict") == "worse" else "pass"
        what = "targeted" if v["targeted"] else "untargeted"
        cases.append(_case(row, verdict, f"{v['name']} ({what}) not worse"))
    return junit_xml("textrobust fix", cases)
