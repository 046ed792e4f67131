"""The neural forecaster of :mod:`seqlab.series.neural` (see there for the data layout)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from seqlab._utils import PathLike
from seqlab.series._neural_base import (
    NeuralBase,
    _check_float,
    _check_int,
    _Checkpoints,
    _seeded_training,
)

__all__ = ["NeuralForecaster"]


# --------------------------------------------------------------------------------------
# Forecasting
# --------------------------------------------------------------------------------------


def _as_2d(x: Any, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{name} must be (time,) or (time, features), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values; clean or impute them first")
    return arr


class NeuralForecaster(NeuralBase):
    """A neural network that forecasts from the last ``lags`` inputs (forecaster protocol).

    ``fit(inputs (T, D), targets (T, D_out))`` trains on the steps with a full window
    (t >= lags - 1): the network reads ``u[t - lags + 1 .. t]`` as a sequence
    ``(lags, D)`` and regresses ``targets[t]`` with the mean squared error. Inputs and targets
    are standardised with the statistics of the data given to ``fit``. The last
    ``val_split`` of those windows (in time order, never shuffled) is held out: training
    stops when its loss has not improved for ``patience`` epochs and the best epoch's
    weights are kept. ``predict(inputs)`` gives one causal prediction per step; the first
    ``lags - 1`` windows are padded with ``inputs[0]``.

    ``model`` is ``"lstm"``, ``"gru"``, ``"rnn"``, ``"tdnn"`` or ``"cnn"``; ``hidden_size``
    is the recurrent width (the channels of every TDNN layer, the CNN's filters); any other
    argument of the network (``num_layers``, ``dropout``, ``dilations`` ...) goes through
    ``**model_kwargs``. ``residual=True`` learns ``targets[t] - inputs[t]`` (the change since
    the last value) instead of the target itself. ``ar_lags=k > 0`` makes a hybrid
    (Zhang, 2003): a linear autoregression on the last ``k`` steps of the window is fitted
    first, in closed form (ridge ``ar_ridge``) on all the full windows given to ``fit``, and
    the network, whose output layer starts at zero, learns what it leaves over; epoch 0 is
    then the linear model alone, so early stopping keeps it unless the network improves on
    the held-out windows. ``pool=k > 1`` averages the window over blocks of ``k`` steps
    before the network reads it (``lags / k`` steps of ``k``-step means, the newest block
    ending at ``t``; ``lags`` must be a multiple of ``k``): a recurrent network then sees a
    long, noisy history as a short, smoother sequence; the linear part of a hybrid still
    reads the raw steps. ``ensemble=n > 1`` trains ``n`` networks with seeds ``seed`` ..
    ``seed + n - 1`` and predicts their mean (``networks_``; ``network_``, ``history_`` and
    ``best_epoch_`` describe the first). ``val_split=0`` holds nothing out and trains for
    exactly ``epochs`` epochs (choose ``epochs`` on a validation split then). See the module
    docstring for the training loop.

    ``save(path)`` writes a run folder (``config.json`` with the arguments and the
    standardisation statistics, ``model.safetensors``, ``history.json``, ``metrics.json``,
    ``curves.png``) and ``seqlab.load(path)`` gives the fitted forecaster back;
    ``fit(..., out=path)`` trains inside the run folder with checkpoints and ``resume=True``.

    >>> u = np.sin(np.arange(400) / 4.0)[:, None]
    >>> fc = NeuralForecaster("lstm", hidden_size=8, lags=10, epochs=3, seed=0)
    >>> fc.fit(u[:-1], u[1:]).predict(u[:-1]).shape
    (399, 1)
    """

    task = "series-forecast"

    def __init__(
        self,
        model: str = "lstm",
        hidden_size: int = 32,
        lags: int = 32,
        epochs: int = 100,
        lr: float = 3e-3,
        batch_size: int = 64,
        seed: int = 0,
        device: str = "auto",
        patience: int = 10,
        val_split: float = 0.1,
        lr_decay: float = 0.5,
        weight_decay: float = 0.0,
        clip_grad_norm: float | None = 1.0,
        residual: bool = False,
        ar_lags: int = 0,
        ar_ridge: float = 1e-6,
        pool: int = 1,
        ensemble: int = 1,
        **model_kwargs: Any,
    ) -> None:
        super().__init__(locals())
        self.lags = _check_int("lags", lags, 1)
        if not isinstance(residual, bool):
            raise TypeError(f"residual must be True or False, got {residual!r}")
        self.residual = residual
        self.ar_lags = _check_int("ar_lags", ar_lags, 0)
        if self.ar_lags > self.lags:
            raise ValueError(
                f"ar_lags={ar_lags} exceeds lags={lags}: the linear part reads the last ar_lags "
                "steps of the window; use ar_lags <= lags"
            )
        self.ar_ridge = _check_float("ar_ridge", ar_ridge, 0.0, math.inf, low_open=False)
        self.pool = _check_int("pool", pool, 1)
        if self.lags % self.pool:
            raise ValueError(
                f"lags={lags} is not a multiple of pool={pool}: the window is averaged over "
                f"blocks of pool steps; use lags={self.lags - self.lags % self.pool or self.pool}"
                " or a pool that divides lags"
            )
        self.ensemble = _check_int("ensemble", ensemble, 1)
        self.config = {
            **self.config,
            "lags": self.lags,
            "residual": residual,
            "ar_lags": self.ar_lags,
            "ar_ridge": self.ar_ridge,
            "pool": self.pool,
            "ensemble": self.ensemble,
        }
        self.networks_: list[nn.Module] = []
        self.input_mean_: np.ndarray | None = None
        self.input_scale_: np.ndarray | None = None
        self.target_mean_: np.ndarray | None = None
        self.target_scale_: np.ndarray | None = None

    def _windows(self, z: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:
        """``(len(steps), lags, D)`` windows of ``z`` padded in front with ``lags - 1`` rows."""
        offsets = torch.arange(self.lags, device=z.device)
        return z[steps.unsqueeze(1) + offsets.unsqueeze(0)]  # oldest step first

    def _forward(self, net: nn.Module, z: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:
        lengths = torch.full((len(steps),), self.lags, dtype=torch.long, device=z.device)
        return net(values=self._windows(z, steps), lengths=lengths)  # (B, D_out)

    def _network(self, seed: int, sizes: tuple[int, int]) -> nn.Module:
        """A new network for ``sizes = (input features, outputs)``, pooled when ``pool > 1``
        and with a (still zero) linear part when ``ar_lags > 0``."""
        net = self._build(*sizes, seed=seed)
        if self.pool > 1:
            net = _Pooled(net, self.pool)
        if self.ar_lags:
            net = _Hybrid(net, self.ar_lags, np.zeros((sizes[1], 1 + self.ar_lags * sizes[0])))
        return net.to(self._device)

    def _fit_linear(
        self, net: nn.Module, z: torch.Tensor, t: torch.Tensor, steps: torch.Tensor
    ) -> None:
        """Fit the linear part of the hybrid ``net`` on ``steps`` (every full window, as the
        linear-AR baseline does) and zero the network's output layer. The held-out windows
        are among them, which can only make early stopping keep the linear model more
        readily, never less."""
        from seqlab.models.esn import ridge_solve

        recent = self._windows(z, steps)[:, -self.ar_lags :].flatten(1).double().cpu().numpy()
        phi = np.concatenate([np.ones((len(recent), 1)), recent], axis=1)
        coef = ridge_solve(phi, t[steps].double().cpu().numpy(), self.ar_ridge)
        coef = torch.as_tensor(coef, dtype=torch.float32, device=z.device)
        net.ar_bias.copy_(coef[:, 0])
        net.ar_weight.copy_(coef[:, 1:].T)
        inner = net.network.network if isinstance(net.network, _Pooled) else net.network
        head = getattr(inner, "head", None)
        if isinstance(head, nn.Linear):
            # the network starts by adding nothing: epoch 0 is the linear model alone
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)

    def _padded(self, u: np.ndarray) -> torch.Tensor:
        z = (u - self.input_mean_) / self.input_scale_
        z = np.concatenate([np.repeat(z[:1], self.lags - 1, axis=0), z], axis=0)
        return torch.as_tensor(z, dtype=torch.float32)

    def _base(self, u: np.ndarray) -> np.ndarray:
        """What ``residual=True`` adds back: the last input, in standardised target units."""
        return (u[:, : self.target_mean_.shape[0]] - self.target_mean_) / self.target_scale_

    def fit(
        self,
        inputs: Any,
        targets: Any,
        *,
        out: PathLike | None = None,
        overwrite: bool = False,
        resume: bool = False,
    ) -> NeuralForecaster:
        """Train on ``(inputs[t], targets[t])`` pairs; see the class docstring. With ``out``,
        train inside that run folder (checkpoints in its ``checkpoint/`` after every epoch;
        ``resume=True`` continues from them exactly, ``overwrite=True`` replaces a run there)
        and write it at the end, as :meth:`save` does."""
        u, y = _as_2d(inputs, "inputs"), _as_2d(targets, "targets")
        if u.shape[0] != y.shape[0]:
            raise ValueError(
                f"inputs has {u.shape[0]} steps but targets has {y.shape[0]}; give one target "
                "per input step"
            )
        if self.residual and y.shape[1] > u.shape[1]:
            raise ValueError(
                f"residual=True predicts targets - inputs, but targets has {y.shape[1]} features "
                f"and inputs only {u.shape[1]}; use residual=False"
            )
        n_full = u.shape[0] - self.lags + 1
        n_val = round(n_full * self.val_split) if self.val_split > 0 else 0
        if self.val_split > 0:
            n_val = max(n_val, 1)
        if n_full - n_val < 1:
            raise ValueError(
                f"{u.shape[0]} steps are too few for lags={self.lags} and val_split="
                f"{self.val_split}; use fewer lags or a longer series"
            )
        return self._fit_into(
            out, overwrite, resume, (u, y), lambda ck: self._fit_arrays(u, y, n_full - n_val, ck)
        )

    def _fit_arrays(
        self, u: np.ndarray, y: np.ndarray, n_train: int, checkpoints: _Checkpoints | None
    ) -> None:
        self.input_mean_, self.input_scale_ = _stats(u)
        self.target_mean_, self.target_scale_ = _stats(y)
        dev = self._device
        z = self._padded(u).to(dev)
        target = (y - self.target_mean_) / self.target_scale_
        if self.residual:
            target = target - self._base(u)
        t = torch.as_tensor(target, dtype=torch.float32, device=dev)
        # window of step s starts at row s of the padded series; full windows: s >= lags - 1
        steps = torch.arange(self.lags - 1, u.shape[0], device=dev)
        self.input_dim_, self.output_dim_ = u.shape[1], y.shape[1]
        fitted = []
        for i in range(self.ensemble):
            ck = None if checkpoints is None else (checkpoints, i, self.ensemble)
            fitted.append(self._fit_one(self.seed + i, z, t, steps, n_train, ck))
        self.networks_ = [net for net, _, _, _ in fitted]
        self.network_, self.history_, self.best_epoch_, self.metrics_ = fitted[0]
        if self.ensemble > 1:
            self.metrics_ = {**self.metrics_, "ensemble": [m for _, _, _, m in fitted]}

    def _fit_one(
        self,
        seed: int,
        z: torch.Tensor,
        t: torch.Tensor,
        steps: torch.Tensor,
        n_train: int,
        checkpoints: tuple[_Checkpoints, int, int] | None,
    ) -> tuple[nn.Module, list[dict[str, Any]], int, dict[str, Any]]:
        """Build and train one network with ``seed`` on the first ``n_train`` full windows
        (the rest validate): (network, history, best epoch, the loop's summary)."""
        dev = self._device
        train_steps, val_steps = steps[:n_train], steps[n_train:]
        with _seeded_training(seed, dev):
            net = self._network(seed, (self.input_dim_, self.output_dim_))
            if self.ar_lags:
                self._fit_linear(net, z, t, steps)

            def batch_loss(idx: torch.Tensor) -> torch.Tensor:
                s = train_steps[idx.to(dev)]
                return nn.functional.mse_loss(self._forward(net, z, s), t[s])

            def val_loss() -> float:
                total = 0.0
                for chunk in val_steps.split(self.batch_size * 8):
                    total += float(((self._forward(net, z, chunk) - t[chunk]) ** 2).sum())
                return total / (len(val_steps) * t.shape[1])

            trained = self._train(
                net, n_train, batch_loss, val_loss if len(val_steps) else None, seed, checkpoints
            )
        return (net, *trained)

    def predict(self, inputs: Any) -> np.ndarray:
        """Causal one-step predictions ``(T, D_out)``, one per input step, in target units."""
        self._check_fitted()
        u = _as_2d(inputs, "inputs")
        if u.shape[1] != self.input_dim_:
            raise ValueError(
                f"inputs has {u.shape[1]} features but the model was fitted on {self.input_dim_}"
            )
        dev = self._device
        z = self._padded(u).to(dev)
        outs = []
        with torch.no_grad():
            for chunk in torch.arange(u.shape[0], device=dev).split(max(self.batch_size, 1024)):
                mean = sum(self._forward(m, z, chunk) for m in self.networks_) / len(self.networks_)
                outs.append(mean.cpu())
        pred = torch.cat(outs).double().numpy() if outs else np.zeros((0, self.output_dim_))
        if self.residual:
            pred = pred + self._base(u)
        return pred * self.target_scale_ + self.target_mean_

    # ---- the run folder (see seqlab.series._neural_io) -----------------------------------

    def _networks(self) -> list[nn.Module]:
        self._check_fitted()
        return list(self.networks_)

    def _fitted_state(self) -> dict[str, Any]:
        return {
            "input_dim": self.input_dim_,
            "output_dim": self.output_dim_,
            "input_mean": self.input_mean_.tolist(),
            "input_scale": self.input_scale_.tolist(),
            "target_mean": self.target_mean_.tolist(),
            "target_scale": self.target_scale_.tolist(),
        }

    def _restore(self, fitted: dict[str, Any]) -> list[nn.Module]:
        self.input_dim_, self.output_dim_ = int(fitted["input_dim"]), int(fitted["output_dim"])
        for name in ("input_mean", "input_scale", "target_mean", "target_scale"):
            setattr(self, f"{name}_", np.asarray(fitted[name], dtype=np.float64))
        sizes = (self.input_dim_, self.output_dim_)
        self.networks_ = [self._network(self.seed + i, sizes) for i in range(self.ensemble)]
        return self.networks_


class _Pooled(nn.Module):
    """``network`` on the window averaged over blocks of ``pool`` steps (newest block last)."""

    def __init__(self, network: nn.Module, pool: int) -> None:
        super().__init__()
        self.network, self.pool = network, pool

    def forward(self, values: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        b, steps, d = values.shape
        pooled = values.reshape(b, steps // self.pool, self.pool, d).mean(dim=2)
        return self.network(
            values=pooled, lengths=torch.div(lengths, self.pool, rounding_mode="floor")
        )


class _Hybrid(nn.Module):
    """``network(window) + A @ (last ar_lags steps of the window) + c`` with ``A``, ``c`` fixed.

    The linear part is a ridge autoregression fitted in closed form before training, so the
    network learns what the linear model leaves over (the hybrid of Zhang, 2003,
    *Neurocomputing* 50: 159-175).
    """

    def __init__(self, network: nn.Module, ar_lags: int, coef: np.ndarray) -> None:
        super().__init__()
        self.network, self.ar_lags = network, ar_lags
        coef = torch.as_tensor(coef, dtype=torch.float32)  # (outputs, 1 + ar_lags * D)
        self.register_buffer("ar_bias", coef[:, 0].clone())
        self.register_buffer("ar_weight", coef[:, 1:].T.contiguous())

    def forward(self, values: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        recent = values[:, -self.ar_lags :].flatten(1)  # (B, ar_lags * D)
        linear = recent @ self.ar_weight + self.ar_bias  # (B, outputs)
        return self.network(values=values, lengths=lengths) + linear


def _stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    std = x.std(axis=0)
    return x.mean(axis=0), np.where(std > 0, std, 1.0)  # a constant feature is only centred
