"""Classification metrics on integer labels, in numpy (no scikit-learn at run time)."""

from __future__ import annotations

import numpy as np

__all__ = ["accuracy", "classification_metrics", "confusion_matrix", "f1_macro", "log_loss"]


def _labels(y: np.ndarray | list[int], name: str) -> np.ndarray:
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    return arr.astype(np.int64, copy=False)


def accuracy(y_true: np.ndarray | list[int], y_pred: np.ndarray | list[int]) -> float:
    """Fraction of predictions equal to the truth.

    >>> accuracy([0, 1, 1, 0], [0, 1, 0, 0])
    0.75
    """
    t, p = _labels(y_true, "y_true"), _labels(y_pred, "y_pred")
    if len(t) != len(p):
        raise ValueError(f"y_true has {len(t)} items but y_pred has {len(p)}")
    if len(t) == 0:
        raise ValueError("accuracy of zero items is undefined; pass at least one item")
    return float(np.mean(t == p))


def confusion_matrix(
    y_true: np.ndarray | list[int], y_pred: np.ndarray | list[int], num_classes: int
) -> np.ndarray:
    """``(C, C)`` counts; row = true class, column = predicted class.

    >>> confusion_matrix([0, 1, 1], [0, 0, 1], 2).tolist()
    [[1, 0], [1, 1]]
    """
    t, p = _labels(y_true, "y_true"), _labels(y_pred, "y_pred")
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (t, p), 1)
    return cm


def f1_macro(
    y_true: np.ndarray | list[int], y_pred: np.ndarray | list[int], num_classes: int
) -> float:
    """Unweighted mean of the per-class F1 scores (a class never seen nor predicted counts 0,
    as in scikit-learn's ``f1_score(average="macro", labels=range(C))``).

    >>> round(f1_macro([0, 1, 2, 2], [0, 1, 2, 1], 3), 4)
    0.7778
    """
    cm = confusion_matrix(y_true, y_pred, num_classes)
    tp = np.diag(cm).astype(np.float64)
    denom = cm.sum(axis=0) + cm.sum(axis=1)  # predicted + true = 2 tp + fp + fn
    f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
    return float(f1.mean())


def log_loss(y_true: np.ndarray | list[int], proba: np.ndarray) -> float:
    """Mean negative log-likelihood of the true class (the cross-entropy loss).

    >>> round(log_loss([0, 1], np.array([[0.5, 0.5], [0.1, 0.9]])), 4)
    0.3993
    """
    t = _labels(y_true, "y_true")
    proba = np.asarray(proba, dtype=np.float64)
    picked = np.clip(proba[np.arange(len(t)), t], 1e-15, 1.0)
    return float(-np.mean(np.log(picked)))


def classification_metrics(
    y_true: np.ndarray | list[int], proba: np.ndarray, num_classes: int | None = None
) -> dict[str, float]:
    """``loss``, ``accuracy`` and, with more than two classes, ``f1_macro`` from probabilities.

    >>> classification_metrics([0, 1], np.array([[0.9, 0.1], [0.2, 0.8]]))["accuracy"]
    1.0
    """
    proba = np.asarray(proba)
    num_classes = proba.shape[1] if num_classes is None else num_classes
    pred = proba.argmax(axis=1)
    out = {"loss": log_loss(y_true, proba), "accuracy": accuracy(y_true, pred)}
    if num_classes > 2:
        out["f1_macro"] = f1_macro(y_true, pred, num_classes)
    return out
