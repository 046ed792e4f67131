"""The one training loop: every task (classifier, language model, series) trains here.

A task says what its batches are, what its loss is and how it is evaluated (:class:`Task`);
the loop owns everything else, the same way for every task:

* the **budget**: ``epochs``, ``steps`` and ``minutes`` of training time; training stops at
  the first one reached (``TrainConfig.fraction``);
* the **optimizer** (:func:`seqlab.training.optim.build_optimizers`), the **learning-rate
  schedule** (constant, step, cosine with warm-up; its clock is the share of the budget
  used) and **gradient clipping** (``clip_grad_norm``);
* **evaluation**: at the end of every epoch, or every ``eval_every`` steps / ``eval_seconds``
  of training time; each evaluation adds one row to the history;
* **model selection**: ``monitor`` picks the best evaluation, ``patience`` stops after that
  many evaluations without improvement, ``restore_best`` returns the best weights;
* **checkpoints** at the end of every epoch *and* every ``checkpoint_every`` seconds, plus
  **exact resume**: the batches of epoch ``k`` depend only on ``(seed, k)``, and a
  checkpoint holds the weights, the optimizer, the random-number state, the position in the
  epoch and the task's carried state, so a resumed run repeats the uninterrupted one bit for
  bit on the same machine;
* **interrupts**: Ctrl-C or SIGTERM writes a checkpoint of the last completed step and
  says how to resume;
* **data parallel** (``torchrun``): the model is wrapped in DDP, ``batch_size`` is the
  global batch, the logged sums are added over the ranks, only rank 0 writes; under DDP
  the dropout masks are drawn from ``(seed, step, rank)``;
* **progress**: a bar on a terminal, and one line per evaluation (only those lines when
  stderr is not a terminal, so log files hold no carriage-return bars);
* the **history**: one row per evaluation with ``epoch``, ``step``, ``time_s`` (training
  seconds so far), ``train_time_s`` / ``wall_time_s`` (since the previous row), ``lr``, the
  training metrics (``loss``, ...) and the validation metrics (``val_loss``, ...).

Time is read from an injectable ``clock`` (seconds, monotonic), so budgets can be tested
without depending on the machine's speed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import signal
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from seqlab.training import distributed
from seqlab.training.callbacks import Callback
from seqlab.training.checkpoint import (
    STATE_FILE,
    optimizer_state,
    read_checkpoint,
    restore_optimizer,
    write_checkpoint,
)
from seqlab.training.optim import OPTIMIZERS, SCHEDULES, build_optimizers, lr_at

__all__ = [
    "LoopResult",
    "Task",
    "TrainConfig",
    "TrainingDiverged",
    "TrainingInterrupted",
    "history_dict",
    "history_rows",
    "run",
]

BUDGETS = ("epochs", "steps", "minutes")
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
    monitor: str | None = None  # default: "val_loss" with validation, else "loss"
    restore_best: bool = True
    eval_every: int | None = None  # steps between evaluations
    eval_seconds: float | None = None  # training seconds between evaluations
    evaluate_at_start: bool = False  # a row for the untrained model (step 0)
    checkpoint_every: float = 60.0  # seconds between checkpoints (and every epoch end)
    seed: int = 0
    threads: int | None = None  # torch threads for this run (None: leave as is)

    def validate(self) -> TrainConfig:
        """Raise ValueError naming the first bad field; returns self."""
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if not (isinstance(self.lr, int | float) and math.isfinite(self.lr) and self.lr > 0):
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
        if not 0 < self.lr_decay <= 1:
            raise ValueError(f"lr_decay must be in (0, 1] (1: never), got {self.lr_decay!r}")
        for name in ("patience", "eval_every", "threads", "decay_every"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or int(value) != value or value < 1):
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


def history_dict(rows: Sequence[dict[str, Any]]) -> dict[str, list[Any]]:
    """Rows -> Keras-style ``{"loss": [...], "val_loss": [...], ...}`` (None where a row has
    no value for a key).

    >>> history_dict([{"step": 0, "val_loss": 2.0}, {"step": 5, "loss": 1.0, "val_loss": 1.5}])
    {'step': [0, 5], 'val_loss': [2.0, 1.5], 'loss': [None, 1.0]}
    """
    keys: list[str] = []
    for row in rows:
        keys += [k for k in row if k not in keys]
    return {k: [row.get(k) for row in rows] for k in keys}


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


def _better(score: float, best: float | None, monitor: str) -> bool:
    if best is None:
        return True
    return score < best if monitor.endswith("loss") else score > best


class _Loop:
    """The mutable state of one run: what a checkpoint saves and resume restores."""

    def __init__(
        self,
        model: nn.Module,
        task: Task,
        cfg: TrainConfig,
        device: torch.device,
        checkpoint_dir: Path | None,
        progress: bool,
        callbacks: Sequence[Callback],
        clock: Clock,
        identity: dict[str, Any],
    ) -> None:
        self.model, self.task, self.cfg, self.device = model, task, cfg, device
        self.net = distributed.wrap(model, device)
        self.optimizers = build_optimizers(
            model, cfg.optimizer, lr=cfg.lr, weight_decay=cfg.weight_decay
        )
        self.checkpoint_dir = checkpoint_dir
        self.callbacks = callbacks
        self.clock = clock
        self.identity = identity
        self.world = distributed.world_size()
        self.main = distributed.is_main()
        self.progress = progress and self.main
        self.bar_ok = self.progress and sys.stderr.isatty()
        self.monitor = cfg.monitor or ("val_loss" if task.has_validation else "loss")
        # state
        self.step = 0
        self.epoch = 0  # epochs finished
        self.batch_index = 0  # batches done in the current epoch
        self.train_time = 0.0  # seconds of training steps
        self.rows: list[dict[str, Any]] = []
        self.sums: dict[str, Any] = {}  # since the last history row
        self.totals: dict[str, Any] = {}  # since the start
        self.best_score: float | None = None
        self.best_row: int | None = None
        self.best_state: dict[str, torch.Tensor] | None = None
        self.bad_evals = 0
        self.lr_scale = 1.0  # product of the plateau decays so far
        self.stopped: str | None = None
        self.last_row_time = 0.0  # train_time at the previous row
        self.last_row_wall = clock()
        self.last_checkpoint_wall = clock()
        self._rng_before_step: torch.Tensor | None = None
        self.extra_state: dict[str, Any] = {}

    # ---- budget -------------------------------------------------------------------------
    def num_batches(self) -> int | None:
        count = getattr(self.task, "num_batches", None)
        return None if count is None else count(self.epoch)

    def epoch_progress(self) -> float:
        n = self.num_batches()
        return self.epoch + (self.batch_index / n if n else 0.0)

    def fraction(self) -> float:
        return self.cfg.fraction(
            step=self.step, epoch=self.epoch_progress(), seconds=self.train_time
        )

    def lr(self) -> float:
        cfg = self.cfg
        lr = lr_at(self.fraction(), cfg.lr, cfg.schedule, warmup=cfg.warmup, min_lr=cfg.min_lr)
        return lr * self.lr_scale

    # ---- the loop ---------------------------------------------------------------------
    def run(self) -> None:
        cfg = self.cfg
        if cfg.evaluate_at_start and not self.rows:
            self.evaluate()
        items: Iterator[Any] | None = None
        bar = None
        try:
            while self.stopped is None:
                spent = cfg.spent(
                    step=self.step, epoch=self.epoch_progress(), seconds=self.train_time
                )
                if spent:
                    self.stopped = spent
                    break
                if items is None:
                    items = self._epoch_items()
                    bar = self._bar()
                try:
                    batch = next(items)
                except StopIteration:
                    items = None
                    self._end_epoch(bar)
                    continue
                loss = self._train_step(batch)
                if bar is not None:
                    bar.update(1)
                    if self.step % 10 == 0:
                        bar.set_postfix(loss=f"{loss:.4f}")
                for cb in self.callbacks:
                    cb.on_batch_end(
                        self.step,
                        {
                            "epoch": self.epoch,
                            "batch": self.batch_index - 1,
                            "step": self.step,
                            "loss": loss,
                        },
                    )
                n = self.num_batches()
                if n is not None and self.batch_index >= n:
                    items = None
                    self._end_epoch(bar)
                    continue
                if self._eval_due():
                    self.evaluate()
                if self.checkpoint_dir is not None and (
                    self.clock() - self.last_checkpoint_wall >= cfg.checkpoint_every
                ):
                    self.save_checkpoint()
        except KeyboardInterrupt as exc:
            if bar is not None:
                bar.close()
            raise self._interrupted(exc) from None
        if bar is not None:
            bar.close()
        if not self.rows or self.rows[-1]["step"] != self.step or self.sums:
            self.evaluate()

    def _epoch_items(self) -> Iterator[Any]:
        for cb in self.callbacks:
            if self.batch_index == 0:
                cb.on_epoch_begin(self.epoch, {})
        items = iter(self.task.batches("train", self.epoch))
        for _ in range(self.batch_index):  # resumed in the middle of an epoch
            next(items)
        return items

    def _bar(self) -> Any:
        if not self.bar_ok:
            return None
        n = self.num_batches()
        epochs = self.cfg.epochs
        desc = f"epoch {self.epoch + 1}" + (f"/{math.ceil(epochs)}" if epochs else "")
        return tqdm(total=n, initial=self.batch_index, desc=desc, unit="batch", leave=False)

    def _train_step(self, batch: Any) -> float:
        # The loop's own state changes only after the update, so that an interrupt in the
        # middle of a step leaves the state of the last completed step for the checkpoint.
        cfg = self.cfg
        if self.world > 1:
            torch.manual_seed(distributed.rank_seed(cfg.seed, self.step))
        self._rng_before_step = torch.get_rng_state()
        t0 = self.clock()
        self.model.train()
        lr = self.lr()
        loss, sums = self.task.loss(self.net, batch)
        for opt in self.optimizers:
            for group in opt.param_groups:
                group["lr"] = lr
            opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.clip_grad_norm is not None:
            nn.utils.clip_grad_norm_(self.model.parameters(), cfg.clip_grad_norm)
        for opt in self.optimizers:
            opt.step()
        value = float(loss.detach())
        if not math.isfinite(value):
            raise TrainingDiverged(
                f"the training loss became {value} at step {self.step + 1} (epoch "
                f"{self.epoch + 1}, batch {self.batch_index + 1}) with lr={cfg.lr}; lower lr "
                "or set clip_grad_norm"
            )
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)  # so that the step's time is real
        elapsed = self.clock() - t0
        if self.world > 1:  # rank 0's clock: every rank stops on the same step
            elapsed = distributed.broadcast_float(elapsed)
        after = getattr(self.task, "after_step", None)
        if after is not None:
            after()
        for key, v in sums.items():
            self.sums[key] = self.sums[key] + v if key in self.sums else v
            self.totals[key] = self.totals[key] + v if key in self.totals else v
        self.train_time += elapsed
        self.step += 1
        self.batch_index += 1
        self._rng_before_step = None
        return value

    def _end_epoch(self, bar: Any) -> None:
        if bar is not None:
            bar.close()
        self.epoch += 1
        self.batch_index = 0
        end = getattr(self.task, "end_epoch", None)
        if end is not None:
            end()
        if self.cfg.eval_every is None and self.cfg.eval_seconds is None:
            row = self.evaluate()
            stop = any([bool(cb.on_epoch_end(self.epoch - 1, dict(row))) for cb in self.callbacks])
            if distributed.any_rank(stop) if self.world > 1 else stop:
                self.stopped = self.stopped or "callback"
        if self.checkpoint_dir is not None:
            self.save_checkpoint()

    def _eval_due(self) -> bool:
        cfg = self.cfg
        if cfg.eval_every and self.step % cfg.eval_every == 0:
            return True
        return cfg.eval_seconds is not None and (
            self.train_time - self.last_row_time >= cfg.eval_seconds
        )

    # ---- evaluation and model selection --------------------------------------------------
    def evaluate(self) -> dict[str, Any]:
        """Add a history row: training metrics since the last row, validation metrics."""
        sums = self.sums
        if self.world > 1 and sums:
            keys = sorted(sums)
            flat = np.concatenate([np.ravel(np.asarray(sums[k], dtype=np.float64)) for k in keys])
            total = distributed.all_reduce_sum(flat)
            out, i = {}, 0
            for k in keys:
                size = np.size(sums[k])
                value = total[i : i + size]
                out[k] = value.reshape(np.shape(sums[k])) if np.ndim(sums[k]) else float(value[0])
                i += size
            sums = out
        epoch = self.epoch_progress()
        now = self.clock()
        row: dict[str, Any] = {
            "epoch": int(epoch) if float(epoch).is_integer() else round(epoch, 6),
            "step": self.step,
            "time_s": round(self.train_time, 3),
            "train_time_s": round(self.train_time - self.last_row_time, 3),
            "wall_time_s": round(now - self.last_row_wall, 3),
            "lr": self.lr(),
        }
        fields = getattr(self.task, "progress_fields", None)
        if fields is not None:
            row.update(fields(self.totals))
        if sums:
            row.update(self.task.train_metrics(sums))
        if self.task.has_validation:
            row.update({f"val_{k}": v for k, v in self.task.evaluate(self.model, "val").items()})
        self.sums = {}
        self.last_row_time, self.last_row_wall = self.train_time, self.clock()
        self.rows.append(row)
        self._select(row)
        if self.progress:
            describe = getattr(self.task, "describe", None)
            line = describe(row, self.cfg) if describe is not None else self._describe(row)
            (tqdm.write if self.bar_ok else _eprint)(line)
        return row

    def _describe(self, row: dict[str, Any]) -> str:
        epochs = self.cfg.epochs
        head = f"epoch {row['epoch']}" + (f"/{math.ceil(epochs)}" if epochs else "")
        parts = [head]
        skip = {"epoch", "step", "time_s", "train_time_s", "wall_time_s", "lr", "tokens"}
        parts += [f"{k} {v:.4f}" for k, v in row.items() if k not in skip and v is not None]
        parts.append(f"({row['wall_time_s']:.1f} s)")
        return "  ".join(parts)

    def _select(self, row: dict[str, Any]) -> None:
        score = row.get(self.monitor)
        if score is None:
            return
        if _better(float(score), self.best_score, self.monitor):
            self.best_score, self.best_row, self.bad_evals = float(score), len(self.rows) - 1, 0
            if self.cfg.restore_best:
                self.best_state = {
                    k: v.detach().clone() for k, v in self.model.state_dict().items()
                }
        else:
            self.bad_evals += 1
            cfg = self.cfg
            if cfg.patience is not None and self.bad_evals >= cfg.patience:
                self.stopped = self.stopped or "early_stopping"
            elif (
                cfg.lr_decay < 1.0
                and cfg.decay_every
                and self.bad_evals % cfg.decay_every == 0
                and self.best_state is not None
            ):
                self.model.load_state_dict(self.best_state)
                self.lr_scale *= cfg.lr_decay

    def summary(self) -> dict[str, Any]:
        """metrics.json: the best evaluation and the metrics of the returned weights."""
        restored = self.cfg.restore_best and self.best_row is not None
        chosen = self.rows[self.best_row if restored else -1] if self.rows else {}  # type: ignore[index]
        best = self.rows[self.best_row] if self.best_row is not None else {}
        skip = {"epoch", "step", "time_s", "train_time_s", "wall_time_s", "lr", "tokens"}
        at = {k: v for k, v in chosen.items() if k not in skip and v is not None}
        return {
            "monitor": self.monitor,
            "best_epoch": best.get("epoch"),
            "best_step": best.get("step"),
            "best_score": self.best_score,
            "weights_from_epoch": chosen.get("epoch"),
            "weights_from_step": chosen.get("step"),
            "epochs_run": math.ceil(self.epoch_progress() - 1e-9),
            "steps": self.step,
            "train_time_s": round(self.train_time, 3),
            "stopped": self.stopped or "epochs",
            "train": {k: v for k, v in at.items() if not k.startswith("val_")},
            "val": {k[4:]: v for k, v in at.items() if k.startswith("val_")},
        }

    # ---- checkpoints ----------------------------------------------------------------------
    def save_checkpoint(self, rng: torch.Tensor | None = None) -> None:
        """Every rank takes part (a task may gather its carried state); rank 0 writes."""
        assert self.checkpoint_dir is not None
        task_state = getattr(self.task, "state", None)
        task_tensors, task_json = task_state() if task_state is not None else ({}, {})
        self.last_checkpoint_wall = self.clock()
        if not self.main:
            return
        tensors = {f"model.{k}": v for k, v in self.model.state_dict().items()}
        if self.best_state is not None:
            tensors.update({f"best.{k}": v for k, v in self.best_state.items()})
        opt_tensors, opt_scalars = optimizer_state(self.optimizers)
        tensors.update(opt_tensors)
        tensors.update({f"task.{k}": v for k, v in task_tensors.items()})
        tensors["rng.torch"] = torch.get_rng_state() if rng is None else rng
        if self.device.type == "cuda":
            tensors["rng.cuda"] = torch.cuda.get_rng_state(self.device)
        state = {
            "format": 1,
            "kind": self.task.kind,
            "step": self.step,
            "epoch": self.epoch,
            "batch_index": self.batch_index,
            "train_time": self.train_time,
            "history": self.rows,
            "sums": {k: np.asarray(v).tolist() for k, v in self.sums.items()},
            "totals": {k: np.asarray(v).tolist() for k, v in self.totals.items()},
            "best_score": self.best_score,
            "best_row": self.best_row,
            "bad_evals": self.bad_evals,
            "lr_scale": self.lr_scale,
            "stopped": self.stopped,
            "last_row_time": self.last_row_time,
            "optimizer_scalars": opt_scalars,
            "identity": self.identity,
            "config": dataclasses.asdict(self.cfg),
            "task": task_json,
            "extra": self.extra_state,
        }
        write_checkpoint(self.checkpoint_dir, tensors, state)

    def load_checkpoint(self, blob: bytes) -> None:
        tensors, state = read_checkpoint(blob)
        old = state.get("identity", {})
        for key in sorted(set(old) | set(self.identity)):
            if old.get(key) != self.identity.get(key):
                raise ValueError(
                    f"resume=True found a checkpoint in {self.checkpoint_dir} made with {key}="
                    f"{old.get(key)!r} but this call has {key}={self.identity.get(key)!r}; pass "
                    "the same arguments (and data) to continue, or resume=False to start over"
                )

        def group(prefix: str) -> dict[str, torch.Tensor]:
            return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}

        self.model.load_state_dict(group("model."))
        best = group("best.")
        self.best_state = {k: v.to(self.device) for k, v in best.items()} if best else None
        restore_optimizer(self.optimizers, tensors, state["optimizer_scalars"])
        load_task = getattr(self.task, "load_state", None)
        if load_task is not None:
            load_task(group("task."), state.get("task", {}))
        torch.set_rng_state(tensors["rng.torch"])
        if self.device.type == "cuda" and "rng.cuda" in tensors:
            torch.cuda.set_rng_state(tensors["rng.cuda"], self.device)
        self.step, self.epoch = int(state["step"]), int(state["epoch"])
        self.batch_index = int(state["batch_index"])
        self.train_time = float(state["train_time"])
        self.rows = list(state["history"])
        self.sums = {
            k: (np.asarray(v) if isinstance(v, list) else v) for k, v in state["sums"].items()
        }
        self.totals = {
            k: (np.asarray(v) if isinstance(v, list) else v) for k, v in state["totals"].items()
        }
        self.best_score, self.best_row = state["best_score"], state["best_row"]
        self.bad_evals = int(state["bad_evals"])
        self.lr_scale = float(state.get("lr_scale", 1.0))
        self.stopped = state["stopped"]
        self.last_row_time = float(state["last_row_time"])
        if self.stopped in BUDGETS:  # a larger budget now: continue
            self.stopped = None

    def _interrupted(self, exc: KeyboardInterrupt) -> TrainingInterrupted:
        where = f"step {self.step} (epoch {self.epoch_progress():.2f})"
        if self.checkpoint_dir is None:
            return TrainingInterrupted(f"interrupted at {where}; no run folder, nothing saved")
        if self.world > 1:  # writing a checkpoint needs every rank: keep the last one
            return TrainingInterrupted(
                f"interrupted at {where}; the last checkpoint in {self.checkpoint_dir} is kept; "
                "continue with --resume (resume=True)"
            )
        self.save_checkpoint(rng=self._rng_before_step)
        return TrainingInterrupted(
            f"interrupted at {where}; checkpoint written to {self.checkpoint_dir}; continue "
            "with --resume (resume=True)"
        )


def _eprint(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@contextlib.contextmanager
def _signals() -> Iterator[None]:
    """SIGTERM stops training like Ctrl-C (a checkpoint is written) in the main thread."""

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = None
    with contextlib.suppress(ValueError):  # not the main thread: leave signals alone
        if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
            previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _threads(n: int | None) -> Iterator[None]:
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def run(
    model: nn.Module,
    task: Task,
    cfg: TrainConfig,
    *,
    device: torch.device,
    checkpoint_dir: Path | None = None,
    resume: bool = False,
    progress: bool = True,
    callbacks: Sequence[Callback] = (),
    identity: dict[str, Any] | None = None,
    clock: Clock = time.perf_counter,
    extra_state: dict[str, Any] | None = None,
) -> LoopResult:
    """Train ``model`` (already on ``device``) on ``task`` with ``cfg``; see the module
    docstring. With ``checkpoint_dir``, checkpoints go there; ``resume=True`` continues from
    the one found there (``identity``, a dict of what defines the run, must match it;
    ``extra_state`` is stored beside it for the caller, e.g. a vocabulary). The
    returned model carries the best weights when ``cfg.restore_best`` (else the last ones).

    >>> # see seqlab.fit and seqlab.lm.train for the tasks that use it  # doctest: +SKIP
    """
    cfg.validate()
    loop = _Loop(
        model, task, cfg, device, checkpoint_dir, progress, callbacks, clock, identity or {}
    )
    loop.extra_state = extra_state or {}
    cuda = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda), _signals(), _threads(cfg.threads):
        torch.manual_seed(cfg.seed)  # dropout and any other in-training randomness
        if resume:
            if checkpoint_dir is None:
                raise ValueError("resume=True needs a run folder (out=...) holding checkpoint/")
            path = checkpoint_dir / STATE_FILE
            # rank 0 reads the checkpoint and sends it to every rank (no shared folder needed)
            blob = distributed.broadcast_bytes(
                path.read_bytes() if loop.main and path.is_file() else None
            )
            if blob is None:
                raise FileNotFoundError(
                    f"{path}: no checkpoint to resume from; train without --resume "
                    "(resume=False) first"
                )
            loop.load_checkpoint(blob)
        for cb in callbacks:
            cb.on_train_begin({"start_epoch": loop.epoch, "start_step": loop.step})
        loop.run()
        if checkpoint_dir is not None:
            loop.save_checkpoint()
    if cfg.restore_best and loop.best_state is not None:
        model.load_state_dict(loop.best_state)
    return LoopResult(
        history=loop.rows,
        summary=loop.summary(),
        step=loop.step,
        epoch=loop.epoch_progress(),
        train_time=loop.train_time,
        stopped=loop.stopped or "epochs",
    )
