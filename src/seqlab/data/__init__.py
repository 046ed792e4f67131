"""Data: the :class:`TextDataset` container, dataset loaders and batching.

The loaders are reached as ``seqlab.datasets`` (the package that re-exports
:mod:`seqlab.data.datasets`); submodules are imported on demand, so ``import seqlab.data``
stays light.

>>> from seqlab.data import TextDataset
>>> len(TextDataset(["a fine film"], [1], ["neg", "pos"]))
1
"""

from __future__ import annotations

from seqlab._utils import public_dir
from seqlab.data.base import TextDataset

__all__ = ["TextDataset"]

__dir__ = public_dir(__all__)
