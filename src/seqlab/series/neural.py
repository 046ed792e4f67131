"""Neural networks (LSTM, GRU, TDNN, CNN) on numeric series, behind the series protocols.

* :class:`NeuralForecaster` follows the forecaster protocol of :mod:`seqlab.series.forecast`
  (``fit(inputs, targets)``, causal ``predict(inputs)``) and regresses the next value from a
  window of the last ``lags`` inputs::

      inputs u (T, D) --window--> (N, lags, D), oldest step first --network--> (N, D_out)
      window t = u[t - lags + 1 .. t]; before t = lags - 1 it is padded with u[0]

* :class:`NeuralSequenceClassifier` follows the sequence-classifier protocol of
  :mod:`seqlab.series.experiments` (``fit(sequences, labels)``, ``predict(sequences)``) for
  variable-length multivariate sequences such as Japanese Vowels.

Both train with Adam (mini-batches shuffled by a generator seeded with ``seed``, gradient
norm clipped at ``grad_clip``) and stop early on a validation part carved out of the data
given to ``fit`` — for forecasting the *last* ``val_fraction`` of the windows in time order,
for classification a stratified ``val_fraction`` of the sequences — keeping the weights of
the best validation epoch (epoch 0 = untrained). After every ``max(1, patience // 4)``
epochs without progress, training returns to the best weights and multiplies the learning
rate by ``lr_decay``; after ``patience`` such epochs it stops. Under :func:`~seqlab.series.forecast.evaluate_forecast` the data given
to ``fit`` is the train part (for validation scores) or train + validation (for test scores,
``refit=True``), so the test steps are never seen by training or by early stopping.

The networks are the text classifiers of :mod:`seqlab.models` built with ``input_size=F``
(numeric input, no embedding) and ``num_classes`` = number of outputs. Same ``seed``, same
weights, same batch order, same predictions (on one device).
"""

from __future__ import annotations

import contextlib
import inspect
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from seqlab._utils import resolve_device, torch_generator
from seqlab.models.registry import get as get_model
from seqlab.series._common import NEURAL_MODELS, stratified_split

__all__ = ["NEURAL_MODELS", "NeuralForecaster", "NeuralSequenceClassifier"]

_RECURRENT = ("lstm", "gru", "rnn")
# Arguments the wrapper sets itself; passing them through **model_kwargs would be ambiguous.
_RESERVED = ("input_size", "num_classes", "seed", "vocab_size", "embedding_dim", "pretrained")


# --------------------------------------------------------------------------------------
# Shared checks and helpers
# --------------------------------------------------------------------------------------


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_float(name: str, value: Any, low: float, high: float, *, low_open: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating):
        raise TypeError(f"{name} must be a number, got {value!r}")
    value = float(value)
    ok = (value > low if low_open else value >= low) and value < high
    if not ok or math.isnan(value):
        bracket = "(" if low_open else "["
        raise ValueError(f"{name} must be in {bracket}{low}, {high}), got {value!r}")
    return value


def _network_kwargs(model: str, hidden_size: int, model_kwargs: dict[str, Any]) -> dict[str, Any]:
    """Constructor arguments of the network ``model``: ``hidden_size`` mapped onto its width
    option, plus ``model_kwargs`` (checked against the constructor's signature)."""
    if model not in NEURAL_MODELS:
        raise ValueError(f"model must be one of {', '.join(NEURAL_MODELS)}; got {model!r}")
    cls = get_model(model)
    accepted = set(inspect.signature(cls).parameters) - set(_RESERVED)
    clash = sorted(set(model_kwargs) & set(_RESERVED))
    if clash:
        raise ValueError(
            f"{clash} are set from the data and the seed argument; remove them from the "
            "model arguments"
        )
    unknown = sorted(set(model_kwargs) - accepted)
    if unknown:
        raise ValueError(
            f"unknown argument(s) {unknown} for model {model!r}; it accepts "
            f"{sorted(accepted)} (plus the training arguments of the wrapper)"
        )
    kwargs = dict(model_kwargs)
    if model in _RECURRENT:
        kwargs.setdefault("hidden_size", hidden_size)
    elif model == "tdnn":
        # one width for every layer; the number of layers follows kernel_sizes / dilations
        layers = len(kwargs.get("kernel_sizes", kwargs.get("dilations", (3, 3, 3))))
        kwargs.setdefault("channels", [hidden_size] * layers)
    else:
        kwargs.setdefault("num_filters", hidden_size)
    return kwargs


