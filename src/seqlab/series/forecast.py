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

The parts, all re-exported here: lags, splits and scaling are :mod:`seqlab.series.preprocess`,
the metrics :mod:`seqlab.series.metrics`, the forecaster protocol, the baselines and the
registry :mod:`seqlab.series.forecasters`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from seqlab.series.forecasters import _FORECASTERS as _FORECASTERS  # re-exported
from seqlab.series.forecasters import (
    NEURAL_MODELS,
    ESNForecaster,
    Forecaster,
    LinearAR,
    Persistence,
    forecasters,
    make_forecaster,
    register_forecaster,
)
from seqlab.series.metrics import forecast_metrics, nrmse, r2_score, rmse
from seqlab.series.preprocess import (
    StandardScaler,
    TimeSplit,
    _as_series,
    make_lags,
    split_by_time,
)

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
