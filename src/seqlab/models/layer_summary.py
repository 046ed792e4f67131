"""A model's layers, output shapes and parameter counts, like Keras's ``model.summary()``.

:func:`summary` gives the table as text; :func:`summarize` gives the same as a
:class:`ModelSummary` (a list of :class:`LayerRow` and the totals) for code and tests. The
output shapes come from forward hooks on one dummy batch of the model's input kind (token ids,
numeric values, a bag of words or a language model's tokens), with the batch axis shown as
``None`` as in Keras, and a time axis as ``None`` too unless ``input_length`` fixes it.

Parameters are counted as Keras counts them. PyTorch's LSTM and RNN (Keras's SimpleRNN)
layers keep two bias vectors, ``b_ih`` and ``b_hh``, that only ever appear as their sum, so
they count once: Keras's ``LSTM(32)`` on 32-d input has 8,320 parameters, and so does
PyTorch's here, though its tensors hold 8,448. A GRU's two bias vectors both count (Keras's
GRU, ``reset_after=True``, has two as well). A tensor shared by two layers (tied weights)
counts once. The shapes are PyTorch's: a convolution's output is ``(batch, channels,
steps)`` where Keras writes ``(batch, steps, channels)``, and a recurrent layer's is its
output at every step, which the model then pools (Keras's ``LSTM(32)`` shows the pooled
``(None, 32)``).

>>> from seqlab.models import build
>>> s = summarize(build("lstm", vocab_size=10_000, embedding_dim=32, hidden_size=32,
...                     head="sigmoid"))
>>> [(row.name, row.output_shape, row.params) for row in s.layers]
[('embedding', (None, None, 32), 320000), ('layers.0', (None, None, 32), 8320), \
('head', (None, 1), 33)]
>>> s.total, s.trainable, s.non_trainable
(328353, 328353, 0)
"""

from __future__ import annotations

import contextlib
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn

from seqlab.models import _lstm_cpu
from seqlab.models._checks import check_int
from seqlab.models.embedding import Embedding

__all__ = ["LayerRow", "ModelSummary", "summarize", "summary"]

Shape = tuple[int | None, ...]

# Recurrent layers whose b_ih and b_hh are only ever used as b_ih + b_hh (Keras has one).
_SUMMED_BIASES = (nn.LSTM, nn.RNN)
BIAS_NOTE = (
    "Recurrent layers count as in Keras: PyTorch's LSTM and RNN (SimpleRNN) keep two bias "
    "vectors, b_ih and b_hh, that only ever appear as their sum, so they count once; a GRU's "
    "two bias vectors both count (Keras's GRU, reset_after=True, has two as well)."
)
_WIDTH = (34, 26, 12)
_CONTAINERS = (nn.ModuleList, nn.ModuleDict, nn.Sequential)


@dataclass(frozen=True)
class LayerRow:
    """One layer: its attribute path in the model, its class, its output shape (``None``
    for the batch and for a time axis of any length; ``None`` as a whole for a parameter
    held by the model itself), its parameters and how many of them train."""

    name: str
    type: str
    output_shape: Shape | None
    params: int
    trainable: int


@dataclass(frozen=True)
class ModelSummary:
    """Rows and totals of :func:`summarize`; ``str()`` of it is :func:`summary`'s table.
    ``torch_params`` is what PyTorch's tensors hold (more than ``total`` for an LSTM or RNN:
    see the module docstring)."""

    model: str
    layers: list[LayerRow]
    total: int
    trainable: int
    non_trainable: int
    torch_params: int
    recurrent: bool

    def __str__(self) -> str:
        rule = "_" * sum(_WIDTH)
        lines = [f'Model: "{self.model}"', rule, _row("Layer (type)", "Output Shape", "Param #")]
        lines.append("=" * sum(_WIDTH))
        for row in self.layers:
            shape = "-" if row.output_shape is None else _shape_text(row.output_shape)
            lines.append(_row(f"{row.name} ({row.type})", shape, f"{row.params:,}"))
        lines.append("=" * sum(_WIDTH))
        lines.append(f"Total params: {self.total:,}")
        lines.append(f"Trainable params: {self.trainable:,}")
        lines.append(f"Non-trainable params: {self.non_trainable:,}")
        if self.recurrent:
            lines += textwrap.wrap(BIAS_NOTE, sum(_WIDTH))
            if self.torch_params != self.total:
                lines.append(f"(PyTorch's tensors hold {self.torch_params:,} parameters.)")
        lines.append(rule)
        return "\n".join(lines)


