"""Embedding + Flatten + Dense: the lecture's first text model (Chollet, 6.1).

Flatten needs every input to have the same number of steps, so the model works on a fixed
``maxlen``. Whatever length the batch comes in, :meth:`EmbeddingDenseClassifier.forward`
brings each sequence to exactly ``maxlen`` steps itself:

* longer sequences are truncated — ``truncating="post"`` keeps the first ``maxlen`` tokens,
  ``"pre"`` keeps the last ``maxlen`` (Keras ``pad_sequences``' default);
* shorter sequences are padded after their last token with zero vectors (post-padding, as
  the batches arrive).

Positions past a sequence's true length are always zero vectors, so extra padding in the
batch never changes a prediction. Unlike the recurrent and convolutional models, the
weights are tied to positions: a word at step 3 and the same word at step 30 use different
weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Unpack

import torch
from torch import nn

from seqlab._checks import check_choice
from seqlab.models._checks import check_int
from seqlab.models.embedding import ClassifierOptions, SequenceClassifier
from seqlab.models.registry import register

__all__ = ["EmbeddingDenseClassifier"]


@register("embedding-dense")
class EmbeddingDenseClassifier(SequenceClassifier):
    """Embedding -> Flatten over ``maxlen`` steps -> hidden Dense layers (relu) -> Dense to
    ``num_classes``, with dropout on the input of every Dense layer.

    Defaults follow the lecture: 8-d embeddings (or the width of ``pretrained``) over the
    first 20 words (``maxlen=20``), no hidden layer. ``hidden_sizes=(32,)`` adds a
    ``Dense(32, relu)`` layer, as in the lecture's GloVe model; ``head="sigmoid"`` makes the
    last layer Keras's ``Dense(1, activation="sigmoid")``.

    >>> m = EmbeddingDenseClassifier(vocab_size=100, maxlen=20)
    >>> m(tokens=torch.randint(1, 100, (3, 50)), lengths=torch.tensor([50, 20, 5])).shape
    torch.Size([3, 2])
    >>> lecture = EmbeddingDenseClassifier(vocab_size=10_000, embedding_dim=8, head="sigmoid")
    >>> sum(p.numel() for p in lecture.parameters())  # Keras: 80,161
    80161
    """

    default_embedding_dim = 8

    def __init__(
        self,
        *,
        maxlen: int = 20,
        truncating: str = "post",
        hidden_sizes: Sequence[int] = (),
        dropout: float = 0.0,
        **options: Unpack[ClassifierOptions],
    ) -> None:
        super().__init__()
        maxlen = check_int("maxlen", maxlen, minimum=1)
        truncating = check_choice("truncating", truncating, ("post", "pre"))
        hidden = [hidden_sizes] if isinstance(hidden_sizes, int) else list(hidden_sizes)
        hidden = [check_int(f"hidden_sizes[{i}]", h, minimum=1) for i, h in enumerate(hidden)]
        own = {"maxlen": maxlen, "truncating": truncating, "hidden_sizes": hidden}
        with self._building(dropout, own, options) as add_head:
            self.flatten = nn.Flatten()  # (B, maxlen, D) -> (B, maxlen * D)
            sizes = [maxlen * self.feature_size, *hidden]
            self.hidden_layers = nn.ModuleList(
                nn.Linear(sizes[i], sizes[i + 1]) for i in range(len(hidden))
            )
            add_head(sizes[-1])
        self.maxlen, self.truncating = maxlen, truncating

    def forward_embedded(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        batch, steps, dim = x.shape
        if self.truncating == "pre":
            # Keep the last maxlen true steps of each row: gather them to the front.
            start = (lengths - self.maxlen).clamp(min=0)  # (B,)
            index = start.unsqueeze(1) + torch.arange(self.maxlen, device=x.device)  # (B, L)
            inside = index < lengths.unsqueeze(1)
            index = index.clamp(max=steps - 1)
            x = x.gather(1, index.unsqueeze(-1).expand(batch, self.maxlen, dim))
            x = x.masked_fill(~inside.unsqueeze(-1), 0.0)
        elif steps >= self.maxlen:
            x = x[:, : self.maxlen]
        else:
            x = nn.functional.pad(x, (0, 0, 0, self.maxlen - steps))  # (B, maxlen, D)
        h = self.flatten(x)  # (B, maxlen * D)
        for layer in self.hidden_layers:
            h = torch.relu(layer(self.dropout(h)))  # (B, hidden)
        return self._logits(self.dropout(h))  # (B, num_classes)
