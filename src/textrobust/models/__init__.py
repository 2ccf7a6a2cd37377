"""Models and how they run (``textrobust.models``): the classifier, the encoders and language models, remote
models, and the :class:`Runtime` that decides device, precision and batching for all of them.

Names load on first use (PEP 562): importing ``textrobust.models`` (or one light submodule such as
``textrobust.models.runtime``) loads neither torch nor numpy, so ``textrobust --help`` stays instant.

Example:
    >>> from textrobust.models import Runtime, TextClassifier
    >>> clf = TextClassifier("path/or/hub-name", labels=["neg", "pos"], runtime=Runtime(device="cpu"))  # doctest: +SKIP
"""

from importlib import import_module
from typing import Any

_LAZY = {
    "EmbeddingClassifier": "embedding",
    "MultilingualEncoder": "multilingual",
    "RemoteModel": "remote",
    "Runtime": "runtime",
    "TextClassifier": "classifier",
    "TrainConfig": "config",
    "classification_metrics": "metrics",
    "confusion_matrix": "metrics",
    "evaluate": "metrics",
    "load_model": "loading",
    "check_model_source": "loading",
    "hub_unreachable": "loading",
    "minilm_path": "loading",
    "per_class_report": "metrics",
    "resolve_device": "runtime",
    "resolve_model_name": "loading",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
