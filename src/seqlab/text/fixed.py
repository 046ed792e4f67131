"""Fixed-length sequences: a fitted vectorizer whose rows keep their padding.

Used by :func:`seqlab.training.classify.train_classifier` (``fixed_maxlen``) and restored by
:func:`seqlab.load` from ``config.json`` (``train.fixed_maxlen``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["FixedLengthVectorizer"]


class FixedLengthVectorizer:
    """A fitted int-mode TextVectorizer whose sequences keep their padding: every text
    becomes exactly ``maxlen`` ids (zeros included), so a sequence model reads the padding
    as input — the lecture's fixed-length setting (``pad_sequences(maxlen=500)``).

    A plain TextVectorizer with ``maxlen`` pads too, but the trainer strips padding from
    2-D arrays (it masks it instead); this wrapper hands over a list of full-length rows,
    which the trainer keeps as they are. Everything else (``vocab_size``, ``tokenize``,
    ``to_dict``...) is the wrapped vectorizer's; :func:`seqlab.load` re-wraps a run trained
    this way (``config.json``: ``train.fixed_maxlen``).

    >>> from seqlab.text import TextVectorizer
    >>> inner = TextVectorizer(maxlen=4, padding="pre").fit(["a b c"])
    >>> [row.tolist() for row in FixedLengthVectorizer(inner).transform(["b c", "a b c a b"])]
    [[0, 0, 3, 4], [2, 3, 4, 2]]
    """

    def __init__(self, vectorizer: Any) -> None:
        if getattr(vectorizer, "output_mode", None) != "int" or not getattr(
            vectorizer, "maxlen", None
        ):
            raise ValueError(
                "FixedLengthVectorizer wraps an int-mode TextVectorizer with maxlen set, got "
                f"output_mode={getattr(vectorizer, 'output_mode', None)!r}, "
                f"maxlen={getattr(vectorizer, 'maxlen', None)!r}"
            )
        self.vectorizer = vectorizer

    def __getattr__(self, name: str) -> Any:
        if name == "vectorizer":  # not set yet (e.g. during copy): avoid infinite recursion
            raise AttributeError(name)
        return getattr(self.vectorizer, name)

    def __repr__(self) -> str:
        return f"FixedLengthVectorizer({self.vectorizer!r})"

    def transform(self, docs: Any) -> list[np.ndarray]:
        """One int64 array of exactly ``maxlen`` ids per document, padding included."""
        return list(np.asarray(self.vectorizer.transform(docs), dtype=np.int64))

    def to_dict(self) -> dict[str, Any]:
        """The wrapped vectorizer's dict (the fixed length lives in ``config.json``)."""
        return self.vectorizer.to_dict()
