"""One generated token at a time through the transformer language model, in NumPy, with its
key/value cache in a ring buffer: the generation loop's fast path for
:class:`seqlab.models.gpt.TransformerLanguageModel` (as :class:`seqlab.models.lm.NumpyStepper`
is for the recurrent models).

Why NumPy. A cached step of seqlab's 4 x 128-d recipe is about 2 million multiply-adds, a
millisecond's work for a CPU core at a few percent of its peak; what it paid in PyTorch was
the fixed cost of ~30 tensor operations per layer on (1, 1, 128) tensors (dispatch,
allocation, the float64 rotary angles, ``torch.cat`` of the cache, the attention kernel's
set-up). Here a layer is about 35 NumPy calls, most on vectors of 128 to 512 numbers:

    x   (d,)           the token's residual stream (d = d_model)
    qkv = norm1(x) @ W_qkv + b                 (3d,): one matrix-vector product
    q, k rotated by the position's cos / sin   a row of the rotary tables, computed for
                                               1,024 positions at a time
    keys[:, p % W], values[:, p % W] = k, v    the ring buffer, (heads, W, head_dim), W = block_size
    scores = keys[:, :n] @ q / sqrt(head_dim)  (heads, n), n = min(p + 1, W) valid slots
    y = softmax(scores) @ values[:, :n]        (heads, head_dim)
    x += y @ W_proj + b;  x += gelu(norm2(x) @ W_fc + b) @ W_out + b

The ring buffer. The token at position ``p`` attends to positions ``p - W + 1 .. p`` (the
model's band). Slot ``p % W`` holds the oldest of the ``W`` slots, position ``p - W``, which
no longer counts, so the new key and value are written there in place and the attention
runs over every filled slot: the keys were rotated by their absolute positions, so the
scores do not depend on the order of the slots, and a softmax over a set does not either.
Nothing is concatenated, sliced off or copied per step, and nothing needs a mask.

The result equals :meth:`TransformerLanguageModel.forward` on the whole sequence to float
rounding (the sums run in another order; within 1e-5 in the tests), at any length.

>>> import torch
>>> from seqlab.models.gpt import TransformerLanguageModel
>>> m = TransformerLanguageModel(vocab_size=7, block_size=4, d_model=8, num_layers=2,
...                              num_heads=2).eval()
>>> _, state = m(torch.tensor([[1, 2, 3]]))
>>> stepper = TransformerStepper(m, state)
>>> stepper.logits_after(4).shape, stepper.position
((7,), 4)
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from scipy.special import erf
from torch import nn

from seqlab.models.rotary import rotary_tables

if TYPE_CHECKING:  # the model's module imports this one
    from seqlab.models.gpt import TransformerLanguageModel

__all__ = ["TransformerStepper"]

_TABLE_POSITIONS = 1024  # rotary rows computed at once, then again for the next positions


def _arr(t: torch.Tensor) -> np.ndarray:
    """A float32 NumPy copy on the CPU (later training does not reach it)."""
    return t.detach().to("cpu", torch.float32).numpy().copy()


def _linear(layer: nn.Linear) -> tuple[np.ndarray, np.ndarray]:
    """``(W^T (in, out) contiguous, b (out,))``, so that ``x @ W^T + b`` is the layer."""
    bias = layer.bias if layer.bias is not None else torch.zeros(layer.out_features)
    return np.ascontiguousarray(_arr(layer.weight).T), _arr(bias)


def _layer_norm(x: np.ndarray, norm: tuple[np.ndarray, np.ndarray, float]) -> np.ndarray:
    """LayerNorm of a vector (``torch.nn.LayerNorm``: biased variance, eps inside the root)."""
    weight, bias, eps = norm
    centred = x - x.sum() * (1.0 / x.shape[0])
    var = float(centred @ centred) / x.shape[0]
    centred *= 1.0 / math.sqrt(var + eps)
    centred *= weight
    centred += bias
    return centred


class _Layer:
    """One block's weights as NumPy arrays, and its slice of the ring buffer."""

    def __init__(self, block: Any, window: int) -> None:
        attention = block.attention
        self.heads, self.head_dim = int(attention.num_heads), int(attention.head_dim)
        self.norm1 = (_arr(block.norm1.weight), _arr(block.norm1.bias), float(block.norm1.eps))
        self.norm2 = (_arr(block.norm2.weight), _arr(block.norm2.bias), float(block.norm2.eps))
        self.qkv, self.proj = _linear(attention.qkv), _linear(attention.proj)
        self.fc, self.out = _linear(block.fc), _linear(block.proj)
        self.keys = np.zeros((self.heads, window, self.head_dim), np.float32)  # rotated
        self.values = np.zeros_like(self.keys)


