"""Training: the fit loop, callbacks, metrics and learning-curve plots.

>>> from seqlab.training import fit, train_classifier  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "Callback": "seqlab.training.callbacks",
    "fit": "seqlab.training.trainer",
    "train_classifier": "seqlab.training.classify",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    # Lazy, so that seqlab.runs can import seqlab.training.metrics without a cycle through
    # the trainer (which itself imports seqlab.runs).
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'seqlab.training' has no attribute {name!r}")
