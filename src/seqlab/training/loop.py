"""The one training loop: every task (classifier, language model, series) trains here.

A task says what its batches are, what its loss is and how it is evaluated (:class:`Task`);
the loop owns everything else, the same way for every task:

* the **budget**: ``epochs``, ``steps`` and ``minutes`` of training time; training stops at
  the first one reached (``TrainConfig.fraction``);
* the **optimizer** (:func:`seqlab.training.optim.build_optimizers`), the **learning-rate
  schedule** (constant, step, linear, cosine with warm-up, slanted triangular; its clock is
  the share of the budget used) and **gradient clipping** (``clip_grad_norm``);
* ULMFiT's fine-tuning, for a model with layer groups: **discriminative rates** (each param
  group's rate is the scheduled one times its ``lr_scale``) and **gradual unfreezing**
  (epoch ``e`` trains the top ``e + 1`` groups: :func:`seqlab.training.optim.unfreeze_for_epoch`);
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
* **precision**: ``precision="bf16"`` runs the forward passes (training loss and
  validation) under ``torch.autocast`` in bfloat16 on the run's device; weights, gradients
  and the optimizer stay float32;
* **weight averaging**: with ``ema``, a moving average of the weights
  (:mod:`seqlab.training.ema`) is what evaluation, selection and the returned model use;
* the **history**: one row per evaluation with ``epoch``, ``step``, ``time_s`` (training
  seconds so far), ``train_time_s`` / ``wall_time_s`` (since the previous row), ``lr``, the
  training metrics (``loss``, ...) and the validation metrics (``val_loss``, ...).

Time is read from an injectable ``clock`` (seconds, monotonic), so budgets can be tested
without depending on the machine's speed.
"""

from __future__ import annotations

import contextlib
import functools
import math
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from seqlab.training import distributed, protocol
from seqlab.training.callbacks import Callback
from seqlab.training.checkpoint import STATE_FILE, restore_loop, save_loop
from seqlab.training.divergence import DivergenceGuard
from seqlab.training.ema import WeightAverage
from seqlab.training.optim import build_optimizers, lr_at, unfreeze_for_epoch
from seqlab.training.protocol import (
    Clock,
    LoopResult,
    Task,
    TrainConfig,
    TrainingDiverged,
    TrainingInterrupted,
    history_dict,  # noqa: F401 - re-exported, see __all__
    history_rows,  # noqa: F401
    run_summary,
)
from seqlab.training.runtime import eprint, sigterm_as_interrupt, torch_threads