def summary(model: nn.Module, input_length: int | None = None) -> str:
    """The model's layers as a table like Keras's ``model.summary()``: one row per layer
    (name and type, output shape with ``None`` for the batch, parameters), then the total,
    trainable and non-trainable parameter counts.

    ``input_length`` is the number of steps of the dummy batch; ``None`` uses the model's
    fixed input length when it has one (``maxlen`` of embedding-dense) and otherwise shows
    every time axis as ``None``. Recurrent layers count as in Keras: PyTorch's LSTM and RNN
    keep two bias vectors (``b_ih``, ``b_hh``) that only ever appear as their sum, so they
    count once (``LSTM(32)`` on 32-d input: 8,320); a GRU's two both count, as in Keras's
    ``reset_after=True`` GRU. See :func:`summarize` for the rows as data.

    >>> from seqlab.models import build
    >>> print(summary(build("embedding-dense", vocab_size=10_000, embedding_dim=8,
    ...                     head="sigmoid")))  # doctest: +NORMALIZE_WHITESPACE
    Model: "EmbeddingDenseClassifier"
    ________________________________________________________________________
    Layer (type)                      Output Shape              Param #
    ========================================================================
    embedding (Embedding)             (None, 20, 8)             80,000
    flatten (Flatten)                 (None, 160)               0
    head (Linear)                     (None, 1)                 161
    ========================================================================
    Total params: 80,161
    Trainable params: 80,161
    Non-trainable params: 0
    ________________________________________________________________________
    """
    return str(summarize(model, input_length))


