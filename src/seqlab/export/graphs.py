"""The functions an exported model file holds: a trained model wrapped as one ``nn.Module``
whose inputs and outputs are plain tensors, with the probe batches that check an export.

Four signatures, one per kind of model (``B`` texts, ``T`` steps, ``N`` bag entries):

* a classifier reading token ids: ``(tokens int64 (B, T), lengths int64 (B)) ->
  probabilities float32 (B, C)``; ``tokens`` is post-padded with 0, ``T >= 1``;
* a classifier reading bags of words (``nn.EmbeddingBag``'s layout, see
  :func:`seqlab.data.batching.bag_batch`): ``(indices int64 (N), offsets int64 (B),
  weights float32 (N)) -> probabilities float32 (B, C)``;
* a language model, one step: ``(ids int64 (B), state...) -> (logits float32 (B, V),
  state...)``, the recurrent state flattened to tensors (an LSTM's ``h`` and ``c``, each
  ``(num_layers, B, hidden_size)``); the first step reads a state of zeros;
* a language model whose state grows with the text (a transformer's key/value cache: its
  ``state_grows`` is True), the whole sequence: ``ids int64 (B, T) -> logits float32
  (B, T, V)``, every position's next-token logits computed from no state, exactly what the
  model computes on the whole text (for the transformer, the banded causal mask is built in
  the graph from ``T``).

The classifier's head is inside the graph: the softmax of the logits, which for a sigmoid
head (logits ``[0, z]``) is ``[1 - sigmoid(z), sigmoid(z)]``, exactly
:meth:`seqlab.runs.Run.predict_proba`.

Tracing (what both ONNX and TorchScript export do) records one path through the Python
code. A model whose path depends on the input's width (a convolution extending short texts
to its receptive field, embedding-dense cutting or padding to ``maxlen``) gets that path
fixed by padding: the graph appends :func:`min_width` zero columns to ``tokens``, which
changes no prediction (padding is masked) and keeps every input on the traced path. The
probe batches (:func:`sequence_probes`, ...) mix short and long texts, so an export that
still depends on the width is caught before it is written; they are no longer than the
longest text the run reads (:func:`max_width`), so a model with a table of positions
exports.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

__all__ = [
    "BagProbabilities",
    "LanguageModelSequence",
    "LanguageModelStep",
    "SequenceProbabilities",
    "StateSpec",
    "bag_probes",
    "lm_probes",
    "lm_sequence_probes",
    "max_width",
    "min_width",
    "sequence_probes",
    "state_specs",
]


def min_width(model: nn.Module) -> int:
    """The fewest steps a batch may have for the traced path to hold: the model's
    ``min_length`` (convolutions: the receptive field) or ``maxlen`` (embedding-dense: the
    steps it flattens), else 1.

    >>> from seqlab.models import build
    >>> min_width(build("cnn", vocab_size=10)), min_width(build("lstm", vocab_size=10))
    (41, 1)
    """
    widths = [getattr(model, name, None) for name in ("min_length", "maxlen")]
    return max([1] + [int(w) for w in widths if isinstance(w, int) and not isinstance(w, bool)])


def max_width(model: nn.Module, maxlen: int | None = None) -> int | None:
    """The most steps a text of the run can have: the vectorizer's cut ``maxlen`` and the
    model's ``max_length`` (the rows of a table of learned positions), the smaller of those
    given; None when neither bounds it.

    >>> from seqlab.models import build
    >>> m = build("transformer", vocab_size=10, embedding_dim=8, positions="learned",
    ...           max_length=12)
    >>> max_width(m), max_width(m, maxlen=8), max_width(build("lstm", vocab_size=10))
    (12, 8, None)
    """
    length = getattr(model, "max_length", None)
    bounds = [n for n in (length, maxlen) if isinstance(n, int) and not isinstance(n, bool)]
    return min(bounds) if bounds else None


class SequenceProbabilities(nn.Module):
    """``(tokens (B, T), lengths (B)) -> probabilities (B, C)`` of a classifier reading token
    ids; lengths of 0 count as one padding token, as the model's own ``forward`` does."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.pad = min_width(model)

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        lengths = lengths.clamp(min=1)
        if self.pad > 1:  # keep every batch on the traced path (see the module docstring)
            tokens = torch.cat([tokens, tokens.new_zeros(tokens.shape[0], self.pad)], dim=1)
        checked = getattr(self.model, "forward_checked", None)
        # forward_checked skips forward's input checks, which read the lengths as Python
        # ints (a trace would freeze them); a model without it is traced through forward.
        if checked is not None:
            logits = checked(tokens, lengths)
        else:
            logits = self.model(tokens=tokens, lengths=lengths)
        return torch.softmax(logits, dim=-1)


