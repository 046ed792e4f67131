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
from seqlab.series import data, experiments, forecast
from seqlab.series.data import *  # noqa: F403
from seqlab.series.experiments import *  # noqa: F403
from seqlab.series.forecast import *  # noqa: F403

_LAZY = ("NeuralForecaster", "NeuralSequenceClassifier")

# Every name of `data`, `forecast` and `experiments` but the experiments' protocol and
# report classes (they stay there); the neural wrappers, loaded on first use.
__all__ = sorted(
    {*data.__all__, *forecast.__all__, *experiments.__all__, *_LAZY}
    - {"ClassificationReport", "SequenceClassifier"}
)


def __getattr__(name: str) -> Any:
    # The neural wrappers need torch; import them on first use so that the ESN and the
    # baselines stay torch-free.
    if name in _LAZY:
        from seqlab.series import neural

        return getattr(neural, name)
    raise AttributeError(f"module 'seqlab.series' has no attribute {name!r}")


__dir__ = public_dir(__all__)
