"""Power for a planned experiment from a pilot run: the minimum detectable effect of every judged headline metric at
the planned number of seeds, from the variance components the pilot measured (``--dry-run --pilot RUN_DIR``).

A pilot of 3 or more seeds gives MDEs that average the power over what its seed variance could be (as the run's
own MDEs do, :mod:`textrobust.stats.design`); a 2-seed pilot knows its seed variance from one degree of freedom, so
its MDEs take that variance as measured. Both come with the range the seed variance could span
(``mde_planned_low`` / ``mde_planned_high``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError
from ..layout import RunLayout
from .design import Components, detectable, detectable_range
from .levels import MIN_SEEDS


def pilot_power(pilot_dir: str | Path, n_seeds: int) -> list[dict[str, Any]]:
    """One entry per (evaluation, metric) the pilot judged: its variance components (averaged over the pilot's
    comparisons) and the minimum detectable effect with the pilot's seeds and with ``n_seeds``.

    Example:
        >>> rows = pilot_power("runs/pilot", n_seeds=5)  # doctest: +SKIP
    """
    path = RunLayout(pilot_dir).summary
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise DataError(f"--pilot: cannot read {path} ({type(e).__name__}); give a finished run directory") from None
    labels = {(m["evaluation"], m["metric"]): m for m in summary.get("metrics", [])}
    pooled: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in summary.get("rows", []):
        if r.get("in_family") and isinstance(r.get("components"), dict):
            pooled.setdefault((r["evaluation"], r["metric"]), []).append(r["components"])
    if not pooled:
        raise DataError(
            f"--pilot: {path} has no comparisons with per-example outcomes; the pilot needs a baseline, "
            "another condition and a finished unit of each"
        )
    out = []
    for (ev, metric), comps in pooled.items():
        c = Components(
            int(comps[0]["n_seeds"]),
            int(comps[0]["n_examples"]),
            *(float(np.mean([x[k] for x in comps])) for k in ("ms_seed", "ms_item", "ms_resid")),
        )
        info = labels.get((ev, metric), {})
        shares = (
            {k: float(np.mean([x[f"{k}_mean"] for x in comps])) for k in ("base", "cond")}
            if all("base_mean" in x for x in comps)
            else {}
        )
        predictive = c.n_seeds >= MIN_SEEDS
        low, high = detectable_range(c, n_seeds, c.n_items, **shares)
        out.append(
            {
                "evaluation": ev,
                "metric": metric,
                "label": info.get("label", f"{ev} {metric}"),
                "unit": info.get("unit", "share"),
                "pilot_seeds": c.n_seeds,
                "examples": c.n_items,
                "sd_seed": float(np.sqrt(c.seed)),
                "sd_examples": float(np.sqrt(c.item)),
                "sd_residual": float(np.sqrt(c.resid)),
                "mde_pilot": detectable(c, c.n_seeds, c.n_items, predictive=predictive, **shares),
                "planned_seeds": n_seeds,
                "mde_planned": detectable(c, n_seeds, c.n_items, predictive=predictive, **shares),
                "mde_planned_low": low,
                "mde_planned_high": high,
                "seeds_random": n_seeds >= MIN_SEEDS,
            }
        )
    return out