# The protocol's names (the loop's vocabulary) import from here too.
_NOT_HERE = ("BUDGETS", "PRECISIONS", "run_summary")
__all__ = [name for name in protocol.__all__ if name not in _NOT_HERE] + ["run"]


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
            model,
            cfg.optimizer,
            lr=cfg.lr,
            weight_decay=cfg.weight_decay,
            layer_lr_decay=cfg.layer_lr_decay,
            layered=cfg.gradual_unfreezing,
        )
        self.checkpoint_dir = checkpoint_dir
        self.callbacks = callbacks
        self.clock = clock
        self.identity = identity
        self.world = distributed.world_size()
        self.main = distributed.is_main()
        self.progress = progress and self.main
        self.bar_ok = self.progress and sys.stderr.isatty()
        # bf16: forward passes (loss and validation) under autocast; float32 weights
        self.autocast = functools.partial(
            torch.autocast,
            device_type=device.type,
            dtype=torch.bfloat16,
            enabled=cfg.precision == "bf16",
        )
        self.monitor = cfg.monitor or ("val_loss" if task.has_validation else "loss")
        # state
        self.step = 0
        self.epoch = 0  # epochs finished
        self.batch_index = 0  # batches done in the current epoch
        self.train_time = 0.0  # seconds of training steps
        self.history: list[dict[str, Any]] = []
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
        self.threads_used = torch.get_num_threads()
        self.divergence = DivergenceGuard(self.world)
        self.ema = WeightAverage(model, cfg.ema) if cfg.ema is not None else None

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
        if cfg.evaluate_at_start and not self.history:
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
                if self.checkpoint_dir is not None and self._checkpoint_due():
                    self.save_checkpoint()
        except KeyboardInterrupt as exc:
            if bar is not None:
                bar.close()
            raise self._interrupted(exc) from None
        if bar is not None:
            bar.close()
        if not self.history or self.history[-1]["step"] != self.step or self.sums:
            self.evaluate()

    def _epoch_items(self) -> Iterator[Any]:
        if self.batch_index == 0:  # not when resumed in the middle of the epoch
            for cb in self.callbacks:
                cb.on_epoch_begin(self.epoch, {})
        if self.cfg.gradual_unfreezing:  # a function of the epoch: a resumed run does the same
            unfreeze_for_epoch(self.optimizers, self.epoch)
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
        with self.autocast():
            loss, sums = self.task.loss(self.net, batch)
        for opt in self.optimizers:
            for group in opt.param_groups:  # discriminative rates: a scale per layer group
                group["lr"] = lr * group.get("lr_scale", 1.0)
            opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.clip_grad_norm is not None:
            nn.utils.clip_grad_norm_(self.model.parameters(), cfg.clip_grad_norm)
        for opt in self.optimizers:
            opt.step()
        if self.ema is not None:
            self.ema.update(self.model)
        value = float(loss.detach())
        self._check_diverged(value)
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

    def _check_diverged(self, value: float) -> None:
        """Stop on a diverged loss (:mod:`seqlab.training.divergence`), naming the step."""
        what = self.divergence.check(value)
        if what is not None:
            raise TrainingDiverged(
                f"the training loss {what} at step {self.step + 1} (epoch {self.epoch + 1}, "
                f"batch {self.batch_index + 1}) with lr={self.cfg.lr}; lower lr or set "
                "clip_grad_norm"
            )

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

    def _checkpoint_due(self) -> bool:
        due = self.clock() - self.last_checkpoint_wall >= self.cfg.checkpoint_every
        if self.world > 1:  # every rank takes part in a checkpoint: rank 0's clock decides
            due = distributed.broadcast_float(1.0 if due else 0.0) > 0.5
        return due

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
        sums = distributed.all_reduce_sums(self.sums) if self.world > 1 else self.sums
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
            with self.evaluated_weights(), self.autocast():
                metrics = self.task.evaluate(self.model, "val")
            row.update({f"val_{k}": v for k, v in metrics.items()})
        self.sums = {}
        self.last_row_time, self.last_row_wall = self.train_time, self.clock()
        self.history.append(row)
        self._select(row)
        for cb in self.callbacks:
            cb.on_evaluate(self.step, dict(row))
        if self.progress:
            describe = getattr(self.task, "describe", None)
            line = describe(row, self.cfg) if describe is not None else self._describe(row)
            (tqdm.write if self.bar_ok else eprint)(line)
        return row

    def evaluated_weights(self) -> contextlib.AbstractContextManager[None]:
        """The model holds the weights to evaluate inside: the average with ``ema``, else its own."""
        return self.ema.applied(self.model) if self.ema is not None else contextlib.nullcontext()

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
            self.best_score, self.best_row, self.bad_evals = float(score), len(self.history) - 1, 0
            if self.cfg.restore_best:
                state = self.model.state_dict() if self.ema is None else self.ema.shadow
                self.best_state = {k: v.detach().clone() for k, v in state.items()}
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
                if self.ema is not None:  # the average restarts from the best weights too
                    self.ema.load(self.best_state, self.ema.updates)
                self.lr_scale *= cfg.lr_decay

    def summary(self) -> dict[str, Any]:
        """metrics.json: the best evaluation and the metrics of the returned weights."""
        return run_summary(self)

    # ---- checkpoints (see seqlab.training.checkpoint) -----------------------------------
    def save_checkpoint(self, rng: torch.Tensor | None = None) -> None:
        save_loop(self, rng)

    def load_checkpoint(self, blob: bytes) -> None:
        restore_loop(self, blob)

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
    vocabulary: Sequence[str] | None = None,
) -> LoopResult:
    """Train ``model`` (already on ``device``) on ``task`` with ``cfg``; see the module
    docstring. With ``checkpoint_dir``, checkpoints go there; ``resume=True`` continues from
    the one found there (``identity``, a dict of what defines the run, must match it;
    ``extra_state`` is stored beside it for the caller, e.g. a vocabulary). The
    returned model carries the best weights when ``cfg.restore_best`` (else the last ones);
    ``callbacks`` get ``vocabulary`` (a text task's id -> token) with the model.

    >>> # see seqlab.fit and seqlab.lm.train for the tasks that use it  # doctest: +SKIP
    """
    cfg.validate()
    if cfg.gradual_unfreezing and distributed.world_size() > 1:
        raise ValueError("gradual_unfreezing changes which weights get gradients, which DDP "
                         "cannot follow; train on one process or drop it")  # fmt: skip
    loop = _Loop(
        model, task, cfg, device, checkpoint_dir, progress, callbacks, clock, identity or {}
    )
    loop.extra_state = extra_state or {}
    cuda = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda), sigterm_as_interrupt(), torch_threads(cfg.threads):
        torch.manual_seed(cfg.seed)  # dropout and any other in-training randomness
        loop.threads_used = torch.get_num_threads()
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
            cb.set_model(model, vocabulary)
            cb.on_train_begin({"start_epoch": loop.epoch, "start_step": loop.step})
        try:
            loop.run()
        finally:
            if cfg.gradual_unfreezing:  # the model leaves with every group trainable again
                unfreeze_for_epoch(loop.optimizers, None)
        if checkpoint_dir is not None:
            loop.save_checkpoint()
    if cfg.restore_best and loop.best_state is not None:
        model.load_state_dict(loop.best_state)
    elif loop.ema is not None:  # the last evaluation's weights: the average
        model.load_state_dict(loop.ema.shadow)
    return LoopResult(
        history=loop.history,
        summary=loop.summary(),
        step=loop.step,
        epoch=loop.epoch_progress(),
        train_time=loop.train_time,
        stopped=loop.stopped or "epochs",
    )
