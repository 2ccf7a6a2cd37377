"""Classifier wrapper and metrics (``textrobust.models``).

Example:
    >>> from textrobust.models import TextClassifier
    >>> clf = TextClassifier("path/or/hub-name", labels=["neg", "pos"])  # doctest: +SKIP
"""

from .classifier import TextClassifier, TrainConfig, minilm_path, resolve_device
from .metrics import classification_metrics, confusion_matrix, evaluate, per_class_report

__all__ = [
    "TextClassifier",
    "TrainConfig",
    "classification_metrics",
    "confusion_matrix",
    "evaluate",
    "minilm_path",
    "per_class_report",
    "resolve_device",
]
