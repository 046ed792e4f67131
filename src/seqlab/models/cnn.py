"""Convolutional sequence classifiers: the lecture's Conv1D stack and Kim (2014).

Both use "valid" convolutions (no padding inside the layers, as Keras ``Conv1D`` does by
default) and keep track of how many output positions are valid for each sequence. A
position is valid when its whole receptive field lies inside the sequence's true length;
pooling looks at valid positions only, so padding never changes a prediction. A sequence
shorter than the network's receptive field is extended with zero vectors (the same vectors
padding produces) up to the minimum length, which gives the same result however much
padding the batch carries.
"""

from __future__ import annotations

from typing import Unpack

import torch
import torch.nn.functional as F
from torch import nn

from seqlab.models._checks import check_int, check_int_list
from seqlab.models.embedding import ClassifierOptions, SequenceClassifier, length_mask
from seqlab.models.registry import register

__all__ = ["CNNClassifier", "KimCNNClassifier", "extend_to", "masked_max"]


def extend_to(
    x: torch.Tensor, lengths: torch.Tensor, min_length: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad ``x (B, T, D)`` with zeros to at least ``min_length`` steps and raise every
    length to at least ``min_length`` (positions past a true length are already zero)."""
    if x.shape[1] < min_length:
        x = F.pad(x, (0, 0, 0, min_length - x.shape[1]))
    return x, lengths.clamp(min=min_length)


def masked_max(h: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Max over time of ``h (B, C, T)`` looking only at positions ``t < valid[b]`` -> ``(B, C)``."""
    mask = length_mask(valid, h.shape[-1]).unsqueeze(1)  # (B, 1, T)
    return h.masked_fill(~mask, float("-inf")).amax(dim=-1)


@register("cnn")
class CNNClassifier(SequenceClassifier):
    """The lecture's 1-D convnet (Chollet, *Deep Learning with Python*, 6.4).

    Embedding -> Conv1D(``num_filters``, ``kernel_size``, relu) -> MaxPool1D(``pool_size``)
    -> Conv1D(``num_filters``, ``kernel_size``, relu) -> global max-pool -> Dense.
    Defaults match the lecture: 32 filters of width 7, pooling by 5, 128-d embeddings.

    Sequences shorter than ``pool_size * kernel_size + kernel_size - 1`` tokens (41 with the
    defaults) are extended with zero vectors to that length, so the second convolution
    always has at least one valid window. The max-pool windows and both convolutions count
    only positions that lie fully inside the sequence (see the module docstring).

    ``input_size=F`` builds the same network for numeric sequences ``values (B, T, F)``.

    ``embedding_dim`` defaults to 128, or to the width of ``pretrained``.

    >>> m = CNNClassifier(vocab_size=100, num_classes=3)
    >>> m(tokens=torch.randint(1, 100, (4, 60)), lengths=torch.tensor([60, 50, 10, 1])).shape
    torch.Size([4, 3])
    """

    default_embedding_dim = 128

    def __init__(
        self,
        *,
        num_filters: int = 32,
        kernel_size: int = 7,
        pool_size: int = 5,
        dropout: float = 0.0,
        **options: Unpack[ClassifierOptions],
    ) -> None:
        super().__init__()
        num_filters = check_int("num_filters", num_filters, minimum=1)
        kernel_size = check_int("kernel_size", kernel_size, minimum=1)
        pool_size = check_int("pool_size", pool_size, minimum=1)
        own = {"num_filters": num_filters, "kernel_size": kernel_size, "pool_size": pool_size}
        with self._building(dropout, own, options) as add_head:
            self.conv1 = nn.Conv1d(self.feature_size, num_filters, kernel_size)
            self.pool = nn.MaxPool1d(pool_size)
            self.conv2 = nn.Conv1d(num_filters, num_filters, kernel_size)
            add_head(num_filters)
        self.kernel_size, self.pool_size = kernel_size, pool_size
        self.min_length = pool_size * kernel_size + kernel_size - 1

    def forward_embedded(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        x, lengths = extend_to(x, lengths, self.min_length)
        k, p = self.kernel_size, self.pool_size
        h = F.relu(self.conv1(x.transpose(1, 2)))  # (B, C, T - k + 1)
        h = self.pool(h)  # (B, C, (T - k + 1) // p); a window is valid if all p inputs are
        h = F.relu(self.conv2(h))  # (B, C, (T - k + 1) // p - k + 1)
        valid = (lengths - k + 1) // p - k + 1  # >= 1 thanks to min_length
        return self._logits(self.dropout(masked_max(h, valid)))  # (B, num_classes)


@register("kim-cnn")
class KimCNNClassifier(SequenceClassifier):
    """Kim (2014), "Convolutional Neural Networks for Sentence Classification".

    Parallel convolutions of widths ``kernel_sizes`` (default 3, 4, 5) with ``num_filters``
    feature maps each (default 100) and relu, max-over-time pooling of each map,
    concatenation, dropout (default 0.5) and a dense softmax layer over ``num_classes``.
    The paper's variants map onto the options: CNN-rand (no ``pretrained``), CNN-static
    (``pretrained=..., freeze=True``), CNN-non-static (``pretrained=..., freeze=False``).
    The paper's l2 max-norm constraint on the last layer is a training-time choice and is not
    part of the module.

    A sequence shorter than a filter is extended with zero vectors to the filter's width, so
    every filter has one valid window. ``embedding_dim`` defaults to 300 (the paper's
    word2vec vectors), or to the width of ``pretrained``.

    >>> m = KimCNNClassifier(vocab_size=100, embedding_dim=16, num_classes=5)
    >>> m(tokens=torch.randint(1, 100, (2, 9)), lengths=torch.tensor([9, 2])).shape
    torch.Size([2, 5])
    """

    default_embedding_dim = 300

    def __init__(
        self,
        *,
        kernel_sizes: list[int] | tuple[int, ...] = (3, 4, 5),
        num_filters: int = 100,
        dropout: float = 0.5,
        **options: Unpack[ClassifierOptions],
    ) -> None:
        super().__init__()
        kernel_sizes = check_int_list("kernel_sizes", kernel_sizes, minimum=1)
        num_filters = check_int("num_filters", num_filters, minimum=1)
        own = {"kernel_sizes": kernel_sizes, "num_filters": num_filters}
        with self._building(dropout, own, options) as add_head:
            self.convs = nn.ModuleList(
                nn.Conv1d(self.feature_size, num_filters, k) for k in kernel_sizes
            )
            add_head(num_filters * len(kernel_sizes))
        self.kernel_sizes = kernel_sizes
        self.min_length = max(kernel_sizes)  # every filter has one whole window

    def forward_embedded(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        x, _ = extend_to(x, lengths, self.min_length)
        xt = x.transpose(1, 2)  # (B, D, T)
        pooled = []
        for k, conv in zip(self.kernel_sizes, self.convs):
            h = F.relu(conv(xt))  # (B, C, T - k + 1)
            # Window t covers [t, t + k): valid if it ends inside the (extended) sequence.
            valid = (lengths - k + 1).clamp(min=1)
            pooled.append(masked_max(h, valid))  # (B, C)
        return self._logits(self.dropout(torch.cat(pooled, dim=1)))  # (B, num_classes)
