"""``pad_sequences``: ragged sequences to one rectangular array, with Keras's semantics."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

__all__ = ["pad_sequences"]

_SIDES = ("pre", "post")


def pad_sequences(
    sequences: Iterable[Sequence[Any]],
    maxlen: int | None = None,
    dtype: DTypeLike = "int32",
    padding: str = "pre",
    truncating: str = "pre",
    value: Any = 0,
) -> np.ndarray:
    """Pad (or truncate) every sequence to ``maxlen`` and stack them: shape ``(N, maxlen, ...)``.

    Same semantics as ``keras.utils.pad_sequences``: ``maxlen=None`` means the longest
    sequence; ``padding="pre"`` puts ``value`` before the sequence, ``"post"`` after it;
    ``truncating="pre"`` drops values from the start of a long sequence, ``"post"`` from the
    end; an empty sequence becomes a row of ``value``; items may themselves be arrays (the
    trailing shape is taken from the first non-empty sequence and must agree for all).
    Two deliberate differences, both cases where Keras crashes: an empty list of sequences
    gives an array of shape ``(0, maxlen or 0)``, and ``maxlen=0`` gives rows of length 0.
    Bad ``padding`` / ``truncating`` strings are refused up front, not at the first long row.

    >>> pad_sequences([[1, 2, 3], [4]], maxlen=2).tolist()
    [[2, 3], [0, 4]]
    >>> pad_sequences([[1, 2, 3], [4]], padding="post", truncating="post").tolist()
    [[1, 2, 3], [4, 0, 0]]
    """
    if isinstance(sequences, str | bytes):
        raise TypeError("sequences must be a list of sequences, got a single str/bytes")
    if padding not in _SIDES:
        raise ValueError(f'Padding type "{padding}" not understood; use "pre" or "post"')
    if truncating not in _SIDES:
        raise ValueError(f'Truncating type "{truncating}" not understood; use "pre" or "post"')
    if maxlen is not None and (
        not isinstance(maxlen, int | np.integer) or isinstance(maxlen, bool) or maxlen < 0
    ):
        raise ValueError(f"maxlen must be None or an int >= 0, got {maxlen!r}")
    if isinstance(value, str) and np.dtype(dtype).kind not in "OUS":
        raise ValueError(
            f"dtype {dtype} is not compatible with value {value!r} of type str; "
            "set dtype=object for variable-length strings"
        )
    if not isinstance(sequences, Sequence | np.ndarray):
        sequences = list(sequences)

    lengths = []
    sample_shape: tuple[int, ...] = ()
    found_shape = False
    for i, x in enumerate(sequences):
        try:
            lengths.append(len(x))
        except TypeError as e:
            raise ValueError(
                f"sequences must be a list of sequences; item {i} is not one: {x!r}"
            ) from e
        if not found_shape and len(x):
            sample_shape = np.asarray(x).shape[1:]
            found_shape = True

    if maxlen is None:
        maxlen = max(lengths, default=0)
    maxlen = int(maxlen)
    out = np.full((len(lengths), maxlen, *sample_shape), value, dtype=dtype)
    if maxlen == 0:
        return out
    for i, s in enumerate(sequences):
        if not len(s):
            continue
        trunc = s[-maxlen:] if truncating == "pre" else s[:maxlen]
        trunc = np.asarray(trunc, dtype=dtype)
        if trunc.shape[1:] != sample_shape:
            raise ValueError(
                f"shape of sample {trunc.shape[1:]} of sequence at position {i} is different "
                f"from expected shape {sample_shape}"
            )
        if padding == "post":
            out[i, : len(trunc)] = trunc
        else:
            out[i, -len(trunc) :] = trunc
    return out
