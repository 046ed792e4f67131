"""Numeric time series: generators, loaders, forecasting setup, baselines and evaluation.

>>> import seqlab.series as ss
>>> x = ss.mackey_glass(1000)
>>> esn = {"units": 50, "spectral_radius": 1.25, "leak_rate": 0.3, "warmup": 100}
>>> rep = ss.evaluate_forecast(x, "esn", esn)
>>> sorted(rep.metrics)
['esn', 'linear-ar', 'persistence']

Neural networks plug into the same protocols by name (``"lstm"``, ``"gru"``, ``"rnn"``,
``"tdnn"``, ``"cnn"``; see :mod:`seqlab.series.neural`, which imports torch on first use):
``evaluate_forecast(x, "lstm", {"lags": 32, "epochs": 20})``.
"""

from __future__ import annotations

from typing import Any

from seqlab._utils import public_dir
from seqlab.series.data import (
    SequenceDataset,
    TimeSeries,
    Tracks,
    find_data_file,
    japanese_vowels,
    load_tracks,
    mackey_glass,
    read_ts,
    santafe_laser,
    sine_mixture,
    stratified_split,
    sunspots,
)
from seqlab.series.experiments import (
    evaluate_classifier,
    load_sequence_dataset,
    load_series,
    register_sequence_classifier,
    run_classify,
    run_evaluate,
    run_fit,
    run_forecast,
    sequence_classifiers,
)
from seqlab.series.forecast import (
    NEURAL_MODELS,
    ESNForecaster,
    Forecaster,
    ForecastReport,
    LinearAR,
    Persistence,
    StandardScaler,
    TimeSplit,
    evaluate_forecast,
    forecast_metrics,
    forecasters,
    make_forecaster,
    make_lags,
    nrmse,
    r2_score,
    register_forecaster,
    rmse,
    split_by_time,
    tune_forecaster,
)

__all__ = [
    "NEURAL_MODELS",
    "ESNForecaster",
    "ForecastReport",
    "Forecaster",
    "LinearAR",
    "NeuralForecaster",
    "NeuralSequenceClassifier",
    "Persistence",
    "SequenceDataset",
    "StandardScaler",
    "TimeSeries",
    "TimeSplit",
    "Tracks",
    "evaluate_classifier",
    "evaluate_forecast",
    "find_data_file",
    "forecast_metrics",
    "forecasters",
    "japanese_vowels",
    "load_sequence_dataset",
    "load_series",
    "load_tracks",
    "mackey_glass",
    "make_forecaster",
    "make_lags",
    "nrmse",
    "r2_score",
    "read_ts",
    "register_forecaster",
    "register_sequence_classifier",
    "rmse",
    "run_classify",
    "run_evaluate",
    "run_fit",
    "run_forecast",
    "santafe_laser",
    "sequence_classifiers",
    "sine_mixture",
    "split_by_time",
    "stratified_split",
    "sunspots",
    "tune_forecaster",
]

_LAZY = {"NeuralForecaster", "NeuralSequenceClassifier"}


def __getattr__(name: str) -> Any:
    # The neural wrappers need torch; import them on first use so that the ESN and the
    # baselines stay torch-free.
    if name in _LAZY:
        from seqlab.series import neural

        return getattr(neural, name)
    raise AttributeError(f"module 'seqlab.series' has no attribute {name!r}")


__dir__ = public_dir(__all__)
