"""The labelled-text container that loaders return and the trainer consumes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["TextDataset"]


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
        self.labels = np.asarray(self.labels, dtype=np.int64)
        if len(self.labels) != len(self.texts):
            raise ValueError(
                f"labels has {len(self.labels)} items but texts has {len(self.texts)}; "
                "give one label per text"
            )

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
