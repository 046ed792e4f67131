"""Recurrent sequence classifiers: SimpleRNN (tanh), LSTM and GRU.

Batches are run padded, not packed, yet padding never changes a result: a layer reading
forward never sees later steps, and the reverse direction of a bidirectional layer reads
each sequence reversed within its own length. The time loop runs inside PyTorch's fused
kernels (oneDNN on the CPU, cuDNN on a GPU); batches whose sequences have similar lengths
(the trainer's length buckets) waste the least work. An LSTM on the CPU (float32) runs its
recurrence in seqlab's own compiled kernel instead (:mod:`seqlab.models._lstm_cpu`: each
sequence stops at its length; up to 64 units, 1.25-1.4x faster than ``nn.LSTM`` forward
and backward), with ``nn.LSTM`` as the fallback (no C compiler, larger layers, a GPU).

Layout of the stack (``num_layers=3, residual=True``; ``+`` is a skip connection, the
"carry" that lets the signal and its gradient bypass a layer)::

    x (B, T, D) -> layer 1 -> s1 -> layer 2 -> (+ s1) = s2 -> layer 3 -> (+ s2) = s3 -> pool

then the pooled ``(B, hidden_size * directions)`` vector goes through dropout and a dense
layer to ``num_classes`` logits.
"""

from __future__ import annotations

from typing import ClassVar, Unpack

import torch
from torch import nn

from seqlab._checks import check_choice
from seqlab.models import _lstm_cpu
from seqlab.models._checks import check_int
from seqlab.models.embedding import ClassifierOptions, SequenceClassifier, length_mask
from seqlab.models.initializers import set_unit_forget_bias
from seqlab.models.registry import register

__all__ = ["GRUClassifier", "LSTMClassifier", "RecurrentClassifier", "SimpleRNNClassifier"]

POOLINGS = ("last", "max", "mean", "concat")
_CELLS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
# The recurrent ops those modules run (``_VF.lstm`` & co.), for one direction at a time.
_RECURRENCES = {"rnn": torch.rnn_tanh, "lstm": torch.lstm, "gru": torch.gru}


