"""Tiny labelled texts shared by tests: each review is filler words plus one cue word."""

from __future__ import annotations

import numpy as np

from seqlab.data.base import TextDataset

POS = ["superb", "great"]
NEG = ["awful", "boring"]
FILLER = ["the", "film", "plot", "acting", "story", "cast", "was", "a", "and", "it"]


def toy_reviews(n: int = 60, seed: int = 0) -> TextDataset:
    """``n`` reviews of 5-9 words; label 1 ("pos") has a positive cue word, 0 a negative."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for i in range(n):
        words = list(rng.choice(FILLER, size=int(rng.integers(4, 9))))
        words.insert(int(rng.integers(len(words) + 1)), str(rng.choice(POS if i % 2 else NEG)))
        texts.append(" ".join(words))
        labels.append(i % 2)
    return TextDataset(texts=texts, labels=np.array(labels), label_names=["neg", "pos"])


# A tiny labelled table for the CLI tests: (text, label) rows.
ROWS = [
    ("a wonderful superb film", "pos"),
    ("great moving story", "pos"),
    ("fine and good acting", "pos"),
    ("an awful dull plot", "neg"),
    ("boring poor acting", "neg"),
    ("bad lifeless film", "neg"),
] * 5
