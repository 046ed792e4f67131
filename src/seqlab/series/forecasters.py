"""Forecasters: the small fit / predict protocol through which
:func:`seqlab.series.forecast.evaluate_forecast` scores any model, the persistence and
linear-AR baselines, the ESN behind the protocol, and the registry of names
(``model="esn"``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import numpy as np

from seqlab.series.preprocess import _as_series

__all__ = [
    "NEURAL_MODELS",
    "ESNForecaster",
    "Forecaster",
    "LinearAR",
    "Persistence",
    "forecasters",
    "make_forecaster",
    "register_forecaster",
]

#: Neural networks registered both as forecasters and as sequence classifiers
#: (:mod:`seqlab.series.neural`; torch is imported only when one is built).
NEURAL_MODELS = ("lstm", "gru", "rnn", "tdnn", "cnn")


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
