"""Data: the :class:`TextDataset` container, dataset loaders and batching.

The loaders are reached as ``seqlab.datasets`` (the package that re-exports
:mod:`seqlab.data.datasets`); submodules are imported on demand, so ``import seqlab.data``
stays light.

>>> from seqlab.data import TextDataset
>>> len(TextDataset(["a fine film"], [1], ["neg", "pos"]))
1
"""

from __future__ import annotations

from seqlab.data.base import TextDataset

__all__ = ["TextDataset"]


def __dir__() -> list[str]:
    # PEP 562: dir() shows the public names, not the helpers this module imports.
    return list(__all__)
