"""Optimizers and learning-rate schedules for the training loop (:mod:`seqlab.training.loop`).

One place builds the optimizer for every task, so ``--optimizer rmsprop`` means the same
thing for a classifier, a language model and a series model: Keras's RMSprop (``rho=0.9``,
``epsilon=1e-7``), which the lecture's listings use. PyTorch's own defaults (``alpha=0.99``,
``eps=1e-8``) differ.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

__all__ = ["OPTIMIZERS", "SCHEDULES", "SparseAdam", "build_optimizers", "lr_at"]

OPTIMIZERS = ("adam", "rmsprop", "sgd")
SCHEDULES = ("constant", "cosine", "linear", "step")


def build_optimizers(
    model: nn.Module, name: str, *, lr: float, weight_decay: float = 0.0
) -> list[torch.optim.Optimizer]:
    """The optimizer(s) for ``model``: one for dense parameters and, when an embedding layer
    was built with ``sparse=True``, one that accepts its sparse gradients.

    ``"adam"`` is ``torch.optim.Adam`` (:class:`SparseAdam` for sparse gradients); ``"rmsprop"`` is Keras's RMSprop (``rho=0.9``,
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
        out.append(SparseAdam(sparse, lr=lr))
    return out


class SparseAdam(torch.optim.SparseAdam):
    """``torch.optim.SparseAdam`` (the same update, state and checkpoints), stepped with
    plain index operations on the rows of the gradient instead of sparse-tensor arithmetic.

    For each row ``r`` that the sparse gradient ``g`` holds (rows it does not hold keep their
    moments and weights, "lazy" Adam)::

        m[r] += (1 - beta1) * (g[r] - m[r])        v[r] += (1 - beta2) * (g[r]**2 - v[r])
        w[r] -= lr * sqrt(1 - beta2**t) / (1 - beta1**t) * m[r] / (sqrt(v[r]) + eps)

    with ``t`` the number of steps taken, computed in the same order of operations as
    PyTorch's, so the results are equal (tested). A gradient whose row indices are already
    strictly increasing (as :class:`seqlab.models.fasttext.UniqueRowsBag` makes them) is used
    as it is; any other is coalesced first. The two moments live in one ``(N, 2, ...)``
    tensor (``exp_avg`` and ``exp_avg_sq`` are its halves), so each row's moments are read
    and written together.

    >>> w = nn.Parameter(torch.zeros(4, 2))
    >>> w.grad = torch.sparse_coo_tensor([[1, 3]], torch.ones(2, 2), (4, 2), check_invariants=True)
    >>> SparseAdam([w], lr=0.1).step()
    >>> [round(x, 4) for x in w[:, 0].tolist()]  # the first step moves each row by about lr
    [0.0, -0.1, 0.0, -0.1]
    """

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:  # type: ignore[override]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self._step_param(p, group)
        return loss

    def _step_param(self, p: torch.Tensor, group: dict[str, Any]) -> None:
        grad = p.grad
        if not grad.is_sparse:
            raise RuntimeError(
                "SparseAdam does not support dense gradients, please consider Adam instead"
            )
        state = self.state[p]
        if len(state) == 0:
            state["step"] = 0
            both = torch.zeros((p.shape[0], 2, *p.shape[1:]), dtype=p.dtype, device=p.device)
            state["exp_avg"], state["exp_avg_sq"] = both[:, 0], both[:, 1]
        state["step"] += 1
        rows, values = _rows_and_values(grad)
        if group.get("maximize", False):
            values = -values
        if values.numel() == 0:
            return
        beta1, beta2 = group["betas"]
        both = _fused_moments(state)
        old = both.index_select(0, rows)  # (U, 2, ...): both moments of the rows at once
        old_avg, old_sq = old[:, 0], old[:, 1]
        numer = values.sub(old_avg).mul_(1 - beta1).add_(old_avg)  # the new m[r]
        new_sq = values.pow(2).sub_(old_sq).mul_(1 - beta2).add_(old_sq)  # the new v[r]
        old_avg.copy_(numer)
        old_sq.copy_(new_sq)
        both.index_copy_(0, rows, old)
        denom = new_sq.sqrt_().add_(group["eps"])
        step = state["step"]
        step_size = float(group["lr"]) * math.sqrt(1 - beta2**step) / (1 - beta1**step)
        p.index_add_(0, rows, numer.div_(denom).mul_(-step_size))  # rows are distinct


def _fused_moments(state: dict[str, Any]) -> torch.Tensor:
    """Both moments as one ``(N, 2, ...)`` tensor whose halves are ``state["exp_avg"]`` and
    ``state["exp_avg_sq"]`` (views), so that a step reads and writes each row's moments in
    one go. A state loaded from a checkpoint (two separate tensors) is fused again."""
    avg, sq = state["exp_avg"], state["exp_avg_sq"]
    both = avg._base
    if both is None or sq._base is not both or both.dim() < 2 or both.shape[1] != 2:
        both = torch.stack([avg, sq], dim=1)
        state["exp_avg"], state["exp_avg_sq"] = both[:, 0], both[:, 1]
    return both


def _rows_and_values(grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The row indices ``(U,)`` and values ``(U, ...)`` of a sparse gradient with one
    entry per row: as they are when the indices are strictly increasing, else coalesced."""
    if not grad.is_coalesced():
        rows = grad._indices()[0]
        if rows.numel() > 1 and not bool((rows[1:] > rows[:-1]).all()):
            grad = grad.coalesce()
    return grad._indices()[0], grad._values()


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
    ``lr`` down to ``min_lr * lr``. ``"linear"``: from ``lr`` straight down to 0 at the end
    of the budget (fastText's schedule).

    >>> lr_at(0.6, 1.0, "step"), lr_at(1.0, 1.0, "cosine", min_lr=0.1), lr_at(0.75, 1.0, "linear")
    (0.1, 0.1, 0.25)
    """
    if schedule == "constant":
        return lr
    if schedule == "linear":
        return lr * max(0.0, 1.0 - fraction)
    if schedule == "step":
        return lr * (0.1 ** ((fraction >= 0.5) + (fraction >= 0.75)))
    if schedule != "cosine":
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
    if warmup > 0 and fraction < warmup:
        return lr * max(fraction / warmup, 0.01)
    span = max(1e-12, 1.0 - warmup)
    cos = 0.5 * (1.0 + math.cos(math.pi * min(1.0, (fraction - warmup) / span)))
    return lr * (min_lr + (1.0 - min_lr) * cos)
