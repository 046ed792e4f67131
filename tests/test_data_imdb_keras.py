"""seqlab.datasets.imdb_keras: Keras's load_data semantics on a tiny aclImdb fixture."""

from __future__ import annotations

import itertools
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import seqlab.data.imdb_keras as imdb_keras

# Keras tokenisation: lower-case, punctuation to spaces, "<br />" leaves the word "br".
TINY = {
    "train/neg/0_1.txt": "The cat sat.",  # the cat sat
    "train/pos/0_9.txt": "The dog, the DOG!",  # the dog the dog
    "test/neg/0_2.txt": "A cat<br />ran",  # a cat br ran
    "test/pos/0_8.txt": "the end",  # the end
}
# counts: the 4, cat 2, dog 2, then 1 each; equal counts rank by first occurrence
TINY_INDEX = {"the": 1, "cat": 2, "dog": 3, "sat": 4, "a": 5, "br": 6, "ran": 7, "end": 8}
TINY_RANKS = {"train": [[1, 2, 4], [1, 3, 1, 3]], "test": [[5, 2, 6, 7], [1, 8]]}


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "aclImdb" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEQLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SEQLAB_DATA", raising=False)


def keras_reference(
    ranks, labels, num_words, skip_top, maxlen, seed, start_char, oov_char, index_from
):
    """keras.datasets.imdb.load_data's body, transcribed, run on the word ranks of the reviews."""
    x_train = np.empty(len(ranks["train"]), dtype=object)
    for i, r in enumerate(ranks["train"]):
        x_train[i] = list(r)
    x_test = np.empty(len(ranks["test"]), dtype=object)
    for i, r in enumerate(ranks["test"]):
        x_test[i] = list(r)
    labels_train, labels_test = np.asarray(labels["train"]), np.asarray(labels["test"])

    rng = np.random.RandomState(seed)
    indices = np.arange(len(x_train))
    rng.shuffle(indices)
    x_train = x_train[indices]
    labels_train = labels_train[indices]
    indices = np.arange(len(x_test))
    rng.shuffle(indices)
    x_test = x_test[indices]
    labels_test = labels_test[indices]

    if start_char is not None:
        x_train = [[start_char] + [w + index_from for w in x] for x in x_train]
        x_test = [[start_char] + [w + index_from for w in x] for x in x_test]
    elif index_from:
        x_train = [[w + index_from for w in x] for x in x_train]
        x_test = [[w + index_from for w in x] for x in x_test]
    else:
        x_train = [list(x) for x in x_train]
        x_test = [list(x) for x in x_test]

    if maxlen:

        def remove_long_seq(maxlen, seq, label):
            new_seq, new_label = [], []
            for x, y in zip(seq, label):
                if len(x) < maxlen:
                    new_seq.append(x)
                    new_label.append(y)
            return new_seq, new_label

        x_train, labels_train = remove_long_seq(maxlen, x_train, labels_train)
        x_test, labels_test = remove_long_seq(maxlen, x_test, labels_test)
        if not x_train or not x_test:
            raise ValueError("no sequence was kept")

    xs = x_train + x_test
    labels = np.concatenate([labels_train, labels_test])
    if not num_words:
        num_words = max(max(x) for x in xs)
    if oov_char is not None:
        xs = [[w if (skip_top <= w < num_words) else oov_char for w in x] for x in xs]
    else:
        xs = [[w for w in x if skip_top <= w < num_words] for x in xs]
    idx = len(x_train)
    return (xs[:idx], labels[:idx]), (xs[idx:], labels[idx:])


def test_data_keras_word_index_is_frequency_rank(tmp_path: Path) -> None:
    _write(tmp_path, TINY)
    assert imdb_keras.get_word_index(data_dir=tmp_path) == TINY_INDEX


def test_data_keras_load_data_defaults_exact(tmp_path: Path) -> None:
    _write(tmp_path, TINY)
    (x_train, y_train), (x_test, y_test) = imdb_keras.load_data(data_dir=tmp_path)
    # seed 113: one RandomState shuffles train, then test
    rng = np.random.RandomState(113)
    order_train, order_test = np.arange(2), np.arange(2)
    rng.shuffle(order_train)
    rng.shuffle(order_test)
    # start_char 1, ids shifted by index_from 3; num_words=None -> the largest id (8 + 3 = 11)
    # is itself out of range and becomes oov_char 2, exactly as in Keras
    encoded = {
        "train": [[1, 4, 5, 7], [1, 4, 6, 4, 6]],
        "test": [[1, 8, 5, 9, 10], [1, 4, 2]],
    }
    assert x_train.dtype == object and x_train.shape == (2,)
    assert [x_train[i] for i in range(2)] == [encoded["train"][i] for i in order_train]
    assert [x_test[i] for i in range(2)] == [encoded["test"][i] for i in order_test]
    assert y_train.tolist() == [[0, 1][i] for i in order_train]
    assert y_test.tolist() == [[0, 1][i] for i in order_test]
    assert y_train.dtype == np.int64
    assert all(type(w) is int for x in x_train for w in x)


def test_data_keras_equal_lengths_still_give_a_1d_array(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "train/neg/0_1.txt": "a b",
            "train/pos/0_9.txt": "c d",
            "test/neg/0_1.txt": "a c",
            "test/pos/0_9.txt": "b d",
        },
    )
    (x_train, _), (x_test, _) = imdb_keras.load_data(data_dir=tmp_path)
    assert x_train.shape == (2,) and isinstance(x_train[0], list)


