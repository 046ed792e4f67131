"""Forecasting inputs: a series checked as (time, features), supervised pairs from lags,
chronological splits and a scaler fitted on the training part only (see
:mod:`seqlab.series.forecast` for the protocol that uses them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["StandardScaler", "TimeSplit", "make_lags", "split_by_time"]


def _as_series(series: Any, name: str = "series") -> np.ndarray:
    arr = np.asarray(series, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be (time,) or (time, features), got an array of shape {arr.shape}"
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values; clean or impute them first")
    return arr


def make_lags(series: Any, lags: int, horizon: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Supervised pairs from a series: ``X[i]`` = the ``lags`` values up to time t, ``y[i]`` = s[t + horizon].

    With t = i + lags - 1: ``X[i] = [s[t], s[t-1], ..., s[t-lags+1]]`` (most recent first,
    features of one time step side by side), shape (T - lags - horizon + 1, lags * D);
    ``y`` is (same, D).

    >>> X, y = make_lags(np.arange(6.0), lags=2, horizon=1)
    >>> X.tolist(), y.ravel().tolist()
    ([[1.0, 0.0], [2.0, 1.0], [3.0, 2.0], [4.0, 3.0]], [2.0, 3.0, 4.0, 5.0])
    """
    s = _as_series(series)
    if lags < 1 or horizon < 1:
        raise ValueError(f"lags and horizon must be >= 1, got lags={lags}, horizon={horizon}")
    n = s.shape[0] - lags - horizon + 1
    if n < 1:
        raise ValueError(
            f"the series has {s.shape[0]} steps, too short for lags={lags} and "
            f"horizon={horizon} (needs at least {lags + horizon}); use a longer series"
        )
    cols = [s[lags - 1 - k : lags - 1 - k + n] for k in range(lags)]
    return np.concatenate(cols, axis=1), s[lags - 1 + horizon : lags - 1 + horizon + n]


@dataclass(frozen=True)
class TimeSplit:
    """Chronological split of ``n`` time steps: ``[0, train_end)``, ``[train_end, val_end)``, ``[val_end, n)``."""

    n: int
    train_end: int
    val_end: int

    @property
    def train(self) -> slice:
        return slice(0, self.train_end)

    @property
    def val(self) -> slice:
        return slice(self.train_end, self.val_end)

    @property
    def test(self) -> slice:
        return slice(self.val_end, self.n)

    def steps(self, part: str, horizon: int) -> slice:
        """Indices t of the forecasting steps whose target time t + horizon lies in ``part``."""
        target = getattr(self, part)
        start = max(target.start - horizon, 0)
        return slice(start, target.stop - horizon)


def split_by_time(n: int, val: float | int = 0.1, test: float | int = 0.2) -> TimeSplit:
    """Split ``n`` steps in time order; ``val`` / ``test`` are fractions of ``n`` or step counts.

    >>> split_by_time(100, val=0.1, test=0.2)
    TimeSplit(n=100, train_end=70, val_end=80)
    """

    def count(v: float | int, pname: str) -> int:
        if isinstance(v, float) and 0.0 <= v < 1.0:
            return round(n * v)
        if isinstance(v, int | np.integer) and 0 <= v < n:
            return int(v)
        raise ValueError(
            f"{pname} must be a fraction in [0, 1) or a step count in [0, {n}), got {v!r}"
        )

    n_val, n_test = count(val, "val"), count(test, "test")
    train_end = n - n_val - n_test
    if train_end < 2:
        raise ValueError(
            f"val={val} and test={test} leave {train_end} training steps out of {n}; "
            "use smaller validation / test parts or a longer series"
        )
    return TimeSplit(n, train_end, train_end + n_val)


class StandardScaler:
    """Per-feature standardisation ``(x - mean) / std``, fitted on the training part only.

    >>> sc = StandardScaler().fit(np.array([[1.0], [3.0]]))
    >>> sc.transform(np.array([[5.0]])).tolist(), sc.inverse_transform(np.array([[1.0]])).tolist()
    ([[3.0]], [[3.0]])
    """

    def __init__(self) -> None:
        self.mean_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None

    def fit(self, x: Any) -> StandardScaler:
        x = _as_series(x, "x")
        self.mean_ = x.mean(axis=0)
        std = x.std(axis=0)
        self.scale_ = np.where(std > 0, std, 1.0)  # a constant feature is only centred
        return self

    def _check(self) -> None:
        if self.mean_ is None:
            raise ValueError("this StandardScaler is not fitted yet; call fit(train) first")

    def transform(self, x: Any) -> np.ndarray:
        self._check()
        return (np.asarray(x, dtype=np.float64) - self.mean_) / self.scale_

    def inverse_transform(self, z: Any) -> np.ndarray:
        self._check()
        return np.asarray(z, dtype=np.float64) * self.scale_ + self.mean_

    def to_dict(self) -> dict[str, list[float]]:
        self._check()
        return {"mean": self.mean_.tolist(), "scale": self.scale_.tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StandardScaler:
        sc = cls()
        sc.mean_ = np.asarray(d["mean"], dtype=np.float64)
        sc.scale_ = np.asarray(d["scale"], dtype=np.float64)
        return sc
