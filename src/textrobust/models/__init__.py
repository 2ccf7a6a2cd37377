"""Classifier wrapper and metrics (``textrobust.models``).

Example:
    >>> from textrobust.models import TextClassifier
    >>> clf = TextClassifier("path/or/hub-name", labels=["neg", "pos"])  # doctest: +SKIP
"""

from .classifier import TextClassifier, TrainConfig, minilm_path, resolve_device
from .loading import load_model
from .metrics import classification_metrics, confusion_matrix, evaluate, per_class_report
from .remote import RemoteModel

__all__ = [
    "RemoteModel",
    "TextClassifier",
    "TrainConfig",
    "classification_metrics",
    "confusion_matrix",
    "evaluate",
    "load_model",
    "minilm_path",
    "per_class_report",
    "resolve_device",
]
