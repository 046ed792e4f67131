"""The input side shared by every sequence model: token embeddings, numeric inputs, masking.

Two kinds of input reach a sequence model:

* text — ``tokens: LongTensor (B, T)``, post-padded with id 0, plus ``lengths: LongTensor (B)``;
  an :class:`Embedding` turns the ids into vectors ``(B, T, embedding_dim)``;
* numbers — ``values: FloatTensor (B, T, F)`` plus ``lengths``, used as they are
  (the model is built with ``input_size=F`` and has no embedding layer).

:class:`SequenceClassifier` is the base class of the models in ``cnn.py``, ``rnn.py``,
``tdnn.py`` and ``embed_dense.py``. Its :meth:`~SequenceClassifier.embed` step returns the
input vectors with every padded position set to zero and the time axis cut to the longest true
length in the batch, so trailing padding can never reach the layers that follow; each model
then makes sure that its own receptive fields and pooling ignore positions past each
sequence's length.
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Callable, Iterator
from typing import Any, ClassVar, TypedDict

import numpy as np
import torch
from torch import nn

from seqlab._options import given_options, spell_out_options
from seqlab.defaults import DEFAULT_INIT
from seqlab.models._checks import check_dropout, check_int, check_seed
from seqlab.models.heads import check_head, output_units, two_class_logits
from seqlab.models.initializers import check_init, keras_init

__all__ = [
    "CLASSIFIER_OPTIONS",
    "ClassifierOptions",
    "Embedding",
    "SequenceClassifier",
    "length_mask",
]


class ClassifierOptions(TypedDict, total=False):
    """The keyword options every :class:`SequenceClassifier` takes through its
    ``**options`` (described there); :data:`CLASSIFIER_OPTIONS` gives their defaults."""

    vocab_size: int | None
    num_classes: int
    embedding_dim: int | None
    input_size: int | None
    freeze: bool
    seed: int | None
    pretrained: np.ndarray | torch.Tensor | None
    init: str
    head: str


#: The defaults of :class:`ClassifierOptions` (``embedding_dim=None``: the model's
#: ``default_embedding_dim``, or the width of ``pretrained``).
CLASSIFIER_OPTIONS: ClassifierOptions = {
    "vocab_size": None,
    "num_classes": 2,
    "embedding_dim": None,
    "input_size": None,
    "freeze": False,
    "seed": 0,
    "pretrained": None,
    "init": DEFAULT_INIT,
    "head": "softmax",
}


class Embedding(nn.Module):
    """A token-id lookup table, learned from scratch or initialised from a given matrix.

    ``pretrained`` (e.g. from ``seqlab.embeddings.build_embedding_matrix``) is copied in as
    the initial weights, row ``i`` being the vector of token id ``i``; ``freeze=True`` keeps
    it fixed during training (``requires_grad=False``), ``freeze=False`` fine-tunes it. Id 0
    is padding: its row receives no gradient.

    >>> emb = Embedding(10, 4, pretrained=np.ones((10, 4)), freeze=True)
    >>> emb(torch.tensor([[1, 2, 0]])).shape, emb.weight.requires_grad
    (torch.Size([1, 3, 4]), False)
    """

    def __init__(
        self,
        vocab_size: int,
        embedding_dim: int,
        pretrained: np.ndarray | torch.Tensor | None = None,
        freeze: bool = False,
    ) -> None:
        super().__init__()
        check_int("vocab_size", vocab_size, minimum=1)
        check_int("embedding_dim", embedding_dim, minimum=1)
        if not isinstance(freeze, bool):
            raise TypeError(f"freeze must be True or False, got {freeze!r}")
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=0)
        if pretrained is not None:
            matrix = as_matrix(pretrained)
            if tuple(matrix.shape) != (vocab_size, embedding_dim):
                raise ValueError(
                    f"pretrained has shape {tuple(matrix.shape)} but the model expects "
                    f"(vocab_size, embedding_dim) = ({vocab_size}, {embedding_dim}); build the "
                    "matrix from the same vocabulary, or leave vocab_size/embedding_dim unset "
                    "so they are read from the matrix"
                )
            with torch.no_grad():
                self.embedding.weight.copy_(matrix)
        self.embedding.weight.requires_grad_(not freeze)

    @property
    def weight(self) -> nn.Parameter:
        """The ``(vocab_size, embedding_dim)`` table."""
        return self.embedding.weight

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.embedding(tokens)  # (B, T) -> (B, T, D)


class SequenceClassifier(nn.Module, abc.ABC):
    """Base class: turns ``tokens=`` or ``values=`` plus ``lengths`` into masked vectors.

    A subclass's constructor takes its own arguments and ``dropout`` (each model has its own
    default), keyword-only, then ``**options: Unpack[ClassifierOptions]``: the arguments every
    classifier takes, described here once. It builds only its own layers, inside
    :meth:`_building` (which fills and checks the options, records them, builds the input
    side, seeds the weights and builds the head), and implements :meth:`forward_embedded`
    (vectors ``(B, T, D)`` and lengths ``(B)`` in, logits out, through :meth:`_logits`)::

        def __init__(self, *, num_filters=32, dropout=0.0, **options: Unpack[ClassifierOptions]):
            super().__init__()
            own = {"num_filters": num_filters}  # the model's own part of self.config
            with self._building(dropout, own, options) as add_head:
                self.conv = nn.Conv1d(self.feature_size, num_filters, 3)
                add_head(num_filters)  # self.dropout and self.head, after the model's layers

    The options (:class:`ClassifierOptions`, defaults in :data:`CLASSIFIER_OPTIONS`):
    ``vocab_size`` and ``embedding_dim`` (the token table; ``embedding_dim`` defaults to the
    model's ``default_embedding_dim`` or the width of ``pretrained``); ``num_classes``
    (default 2); ``input_size`` (``F`` builds the model for numeric sequences
    ``values (B, T, F)``, with no embedding); ``pretrained`` (an initial table, see
    :class:`Embedding`) and ``freeze`` (keep it fixed); ``seed`` (the initial weights are
    drawn from it); ``init`` (``"torch"``: PyTorch's layer defaults, ``"keras"``: Keras's
    initialisers, see :func:`seqlab.models.initializers.keras_init`; a pretrained table is
    never drawn again); ``head`` (``"softmax"``: ``num_classes`` output units,
    ``"sigmoid"``: one unit for two classes, returned as the logits ``[0, z]``, see
    :mod:`seqlab.models.heads`). A subclass's signature spells them out as keyword-only
    parameters with their defaults (``inspect.signature``, ``help()``), and an unknown
    keyword is the ``TypeError`` Python gives. A ``config.json`` written before ``init`` and
    ``head`` existed means ``"torch"`` and ``"softmax"``, their defaults.
    ``forward(tokens, lengths)`` follows the classifier contract: ``tokens`` is
    ``LongTensor (B, T)`` with 0 = padding, ``lengths`` is ``LongTensor (B)``, and the result
    is ``logits (B, num_classes)``. A numeric model (``input_size`` set) takes
    ``forward(values=FloatTensor (B, T, F), lengths=...)`` instead.

    A length of 0 (an empty document) is read as one padding token, so every model gives
    it a well-defined prediction.

    >>> from seqlab.models.rnn import LSTMClassifier
    >>> m = LSTMClassifier(vocab_size=50, embedding_dim=8, hidden_size=8)
    >>> m(tokens=torch.tensor([[5, 6, 7], [8, 0, 0]]), lengths=torch.tensor([3, 1])).shape
    torch.Size([2, 2])
    """

    input_kind: ClassVar[str] = "sequence"
    #: Embedding width used when neither ``embedding_dim`` nor a pretrained matrix gives one.
    default_embedding_dim: ClassVar[int] = 32
    config: dict[str, Any]
    input_size: int | None
    embedding: Embedding | None
    feature_size: int
    _inputs: dict[str, Any]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        spell_out_options(cls, ClassifierOptions, CLASSIFIER_OPTIONS)

    def _init_input(self, options: ClassifierOptions) -> None:
        """Build the embedding (or nothing, for numeric input) from the input ``options``
        (``vocab_size``, ``embedding_dim``, ``input_size``, ``pretrained``, ``freeze``) and
        keep the resolved ``vocab_size`` and ``embedding_dim`` for ``self.config``."""
        vocab_size, embedding_dim = options["vocab_size"], options["embedding_dim"]
        input_size, pretrained = options["input_size"], options["pretrained"]
        freeze = options["freeze"]
        if not isinstance(freeze, bool):
            raise TypeError(f"freeze must be True or False, got {freeze!r}")
        if input_size is not None:
            input_size = check_int("input_size", input_size, minimum=1)
            if pretrained is not None:
                raise ValueError(
                    "pretrained was given together with input_size; a numeric model "
                    "(input_size set) has no embedding table, so drop one of the two"
                )
            self.input_size = input_size
            self.embedding = None
            self.feature_size = input_size
            self._inputs = {
                "vocab_size": vocab_size,
                "embedding_dim": embedding_dim,
                "freeze": freeze,
                "pretrained": False,
            }
            return
        if pretrained is not None:
            shape = tuple(as_matrix(pretrained).shape)
            vocab_size = shape[0] if vocab_size is None else vocab_size
            embedding_dim = shape[1] if embedding_dim is None else embedding_dim
        if vocab_size is None:
            raise ValueError(
                "vocab_size is required for a text model (e.g. vocab_size=vectorizer.vocab_size); "
                "for numeric sequences give input_size=<number of features> instead"
            )
        if embedding_dim is None:
            embedding_dim = self.default_embedding_dim
        self.input_size = None
        vocab_size = check_int("vocab_size", vocab_size, minimum=1)
        embedding_dim = check_int("embedding_dim", embedding_dim, minimum=1)
        self.embedding = Embedding(vocab_size, embedding_dim, pretrained=pretrained, freeze=freeze)
        self.feature_size = embedding_dim
        self._inputs = {
            "vocab_size": vocab_size,
            "embedding_dim": embedding_dim,
            "freeze": freeze,
            "pretrained": pretrained is not None,
        }

    @contextlib.contextmanager
    def _building(
        self, dropout: float, own: dict[str, Any], options: ClassifierOptions
    ) -> Iterator[Callable[[int], None]]:
        """The constructor steps every classifier shares, around the model's own layers.

        Fills ``options`` (the constructor's ``**options``) from :data:`CLASSIFIER_OPTIONS`
        and refuses a keyword that is not one of them, checks ``num_classes``, ``seed``,
        ``init``, ``head`` and ``dropout``, then with torch's generator seeded by ``seed``
        builds the input side (:meth:`_init_input`) and runs the block; the block builds the
        model's layers and last calls the function it is given with the width of the head's
        input, which adds ``self.dropout`` and ``self.head``. With ``init="keras"`` the
        weights are then drawn again Keras's way (except a pretrained table), and
        ``self.config`` is recorded: the options, the model's ``own`` arguments (checked, in
        its constructor's order) and ``dropout``.
        """
        owner = f"{type(self).__init__.__qualname__}()"  # as Python names it
        opts = given_options(owner, options, CLASSIFIER_OPTIONS)
        num_classes = check_int("num_classes", opts["num_classes"], minimum=1)
        seed = check_seed(opts["seed"])
        init = check_init(opts["init"])
        head = check_head(opts["head"], num_classes)
        dropout = check_dropout(dropout)

        def add_head(width: int) -> None:
            self.dropout = nn.Dropout(dropout)
            self.head = nn.Linear(width, output_units(head, num_classes))

        with seeded(seed):
            self._init_input(opts)
            yield add_head
            if init == "keras":
                # an LSTM's forget bias follows the model's unit_forget_bias (rnn.py)
                keras_init(self, keep=self._kept_weights(), unit_forget_bias=False)
        self._sigmoid = head == "sigmoid"
        inputs = self._inputs
        self.config = {
            "vocab_size": inputs["vocab_size"],
            "num_classes": num_classes,
            "embedding_dim": inputs["embedding_dim"],
            **own,
            "dropout": dropout,
            "input_size": self.input_size,
            "freeze": inputs["freeze"],
            "seed": seed,
            "init": init,
            "head": head,
        }

    def layer_groups(self) -> list[list[nn.Parameter]]:
        """Every parameter once, in groups from the input to the output: the embedding
        table (none for numeric input), the model's own layers, the head. Discriminative
        learning rates and gradual unfreezing (``layer_lr_decay``, ``gradual_unfreezing``
        of :class:`seqlab.training.protocol.TrainConfig`) work group by group; a model with
        a finer structure (the recurrent ones: one group per layer) says so by overriding it.

        >>> from seqlab.models.cnn import KimCNNClassifier
        >>> [len(g) for g in KimCNNClassifier(vocab_size=9).layer_groups()]
        [1, 6, 2]
        """
        first = list(self.embedding.parameters()) if self.embedding is not None else []
        last = list(self.head.parameters())
        taken = {id(p) for p in first + last}
        body = [p for p in self.parameters() if id(p) not in taken]
        return [group for group in (first, body, last) if group]

    def _kept_weights(self) -> list[nn.Parameter]:
        """Weights that ``init="keras"`` leaves as they are: a pretrained table (a model that
        draws a layer its own way adds it)."""
        return [self.embedding.weight] if self._inputs["pretrained"] else []

    def _logits(self, h: torch.Tensor) -> torch.Tensor:
        """``self.head`` on the pooled features ``h (B, F)``: logits ``(B, num_classes)``; a
        sigmoid head's one logit ``z`` becomes ``[0, z]``."""
        z = self.head(h)
        return two_class_logits(z) if self._sigmoid else z

    def embed(
        self,
        tokens: torch.Tensor | None = None,
        lengths: torch.Tensor | None = None,
        values: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Input vectors ``(B, T', D)`` with zeros at padded positions, and lengths ``(B)``.

        ``T'`` is the longest length in the batch (extra trailing padding is cut off), and
        lengths of 0 become 1 (one padding token, i.e. a zero vector).
        """
        data, lengths = self.checked_input(tokens=tokens, lengths=lengths, values=values)
        return self._vectors(data, lengths), lengths

    def _vectors(self, data: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """:meth:`embed` of :meth:`checked_input`'s output: vectors ``(B, T', D)``."""
        if self.embedding is not None:
            x = self.embedding(data)
        else:
            x = data.to(torch.get_default_dtype()) if not data.is_floating_point() else data
        mask = length_mask(lengths, x.shape[1])  # (B, T')
        return x.masked_fill(~mask.unsqueeze(-1), 0.0)

    def checked_input(
        self,
        tokens: torch.Tensor | None = None,
        lengths: torch.Tensor | None = None,
        values: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The checked input of :meth:`embed` before the embedding lookup: token ids
        ``(B, T')`` (or values ``(B, T', F)``) cut to the longest length, and lengths ``(B)``
        with 0 raised to 1."""
        if self.input_size is None:
            if tokens is None:
                raise TypeError(
                    f"{type(self).__name__} reads token ids: call it with tokens=LongTensor(B, T)"
                    + (
                        " (values= is only for models built with input_size)"
                        if values is not None
                        else ""
                    )
                )
            if tokens.dim() != 2:
                raise ValueError(f"tokens must have shape (B, T), got {tuple(tokens.shape)}")
            if tokens.dtype not in (torch.int64, torch.int32):
                raise TypeError(f"tokens must be an integer tensor, got dtype {tokens.dtype}")
            data = tokens
        else:
            if values is None:
                raise TypeError(
                    f"{type(self).__name__} was built with input_size={self.input_size}: call it "
                    "with values=FloatTensor(B, T, input_size)"
                )
            if values.dim() != 3 or values.shape[-1] != self.input_size:
                raise ValueError(
                    f"values must have shape (B, T, {self.input_size}), got {tuple(values.shape)}"
                )
            data = values
        batch = data.shape[0]
        lengths = _check_lengths(lengths, data, tokens_given=self.input_size is None)
        longest = max(int(lengths.max()), 1) if batch else 1
        # Cut to the longest true length: padding beyond it cannot influence anything.
        data = data[:, :longest]
        if data.shape[1] < longest:  # T == 0: room for the one padding token
            pad = longest - data.shape[1]
            data = torch.nn.functional.pad(data, (0, 0, 0, pad) if data.dim() == 3 else (0, pad))
        return data, lengths.clamp(min=1)

    def forward(
        self,
        tokens: torch.Tensor | None = None,
        lengths: torch.Tensor | None = None,
        values: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Logits ``(B, num_classes)`` for a batch of token ids (or of numeric values)."""
        data, lengths = self.checked_input(tokens=tokens, lengths=lengths, values=values)
        return self.forward_checked(data, lengths)

    def forward_checked(self, data: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Logits from :meth:`checked_input`'s output: its vectors (:meth:`embed`) through
        :meth:`forward_embedded`. A model that reads token ids its own way overrides it."""
        return self.forward_embedded(self._vectors(data, lengths), lengths)

    @abc.abstractmethod
    def forward_embedded(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Logits from input vectors ``x (B, T, D)`` (zero past each length) and ``lengths (B)``.

        :func:`seqlab.explain.explain` calls this directly to attribute a prediction to
        individual input vectors.
        """


def length_mask(lengths: torch.Tensor, steps: int) -> torch.Tensor:
    """Boolean ``(B, steps)`` mask, True at positions ``t < lengths[b]``.

    >>> length_mask(torch.tensor([2, 0]), 3).tolist()
    [[True, True, False], [False, False, False]]
    """
    positions = torch.arange(steps, device=lengths.device)
    return positions.unsqueeze(0) < lengths.unsqueeze(1)


def _check_lengths(
    lengths: torch.Tensor | None, data: torch.Tensor, *, tokens_given: bool
) -> torch.Tensor:
    batch, steps = data.shape[0], data.shape[1]
    if lengths is None:
        if not tokens_given:
            return torch.full((batch,), steps, dtype=torch.long, device=data.device)
        # Post-padded ids: the length is one past the last non-zero id.
        nonzero = data != 0
        positions = torch.arange(1, steps + 1, device=data.device)
        return (nonzero * positions).amax(dim=1) if steps else nonzero.sum(1)
    if not isinstance(lengths, torch.Tensor):
        lengths = torch.as_tensor(lengths)
    if lengths.shape != (batch,):
        raise ValueError(
            f"lengths must have shape ({batch},) — one length per sequence — got "
            f"{tuple(lengths.shape)}"
        )
    if lengths.is_floating_point():
        raise TypeError(f"lengths must be an integer tensor, got dtype {lengths.dtype}")
    lengths = lengths.to(device=data.device, dtype=torch.long)
    if batch:
        low, high = int(lengths.min()), int(lengths.max())
        if low < 0 or high > steps:
            raise ValueError(
                f"lengths must lie in [0, {steps}] (the padded length T), got values from "
                f"{low} to {high}; lengths count the real tokens of each row"
            )
    return lengths


def as_matrix(pretrained: np.ndarray | torch.Tensor) -> torch.Tensor:
    """A 2-D float32 CPU tensor from a numpy array or tensor, with a clear error otherwise."""
    if isinstance(pretrained, np.ndarray):
        matrix = torch.from_numpy(np.asarray(pretrained, dtype=np.float32))
    elif isinstance(pretrained, torch.Tensor):
        matrix = pretrained.detach().to("cpu", torch.float32)
    else:
        raise TypeError(
            "pretrained must be a numpy array or torch tensor of shape (vocab_size, "
            f"embedding_dim), got {type(pretrained).__name__}"
        )
    if matrix.dim() != 2:
        raise ValueError(
            f"pretrained must be 2-D (vocab_size, embedding_dim), got shape {tuple(matrix.shape)}"
        )
    return matrix


@contextlib.contextmanager
def seeded(seed: int | None) -> Iterator[None]:
    """Run the block with torch's CPU generator seeded by ``seed``, then restore its state.

    ``seed=None`` draws from the global generator as it stands (not reproducible by itself).
    """
    if seed is None:
        yield
        return
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(check_seed(seed))
        yield
