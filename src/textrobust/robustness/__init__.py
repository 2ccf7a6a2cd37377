"""The robustness harness: retrain and score models before and after augmentation, across seeds.

Example:
    >>> from textrobust.robustness import load_experiment, Runner
    >>> table = Runner(load_experiment("examples/sst2_lowresource.yaml")).run()  # doctest: +SKIP
"""

from .evaluations import EVALUATIONS, Evaluation, EvaluationResult, MetricInfo, build_evaluation
from .gates import check_fail_under, check_gates
from .inputs import LoadedData, load_data
from .runner import Runner
from .spec import Experiment, apply_overrides, load_experiment, parse_experiment
from .suites import build_suite, builtin_suites
from .unit import Unit, Workspace, run_unit

__all__ = [
    "EVALUATIONS",
    "Evaluation",
    "EvaluationResult",
    "Experiment",
    "LoadedData",
    "MetricInfo",
    "Runner",
    "Unit",
    "Workspace",
    "apply_overrides",
    "build_evaluation",
    "build_suite",
    "builtin_suites",
    "check_fail_under",
    "check_gates",
    "load_data",
    "load_experiment",
    "parse_experiment",
    "run_unit",
]
