"""A GPT-style transformer language model whose key/value cache is its state, exact past its
context length.

The call is the one every seqlab language model has (:mod:`seqlab.models.lm`):
``model(tokens, state) -> (logits, state)``, ``tokens`` (B, T) int64, ``logits``
(B, T, vocab_size). For this model the state IS the key/value cache, so the generation loop
that feeds the prompt once and then one token at a time with the state
(:func:`seqlab.generation.sampling.stream_tokens`) uses the cache without knowing it. For
the single tokens after the prompt it takes :meth:`TransformerLanguageModel.numpy_stepper`
when the model offers one, as for the recurrent models: the same step in NumPy, the cache
in a ring buffer written in place (:mod:`seqlab.models.gpt_stepper`), several times faster
than a PyTorch call per token at seqlab's sizes, where fixed per-call costs dominate.

Layers: token embedding -> ``num_layers`` pre-norm blocks (LayerNorm -> causal multi-head
self-attention through ``torch.nn.functional.scaled_dot_product_attention`` -> residual;
LayerNorm -> MLP 4 x d_model with GELU -> residual) -> LayerNorm -> output layer tied to the
embedding (``tie_weights=True``), dropout after the embedding, on the attention weights and
on each residual branch.

Why the cache is exact, also past ``block_size`` (learned absolute positions cannot slide:
a model that has seen positions 0..block_size-1 has no embedding for position block_size)::

    positions   rotary embeddings (RoPE, Su et al. 2021): the queries and keys of every layer
                are rotated by their absolute position, so the score of query i and key j
                depends on i - j only; positions never run out.
    attention   a sliding causal window of width block_size in every layer: token i attends
                to tokens i - block_size + 1 .. i (a banded causal mask).
    cache       the rotated keys and the values of the last block_size - 1 tokens of every
                layer, and the position of the next token. Those are all a new token can
                attend to, so feeding tokens one at a time with the cache computes what
                re-running the whole sequence under the banded mask computes: the same
                logits, to float rounding, for any length.

Training reads windows of ``block_size`` tokens (the band never binds inside one, so a
window is the same computation), and the model does not carry a state from one training
batch to the next: ``stateful = False`` tells the language-model task so
(:class:`seqlab.lm.task.LanguageModelTask`), where a recurrent model says ``True``.

A nanoGPT-style loop that crops the context to the last ``block_size`` tokens and re-runs it
for every new token (``loop="window"`` of the generation loops) computes something else past
``block_size``: with more than one layer, a token's hidden state depends on where the crop
starts, so nothing can be cached. ``loop="full"`` re-runs the whole sequence under the band
at every step: the cache's reference.

>>> m = TransformerLanguageModel(vocab_size=10, block_size=4, d_model=16, num_layers=2,
...                              num_heads=2)
>>> logits, state = m(torch.zeros(3, 7, dtype=torch.long))
>>> tuple(logits.shape), len(state), tuple(state[0].shape), int(state[-1])
((3, 7, 10), 5, (3, 2, 3, 8), 7)
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from seqlab.defaults import DEFAULT_INIT
from seqlab.models._checks import check_dropout
from seqlab.models.gpt_stepper import TransformerStepper
from seqlab.models.initializers import check_init, keras_init
from seqlab.models.registry import register
from seqlab.models.rotary import ROPE_BASE, apply_rotary, rotary_tables
from seqlab.models.sdpa import attend

__all__ = [
    "ROPE_BASE",
    "KVState",
    "TransformerLanguageModel",
    "apply_rotary",
    "band_mask",
    "check_transformer",
    "rotary_tables",
]

# (k_1, v_1, ..., k_L, v_L, position): per layer the rotated keys and the values of the last
# C <= block_size - 1 tokens, each (B, num_heads, C, head_dim), then a 0-dim int64 tensor,
# the absolute position of the next token (the number of tokens read so far).
KVState = tuple[torch.Tensor, ...]
# What a block's forward pass reads besides x: the rotary tables (cos, sin) of the positions
# read, one layer's cached (keys, values), and band_mask's (attn_mask, is_causal).
_Rotary = tuple[torch.Tensor, torch.Tensor]
_LayerCache = tuple[torch.Tensor, torch.Tensor]
_Mask = tuple[torch.Tensor | None, bool]


def check_transformer(
    block_size: Any, d_model: Any, num_layers: Any, num_heads: Any, dropout: Any
) -> None:
    """Raise ValueError naming the first bad size, with the value and the fix.

    >>> check_transformer(64, 128, 4, 4, 0.0)
    >>> check_transformer(64, 130, 4, 4, 0.0)
    Traceback (most recent call last):
    ...
    ValueError: d_model=130 is not a multiple of num_heads=4 (each head gets d_model / num_heads features); choose d_model a multiple of num_heads, e.g. 128
    """
    for name, value in (("block_size", block_size), ("d_model", d_model),
                        ("num_layers", num_layers), ("num_heads", num_heads)):  # fmt: skip
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    if d_model % num_heads:
        fix = max(num_heads, round(d_model / num_heads) * num_heads)
        raise ValueError(
            f"d_model={d_model} is not a multiple of num_heads={num_heads} (each head gets "
            f"d_model / num_heads features); choose d_model a multiple of num_heads, e.g. {fix}"
        )
    if (d_model // num_heads) % 2:
        raise ValueError(
            f"d_model / num_heads = {d_model}/{num_heads} = {d_model // num_heads} features per "
            "head is odd, but rotary position embeddings rotate pairs of features; choose "
            f"d_model and num_heads with an even quotient, e.g. d_model={2 * d_model}"
        )
    if isinstance(dropout, bool) or not isinstance(dropout, int | float) or not 0 <= dropout < 1:
        raise ValueError(f"dropout must be a number in [0, 1), got {dropout!r}")


def band_mask(
    query_len: int, past_len: int, window: int, device: torch.device | None = None
) -> tuple[torch.Tensor | None, bool]:
    """``(attn_mask, is_causal)`` for ``scaled_dot_product_attention`` when ``query_len`` new
    tokens attend to ``past_len`` cached ones and themselves, each to the ``window`` tokens
    ending at itself. No mask is built when the band cannot bind: a fresh sequence of at
    most ``window`` tokens is plain causal attention, one new token after at most
    ``window - 1`` cached ones sees them all. Otherwise a (query_len, past_len + query_len)
    boolean mask, True where attention is allowed.

    While torch traces (``seqlab export``), the mask is always built: a trace records one
    path through this Python code, and the built mask is the path that holds for every
    length, so the traced graph builds the band from the length it is given.

    >>> band_mask(4, 0, 8), band_mask(1, 7, 8)
    ((None, True), (None, False))
    >>> band_mask(3, 1, 2)[0].int().tolist()
    [[1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1]]
    """
    if not torch.jit.is_tracing():
        if past_len == 0 and query_len <= window:
            return None, True
        if query_len == 1 and past_len <= window - 1:
            return None, False
    queries = torch.arange(query_len, device=device)[:, None] + past_len  # absolute - start
    keys = torch.arange(past_len + query_len, device=device)[None, :]
    distance = queries - keys  # (T, C + T): how far back each key is from each query
    return (distance >= 0) & (distance < window), False


class _SelfAttention(nn.Module):
    """Causal multi-head self-attention with rotary positions over a sliding window."""

    def __init__(
        self, d_model: int, num_heads: int, window: int, dropout: float, attention_dropout: float
    ) -> None:
        super().__init__()
        self.num_heads, self.window, self.dropout = num_heads, window, attention_dropout
        self.head_dim = d_model // num_heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.drop = nn.Dropout(dropout)

    def forward(
        self, x: torch.Tensor, rotary: _Rotary, past: _LayerCache | None, mask: _Mask
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        B, T, C = x.shape
        qkv = self.qkv(x).view(B, T, 3, self.num_heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, heads, T, head_dim)
        q, k = apply_rotary(q, *rotary), apply_rotary(k, *rotary)
        if past is not None:  # the cached keys (already rotated) and values come first
            k = torch.cat((past[0].to(k.dtype), k), dim=2)
            v = torch.cat((past[1].to(v.dtype), v), dim=2)
        attn_mask, is_causal = mask
        y = attend(
            q, k, v, attn_mask=attn_mask, is_causal=is_causal,
            dropout_p=self.dropout if self.training else 0.0,
        )  # fmt: skip
        y = y.transpose(1, 2).reshape(B, T, C)  # the heads side by side again
        keep = k.shape[2] - min(k.shape[2], self.window - 1)  # what the next token can see
        return self.drop(self.proj(y)), k[:, :, keep:], v[:, :, keep:]


class _Block(nn.Module):
    """Pre-norm transformer block: ``x + attention(norm(x))``, then ``x + mlp(norm(x))``."""

    def __init__(
        self, d_model: int, num_heads: int, window: int, dropout: float, attention_dropout: float
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(d_model)
        self.attention = _SelfAttention(d_model, num_heads, window, dropout, attention_dropout)
        self.norm2 = nn.LayerNorm(d_model)
        self.fc = nn.Linear(d_model, 4 * d_model)
        self.proj = nn.Linear(4 * d_model, d_model)
        self.drop = nn.Dropout(dropout)

    def forward(
        self, x: torch.Tensor, rotary: _Rotary, past: _LayerCache | None, mask: _Mask
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        attended, k, v = self.attention(self.norm1(x), rotary, past, mask)
        x = x + attended
        x = x + self.drop(self.proj(F.gelu(self.fc(self.norm2(x)))))
        return x, k, v


@register("lm-transformer")
class TransformerLanguageModel(nn.Module):
    """GPT-style causal transformer language model with rotary positions and a sliding
    attention window of ``block_size`` tokens (see the module docstring for why).

    ``forward(tokens, state=None)`` returns ``(logits, state)``: ``logits`` (B, T, vocab_size)
    predicts the token after each position; ``state`` is the key/value cache after the last
    position (:data:`KVState`), to pass back with the next tokens. Any length works, with or
    without a state: every token sees the ``block_size`` tokens ending at itself in each
    layer. ``tie_weights=True`` (the default) shares the embedding matrix with the output
    layer. ``init="torch"`` draws the weights as PyTorch's GPT references do (nanoGPT,
    minGPT: N(0, 0.02), residual projections N(0, 0.02 / sqrt(2 num_layers)), zero biases):
    PyTorch's per-layer defaults would start from an N(0, 1) embedding that, tied, puts the
    first logits at a scale of sqrt(d_model). ``init="keras"`` draws them as Keras would
    (:func:`seqlab.models.initializers.keras_init`). Seed torch's global generator first.

    >>> m = TransformerLanguageModel(vocab_size=5, block_size=8, d_model=8, num_layers=1,
    ...                              num_heads=2)
    >>> m.stateful, m.state_grows, m.config["block_size"], m.decoder.weight is m.embedding.weight
    (False, True, 8, True)
    """

    input_kind = "tokens"
    stateful = False  # training does not carry the state from one batch to the next
    # The state is a key/value cache that grows with the text (to block_size - 1 tokens), not
    # tensors of a fixed size: seqlab export writes the whole-sequence graph for it.
    state_grows = True

    def __init__(
        self,
        vocab_size: int,
        block_size: int = 128,
        d_model: int = 128,
        num_layers: int = 4,
        num_heads: int = 4,
        dropout: float = 0.0,
        tie_weights: bool = True,
        init: str = DEFAULT_INIT,
        attention_dropout: float | None = None,
    ) -> None:
        super().__init__()
        init = check_init(init)
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < 2:
            raise ValueError(f"vocab_size must be an integer >= 2, got {vocab_size!r}")
        check_transformer(block_size, d_model, num_layers, num_heads, dropout)
        if attention_dropout is not None:
            attention_dropout = check_dropout(attention_dropout, "attention_dropout")
        self.config: dict[str, Any] = {
            "vocab_size": vocab_size,
            "block_size": block_size,
            "d_model": d_model,
            "num_layers": num_layers,
            "num_heads": num_heads,
            "dropout": float(dropout),
            "tie_weights": bool(tie_weights),
            "init": init,
        }
        if attention_dropout is not None:  # absent: as dropout (older run folders too)
            self.config["attention_dropout"] = float(attention_dropout)
        attention_p = float(dropout if attention_dropout is None else attention_dropout)
        self.vocab_size, self.block_size = vocab_size, block_size
        self.num_layers, self.head_dim = num_layers, d_model // num_heads
        self.embedding = nn.Embedding(vocab_size, d_model)
        self.drop = nn.Dropout(float(dropout))
        self.blocks = nn.ModuleList(
            _Block(d_model, num_heads, block_size, float(dropout), attention_p)
            for _ in range(num_layers)
        )
        self.norm = nn.LayerNorm(d_model)
        self.decoder = nn.Linear(d_model, vocab_size)
        if tie_weights:
            self.decoder.weight = self.embedding.weight
        if init == "keras":
            keras_init(self)  # a tied matrix is drawn once, as the embedding
        else:
            self._gpt_init()

    @property
    def tied(self) -> bool:
        """Whether the output layer shares its weight with the embedding."""
        return bool(self.config["tie_weights"])

    def _gpt_init(self) -> None:
        std = 0.02
        with torch.no_grad():
            for module in self.modules():
                if isinstance(module, nn.Linear | nn.Embedding):
                    nn.init.normal_(module.weight, 0.0, std)
                if isinstance(module, nn.Linear) and module.bias is not None:
                    nn.init.zeros_(module.bias)
            for block in self.blocks:  # the residual branches add up over 2 x num_layers
                for proj in (block.attention.proj, block.proj):
                    nn.init.normal_(proj.weight, 0.0, std / math.sqrt(2 * self.num_layers))

    def forward(
        self, tokens: torch.Tensor, state: KVState | None = None
    ) -> tuple[torch.Tensor, KVState]:
        """``tokens`` (B, T) int64 after the tokens cached in ``state`` ->
        ``(logits (B, T, vocab_size), the cache after them)``."""
        if tokens.dim() != 2:
            raise ValueError(
                f"tokens must be a (batch, time) tensor, got shape {tuple(tokens.shape)}"
            )
        B, T = tokens.shape
        start = 0
        pasts: list[_LayerCache | None] = [None] * self.num_layers
        if state is not None:
            if len(state) != 2 * self.num_layers + 1:
                raise ValueError(
                    f"state has {len(state)} tensors, but this model's cache has "
                    f"{2 * self.num_layers + 1} (keys and values of {self.num_layers} layers, "
                    "then the position); pass the state this model returned, or None"
                )
            start = int(state[-1])
            pasts = [(state[2 * i], state[2 * i + 1]) for i in range(self.num_layers)]
        past_len = 0 if pasts[0] is None else pasts[0][0].shape[2]
        positions = torch.arange(start, start + T, device=tokens.device)
        rotary = rotary_tables(positions, self.head_dim)
        mask = band_mask(T, past_len, self.block_size, tokens.device)
        x = self.drop(self.embedding(tokens))  # (B, T, d_model)
        cache: list[torch.Tensor] = []
        for block, past in zip(self.blocks, pasts):
            x, k, v = block(x, rotary, past, mask)
            cache += [k, v]
        logits = self.decoder(self.norm(x))  # (B, T, vocab_size)
        position = torch.tensor(start + T, dtype=torch.long, device=tokens.device)
        return logits, (*cache, position)

    def numpy_stepper(self, state: KVState | None = None) -> TransformerStepper:
        """A copy of this model's weights in NumPy that feeds one token at a time from the
        cache ``state`` (batch of one), with the cache in a ring buffer: the generation
        loop's fast path, the same logits as :meth:`forward` to float rounding (see
        :mod:`seqlab.models.gpt_stepper`).

        >>> m = TransformerLanguageModel(vocab_size=5, block_size=4, d_model=8, num_layers=1,
        ...                              num_heads=2).eval()
        >>> m.numpy_stepper(m(torch.tensor([[1, 2]]))[1]).logits_after(3).shape
        (5,)
        """
        return TransformerStepper(self, state)
