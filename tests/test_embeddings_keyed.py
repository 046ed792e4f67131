"""KeyedVectors queries on small hand-made vectors with known answers."""

from __future__ import annotations

import difflib

import numpy as np
import pytest

from seqlab.embeddings import KeyedVectors, WordNotFound

# Two clear clusters (royalty / fruit) plus a gender direction on the last axis.
WORDS = ["king", "queen", "man", "woman", "prince", "apple", "banana", "cherry", "King"]
VECTORS = np.array(
    [
        [5, 0, 1],  # king
        [5, 0, -1],  # queen
        [1, 0, 1],  # man
        [1, 0, -1],  # woman
        [4.5, 0.2, 1],  # prince
        [0, 5, 0],  # apple
        [0, 5, 0.3],  # banana
        [0.2, 5, -0.3],  # cherry
        [-1, -1, 0],  # King (a case variant that is not royal)
    ],
    dtype=np.float32,
)


@pytest.fixture
def kv() -> KeyedVectors:
    return KeyedVectors(WORDS, VECTORS)


def test_embeddings_keyed_basics(kv):
    assert len(kv) == 9 and kv.vector_size == 3 and "queen" in kv and "Queen" not in kv
    np.testing.assert_array_equal(kv["man"], [1, 0, 1])
    assert kv[["man", "woman"]].shape == (2, 3)
    assert kv.key_to_index["banana"] == 6
    assert kv.similarity("apple", "apple") == pytest.approx(1.0)
    assert kv.similarity("king", "apple") == pytest.approx(0.0, abs=1e-6)


def test_embeddings_most_similar_known_answers(kv):
    top = kv.most_similar("king", topn=2)
    assert [w for w, _ in top] == ["prince", "queen"]
    assert top[0][1] == pytest.approx(
        float(VECTORS[0] @ VECTORS[4]) / (np.linalg.norm(VECTORS[0]) * np.linalg.norm(VECTORS[4])),
        rel=1e-5,
    )
    fruit = [w for w, _ in kv.most_similar(["apple", "banana"], topn=1)]
    assert fruit == ["cherry"]  # query words are left out
    assert kv.most_similar("king", topn=1, restrict_vocab=4)[0][0] == "queen"
    assert kv.most_similar("apple", topn=None).shape == (9,)
    # a raw vector is accepted and is not excluded
    assert kv.most_similar(np.array([0, 1, 0], np.float32), topn=1)[0][0] == "apple"


def test_embeddings_analogy_and_cosmul(kv):
    assert kv.analogy("man", "king", "woman") == "queen"
    assert kv.most_similar(positive=["woman", "king"], negative=["man"], topn=1)[0][0] == "queen"
    assert kv.most_similar_cosmul(positive=["woman", "king"], negative=["man"], topn=1)[0][0] == (
        "queen"
    )


def test_embeddings_doesnt_match(kv):
    assert kv.doesnt_match(["apple", "banana", "cherry", "king"]) == "king"
    with pytest.raises(ValueError, match="non-empty list"):
        kv.doesnt_match("apple")


def test_embeddings_oov_keyerror_suggests_spellings(kv):
    with pytest.raises(KeyError) as info:
        kv["quen"]
    assert isinstance(info.value, WordNotFound)
    assert "'quen' is not in the vocabulary" in str(info.value)
    assert "'queen'" in str(info.value)
    with pytest.raises(WordNotFound, match="did you mean 'apple'"):
        kv.most_similar("Apple")
    with pytest.raises(KeyError, match="check the spelling"):
        kv.similarity("king", "zzzz")


def test_embeddings_suggestions_fast_on_large_vocabulary(monkeypatch):
    rng = np.random.default_rng(0)
    codes = rng.integers(97, 123, size=(400_000, 8), dtype=np.uint8)
    words = list(dict.fromkeys(codes.view("S8").ravel().astype(str).tolist()))
    words.insert(1000, "washington")  # vocabularies are sorted by frequency
    kv = KeyedVectors(words, np.zeros((len(words), 2), np.float32))
    # What keeps suggest fast on a large vocabulary: difflib (the slow, quadratic part) only
    # compares words among the 200,000 most frequent with the same first letter and a length
    # within 2. Counted, not timed, so that no machine is too slow or too fast for the test.
    pools = []
    close_matches = difflib.get_close_matches

    def spy(word, possibilities, n=3, cutoff=0.6):
        pools.append(list(possibilities))
        return close_matches(word, possibilities, n=n, cutoff=cutoff)

    monkeypatch.setattr(difflib, "get_close_matches", spy)
    assert kv.suggest("washingtn")[0] == "washington"
    expected = [w for w in words[:200_000] if w[0] == "w" and abs(len(w) - 9) <= 2]
    assert pools == [expected]
    assert 7_000 < len(expected) < 8_500  # about 1/26 of 200,000, not 400,000 words


def test_embeddings_keyed_save_load_round_trip(tmp_path, kv):
    kv.meta["source"] = "hand-made"
    path = kv.save(tmp_path / "kv.safetensors")
    back = KeyedVectors.load(path)
    assert back.index_to_key == WORDS and back.meta["source"] == "hand-made"
    np.testing.assert_array_equal(back.vectors, VECTORS)
    assert back.most_similar("king", topn=1) == kv.most_similar("king", topn=1)
    with pytest.raises(FileNotFoundError):
        KeyedVectors.load(tmp_path / "missing.safetensors")


def test_embeddings_keyed_rejects_bad_shapes():
    with pytest.raises(ValueError, match="3 words but vectors has 2 rows"):
        KeyedVectors(["a", "b", "c"], np.zeros((2, 4)))
    with pytest.raises(ValueError, match="must be 2-D"):
        KeyedVectors(["a"], np.zeros(4))
    with pytest.raises(TypeError, match="single str"):
        KeyedVectors("abc", np.zeros((3, 2)))
