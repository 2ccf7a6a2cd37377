"""Classification metrics computed from predictions (numpy only: four formulas do not justify a scikit-learn
dependency, and tests check them against hand calculations)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def confusion_matrix(
    y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray, num_labels: int
) -> np.ndarray:
    """``m[i, j]`` = number of rows with true label ``i`` predicted as ``j``.

    Example:
        >>> confusion_matrix([0, 1, 1], [0, 0, 1], 2).tolist()
        [[1, 0], [1, 1]]
    """
    m = np.zeros((num_labels, num_labels), dtype=np.int64)
    np.add.at(m, (np.asarray(y_true, dtype=int), np.asarray(y_pred, dtype=int)), 1)
    return m


def per_class_report(cm: np.ndarray, label_names: Sequence[str]) -> list[dict[str, Any]]:
    """Precision, recall, F1 and support per class (0 where undefined, as scikit-learn's ``zero_division=0``)."""
    tp = np.diag(cm).astype(float)
    pred = cm.sum(axis=0).astype(float)
    true = cm.sum(axis=1).astype(float)
    precision = np.divide(tp, pred, out=np.zeros_like(tp), where=pred > 0)
    recall = np.divide(tp, true, out=np.zeros_like(tp), where=true > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return [
        {"label": name, "precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
        for name, p, r, f, s in zip(label_names, precision, recall, f1, true, strict=True)
    ]


def classification_metrics(probs: np.ndarray, y_true: Sequence[int], label_names: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class report and confusion matrix from ``predict_proba`` output.

    Example:
        >>> m = classification_metrics(np.array([[.9, .1], [.2, .8], [.6, .4]]), [0, 1, 1], ["neg", "pos"])
        >>> round(m["accuracy"], 3), round(m["macro_f1"], 3)
        (0.667, 0.667)
    """
    truth = np.asarray(y_true, dtype=int)
    y_pred = np.asarray(probs).argmax(axis=1) if len(truth) else np.zeros(0, dtype=int)
    cm = confusion_matrix(truth, y_pred, len(label_names))
    report = per_class_report(cm, label_names)
    return {
        "n": int(len(truth)),
        "accuracy": float((truth == y_pred).mean()) if len(truth) else float("nan"),
        "macro_f1": float(np.mean([r["f1"] for r in report])),
        "per_class": report,
        "confusion_matrix": cm.tolist(),
        "labels": list(label_names),
    }


def evaluate(model: Any, data: Any, batch_size: int | None = None) -> dict[str, Any]:
    """Score ``model`` (anything with ``predict_proba``) on ``data`` (:class:`~textrobust.data.LabeledData`)."""
    probs = model.predict_proba(data.texts, batch_size=batch_size)
    return classification_metrics(probs, data.labels, data.label_names)


def expected_calibration_error(probs: np.ndarray, y_true: Sequence[int] | np.ndarray, bins: int = 15) -> float:
    """ECE of the top-label confidence (Guo et al. 2017): ``sum_b n_b / N * |accuracy_b - confidence_b|`` over
    ``bins`` equal-width confidence bins ``(lo, hi]``.

    Example:
        >>> p = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.4, 0.6]])
        >>> round(expected_calibration_error(p, [0, 1, 1, 1], bins=2), 4)   # one bin: |0.75 - 0.75| = 0
        0.0
        >>> # bins=5: (.4,.6] {.6 right} .25*.4 + (.6,.8] {.7 right, .8 wrong} .5*|.5-.75| + (.8,1] {.9 right} .25*.1
        >>> round(expected_calibration_error(p, [0, 1, 1, 1], bins=5), 4)
        0.25
    """
    probs = np.asarray(probs, dtype=float)
    y = np.asarray(y_true, dtype=int)
    if len(y) == 0:
        return float("nan")
    conf, correct = probs.max(1), (probs.argmax(1) == y).astype(float)
    # Bin b holds confidences in (b/bins, (b+1)/bins] (digitize on the inner edges; exact edges stay in the lower bin).
    idx = np.digitize(conf, np.linspace(0.0, 1.0, bins + 1)[1:-1], right=True)
    ece = 0.0
    for b in np.unique(idx):
        sel = idx == b
        ece += sel.mean() * abs(correct[sel].mean() - conf[sel].mean())
    return float(ece)


def brier_scores(probs: np.ndarray, y_true: Sequence[int] | np.ndarray) -> np.ndarray:
    """Per-example multi-class Brier score ``sum_k (p_k - [k == y])^2`` (0 best, 2 worst); its mean is the Brier
    score.

    Example:
        >>> brier_scores(np.array([[0.8, 0.2], [0.5, 0.5]]), [0, 1]).round(3).tolist()
        [0.08, 0.5]
    """
    probs = np.asarray(probs, dtype=float)
    onehot = np.zeros_like(probs)
    onehot[np.arange(len(probs)), np.asarray(y_true, dtype=int)] = 1.0
    return ((probs - onehot) ** 2).sum(1)
