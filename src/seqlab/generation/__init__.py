"""Text generation from a trained language model: temperature (the lecture's formula),
top-k and nucleus (top-p) filtering, seeds, stop strings, and the two generation loops.

>>> import torch
>>> from seqlab.generation import reweight
>>> reweight(torch.tensor([0.5, 0.5]), 2.0).tolist()
[0.5, 0.5]
"""

from seqlab._utils import public_dir
from seqlab.generation import sampling
from seqlab.generation.sampling import *  # noqa: F403

# sampling's names, less its table of generation loops.
__all__ = [name for name in sampling.__all__ if name != "LOOPS"]

__dir__ = public_dir(__all__)