def _random_fixture(root: Path, seed: int = 0) -> dict[str, list[list[int]]]:
    gen = random.Random(seed)
    vocab = [f"w{i}" for i in range(30)]
    files = {}
    for split in ("train", "test"):
        for cls, rating in (("neg", 2), ("pos", 8)):
            for i in range(7):
                words = gen.choices(vocab, weights=range(30, 0, -1), k=gen.randint(1, 15))
                files[f"{split}/{cls}/{i}_{rating}.txt"] = " ".join(words)
    _write(root, files)
    return files


def test_data_keras_matches_the_keras_algorithm_for_every_option(tmp_path: Path) -> None:
    files = _random_fixture(tmp_path)
    index = imdb_keras.get_word_index(data_dir=tmp_path)
    ranks: dict[str, list[list[int]]] = {"train": [], "test": []}
    labels: dict[str, list[int]] = {"train": [], "test": []}
    for split in ("train", "test"):
        for cls in ("neg", "pos"):
            for i in range(7):
                text = files[f"{split}/{cls}/{i}_{2 if cls == 'neg' else 8}.txt"]
                ranks[split].append([index[w] for w in text.split()])
                labels[split].append(0 if cls == "neg" else 1)

    grid = itertools.product(
        [None, 10],  # num_words
        [0, 2],  # skip_top
        [None, 12],  # maxlen
        [113, 7],  # seed
        [1, None],  # start_char
        [2, None],  # oov_char
        [3, 0],  # index_from
    )
    for num_words, skip_top, maxlen, seed, start_char, oov_char, index_from in grid:
        kw = dict(
            num_words=num_words,
            skip_top=skip_top,
            maxlen=maxlen,
            seed=seed,
            start_char=start_char,
            oov_char=oov_char,
            index_from=index_from,
        )
        (ex_train, ey_train), (ex_test, ey_test) = keras_reference(ranks, labels, **kw)
        (x_train, y_train), (x_test, y_test) = imdb_keras.load_data(data_dir=tmp_path, **kw)
        assert list(x_train) == ex_train, kw
        assert list(x_test) == ex_test, kw
        assert y_train.tolist() == ey_train.tolist(), kw
        assert y_test.tolist() == ey_test.tolist(), kw


def test_data_keras_maxlen_too_small_is_keras_error(tmp_path: Path) -> None:
    _write(tmp_path, TINY)
    with pytest.raises(ValueError, match="Increase maxlen"):
        imdb_keras.load_data(maxlen=2, data_dir=tmp_path)
    with pytest.raises(ValueError, match="num_words"):
        imdb_keras.load_data(num_words=-5, data_dir=tmp_path)


def test_data_keras_second_call_reads_the_cache(tmp_path: Path, monkeypatch) -> None:
    _write(tmp_path, TINY)
    first = imdb_keras.load_data(data_dir=tmp_path)

    def no_build(*args, **kwargs):
        raise AssertionError("tokenised again")

    monkeypatch.setattr(imdb_keras, "_build", no_build)
    second = imdb_keras.load_data(data_dir=tmp_path)
    assert list(first[0][0]) == list(second[0][0])
    assert imdb_keras.get_word_index(data_dir=tmp_path) == TINY_INDEX


def test_data_keras_reachable_as_seqlab_datasets_imdb_keras() -> None:
    import seqlab as sl

    assert sl.datasets.imdb_keras.load_data is imdb_keras.load_data
    assert sl.datasets.imdb_keras.get_word_index is imdb_keras.get_word_index
    # a fresh interpreter, where nothing has imported seqlab.data.datasets yet
    code = (
        "from seqlab.datasets.imdb_keras import load_data\n"
        "from seqlab.datasets import imdb_keras\n"
        "import seqlab, seqlab.datasets, seqlab.data.imdb_keras\n"
        "assert load_data is imdb_keras.load_data is seqlab.data.imdb_keras.load_data\n"
        "assert seqlab.datasets.imdb is seqlab.data.datasets.imdb\n"
        "assert seqlab.datasets.imdb_keras is imdb_keras\n"
        "assert type(seqlab.datasets).__name__ == 'module' and seqlab.datasets.__path__\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.slow
def test_data_keras_real_imdb_word_index_and_shapes(
    shared_data: Path, real_imdb_cache: Path, monkeypatch
) -> None:
    monkeypatch.setenv("SEQLAB_CACHE", str(real_imdb_cache))
    data_dir = shared_data / "imdb"
    index = imdb_keras.get_word_index(data_dir=data_dir)
    top = sorted(index, key=index.get)[:10]
    # the ten most frequent words of Keras's own imdb_word_index.json, in the same order
    assert top == ["the", "and", "a", "of", "to", "is", "br", "in", "it", "i"]
    (x_train, y_train), (x_test, y_test) = imdb_keras.load_data(num_words=10_000, data_dir=data_dir)
    assert x_train.shape == (25_000,) and x_test.shape == (25_000,)
    assert np.bincount(y_train).tolist() == [12_500, 12_500]
    assert all(x[0] == 1 for x in x_train[:100])
    assert max(max(x) for x in x_train) == 9_999
