"""Initial weights: PyTorch's layer defaults (``init="torch"``) or Keras's (``init="keras"``).

Every model takes ``init``; with ``"torch"`` its layers keep the weights PyTorch draws when
they are built, with ``"keras"`` :func:`keras_init` draws them again the way Keras
initialises the matching layer, so that a lecture's listing starts from the same
distributions as in Keras. The default is :data:`~seqlab.defaults.DEFAULT_INIT`.

>>> lstm = nn.LSTM(8, 4)
>>> keras_init(lstm)
>>> lstm.bias_ih_l0[4:8].tolist(), lstm.bias_hh_l0.abs().sum().item()
([1.0, 1.0, 1.0, 1.0], 0.0)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from seqlab.defaults import DEFAULT_INIT, INITS

__all__ = [
    "DEFAULT_INIT",
    "EMBEDDING_LIMIT",
    "INITS",
    "check_init",
    "keras_init",
    "set_unit_forget_bias",
]

#: Keras's ``Embedding`` draws its table from U(-0.05, 0.05).
EMBEDDING_LIMIT = 0.05


def check_init(init: Any) -> str:
    """``init`` if it is ``"keras"`` or ``"torch"``; a ValueError that says what each means
    otherwise."""
    if init not in INITS:
        raise ValueError(
            f"init must be 'keras' (Keras's initialisers) or 'torch' (PyTorch's defaults), "
            f"got {init!r}"
        )
    return init


def keras_init(
    module: nn.Module, *, keep: Iterable[nn.Parameter] = (), unit_forget_bias: bool = True
) -> None:
    """Draw every weight of ``module`` again the way Keras initialises the matching layer.

    * ``nn.Embedding``: U(-0.05, 0.05), Keras's ``Embedding`` default; the padding row
      (``padding_idx``, id 0 in seqlab's classifiers) stays zero, as padding needs.
    * ``nn.Linear``, ``nn.Conv1d`` and ``nn.EmbeddingBag`` (bow-mlp's first layer, a Dense
      layer on a sparse bag): Glorot-uniform kernels, U(-l, l) with
      ``l = sqrt(6 / (fan_in + fan_out))`` (a convolution's fans include its width, as
      Keras's ``Conv1D``), zero biases.
    * ``nn.RNN``, ``nn.LSTM``, ``nn.GRU`` (every layer and direction): the input kernel is
      Glorot-uniform over the whole fused kernel, as Keras computes it: ``(input_size,
      G * hidden_size)`` with G = 1, 4, 3 gates, so ``l = sqrt(6 / (input_size + G *
      hidden_size))``; the recurrent kernel is one orthogonal ``(hidden_size, G *
      hidden_size)`` matrix (PyTorch stores its transpose, whose columns are then
      orthonormal: ``W_hh^T W_hh = I``); biases are zero, and with ``unit_forget_bias`` (Keras's
      default) an LSTM's forget-gate bias is 1 (see :func:`set_unit_forget_bias`). PyTorch's
      second bias vector ``bias_hh``, which Keras does not have, is zero.

    Parameters in ``keep`` (a pretrained embedding table) are left as they are, and a
    parameter shared by two layers (tied weights) is drawn once, by the first layer that
    holds it. Other parameters are drawn by their name: ``bias*`` zero, other matrices
    Glorot-uniform. The draws come from torch's global generator: seed it first for
    reproducible weights.

    >>> _ = torch.manual_seed(0)
    >>> dense = nn.Linear(300, 100)
    >>> keras_init(dense)
    >>> dense.weight.abs().max().item() <= (6 / 400) ** 0.5, dense.bias.abs().sum().item()
    (True, 0.0)
    """
    done = {id(p) for p in keep}
    with torch.no_grad():
        for layer in module.modules():
            for name, param in layer.named_parameters(recurse=False):
                if id(param) not in done:
                    done.add(id(param))
                    _draw(layer, name, param)
    if unit_forget_bias:
        set_unit_forget_bias(module, keep=keep)


def _draw(layer: nn.Module, name: str, param: torch.Tensor) -> None:
    if isinstance(layer, nn.Embedding):
        nn.init.uniform_(param, -EMBEDDING_LIMIT, EMBEDDING_LIMIT)
        if layer.padding_idx is not None:
            param[layer.padding_idx].zero_()
    elif name.startswith("bias"):
        param.zero_()
    elif name.startswith("weight_hh"):
        nn.init.orthogonal_(param)  # (G*H, H): the transpose of Keras's (H, G*H) kernel
    elif param.dim() >= 2:
        # PyTorch's (out, in[, width]) layout gives xavier_uniform_ Keras's fans: a Dense
        # kernel's (in, out), a Conv1D's (width*in, width*out), an RNN's fused (in, G*H).
        nn.init.xavier_uniform_(param)


def set_unit_forget_bias(module: nn.Module, *, keep: Iterable[nn.Parameter] = ()) -> None:
    """Keras's ``unit_forget_bias=True`` for every ``nn.LSTM`` in ``module``: all biases 0
    except the forget gate's ``bias_ih`` slice ``[H:2H]`` at 1 (PyTorch's gate order is i, f,
    g, o; ``bias_hh``, added to it, stays 0), so that early in training the cell keeps its
    memory instead of halving it at every step (Jozefowicz et al. 2015).

    >>> lstm = nn.LSTM(3, 2, bidirectional=True)
    >>> set_unit_forget_bias(lstm)
    >>> lstm.bias_ih_l0_reverse.tolist()
    [0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0]
    """
    kept = {id(p) for p in keep}
    with torch.no_grad():
        for layer in module.modules():
            if not isinstance(layer, nn.LSTM):
                continue
            hidden = layer.hidden_size
            for name, param in layer.named_parameters():
                if not name.startswith("bias") or id(param) in kept:
                    continue
                param.zero_()
                if name.startswith("bias_ih"):
                    param[hidden : 2 * hidden] = 1.0