class TransformerStepper:
    """Feed one token, get the next token's logits: a batch of one through
    :class:`seqlab.models.gpt.TransformerLanguageModel` in eval mode (no dropout), from the
    key/value cache ``state`` that the model returned (or from nothing), in NumPy. The
    weights are copied at construction; the cache lives in a ring buffer of ``block_size``
    slots per layer (see the module docstring). ``position`` is the number of tokens read.

    >>> import torch
    >>> from seqlab.models.gpt import TransformerLanguageModel
    >>> m = TransformerLanguageModel(vocab_size=5, block_size=2, d_model=4, num_layers=1,
    ...                              num_heads=1).eval()
    >>> step = TransformerStepper(m)
    >>> want = m(torch.tensor([[3, 1, 4]]))[0][0].detach().numpy()
    >>> got = [step.logits_after(t) for t in (3, 1, 4)]
    >>> bool(np.allclose(got, want, atol=1e-5)), step.position
    (True, 3)
    """

    def __init__(
        self, model: TransformerLanguageModel, state: tuple[torch.Tensor, ...] | None = None
    ) -> None:
        self.window = int(model.block_size)
        with torch.no_grad():
            self.layers = [_Layer(block, self.window) for block in model.blocks]
            self.embedding = _arr(model.embedding.weight)
            self.norm = (_arr(model.norm.weight), _arr(model.norm.bias), float(model.norm.eps))
            self.decoder = _linear(model.decoder)
        first = self.layers[0]
        self.head_dim = first.head_dim
        half = self.head_dim // 2
        # q and k side by side, (2, heads, head_dim): the rotation's partner of feature i is
        # feature i + half (GPT-NeoX's layout), and the softmax scale rides on q's row.
        self._partner = np.r_[np.arange(half, self.head_dim), np.arange(half)]
        self._scale = np.array([1.0 / math.sqrt(self.head_dim), 1.0], np.float32)[:, None, None]
        self._table_start = -1
        self.position = 0
        if state is not None:
            self._load(state)

    def _load(self, state: tuple[torch.Tensor, ...]) -> None:
        if len(state) != 2 * len(self.layers) + 1:
            raise ValueError(
                f"state has {len(state)} tensors, but this model's cache has "
                f"{2 * len(self.layers) + 1} (keys and values of {len(self.layers)} layers, "
                "then the position); pass the state this model returned, or None"
            )
        if state[0].shape[0] != 1:
            raise ValueError(
                f"TransformerStepper steps a batch of one, got a state for a batch of "
                f"{state[0].shape[0]}; generate one text at a time"
            )
        self.position = int(state[-1])
        cached = int(state[0].shape[2])  # the last `cached` tokens: positions p - cached .. p - 1
        slots = np.arange(self.position - cached, self.position) % self.window
        for i, layer in enumerate(self.layers):
            layer.keys[:, slots] = _arr(state[2 * i][0])
            layer.values[:, slots] = _arr(state[2 * i + 1][0])

    def _rotation(self, position: int) -> tuple[np.ndarray, np.ndarray]:
        """``(cos, sin)`` rows of ``position``, each (2, 1, head_dim): q's scaled, then k's;
        ``sin`` negated on the first half, so that ``x * cos + x[partner] * sin`` rotates."""
        row = position - self._table_start
        if self._table_start < 0 or row >= _TABLE_POSITIONS:
            self._table_start, row = position, 0
            positions = torch.arange(position, position + _TABLE_POSITIONS)
            cos, sin = (t.numpy() for t in rotary_tables(positions, self.head_dim))
            cos2, sin2 = np.concatenate([cos, cos], 1), np.concatenate([-sin, sin], 1)
            self._cos = cos2[:, None, None, :] * self._scale  # (P, 2, 1, head_dim)
            self._sin = sin2[:, None, None, :] * self._scale
        return self._cos[row], self._sin[row]

    def logits_after(self, token: int) -> np.ndarray:
        """Feed ``token`` (at position :attr:`position`), update the cache, return the
        next-token logits (vocab_size,) float32."""
        p = self.position
        cos, sin = self._rotation(p)
        slot, filled = p % self.window, min(p + 1, self.window)
        x = self.embedding[token]
        for layer in self.layers:
            x = x + self._attend(layer, _layer_norm(x, layer.norm1), cos, sin, slot, filled)
            w, b = layer.fc
            h = _layer_norm(x, layer.norm2) @ w
            h += b
            g = h * np.float32(1.0 / math.sqrt(2.0))  # GELU, exact: h (1 + erf(h / sqrt 2)) / 2
            erf(g, out=g)
            g += 1.0
            g *= h
            g *= 0.5
            w, b = layer.out
            x = x + (g @ w + b)
        self.position = p + 1
        w, b = self.decoder
        logits = _layer_norm(x, self.norm) @ w
        logits += b
        return logits

    def _attend(
        self, layer: _Layer, a: np.ndarray, cos: np.ndarray, sin: np.ndarray, slot: int, n: int
    ) -> np.ndarray:
        """The attention branch for the normalised input ``a`` (d,): write this token's key
        and value into ``slot``, attend over the ``n`` filled slots, project."""
        w, b = layer.qkv
        qkv = a @ w
        qkv += b
        d = a.shape[0]
        qk = qkv[: 2 * d].reshape(2, layer.heads, layer.head_dim)
        rotated = qk * cos
        rotated += qk[..., self._partner] * sin  # [0]: q / sqrt(head_dim), [1]: k
        layer.keys[:, slot] = rotated[1]
        layer.values[:, slot] = qkv[2 * d :].reshape(layer.heads, layer.head_dim)
        scores = np.matmul(layer.keys[:, :n], rotated[0][:, :, None])[:, :, 0]  # (heads, n)
        scores -= scores.max(axis=1, keepdims=True)
        np.exp(scores, out=scores)
        y = np.matmul(scores[:, None, :], layer.values[:, :n])[:, 0]  # (heads, head_dim)
        y /= scores.sum(axis=1, keepdims=True)
        w, b = layer.proj
        out = y.reshape(d) @ w
        out += b
        return out
