"""Text generation from a trained language model: temperature (the lecture's formula),
top-k and nucleus (top-p) filtering, seeds, stop strings, and the two generation loops.

>>> import torch
>>> from seqlab.generation import reweight
>>> reweight(torch.tensor([0.5, 0.5]), 2.0).tolist()
[0.5, 0.5]
"""

from seqlab._utils import public_dir
from seqlab.generation.sampling import (
    GREEDY_TEMPERATURE,
    TokenSampler,
    check_temperature,
    filter_top_k,
    filter_top_p,
    next_token_probs,
    reweight,
    sample_next,
    stop_at,
    stream_tokens,
)

__all__ = [
    "GREEDY_TEMPERATURE",
    "TokenSampler",
    "check_temperature",
    "filter_top_k",
    "filter_top_p",
    "next_token_probs",
    "reweight",
    "sample_next",
    "stop_at",
    "stream_tokens",
]

__dir__ = public_dir(__all__)