class BagProbabilities(nn.Module):
    """``(indices (N), offsets (B), weights (N)) -> probabilities (B, C)`` of a classifier
    reading bags of words."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(
        self, indices: torch.Tensor, offsets: torch.Tensor, weights: torch.Tensor
    ) -> torch.Tensor:
        logits = self.model(indices=indices, offsets=offsets, weights=weights)
        return torch.softmax(logits, dim=-1)


class LanguageModelStep(nn.Module):
    """``(ids (B), state...) -> (logits (B, V), state...)``: one step of a language model
    with ``forward(tokens (B, T), state) -> (logits (B, T, V), state)``."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, ids: torch.Tensor, *state: torch.Tensor) -> tuple[torch.Tensor, ...]:
        logits, new_state = self.model(ids.unsqueeze(1), tuple(state))
        return (logits[:, 0], *new_state)


class LanguageModelSequence(nn.Module):
    """``ids (B, T) -> logits (B, T, V)``: a language model with ``forward(tokens (B, T),
    state) -> (logits (B, T, V), state)`` run on whole sequences from no state."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        logits, _ = self.model(ids, None)
        return logits


@dataclass(frozen=True)
class StateSpec:
    """One tensor of a language model's recurrent state: its name, its shape with ``None``
    on the batch axis, and that axis."""

    name: str
    shape: tuple[int | None, ...]
    batch_axis: int

    def zeros(self, batch: int) -> torch.Tensor:
        """The initial state of ``batch`` sequences."""
        shape = [batch if s is None else s for s in self.shape]
        return torch.zeros(shape)


def state_specs(model: nn.Module) -> list[StateSpec]:
    """The recurrent state of a language model, found by running it on two batch sizes;
    a ValueError when the state cannot be exported as tensors of a fixed shape: no state,
    a state that grows with the text, or a first state that is not zeros.

    >>> from seqlab.models import build
    >>> [(s.name, s.shape) for s in state_specs(build("lm-lstm", vocab_size=5, hidden_size=4,
    ...                                                  num_layers=2, embedding_dim=3))]
    [('h', (2, None, 4)), ('c', (2, None, 4))]
    """
    name = getattr(model, "registry_name", type(model).__name__)
    with torch.no_grad():
        shapes = {}
        for batch, steps in ((2, 1), (3, 1), (2, 2)):
            logits, state = model(torch.zeros(batch, steps, dtype=torch.long), None)
            if (
                not isinstance(state, tuple | list)
                or not state
                or not all(isinstance(s, torch.Tensor) for s in state)
            ):
                raise ValueError(
                    f"language model {name!r} returns no recurrent state as a tuple of tensors "
                    f"(got {type(state).__name__}), so it cannot be exported as one step"
                )
            shapes[(batch, steps)] = [tuple(s.shape) for s in state]
        if shapes[(2, 1)] != shapes[(2, 2)]:
            raise ValueError(
                f"the state of language model {name!r} grows with the text ({shapes[(2, 1)]} "
                f"after one step, {shapes[(2, 2)]} after two), so it cannot be exported as one "
                "step of fixed-size tensors; a model whose state is a growing cache says "
                "state_grows = True, and then exports its whole-sequence graph"
            )
        specs = []
        names = getattr(model, "state_names", None) or [f"state{i}" for i in range(len(state))]
        for i, (two, three) in enumerate(zip(shapes[(2, 1)], shapes[(3, 1)])):
            axes = [a for a, (x, y) in enumerate(zip(two, three)) if x != y]
            if len(axes) != 1:
                raise ValueError(
                    f"state tensor {i} of language model {name!r} has no single batch axis "
                    f"(shapes {two} and {three} for 2 and 3 sequences); it cannot be exported"
                )
            shape = tuple(None if a == axes[0] else n for a, n in enumerate(two))
            specs.append(StateSpec(str(names[i]), shape, axes[0]))
        x = torch.tensor([[1], [0]])
        fresh, _ = model(x, None)
        zero, _ = model(x, tuple(spec.zeros(2) for spec in specs))
        if not torch.allclose(fresh, zero, atol=1e-6):
            raise ValueError(
                f"language model {name!r} does not start from a state of zeros, which the "
                "exported step assumes; it cannot be exported"
            )
    return specs


def sequence_probes(
    vocab_size: int, width: int, fixed: int | None, longest: int | None = None
) -> list[tuple[torch.Tensor, ...]]:
    """``(tokens, lengths)`` batches that mix short and long texts (seeded): one with a text
    of one token and texts longer than ``width`` (the model's :func:`min_width`), one of a
    single short text, none longer than ``longest`` (:func:`max_width`). With ``fixed`` (a
    run that reads every text padded to that length) every row has that length, zeros
    included."""
    rng = np.random.default_rng(0)
    if fixed is not None:
        rows = [
            rng.integers(0, vocab_size, size=(3, fixed)),
            rng.integers(0, vocab_size, (1, fixed)),
        ]
        rows[0][0, : fixed - 1] = 0  # a text of one token, padded in front
        return [(torch.from_numpy(r), torch.full((len(r),), fixed)) for r in rows]
    probes = []
    for lengths in ([1, 3, width + 2, 2 * width + 9], [2]):
        lengths = [min(n, longest) if longest is not None else n for n in lengths]
        tokens = np.zeros((len(lengths), max(lengths)), dtype=np.int64)
        for i, n in enumerate(lengths):
            tokens[i, :n] = rng.integers(2 if vocab_size > 2 else 0, vocab_size, size=n)
        probes.append((torch.from_numpy(tokens), torch.tensor(lengths)))
    return probes


def bag_probes(vocab_size: int) -> list[tuple[torch.Tensor, ...]]:
    """``(indices, offsets, weights)`` batches (seeded): bags of different sizes, an empty
    bag among them, and a batch of one bag."""
    rng = np.random.default_rng(0)
    probes = []
    for sizes in ([3, 0, min(vocab_size, 17), 1], [2]):
        indices = [np.sort(rng.choice(vocab_size, size=n, replace=False)) for n in sizes]
        offsets = np.cumsum([0] + sizes[:-1])
        flat = np.concatenate(indices).astype(np.int64)
        weights = rng.uniform(0.1, 2.0, size=len(flat)).astype(np.float32)
        probes.append(
            (torch.from_numpy(flat), torch.from_numpy(offsets), torch.from_numpy(weights))
        )
    return probes


def lm_probes(vocab_size: int, specs: list[StateSpec]) -> list[tuple[torch.Tensor, ...]]:
    """``(ids, state...)`` inputs of one step (seeded): zero states and a random state, for
    batches of 3 and of 1."""
    gen = torch.Generator().manual_seed(0)
    probes = []
    for batch in (3, 1):
        ids = torch.randint(0, vocab_size, (batch,), generator=gen)
        probes.append((ids, *(spec.zeros(batch) for spec in specs)))
        states = (torch.randn(spec.zeros(batch).shape, generator=gen) * 0.5 for spec in specs)
        probes.append((ids.flip(0), *states))
    return probes


def lm_sequence_probes(vocab_size: int, context: int | None) -> list[tuple[torch.Tensor, ...]]:
    """``(ids,)`` batches of whole sequences (seeded): 3 sequences longer than ``context``
    (the model's ``block_size``: its attention window binds), 2 of exactly ``context``
    tokens, and 1 of one token.

    >>> [tuple(ids.shape) for (ids,) in lm_sequence_probes(5, context=4)]
    [(3, 13), (2, 4), (1, 1)]
    """
    gen = torch.Generator().manual_seed(0)
    context = context if isinstance(context, int) and context >= 1 else 16
    shapes = ((3, context + 9), (2, context), (1, 1))
    return [(torch.randint(0, vocab_size, shape, generator=gen),) for shape in shapes]
