"""A transformer encoder classifier: token vectors, positions, pre-norm self-attention blocks.

::

    tokens (B, T) ─ Embedding ─ [Linear to d_model] ─ + positions ─ ([CLS] in front)
        └─ num_layers x ┌ x = x + Dropout(SelfAttention(LayerNorm(x)))   key padding mask
                        └ x = x + Dropout(MLP(LayerNorm(x)))             Linear-GELU-Linear
        └─ LayerNorm ─ pooling (mean | max over the tokens, or the [CLS] vector) ─ Dropout
        └─ head (B, num_classes)

Self-attention runs through :func:`torch.nn.functional.scaled_dot_product_attention`
(fused kernels, no ``(T, T)`` matrix kept where the kernel can avoid it); a boolean key
mask stops every position from attending to padding, and pooling skips padding too, so a
prediction does not depend on how much padding its batch carries. SDPA returns no weights:
:meth:`TransformerClassifier.attention_weights` computes them explicitly, with the same
projections, for inspection (:mod:`seqlab.attention`).
"""

from __future__ import annotations

import math
from typing import ClassVar, Unpack

import torch
from torch import nn

from seqlab._checks import check_choice
from seqlab.models._checks import check_dropout, check_int
from seqlab.models.embedding import ClassifierOptions, SequenceClassifier, length_mask
from seqlab.models.registry import register
from seqlab.models.sdpa import attend

__all__ = [
    "POOLINGS",
    "POSITIONS",
    "EncoderBlock",
    "LearnedPositions",
    "SelfAttention",
    "SinusoidalPositions",
    "TransformerClassifier",
    "sinusoidal_table",
]

POSITIONS = ("sinusoidal", "learned")
POOLINGS = ("mean", "max", "first")


