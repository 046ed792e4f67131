"""A 2-D picture of chosen words: PCA (numpy SVD) of their vectors, labelled points.

>>> plot_words(kv, ["king", "queen", "man", "woman"], "words.png")  # doctest: +SKIP
PosixPath('words.png')
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from seqlab._utils import PathLike, atomic_write_bytes
from seqlab.embeddings.keyed import KeyedVectors

__all__ = ["pca_2d", "plot_words"]


def pca_2d(vectors: np.ndarray) -> np.ndarray:
    """Project (K, D) vectors on their first two principal components -> (K, 2).

    The sign of each component is fixed (largest loading positive) so the picture is stable.

    >>> pca_2d(np.array([[0.0, 0, 0], [1, 1, 0], [2, 2, 0]])).shape
    (3, 2)
    """
    x = np.asarray(vectors, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"need at least 2 vectors of shape (K, D), got shape {x.shape}")
    x = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    components = vt[:2]
    signs = np.sign(components[np.arange(len(components)), np.abs(components).argmax(axis=1)])
    components = components * np.where(signs == 0, 1, signs)[:, None]
    out = x @ components.T
    if out.shape[1] < 2:  # D == 1: pad with a zero axis
        out = np.hstack([out, np.zeros((out.shape[0], 2 - out.shape[1]))])
    return out


def plot_words(
    kv: KeyedVectors,
    words: Sequence[str],
    path: PathLike,
    title: str | None = None,
    dpi: int = 120,
) -> Path:
    """Save a PNG of ``words`` placed by a 2-D PCA of their vectors, each point labelled.

    Unknown words raise the vocabulary's KeyError (with spelling suggestions).

    >>> plot_words(kv, ["paris", "france", "rome", "italy"], "capitals.png")  # doctest: +SKIP
    PosixPath('capitals.png')
    """
    if isinstance(words, str):
        raise TypeError("words must be a list of words, got a single str")
    words = list(dict.fromkeys(words))
    if len(words) < 2:
        raise ValueError(f"plot_words needs at least 2 distinct words, got {words!r}")
    points = pca_2d(kv[words])

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 6))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.scatter(points[:, 0], points[:, 1], s=18, color="tab:blue")
    for (x, y), word in zip(points, words):
        ax.annotate(word, (x, y), xytext=(4, 3), textcoords="offset points", fontsize=9)
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    ax.set_title(title or f"{len(words)} words, PCA of {kv.vector_size}-d vectors")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return atomic_write_bytes(path, buffer.getvalue())
