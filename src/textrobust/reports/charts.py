"""Inline SVG bar charts, readable without hovering: every bar carries its value (and ± half-interval) as text.

SVG is assembled with :class:`markupsafe.Markup` ``format``/``join``, which escape every argument, so
condition, suite and recipe names (untrusted) can never inject markup. Colours come from CSS classes so the
page's light/dark themes apply.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from markupsafe import Markup

from .fmt import is_number, pct, pm_text, value_text

WIDTH, LABEL_W, VALUE_W = 760, 230, 150
BAR_W = WIDTH - LABEL_W - VALUE_W - 10
ROW_H, GROUP_H, TOP, BOTTOM = 22, 24, 40, 30


def plain_label(text: object) -> str:
    """Chart labels cannot hold markup, so invisible/control characters are spelled out as ``[U+202E]``."""
    return "".join(
        f"[U+{ord(ch):04X}]" if unicodedata.category(ch) in ("Cc", "Cf", "Co", "Cs", "Zl", "Zp") else ch
        for ch in str(text)
    )


def hbar_chart(
    title: str, groups: list[tuple[str, list[dict[str, Any]]]], *, unit: str, value_unit: str | None = None
) -> Markup:
    """Grouped horizontal bars. ``groups``: ``[(group_label, [{"label", "series", "cell"}])]`` where ``cell``
    is a summary cell (``mean``, ``ci_low``, ``ci_high``) or None; ``unit`` is the axis: ``fraction`` (0..1 as %),
    ``percent`` (already 0..100) or ``number``; ``value_unit`` the metric's unit, which the bar labels are written in
    as the tables write them (a Brier score with three decimals, not ``0.2 ± 0.0``)."""
    bars = [b for _, rows in groups for b in rows if b["cell"] and is_number(b["cell"].get("mean"))]
    if not bars:
        return Markup("")
    value_unit = value_unit or {"fraction": "share", "percent": "percent"}.get(unit, "count")
    if unit == "fraction":
        top, step = 1.0, 0.25
    else:
        top, step = nice_axis(max(max(b["cell"]["mean"], b["cell"].get("ci_high") or 0) for b in bars))
        if unit == "percent" and top > 100:
            top, step = 100.0, 25.0
    height = TOP + BOTTOM + sum(GROUP_H + ROW_H * len(rows) for _, rows in groups)
    parts = [
        Markup("<title>{}</title>").format(plain_label(title)),
        Markup('<text class="ttl" x="0" y="16">{}</text>').format(plain_label(title)),
    ]
    parts += _axis(top, step, unit, height)
    y = TOP
    for group, rows in groups:
        parts.append(Markup('<text class="grp" x="0" y="{}">{}</text>').format(y + 16, plain_label(group)))
        y += GROUP_H
        for bar in rows:
            parts += _bar(bar, y, top, value_unit)
            y += ROW_H
    return Markup(
        '<svg class="chart" role="img" viewBox="0 0 {w} {h}" width="100%" '
        'preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">{body}</svg>'
    ).format(w=WIDTH, h=height, body=Markup("").join(parts))


def _scale(value: float, top: float) -> float:
    return LABEL_W + max(0.0, min(value, top)) / top * BAR_W


def _bar(bar: dict[str, Any], y: float, top: float, value_unit: str) -> list[Markup]:
    cell = bar["cell"]
    out = [
        Markup('<text class="lbl" x="{}" y="{}" text-anchor="end">{}</text>').format(
            LABEL_W - 8, y + 15, plain_label(bar["label"])
        )
    ]
    if not (cell and is_number(cell.get("mean"))):
        out.append(Markup('<text class="val" x="{}" y="{}">not measured</text>').format(LABEL_W + 4, y + 15))
        return out
    mean, low, high = cell["mean"], cell.get("ci_low"), cell.get("ci_high")
    x_end = _scale(mean, top)
    out.append(
        Markup('<rect class="bar s{}" x="{}" y="{}" width="{:.1f}" height="14" rx="2"/>').format(
            int(bar["series"]) % 6, LABEL_W, y + 4, max(x_end - LABEL_W, 0.5)
        )
    )
    label = value_text(mean, value_unit)
    right = x_end
    if is_number(low) and is_number(high):
        x1, x2 = _scale(low, top), _scale(high, top)
        out.append(
            Markup('<path class="err" d="M{a:.1f} {m} H{b:.1f} M{a:.1f} {t} V{u} M{b:.1f} {t} V{u}"/>').format(
                a=x1, b=x2, m=y + 11, t=y + 6, u=y + 16
            )
        )
        label += " " + pm_text(mean, low, high, value_unit)  # [low, high] where lopsided, as the tables say it
        right = max(right, x2)
    out.append(Markup('<text class="val" x="{:.1f}" y="{}">{}</text>').format(right + 6, y + 15, label))
    return out


def _axis(top: float, step: float, unit: str, height: int) -> list[Markup]:
    out = []
    for i in range(round(top / step) + 1):
        value = step * i
        x = _scale(value, top)
        out.append(
            Markup('<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{a}" y2="{b}"/>').format(
                x=x, a=TOP - 6, b=height - BOTTOM + 4
            )
        )
        out.append(
            Markup('<text class="tick" x="{:.1f}" y="{}" text-anchor="middle">{}</text>').format(
                x, height - 10, _tick(value, unit)
            )
        )
    return out


def _tick(value: float, unit: str) -> str:
    if unit == "fraction":
        return pct(value, 0)
    text = f"{value:g}"
    return text + "%" if unit == "percent" else text


def nice_axis(peak: float) -> tuple[float, float]:
    """``(top, step)`` of an axis from 0 that holds ``peak``: 2 to 4 steps of 1, 2 or 5 times a power of ten, so
    every tick is a round number (no 6.25% / 18.75%).

    Example:
        >>> nice_axis(23.0), nice_axis(0.27), nice_axis(85)
        ((30.0, 10.0), (0.3, 0.1), (100.0, 25.0))
    """
    import math

    if not peak > 0:
        return 1.0, 0.25
    for exponent in range(math.floor(math.log10(peak)) - 1, math.floor(math.log10(peak)) + 2):
        for mantissa in (1, 2, 2.5, 5):
            step = mantissa * 10.0**exponent
            steps = math.ceil(peak / step - 1e-9)
            if steps <= 4:
                return round(steps * step, 12), step
    return peak, peak / 4


#: Metric units as the chart axis reads them.
AXIS_UNIT = {"share": "fraction", "percent": "percent"}


def build_charts(content: dict[str, Any]) -> list[dict[str, Any]]:
    """One SVG per chart of ``content["charts"]`` (metrics that share a chart title), with a caption."""
    conditions = content["header"]["conditions"]
    series = {c: i for i, c in enumerate(conditions)}
    out = []
    for chart in content["charts"]:
        groups = [
            (
                g["label"],
                [
                    {"label": b["condition"], "series": series.get(b["condition"], 0), "cell": b["cell"]}
                    for b in g["bars"]
                ],
            )
            for g in chart["groups"]
        ]
        direction = {True: "higher is better", False: "lower is better"}.get(chart.get("higher_is_better"), "")
        title = chart["title"] + (f" ({direction})" if direction else "")
        svg = hbar_chart(title, groups, unit=AXIS_UNIT.get(chart["unit"], "number"), value_unit=chart["unit"])
        cells = [b["cell"] for _, rows in groups for b in rows if b["cell"] and is_number(b["cell"].get("mean"))]
        with_ci = sum(is_number(c.get("ci_low")) and is_number(c.get("ci_high")) for c in cells)
        whiskers = "all" if cells and with_ci == len(cells) else "some" if with_ci else "none"
        if svg:  # the caption says whiskers only where the chart draws them
            out.append({"title": chart["title"], "svg": svg, "direction": direction, "whiskers": whiskers})
    return out
