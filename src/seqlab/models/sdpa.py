"""Scaled dot-product attention for seqlab's transformers, with the kernel chosen for speed.

``torch.nn.functional.scaled_dot_product_attention`` picks a fused "flash" kernel on the CPU
when it can. In bfloat16 (``--precision bf16``, autocast) on a CPU with bfloat16
instructions, that kernel's backward pass is slow for causal attention without a mask (the
language model's training windows): the plain "math" kernel (queries times keys, a softmax,
times the values) made a whole training step of the 4 x 128-d language model 1.28x faster
(``benchmarks/bench_precision.py``, ``lm-bf16-kernel``, session 12's AMD EPYC with
AVX512-BF16, one thread). With a mask (the classifier's padding mask) it is the other way
round: torch's choice took 0.39 s a step of the IMDB transformer in bfloat16 and the math
kernel 0.63 s (a one-off measurement beside the benchmark's; float32 took 0.53 s).
So :func:`attend` takes the math kernel for unmasked bfloat16 attention on a CPU, and
leaves every other case to torch.
"""

from __future__ import annotations

import contextlib

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
    CPU without ``attn_mask`` (see the module docstring); the same result as torch's own
    choice to rounding.

    >>> q = k = v = torch.randn(1, 2, 5, 4)
    >>> torch.allclose(attend(q, k, v, is_causal=True),
    ...                F.scaled_dot_product_attention(q, k, v, is_causal=True), atol=1e-6)
    True
    """
    math = q.device.type == "cpu" and q.dtype == torch.bfloat16 and attn_mask is None
    with sdpa_kernel(SDPBackend.MATH) if math else contextlib.nullcontext():
        return F.scaled_dot_product_attention(
            q, k, v, attn_mask=attn_mask, is_causal=is_causal, dropout_p=dropout_p
        )
