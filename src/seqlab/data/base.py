"""The labelled-text container that loaders return and the trainer consumes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["TextDataset", "label_array"]


def label_array(labels: Any, count: int, field: str, item: str) -> np.ndarray:
    """``labels`` as an int64 array of one label per ``item`` (``count`` of them, held in
    the dataset's ``field``), or a ValueError that says how many of each there are.

    >>> label_array([1, 0], 3, "texts", "text")
    Traceback (most recent call last):
    ...
    ValueError: labels has 2 items but texts has 3; give one label per text
    """
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) != count:
        raise ValueError(
            f"labels has {len(labels)} items but {field} has {count}; give one label per {item}"
        )
    return labels


@dataclass
class TextDataset:
    """Texts with integer labels (``0 .. len(label_names) - 1``).

    ``ratings`` (e.g. IMDB stars) and ``ids`` are optional per-item extras.

    >>> ds = TextDataset(["good", "bad"], np.array([1, 0]), ["neg", "pos"])
    >>> len(ds), ds.label_names[ds.labels[0]]
    (2, 'pos')
    """

    texts: list[str]
    labels: np.ndarray
    label_names: list[str]
    ids: list[str] | None = None
    ratings: np.ndarray | None = None
    name: str = ""
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.texts, str):
            raise TypeError(
                "texts must be a list of documents, got a single str; wrap it in a list: [text]"
            )
        self.texts = list(self.texts)
        self.labels = label_array(self.labels, len(self.texts), "texts", "text")

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def num_classes(self) -> int:
        return len(self.label_names)

    def subset(self, index: Sequence[int] | np.ndarray) -> TextDataset:
        """A new dataset with the items at ``index`` (in that order)."""
        index = np.asarray(index, dtype=np.int64)
        return TextDataset(
            texts=[self.texts[i] for i in index],
            labels=self.labels[index],
            label_names=list(self.label_names),
            ids=None if self.ids is None else [self.ids[i] for i in index],
            ratings=None if self.ratings is None else np.asarray(self.ratings)[index],
            name=self.name,
            meta=dict(self.meta),
        )
