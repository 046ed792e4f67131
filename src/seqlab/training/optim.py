"""Optimizers and learning-rate schedules for the training loop (:mod:`seqlab.training.loop`).

One place builds the optimizer for every task, so ``--optimizer rmsprop`` means the same
thing for a classifier, a language model and a series model: Keras's RMSprop (``rho=0.9``,
``epsilon=1e-7``), which the lecture's listings use. PyTorch's own defaults (``alpha=0.99``,
``eps=1e-8``) differ.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["OPTIMIZERS", "SCHEDULES", "build_optimizers", "lr_at"]

OPTIMIZERS = ("adam", "rmsprop", "sgd")
SCHEDULES = ("constant", "cosine", "step")


def build_optimizers(
    model: nn.Module, name: str, *, lr: float, weight_decay: float = 0.0
) -> list[torch.optim.Optimizer]:
    """The optimizer(s) for ``model``: one for dense parameters and, when an embedding layer
    was built with ``sparse=True``, one that accepts its sparse gradients.

    ``"adam"`` is ``torch.optim.Adam``; ``"rmsprop"`` is Keras's RMSprop (``rho=0.9``,
    ``epsilon=1e-7``); ``"sgd"`` has no momentum, as in Keras. ``weight_decay`` is an L2
    penalty added to the gradients.

    >>> [type(o).__name__ for o in build_optimizers(nn.Linear(2, 2), "adam", lr=1e-3)]
    ['Adam']
    """
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {name!r}")
    sparse_ids = {
        id(m.weight)
        for m in model.modules()
        if isinstance(m, nn.Embedding | nn.EmbeddingBag) and m.sparse
    }
    params = [p for p in model.parameters() if p.requires_grad]
    sparse = [p for p in params if id(p) in sparse_ids]
    dense = [p for p in params if id(p) not in sparse_ids]
    if sparse and weight_decay:
        raise ValueError(
            f"weight_decay={weight_decay} cannot be applied to sparse-gradient layers; build "
            "the model with sparse=False or use weight_decay=0"
        )
    if sparse and name == "rmsprop":
        raise ValueError(
            "optimizer='rmsprop' does not accept sparse gradients; use optimizer='adam' or "
            "'sgd', or build the model with sparse=False"
        )
    if name == "sgd":
        return [torch.optim.SGD(params, lr=lr, weight_decay=weight_decay)]
    out: list[torch.optim.Optimizer] = []
    if dense and name == "adam":
        out.append(torch.optim.Adam(dense, lr=lr, weight_decay=weight_decay))
    elif dense:
        out.append(
            torch.optim.RMSprop(dense, lr=lr, alpha=0.9, eps=1e-7, weight_decay=weight_decay)
        )
    if sparse:
        out.append(torch.optim.SparseAdam(sparse, lr=lr))
    return out


def lr_at(
    fraction: float,
    lr: float,
    schedule: str = "constant",
    *,
    warmup: float = 0.0,
    min_lr: float = 0.1,
) -> float:
    """The learning rate when ``fraction`` of the training budget is used.

    ``"constant"``: ``lr``. ``"step"``: ``lr``, x0.1 after 50 % and again after 75 %.
    ``"cosine"``: a linear warm-up over the first ``warmup`` fraction, then a half cosine from
    ``lr`` down to ``min_lr * lr``.

    >>> lr_at(0.6, 1.0, "step"), lr_at(1.0, 1.0, "cosine", min_lr=0.1)
    (0.1, 0.1)
    """
    if schedule == "constant":
        return lr
    if schedule == "step":
        return lr * (0.1 ** ((fraction >= 0.5) + (fraction >= 0.75)))
    if schedule != "cosine":
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
    if warmup > 0 and fraction < warmup:
        return lr * max(fraction / warmup, 0.01)
    span = max(1e-12, 1.0 - warmup)
    cos = 0.5 * (1.0 + math.cos(math.pi * min(1.0, (fraction - warmup) / span)))
    return lr * (min_lr + (1.0 - min_lr) * cos)