class RecurrentClassifier(SequenceClassifier):
    """Shared implementation of ``"rnn"``, ``"lstm"`` and ``"gru"`` (pick one of those).

    Options:

    * ``hidden_size`` units per direction, ``num_layers`` stacked layers;
    * ``bidirectional``: each layer reads the sequence both ways, outputs are concatenated;
    * ``residual``: from the second layer on, a layer's output is added to its input (skip
      connections between stacked layers; needs ``num_layers >= 2``);
    * ``dropout``: on the input of every layer after the first and on the pooled vector;
    * ``pooling``: how the per-step outputs of the last layer become one vector —
      ``"last"``: the output at the last true step (for a bidirectional layer, the forward
      half at the last step and the backward half at the first step, i.e. both directions'
      final states); ``"max"`` / ``"mean"``: max or mean over the true steps; ``"concat"``:
      the three side by side, ``[last, max, mean]`` (ULMFiT's concat pooling; the head reads
      three times the width);
    * ``unit_forget_bias`` (LSTM only; Keras's default): the forget gate's bias starts at 1,
      the other biases at 0. ``None`` (the default) means on with ``init="keras"`` and off
      with ``init="torch"``. It helps long texts learn early; on short numeric windows at a
      high learning rate it made training diverge (a sine forecast at lr 1e-2).

    ``embedding_dim`` defaults to 32, or to the width of ``pretrained``; ``input_size=F``
    builds the same network for numeric sequences ``values (B, T, F)``.
    """

    cell: ClassVar[str]
    default_embedding_dim = 32

    def __init__(
        self,
        *,
        hidden_size: int = 32,
        num_layers: int = 1,
        bidirectional: bool = False,
        residual: bool = False,
        dropout: float = 0.0,
        pooling: str = "last",
        unit_forget_bias: bool | None = None,
        **options: Unpack[ClassifierOptions],
    ) -> None:
        super().__init__()
        hidden_size = check_int("hidden_size", hidden_size, minimum=1)
        num_layers = check_int("num_layers", num_layers, minimum=1)
        for name, flag in (("bidirectional", bidirectional), ("residual", residual)):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be True or False, got {flag!r}")
        if unit_forget_bias is not None and not isinstance(unit_forget_bias, bool):
            raise TypeError(
                f"unit_forget_bias must be True, False or None, got {unit_forget_bias!r}"
            )
        if residual and num_layers < 2:
            raise ValueError(
                f"residual=True adds skip connections between stacked layers, but num_layers="
                f"{num_layers}; use num_layers >= 2 or residual=False"
            )
        own = {
            "hidden_size": hidden_size,
            "num_layers": num_layers,
            "bidirectional": bidirectional,
            "residual": residual,
            "pooling": check_choice("pooling", pooling, POOLINGS),
        }
        directions = 2 if bidirectional else 1
        with self._building(dropout, own, options) as add_head:
            rnn_class = _CELLS[self.cell]
            # One module per layer (not nn.LSTM(num_layers=...)) so skips and dropout can
            # sit between layers; packed data flows through unchanged in layout.
            self.layers = nn.ModuleList(
                rnn_class(
                    self.feature_size if i == 0 else hidden_size * directions,
                    hidden_size,
                    batch_first=True,
                    bidirectional=bidirectional,
                )
                for i in range(num_layers)
            )
            add_head(hidden_size * directions * (3 if pooling == "concat" else 1))
        if self.cell == "lstm":
            if unit_forget_bias is None:  # Keras's default with Keras's initialisation
                unit_forget_bias = self.config["init"] == "keras"
            if unit_forget_bias:
                set_unit_forget_bias(self.layers)
            self.config["unit_forget_bias"] = unit_forget_bias
        self.hidden_size, self.bidirectional = hidden_size, bidirectional
        self.residual, self.pooling = residual, pooling

    def forward_embedded(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        # No packing: on the CPU, PyTorch's packed RNN backward costs O(T^2) per batch when
        # lengths differ (a full-size zero gradient per step), 10-30x the padded kernel's
        # time. Padded input is exact here: a forward-direction layer never sees later
        # steps, so its outputs at t < length are those of the unpadded sequence, and the
        # reverse direction reads each sequence reversed within its length (a gather), so
        # it too starts at the true last token. Positions past a length hold values that
        # nothing below reads (pooling masks them).
        lengths = lengths.to(x.device)
        fast = self.cell == "lstm" and _lstm_cpu.usable(
            x, self.hidden_size, *self.layers.parameters()
        )
        return self._run(lengths, fast, x=x)

    def forward_checked(self, data: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, num_classes)`` from checked token ids (or numeric values), as
        :meth:`SequenceClassifier.forward_checked`. An LSTM on the CPU with a trainable or
        frozen embedding table smaller than the batch takes a shortcut with the same result:
        the first layer's input product is applied to the table, ``(E W_ih^T + b)[tokens]``,
        instead of to every looked-up vector, ``E[tokens] W_ih^T + b``. Under CPU autocast
        (``precision="bf16"``) the network runs in float32: oneDNN has no bfloat16 RNN on
        CPUs without bfloat16 instructions, and the kernel is float32."""
        if data.device.type == "cpu" and torch.is_autocast_enabled("cpu"):
            with torch.autocast("cpu", enabled=False):
                return self.forward_checked(data, lengths)
        table = self.embedding.weight if self.embedding is not None else None
        if (
            table is None  # numeric input
            or self.cell != "lstm"
            or data.numel() < table.shape[0]  # few positions: looking vectors up costs less
            or not _lstm_cpu.usable(table, self.hidden_size, *self.layers.parameters())
        ):
            return super().forward_checked(data, lengths)
        return self._run(lengths.to(data.device), True, tokens=data)

    def _run(
        self,
        lengths: torch.Tensor,
        fast: bool,
        x: torch.Tensor | None = None,
        tokens: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The stack, pooling and head on vectors ``x (B, T, D)``, or (``fast`` only) on
        token ids ``(B, T)`` that the first layer projects through the embedding table."""
        steps = (x if x is not None else tokens).shape[1]
        rev = _reverse_index(lengths, steps) if self.bidirectional else None
        h = x  # (B, T, D); None when the first layer reads tokens
        for i in range(len(self.layers)):
            reads_tokens = i == 0 and tokens is not None
            inputs = tokens if reads_tokens else (self.dropout(h) if i > 0 else h)
            out = self._direction(i, inputs, lengths, fast, reverse=False)  # (B, T, H)
            if rev is not None:
                # token ids (B, T) or vectors (B, T, F), reversed within each length
                rev_in = inputs.gather(1, rev) if reads_tokens else _gather_steps(inputs, rev)
                bwd = self._direction(i, rev_in, lengths, fast, reverse=True)
                out = torch.cat([out, _gather_steps(bwd, rev)], dim=-1)  # (B, T, 2H)
            if self.residual and i > 0:
                out = out + h
            h = out
        return self._logits(self.dropout(self._pool(h, lengths)))  # (B, num_classes)

    def _direction(
        self, i: int, x: torch.Tensor, lengths: torch.Tensor, fast: bool, reverse: bool
    ) -> torch.Tensor:
        """One direction of layer ``i`` on vectors ``x (B, T, F)``, or on token ids ``(B, T)``
        (``fast`` only: the kernel reads them through the embedding table)."""
        layer = self.layers[i]
        if fast:
            weights = _weights(layer, "_reverse" if reverse else "")
            table = self.embedding.weight if x.dim() == 2 else None  # x: token ids
            return _lstm_cpu.lstm(x, lengths, *weights, table=table)
        if not self.bidirectional:
            return layer(x)[0]
        # One direction of the two-way layer: the same recurrent op nn.LSTM / nn.GRU / nn.RNN
        # call, given that direction's weights (torch.func.functional_call would do it too,
        # but it refuses to run under torch.jit.trace, which ONNX export uses).
        suffix = "_reverse"
        weights = [
            getattr(layer, name)
            for name in layer._flat_weights_names
            if name.endswith(suffix) == reverse
        ]
        zeros = x.new_zeros(1, x.shape[0], self.hidden_size)  # (1, B, H): the initial state
        state = (zeros, zeros) if self.cell == "lstm" else zeros
        # (input, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first)
        out = _RECURRENCES[self.cell](x, state, weights, True, 1, 0.0, self.training, False, True)
        return out[0]  # (B, T, H)

    def layer_groups(self) -> list[list[nn.Parameter]]:
        """The parameters bottom to top: the embedding, each recurrent layer, the head (see
        :meth:`SequenceClassifier.layer_groups`).

        >>> [len(g) for g in LSTMClassifier(vocab_size=9, num_layers=2).layer_groups()]
        [1, 4, 4, 2]
        """
        groups = [list(layer.parameters()) for layer in self.layers]
        if self.embedding is not None:
            groups.insert(0, list(self.embedding.parameters()))
        return [*groups, list(self.head.parameters())]

    def _pool(self, h: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        if self.pooling == "concat":  # (B, 3 * H * directions)
            return torch.cat([self._pool_as(p, h, lengths) for p in ("last", "max", "mean")], 1)
        return self._pool_as(self.pooling, h, lengths)

    def _pool_as(self, pooling: str, h: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        if pooling == "last":
            rows = torch.arange(h.shape[0], device=h.device)
            last = h[rows, lengths - 1]  # (B, H * directions): output at the last true step
            if not self.bidirectional:
                return last
            # The backward direction finishes reading at step 0.
            return torch.cat([last[:, : self.hidden_size], h[:, 0, self.hidden_size :]], dim=1)
        mask = length_mask(lengths, h.shape[1]).unsqueeze(-1)  # (B, T', 1)
        if pooling == "max":
            return h.masked_fill(~mask, float("-inf")).amax(dim=1)
        return h.masked_fill(~mask, 0.0).sum(dim=1) / lengths.unsqueeze(1).to(h.dtype)


def _weights(layer: nn.LSTM, suffix: str) -> tuple[torch.Tensor, ...]:
    """``(w_ih, w_hh, b_ih, b_hh)`` of one direction of a one-layer ``nn.LSTM``."""
    names = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")
    return tuple(getattr(layer, name + suffix) for name in names)


def _reverse_index(lengths: torch.Tensor, steps: int) -> torch.Tensor:
    """``(B, T)`` index reversing each row within its length (padding stays in place)."""
    t = torch.arange(steps, device=lengths.device).unsqueeze(0)  # (1, T)
    inside = t < lengths.unsqueeze(1)
    return torch.where(inside, lengths.unsqueeze(1) - 1 - t, t)  # its own inverse


def _gather_steps(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    return x.gather(1, index.unsqueeze(-1).expand(-1, -1, x.shape[-1]))  # (B, T, F)


@register("rnn")
class SimpleRNNClassifier(RecurrentClassifier):
    """Elman RNN with tanh (Keras ``SimpleRNN``) + pooling + dense layer.

    >>> m = SimpleRNNClassifier(vocab_size=100, hidden_size=8, pooling="mean")
    >>> m(tokens=torch.tensor([[3, 4, 5]]), lengths=torch.tensor([3])).shape
    torch.Size([1, 2])
    """

    cell = "rnn"


@register("lstm")
class LSTMClassifier(RecurrentClassifier):
    """LSTM + pooling + dense layer (see :class:`RecurrentClassifier` for the options).

    >>> m = LSTMClassifier(vocab_size=100, embedding_dim=32, hidden_size=32, bidirectional=True)
    >>> m(tokens=torch.tensor([[3, 4, 5], [6, 0, 0]]), lengths=torch.tensor([3, 1])).shape
    torch.Size([2, 2])
    """

    cell = "lstm"


@register("gru")
class GRUClassifier(RecurrentClassifier):
    """GRU + pooling + dense layer (see :class:`RecurrentClassifier` for the options).

    >>> m = GRUClassifier(input_size=3, hidden_size=8, num_layers=2, residual=True)
    >>> m(values=torch.randn(2, 10, 3), lengths=torch.tensor([10, 4])).shape
    torch.Size([2, 2])
    """

    cell = "gru"
