"""Rotary position embeddings (RoPE, Su et al. 2021), GPT-NeoX's layout: the rotation
tables of absolute positions and the rotation itself.

A query or key at position ``m`` has its feature pairs ``(i, i + head_dim/2)`` rotated by
the angle ``m * base ** (-2i / head_dim)``; the dot product of a query at ``m`` and a key at
``n`` then depends on ``m - n`` only, so positions never run out. The transformer language
model (:mod:`seqlab.models.gpt`) rotates with :func:`apply_rotary`; its NumPy generation
step (:mod:`seqlab.models.gpt_stepper`) reads the same :func:`rotary_tables`.

>>> cos, sin = rotary_tables(torch.arange(3), 8)
>>> tuple(cos.shape), cos.dtype
((3, 4), torch.float32)
"""

from __future__ import annotations

import torch

__all__ = ["ROPE_BASE", "apply_rotary", "rotary_tables"]

ROPE_BASE = 10_000.0
"""The rotary embedding's base (RoFormer's and GPT-NeoX's): frequencies ``base ** (-2i/d)``."""


def rotary_tables(
    positions: torch.Tensor, head_dim: int, base: float = ROPE_BASE
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(cos, sin)``, each (T, head_dim / 2) float32, of the rotation angles
    ``position * base ** (-2i / head_dim)``. The angles are computed in float64, so the
    rotation of position 100,000 is as accurate as that of position 10.

    >>> cos, sin = rotary_tables(torch.tensor([0, 1]), 4)
    >>> cos[0].tolist(), round(sin[1, 0].item(), 4)
    ([1.0, 1.0], 0.8415)
    """
    inv_freq = base ** (
        -torch.arange(0, head_dim, 2, dtype=torch.float64, device=positions.device) / head_dim
    )
    angles = positions.to(torch.float64)[:, None] * inv_freq[None, :]  # (T, head_dim/2)
    return angles.cos().float(), angles.sin().float()


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate the feature pairs ``(i, i + head_dim/2)`` of ``x`` (B, heads, T, head_dim) by
    the angles of ``cos`` / ``sin`` (T, head_dim/2), GPT-NeoX's layout; ``x``'s dtype is kept.

    >>> x = torch.tensor([[[[1.0, 0.0]]]])  # one feature pair (1, 0)
    >>> cos, sin = rotary_tables(torch.tensor([1]), 2)
    >>> [round(v, 4) for v in apply_rotary(x, cos, sin).flatten().tolist()]
    [0.5403, 0.8415]
    """
    half = x.shape[-1] // 2
    cos, sin = cos.to(x.dtype), sin.to(x.dtype)
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)
