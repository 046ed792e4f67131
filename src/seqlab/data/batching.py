"""Turn vectorized documents into mini-batches for the two kinds of classifier input.

Bag input (``input_kind = "bag"``) comes from the rows of a CSR matrix and is laid out in
the ``nn.EmbeddingBag`` format, so the first layer never sees a dense ``(B, vocab_size)``
matrix::

    CSR rows            indices (nnz)      offsets (B)   weights (nnz)
    doc 0: {3: 1, 7: 2}  [3, 7,             [0,            [1., 2.,
    doc 1: {}             ...                2,             ...
    doc 2: {5: 1}         5]                 2]             1.]

Sequence input (``input_kind = "sequence"``) is a list of 1-D int arrays (token ids, 0 is
padding); a batch is post-padded with 0 to its longest item, and ``lengths`` keeps the true
lengths. :func:`bucket_batches` groups items of similar length so little padding is
wasted.

Epoch orders come from ``numpy.random.default_rng([seed, epoch])``: the same seed gives the
same batches, and epoch ``k`` can be rebuilt without replaying epochs ``0 .. k-1`` (which is
what makes resuming from a checkpoint exact).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
import torch

from seqlab._checks import check_choice

__all__ = [
    "bag_batch",
    "batch_indices",
    "bucket_batches",
    "encode",
    "epoch_batches",
    "make_batch",
    "sequence_batch",
    "sequence_lengths",
    "stratified_split",
    "to_sequences",
]

INPUT_KINDS = ("bag", "sequence")


def bag_batch(X: sp.spmatrix, rows: Sequence[int] | np.ndarray | None = None) -> dict:
    """The ``nn.EmbeddingBag`` inputs for ``rows`` of the sparse matrix ``X``.

    Returns ``{"indices": LongTensor(nnz), "offsets": LongTensor(B), "weights":
    FloatTensor(nnz)}``; an all-zero row becomes an empty bag (its sum is the zero vector).

    >>> import scipy.sparse as sp
    >>> X = sp.csr_matrix(np.array([[0, 1, 0, 2], [0, 0, 0, 0], [3, 0, 0, 0]], np.float32))
    >>> b = bag_batch(X, [2, 0])
    >>> b["indices"].tolist(), b["offsets"].tolist(), b["weights"].tolist()
    ([0, 1, 3], [0, 1], [3.0, 1.0, 2.0])
    """
    if not sp.issparse(X):
        raise TypeError(
            f"X must be a scipy.sparse matrix (a bag-mode TextVectorizer output), got "
            f"{type(X).__name__}; use TextVectorizer(output_mode='multi_hot'|'count'|'freq'|"
            "'tf_idf')"
        )
    X = X.tocsr() if X.format != "csr" else X
    if rows is not None:
        X = X[np.asarray(rows, dtype=np.int64)]
    if not X.has_sorted_indices:
        X = X.sorted_indices()
    return {
        "indices": torch.from_numpy(X.indices.astype(np.int64, copy=False)),
        "offsets": torch.from_numpy(X.indptr[:-1].astype(np.int64, copy=False)),
        "weights": torch.from_numpy(X.data.astype(np.float32, copy=False)),
    }


def to_sequences(x: Sequence[np.ndarray] | np.ndarray) -> list[np.ndarray]:
    """Token-id sequences as a list of 1-D int64 arrays, padding (id 0) removed.

    Accepts the ragged list of an int-mode vectorizer or a padded 2-D array (``maxlen``
    set); a padded row keeps its non-zero ids in order, whether it was pre- or post-padded.

    >>> [s.tolist() for s in to_sequences(np.array([[0, 0, 4, 5], [6, 7, 0, 0]]))]
    [[4, 5], [6, 7]]
    """
    if isinstance(x, np.ndarray) and x.ndim == 2:
        return [row[row != 0].astype(np.int64, copy=False) for row in x]
    if isinstance(x, str) or sp.issparse(x):
        raise TypeError(
            f"sequences must be a list of 1-D int arrays or a 2-D int array, got "
            f"{type(x).__name__}; use TextVectorizer(output_mode='int')"
        )
    out = []
    for i, seq in enumerate(x):
        arr = np.asarray(seq)
        if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
            raise TypeError(
                f"sequence {i} must be a 1-D array of int token ids, got shape {arr.shape} "
                f"and dtype {arr.dtype}"
            )
        out.append(arr.astype(np.int64, copy=False))
    return out


def sequence_lengths(seqs: Sequence[np.ndarray]) -> np.ndarray:
    """Length of every sequence as an int64 array.

    >>> sequence_lengths([np.array([4, 5]), np.array([6])]).tolist()
    [2, 1]
    """
    return np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))


def sequence_batch(
    seqs: Sequence[np.ndarray], rows: Sequence[int] | np.ndarray | None = None
) -> dict:
    """Post-pad ``seqs[rows]`` with 0 to the longest of them.

    Returns ``{"tokens": LongTensor(B, T), "lengths": LongTensor(B)}`` with ``T`` the largest
    length in the batch (at least 1, so a batch of empty documents is still a valid tensor).

    >>> b = sequence_batch([np.array([5, 6, 7]), np.array([8])])
    >>> b["tokens"].tolist(), b["lengths"].tolist()
    ([[5, 6, 7], [8, 0, 0]], [3, 1])
    """
    items = list(seqs) if rows is None else [seqs[int(i)] for i in rows]
    lengths = sequence_lengths(items)
    width = max(int(lengths.max()) if len(items) else 0, 1)
    tokens = np.zeros((len(items), width), dtype=np.int64)
    for i, s in enumerate(items):
        tokens[i, : len(s)] = s
    return {"tokens": torch.from_numpy(tokens), "lengths": torch.from_numpy(lengths)}


def _epoch_rng(seed: int, epoch: int) -> np.random.Generator:
    # spawn_key keeps these streams apart from the split stream of stratified_split
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(0, int(epoch))))


def encode(vectorizer, texts: Sequence[str], input_kind: str) -> sp.csr_matrix | list[np.ndarray]:
    """Vectorize ``texts`` for a model that reads ``input_kind`` ("bag" or "sequence").

    "bag" needs a bag-mode vectorizer and gives a float32 CSR matrix; "sequence" needs an
    int-mode vectorizer and gives a list of 1-D int64 arrays without padding.

    >>> class Ids:  # any object with a TextVectorizer-like transform
    ...     output_mode = "int"
    ...     def transform(self, docs): return [np.array([2, 3]) for _ in docs]
    >>> encode(Ids(), ["a b"], "sequence")[0].tolist()
    [2, 3]
    """
    if isinstance(texts, str):
        raise TypeError("texts must be a list of documents, got a single str; wrap it: [text]")
    check_choice("input_kind", input_kind, INPUT_KINDS)
    out = vectorizer.transform(list(texts))
    mode = getattr(vectorizer, "output_mode", "?")
    if input_kind == "bag":
        if not sp.issparse(out):
            raise ValueError(
                f"this model reads bag-of-words vectors but the vectorizer has output_mode="
                f"{mode!r}; build it with output_mode='multi_hot', 'count', 'freq' or 'tf_idf'"
            )
        return sp.csr_matrix(out, dtype=np.float32)
    if sp.issparse(out) or (isinstance(out, list) and out and sp.issparse(out[0])):
        raise ValueError(
            f"this model reads token-id sequences but the vectorizer has output_mode={mode!r}; "
            "build it with output_mode='int'"
        )
    return to_sequences(out)


def make_batch(
    inputs: sp.spmatrix | Sequence[np.ndarray], rows: Sequence[int] | np.ndarray
) -> dict:
    """The model inputs for ``rows``: :func:`bag_batch` for a sparse matrix, else
    :func:`sequence_batch`.

    >>> sorted(make_batch([np.array([4, 5]), np.array([6])], [1, 0]))
    ['lengths', 'tokens']
    """
    return bag_batch(inputs, rows) if sp.issparse(inputs) else sequence_batch(inputs, rows)


def stratified_split(
    labels: Sequence[int] | np.ndarray, fraction: float, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Split item indices into ``(keep, held_out)`` with ``fraction`` of each class held out.

    Each class contributes ``round(n_c * fraction)`` items to ``held_out``, but always keeps
    at least one item in ``keep``. Both index arrays are sorted; the same seed gives the
    same split.

    >>> keep, held = stratified_split([0, 0, 0, 0, 1, 1, 1, 1], 0.25, seed=0)
    >>> len(keep), len(held), sorted(np.array([0, 0, 0, 0, 1, 1, 1, 1])[held].tolist())
    (6, 2, [0, 1])
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"the split fraction must be in (0, 1), got {fraction}")
    labels = np.asarray(labels, dtype=np.int64)
    rng = np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(1,)))
    held: list[np.ndarray] = []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_held = min(int(round(len(idx) * fraction)), len(idx) - 1)
        held.append(idx[:n_held])
    held_idx = np.sort(np.concatenate(held)) if held else np.zeros(0, np.int64)
    mask = np.ones(len(labels), dtype=bool)
    mask[held_idx] = False
    return np.flatnonzero(mask), held_idx.astype(np.int64)


def batch_indices(
    n: int, batch_size: int, *, shuffle: bool = True, seed: int = 0, epoch: int = 0
) -> list[np.ndarray]:
    """Split ``range(n)`` into batches of ``batch_size`` (the last may be smaller).

    With ``shuffle`` the order is a permutation drawn from ``(seed, epoch)``.

    >>> [b.tolist() for b in batch_indices(5, 2, shuffle=False)]
    [[0, 1], [2, 3], [4]]
    """
    _check_batch_size(batch_size)
    order = _epoch_rng(seed, epoch).permutation(n) if shuffle else np.arange(n)
    return [order[i : i + batch_size] for i in range(0, n, batch_size)]


def bucket_batches(
    lengths: Sequence[int] | np.ndarray,
    batch_size: int,
    *,
    shuffle: bool = True,
    seed: int = 0,
    epoch: int = 0,
    chunk_batches: int = 100,
) -> list[np.ndarray]:
    """Batches of items of similar length, so padding to the longest wastes little.

    The items are shuffled (by ``(seed, epoch)``), cut into chunks of ``chunk_batches *
    batch_size`` items, each chunk is sorted by length (stable) and cut into batches, and the
    order of all batches is shuffled again. Every item appears in exactly one batch. Without
    ``shuffle`` the items are simply sorted by length (for evaluation).

    >>> [b.tolist() for b in bucket_batches([5, 1, 4, 2], 2, shuffle=False)]
    [[1, 3], [2, 0]]
    """
    _check_batch_size(batch_size)
    if chunk_batches < 1:
        raise ValueError(f"chunk_batches must be >= 1, got {chunk_batches}")
    lengths = np.asarray(lengths, dtype=np.int64)
    n = len(lengths)
    if not shuffle:
        order = np.argsort(lengths, kind="stable")
        return [order[i : i + batch_size] for i in range(0, n, batch_size)]
    rng = _epoch_rng(seed, epoch)
    order = rng.permutation(n)
    chunk = chunk_batches * batch_size
    batches: list[np.ndarray] = []
    for start in range(0, n, chunk):
        part = order[start : start + chunk]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches.extend(part[i : i + batch_size] for i in range(0, len(part), batch_size))
    perm = rng.permutation(len(batches))
    return [batches[i] for i in perm]


def epoch_batches(
    inputs: sp.spmatrix | Sequence[np.ndarray],
    batch_size: int,
    *,
    shuffle: bool = True,
    seed: int = 0,
    epoch: int = 0,
    bucket: bool = True,
) -> list[np.ndarray]:
    """Row batches for one epoch over ``inputs`` (a CSR matrix or a list of sequences).

    Sequences are length-bucketed when ``bucket`` is true; bags are never bucketed (their
    batches do not need padding).

    >>> [b.tolist() for b in epoch_batches([np.arange(3), np.arange(1)], 1, shuffle=False)]
    [[1], [0]]
    """
    if sp.issparse(inputs) or not bucket:
        return batch_indices(_num_rows(inputs), batch_size, shuffle=shuffle, seed=seed, epoch=epoch)
    return bucket_batches(
        sequence_lengths(inputs), batch_size, shuffle=shuffle, seed=seed, epoch=epoch
    )


def _num_rows(inputs: sp.spmatrix | Sequence[np.ndarray]) -> int:
    return int(inputs.shape[0]) if sp.issparse(inputs) else len(inputs)


def _check_batch_size(batch_size: int) -> None:
    if not isinstance(batch_size, int | np.integer) or isinstance(batch_size, bool):
        raise TypeError(f"batch_size must be an int, got {batch_size!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
