"""A Keras-style training history that also answers to Keras 2's short metric names.

Keras 2 (and the lecture's plots) write ``history['acc']`` and ``history['val_acc']``;
seqlab's histories, like Keras's since 2.3, say ``accuracy`` and ``val_accuracy``.
:class:`History` is a plain ``dict`` of per-evaluation lists whose lookups also accept the
short names; what it holds, and what ``history.json`` stores, keeps the full names only.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ALIASES", "History"]

#: Short name -> the name a seqlab history uses.
ALIASES = {"acc": "accuracy", "val_acc": "val_accuracy"}


class History(dict):  # type: ignore[type-arg]
    """``{"loss": [...], "accuracy": [...], "val_loss": [...], ...}``, where ``"acc"`` and
    ``"val_acc"`` also find ``"accuracy"`` and ``"val_accuracy"`` (``[]``, ``get``, ``in``).
    Keys, iteration, ``len`` and JSON stay those of the dict it holds.

    >>> h = History({"loss": [0.7, 0.5], "accuracy": [0.5, 0.8], "val_accuracy": [0.6, 0.7]})
    >>> h["acc"], h.get("val_acc"), "acc" in h, list(h)
    ([0.5, 0.8], [0.6, 0.7], True, ['loss', 'accuracy', 'val_accuracy'])
    """

    def __missing__(self, key: Any) -> Any:
        name = ALIASES.get(key) if isinstance(key, str) else None
        if name is not None and dict.__contains__(self, name):
            return dict.__getitem__(self, name)
        raise KeyError(key)

    def get(self, key: Any, default: Any = None) -> Any:
        """``self[key]`` (aliases included) or ``default``."""
        return self[key] if key in self else default

    def __contains__(self, key: object) -> bool:
        if dict.__contains__(self, key):
            return True
        name = ALIASES.get(key) if isinstance(key, str) else None
        return name is not None and dict.__contains__(self, name)
