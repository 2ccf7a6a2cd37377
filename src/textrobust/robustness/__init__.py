"""The robustness harness: retrain and score models before and after augmentation, across seeds.

Example:
    >>> from textrobust.robustness import load_experiment, Runner
    >>> table = Runner(load_experiment("examples/sst2_lowresource.yaml")).run()  # doctest: +SKIP
"""

from .runner import Runner, Unit, check_fail_under, load_data, unit_fingerprints
from .spec import Experiment, apply_overrides, load_experiment, parse_experiment
from .stats import summarise, t_interval
from .suites import build_suite, builtin_suites

__all__ = [
    "Experiment", "Runner", "Unit", "apply_overrides", "build_suite", "builtin_suites", "check_fail_under",
    "load_data", "load_experiment", "parse_experiment", "summarise", "t_interval", "unit_fingerprints",
]
