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
from seqlab.series import data, forecast
from seqlab.series.data import *  # noqa: F403
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
from seqlab.series.forecast import *  # noqa: F403

_LAZY = ("NeuralForecaster", "NeuralSequenceClassifier")

# Every name of `data` and `forecast`; the runners of `experiments` (its protocol and report
# classes stay there); the neural wrappers, loaded on first use.
__all__ = [
    *data.__all__,
    *forecast.__all__,
    "evaluate_classifier",
    "load_sequence_dataset",
    "load_series",
    "register_sequence_classifier",
    "run_classify",
    "run_evaluate",
    "run_fit",
    "run_forecast",
    "sequence_classifiers",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    # The neural wrappers need torch; import them on first use so that the ESN and the
    # baselines stay torch-free.
    if name in _LAZY:
        from seqlab.series import neural

        return getattr(neural, name)
    raise AttributeError(f"module 'seqlab.series' has no attribute {name!r}")


__dir__ = public_dir(__all__)
