"""An embedding matrix for a fitted vocabulary, filled from pretrained word vectors.

>>> import numpy as np
>>> from seqlab.embeddings.keyed import KeyedVectors
>>> kv = KeyedVectors(["good", "film"], np.array([[1, 2], [3, 4]], dtype=np.float32))
>>> matrix, report = build_embedding_matrix(["", "[UNK]", "good", "Film", "meh"], kv)
>>> matrix.tolist()
[[0.0, 0.0], [0.0, 0.0], [1.0, 2.0], [3.0, 4.0], [0.0, 0.0]]
>>> report["found"], report["found_lowercase"], report["total"], report["missing_examples"]
(2, 1, 3, ['meh'])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from seqlab._checks import check_choice
from seqlab._utils import rng
from seqlab.embeddings.keyed import KeyedVectors

__all__ = ["build_embedding_matrix"]

# Rows that never take a pretrained vector: padding (always row 0) and the OOV marker.
_SPECIAL = {"", "[UNK]", "[PAD]", "<pad>", "<unk>"}


def _itos(vocab: Any) -> list[str]:
    if isinstance(vocab, str):
        raise TypeError("itos_or_vocab must be a list of words or a Vocabulary, got a single str")
    if hasattr(vocab, "itos"):
        return list(vocab.itos)
    if isinstance(vocab, Sequence):
        return [str(w) for w in vocab]
    raise TypeError(
        f"itos_or_vocab must be a list of words or have an .itos list, got {type(vocab).__name__}"
    )


def build_embedding_matrix(
    itos_or_vocab: Any,
    kv: KeyedVectors,
    oov: str = "zeros",
    seed: int = 0,
    lowercase_fallback: bool = True,
    max_examples: int = 20,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Row i of the (V, D) float32 matrix is the pretrained vector of word i of the vocabulary.

    Row 0 (padding) is always zeros. A word missing from ``kv`` is looked up lowercased when
    ``lowercase_fallback``; still missing (and the special ``[UNK]`` row) it gets zeros, or
    with ``oov="random"`` a normal draw with the mean and standard deviation of the
    pretrained vectors (reproducible with ``seed``). The report counts ``found`` (exact +
    lowercase), ``found_lowercase``, ``total`` (words other than padding/``[UNK]``),
    ``coverage`` (found / total), ``missing`` and ``missing_examples`` (in vocabulary
    order, i.e. most frequent first).

    >>> matrix, report = build_embedding_matrix(vectorizer.vocabulary_, kv)  # doctest: +SKIP
    """
    check_choice("oov", oov, ("zeros", "random"))
    if not isinstance(kv, KeyedVectors):
        raise TypeError(f"kv must be a KeyedVectors, got {type(kv).__name__}")
    itos = _itos(itos_or_vocab)
    size, dim = len(itos), kv.vector_size
    rows = np.full(size, -1, dtype=np.int64)
    found = found_lower = total = 0
    missing: list[str] = []
    n_missing = 0
    lookup = kv.key_to_index
    for i, word in enumerate(itos):
        if i == 0 or word in _SPECIAL:
            continue
        total += 1
        j = lookup.get(word)
        if j is None and lowercase_fallback:
            j = lookup.get(word.lower())
            if j is not None:
                found_lower += 1
        if j is None:
            n_missing += 1
            if len(missing) < max_examples:
                missing.append(word)
            continue
        rows[i] = j
        found += 1
    matrix = np.zeros((size, dim), dtype=np.float32)
    hit = rows >= 0
    if hit.any():
        matrix[hit] = np.asarray(kv.vectors[rows[hit]], dtype=np.float32)
    if oov == "random":
        draw = ~hit
        draw[0] = False
        if draw.any():
            sample = np.asarray(kv.vectors[: min(len(kv), 100_000)], dtype=np.float64)
            mean, std = sample.mean(axis=0), sample.std(axis=0)
            noise = rng(seed).standard_normal((int(draw.sum()), dim))
            matrix[draw] = (mean + std * noise).astype(np.float32)
    report = {
        "found": found,
        "found_lowercase": found_lower,
        "total": total,
        "coverage": found / total if total else 0.0,
        "missing": n_missing,
        "missing_examples": missing,
        "oov": oov,
    }
    return matrix, report
