"""Scores of a forecast in the series' own units: RMSE, NRMSE (RMSE / std of the truth)
and R2, averaged over features."""

from __future__ import annotations

from typing import Any

import numpy as np

from seqlab.series.preprocess import _as_series

__all__ = ["forecast_metrics", "nrmse", "r2_score", "rmse"]


def _pair(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    t, p = _as_series(y_true, "y_true"), _as_series(y_pred, "y_pred")
    if t.shape != p.shape:
        raise ValueError(f"y_true has shape {t.shape} but y_pred has {p.shape}; they must match")
    if t.shape[0] == 0:
        raise ValueError("y_true is empty; nothing to score")
    return t, p


def rmse(y_true: Any, y_pred: Any) -> float:
    """Root mean squared error over all steps and features.

    >>> rmse([1.0, 2.0], [1.0, 4.0])
    1.4142135623730951
    """
    t, p = _pair(y_true, y_pred)
    return float(np.sqrt(np.mean((t - p) ** 2)))


def nrmse(y_true: Any, y_pred: Any) -> float:
    """Normalised RMSE: RMSE / std of the truth (population std, ddof=0), averaged over features.

    1.0 is what always predicting the mean of the truth scores; 0 is perfect. This is the
    "std" normalisation (reservoirpy's default is max - min instead, which gives smaller
    numbers for the same error).

    >>> nrmse([0.0, 2.0], [1.0, 1.0])
    1.0
    """
    t, p = _pair(y_true, y_pred)
    std = t.std(axis=0)
    per = np.sqrt(np.mean((t - p) ** 2, axis=0)) / np.where(std > 0, std, np.nan)
    return float(np.nanmean(per)) if np.any(std > 0) else float("inf")


def r2_score(y_true: Any, y_pred: Any) -> float:
    """Coefficient of determination ``1 - SSE / SST``, averaged over features.

    >>> r2_score([0.0, 2.0], [0.0, 2.0])
    1.0
    """
    t, p = _pair(y_true, y_pred)
    sst = ((t - t.mean(axis=0)) ** 2).sum(axis=0)
    sse = ((t - p) ** 2).sum(axis=0)
    per = 1.0 - sse / np.where(sst > 0, sst, np.nan)
    return float(np.nanmean(per)) if np.any(sst > 0) else float("nan")


def forecast_metrics(y_true: Any, y_pred: Any) -> dict[str, float]:
    """``{"rmse", "nrmse", "r2"}`` for one prediction."""
    return {
        "rmse": rmse(y_true, y_pred),
        "nrmse": nrmse(y_true, y_pred),
        "r2": r2_score(y_true, y_pred),
    }
