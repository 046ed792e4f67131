"""Shared parts of the neural series wrappers (:mod:`seqlab.series.neural`): argument
checks, the network builder, training on the one loop (:mod:`seqlab.training.loop`) with
checkpoints in a run folder, and the run folder itself (:mod:`seqlab.series._neural_io`)."""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import math
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import numpy as np
import torch
from torch import nn

from seqlab._checks import check_choice
from seqlab._utils import PathLike, resolve_device, torch_generator
from seqlab.models.registry import get as get_model
from seqlab.runfolder import RunFolder
from seqlab.series import _neural_io
from seqlab.series.forecast import NEURAL_MODELS
from seqlab.training import loop
from seqlab.training.checkpoint import STATE_FILE

__all__ = ["NeuralBase"]

# Old names of renamed arguments (one name per concept across seqlab) -> the new ones.
RENAMED = {"val_fraction": "val_split", "grad_clip": "clip_grad_norm"}
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
    check_choice("model", model, NEURAL_MODELS)
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


def fingerprint(arrays: Iterable[Any]) -> str:
    """What identifies the training data for a resume: the count and a hash of the arrays
    (their shapes, dtypes and bytes)."""
    digest, count = hashlib.sha256(), 0
    for a in arrays:
        a = np.ascontiguousarray(a)
        digest.update(f"{a.dtype.str}{a.shape}".encode())
        digest.update(a.tobytes())
        count += 1
    return f"{count} arrays, sha256 {digest.hexdigest()[:16]}"


@dataclass
class _Checkpoints:
    """Where a fit into a run folder keeps the loop's checkpoints: ``folder`` (the run
    folder's ``checkpoint/``; ``member-<i>/`` in it for each network of an ensemble)."""

    folder: Path
    resume: bool
    data: str  # fingerprint() of the training data

    def member(self, index: int, count: int) -> tuple[Path, bool]:
        """(checkpoint folder, resume?) of network ``index`` of ``count``. A member after the
        first one that has no checkpoint yet (the run stopped before it) starts afresh."""
        path = self.folder if count == 1 else self.folder / f"member-{index}"
        return path, self.resume and (index == 0 or (path / STATE_FILE).is_file())


