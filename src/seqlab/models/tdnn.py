"""Time-delay neural network (Waibel, Hanazawa, Hinton, Shikano & Lang, 1989).

A TDNN unit sees its input at the current step and at a few delayed steps, with the same
weights at every step (shift invariance). Stacking such layers widens the window the top
units see. Here layer ``i`` sees the layer below at delays ``0, d_i, 2 d_i, ...,
(k_i - 1) d_i`` — a 1-D convolution of width ``k_i`` and dilation ``d_i`` — and the delays
grow from layer to layer (1, 2, 4 by default), so three layers of width 3 cover 15 steps::

    layer 3   o . . . o . . . o            delays 0, 4, 8
    layer 2   o . o . o . o . o ...        delays 0, 2, 4
    layer 1   o o o o o o o o o o ...      delays 0, 1, 2
    input     x x x x x x x x x x x x x x x

The output layer integrates the evidence over time, as in the paper (``pooling="mean"``;
``"max"`` is the alternative), and a dense layer gives the logits. The same network reads
token ids (through an embedding) or numeric sequences (``input_size=F``).

Only windows that lie fully inside a sequence are pooled, and sequences shorter than the
receptive field are extended with zero vectors up to it, so padding never changes a
prediction.
"""

from __future__ import annotations

from typing import Unpack

import torch
from torch import nn

from seqlab._checks import check_choice
from seqlab.models._checks import check_int_list
from seqlab.models.cnn import extend_to, masked_max
from seqlab.models.embedding import ClassifierOptions, SequenceClassifier, length_mask
from seqlab.models.registry import register

__all__ = ["TDNNClassifier"]

POOLINGS = ("mean", "max")
ACTIVATIONS = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid}


@register("tdnn")
class TDNNClassifier(SequenceClassifier):
    """Time-delay neural network: stacked dilated 1-D convolutions, pooled over time.

    ``channels[i]`` units in layer ``i``, each with ``kernel_sizes[i]`` delayed copies of
    the layer below spaced ``dilations[i]`` steps apart (the three lists must have the same
    length). ``activation`` is ``"relu"``, ``"tanh"`` or ``"sigmoid"`` (the 1989 paper used
    sigmoids). The receptive field is ``1 + sum((k_i - 1) * d_i)`` steps (15 by default).
    ``embedding_dim`` defaults to 64, or to the width of ``pretrained``.

    >>> m = TDNNClassifier(vocab_size=100, embedding_dim=16, num_classes=3)
    >>> m(tokens=torch.randint(1, 100, (2, 30)), lengths=torch.tensor([30, 4])).shape
    torch.Size([2, 3])
    >>> TDNNClassifier(input_size=16)(values=torch.randn(1, 50, 16)).shape
    torch.Size([1, 2])
    """

    default_embedding_dim = 64

    def __init__(
        self,
        *,
        channels: list[int] | tuple[int, ...] = (64, 64, 64),
        kernel_sizes: list[int] | tuple[int, ...] = (3, 3, 3),
        dilations: list[int] | tuple[int, ...] = (1, 2, 4),
        activation: str = "relu",
        pooling: str = "mean",
        dropout: float = 0.0,
        **options: Unpack[ClassifierOptions],
    ) -> None:
        super().__init__()
        channels = check_int_list("channels", channels, minimum=1)
        kernel_sizes = check_int_list("kernel_sizes", kernel_sizes, minimum=1)
        dilations = check_int_list("dilations", dilations, minimum=1)
        if not len(channels) == len(kernel_sizes) == len(dilations):
            raise ValueError(
                "channels, kernel_sizes and dilations give one value per layer and must have "
                f"the same length; got {len(channels)}, {len(kernel_sizes)} and "
                f"{len(dilations)} values"
            )
        own = {
            "channels": channels,
            "kernel_sizes": kernel_sizes,
            "dilations": dilations,
            "activation": check_choice("activation", activation, tuple(ACTIVATIONS)),
            "pooling": check_choice("pooling", pooling, POOLINGS),
        }
        with self._building(dropout, own, options) as add_head:
            sizes = [self.feature_size, *channels]
            self.layers = nn.ModuleList(
                nn.Conv1d(sizes[i], sizes[i + 1], kernel_sizes[i], dilation=dilations[i])
                for i in range(len(channels))
            )
            add_head(channels[-1])
        self.activation, self.pooling = ACTIVATIONS[activation], pooling
        self.receptive_field = 1 + sum((k - 1) * d for k, d in zip(kernel_sizes, dilations))
        self.min_length = self.receptive_field  # shorter sequences are extended to it

    def forward_embedded(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        x, lengths = extend_to(x, lengths, self.min_length)
        h = x.transpose(1, 2)  # (B, D, T)
        for layer in self.layers:
            h = self.dropout(self.activation(layer(h)))  # (B, C, T - (k - 1) d)
        # Output step t sees input steps [t, t + receptive_field): valid if inside the sequence.
        valid = lengths - self.receptive_field + 1
        if self.pooling == "max":
            pooled = masked_max(h, valid)
        else:
            mask = length_mask(valid, h.shape[-1]).unsqueeze(1)  # (B, 1, T')
            pooled = h.masked_fill(~mask, 0.0).sum(dim=-1) / valid.unsqueeze(1).to(h.dtype)
        return self._logits(pooled)  # (B, num_classes)
