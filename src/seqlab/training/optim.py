"""Optimizers and learning-rate schedules for the training loop (:mod:`seqlab.training.loop`).

One place builds the optimizer for every task, so ``--optimizer rmsprop`` means the same
thing for a classifier, a language model and a series model: Keras's RMSprop (``rho=0.9``,
``epsilon=1e-7``), which the lecture's listings use. PyTorch's own defaults (``alpha=0.99``,
``eps=1e-8``) differ. ``adamw`` is Adam with decoupled weight decay (Loshchilov & Hutter),
the optimizer transformer recipes use.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from seqlab._checks import check_choice
from seqlab.defaults import OPTIMIZERS

__all__ = [
    "OPTIMIZERS",
    "SCHEDULES",
    "SLANTED_CUT_FRAC",
    "SLANTED_RATIO",
    "SparseAdam",
    "build_optimizers",
    "layer_groups",
    "lr_at",
    "unfreeze_for_epoch",
]

SCHEDULES = ("constant", "cosine", "linear", "step", "slanted")
# Howard & Ruder's slanted triangular rates (ULMFiT): the rise takes this share of the
# budget (when no warmup is given), and the rate starts and ends at lr / SLANTED_RATIO.
SLANTED_CUT_FRAC = 0.1
SLANTED_RATIO = 32.0


def layer_groups(model: nn.Module) -> list[list[nn.Parameter]]:
    """``model.layer_groups()`` (its parameters in groups from the input to the output, see
    :meth:`seqlab.models.embedding.SequenceClassifier.layer_groups`), checked to hold every
    parameter exactly once; a clear error for a model that has no such method.

    >>> from seqlab.models.rnn import GRUClassifier
    >>> len(layer_groups(GRUClassifier(vocab_size=9, num_layers=3)))
    5
    """
    groups_of = getattr(model, "layer_groups", None)
    if groups_of is None:
        raise ValueError(
            f"{type(model).__name__} does not divide its parameters into layer groups (no "
            "layer_groups() method), which layer_lr_decay and gradual_unfreezing work on; use "
            "a sequence classifier (lstm, gru, kim-cnn, ...) or drop those settings"
        )
    groups = [list(g) for g in groups_of()]
    seen = [id(p) for g in groups for p in g]
    if len(seen) != len(set(seen)) or set(seen) != {id(p) for p in model.parameters()}:
        raise ValueError(
            f"{type(model).__name__}.layer_groups() must name every parameter exactly once"
        )
    return groups


def _layer_index(model: nn.Module, layered: bool, decay: float) -> tuple[dict[int, int], int]:
    """(parameter id -> its layer group, number of groups); empty without layered rates."""
    if not (isinstance(decay, int | float) and math.isfinite(decay)) or not decay > 0:
        raise ValueError(
            f"layer_lr_decay must be a finite number > 0 (1: the same rate for every layer), "
            f"got {decay!r}"
        )
    if not layered and decay == 1.0:
        return {}, 1
    groups = layer_groups(model)
    return {id(p): k for k, group in enumerate(groups) for p in group}, len(groups)


def _param_groups(
    params: list[nn.Parameter], layer_of: dict[int, int], layers: int, lr: float, decay: float
) -> list[Any]:
    """``params`` as they are (one group), or one group per layer group that holds some of
    them, each with its ``lr_scale`` (``decay ** -k`` for the ``k``-th group from the top),
    its ``layer`` index (0: the input side) and the number of ``layers``."""
    if not layer_of:
        return list(params)
    out = []
    for k in range(layers):
        chosen = [p for p in params if layer_of[id(p)] == k]
        if chosen:
            scale = float(decay) ** -(layers - 1 - k)
            out.append(
                {
                    "params": chosen,
                    "lr": lr * scale,
                    "lr_scale": scale,
                    "layer": k,
                    "layers": layers,
                }
            )
    return out


def _decay_groups(groups: list[Any], weight_decay: float) -> list[dict[str, Any]]:
    """AdamW's param groups: each of ``groups`` (parameters, or dicts of layer groups) split
    into its matrices and tables (``weight_decay``) and its vectors (biases, norm gains: 0)."""
    if groups and not isinstance(groups[0], dict):
        groups = [{"params": groups}]
    out = []
    for group in groups:
        for decayed in (True, False):
            chosen = [p for p in group["params"] if (p.dim() >= 2) == decayed]
            if chosen:
                wd = weight_decay if decayed else 0.0
                out.append({**group, "params": chosen, "weight_decay": wd})
    return out


def build_optimizers(
    model: nn.Module,
    name: str,
    *,
    lr: float,
    weight_decay: float = 0.0,
    layer_lr_decay: float = 1.0,
    layered: bool = False,
) -> list[torch.optim.Optimizer]:
    """The optimizer(s) for ``model``: one for dense parameters and, when an embedding layer
    was built with ``sparse=True``, one that accepts its sparse gradients.

    ``"adam"`` is ``torch.optim.Adam`` (:class:`SparseAdam` for sparse gradients); ``"rmsprop"`` is Keras's RMSprop (``rho=0.9``,
    ``epsilon=1e-7``); ``"sgd"`` has no momentum, as in Keras. ``weight_decay`` is an L2
    penalty added to the gradients, except with ``"adamw"`` (``torch.optim.AdamW``): there
    every step shrinks each weight matrix and embedding table by ``lr * weight_decay`` times
    itself, apart from Adam's update (decoupled decay), and biases and normalisation gains
    (the parameters of one dimension) are not decayed, as in nanoGPT and BERT.

    Discriminative learning rates (ULMFiT): with ``layered=True`` or ``layer_lr_decay`` other
    than 1, the parameters are put in one param group per layer group of the model
    (:func:`layer_groups`), and the ``k``-th group from the top (the head is ``k = 0``) gets
    ``lr / layer_lr_decay ** k``: its ``"lr_scale"``, by which the training loop multiplies
    the scheduled rate at every step. Each group also records its ``"layer"`` (0: the input
    side), which :func:`unfreeze_for_epoch` reads. Frozen parameters (``requires_grad`` off,
    e.g. ``freeze=True`` vectors) stay out of every optimizer.

    >>> [type(o).__name__ for o in build_optimizers(nn.Linear(2, 2), "adam", lr=1e-3)]
    ['Adam']
    >>> from seqlab.models.rnn import LSTMClassifier
    >>> opt, = build_optimizers(LSTMClassifier(vocab_size=9), "adam", lr=1.0, layer_lr_decay=2.0)
    >>> [(g["layer"], g["lr"]) for g in opt.param_groups]
    [(0, 0.25), (1, 0.5), (2, 1.0)]
    >>> opt, = build_optimizers(nn.LayerNorm(4), "adamw", lr=1e-3, weight_decay=0.1)
    >>> [g["weight_decay"] for g in opt.param_groups]
    [0.0]
    """
    check_choice("optimizer", name, OPTIMIZERS)
    layer_of, layers = _layer_index(model, layered, layer_lr_decay)
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
    if sparse and name in ("rmsprop", "adamw"):
        raise ValueError(
            f"optimizer={name!r} does not accept sparse gradients; use optimizer='adam' or "
            "'sgd', or build the model with sparse=False"
        )

    def grouped(ps: list[nn.Parameter]) -> list[Any]:
        return _param_groups(ps, layer_of, layers, lr, layer_lr_decay)

    if name == "sgd":
        return [torch.optim.SGD(grouped(params), lr=lr, weight_decay=weight_decay)]
    out: list[torch.optim.Optimizer] = []
    if dense and name == "adam":
        out.append(torch.optim.Adam(grouped(dense), lr=lr, weight_decay=weight_decay))
    elif dense and name == "adamw":
        groups = _decay_groups(grouped(dense), weight_decay)
        out.append(torch.optim.AdamW(groups, lr=lr, weight_decay=weight_decay))
    elif dense:
        out.append(
            torch.optim.RMSprop(
                grouped(dense), lr=lr, alpha=0.9, eps=1e-7, weight_decay=weight_decay
            )
        )
    if sparse:
        out.append(SparseAdam(grouped(sparse), lr=lr))
    return out


def unfreeze_for_epoch(optimizers: list[torch.optim.Optimizer], epoch: int | None) -> int:
    """Gradual unfreezing (ULMFiT): in epoch ``epoch`` (0-based) only the top ``epoch + 1``
    layer groups of :func:`build_optimizers` (``layered=True``) train: the head alone first,
    then the head and the layer below it, and so on until every group trains; ``None``
    unfreezes all. The others get ``requires_grad`` off, so they get no gradient, and an
    optimizer skips a parameter without one (Adam's moments and step count stay as they are,
    and no weight decay applies). A function of the epoch only, so a resumed run freezes
    what the uninterrupted one froze. Returns the number of groups that train.

    >>> from seqlab.models.rnn import LSTMClassifier
    >>> model = LSTMClassifier(vocab_size=9, num_layers=2)
    >>> opts = build_optimizers(model, "adam", lr=1e-3, layered=True)
    >>> unfreeze_for_epoch(opts, 0), model.head.weight.requires_grad, model.layers[1].weight_hh_l0.requires_grad
    (1, True, False)
    >>> unfreeze_for_epoch(opts, 1), model.layers[1].weight_hh_l0.requires_grad
    (2, True)
    """
    training = 0
    for opt in optimizers:
        for group in opt.param_groups:
            if "layer" not in group:
                raise ValueError(
                    "gradual unfreezing needs optimizers built with layered=True (one param "
                    "group per layer group)"
                )
            top = group["layers"] - 1 - group["layer"]  # 0: the head
            trains = epoch is None or top <= epoch
            for p in group["params"]:
                p.requires_grad_(trains)
            training = max(training, top + 1 if trains else 0)
    return training


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
    of the budget (fastText's schedule). ``"slanted"``: Howard & Ruder's slanted triangular
    rates (ULMFiT): from ``lr / 32`` straight up to ``lr`` over the first ``warmup`` fraction
    (their ``cut_frac``; :data:`SLANTED_CUT_FRAC` = 0.1 when ``warmup`` is 0), then straight
    down to ``lr / 32`` at the end (:data:`SLANTED_RATIO` = 32)::

        p = f / cut  (f < cut),  1 - (f - cut) / (1 - cut)  (after);  lr_f = lr (1 + 31 p) / 32

    >>> lr_at(0.6, 1.0, "step"), lr_at(1.0, 1.0, "cosine", min_lr=0.1), lr_at(0.75, 1.0, "linear")
    (0.1, 0.1, 0.25)
    >>> [round(lr_at(f, 32.0, "slanted"), 6) for f in (0.0, 0.05, 0.1, 0.55, 1.0)]
    [1.0, 16.5, 32.0, 16.5, 1.0]
    >>> [round(lr_at(f, 32.0, "slanted", warmup=0.5), 6) for f in (0.25, 0.75)]
    [16.5, 16.5]
    """
    check_choice("schedule", schedule, SCHEDULES)
    if schedule == "constant":
        return lr
    if schedule == "slanted":
        cut = warmup if warmup > 0 else SLANTED_CUT_FRAC
        f = min(max(fraction, 0.0), 1.0)
        p = f / cut if f < cut else 1.0 - (f - cut) / max(1e-12, 1.0 - cut)
        return lr * (1.0 + p * (SLANTED_RATIO - 1.0)) / SLANTED_RATIO
    if schedule == "linear":
        return lr * max(0.0, 1.0 - fraction)
    if schedule == "step":
        return lr * (0.1 ** ((fraction >= 0.5) + (fraction >= 0.75)))
    # "cosine" (check_choice above let nothing else through): warm-up, then a half cosine
    if warmup > 0 and fraction < warmup:
        return lr * max(fraction / warmup, 0.01)
    span = max(1e-12, 1.0 - warmup)
    cos = 0.5 * (1.0 + math.cos(math.pi * min(1.0, (fraction - warmup) / span)))
    return lr * (min_lr + (1.0 - min_lr) * cos)
