"""Training: the one loop (:mod:`~seqlab.training.loop`) with its task protocol, the
classification task and ``fit``, optimizers and schedules, checkpoints, callbacks, the
one-call classifier trainer, DDP helpers and TensorBoard logs.

Every submodule is imported here, so ``seqlab.training.classify.train_classifier`` and
``seqlab.training.fit`` both work after ``import seqlab.training`` (this imports torch).
Metrics and learning curves live below training (:mod:`seqlab.metrics`,
:mod:`seqlab.curves`, used by the run folders of :mod:`seqlab.runs`); ``metrics`` and
``plots`` here re-export them.

>>> import seqlab.training
>>> seqlab.training.fit is seqlab.training.trainer.fit
True
"""

from __future__ import annotations

from seqlab._utils import public_dir
from seqlab.training import (
    callbacks,
    checkpoint,
    classification,
    classify,
    distributed,
    loop,
    metrics,
    optim,
    plots,
    tensorboard,
    trainer,
)
from seqlab.training.callbacks import Callback
from seqlab.training.classify import train_classifier
from seqlab.training.loop import Task, TrainConfig
from seqlab.training.tensorboard import TensorBoardLogger
from seqlab.training.trainer import fit

__all__ = [
    "Callback",
    "Task",
    "TensorBoardLogger",
    "TrainConfig",
    "callbacks",
    "checkpoint",
    "classification",
    "classify",
    "distributed",
    "fit",
    "loop",
    "metrics",
    "optim",
    "plots",
    "tensorboard",
    "train_classifier",
    "trainer",
]

__dir__ = public_dir(__all__)
