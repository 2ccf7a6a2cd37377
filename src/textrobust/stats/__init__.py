"""Statistics of a run: the paired two-level (seeds x test examples) model, the summary and power.

* :mod:`textrobust.stats.crossed` — estimates, intervals, Holm, McNemar and power for the crossed design;
* :mod:`textrobust.stats.summary` — ``summarise()``: the per-metric statistics ``summary.json`` holds;
* :mod:`textrobust.stats.power` — planned minimum detectable effects from a pilot run.

Pure numerics (numpy, scipy, statsmodels): nothing here knows about models, data or attacks.

Example:
    >>> from textrobust.stats import summarise  # doctest: +SKIP
"""

from .summary import summarise

__all__ = ["summarise"]
