"""Recurrent language models: tokens in, next-token logits out, with the recurrent state
exposed so that training can carry it across chunks and generation can feed one token at a
time.

Every model here has the same call, as in nanoGPT: ``model(tokens, state) -> (logits, state)``
with ``tokens`` (B, T) int64 and ``logits`` (B, T, vocab_size). Three names are registered:

* ``"lm-lstm"`` / ``"lm-gru"``: embedding (or one-hot) -> stacked LSTM/GRU -> linear decoder;
* ``"char-lstm"``: the Keras text-generation example's model (one-hot characters, one LSTM
  of 128 units, a dense softmax layer); same class as ``"lm-lstm"`` with those defaults.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from scipy.special import expit
from torch import nn

from seqlab._checks import check_choice
from seqlab.defaults import DEFAULT_INIT
from seqlab.models.initializers import check_init, keras_init
from seqlab.models.registry import register

__all__ = [
    "CHAR_LSTM_DEFAULTS",
    "INPUT_ENCODINGS",
    "LM_MODELS",
    "CharLSTM",
    "GRULanguageModel",
    "LSTMLanguageModel",
    "NumpyStepper",
    "RecurrentLanguageModel",
    "State",
    "detach_state",
    "model_name",
]

# (h, c) for an LSTM, h for a GRU; each (num_layers, B, hidden_size).
State = tuple[torch.Tensor, ...]

INPUT_ENCODINGS = ("embedding", "one_hot")
_CELL_WEIGHTS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


class RecurrentLanguageModel(nn.Module):
    """Embedding or one-hot input, a stack of LSTM/GRU layers, a linear decoder.

    ``forward(tokens, state=None)`` returns ``(logits, state)``: ``logits`` (B, T, vocab_size)
    predicts the token that follows each input position; ``state`` is the recurrent state
    after the last position, to pass back in for the next chunk (detach it first when
    training with truncated backpropagation through time: :func:`detach_state`).

    ``input_encoding="one_hot"`` feeds one-hot vectors (the lecture's Keras model) and
    ignores ``embedding_dim``. ``tie_weights=True`` shares the embedding matrix with the
    decoder (Press & Wolf 2017), which needs ``embedding_dim == hidden_size``. ``init`` is
    ``"torch"`` (PyTorch's layer defaults) or ``"keras"`` (Keras's initialisers, LSTM
    forget-gate bias 1: see :func:`seqlab.models.initializers.keras_init`); the weights come
    from torch's global generator, so seed it first.

    >>> m = LSTMLanguageModel(vocab_size=10, embedding_dim=8, hidden_size=16, num_layers=2)
    >>> logits, state = m(torch.zeros(3, 5, dtype=torch.long))
    >>> tuple(logits.shape), tuple(state[0].shape)
    ((3, 5, 10), (2, 3, 16))
    """

    input_kind = "tokens"
    cell = "lstm"
    # Training carries the recurrent state from one chunk to the next (truncated BPTT); a
    # transformer says False (seqlab.models.gpt), and the language-model task reads this.
    stateful = True
    # The state keeps its size however long the text (h, c): seqlab export writes one step
    # with it; a key/value cache grows with the text and says True (seqlab.models.gpt).
    state_grows = False

    def __init__(
        self,
        vocab_size: int,
        embedding_dim: int = 64,
        hidden_size: int = 256,
        num_layers: int = 2,
        dropout: float = 0.0,
        tie_weights: bool = False,
        input_encoding: str = "embedding",
        init: str = DEFAULT_INIT,
    ) -> None:
        super().__init__()
        init = check_init(init)
        if int(vocab_size) < 2:
            raise ValueError(f"vocab_size must be at least 2, got {vocab_size!r}")
        check_choice("input_encoding", input_encoding, INPUT_ENCODINGS)
        if int(num_layers) < 1 or int(hidden_size) < 1:
            raise ValueError(
                f"num_layers and hidden_size must be >= 1, got {num_layers!r} and {hidden_size!r}"
            )
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        if tie_weights:
            if input_encoding != "embedding":
                raise ValueError(
                    "tie_weights=True needs input_encoding='embedding' (a one-hot input has no "
                    "embedding matrix to share); set tie_weights=False"
                )
            if int(embedding_dim) != int(hidden_size):
                raise ValueError(
                    f"tie_weights=True needs embedding_dim == hidden_size, got embedding_dim="
                    f"{embedding_dim} and hidden_size={hidden_size}; make them equal or set "
                    "tie_weights=False"
                )
        self.config: dict[str, Any] = {
            "vocab_size": int(vocab_size),
            "embedding_dim": int(embedding_dim),
            "hidden_size": int(hidden_size),
            "num_layers": int(num_layers),
            "dropout": float(dropout),
            "tie_weights": bool(tie_weights),
            "input_encoding": input_encoding,
            "init": init,
        }
        self.vocab_size = int(vocab_size)
        self.one_hot = input_encoding == "one_hot"
        input_size = self.vocab_size if self.one_hot else int(embedding_dim)
        self.embedding = None if self.one_hot else nn.Embedding(self.vocab_size, input_size)
        rnn_cls = nn.LSTM if self.cell == "lstm" else nn.GRU
        self.rnn = rnn_cls(
            input_size,
            int(hidden_size),
            num_layers=int(num_layers),
            batch_first=True,
            # nn.LSTM applies this between layers only; the input and output dropout below
            # cover the two ends.
            dropout=float(dropout) if int(num_layers) > 1 else 0.0,
        )
        self.drop = nn.Dropout(float(dropout))
        self.decoder = nn.Linear(int(hidden_size), self.vocab_size)
        if tie_weights:
            assert self.embedding is not None
            self.decoder.weight = self.embedding.weight
        if init == "keras":
            keras_init(self)  # a tied matrix is drawn once, as the embedding

    @property
    def state_names(self) -> tuple[str, ...]:
        """The names of the state's tensors (an exported step's inputs, see
        :mod:`seqlab.export`): ``("h", "c")`` for an LSTM, ``("h",)`` for a GRU."""
        return ("h", "c") if self.cell == "lstm" else ("h",)

    @property
    def tied(self) -> bool:
        """Whether the decoder shares its weight with the embedding."""
        return bool(self.config["tie_weights"])

    def forward(
        self, tokens: torch.Tensor, state: State | None = None
    ) -> tuple[torch.Tensor, State]:
        """``tokens`` (B, T) int64 -> ``(logits (B, T, vocab_size), state)``; in float32 under
        CPU autocast (``precision="bf16"``: oneDNN has no bfloat16 RNN on CPUs without
        bfloat16 instructions)."""
        if tokens.device.type == "cpu" and torch.is_autocast_enabled("cpu"):
            with torch.autocast("cpu", enabled=False):
                return self.forward(tokens, state)
        if tokens.dim() != 2:
            raise ValueError(
                f"tokens must be a (batch, time) tensor, got shape {tuple(tokens.shape)}"
            )
        if self.one_hot:
            x = F.one_hot(tokens, self.vocab_size).to(self.decoder.weight.dtype)  # (B, T, V)
        else:
            assert self.embedding is not None
            x = self.embedding(tokens)  # (B, T, E)
        x = self.drop(x)
        h0 = None if state is None else (state if self.cell == "lstm" else state[0])
        out, hn = self.rnn(x, h0)  # out (B, T, H)
        logits = self.decoder(self.drop(out))  # (B, T, V)
        new_state: State = tuple(hn) if self.cell == "lstm" else (hn,)
        return logits, new_state

    def step(self, tokens: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """One time step for generation: ``tokens`` (B,) -> ``(logits (B, vocab_size), state)``.

        The same numbers as ``forward(tokens[:, None], state)`` in eval mode (no dropout), but
        computed with one fused cell call per layer: a whole ``nn.LSTM`` call on a single
        time step costs far more in fixed overhead (on CPU its oneDNN path rebuilds its
        kernel at every call) than the arithmetic, and generation makes one call per token.
        """
        if self.one_hot:
            x = F.one_hot(tokens, self.vocab_size).to(self.decoder.weight.dtype)  # (B, V)
        else:
            assert self.embedding is not None
            x = self.embedding(tokens)  # (B, E)
        num_layers, hidden = self.rnn.num_layers, self.rnn.hidden_size
        if state is None:
            zeros = x.new_zeros(num_layers, tokens.shape[0], hidden)
            state = (zeros, zeros) if self.cell == "lstm" else (zeros,)
        # nn.LSTM keeps its weights in this list (updated by .to() and load_state_dict);
        # reading it once is much cheaper than four module attribute lookups per layer.
        flat = getattr(self.rnn, "_flat_weights", None) or [
            getattr(self.rnn, f"{n}_l{k}") for k in range(num_layers) for n in _CELL_WEIGHTS
        ]
        hs, cs = [], []
        for k in range(num_layers):
            weights = flat[4 * k : 4 * k + 4]  # w_ih, w_hh, b_ih, b_hh of layer k
            if self.cell == "lstm":
                h, c = torch.lstm_cell(x, (state[0][k], state[1][k]), *weights)
                cs.append(c)
            else:
                h = torch.gru_cell(x, state[0][k], *weights)
            hs.append(h)
            x = h  # (B, H)
        new_state: State = (torch.stack(hs), torch.stack(cs)) if cs else (torch.stack(hs),)
        return self.decoder(x), new_state

    def numpy_stepper(self, state: State | None = None) -> NumpyStepper:
        """A copy of this model's weights in NumPy that steps one token at a time from
        ``state`` (the generation loop's fast path, see :class:`NumpyStepper`)."""
        return NumpyStepper(self, state)


class NumpyStepper:
    """One token in, next-token logits out, for a batch of one, in NumPy (float32 BLAS
    matrix-vector products): the same numbers as :meth:`RecurrentLanguageModel.step` in eval
    mode, to float rounding, at a fraction of the cost.

    Generation makes one call per token, and a PyTorch call on a (1, H) tensor costs several
    microseconds of dispatch before any arithmetic; a 2 x LSTM(256) step is ~20 such calls.
    Here the first layer's input projection is a row of W_ih^T (one-hot input) or one small
    product (embedding), the other layers are two ``vector @ matrix`` products, and the cell
    is a handful of NumPy ufuncs. The weights are copied at construction, so later training
    of the model does not affect the stepper.

    LSTM (PyTorch's gate order i, f, g, o)::

        z = W_ih x + b_ih + W_hh h + b_hh;  c' = s(z_f) c + s(z_i) tanh(z_g);  h' = s(z_o) tanh(c')

    GRU (order r, z, n)::

        a = W_ih x + b_ih;  b = W_hh h + b_hh;  r = s(a_r + b_r);  u = s(a_z + b_z)
        n = tanh(a_n + r b_n);  h' = n + u (h - n)

    >>> m = LSTMLanguageModel(vocab_size=5, embedding_dim=4, hidden_size=8, num_layers=2)
    >>> NumpyStepper(m).logits_after(3).shape
    (5,)
    """

    def __init__(self, model: RecurrentLanguageModel, state: State | None = None) -> None:
        rnn = model.rnn
        self.cell = model.cell
        self.num_layers, self.hidden = int(rnn.num_layers), int(rnn.hidden_size)

        def arr(t: torch.Tensor) -> np.ndarray:
            return t.detach().to("cpu", torch.float32).numpy()

        with torch.no_grad():
            layers = [
                [arr(getattr(rnn, f"{n}_l{k}")) for n in _CELL_WEIGHTS]
                for k in range(self.num_layers)
            ]
            # The first layer reads the embedded token; with one-hot input, x @ W_ih^T is
            # row `token` of W_ih^T, no product needed.
            self.emb = None if model.one_hot else arr(model.embedding.weight)  # type: ignore[union-attr]
            self.w_ih = [np.ascontiguousarray(w.T) for w, _, _, _ in layers]
            self.w_hh = [np.ascontiguousarray(w.T) for _, w, _, _ in layers]
            if self.cell == "lstm":  # an LSTM adds both biases; a GRU keeps b_hh inside r * (.)
                self.b_ih = [bi + bh for _, _, bi, bh in layers]
                self.b_hh: list[np.ndarray | None] = [None] * self.num_layers
            else:
                self.b_ih = [bi for _, _, bi, _ in layers]
                self.b_hh = [bh for _, _, _, bh in layers]
            self.w_out = np.ascontiguousarray(arr(model.decoder.weight).T)
            self.b_out = arr(model.decoder.bias)
            if state is None:
                n_parts = 2 if self.cell == "lstm" else 1
                state = tuple(torch.zeros(self.num_layers, 1, self.hidden) for _ in range(n_parts))
            elif state[0].shape[1] != 1:
                raise ValueError(
                    f"NumpyStepper steps a batch of one, got a state for a batch of "
                    f"{state[0].shape[1]}"
                )
            self.h = [arr(state[0][k, 0]).copy() for k in range(self.num_layers)]
            self.c = (
                [arr(state[1][k, 0]).copy() for k in range(self.num_layers)]
                if self.cell == "lstm"
                else []
            )

    def logits_after(self, token: int) -> np.ndarray:
        """Feed ``token``, update the state, return the next-token logits (vocab_size,)."""
        H = self.hidden
        x: np.ndarray | None = None
        for k in range(self.num_layers):
            h = self.h[k]
            if k == 0 and self.emb is None:
                a = self.w_ih[0][token] + self.b_ih[0]
            else:
                a = (self.emb[token] if k == 0 else x) @ self.w_ih[k]  # type: ignore[index]
                a += self.b_ih[k]
            if self.cell == "lstm":
                z = a + h @ self.w_hh[k]
                s = expit(z)
                c = s[H : 2 * H] * self.c[k]
                c += s[:H] * np.tanh(z[2 * H : 3 * H])
                h = s[3 * H :] * np.tanh(c)
                self.c[k] = c
            else:
                b = h @ self.w_hh[k]
                b += self.b_hh[k]
                ru = expit(a[: 2 * H] + b[: 2 * H])
                n = np.tanh(a[2 * H :] + ru[:H] * b[2 * H :])
                h = n + ru[H:] * (h - n)
            self.h[k] = h
            x = h
        out = x @ self.w_out  # type: ignore[operator]
        out += self.b_out
        return out


def detach_state(state: State | None) -> State | None:
    """Cut the graph behind ``state`` so that backpropagation stops at the chunk boundary
    (truncated BPTT) while the values still carry over.

    >>> detach_state(None) is None
    True
    """
    if state is None:
        return None
    return tuple(s.detach() for s in state)


@register("lm-lstm")
class LSTMLanguageModel(RecurrentLanguageModel):
    """LSTM language model (see :class:`RecurrentLanguageModel`).

    >>> LSTMLanguageModel(vocab_size=5, hidden_size=4, num_layers=1).config["hidden_size"]
    4
    """

    cell = "lstm"


@register("lm-gru")
class GRULanguageModel(RecurrentLanguageModel):
    """GRU language model (see :class:`RecurrentLanguageModel`).

    >>> m = GRULanguageModel(vocab_size=5, embedding_dim=4, hidden_size=4, num_layers=1)
    >>> len(m(torch.zeros(1, 2, dtype=torch.long))[1])
    1
    """

    cell = "gru"


# The Keras example's model, where it differs from RecurrentLanguageModel's defaults.
CHAR_LSTM_DEFAULTS = {"hidden_size": 128, "num_layers": 1, "input_encoding": "one_hot"}


@register("char-lstm")
class CharLSTM(LSTMLanguageModel):
    """The lecture's (Keras example's) character model: one-hot characters -> LSTM(128) ->
    dense softmax. The defaults reproduce it (:data:`CHAR_LSTM_DEFAULTS` on top of
    :class:`RecurrentLanguageModel`'s); any keyword of :class:`RecurrentLanguageModel` may
    still be changed.

    >>> CharLSTM(vocab_size=57).config["input_encoding"]
    'one_hot'
    """

    def __init__(self, vocab_size: int, **options: Any) -> None:
        super().__init__(vocab_size, **{**CHAR_LSTM_DEFAULTS, **options})


LM_MODELS = ("lstm", "gru", "transformer")
"""The ``model`` choices of a language-model run (``seqlab lm train --model``)."""


def model_name(model: str) -> str:
    """Registry name for a language model's ``model`` choice: ``"lstm" -> "lm-lstm"``,
    ``"gru" -> "lm-gru"``, ``"transformer" -> "lm-transformer"`` (:mod:`seqlab.models.gpt`).

    >>> model_name("gru"), model_name("transformer")
    ('lm-gru', 'lm-transformer')
    """
    return f"lm-{check_choice('model', model, LM_MODELS)}"
