"""Forecasting setup: lags and horizon, splits by time, scaling, metrics, baselines, evaluation.

The evaluation protocol, shared by every model (ESN, the baselines, and any model that
follows the :class:`Forecaster` protocol, e.g. an LSTM added later)::

    series s (T, D) --scale (fitted on train only)--> z
    inputs  u[t] = z[t]          targets y[t] = z[t + horizon]       t = 0 .. T - horizon - 1
    a step t belongs to the split that holds its *target* time t + horizon:
        train: t + horizon < train_end,  val: < val_end,  test: the rest (never shuffled)

A forecaster is fitted on the (u, y) pairs of the train steps and asked for causal
predictions: ``predict(u[:stop])`` returns one prediction per step, each using only inputs
up to that step, and the split's steps are sliced from it. Predictions are scaled back and
scored in the series' own units. For the test numbers every model is refitted on train +
validation steps (``refit=True``); hyper-parameters are chosen on validation only.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = [
    "NEURAL_MODELS",
    "ESNForecaster",
    "ForecastReport",
    "Forecaster",
    "LinearAR",
    "Persistence",
    "StandardScaler",
    "TimeSplit",
    "evaluate_forecast",
    "forecast_metrics",
    "forecasters",
    "make_forecaster",
    "make_lags",
    "metrics_table",
    "nrmse",
    "r2_score",
    "register_forecaster",
    "rmse",
    "split_by_time",
    "tune_forecaster",
]

#: Neural networks registered both as forecasters and as sequence classifiers
#: (:mod:`seqlab.series.neural`; torch is imported only when one is built).
NEURAL_MODELS = ("lstm", "gru", "rnn", "tdnn", "cnn")


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


# --------------------------------------------------------------------------------------
# Lags, splits, scaling
# --------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------
# Forecasters: a tiny fit / predict protocol so that any model can be evaluated the same way
# --------------------------------------------------------------------------------------


@runtime_checkable
class Forecaster(Protocol):
    """What :func:`evaluate_forecast` needs from a model.

    ``fit(inputs (T, D), targets (T, D_out)) -> self``: ``targets[t]`` is the value to
    predict after reading ``inputs[: t + 1]``.
    ``predict(inputs (T, D)) -> (T, D_out)``: causal predictions, one per step, each using only
    ``inputs[: t + 1]`` (a model that needs a window of past values builds it itself).
    """

    def fit(self, inputs: np.ndarray, targets: np.ndarray) -> Forecaster: ...

    def predict(self, inputs: np.ndarray) -> np.ndarray: ...


class Persistence:
    """Baseline: the forecast is the last observed value (``y[t] = u[t]``).

    >>> Persistence().fit(np.zeros((3, 1)), np.zeros((3, 1))).predict(np.array([[1.0], [2.0]])).ravel().tolist()
    [1.0, 2.0]
    """

    def fit(self, inputs: np.ndarray, targets: np.ndarray) -> Persistence:
        self.output_dim_ = np.asarray(targets).reshape(len(targets), -1).shape[1]
        return self

    def predict(self, inputs: np.ndarray) -> np.ndarray:
        u = _as_series(inputs, "inputs")
        return u[:, : self.output_dim_]


class LinearAR:
    """Baseline: linear autoregression on the last ``lags`` inputs (ridge, closed form).

    ``y[t] = c + sum_k A_k u[t-k]`` for k = 0 .. lags-1; fitted on the steps that have a full
    window; before that the window is padded with the first input.

    >>> u = np.arange(10.0)[:, None]
    >>> LinearAR(lags=2).fit(u[:-1], u[1:]).predict(u[:-1])[-1].round(6).tolist()
    [9.0]
    """

    def __init__(self, lags: int = 10, ridge: float = 1e-6) -> None:
        if lags < 1:
            raise ValueError(f"lags must be >= 1, got {lags}")
        if ridge < 0:
            raise ValueError(f"ridge must be >= 0, got {ridge}")
        self.lags = int(lags)
        self.ridge = float(ridge)
        self.config = {"lags": self.lags, "ridge": self.ridge}
        self.coef_: np.ndarray | None = None

    def _windows(self, u: np.ndarray) -> np.ndarray:
        padded = np.concatenate([np.repeat(u[:1], self.lags - 1, axis=0), u], axis=0)
        t = u.shape[0]
        cols = [padded[self.lags - 1 - k : self.lags - 1 - k + t] for k in range(self.lags)]
        return np.concatenate([np.ones((t, 1)), *cols], axis=1)

    def fit(self, inputs: np.ndarray, targets: np.ndarray) -> LinearAR:
        from seqlab.models.esn import ridge_solve

        u, y = _as_series(inputs, "inputs"), _as_series(targets, "targets")
        if u.shape[0] <= self.lags:
            raise ValueError(
                f"{u.shape[0]} training steps are too few for lags={self.lags}; "
                "use fewer lags or a longer series"
            )
        phi = self._windows(u)[self.lags - 1 :]
        self.coef_ = ridge_solve(phi, y[self.lags - 1 :], self.ridge)
        return self

    def predict(self, inputs: np.ndarray) -> np.ndarray:
        if self.coef_ is None:
            raise ValueError("this LinearAR is not fitted yet; call fit(inputs, targets) first")
        return self._windows(_as_series(inputs, "inputs")) @ self.coef_.T


class ESNForecaster:
    """An :class:`~seqlab.models.esn.ESN` behind the :class:`Forecaster` protocol.

    ``fit`` discards the first ``warmup`` steps of the training run; ``predict`` runs from a
    zero state over all the inputs it is given (so the state is warm before any scored step).

    >>> u = np.sin(np.arange(300) / 5.0)[:, None]
    >>> ESNForecaster(units=30, warmup=20, seed=0).fit(u[:-1], u[1:]).predict(u[:-1]).shape
    (299, 1)
    """

    def __init__(self, warmup: int = 100, **esn_kwargs: Any) -> None:
        from seqlab.models.esn import ESN

        self.warmup = int(warmup)
        self.esn = ESN(**esn_kwargs)
        self.config = {"warmup": self.warmup, **self.esn.config}

    def fit(self, inputs: np.ndarray, targets: np.ndarray) -> ESNForecaster:
        self.esn.fit(inputs, targets, warmup=self.warmup)
        return self

    def predict(self, inputs: np.ndarray) -> np.ndarray:
        return self.esn.run(inputs, reset=True)


_FORECASTERS: dict[str, Callable[..., Forecaster]] = {
    "esn": ESNForecaster,
    "persistence": Persistence,
    "linear-ar": LinearAR,
}


def register_forecaster(name: str, factory: Callable[..., Forecaster]) -> None:
    """Make ``factory(**kwargs)`` available as ``model=name`` (e.g. an LSTM forecaster).

    >>> register_forecaster("persistence-copy", Persistence)
    >>> "persistence-copy" in forecasters()
    True
    """
    _FORECASTERS[name] = factory


def forecasters() -> list[str]:
    """Names of the registered forecasters."""
    return sorted(_FORECASTERS)


def make_forecaster(name: str, **kwargs: Any) -> Forecaster:
    """Build the forecaster registered as ``name`` with ``kwargs``."""
    if name not in _FORECASTERS:
        raise ValueError(f"unknown forecaster {name!r}; choose one of: {', '.join(forecasters())}")
    return _FORECASTERS[name](**kwargs)


# --------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------


@dataclass
class ForecastReport:
    """Scores (series units) of a model and its baselines on the validation and test steps.

    ``metrics[model][part]`` = ``{"rmse", "nrmse", "r2"}``; ``predictions[model][part]`` and
    ``truth[part]`` are (steps, D) arrays; ``target_index[part]`` the time index of each
    target. ``to_dict()`` is JSON-able (no arrays).
    """

    model: str
    horizon: int
    split: TimeSplit
    metrics: dict[str, dict[str, dict[str, float]]]
    predictions: dict[str, dict[str, np.ndarray]]
    truth: dict[str, np.ndarray]
    target_index: dict[str, np.ndarray]
    config: dict[str, Any] = field(default_factory=dict)
    fitted: Any = field(default=None, repr=False)  # the model of the test scores (not in to_dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "horizon": self.horizon,
            "split": {
                "n": self.split.n,
                "train_end": self.split.train_end,
                "val_end": self.split.val_end,
            },
            "metrics": self.metrics,
            "config": self.config,
        }

    def table(self) -> str:
        """The metrics as an aligned text table, one row per model and split."""
        return metrics_table(self.metrics)


def metrics_table(metrics: dict[str, dict[str, dict[str, float]]]) -> str:
    """``metrics[model][part]`` (``rmse``, ``nrmse``, ``r2``) as an aligned text table, one
    row per model and split.

    >>> print(metrics_table({"esn": {"test": {"rmse": 0.5, "nrmse": 0.1, "r2": 0.99}}}))
    model          split         RMSE     NRMSE        R2
    esn            test           0.5   0.10000   0.99000
    """
    lines = [f"{'model':<14} {'split':<5} {'RMSE':>12} {'NRMSE':>9} {'R2':>9}"]
    for name, parts in metrics.items():
        for part, m in parts.items():
            lines.append(
                f"{name:<14} {part:<5} {m['rmse']:>12.6g} {m['nrmse']:>9.5f} {m['r2']:>9.5f}"
            )
    return "\n".join(lines)


def _build(model: str | Callable[[], Forecaster], kwargs: dict[str, Any]) -> Forecaster:
    if isinstance(model, str):
        return make_forecaster(model, **kwargs)
    if callable(model):
        built = model(**kwargs)
        if not isinstance(built, Forecaster):
            raise TypeError(
                f"model factory returned {type(built).__name__}, which has no fit/predict; "
                "return an object with fit(inputs, targets) and predict(inputs)"
            )
        return built
    raise TypeError(
        f"model must be a registered name or a factory returning a Forecaster, got {model!r}"
    )


def _score_parts(
    factory: Callable[[], Forecaster],
    u: np.ndarray,
    y: np.ndarray,
    split: TimeSplit,
    horizon: int,
    scaler: StandardScaler,
    raw: np.ndarray,
    parts: Sequence[str],
    refit: bool,
) -> tuple[dict[str, dict[str, float]], dict[str, np.ndarray], Forecaster]:
    """Fit on train (and train + val for test when ``refit``) and score each part: (metrics,
    predictions, the model of the last part)."""
    metrics: dict[str, dict[str, float]] = {}
    preds: dict[str, np.ndarray] = {}
    fitted: dict[str, Forecaster] = {}
    for part in parts:
        fit_until = split.steps("val", horizon).stop if (part == "test" and refit) else None
        key = "trainval" if fit_until is not None else "train"
        if key not in fitted:
            stop = fit_until if fit_until is not None else split.steps("train", horizon).stop
            fitted[key] = factory().fit(u[:stop], y[:stop])
        steps = split.steps(part, horizon)
        pred = fitted[key].predict(u[: steps.stop])
        pred = np.asarray(pred, dtype=np.float64).reshape(steps.stop, -1)[steps]
        pred = scaler.inverse_transform(pred)
        truth = raw[steps.start + horizon : steps.stop + horizon]
        metrics[part] = forecast_metrics(truth, pred)
        preds[part] = pred
    return metrics, preds, fitted[key]


def _prepare(
    series: Any, horizon: int, val: float | int, test: float | int, scale: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, TimeSplit, StandardScaler]:
    raw = _as_series(series)
    if not isinstance(horizon, int | np.integer) or horizon < 1:
        raise ValueError(f"horizon must be an int >= 1, got {horizon!r}")
    split = split_by_time(raw.shape[0], val, test)
    for part in ("val", "test"):
        s = getattr(split, part)
        if s.stop - s.start < 1:
            raise ValueError(
                f"the {part} part is empty ({part}={val if part == 'val' else test}); "
                "give it at least one step"
            )
    if split.steps("train", horizon).stop < 2:
        raise ValueError(
            f"horizon={horizon} leaves no training pairs in {split.train_end} training steps; "
            "use a longer series or a shorter horizon"
        )
    scaler = StandardScaler().fit(raw[split.train]) if scale else _identity_scaler(raw.shape[1])
    z = scaler.transform(raw)
    return raw, z[:-horizon], z[horizon:], split, scaler


def _identity_scaler(dim: int) -> StandardScaler:
    return StandardScaler.from_dict({"mean": [0.0] * dim, "scale": [1.0] * dim})


def evaluate_forecast(
    series: Any,
    model: str | Callable[..., Forecaster] = "esn",
    model_kwargs: dict[str, Any] | None = None,
    *,
    model_name: str | None = None,
    horizon: int = 1,
    lags: int | Sequence[int] = 10,
    val: float | int = 0.1,
    test: float | int = 0.2,
    scale: bool = True,
    refit: bool = True,
    baselines: bool = True,
) -> ForecastReport:
    """Score ``model`` and the persistence and linear-AR baselines on a chronological split.

    ``model`` is a registered name (``"esn"``, ``"linear-ar"``, ``"persistence"`` or one
    added with :func:`register_forecaster`) or a factory returning a :class:`Forecaster`;
    it is built with ``model_kwargs``. ``lags`` is the window of the linear-AR baseline;
    several values mean: pick the one with the lowest validation NRMSE. See the module
    docstring for the protocol (targets split by time, scaler fitted on train only, test
    models refitted on train + val when ``refit``).

    >>> from seqlab.series.data import sine_mixture
    >>> rep = evaluate_forecast(sine_mixture(800), "esn", {"units": 50, "warmup": 50, "seed": 0})
    >>> sorted(rep.metrics), sorted(rep.metrics["esn"])
    (['esn', 'linear-ar', 'persistence'], ['test', 'val'])
    """
    raw, u, y, split, scaler = _prepare(series, horizon, val, test, scale)
    kwargs = dict(model_kwargs or {})
    name = model_name or (model if isinstance(model, str) else getattr(model, "__name__", "model"))
    metrics: dict[str, dict[str, dict[str, float]]] = {}
    predictions: dict[str, dict[str, np.ndarray]] = {}
    config: dict[str, Any] = {"model_kwargs": kwargs, "scale": scale, "refit": refit}
    config["scaler"] = scaler.to_dict()
    parts = ("val", "test")
    metrics[name], predictions[name], fitted = _score_parts(
        lambda: _build(model, kwargs), u, y, split, horizon, scaler, raw, parts, refit
    )
    if baselines:
        metrics["persistence"], predictions["persistence"], _ = _score_parts(
            Persistence, u, y, split, horizon, scaler, raw, parts, refit
        )
        lag_list = [lags] if isinstance(lags, int | np.integer) else list(lags)
        best: tuple[float, int] | None = None
        for p in lag_list:
            m, _, _ = _score_parts(
                lambda p=p: LinearAR(int(p)), u, y, split, horizon, scaler, raw, ("val",), refit
            )
            if best is None or m["val"]["nrmse"] < best[0]:
                best = (m["val"]["nrmse"], int(p))
        assert best is not None
        config["ar_lags"] = best[1]
        metrics["linear-ar"], predictions["linear-ar"], _ = _score_parts(
            lambda: LinearAR(best[1]), u, y, split, horizon, scaler, raw, parts, refit
        )
    truth = {}
    index = {}
    for part in parts:
        steps = split.steps(part, horizon)
        truth[part] = raw[steps.start + horizon : steps.stop + horizon]
        index[part] = np.arange(steps.start + horizon, steps.stop + horizon)
    return ForecastReport(name, horizon, split, metrics, predictions, truth, index, config, fitted)


def _grid(grid: dict[str, Iterable[Any]]) -> list[dict[str, Any]]:
    keys = list(grid)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(list(grid[k]) for k in keys))]


def tune_forecaster(
    series: Any,
    model: str | Callable[..., Forecaster],
    grid: dict[str, Iterable[Any]],
    base_kwargs: dict[str, Any] | None = None,
    *,
    horizon: int = 1,
    val: float | int = 0.1,
    test: float | int = 0.2,
    scale: bool = True,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Grid search on the validation steps only: ``(best kwargs, [{kwargs, val metrics}, ...])``.

    Every combination of ``grid`` (merged over ``base_kwargs``) is fitted on the train steps
    and scored on the validation steps; the test steps are never looked at.

    >>> from seqlab.series.data import sine_mixture
    >>> best, rows = tune_forecaster(sine_mixture(600), "linear-ar", {"lags": [1, 4]})
    >>> best["lags"], len(rows)
    (4, 2)
    """
    raw, u, y, split, scaler = _prepare(series, horizon, val, test, scale)
    rows = []
    for combo in _grid(grid):
        kwargs = {**(base_kwargs or {}), **combo}
        m, _, _ = _score_parts(
            lambda kwargs=kwargs: _build(model, kwargs),
            u,
            y,
            split,
            horizon,
            scaler,
            raw,
            ("val",),
            False,
        )
        rows.append({"kwargs": kwargs, "val": m["val"]})
    if not rows:
        raise ValueError("grid is empty; give at least one value per parameter")
    best = min(rows, key=lambda r: r["val"]["nrmse"])
    return dict(best["kwargs"]), rows
