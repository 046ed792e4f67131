"""The training loop's vocabulary: the :class:`Task` protocol every task implements, the
:class:`TrainConfig` every command maps its flags onto, what a run returns
(:class:`LoopResult`), how it stops early (:class:`TrainingDiverged`,
:class:`TrainingInterrupted`), and the history format (rows in memory, Keras-style
``{"loss": [...], ...}`` on disk). The loop itself is :mod:`seqlab.training.loop`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn

from seqlab._checks import check_choice
from seqlab.history import History
from seqlab.training.ema import check_ema
from seqlab.training.optim import OPTIMIZERS, SCHEDULES

__all__ = [
    "BUDGETS",
    "PRECISIONS",
    "Clock",
    "LoopResult",
    "Task",
    "TrainConfig",
    "TrainingDiverged",
    "TrainingInterrupted",
    "history_dict",
    "history_rows",
    "run_summary",
]

BUDGETS = ("epochs", "steps", "minutes")
# Training precision: "fp32", or "bf16" (forward passes under torch.autocast in bfloat16, on
# the CPU or a GPU; weights, gradients and the optimizer stay float32, and bfloat16 has
# float32's range, so no loss scaling is needed: float16 is not offered for that reason).
PRECISIONS = ("fp32", "bf16")
Clock = Callable[[], float]


@runtime_checkable
class Task(Protocol):
    """What the loop needs from a task (a classification, language-model or series task).

    ``batches("train", epoch)`` yields the training batches of ``epoch`` in an order that
    depends only on the seed and ``epoch``; ``loss(model, batch)`` returns the loss to
    minimise and a dict of sums to log (numbers or arrays, added over batches and ranks);
    ``train_metrics(sums)`` turns those sums into metrics; ``evaluate(model, split)`` returns
    metrics on a held-out split (``{}`` when there is none). Optional methods:
    ``num_batches(epoch)`` (None when unknown, e.g. a stream), ``end_epoch()`` (a carried state
    is reset), ``state()`` / ``load_state(tensors, json)`` (a carried state in checkpoints),
    ``identity()`` (what must match for a resume) and ``describe(row)`` (a progress line).
    """

    kind: str
    has_validation: bool

    def batches(self, split: str, epoch: int) -> Iterable[Any]: ...

    def loss(self, model: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, Any]]: ...

    def train_metrics(self, sums: dict[str, Any]) -> dict[str, float]: ...

    def evaluate(self, model: nn.Module, split: str) -> dict[str, float]: ...


@dataclass
class TrainConfig:
    """The loop's settings (the same names for every task and command).

    Budget: ``epochs``, ``steps`` (optimizer steps) and ``minutes`` (training time);
    training stops at the first one reached (give at least one). Optimizers: ``"adam"``
    (``torch.optim.Adam``; ``SparseAdam`` for sparse-gradient layers), ``"rmsprop"``
    (Keras's: rho 0.9, epsilon 1e-7), ``"sgd"`` (no momentum, as in Keras);
    ``weight_decay`` is an L2 penalty added to the gradients; ``schedule``, ``warmup`` and
    ``min_lr`` shape the learning rate (:func:`seqlab.training.optim.lr_at`; ``"slanted"``
    takes ``warmup`` as its ``cut_frac``). ULMFiT's fine-tuning, for a model with layer
    groups (:func:`seqlab.training.optim.layer_groups`): ``layer_lr_decay=2.6`` gives the
    ``k``-th group from the top the rate ``lr / 2.6**k`` (discriminative rates);
    ``gradual_unfreezing=True`` trains only the head in the first epoch, adds the group below
    it in the next, and so on (:func:`seqlab.training.optim.unfreeze_for_epoch`).
    Model selection: ``monitor`` (default ``"val_loss"`` with validation, else ``"loss"``;
    a loss is better lower, any other metric higher) picks the best evaluation; with
    ``restore_best`` training ends with that evaluation's weights; ``patience=k`` stops
    after ``k`` evaluations without improvement (early stopping). ``threads`` sets torch's
    thread count for the run (``"auto"``, the default: torch's count less the cores other
    work is using when training starts, see :func:`seqlab.training.runtime.auto_threads`;
    ``None``: leave it as it is). ``precision="bf16"`` runs the forward passes in bfloat16
    under autocast (float32 weights and optimizer; ``PRECISIONS``). ``ema=0.999`` keeps an
    exponential moving average of the weights (:mod:`seqlab.training.ema`): evaluation,
    model selection and the returned weights use it (None, the default: no average).

    >>> TrainConfig(epochs=3).validate().fraction(step=10, epoch=1.5, seconds=0.0)
    0.5
    """

    epochs: float | None = None
    steps: int | None = None
    minutes: float | None = None
    optimizer: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    schedule: str = "constant"
    warmup: float = 0.0  # fraction of the budget with a linear warm-up (cosine)
    min_lr: float = 0.1  # cosine floor, as a fraction of lr
    clip_grad_norm: float | None = None
    patience: int | None = None  # evaluations without improvement before stopping
    # On a plateau: every `decay_every` evaluations without improvement, go back to the best
    # weights and multiply the learning rate by `lr_decay` (1.0: never).
    lr_decay: float = 1.0
    decay_every: int | None = None
    # ULMFiT (models with layer groups, see seqlab.training.optim): the k-th layer group from
    # the top learns at lr / layer_lr_decay**k (1.0: one rate); gradual_unfreezing trains only
    # the top e + 1 groups in epoch e (0-based).
    layer_lr_decay: float = 1.0
    gradual_unfreezing: bool = False
    monitor: str | None = None  # default: "val_loss" with validation, else "loss"
    restore_best: bool = True
    eval_every: int | None = None  # steps between evaluations
    eval_seconds: float | None = None  # training seconds between evaluations
    evaluate_at_start: bool = False  # a row for the untrained model (step 0)
    checkpoint_every: float = 60.0  # seconds between checkpoints (and every epoch end)
    seed: int = 0
    precision: str = "fp32"  # "bf16": forward passes in bfloat16 under autocast (PRECISIONS)
    ema: float | None = None  # decay of a moving average of the weights (seqlab.training.ema)
    threads: int | str | None = "auto"  # torch threads for this run ("auto": fewer when the
    # machine is busy, see seqlab.training.runtime.auto_threads; None: leave as is)

    def validate(self) -> TrainConfig:
        """Raise ValueError naming the first bad field; returns self."""
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_choice(
            "precision", self.precision, PRECISIONS, fix="use 'fp32' (the default) or 'bf16'"
        )
        check_choice("schedule", self.schedule, SCHEDULES)
        try:
            lr = float(self.lr)
        except (TypeError, ValueError):
            lr = math.nan
        if isinstance(self.lr, bool) or not (math.isfinite(lr) and lr > 0):
            raise ValueError(f"lr must be a finite number > 0, got {self.lr!r}")
        if not self.weight_decay >= 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay!r}")
        for name in BUDGETS:
            value = getattr(self, name)
            if value is not None and not (value > 0 and math.isfinite(value)):
                raise ValueError(f"{name} must be > 0 or None, got {value!r}")
        if all(getattr(self, name) is None for name in BUDGETS):
            raise ValueError(
                "no training budget: give epochs=, steps= or minutes= (training stops at the "
                "first one reached)"
            )
        decay = self.layer_lr_decay
        if isinstance(decay, bool) or not (
            isinstance(decay, int | float) and math.isfinite(decay) and decay > 0
        ):
            raise ValueError(
                f"layer_lr_decay must be a finite number > 0 (1: one rate for every layer; "
                f"ULMFiT uses 2.6), got {decay!r}"
            )
        if not isinstance(self.gradual_unfreezing, bool):
            raise TypeError(
                f"gradual_unfreezing must be True or False, got {self.gradual_unfreezing!r}"
            )
        if not 0 < self.lr_decay <= 1:
            raise ValueError(f"lr_decay must be in (0, 1] (1: never), got {self.lr_decay!r}")
        if isinstance(self.threads, str) and self.threads != "auto":
            raise ValueError(f"threads must be an int >= 1, 'auto' or None, got {self.threads!r}")
        for name in ("patience", "eval_every", "decay_every", "threads"):
            value = getattr(self, name)
            if value is None or value == "auto":
                continue
            if isinstance(value, bool) or int(value) != value or value < 1:
                raise ValueError(f"{name} must be a positive int or None, got {value!r}")
        if self.clip_grad_norm is not None and not self.clip_grad_norm > 0:
            raise ValueError(
                f"clip_grad_norm must be > 0 (or None: no clipping), got {self.clip_grad_norm!r}"
            )
        if not 0 <= self.warmup < 1 or not 0 <= self.min_lr <= 1:
            raise ValueError(
                f"warmup must be in [0, 1) and min_lr in [0, 1], got {self.warmup!r}, "
                f"{self.min_lr!r}"
            )
        check_ema(self.ema)
        if self.eval_seconds is not None and not self.eval_seconds > 0:
            raise ValueError(f"eval_seconds must be > 0 or None, got {self.eval_seconds!r}")
        if not self.checkpoint_every > 0:
            raise ValueError(
                f"checkpoint_every must be > 0 seconds, got {self.checkpoint_every!r}; "
                "checkpoints are also written at the end of every epoch"
            )
        return self

    def fraction(self, *, step: int, epoch: float, seconds: float) -> float:
        """Share of the budget used: the largest over the budgets given, at most 1."""
        parts = [0.0]
        if self.steps:
            parts.append(step / self.steps)
        if self.epochs:
            parts.append(epoch / self.epochs)
        if self.minutes:
            parts.append(seconds / (60.0 * self.minutes))
        return min(1.0, max(parts))

    def spent(self, *, step: int, epoch: float, seconds: float) -> str | None:
        """The name of the budget that is used up, if any."""
        if self.steps and step >= self.steps:
            return "steps"
        if self.epochs and epoch >= self.epochs - 1e-12:
            return "epochs"
        if self.minutes and seconds >= 60.0 * self.minutes:
            return "minutes"
        return None


class TrainingDiverged(FloatingPointError, ValueError):
    """The training loss became NaN or infinite (the message names the learning rate)."""


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped training; ``message`` says how to resume."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class LoopResult:
    """What :func:`run` returns: the history rows and the summary for ``metrics.json``."""

    history: list[dict[str, Any]]
    summary: dict[str, Any]
    step: int
    epoch: float
    train_time: float
    stopped: str
    extra: dict[str, Any] = field(default_factory=dict)


def history_dict(rows: Sequence[dict[str, Any]]) -> History:
    """Rows -> Keras-style ``{"loss": [...], "val_loss": [...], ...}`` (None where a row has
    no value for a key), a :class:`~seqlab.history.History` (``"acc"`` finds ``"accuracy"``).

    >>> history_dict([{"step": 0, "val_loss": 2.0}, {"step": 5, "loss": 1.0, "val_loss": 1.5}])
    {'step': [0, 5], 'val_loss': [2.0, 1.5], 'loss': [None, 1.0]}
    """
    keys: list[str] = []
    for row in rows:
        keys += [k for k in row if k not in keys]
    return History({k: [row.get(k) for row in rows] for k in keys})


def history_rows(history: dict[str, list[Any]] | list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keras-style history -> rows (the inverse of :func:`history_dict`, None values dropped).
    A list of rows (a language-model run written before seqlab 0.2) is returned with its old
    ``train_loss`` key renamed ``loss``.

    >>> history_rows({"step": [0, 5], "loss": [None, 1.0]})
    [{'step': 0}, {'step': 5, 'loss': 1.0}]
    """
    if isinstance(history, list):
        rows = [dict(r) for r in history]
        for row in rows:
            if "train_loss" in row:
                row["loss"] = row.pop("train_loss")
        return rows
    n = max((len(v) for v in history.values()), default=0)
    return [
        {k: v[i] for k, v in history.items() if i < len(v) and v[i] is not None} for i in range(n)
    ]


def run_summary(loop: Any) -> dict[str, Any]:
    """``metrics.json`` of a finished run of the loop (``seqlab.training.loop._Loop``): the
    best evaluation, the metrics of the weights it returns, the budget used."""
    restored = loop.cfg.restore_best and loop.best_row is not None
    chosen = loop.history[loop.best_row if restored else -1] if loop.history else {}
    best = loop.history[loop.best_row] if loop.best_row is not None else {}
    skip = {"epoch", "step", "time_s", "train_time_s", "wall_time_s", "lr", "tokens"}
    at = {k: v for k, v in chosen.items() if k not in skip and v is not None}
    return {
        "monitor": loop.monitor,
        "best_epoch": best.get("epoch"),
        "best_step": best.get("step"),
        "best_score": loop.best_score,
        "weights_from_epoch": chosen.get("epoch"),
        "weights_from_step": chosen.get("step"),
        "epochs_run": math.ceil(loop.epoch_progress() - 1e-9),
        "steps": loop.step,
        "train_time_s": round(loop.train_time, 3),
        "stopped": loop.stopped or "epochs",
        "threads": loop.threads_used,  # torch's threads in this run (cfg.threads decided)
        "train": {k: v for k, v in at.items() if not k.startswith("val_")},
        "val": {k[4:]: v for k, v in at.items() if k.startswith("val_")},
    }