@contextlib.contextmanager
def _seeded_training(seed: int, device: torch.device) -> Iterator[None]:
    """Seed torch for dropout without disturbing the caller's global random state."""
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def _state_copy(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _train(
    model: nn.Module,
    n_train: int,
    batch_loss: Callable[[torch.Tensor], torch.Tensor],
    val_loss: Callable[[], float] | None,
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    patience: int,
    lr_decay: float,
    weight_decay: float,
    grad_clip: float | None,
    seed: int,
) -> tuple[list[dict[str, float]], int]:
    """Adam over shuffled mini-batches (indices from a seeded generator), early stopping on
    ``val_loss``; the best epoch's weights are loaded back. Returns (history, best epoch).

    The untrained model counts as epoch 0 (its validation loss is the first history row), so
    training that never improves the held-out loss gives back the starting weights.

    Every ``max(1, patience // 4)`` epochs without a better validation loss, training goes
    back to the best weights so far and the learning rate is multiplied by ``lr_decay``
    (1.0: never), so a noisy target gets smaller, more careful steps before training stops.
    """
    decay_every = max(1, patience // 4)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    gen = torch_generator(seed)
    history: list[dict[str, float]] = []
    best_loss, best_epoch, best_state = math.inf, 0, _state_copy(model)
    if val_loss is not None:
        model.eval()
        with torch.no_grad():
            best_loss = val_loss()
        history.append({"epoch": 0, "val_loss": best_loss})
    for epoch in range(1, epochs + 1):
        model.train()
        order = torch.randperm(n_train, generator=gen)
        total = 0.0
        for start in range(0, n_train, batch_size):
            idx = order[start : start + batch_size]
            loss = batch_loss(idx)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if grad_clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            optimizer.step()
            total += float(loss.detach()) * len(idx)
        row = {"epoch": epoch, "lr": optimizer.param_groups[0]["lr"], "train_loss": total / n_train}
        if val_loss is None:
            best_epoch, best_state = epoch, None  # no validation: keep the last weights
        else:
            model.eval()
            with torch.no_grad():
                row["val_loss"] = val_loss()
            if row["val_loss"] < best_loss:
                best_loss, best_epoch, best_state = row["val_loss"], epoch, _state_copy(model)
        history.append(row)
        if not math.isfinite(row["train_loss"]):
            raise ValueError(
                f"the training loss became {row['train_loss']} at epoch {epoch}; "
                f"use a smaller lr (got {lr}) or standardise the data"
            )
        if val_loss is None:
            continue
        since_best = epoch - best_epoch
        if since_best >= patience:
            break
        if lr_decay < 1.0 and since_best > 0 and since_best % decay_every == 0:
            model.load_state_dict(best_state)
            for group in optimizer.param_groups:
                group["lr"] *= lr_decay
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return history, best_epoch


class _NeuralBase:
    """Argument checks and the network builder shared by the two wrappers."""

    def __init__(
        self,
        model: str,
        hidden_size: int,
        epochs: int,
        lr: float,
        batch_size: int,
        seed: int,
        device: str,
        patience: int,
        val_fraction: float,
        lr_decay: float,
        weight_decay: float,
        grad_clip: float | None,
        model_kwargs: dict[str, Any],
    ) -> None:
        if not isinstance(model, str) or model not in NEURAL_MODELS:
            raise ValueError(f"model must be one of {', '.join(NEURAL_MODELS)}; got {model!r}")
        self.model = model
        self.hidden_size = _check_int("hidden_size", hidden_size, 1)
        self.epochs = _check_int("epochs", epochs, 1)
        self.lr = _check_float("lr", lr, 0.0, math.inf, low_open=True)
        self.batch_size = _check_int("batch_size", batch_size, 1)
        self.seed = _check_int("seed", seed, 0)
        self.patience = _check_int("patience", patience, 1)
        self.val_fraction = _check_float("val_fraction", val_fraction, 0.0, 1.0, low_open=False)
        if isinstance(lr_decay, bool) or not isinstance(lr_decay, int | float):
            raise TypeError(f"lr_decay must be a number in (0, 1], got {lr_decay!r}")
        if not 0.0 < lr_decay <= 1.0:
            raise ValueError(f"lr_decay must be in (0, 1] (1 = constant lr), got {lr_decay!r}")
        self.lr_decay = float(lr_decay)
        self.weight_decay = _check_float(
            "weight_decay", weight_decay, 0.0, math.inf, low_open=False
        )
        if grad_clip is not None:
            grad_clip = _check_float("grad_clip", grad_clip, 0.0, math.inf, low_open=True)
        self.grad_clip = grad_clip
        self.device = str(device)
        self._device = resolve_device(device)
        self.model_kwargs = _network_kwargs(model, self.hidden_size, model_kwargs)
        self.config: dict[str, Any] = {
            "model": model,
            "hidden_size": self.hidden_size,
            "epochs": self.epochs,
            "lr": self.lr,
            "batch_size": self.batch_size,
            "seed": self.seed,
            "device": self.device,
            "patience": self.patience,
            "val_fraction": self.val_fraction,
            "lr_decay": self.lr_decay,
            "weight_decay": self.weight_decay,
            "grad_clip": self.grad_clip,
            **dict(model_kwargs),
        }
        self.network_: nn.Module | None = None
        self.history_: list[dict[str, float]] = []
        self.best_epoch_: int | None = None

    def _build(self, input_size: int, outputs: int, seed: int | None = None) -> nn.Module:
        cls = get_model(self.model)
        seed = self.seed if seed is None else seed
        net = cls(input_size=input_size, num_classes=outputs, seed=seed, **self.model_kwargs)
        return net.to(self._device)

    def _check_fitted(self) -> nn.Module:
        if self.network_ is None:
            raise ValueError(
                f"this {type(self).__name__} is not fitted yet; call fit(...) before predicting"
            )
        return self.network_

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config.items())
        return f"{type(self).__name__}({args})"


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


class NeuralForecaster(_NeuralBase):
    """A neural network that forecasts from the last ``lags`` inputs (forecaster protocol).

    ``fit(inputs (T, D), targets (T, D_out))`` trains on the steps with a full window
    (t >= lags - 1): the network reads ``u[t - lags + 1 .. t]`` as a sequence
    ``(lags, D)`` and regresses ``targets[t]`` with the mean squared error. Inputs and targets
    are standardised with the statistics of the data given to ``fit``. The last
    ``val_fraction`` of those windows (in time order, never shuffled) is held out: training
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
    ``best_epoch_`` describe the first). ``val_fraction=0`` holds nothing out and trains for
    exactly ``epochs`` epochs (choose ``epochs`` on a validation split then). See the module
    docstring for the training loop.

    >>> u = np.sin(np.arange(400) / 4.0)[:, None]
    >>> fc = NeuralForecaster("lstm", hidden_size=8, lags=10, epochs=3, seed=0)
    >>> fc.fit(u[:-1], u[1:]).predict(u[:-1]).shape
    (399, 1)
    """

    def __init__(
        self,
        model: str = "lstm",
        hidden_size: int = 32,
        lags: int = 32,
        epochs: int = 100,
        lr: float = 3e-3,
        batch_size: int = 64,
        seed: int = 0,
        device: str = "cpu",
        patience: int = 10,
        val_fraction: float = 0.1,
        lr_decay: float = 0.5,
        weight_decay: float = 0.0,
        grad_clip: float | None = 1.0,
        residual: bool = False,
        ar_lags: int = 0,
        ar_ridge: float = 1e-6,
        pool: int = 1,
        ensemble: int = 1,
        **model_kwargs: Any,
    ) -> None:
        super().__init__(
            model,
            hidden_size,
            epochs,
            lr,
            batch_size,
            seed,
            device,
            patience,
            val_fraction,
            lr_decay,
            weight_decay,
            grad_clip,
            model_kwargs,
        )
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

    def _hybrid(
        self, net: nn.Module, z: torch.Tensor, t: torch.Tensor, steps: torch.Tensor
    ) -> _Hybrid:
        """Fit the linear part on ``steps`` (every full window, as the linear-AR baseline does)
        and wrap ``net``. The held-out windows are among them, which can only make early
        stopping keep the linear model more readily, never less."""
        from seqlab.models.esn import ridge_solve

        recent = self._windows(z, steps)[:, -self.ar_lags :].flatten(1).double().cpu().numpy()
        phi = np.concatenate([np.ones((len(recent), 1)), recent], axis=1)
        coef = ridge_solve(phi, t[steps].double().cpu().numpy(), self.ar_ridge)
        head = getattr(net.network if isinstance(net, _Pooled) else net, "head", None)
        if isinstance(head, nn.Linear):
            # the network starts by adding nothing: epoch 0 is the linear model alone
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)
        return _Hybrid(net, self.ar_lags, coef).to(z.device)

    def _padded(self, u: np.ndarray) -> torch.Tensor:
        z = (u - self.input_mean_) / self.input_scale_
        z = np.concatenate([np.repeat(z[:1], self.lags - 1, axis=0), z], axis=0)
        return torch.as_tensor(z, dtype=torch.float32)

    def _base(self, u: np.ndarray) -> np.ndarray:
        """What ``residual=True`` adds back: the last input, in standardised target units."""
        return (u[:, : self.target_mean_.shape[0]] - self.target_mean_) / self.target_scale_

    def fit(self, inputs: Any, targets: Any) -> NeuralForecaster:
        """Train on ``(inputs[t], targets[t])`` pairs; see the class docstring."""
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
        n_val = round(n_full * self.val_fraction) if self.val_fraction > 0 else 0
        if self.val_fraction > 0:
            n_val = max(n_val, 1)
        if n_full - n_val < 1:
            raise ValueError(
                f"{u.shape[0]} steps are too few for lags={self.lags} and val_fraction="
                f"{self.val_fraction}; use fewer lags or a longer series"
            )
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
        train_steps, val_steps = steps[: n_full - n_val], steps[n_full - n_val :]
        fitted = [
            self._fit_one(seed, z, t, steps, train_steps, val_steps, (u.shape[1], y.shape[1]))
            for seed in range(self.seed, self.seed + self.ensemble)
        ]
        self.networks_ = [net for net, _, _ in fitted]
        self.network_, self.history_, self.best_epoch_ = fitted[0]
        self.input_dim_, self.output_dim_ = u.shape[1], y.shape[1]
        return self

    def _fit_one(
        self,
        seed: int,
        z: torch.Tensor,
        t: torch.Tensor,
        steps: torch.Tensor,
        train_steps: torch.Tensor,
        val_steps: torch.Tensor,
        sizes: tuple[int, int],
    ) -> tuple[nn.Module, list[dict[str, float]], int]:
        """Build and train one network with ``seed``: (network, history, best epoch)."""
        dev = self._device
        with _seeded_training(seed, dev):
            net = self._build(*sizes, seed=seed)
            if self.pool > 1:
                net = _Pooled(net, self.pool)
            if self.ar_lags:
                net = self._hybrid(net, z, t, steps)

            def batch_loss(idx: torch.Tensor) -> torch.Tensor:
                s = train_steps[idx.to(dev)]
                return nn.functional.mse_loss(self._forward(net, z, s), t[s])

            def val_loss() -> float:
                total = 0.0
                for chunk in val_steps.split(self.batch_size * 8):
                    total += float(((self._forward(net, z, chunk) - t[chunk]) ** 2).sum())
                return total / (len(val_steps) * t.shape[1])

            history, best_epoch = _train(
                net,
                len(train_steps),
                batch_loss,
                val_loss if len(val_steps) else None,
                epochs=self.epochs,
                lr=self.lr,
                batch_size=self.batch_size,
                patience=self.patience,
                lr_decay=self.lr_decay,
                weight_decay=self.weight_decay,
                grad_clip=self.grad_clip,
                seed=seed,
            )
        return net, history, best_epoch

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


