"""The embedding matrix for a vocabulary: rows, coverage report, OOV policy."""

from __future__ import annotations

import numpy as np
import pytest

from seqlab.embeddings import KeyedVectors, build_embedding_matrix


class _Vocab:  # anything with .itos works, e.g. seqlab.text.Vocabulary
    def __init__(self, itos):
        self.itos = itos


@pytest.fixture
def kv() -> KeyedVectors:
    return KeyedVectors(
        ["good", "film", "Paris", "bad"], np.arange(8, dtype=np.float32).reshape(4, 2) + 1
    )


def test_embeddings_matrix_rows_and_coverage(kv):
    itos = ["", "[UNK]", "good", "Film", "paris", "Paris", "meh", "zzz"]
    matrix, report = build_embedding_matrix(_Vocab(itos), kv)
    assert matrix.dtype == np.float32 and matrix.shape == (8, 2)
    np.testing.assert_array_equal(matrix[0], [0, 0])  # padding
    np.testing.assert_array_equal(matrix[1], [0, 0])  # [UNK]
    np.testing.assert_array_equal(matrix[2], kv["good"])
    np.testing.assert_array_equal(matrix[3], kv["film"])  # lowercase fallback
    np.testing.assert_array_equal(matrix[5], kv["Paris"])
    np.testing.assert_array_equal(matrix[4], [0, 0])  # "paris" -> no upper-case fallback
    assert report["total"] == 6 and report["found"] == 3 and report["found_lowercase"] == 1
    assert report["missing"] == 3 and report["missing_examples"] == ["paris", "meh", "zzz"]
    assert report["coverage"] == pytest.approx(0.5)


def test_embeddings_matrix_without_lowercase_fallback(kv):
    _, report = build_embedding_matrix(["", "Film", "good"], kv, lowercase_fallback=False)
    assert report["found"] == 1 and report["found_lowercase"] == 0
    assert report["missing_examples"] == ["Film"]


def test_embeddings_matrix_random_oov_is_seeded_and_keeps_padding(kv):
    itos = ["", "[UNK]", "good", "nope", "nada"]
    a, _ = build_embedding_matrix(itos, kv, oov="random", seed=3)
    b, _ = build_embedding_matrix(itos, kv, oov="random", seed=3)
    c, _ = build_embedding_matrix(itos, kv, oov="random", seed=4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    np.testing.assert_array_equal(a[0], [0, 0])
    np.testing.assert_array_equal(a[2], kv["good"])
    assert np.all(a[3] != 0) and not np.array_equal(a[3], a[4])


def test_embeddings_matrix_rejects_bad_arguments(kv):
    with pytest.raises(ValueError, match="oov must be"):
        build_embedding_matrix(["", "good"], kv, oov="mean")
    with pytest.raises(TypeError, match="single str"):
        build_embedding_matrix("good", kv)
    with pytest.raises(TypeError, match="KeyedVectors"):
        build_embedding_matrix(["", "good"], {"good": [1, 2]})


def test_embeddings_matrix_for_a_seqlab_vocabulary(kv):
    text = pytest.importorskip("seqlab.text")
    vocab = text.Vocabulary.fit([["good", "film", "good", "meh"]])
    matrix, report = build_embedding_matrix(vocab, kv)
    assert matrix.shape == (len(vocab), 2)
    np.testing.assert_array_equal(matrix[vocab.stoi["good"]], kv["good"])
    assert report["total"] == len(vocab) - 2 and report["missing_examples"] == ["meh"]
