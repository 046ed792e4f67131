"""The arithmetic of one word2vec step (see :mod:`seqlab.embeddings.word2vec`), for
skip-gram and CBOW, in numpy and in PyTorch."""

from __future__ import annotations

import numpy as np
import torch

from seqlab.embeddings._w2v_batches import Group, Step

# Two backends do the same arithmetic. On the CPU, numpy: its small matrix products and
# gathers run in the calling thread, while torch's CPU kernels open an OpenMP parallel
# region per call, which on a busy machine waits for a descheduled thread (measured: 25 ms
# per call instead of 0.05 ms on a shared 2-core machine). On a GPU, torch.


def _np_apply(weights: np.ndarray, grad: np.ndarray, group: Group) -> None:
    update = group.matrix @ grad
    if group.scale is not None:
        update *= group.scale
    weights[group.unique] += update


def _np_sg_step(step: Step, syn0: np.ndarray, syn1: np.ndarray) -> None:
    # each (context row r, centre c) pair trains syn0[r] to predict syn1[c] against the
    # noise words of the block, as in word2vec's skip-gram (input = the context word)
    from scipy.special import expit

    X = syn0.take(step.xidx, axis=0)  # (b, R, D)
    T = syn1.take(step.tidx, axis=0)  # (b, C, D)
    G = np.matmul(X, T.transpose(0, 2, 1))  # (b, R, C) scores
    expit(G, out=G)
    np.subtract(step.labels, G, out=G)
    G *= step.weight  # alpha * uses * (label - sigmoid)
    D = X.shape[-1]
    _np_apply(syn0, np.matmul(G, T).reshape(-1, D), step.x_group)  # type: ignore[arg-type]
    _np_apply(syn1, np.matmul(G.transpose(0, 2, 1), X).reshape(-1, D), step.t_group)  # type: ignore[arg-type]


def _np_cbow_step(step: Step, syn0: np.ndarray, syn1: np.ndarray) -> None:
    # h_i = mean of the context rows of centre i predicts syn1[i]; as in gensim the error
    # of h_i is added in full to each of its context rows
    from scipy.special import expit

    X = syn0.take(step.xidx, axis=0)  # (b, R, D)
    T = syn1.take(step.tidx, axis=0)  # (b, C, D)
    H = np.matmul(step.ctx_mean.transpose(0, 2, 1), X)  # type: ignore[union-attr]  # (b, B, D)
    G = np.matmul(H, T.transpose(0, 2, 1))  # (b, B, C)
    expit(G, out=G)
    np.subtract(step.labels, G, out=G)
    G *= step.weight
    D = X.shape[-1]
    E = np.matmul(G, T)  # (b, B, D) error of each h_i
    _np_apply(syn0, np.matmul(step.ctx, E).reshape(-1, D), step.x_group)  # type: ignore[arg-type]
    _np_apply(syn1, np.matmul(G.transpose(0, 2, 1), H).reshape(-1, D), step.t_group)  # type: ignore[arg-type]


def _tensors(step: Step, device: torch.device) -> dict[str, torch.Tensor]:
    names = ("xidx", "tidx", "labels", "weight", "ctx_mean", "ctx")
    out = {
        name: torch.from_numpy(getattr(step, name)).to(device, non_blocking=True)
        for name in names
        if getattr(step, name) is not None
    }
    for name, group in (("x_scale", step.x_group), ("t_scale", step.t_group)):
        if group is not None and group.row_scale is not None:
            out[name] = torch.from_numpy(group.row_scale).to(device).unsqueeze(1)
    return out


def _torch_add(
    weights: torch.Tensor, ids: torch.Tensor, grad: torch.Tensor, scale: torch.Tensor | None
) -> None:
    weights.index_add_(0, ids.reshape(-1), grad if scale is None else grad * scale)


def _torch_sg_step(
    step: Step, syn0: torch.Tensor, syn1: torch.Tensor, device: torch.device
) -> None:
    t = _tensors(step, device)
    X, T = syn0[t["xidx"]], syn1[t["tidx"]]  # (b, R, D), (b, C, D)
    G = (t["labels"] - torch.bmm(X, T.transpose(1, 2)).sigmoid_()).mul_(t["weight"])
    D = X.shape[-1]
    _torch_add(syn0, t["xidx"], torch.bmm(G, T).reshape(-1, D), t.get("x_scale"))
    _torch_add(syn1, t["tidx"], torch.bmm(G.transpose(1, 2), X).reshape(-1, D), t.get("t_scale"))


def _torch_cbow_step(
    step: Step, syn0: torch.Tensor, syn1: torch.Tensor, device: torch.device
) -> None:
    t = _tensors(step, device)
    X, T = syn0[t["xidx"]], syn1[t["tidx"]]
    H = torch.bmm(t["ctx_mean"].transpose(1, 2), X)
    G = (t["labels"] - torch.bmm(H, T.transpose(1, 2)).sigmoid_()).mul_(t["weight"])
    D = X.shape[-1]
    E = torch.bmm(G, T)
    _torch_add(syn0, t["xidx"], torch.bmm(t["ctx"], E).reshape(-1, D), t.get("x_scale"))
    _torch_add(syn1, t["tidx"], torch.bmm(G.transpose(1, 2), H).reshape(-1, D), t.get("t_scale"))
