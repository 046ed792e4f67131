"""Hooks into the training loop of :func:`seqlab.fit`.

A callback sees the loop at fixed points and may stop training by returning ``True`` from
:meth:`Callback.on_epoch_end`. Raising from a hook aborts :func:`seqlab.fit` (the last
checkpoint stays on disk, so ``resume=True`` continues from it).
"""

from __future__ import annotations

from typing import Any

__all__ = ["Callback"]


class Callback:
    """Base class; override the hooks you need (the defaults do nothing).

    ``logs`` are plain dicts: ``on_batch_end`` gets ``{"epoch", "batch", "step", "loss"}``
    (``epoch`` and ``batch`` count from 0, ``step`` counts optimizer steps since the start of
    training), ``on_epoch_end`` gets the epoch's metrics (``loss``, ``accuracy``,
    ``val_loss``, ...).

    >>> class StopAtHalf(Callback):
    ...     def on_epoch_end(self, epoch, logs):
    ...         return logs["accuracy"] > 0.5
    """

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        """Called once, after data preparation (``logs``: sizes, start epoch)."""

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any]) -> None:
        """Called before the first batch of ``epoch`` (0-based)."""

    def on_batch_end(self, step: int, logs: dict[str, Any]) -> None:
        """Called after every optimizer step."""

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> bool | None:
        """Called after validation of ``epoch``, before its checkpoint; return True to stop."""
        return None

    def on_train_end(self, logs: dict[str, Any]) -> None:
        """Called once, after the best weights are restored and the run folder is written."""