class _SeriesTask:
    """The training loop's task for the series wrappers: shuffled mini-batches of training
    indices (a torch generator seeded with ``seed``, drawn epoch after epoch), a closure for
    the batch loss and one for the validation loss."""

    kind = "series"

    def __init__(
        self,
        n_train: int,
        batch_size: int,
        seed: int,
        batch_loss: Callable[[torch.Tensor], torch.Tensor],
        val_loss: Callable[[], float] | None,
    ) -> None:
        self.n_train, self.batch_size, self.seed = n_train, batch_size, seed
        self.batch_loss, self.val_loss = batch_loss, val_loss
        self.has_validation = val_loss is not None
        self._gen = torch_generator(seed)
        self._next_epoch = 0

    def num_batches(self, epoch: int) -> int:
        return -(-self.n_train // self.batch_size)

    def batches(self, split: str, epoch: int) -> Iterator[torch.Tensor]:
        if epoch != self._next_epoch:  # out of order (a resume): replay the earlier draws
            self._gen = torch_generator(self.seed)
            for _ in range(epoch):
                torch.randperm(self.n_train, generator=self._gen)
        order = torch.randperm(self.n_train, generator=self._gen)
        self._next_epoch = epoch + 1
        return iter(order.split(self.batch_size))

    def loss(self, model: nn.Module, idx: torch.Tensor) -> tuple[torch.Tensor, dict[str, Any]]:
        loss = self.batch_loss(idx)
        return loss, {"loss_sum": float(loss.detach()) * len(idx), "count": len(idx)}

    def train_metrics(self, sums: dict[str, Any]) -> dict[str, float]:
        return {"loss": float(sums["loss_sum"]) / float(sums["count"])}

    def evaluate(self, model: nn.Module, split: str) -> dict[str, float]:
        if self.val_loss is None:
            return {}
        model.eval()
        with torch.no_grad():
            return {"loss": self.val_loss()}


class NeuralBase(ABC):
    """Argument checks, the network builder, training on the loop and the run folder shared
    by the two wrappers. ``args`` are the subclass constructor's arguments (its ``locals()``):
    the training arguments below and ``model_kwargs``."""

    task = ""  # the run folder's task: "series-forecast" or "series-classify"

    def __init__(self, args: dict[str, Any]) -> None:
        model_kwargs = dict(args["model_kwargs"])
        val_split, clip_grad_norm = args["val_split"], args["clip_grad_norm"]
        for old, new in RENAMED.items():  # the old names, still accepted for a while
            if old in model_kwargs:
                warnings.warn(
                    f"{type(self).__name__}({old}=...) is deprecated; use {new}=... instead",
                    DeprecationWarning,
                    stacklevel=3,
                )
                value = model_kwargs.pop(old)
                if new == "val_split":
                    val_split = value
                else:
                    clip_grad_norm = value
        model, lr_decay = args["model"], args["lr_decay"]
        self.model = check_choice("model", model, NEURAL_MODELS)
        self.hidden_size = _check_int("hidden_size", args["hidden_size"], 1)
        self.epochs = _check_int("epochs", args["epochs"], 1)
        self.lr = _check_float("lr", args["lr"], 0.0, math.inf, low_open=True)
        self.batch_size = _check_int("batch_size", args["batch_size"], 1)
        self.seed = _check_int("seed", args["seed"], 0)
        self.patience = _check_int("patience", args["patience"], 1)
        self.val_split = _check_float("val_split", val_split, 0.0, 1.0, low_open=False)
        if isinstance(lr_decay, bool) or not isinstance(lr_decay, int | float):
            raise TypeError(f"lr_decay must be a number in (0, 1], got {lr_decay!r}")
        if not 0.0 < lr_decay <= 1.0:
            raise ValueError(f"lr_decay must be in (0, 1] (1 = constant lr), got {lr_decay!r}")
        self.lr_decay = float(lr_decay)
        self.weight_decay = _check_float(
            "weight_decay", args["weight_decay"], 0.0, math.inf, low_open=False
        )
        if clip_grad_norm is not None:
            clip_grad_norm = _check_float(
                "clip_grad_norm", clip_grad_norm, 0.0, math.inf, low_open=True
            )
        self.clip_grad_norm = clip_grad_norm
        self.device = str(args["device"])
        self._device = resolve_device(self.device)
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
            "val_split": self.val_split,
            "lr_decay": self.lr_decay,
            "weight_decay": self.weight_decay,
            "clip_grad_norm": self.clip_grad_norm,
            **model_kwargs,
        }
        self.network_: nn.Module | None = None
        self.history_: list[dict[str, Any]] = []
        self.metrics_: dict[str, Any] = {}
        self.best_epoch_: int | None = None

    def _build(self, input_size: int, outputs: int, seed: int | None = None) -> nn.Module:
        cls = get_model(self.model)
        seed = self.seed if seed is None else seed
        net = cls(input_size=input_size, num_classes=outputs, seed=seed, **self.model_kwargs)
        return net.to(self._device)

    def _train(
        self,
        model: nn.Module,
        n_train: int,
        batch_loss: Callable[[torch.Tensor], torch.Tensor],
        val_loss: Callable[[], float] | None,
        seed: int | None = None,
        checkpoints: tuple[_Checkpoints, int, int] | None = None,
    ) -> tuple[list[dict[str, Any]], int, dict[str, Any]]:
        """Train ``model`` with this wrapper's settings: Adam over shuffled mini-batches on the
        one training loop (:mod:`seqlab.training.loop`), early stopping on ``val_loss``; the
        best epoch's weights are loaded back. Returns (history rows, best epoch, the loop's
        summary). ``seed`` defaults to the wrapper's own; ``checkpoints`` =
        ``(where, member index, member count)`` of a fit into a run folder.

        The untrained model counts as epoch 0 (its validation loss is the first history row),
        so training that never improves the held-out loss gives back the starting weights.

        Every ``max(1, patience // 4)`` epochs without a better validation loss, training goes
        back to the best weights so far and the learning rate is multiplied by ``lr_decay``
        (1.0: never), so a noisy target gets smaller, more careful steps before training stops.
        """
        has_val = val_loss is not None
        cfg = loop.TrainConfig(
            epochs=self.epochs,
            optimizer="adam",
            lr=self.lr,
            weight_decay=self.weight_decay,
            clip_grad_norm=self.clip_grad_norm,
            patience=self.patience if has_val else None,
            monitor="val_loss" if has_val else "loss",
            restore_best=has_val,  # no validation: keep the last weights
            lr_decay=self.lr_decay if has_val else 1.0,
            decay_every=max(1, self.patience // 4),
            evaluate_at_start=has_val,
            seed=self.seed if seed is None else seed,
        )
        device = next(model.parameters()).device
        task = _SeriesTask(n_train, self.batch_size, cfg.seed, batch_loss, val_loss)
        where: dict[str, Any] = {}
        if checkpoints is not None:
            ck, index, count = checkpoints
            folder, resume = ck.member(index, count)
            where = {"checkpoint_dir": folder, "resume": resume}
            where["identity"] = self._identity(ck.data, index)
        result = loop.run(model, task, cfg, device=device, progress=False, **where)
        model.eval()
        summary = result.summary
        best = summary["best_epoch"] if has_val else summary["epochs_run"]
        return result.history, int(best), summary

    def _identity(self, data: str, member: int) -> dict[str, Any]:
        """What must match for a resume: the settings (a larger ``epochs`` or ``patience``
        may continue a run; ``device`` may change), the data, the member of an ensemble."""
        settings = {
            k: v for k, v in self.config.items() if k not in ("epochs", "patience", "device")
        }
        # as a checkpoint stores it (JSON: tuples become lists), so that equal is equal
        settings = json.loads(json.dumps(settings))
        return {"class": type(self).__name__, "settings": settings, "data": data, "member": member}

    def _fit_into(
        self,
        out: PathLike | None,
        overwrite: bool,
        resume: bool,
        data: Iterable[Any],
        train: Callable[[_Checkpoints | None], None],
    ) -> Self:
        """``train(checkpoints)``; with ``out``, inside the run folder ``out`` (locked while
        training, checkpoints in its ``checkpoint/``, the run folder committed at the end)."""
        if out is None:
            if resume:
                raise ValueError("resume=True needs out= (the run folder holding checkpoint/)")
            train(None)
            return self
        with RunFolder(out, overwrite=overwrite, resume=resume) as folder:
            train(_Checkpoints(folder.checkpoint_dir, resume, fingerprint(data)))
            folder.commit(self.files(folder=out))
        return self

    def _check_fitted(self) -> nn.Module:
        if self.network_ is None:
            raise ValueError(
                f"this {type(self).__name__} is not fitted yet; call fit(...) before predicting"
            )
        return self.network_

    # ---- the run folder (see seqlab.series._neural_io) --------------------------------------

    def _networks(self) -> list[nn.Module]:
        """The fitted networks whose weights make ``model.safetensors``."""
        return [self._check_fitted()]

    @abstractmethod
    def _fitted_state(self) -> dict[str, Any]:
        """What ``fit`` learned besides the weights (JSON), for ``config.json``."""

    @abstractmethod
    def _restore(self, fitted: dict[str, Any]) -> list[nn.Module]:
        """Set what :meth:`_fitted_state` gave and return the untrained networks to load."""

    def files(
        self,
        *,
        experiment: dict[str, Any] | None = None,
        metrics: dict[str, Any] | None = None,
        folder: PathLike | None = None,
    ) -> dict[str, bytes]:
        """The run folder's files as bytes: ``config.json``, ``model.safetensors``,
        ``history.json``, ``metrics.json`` and ``curves.png`` (see
        :mod:`seqlab.series._neural_io`). ``experiment`` goes into ``config.json`` (the data
        and its preparation), ``metrics`` into ``metrics.json`` beside the training summary;
        ``folder`` names the run in the plot's title."""
        self._check_fitted()
        return _neural_io.run_files(self, experiment, metrics, folder)

    def save(self, path: PathLike, overwrite: bool = False) -> Path:
        """Write the run folder ``path`` (see :mod:`seqlab.runfolder`: locked, all files at
        once; a folder that holds a run is refused unless ``overwrite=True``); its Path.

        >>> fc.save("runs/sine-lstm")  # doctest: +SKIP
        PosixPath('runs/sine-lstm')
        """
        files = self.files(folder=path)
        with RunFolder(path, overwrite=overwrite) as folder:
            folder.commit(files)
        return Path(path)

    @classmethod
    def load(cls, path: PathLike, device: str = "auto") -> Self:
        """The fitted model of the run folder ``path`` (written by :meth:`save`, by
        ``fit(..., out=path)`` or by ``seqlab series ... --out``), on ``device``; its
        predictions equal the saved model's. :func:`seqlab.load` calls this.

        >>> fc = NeuralForecaster.load("runs/sine-lstm")  # doctest: +SKIP
        """
        config, tensors, history, metrics = _neural_io.read_run(Path(path), cls)
        model = cls(**{**config["config"], "device": device})
        networks = model._restore(config["fitted"])
        nn.ModuleList(networks).load_state_dict(tensors)
        for net in networks:
            net.to(model._device).eval()
        model.network_ = networks[0]
        model.best_epoch_ = config["fitted"]["best_epoch"]
        model.history_, model.metrics_ = history, metrics
        return model

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config.items())
        return f"{type(self).__name__}({args})"
