"""Render the report: ``report.json`` (the content dict) and ``report.html`` (jinja2, autoescaped), atomically.

Safety: every dataset string is untrusted. Jinja2 autoescaping is on, and a ``finalize`` hook passes every
plain string through :func:`visible_text`, which escapes it *and* spells out invisible or bidi-control
characters (U+202E, U+200B, ...) so a perturbation cannot hide or reorder text on the page. The page carries a
Content-Security-Policy that allows only its own inline style and script (by hash): nothing is fetched.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import unicodedata
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from markupsafe import Markup, escape

from textrobust.data import atomic_path
from textrobust.errors import DataError
from textrobust.layout import RunLayout

from . import fmt
from .charts import build_charts
from .content import build_content
from .rundir import load_run_dir

_INVISIBLE = ("Cc", "Cf", "Co", "Cs", "Zl", "Zp")
_KEEP = "\n\t"


def build_report(run_dir: str | os.PathLike, output: str | os.PathLike | None = None) -> Path:
    """Write ``report.html`` and its JSON twin for a finished run directory; return the HTML path.

    ``output`` defaults to ``run_dir/report.html`` (an existing directory means ``output/report.html``); the
    twin is the same path with a ``.json`` suffix. Both files are written atomically. Raises
    :class:`textrobust.errors.DataError` for a missing or corrupt run dir.

    Example:
        >>> from textrobust.reports import build_report
        >>> build_report("runs/sst2-aug")  # doctest: +SKIP
        PosixPath('runs/sst2-aug/report.html')
    """
    run = load_run_dir(run_dir)
    html_path = Path(output) if output is not None else RunLayout(run.path).report_html
    if html_path.is_dir():
        html_path = html_path / RunLayout(run.path).report_html.name
    json_path = html_path.with_suffix(".json")
    content = build_content(run)
    html = render_html(content, json_name=json_path.name)
    _write_text(json_path, json.dumps(content, indent=2, ensure_ascii=False, allow_nan=False) + "\n")
    _write_text(html_path, html)
    return html_path


def render_html(content: dict[str, Any], *, json_name: str = "report.json") -> str:
    css, js = _asset("report.css"), _asset("report.js")
    csp = (
        "default-src 'none'; "
        f"style-src '{_sha256(css)}'; script-src '{_sha256(js)}'; "
        "base-uri 'none'; form-action 'none'"
    )
    template = _environment().get_template("report.html.j2")
    return template.render(
        c=content,
        charts=build_charts(content),
        css=Markup(css),
        js=Markup(js),
        csp=csp,
        json_name=json_name,
        config_json=json.dumps(content["config"], indent=2, ensure_ascii=False, default=str),
    )


def visible_text(value: Any) -> Markup:
    """Escape ``value`` for HTML and replace invisible/control characters by a visible ``U+XXXX`` marker."""
    text = str(value)
    if not any(unicodedata.category(ch) in _INVISIBLE and ch not in _KEEP for ch in text):
        return escape(text)
    parts: list[Markup] = []
    for ch in text:
        if unicodedata.category(ch) in _INVISIBLE and ch not in _KEEP:
            code = f"U+{ord(ch):04X}"
            name = unicodedata.name(ch, "control character")
            parts.append(Markup('<span class="cp" title="{} {}">{}</span>').format(code, name, code))
        else:
            parts.append(escape(ch))
    return Markup("").join(parts)


def _finalize(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, Markup) or not isinstance(value, str):
        return value
    return visible_text(value)


@lru_cache(maxsize=1)
def _environment():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("textrobust.reports", "templates"),
        autoescape=True,  # always on: every template here renders untrusted text
        finalize=_finalize,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        pct=fmt.pct,
        pts=fmt.pts,
        num=fmt.num,
        signed_num=fmt.signed_num,
        ci=fmt.ci_text,
        vis=visible_text,
        value_text=fmt.value_text,
        diff_text=fmt.diff_text,
        half_width=fmt.half_width,
        pm_text=fmt.pm_text,
    )
    env.globals.update(
        is_number=fmt.is_number, judged_kind=fmt.judged_kind, verdict_word=fmt.verdict_word, n_text=fmt.n_text
    )
    return env


def _asset(name: str) -> str:
    return resources.files("textrobust.reports").joinpath("templates", name).read_text(encoding="utf-8")


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


def _write_text(target: Path, text: str) -> None:
    try:
        with atomic_path(target) as tmp:
            tmp.write_text(text, encoding="utf-8")
    except OSError as exc:
        reason = " ".join(str(exc).split())[:200]
        raise DataError(f"cannot write {target} ({reason}); choose another output path with -o") from exc
