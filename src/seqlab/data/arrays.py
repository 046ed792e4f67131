"""Training data that is already numbers: Keras-style ``(x, y)`` arrays for :func:`seqlab.fit`.

``x`` is what a Keras user has after ``imdb.load_data()`` and ``pad_sequences``, or after a
vectorizer of their own:

* for a **sequence** model, token ids: a 2-D int array ``(N, T)`` or a list of 1-D int
  sequences of any lengths. Id 0 is padding, as in Keras (``pad_sequences`` and
  ``mask_zero=True``): zeros are dropped wherever they stand, so a pre-padded, a
  post-padded and an unpadded review give the model the same steps (seqlab's models read
  each sequence's true length);
* for a **bag** model, one row per text: a 2-D float array or a scipy sparse matrix.

``y`` holds integer labels ``0 .. C-1`` (``C >= 2``); label names are ``"0" .. "C-1"``
unless ``label_names`` gives them.

>>> ds = from_arrays(np.array([[0, 0, 4, 5], [7, 0, 8, 0]]), [1, 0], input_kind="sequence")
>>> [row.tolist() for row in ds.inputs], ds.labels.tolist(), ds.label_names
([[4, 5], [7, 8]], [1, 0], ['0', '1'])
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from seqlab._checks import check_choice
from seqlab.data.batching import INPUT_KINDS, to_sequences

__all__ = ["ArrayDataset", "as_model_inputs", "from_arrays", "is_encoded"]


@dataclass
class ArrayDataset:
    """Encoded inputs (a CSR matrix or a list of 1-D int64 id arrays) with integer labels."""

    inputs: Any
    labels: np.ndarray
    label_names: list[str]

    def __len__(self) -> int:
        return len(self.labels)

    def fingerprint(self) -> str:
        """A hash of the inputs and labels (what a resumed run must train on again)."""
        digest = hashlib.sha256()
        if sp.issparse(self.inputs):
            for part in (self.inputs.indptr, self.inputs.indices, self.inputs.data):
                digest.update(np.ascontiguousarray(part).tobytes())
        else:
            for row in self.inputs:
                digest.update(np.ascontiguousarray(row, dtype=np.int64).tobytes() + b"\xff")
        digest.update(np.ascontiguousarray(self.labels, dtype=np.int64).tobytes())
        return f"{len(self)} encoded rows, sha256 {digest.hexdigest()[:16]}"


def is_encoded(x: Any) -> bool:
    """Whether ``x`` is already numbers (an array, a sparse matrix, or a list of id
    sequences) rather than a list of texts."""
    if isinstance(x, str):
        return False
    if sp.issparse(x):
        return True
    if isinstance(x, np.ndarray):
        if x.dtype == object:
            return len(x) > 0 and not isinstance(x[0], str)
        return x.dtype.kind in "biuf"  # numbers, not an array of str
    return isinstance(x, Sequence) and len(x) > 0 and not isinstance(x[0], str)


def as_model_inputs(x: Any, input_kind: str, vocab_size: int | None = None, name: str = "x") -> Any:
    """``x`` as the inputs a model of ``input_kind`` reads (see the module docstring);
    ``vocab_size`` bounds the ids of a sequence model."""
    if check_choice("input_kind", input_kind, INPUT_KINDS) == "bag":
        return _bag(x, vocab_size, name)
    if isinstance(x, np.ndarray) and x.dtype == object:
        x = list(x)  # Keras's load_data: a 1-D object array of lists
    elif isinstance(x, np.ndarray) and x.size and not np.issubdtype(x.dtype, np.integer):
        raise ValueError(
            f"{name} has dtype {x.dtype}; a sequence model reads integer token ids such as "
            "pad_sequences gives"
        )
    try:
        rows = to_sequences(x)
    except TypeError as exc:
        raise ValueError(
            f"{name}: {exc}; a sequence model reads token ids such as pad_sequences gives"
        ) from None
    out = []
    for i, ids in enumerate(rows):
        ids = ids[ids != 0]
        if ids.size == 0:
            raise ValueError(
                f"{name}[{i}] holds no token (only padding 0s); drop the empty rows or give "
                "each at least one id > 0"
            )
        out.append(ids)
    _check_ids(out, vocab_size, name)
    return out


def from_arrays(
    x: Any,
    y: Any,
    *,
    input_kind: str,
    vocab_size: int | None = None,
    label_names: Sequence[str] | None = None,
    name: str = "train",
) -> ArrayDataset:
    """An :class:`ArrayDataset` from Keras-style ``(x, y)`` (see the module docstring)."""
    labels = np.asarray(y)
    if labels.ndim != 1 or (labels.size and not np.issubdtype(labels.dtype, np.integer)):
        raise ValueError(
            f"{name}'s labels must be a 1-D array of ints 0..C-1, got dtype {labels.dtype} "
            f"and shape {labels.shape}; map label names to ints first"
        )
    inputs = as_model_inputs(x, input_kind, vocab_size, name=f"{name}'s x")
    if len(labels) != (inputs.shape[0] if sp.issparse(inputs) else len(inputs)):
        raise ValueError(
            f"{name} has {len(labels)} labels for "
            f"{inputs.shape[0] if sp.issparse(inputs) else len(inputs)} rows of x; give one "
            "label per row"
        )
    if labels.size and labels.min() < 0:
        raise ValueError(f"{name} has a negative label ({labels.min()}); use ints 0..C-1")
    if label_names is None:
        label_names = [str(i) for i in range(max(2, int(labels.max(initial=0)) + 1))]
    return ArrayDataset(inputs, labels.astype(np.int64), [str(n) for n in label_names])


def _bag(x: Any, vocab_size: int | None, name: str) -> sp.csr_matrix:
    if not sp.issparse(x):
        x = np.asarray(x)
        if x.ndim != 2 or not np.issubdtype(x.dtype, np.number):
            raise ValueError(
                f"{name} must be a 2-D numeric array or a scipy sparse matrix (one row per "
                f"text) for a bag-of-words model, got dtype {x.dtype}, shape {x.shape}"
            )
    matrix = sp.csr_matrix(x, dtype=np.float32)
    if vocab_size is not None and matrix.shape[1] != vocab_size:
        raise ValueError(
            f"{name} has {matrix.shape[1]} columns but the model has vocab_size={vocab_size}; "
            f"build the model with vocab_size={matrix.shape[1]}"
        )
    return matrix


def _check_ids(rows: list[np.ndarray], vocab_size: int | None, name: str) -> None:
    if not rows:
        return
    low = min(int(r.min()) for r in rows)
    high = max(int(r.max()) for r in rows)
    if low < 0:
        raise ValueError(f"{name} holds a negative token id ({low}); ids are 0 (padding) or > 0")
    if vocab_size is not None and high >= vocab_size:
        raise ValueError(
            f"{name} holds token id {high} but the model has vocab_size={vocab_size} (ids "
            f"0..{vocab_size - 1}); build the model with vocab_size={high + 1} or more, or cap "
            "the ids (load_data(num_words=...))"
        )
