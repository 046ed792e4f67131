"""Batches for bag and sequence models (seqlab.data.batching)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from seqlab.data.batching import (
    bag_batch,
    batch_indices,
    bucket_batches,
    encode,
    epoch_batches,
    make_batch,
    sequence_batch,
    stratified_split,
    to_sequences,
)


def test_batching_bag_batch_matches_dense_product():
    rng = np.random.default_rng(0)
    dense = (rng.random((6, 9)) < 0.3) * rng.integers(1, 4, (6, 9))
    dense[3] = 0  # an empty document
    X = sp.csr_matrix(dense.astype(np.float32))
    W = torch.randn(9, 4)
    rows = [5, 3, 0]
    b = bag_batch(X, rows)
    assert b["offsets"].dtype == torch.int64 and b["indices"].dtype == torch.int64
    assert b["weights"].dtype == torch.float32
    out = torch.nn.functional.embedding_bag(
        b["indices"], W, b["offsets"], mode="sum", per_sample_weights=b["weights"]
    )
    expected = torch.from_numpy(dense[rows].astype(np.float32)) @ W
    torch.testing.assert_close(out, expected)
    assert out[1].abs().sum() == 0  # the empty bag sums to zero


def test_batching_bag_batch_refuses_dense_input():
    with pytest.raises(TypeError, match="scipy.sparse"):
        bag_batch(np.zeros((2, 3)))


def test_batching_sequence_batch_pads_post_with_zero():
    seqs = [np.array([4, 5, 6]), np.array([7]), np.array([], dtype=np.int64)]
    b = sequence_batch(seqs)
    assert b["tokens"].tolist() == [[4, 5, 6], [7, 0, 0], [0, 0, 0]]
    assert b["lengths"].tolist() == [3, 1, 0]
    only_empty = sequence_batch(seqs, [2])
    assert only_empty["tokens"].shape == (1, 1) and only_empty["lengths"].tolist() == [0]


def test_batching_to_sequences_strips_padding_of_2d_arrays():
    padded = np.array([[0, 0, 3, 4], [5, 6, 7, 0]])
    assert [s.tolist() for s in to_sequences(padded)] == [[3, 4], [5, 6, 7]]
    with pytest.raises(TypeError, match="int token ids"):
        to_sequences([np.array([0.5, 1.5])])


@settings(max_examples=40, deadline=None)
@given(
    lengths=st.lists(st.integers(0, 50), min_size=1, max_size=300),
    batch_size=st.integers(1, 17),
    seed=st.integers(0, 5),
    epoch=st.integers(0, 3),
)
def test_batching_bucket_batches_cover_every_item_once(lengths, batch_size, seed, epoch):
    batches = bucket_batches(lengths, batch_size, seed=seed, epoch=epoch, chunk_batches=3)
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(len(lengths)))
    assert all(1 <= len(b) <= batch_size for b in batches)
    again = bucket_batches(lengths, batch_size, seed=seed, epoch=epoch, chunk_batches=3)
    assert all(np.array_equal(a, b) for a, b in zip(batches, again))


def test_batching_bucket_batches_reduce_padding_and_differ_by_epoch():
    rng = np.random.default_rng(1)
    lengths = rng.integers(1, 200, size=2000)
    seqs = [np.ones(n, dtype=np.int64) for n in lengths]
    bucketed = bucket_batches(lengths, 32, seed=0)
    plain = batch_indices(len(lengths), 32, seed=0)

    def padded_cells(batches):
        return sum(len(b) * int(lengths[b].max()) for b in batches)

    assert padded_cells(bucketed) < 0.7 * padded_cells(plain)
    assert not np.array_equal(
        np.concatenate(bucketed), np.concatenate(bucket_batches(lengths, 32, seed=0, epoch=1))
    )
    assert not np.array_equal(
        np.concatenate(bucketed), np.concatenate(bucket_batches(lengths, 32, seed=1))
    )
    # every padded batch keeps each item's true length
    b = make_batch(seqs, bucketed[0])
    assert b["tokens"].sum(1).tolist() == b["lengths"].tolist()


def test_batching_unshuffled_orders_are_fixed():
    assert [b.tolist() for b in batch_indices(5, 2, shuffle=False)] == [[0, 1], [2, 3], [4]]
    assert [b.tolist() for b in bucket_batches([3, 1, 2], 2, shuffle=False)] == [[1, 2], [0]]
    X = sp.csr_matrix(np.eye(5, dtype=np.float32))
    assert len(epoch_batches(X, 2, shuffle=False)) == 3


def test_batching_batch_size_is_checked():
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        batch_indices(4, 0)


def test_batching_stratified_split_keeps_class_ratio_and_is_seeded():
    labels = np.array([0] * 80 + [1] * 20)
    keep, held = stratified_split(labels, 0.25, seed=3)
    assert len(held) == 25 and np.sum(labels[held] == 1) == 5
    assert sorted(np.concatenate([keep, held]).tolist()) == list(range(100))
    keep2, held2 = stratified_split(labels, 0.25, seed=3)
    assert np.array_equal(held, held2) and np.array_equal(keep, keep2)
    assert not np.array_equal(held, stratified_split(labels, 0.25, seed=4)[1])
    # a class with one item stays in the kept part
    keep, held = stratified_split(np.array([0, 0, 0, 0, 1]), 0.5, seed=0)
    assert 4 in keep.tolist()


def test_batching_encode_checks_the_vectorizer_mode():
    class IntVectorizer:
        output_mode = "int"

        def transform(self, docs):
            return [np.array([2, 3])] * len(docs)

    with pytest.raises(ValueError, match="output_mode='multi_hot'"):
        encode(IntVectorizer(), ["a b"], "bag")
    with pytest.raises(TypeError, match="single str"):
        encode(IntVectorizer(), "a b", "sequence")