# --------------------------------------------------------------------------------------
# Sequence classification
# --------------------------------------------------------------------------------------


def _as_sequences(sequences: Any, name: str = "sequences") -> list[np.ndarray]:
    if isinstance(sequences, np.ndarray) and sequences.ndim == 3:
        sequences = list(sequences)
    if isinstance(sequences, str | bytes) or not isinstance(sequences, Sequence | np.ndarray):
        raise TypeError(
            f"{name} must be a list of (time, features) arrays, got {type(sequences).__name__}"
        )
    out = []
    for i, s in enumerate(sequences):
        a = np.asarray(s, dtype=np.float64)
        if a.ndim == 1:
            a = a[:, None]
        if a.ndim != 2 or a.shape[0] == 0:
            raise ValueError(
                f"{name}[{i}] must be a non-empty (time, features) array, got shape {a.shape}"
            )
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name}[{i}] contains NaN or infinite values")
        if out and a.shape[1] != out[0].shape[1]:
            raise ValueError(
                f"{name}[{i}] has {a.shape[1]} features but {name}[0] has {out[0].shape[1]}; "
                "every sequence needs the same features"
            )
        out.append(a)
    if not out:
        raise ValueError(f"{name} is empty; give at least one sequence")
    return out


class NeuralSequenceClassifier(_NeuralBase):
    """A neural network on variable-length multivariate sequences (sequence-classifier protocol).

    ``fit(sequences, labels)``: each sequence is a ``(T_i, D)`` array; every channel is
    standardised with the mean / std of the training sequences (all their steps); a
    stratified ``val_fraction`` of the sequences is held out (``val_fraction=0``: none) and
    training (cross-entropy, Adam) stops when its loss has not improved for ``patience``
    epochs, keeping the best epoch's weights. Batches are zero-padded to their longest
    sequence and the networks ignore the padding (they get the true lengths).
    ``predict`` returns labels from ``classes_`` (the sorted distinct training labels),
    ``predict_proba`` / ``decision_function`` the softmax probabilities ``(N, classes)``.

    ``model``, ``hidden_size``, ``**model_kwargs`` and the training arguments as in
    :class:`NeuralForecaster` (see the module docstring for the training loop).

    >>> rng = np.random.default_rng(0)
    >>> seqs = [rng.normal(size=(int(rng.integers(5, 12)), 2)) + (i % 2) for i in range(60)]
    >>> clf = NeuralSequenceClassifier("lstm", hidden_size=8, epochs=20, seed=0)
    >>> clf.fit(seqs, [i % 2 for i in range(60)]).score(seqs, [i % 2 for i in range(60)]) > 0.9
    True
    """

    def __init__(
        self,
        model: str = "lstm",
        hidden_size: int = 64,
        epochs: int = 200,
        lr: float = 3e-3,
        batch_size: int = 32,
        seed: int = 0,
        device: str = "cpu",
        patience: int = 20,
        val_fraction: float = 0.2,
        lr_decay: float = 0.5,
        weight_decay: float = 0.0,
        grad_clip: float | None = 1.0,
        **model_kwargs: Any,
    ) -> None:
        super().__init__(
            model,
            hidden_size,
            epochs,
            lr,
            batch_size,
            seed,
            device,
            patience,
            val_fraction,
            lr_decay,
            weight_decay,
            grad_clip,
            model_kwargs,
        )
        self.classes_: list[Any] | None = None
        self.channel_mean_: np.ndarray | None = None
        self.channel_scale_: np.ndarray | None = None

    def _batch(self, seqs: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
        """Standardised, zero post-padded ``values (B, T_max, D)`` and ``lengths (B)``."""
        lengths = [len(s) for s in seqs]
        x = np.zeros((len(seqs), max(lengths), seqs[0].shape[1]), dtype=np.float32)
        for i, s in enumerate(seqs):
            x[i, : len(s)] = (s - self.channel_mean_) / self.channel_scale_
        dev = self._device
        return torch.from_numpy(x).to(dev), torch.tensor(lengths, dtype=torch.long, device=dev)

    def fit(self, sequences: Any, labels: Any) -> NeuralSequenceClassifier:
        """Train on labelled sequences; see the class docstring."""
        seqs = _as_sequences(sequences)
        labels = np.asarray(labels)
        if labels.ndim != 1 or len(labels) != len(seqs):
            raise ValueError(
                f"labels must give one label per sequence ({len(seqs)}), got shape {labels.shape}"
            )
        classes = sorted(set(labels.tolist()))
        if len(classes) < 2:
            raise ValueError(f"labels must hold at least 2 classes, got {classes}")
        y = np.searchsorted(np.array(classes), labels)
        if self.val_fraction > 0:
            tr, va = stratified_split(y, self.val_fraction, self.seed)
        else:
            tr, va = np.arange(len(seqs)), np.zeros(0, dtype=np.int64)
        self.channel_mean_, self.channel_scale_ = _stats(np.concatenate(seqs, axis=0))
        self.classes_ = classes
        dev = self._device
        y_t = torch.as_tensor(y, dtype=torch.long, device=dev)
        val_batches = [
            (*self._batch([seqs[i] for i in chunk]), y_t[torch.as_tensor(chunk, device=dev)])
            for chunk in np.array_split(va, max(1, math.ceil(len(va) / 256)))
            if len(chunk)
        ]
        with _seeded_training(self.seed, dev):
            net = self._build(seqs[0].shape[1], len(classes))

            def batch_loss(idx: torch.Tensor) -> torch.Tensor:
                rows = tr[idx.numpy()]
                x, lengths = self._batch([seqs[i] for i in rows])
                return nn.functional.cross_entropy(net(values=x, lengths=lengths), y_t[rows])

            def val_loss() -> float:
                total = sum(
                    float(nn.functional.cross_entropy(net(values=x, lengths=n), t, reduction="sum"))
                    for x, n, t in val_batches
                )
                return total / len(va)

            self.history_, self.best_epoch_ = _train(
                net,
                len(tr),
                batch_loss,
                val_loss if len(va) else None,
                epochs=self.epochs,
                lr=self.lr,
                batch_size=self.batch_size,
                patience=self.patience,
                lr_decay=self.lr_decay,
                weight_decay=self.weight_decay,
                grad_clip=self.grad_clip,
                seed=self.seed,
            )
        self.network_ = net
        return self

    def predict_proba(self, sequences: Any) -> np.ndarray:
        """Class probabilities ``(N, len(classes_))``, columns in the order of ``classes_``."""
        net = self._check_fitted()
        seqs = _as_sequences(sequences)
        if seqs[0].shape[1] != self.channel_mean_.shape[0]:
            raise ValueError(
                f"sequences have {seqs[0].shape[1]} features but the model was fitted on "
                f"{self.channel_mean_.shape[0]}"
            )
        out = []
        with torch.no_grad():
            for start in range(0, len(seqs), 256):
                x, lengths = self._batch(seqs[start : start + 256])
                out.append(torch.softmax(net(values=x, lengths=lengths), dim=1).cpu())
        return torch.cat(out).double().numpy()

    def decision_function(self, sequences: Any) -> np.ndarray:
        """Same as :meth:`predict_proba` (the scores used for model selection)."""
        return self.predict_proba(sequences)

    def predict(self, sequences: Any) -> np.ndarray:
        """The most probable label of each sequence."""
        proba = self.predict_proba(sequences)
        return np.asarray(self.classes_)[proba.argmax(axis=1)]

    def score(self, sequences: Any, labels: Any) -> float:
        """Accuracy of :meth:`predict` against ``labels``."""
        return float(np.mean(self.predict(sequences) == np.asarray(labels)))
