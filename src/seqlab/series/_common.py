"""What :mod:`seqlab.series.experiments` and :mod:`seqlab.series.neural` both need.

It sits below both, so that neither imports the other at module level (``experiments``
builds the neural models through factories that import ``neural`` on first use).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["NEURAL_MODELS", "stratified_split"]

#: Neural networks registered both as forecasters and as sequence classifiers
#: (:mod:`seqlab.series.neural`; torch is imported only when one is built).
NEURAL_MODELS = ("lstm", "gru", "rnn", "tdnn", "cnn")


def stratified_split(
    labels: Any, val_fraction: float = 0.2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``(train_index, val_index)`` with about ``val_fraction`` of every class in validation.

    >>> tr, va = stratified_split([0] * 10 + [1] * 10, 0.2, seed=0)
    >>> len(tr), len(va)
    (16, 4)
    """
    labels = np.asarray(labels)
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(
            f"val_fraction must be in (0, 1), got {val_fraction!r}; use e.g. 0.2 (a fifth of each class)"
        )
    rng = np.random.default_rng(seed)
    val_idx = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        rng.shuffle(idx)
        k = int(round(len(idx) * val_fraction))
        val_idx.extend(idx[: min(k, len(idx) - 1)].tolist())
    val = np.sort(np.array(val_idx, dtype=np.int64))
    train = np.setdiff1d(np.arange(len(labels)), val)
    return train, val
