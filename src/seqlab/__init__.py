"""seqlab: neural networks on sequence data.

>>> import seqlab as sl
>>> sl.text.pad_sequences([[1, 2], [3]], maxlen=3).tolist()
[[0, 1, 2], [0, 0, 3]]
"""

from __future__ import annotations

import importlib
from typing import Any

from seqlab import _openmp

# Before torch loads libgomp: idle OpenMP threads sleep instead of spinning when the user asks
# for it with SEQLAB_PASSIVE_WAIT=1 (measured trade-off in seqlab._openmp).
_openmp.prefer_passive_wait()

__version__ = "0.1.0"

_SUBMODULES = {
    "text",
    "data",
    "datasets",
    "models",
    "training",
    "embeddings",
    "series",
    "lm",
    "generation",
    "export",
}
_FUNCTIONS = {
    "fit": "seqlab.training.trainer",
    "load": "seqlab.loading",
    "Run": "seqlab.runs",
    "explain": "seqlab.explain",
}

__all__ = sorted(_SUBMODULES | set(_FUNCTIONS) | {"__version__"})


def __getattr__(name: str) -> Any:
    # Lazy: `import seqlab` stays fast, and torch is imported only when a model is used.
    if name in _SUBMODULES:
        return importlib.import_module(f"seqlab.{name}")
    if name in _FUNCTIONS:
        return getattr(importlib.import_module(_FUNCTIONS[name]), name)
    raise AttributeError(f"module 'seqlab' has no attribute {name!r}")


def __dir__() -> list[str]:
    # PEP 562: dir() shows the public names, not the helpers this module imports.
    return list(__all__)
