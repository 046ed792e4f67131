"""Scaled dot-product attention for seqlab's transformers, with the kernel chosen for speed.

``torch.nn.functional.scaled_dot_product_attention`` picks a fused "flash" kernel on the CPU.
In bfloat16 (``--precision bf16``, autocast) its backward pass is the slowest part of a
training step at seqlab's sizes (head width 25-32, windows of 128-500 tokens): on the 2-core
AMD EPYC with AVX512-BF16 it took 42 % of a step of the 4 x 128-d language model, and the
plain "math" kernel (the product of queries and keys, a softmax, the product with the values)
made the whole step about 1.4x faster. In float32 the two kernels cost about the same, so
float32 keeps torch's choice. ``benchmarks/bench_precision.py`` measures both.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

__all__ = ["attend"]


def attend(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    attn_mask: torch.Tensor | None = None,
    is_causal: bool = False,
    dropout_p: float = 0.0,
) -> torch.Tensor:
    """``scaled_dot_product_attention(q, k, v, ...)``, on the math kernel for bfloat16 on a
    CPU (see the module docstring); the same result as torch's own choice to rounding.

    >>> q = k = v = torch.randn(1, 2, 5, 4)
    >>> torch.allclose(attend(q, k, v, is_causal=True),
    ...                F.scaled_dot_product_attention(q, k, v, is_causal=True), atol=1e-6)
    True
    """
    if q.device.type == "cpu" and q.dtype == torch.bfloat16:
        with sdpa_kernel(SDPBackend.MATH):
            return F.scaled_dot_product_attention(
                q, k, v, attn_mask=attn_mask, is_causal=is_causal, dropout_p=dropout_p
            )
    return F.scaled_dot_product_attention(
        q, k, v, attn_mask=attn_mask, is_causal=is_causal, dropout_p=dropout_p
    )