def summarize(model: nn.Module, input_length: int | None = None) -> ModelSummary:
    """:func:`summary` as data: a :class:`ModelSummary` with one :class:`LayerRow` per layer.

    The layers are the model's leaf modules in the order the model defines them (a seqlab
    :class:`~seqlab.models.embedding.Embedding` counts as one), without dropout layers that
    drop nothing (``p=0``), plus a row for each parameter the model holds outside its
    layers (bow-mlp's bias).
    """
    if input_length is None:
        input_length = getattr(model, "maxlen", None)
    if input_length is not None:
        input_length = check_int("input_length", input_length, minimum=1)
    layers = _layers(model)
    if input_length is not None:
        shapes = _probe(model, layers, input_length)
    else:  # two lengths: the axes that change with the length are time axes
        steps = max(32, int(getattr(model, "min_length", 1)))
        longest = getattr(model, "max_length", None)  # a learned position table's length
        if longest is not None:
            steps = min(steps, max(1, longest // 2))
        first = _probe(model, layers, steps)
        if longest is not None and 2 * steps > longest:  # a one-step table: one length
            shapes = first
        else:
            second = _probe(model, layers, 2 * steps)
            shapes = {k: _merge(first[k], second.get(k)) for k in first}
    rows, seen = [], set()
    for name, layer in layers:
        params = [p for p in _counted(layer) if id(p) not in seen]
        seen.update(id(p) for p in layer.parameters())
        rows.append(_layer_row(name, layer, params, shapes.get(name)))
    for name, param in model.named_parameters():
        if id(param) not in seen:  # held by the model itself, outside any layer
            seen.add(id(param))
            trainable = param.numel() if param.requires_grad else 0
            rows.append(LayerRow(name, "Parameter", None, param.numel(), trainable))
    total = sum(r.params for r in rows)
    trainable = sum(r.trainable for r in rows)
    return ModelSummary(
        model=type(model).__name__,
        layers=rows,
        total=total,
        trainable=trainable,
        non_trainable=total - trainable,
        torch_params=sum(p.numel() for p in {id(p): p for p in model.parameters()}.values()),
        recurrent=any(isinstance(m, nn.RNNBase) for m in model.modules()),
    )


def _layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """``(path, module)`` of every layer, in the order the model defines them."""
    out: list[tuple[str, nn.Module]] = []
    inside: list[str] = []
    for name, module in model.named_modules():
        if any(name.startswith(prefix + ".") for prefix in inside):
            continue
        if isinstance(module, nn.Dropout) and module.p == 0:
            continue
        if isinstance(module, Embedding):
            inside.append(name)
        elif next(module.children(), None) is not None or isinstance(module, _CONTAINERS):
            continue  # a container: its layers have rows (an empty one has none)
        out.append((name or type(model).__name__, module))
    return out


def _counted(layer: nn.Module) -> list[nn.Parameter]:
    """The layer's parameters as Keras counts them (one bias vector for an LSTM or RNN)."""
    if isinstance(layer, _SUMMED_BIASES):
        return [p for n, p in layer.named_parameters() if not n.startswith("bias_hh")]
    return list(layer.parameters())


def _layer_row(
    name: str, layer: nn.Module, params: list[nn.Parameter], shape: Shape | None
) -> LayerRow:
    count = sum(p.numel() for p in params)
    trainable = sum(p.numel() for p in params if p.requires_grad)
    return LayerRow(name, type(layer).__name__, shape, count, trainable)


def _probe(model: nn.Module, layers: list[tuple[str, nn.Module]], steps: int) -> dict[str, Shape]:
    """Output shape of each layer on one dummy batch of ``steps`` steps (batch axis None)."""
    shapes: dict[str, Shape] = {}
    handles = []
    for name, layer in layers:

        def hook(module: nn.Module, inputs: object, output: object, name: str = name) -> None:
            while isinstance(output, tuple | list):  # (output, state) of a recurrent layer
                output = output[0]
            if isinstance(output, torch.Tensor):
                shapes[name] = (None, *output.shape[1:])

        handles.append(layer.register_forward_hook(hook))
    try:
        with _evaluating(model), torch.no_grad(), _lstm_cpu.disabled():
            model(**_dummy_batch(model, steps))
    finally:
        for handle in handles:
            handle.remove()
    _fill_recurrent(model, layers, shapes, steps)
    return shapes


def _fill_recurrent(
    model: nn.Module, layers: list[tuple[str, nn.Module]], shapes: dict[str, Shape], steps: int
) -> None:
    """Shapes of the recurrent layers that the model ran direction by direction (a
    bidirectional layer reads each sequence reversed within its length), which no hook sees:
    the input's steps, ``hidden_size`` features per direction."""
    before: Shape = (None, steps, getattr(model, "input_size", None) or 0)
    for name, layer in layers:
        if isinstance(layer, nn.RNNBase) and name not in shapes and len(before) == 3:
            directions = 2 if layer.bidirectional else 1
            shapes[name] = (None, before[1], layer.hidden_size * directions)
        before = shapes.get(name, before)


def _dummy_batch(model: nn.Module, steps: int) -> dict[str, torch.Tensor]:
    """One row of the model's input kind: ids 1 (not padding), zeros, or a bag of one id."""
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    kind = getattr(model, "input_kind", None)
    if kind == "bag":
        zero = torch.zeros(1, dtype=torch.long, device=device)
        weights = torch.ones(1, device=device, dtype=param.dtype if param is not None else None)
        return {"indices": zero, "offsets": zero, "weights": weights}
    if kind == "tokens":  # a language model
        return {"tokens": torch.ones(1, steps, dtype=torch.long, device=device)}
    if kind != "sequence":
        raise TypeError(
            f"summary needs a seqlab model (input_kind 'sequence', 'bag' or 'tokens'); "
            f"{type(model).__name__} has input_kind={kind!r}"
        )
    lengths = torch.tensor([steps], device=device)
    input_size = getattr(model, "input_size", None)
    if input_size:
        values = torch.zeros(1, steps, input_size, device=device, dtype=param.dtype)
        return {"values": values, "lengths": lengths}
    return {"tokens": torch.ones(1, steps, dtype=torch.long, device=device), "lengths": lengths}


@contextlib.contextmanager
def _evaluating(model: nn.Module) -> Iterator[None]:
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def _merge(a: Shape, b: Shape | None) -> Shape:
    if b is None or len(a) != len(b):
        return a
    return tuple(x if x == y else None for x, y in zip(a, b))


def _shape_text(shape: Shape) -> str:
    inner = ", ".join("None" if d is None else str(d) for d in shape)
    return f"({inner},)" if len(shape) == 1 else f"({inner})"


def _row(a: str, b: str, c: str) -> str:
    return f"{a:<{_WIDTH[0]}}{b:<{_WIDTH[1]}}{c}"
