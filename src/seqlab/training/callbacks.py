"""Hooks into the training loop of every task (:func:`seqlab.fit`, :func:`seqlab.lm.train`).

A callback sees the loop at fixed points and may stop training by returning ``True`` from
:meth:`Callback.on_epoch_end`. Raising from a hook aborts training (the last checkpoint
stays on disk, so ``resume=True`` continues from it). :class:`~seqlab.training.tensorboard.
TensorBoardLogger` is one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["Callback"]


class Callback:
    """Base class; override the hooks you need (the defaults do nothing).

    ``logs`` are plain dicts: ``on_batch_end`` gets ``{"epoch", "batch", "step", "loss"}``
    (``epoch`` and ``batch`` count from 0, ``step`` counts optimizer steps since the start of
    training), ``on_epoch_end`` gets the epoch's metrics (``loss``, ``accuracy``,
    ``val_loss``, ...).

    ``on_evaluate`` gets every row of the history as it is added (``epoch``, ``step``, ``lr``,
    the training and ``val_`` metrics: one row per evaluation, whatever the schedule), so a
    callback that mirrors it mirrors ``history.json``. Before training starts,
    :meth:`set_model` hands over the model and, for a text task, its vocabulary.

    >>> class StopAtHalf(Callback):
    ...     def on_epoch_end(self, epoch, logs):
    ...         return logs["accuracy"] > 0.5
    """

    model: Any = None
    vocabulary: list[str] | None = None

    def set_model(self, model: Any, vocabulary: Sequence[str] | None = None) -> None:
        """Called once before :meth:`on_train_begin` with the model being trained and the
        token of each of its input ids (None for a task without a vocabulary); kept as
        ``self.model`` and ``self.vocabulary``."""
        self.model = model
        self.vocabulary = None if vocabulary is None else list(vocabulary)

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        """Called once, after data preparation (``logs``: sizes, start epoch)."""

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any]) -> None:
        """Called before the first batch of ``epoch`` (0-based)."""

    def on_batch_end(self, step: int, logs: dict[str, Any]) -> None:
        """Called after every optimizer step."""

    def on_evaluate(self, step: int, logs: dict[str, Any]) -> None:
        """Called after every evaluation with the history row it added (``step``: optimizer
        steps so far)."""

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> bool | None:
        """Called after validation of ``epoch``, before its checkpoint; return True to stop."""
        return None

    def on_train_end(self, logs: dict[str, Any]) -> None:
        """Called once, after the best weights are restored and the run folder is written."""