def sinusoidal_table(steps: int, dim: int, device: torch.device | None = None) -> torch.Tensor:
    """Vaswani et al.'s fixed positions ``(steps, dim)``: ``PE[t, 2i] = sin(t / 10000^(2i/dim))``,
    ``PE[t, 2i + 1] = cos(t / 10000^(2i/dim))`` (an odd ``dim`` drops the last cosine).

    >>> table = sinusoidal_table(3, 4)  # rows: positions 0, 1, 2
    >>> torch.allclose(table[:, 0], torch.tensor([0.0, math.sin(1.0), math.sin(2.0)]))
    True
    """
    t = torch.arange(steps, device=device, dtype=torch.float32).unsqueeze(1)  # (T, 1)
    i = torch.arange(0, dim, 2, device=device, dtype=torch.float32)  # (ceil(dim / 2),)
    angle = t / torch.pow(10_000.0, i / dim)  # (T, ceil(dim / 2))
    table = torch.empty(steps, dim, device=device)
    table[:, 0::2] = torch.sin(angle)
    table[:, 1::2] = torch.cos(angle[:, : dim // 2])
    return table


class SinusoidalPositions(nn.Module):
    """Adds ``scale * sinusoidal_table(T, dim)`` to ``x (B, T, dim)``; ``scale`` is one learned
    number (no table: any length works)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim
        self.scale = nn.Parameter(torch.tensor(1.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        table = sinusoidal_table(x.shape[1], self.dim, x.device)
        return x + self.scale * table.to(x.dtype)  # (B, T, dim)


class LearnedPositions(nn.Module):
    """Adds row ``t`` of a learned ``(max_length, dim)`` table to step ``t`` of ``x``."""

    def __init__(self, max_length: int, dim: int) -> None:
        super().__init__()
        self.max_length = max_length
        self.weight = nn.Parameter(torch.randn(max_length, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        steps = x.shape[1]
        if steps > self.max_length:
            raise ValueError(
                f"a sequence of {steps} tokens is longer than max_length={self.max_length}, "
                "the positions='learned' table; cut texts to at most that many tokens "
                f"(truncate={self.max_length}), build the model with a larger max_length, or "
                "use positions='sinusoidal'"
            )
        return x + self.weight[:steps].to(x.dtype)  # (B, T, dim)


class SelfAttention(nn.Module):
    """Multi-head self-attention: one fused ``q, k, v`` projection, ``num_heads`` heads of
    ``d_model / num_heads`` dimensions, an output projection.

    ``keep`` is a boolean ``(B, 1, 1, T)`` key mask (True: the key may be attended to).
    """

    def __init__(self, d_model: int, num_heads: int, dropout: float) -> None:
        super().__init__()
        self.num_heads, self.head_dim, self.p = num_heads, d_model // num_heads, dropout
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)

    def _split(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        b, t, _ = x.shape
        qkv = self.qkv(x).view(b, t, 3, self.num_heads, self.head_dim)  # (B, T, 3, H, Dh)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, H, T, Dh)
        return q, k, v

    def _merge(self, y: torch.Tensor) -> torch.Tensor:
        b, h, t, dh = y.shape
        return self.out(y.transpose(1, 2).reshape(b, t, h * dh))  # (B, T, D)

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        q, k, v = self._split(x)
        p = self.p if self.training else 0.0
        y = attend(q, k, v, attn_mask=keep, dropout_p=p)
        return self._merge(y)

    def explicit(self, x: torch.Tensor, keep: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`forward` without SDPA and without attention dropout: the output and the
        weights ``softmax(q k^T / sqrt(head_dim))`` ``(B, H, T, T)``, 0 on masked keys."""
        q, k, v = self._split(x)
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.head_dim)  # (B, H, T, T)
        weights = scores.masked_fill(~keep, float("-inf")).softmax(dim=-1)
        return self._merge(weights @ v), weights


class EncoderBlock(nn.Module):
    """Pre-norm encoder block: ``x + attention(norm1(x))``, then ``x + mlp(norm2(x))``; the
    MLP is ``Linear(d_model, dim_feedforward) -> GELU -> Linear(dim_feedforward, d_model)``.
    Dropout on both branches before they are added; ``attention_dropout`` on the attention
    weights (``None``: ``dropout``)."""

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        dim_feedforward: int,
        dropout: float,
        attention_dropout: float | None = None,
    ):
        super().__init__()
        self.norm1 = nn.LayerNorm(d_model)
        p = dropout if attention_dropout is None else attention_dropout
        self.attention = SelfAttention(d_model, num_heads, p)
        self.norm2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(
            nn.Linear(d_model, dim_feedforward), nn.GELU(), nn.Linear(dim_feedforward, d_model)
        )
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        x = x + self.dropout(self.attention(self.norm1(x), keep))
        return x + self.dropout(self.mlp(self.norm2(x)))  # (B, T, D)

    def explicit(self, x: torch.Tensor, keep: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`forward` through :meth:`SelfAttention.explicit`: the output and the weights."""
        y, weights = self.attention.explicit(self.norm1(x), keep)
        x = x + self.dropout(y)
        return x + self.dropout(self.mlp(self.norm2(x))), weights


@register("transformer")
class TransformerClassifier(SequenceClassifier):
    """A transformer encoder over the token vectors, pooled into one vector for the head.

    Options (besides those of every sequence classifier: ``embedding_dim``, ``pretrained``,
    ``freeze``, ``input_size``, ``dropout``, ``seed``, ``init``, ``head``):

    * ``d_model``: the width of the blocks; by default the embedding width (or 32 for
      numeric input). Token vectors of another width are projected to it by a linear layer.
      It must be a multiple of ``num_heads``.
    * ``num_layers`` pre-norm blocks (see the module docstring) of ``num_heads`` heads, with
      an MLP of ``dim_feedforward`` units (default ``4 * d_model``, as in Vaswani et al.).
    * ``dropout`` (default 0.1): on the vectors entering the first block, on the attention
      weights, on both branches of every block and on the pooled vector.
    * ``attention_dropout``: dropout on the attention weights alone, when it should differ
      from ``dropout`` (``None``, the default: ``dropout``). On a CPU the random mask over
      every pair of positions is the costliest part of a long-text training step: at 256
      tokens, 64 texts, 2 blocks of 100, ``attention_dropout=0`` made a step about 2x faster.
    * ``word_dropout`` (default 0): in training, each token is left out of the text with this
      probability, as if it were padding (attention and pooling skip it; a text keeps at
      least one token): Iyyer et al.'s (2015) word dropout. It keeps the model from leaning
      on a few words (on IMDB: the names of the movies that the training reviews share).
    * ``positions``: ``"sinusoidal"`` (the default) adds Vaswani et al.'s fixed sin/cos
      vectors times one learned scale. It has no table, so it reads any length: seqlab
      batches texts by length bucket and a run's ``truncate`` can be raised (or a text at
      prediction time be longer than every training text) without a position the model has
      never seen a vector for; nearby positions get similar vectors from the start.
      ``"learned"`` adds a learned vector per position from a ``(max_length, d_model)``
      table; a longer sequence is a ValueError naming the fixes. ``max_length`` (default
      512) is used by ``"learned"`` only.
    * ``pooling``: ``"mean"`` (default) or ``"max"`` over the true tokens (padding never
      counts), or ``"first"``: a learned ``[CLS]`` vector is put in front of every sequence
      (at no position: it gets no position vector), attends to the tokens like any other
      step, and its final vector is pooled (BERT's classification token; the sequence's
      first real token is not used, as nothing makes it special).

    Positions start at the size of the token vectors: the learned table's entries, the
    sinusoidal scale and the ``[CLS]`` vector are set to the root mean square of the
    token vectors that enter the first block (the embedding table, projected if
    ``d_model`` differs; 1 for numeric input). Pretrained word vectors are often far smaller
    than 1 per component, and unit-sized position vectors would drown them.

    ``embedding_dim`` defaults to 64, or to the width of ``pretrained``.

    >>> m = TransformerClassifier(vocab_size=100, embedding_dim=16, num_heads=2)
    >>> m(tokens=torch.tensor([[3, 4, 5], [6, 0, 0]]), lengths=torch.tensor([3, 1])).shape
    torch.Size([2, 2])
    >>> [w.shape for w in m.attention_weights(tokens=torch.tensor([[3, 4, 5]]))]
    [torch.Size([1, 2, 3, 3]), torch.Size([1, 2, 3, 3])]
    """

    default_embedding_dim = 64
    #: Width of the blocks for numeric input (``input_size``) when ``d_model`` is not given.
    numeric_d_model: ClassVar[int] = 32

    def __init__(
        self,
        *,
        d_model: int | None = None,
        num_layers: int = 2,
        num_heads: int = 4,
        dim_feedforward: int | None = None,
        dropout: float = 0.1,
        attention_dropout: float | None = None,
        word_dropout: float = 0.0,
        positions: str = "sinusoidal",
        max_length: int = 512,
        pooling: str = "mean",
        **options: Unpack[ClassifierOptions],
    ) -> None:
        super().__init__()
        num_layers = check_int("num_layers", num_layers, minimum=1)
        num_heads = check_int("num_heads", num_heads, minimum=1)
        max_length = check_int("max_length", max_length, minimum=1)
        positions = check_choice("positions", positions, POSITIONS)
        pooling = check_choice("pooling", pooling, POOLINGS)
        if attention_dropout is not None:
            attention_dropout = check_dropout(attention_dropout, "attention_dropout")
        word_dropout = check_dropout(word_dropout, "word_dropout")
        own: dict = {}  # filled once d_model is known (it may come from the embeddings)
        with self._building(dropout, own, options) as add_head:
            width = self._d_model(d_model, num_heads)
            ff = dim_feedforward if dim_feedforward is not None else 4 * width
            ff = check_int("dim_feedforward", ff, minimum=1)
            own.update(
                d_model=width, num_layers=num_layers, num_heads=num_heads,
                dim_feedforward=ff, positions=positions, max_length=max_length,
                pooling=pooling,
            )  # fmt: skip
            if attention_dropout is not None:  # absent: as dropout (older run folders too)
                own["attention_dropout"] = attention_dropout
            if word_dropout:  # absent: 0 (older run folders too)
                own["word_dropout"] = word_dropout
            # No projection when the token vectors already have the blocks' width.
            fits = self.feature_size == width
            self.project = None if fits else nn.Linear(self.feature_size, width)
            self.positions = (
                LearnedPositions(max_length, width)
                if positions == "learned"
                else SinusoidalPositions(width)
            )
            self.cls = nn.Parameter(torch.randn(width)) if pooling == "first" else None
            self.blocks = nn.ModuleList(
                EncoderBlock(width, num_heads, ff, float(dropout), attention_dropout)
                for _ in range(num_layers)
            )
            self.norm = nn.LayerNorm(width)
            add_head(width)
        self.d_model, self.pooling, self.word_dropout = width, pooling, float(word_dropout)
        self.max_length = max_length if positions == "learned" else None
        self._scale_positions()

    def _d_model(self, d_model: int | None, num_heads: int) -> int:
        if d_model is None:
            width = self.numeric_d_model if self.input_size is not None else self.feature_size
            source = "the embedding width" if self.input_size is None else "the numeric default"
        else:
            width, source = check_int("d_model", d_model, minimum=1), "d_model"
        if width % num_heads:
            lower = max(h for h in range(1, num_heads + 1) if width % h == 0)
            raise ValueError(
                f"d_model={width} ({source}) is not a multiple of num_heads={num_heads}; use "
                f"num_heads={lower} (or another divisor of {width}), or give d_model="
                f"{width + num_heads - width % num_heads} (token vectors are then projected)"
            )
        return width

    def _scale_positions(self) -> None:
        """Positions and [CLS] at the root mean square of the vectors entering the blocks."""
        with torch.no_grad():
            rms = 1.0
            if self.embedding is not None:
                table = self.embedding.weight[1:]  # without the padding row
                if self.project is not None:
                    table = self.project(table)
                rms = float(table.pow(2).mean().sqrt()) if table.numel() else 1.0
            rms = rms if math.isfinite(rms) and rms > 0 else 1.0
            if isinstance(self.positions, LearnedPositions):
                w = self.positions.weight
                w.mul_(rms / float(w.pow(2).mean().sqrt().clamp(min=1e-12)))
            else:
                self.positions.scale.fill_(rms)
            if self.cls is not None:
                self.cls.mul_(rms / float(self.cls.pow(2).mean().sqrt().clamp(min=1e-12)))

    @property
    def num_layers(self) -> int:
        return len(self.blocks)

    @property
    def num_heads(self) -> int:
        return self.blocks[0].attention.num_heads

    def _stream(
        self, x: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The vectors entering the first block ``(B, T + c, D)`` (``c = 1`` with a [CLS]),
        the key mask ``(B, 1, 1, T + c)`` and the token mask ``(B, T)``."""
        lengths = lengths.to(x.device)
        tokens = length_mask(lengths, x.shape[1])  # (B, T)
        if self.training and self.word_dropout > 0:
            kept = tokens & (torch.rand(tokens.shape, device=x.device) >= self.word_dropout)
            kept[:, 0] |= ~kept.any(dim=1)  # a text keeps at least its first token
            tokens = kept
        h = self.project(x) if self.project is not None else x
        h = self.positions(h)  # (B, T, D)
        keep = tokens
        if self.cls is not None:
            cls = self.cls.to(h.dtype).expand(h.shape[0], 1, -1)  # (B, 1, D)
            h = torch.cat([cls, h], dim=1)
            keep = torch.cat([tokens.new_ones(tokens.shape[0], 1), tokens], dim=1)
        return self.dropout(h), keep[:, None, None, :], tokens

    def forward_embedded(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        h, keep, tokens = self._stream(x, lengths)
        for block in self.blocks:
            h = block(h, keep)
        return self._head(h, tokens)

    def _head(self, h: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        h = self.norm(h)  # (B, T + c, D)
        if self.pooling == "first":
            pooled = h[:, 0]  # the [CLS] vector
        elif self.pooling == "max":
            pooled = h.masked_fill(~tokens.unsqueeze(-1), float("-inf")).amax(dim=1)
        else:
            total = h.masked_fill(~tokens.unsqueeze(-1), 0.0).sum(dim=1)
            pooled = total / tokens.sum(dim=1, keepdim=True).to(h.dtype)  # (B, D)
        return self._logits(self.dropout(pooled))  # (B, num_classes)

    def attention_weights(
        self,
        tokens: torch.Tensor | None = None,
        lengths: torch.Tensor | None = None,
        values: torch.Tensor | None = None,
    ) -> list[torch.Tensor]:
        """The attention weights of every layer: a list of ``num_layers`` tensors
        ``(B, num_heads, T', T')``, row ``i`` the weights that step ``i`` gives each step
        (rows sum to 1). ``T'`` is the longest length in the batch, plus 1 with
        ``pooling="first"`` (step 0 is then the ``[CLS]`` vector). Weights on padded keys
        are 0, and rows of padded steps are all 0.

        Computed explicitly from the same projections as the forward pass (which uses SDPA
        and keeps no weights), before attention dropout; the model's mode applies to the
        rest (call ``model.eval()`` first for the weights behind its predictions).
        """
        data, lengths = self.checked_input(tokens=tokens, lengths=lengths, values=values)
        h, keep, _ = self._stream(self._vectors(data, lengths), lengths)
        rows = keep.squeeze(1).unsqueeze(-1)  # (B, 1, T', 1): the steps that are real
        out = []
        for block in self.blocks:
            h, weights = block.explicit(h, keep)
            out.append(weights.masked_fill(~rows, 0.0))
        return out

    def forward_explicit(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """:meth:`forward_embedded` with the attention computed from explicit weights (the
        ones :meth:`attention_weights` returns) instead of SDPA: the same logits."""
        h, keep, tokens = self._stream(x, lengths)
        for block in self.blocks:
            h, _ = block.explicit(h, keep)
        return self._head(h, tokens)
