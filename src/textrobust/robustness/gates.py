"""``--fail-under`` gates: parsed and checked against the metrics an experiment declares *before* any training (and in
``--dry-run``), then applied to the condition means once the results exist.

A typo in a gate used to surface only after every unit had trained; everything about a gate that does not depend on
the results (its syntax, the metric's name, whether the value can be reached, whether a floor makes sense for the
metric's direction) is known from the spec and the data's labels alone.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError
from .evaluations import MetricInfo

SYNTAX = "EVALUATION.METRIC=VALUE (e.g. clean.accuracy=0.8)"


@dataclass(frozen=True)
class Gate:
    """One ``EVALUATION.METRIC=VALUE`` bound: the run fails (exit 1) when a condition's mean is below ``limit``."""

    evaluation: str
    metric: str
    limit: float

    @property
    def key(self) -> str:
        return f"{self.evaluation}.{self.metric}"


def parse_gates(bounds: Sequence[str]) -> list[Gate]:
    """``EVALUATION.METRIC=VALUE`` strings as :class:`Gate` s (ConfigError naming the bad one otherwise).

    Example:
        >>> parse_gates(["attack:textfooler.accuracy_under_attack=0.2"])[0].evaluation
        'attack:textfooler'
    """
    gates = []
    for bound in bounds:
        key, sep, value = bound.partition("=")
        ev, dot, metric = key.strip().rpartition(".")
        try:
            limit = float(value)
        except ValueError:
            limit = math.nan
        if not sep or not dot or not ev or not metric or not math.isfinite(limit):
            raise ConfigError(f"--fail-under expects {SYNTAX}, got '{bound}'")
        gates.append(Gate(ev, metric, limit))
    return gates


def check_gates(bounds: Sequence[str], infos: Sequence[MetricInfo]) -> list[Gate]:
    """The gates, checked against the metrics the experiment will emit (``infos``: its declared metrics): an unknown
    metric, a value outside the metric's range, or a floor on a lower-is-better metric fail here, before training.

    Example:
        >>> info = MetricInfo("clean", "accuracy", "clean accuracy", headline=True, role="clean")
        >>> check_gates(["clean.accuracy=0.8"], [info])[0].limit
        0.8
        >>> check_gates(["clean.acuracy=0.8"], [info])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        textrobust.errors.ConfigError: --fail-under clean.acuracy=0.8: ... (did you mean clean.accuracy?); ...
    """
    gates = parse_gates(bounds)
    by_key = {m.key: m for m in infos}
    for gate, bound in zip(gates, bounds, strict=True):
        info = by_key.get(gate.key)
        if info is None:
            close = difflib.get_close_matches(gate.key, list(by_key), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            headline = ", ".join(m.key for m in infos if m.headline and m.higher_is_better) or "none"
            raise ConfigError(
                f"--fail-under {bound}: this experiment has no metric {gate.key}{hint}; its headline metrics: "
                f"{headline}"
            )
        if info.higher_is_better is False:
            raise ConfigError(
                f"--fail-under {bound}: {info.label} is lower-is-better, so a floor would fail the models that do "
                "well; gate on a higher-is-better metric"
            )
        low, high = info.range
        if (low is not None and gate.limit < low) or (high is not None and gate.limit > high):
            span = f"between {low:g} and {high:g}" if low is not None and high is not None else f"at least {low:g}"
            scale = f" (write {gate.limit / 100:g} for {gate.limit:g}%)" if info.unit == "share" and high == 1 else ""
            raise ConfigError(
                f"--fail-under {bound}: {info.label} ({info.unit}) lies {span}, so {gate.limit:g} can never be "
                f"reached{scale}"
            )
    return gates


def check_fail_under(table: Any, bounds: Sequence[str]) -> list[str]:
    """``EVALUATION.METRIC=VALUE`` bounds on condition means; returns one message per violation.

    Example:
        >>> import pandas as pd
        >>> t = pd.DataFrame({"condition": ["a", "a"], "seed": [0, 1], "evaluation": ["clean"] * 2,
        ...                   "metric": ["accuracy"] * 2, "value": [0.7, 0.8]})
        >>> check_fail_under(t, ["clean.accuracy=0.8"])
        ['a: clean.accuracy = 0.7500 < 0.8']
    """
    problems = []
    for gate in parse_gates(bounds):
        sel = table[(table.evaluation == gate.evaluation) & (table.metric == gate.metric)]
        if sel.empty:
            raise ConfigError(
                f"--fail-under {gate.key}: no such evaluation/metric in the results "
                f"(have: {', '.join(sorted(set(table.evaluation + '.' + table.metric)))})"
            )
        for cond, group in sel.groupby("condition", sort=False):
            mean = float(group.value.mean())
            if mean < gate.limit:
                problems.append(f"{cond}: {gate.key} = {mean:.4f} < {gate.limit:g}")
    return problems


__all__ = ["Gate", "check_fail_under", "check_gates", "parse_gates"]
