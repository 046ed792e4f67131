"""pad_sequences: Keras's semantics pinned by hand examples, plus a shape property test."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqlab.text import pad_sequences

SEQS = [[1, 2, 3], [4, 5], [6]]


def test_text_sequences_defaults_pre_padding_to_longest():
    out = pad_sequences(SEQS)
    assert out.dtype == np.int32
    assert out.tolist() == [[1, 2, 3], [0, 4, 5], [0, 0, 6]]


def test_text_sequences_padding_and_truncating_sides():
    assert pad_sequences(SEQS, padding="post").tolist() == [[1, 2, 3], [4, 5, 0], [6, 0, 0]]
    assert pad_sequences(SEQS, maxlen=2).tolist() == [[2, 3], [4, 5], [0, 6]]
    assert pad_sequences(SEQS, maxlen=2, truncating="post").tolist() == [[1, 2], [4, 5], [0, 6]]
    assert pad_sequences(SEQS, maxlen=4, padding="post", value=-1).tolist() == [
        [1, 2, 3, -1],
        [4, 5, -1, -1],
        [6, -1, -1, -1],
    ]


def test_text_sequences_empty_sequences():
    assert pad_sequences([[], [7]]).tolist() == [[0], [7]]
    assert pad_sequences([[], []]).shape == (2, 0)
    assert pad_sequences([[], [1, 2]], maxlen=3, value=9).tolist() == [[9, 9, 9], [9, 1, 2]]
    assert pad_sequences([]).shape == (0, 0)
    assert pad_sequences([], maxlen=5).shape == (0, 5)
    assert pad_sequences(SEQS, maxlen=0).shape == (3, 0)


def test_text_sequences_dtype_and_arrays():
    out = pad_sequences([np.array([0.5, 1.5]), [2.5]], dtype="float32", value=-1.0)
    assert out.dtype == np.float32
    assert out.tolist() == [[0.5, 1.5], [-1.0, 2.5]]
    # Items may be vectors: the trailing shape is kept.
    out = pad_sequences([[[1, 1], [2, 2]], [[3, 3]]])
    assert out.shape == (2, 2, 2)
    assert out[1].tolist() == [[0, 0], [3, 3]]


def test_text_sequences_errors():
    with pytest.raises(ValueError, match='Padding type "middle" not understood'):
        pad_sequences(SEQS, padding="middle")
    with pytest.raises(ValueError, match='Truncating type "both" not understood'):
        pad_sequences(SEQS, truncating="both")
    with pytest.raises(ValueError, match="maxlen must be None or an int >= 0, got -1"):
        pad_sequences(SEQS, maxlen=-1)
    with pytest.raises(ValueError, match="item 1 is not one"):
        pad_sequences([[1], 5])
    with pytest.raises(ValueError, match="set dtype=object"):
        pad_sequences([["a"]], value="x")
    with pytest.raises(ValueError, match="different from expected shape"):
        pad_sequences([[[1, 2]], [[1, 2, 3]]])
    with pytest.raises(TypeError, match="single str"):
        pad_sequences("abc")


@settings(max_examples=200, deadline=None)
@given(
    seqs=st.lists(st.lists(st.integers(1, 1000), max_size=12), max_size=8),
    maxlen=st.one_of(st.none(), st.integers(0, 15)),
    padding=st.sampled_from(["pre", "post"]),
    truncating=st.sampled_from(["pre", "post"]),
)
def test_text_sequences_property_shapes_and_content(seqs, maxlen, padding, truncating):
    out = pad_sequences(seqs, maxlen=maxlen, padding=padding, truncating=truncating)
    width = maxlen if maxlen is not None else max(map(len, seqs), default=0)
    assert out.shape == (len(seqs), width)
    for row, seq in zip(out.tolist(), seqs):
        kept = seq if len(seq) <= width else (seq[-width:] if truncating == "pre" else seq[:width])
        if width == 0:
            kept = []
        pad = [0] * (width - len(kept))
        assert row == (pad + kept if padding == "pre" else kept + pad)
