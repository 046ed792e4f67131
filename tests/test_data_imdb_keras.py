"""seqlab.datasets.imdb_keras from the raw reviews (source="raw"): Keras's load_data
semantics on a tiny aclImdb fixture. Keras's own files: tests/test_data_imdb_keras_files.py."""

from __future__ import annotations

import itertools
import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import seqlab.data._imdb_keras_raw as imdb_keras_raw
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
    (tmp_path / "keras").mkdir()
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))  # no Keras files of the machine's


def object_array(lists) -> np.ndarray:
    out = np.empty(len(lists), dtype=object)  # 1-D even when every list has the same length
    for i, x in enumerate(lists):
        out[i] = list(x)
    return out


def write_keras_npz(path: Path, x_train, y_train, x_test, y_test) -> Path:
    """A file in the format of Keras's imdb.npz: object arrays of lists (numpy pickles those)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, x_train=object_array(x_train), y_train=np.asarray(y_train),
             x_test=object_array(x_test), y_test=np.asarray(y_test))  # fmt: skip
    return path


def keras_load_data(
    path, num_words=None, skip_top=0, maxlen=None, seed=113, start_char=1, oov_char=2,
    index_from=3,
):  # fmt: skip
    """keras.datasets.imdb.load_data (keras/src/datasets/imdb.py), transcribed, reading ``path``;
    x comes back as tf.keras returns it, np.array(..., dtype="object")."""
    with np.load(path, allow_pickle=True) as f:
        x_train, labels_train = f["x_train"], f["y_train"]
        x_test, labels_test = f["x_test"], f["y_test"]

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
        x_train = [[w for w in x] for x in x_train]  # noqa: C416
        x_test = [[w for w in x] for x in x_test]  # noqa: C416

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
            raise ValueError(
                "After filtering for sequences shorter than maxlen="
                f"{str(maxlen)}, no sequence was kept. Increase maxlen."
            )

    xs = x_train + x_test
    labels = np.concatenate([labels_train, labels_test])
    if not num_words:
        num_words = max(max(x) for x in xs)
    if oov_char is not None:
        xs = [[w if (skip_top <= w < num_words) else oov_char for w in x] for x in xs]
    else:
        xs = [[w for w in x if skip_top <= w < num_words] for x in xs]
    idx = len(x_train)
    x_train, y_train = np.array(xs[:idx], dtype="object"), labels[:idx]
    x_test, y_test = np.array(xs[idx:], dtype="object"), labels[idx:]
    return (x_train, y_train), (x_test, y_test)


# Every combination of two values of each option: num_words, skip_top, maxlen, seed,
# start_char, oov_char, index_from.
OPTION_GRID = [
    dict(
        zip(("num_words", "skip_top", "maxlen", "seed", "start_char", "oov_char", "index_from"), v)
    )
    for v in itertools.product(
        [None, 10], [0, 2], [None, 12], [113, 7], [1, None], [2, None], [3, 0]
    )
]


def assert_same_as_keras(ours, keras) -> None:
    """load_data's result equals Keras's: the same lists in 1-D object arrays, the same labels."""
    for (x, y), (ex, ey) in zip(ours, keras):
        assert x.dtype == object and x.ndim == 1 and len(x) == len(ex)
        assert [list(a) for a in ex] == list(x)
        assert all(type(w) is int for seq in x for w in seq)
        assert y.dtype == ey.dtype and y.tolist() == ey.tolist()


def test_data_keras_word_index_is_frequency_rank(tmp_path: Path) -> None:
    _write(tmp_path, TINY)
    assert imdb_keras.get_word_index(data_dir=tmp_path, source="raw") == TINY_INDEX


def test_data_keras_load_data_defaults_exact(tmp_path: Path) -> None:
    _write(tmp_path, TINY)
    (x_train, y_train), (x_test, y_test) = imdb_keras.load_data(data_dir=tmp_path, source="raw")
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
    (x_train, _), (x_test, _) = imdb_keras.load_data(data_dir=tmp_path, source="raw")
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
    index = imdb_keras.get_word_index(data_dir=tmp_path, source="raw")
    ranks: dict[str, list[list[int]]] = {"train": [], "test": []}
    labels: dict[str, list[int]] = {"train": [], "test": []}
    for split in ("train", "test"):
        for cls in ("neg", "pos"):
            for i in range(7):
                text = files[f"{split}/{cls}/{i}_{2 if cls == 'neg' else 8}.txt"]
                ranks[split].append([index[w] for w in text.split()])
                labels[split].append(0 if cls == "neg" else 1)
    # Keras's code run on the same ranks, written as a Keras-format file
    npz = write_keras_npz(tmp_path / "ranks.npz", ranks["train"], labels["train"], ranks["test"],
                          labels["test"])  # fmt: skip
    for kw in OPTION_GRID:
        ours = imdb_keras.load_data(data_dir=tmp_path, source="raw", **kw)
        assert_same_as_keras(ours, keras_load_data(npz, **kw))


def test_data_keras_maxlen_too_small_is_keras_error(tmp_path: Path) -> None:
    _write(tmp_path, TINY)
    with pytest.raises(ValueError, match="Increase maxlen"):
        imdb_keras.load_data(maxlen=2, data_dir=tmp_path, source="raw")
    with pytest.raises(ValueError, match="num_words"):
        imdb_keras.load_data(num_words=-5, data_dir=tmp_path, source="raw")


def test_data_keras_second_call_reads_the_cache(tmp_path: Path, monkeypatch) -> None:
    _write(tmp_path, TINY)
    first = imdb_keras.load_data(data_dir=tmp_path, source="raw")

    def no_build(*args, **kwargs):
        raise AssertionError("tokenised again")

    monkeypatch.setattr(imdb_keras_raw, "_build", no_build)
    second = imdb_keras.load_data(data_dir=tmp_path, source="raw")
    assert list(first[0][0]) == list(second[0][0])
    assert imdb_keras.get_word_index(data_dir=tmp_path, source="raw") == TINY_INDEX


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


# ------------------------------------------------------------------ Keras's own files

# A small pair of files in the format of Keras's imdb.npz / imdb_word_index.json.
WORD_INDEX = {"the": 1, "film": 2, "a": 3, "great": 4, "bad": 5, "plot": 6, "café": 7}
KERAS_TRAIN = [[1, 4, 2], [3, 5, 6], [1, 2, 7, 4]]  # ids as the npz stores them (no offset)
KERAS_TRAIN_LABELS = [1, 0, 1]
KERAS_TEST = [[5, 2], [4, 4, 1, 6]]
KERAS_TEST_LABELS = [0, 1]


def write_keras_files(folder: Path) -> Path:
    write_keras_npz(folder / "imdb.npz", KERAS_TRAIN, KERAS_TRAIN_LABELS, KERAS_TEST,
                    KERAS_TEST_LABELS)  # fmt: skip
    (folder / "imdb_word_index.json").write_text(json.dumps(WORD_INDEX), encoding="utf-8")
    return folder


def test_data_keras_files_load_data_defaults_exact(tmp_path: Path) -> None:
    write_keras_files(tmp_path / "data" / "imdb_keras")
    (x_train, y_train), (x_test, y_test) = imdb_keras.load_data(data_dir=tmp_path / "data")
    # RandomState(113) orders 3 reviews [2, 0, 1], then 2 reviews [1, 0]; each review is
    # [1] + [id + 3 ...]; the largest id, 7 + 3 = 10, is num_words and becomes oov 2
    assert x_train.dtype == object and x_train.shape == (3,)
    assert list(x_train) == [[1, 4, 5, 2, 7], [1, 4, 7, 5], [1, 6, 8, 9]]
    assert list(x_test) == [[1, 7, 7, 4, 9], [1, 8, 5]]
    assert y_train.tolist() == [1, 1, 0] and y_test.tolist() == [1, 0]
    assert imdb_keras.get_word_index(data_dir=tmp_path / "data") == WORD_INDEX
    # the same with source="keras" and with the files directly in data_dir
    assert list(imdb_keras.load_data(data_dir=tmp_path / "data", source="keras")[0][0]) == list(
        x_train
    )
    moved = tmp_path / "data" / "imdb_keras"
    assert imdb_keras.load_data(data_dir=moved, source="keras")[1][1].tolist() == [1, 0]


def test_data_keras_files_match_keras_for_every_option(tmp_path: Path) -> None:
    gen = random.Random(1)
    x = {s: [[gen.randint(1, 30) for _ in range(gen.randint(1, 15))] for _ in range(9)]
         for s in ("train", "test")}  # fmt: skip
    npz = write_keras_npz(tmp_path / "k" / "imdb.npz", x["train"], [i % 2 for i in range(9)],
                          x["test"], [(i + 1) % 2 for i in range(9)])  # fmt: skip
    (tmp_path / "k" / "imdb_word_index.json").write_text("{}")
    for kw in OPTION_GRID:
        ours = imdb_keras.load_data(data_dir=tmp_path / "k", source="keras", **kw)
        assert_same_as_keras(ours, keras_load_data(npz, **kw))
    with pytest.raises(ValueError, match=r"maxlen=2, no sequence was kept\. Increase maxlen\."):
        imdb_keras.load_data(maxlen=2, data_dir=tmp_path / "k")


def test_data_keras_files_equal_lengths_still_give_a_1d_array(tmp_path: Path) -> None:
    npz = write_keras_npz(tmp_path / "imdb.npz", [[4, 5], [6, 7]], [0, 1], [[8, 9]], [1])
    (tmp_path / "imdb_word_index.json").write_text("{}")
    (x_train, _), (x_test, _) = imdb_keras.load_data(data_dir=tmp_path)
    assert x_train.shape == (2,) and x_test.shape == (1,) and isinstance(x_test[0], list)
    assert list(x_train) == [list(a) for a in keras_load_data(npz)[0][0]]


def test_data_keras_files_are_found_where_documented(tmp_path: Path, monkeypatch) -> None:
    keras_home = tmp_path / "keras"
    write_keras_files(keras_home / "datasets")  # where Keras itself downloads them
    assert imdb_keras.get_word_index() == WORD_INDEX
    assert imdb_keras.keras_folders()[-1] == keras_home / "datasets"
    # $SEQLAB_DATA/imdb_keras comes first
    monkeypatch.setenv("SEQLAB_DATA", str(tmp_path / "shared"))
    (tmp_path / "shared" / "imdb_keras").mkdir(parents=True)
    (tmp_path / "shared" / "imdb_keras" / "imdb_word_index.json").write_text('{"only": 1}')
    assert imdb_keras.get_word_index() == {"only": 1}
    assert imdb_keras.keras_folders()[:3] == [
        tmp_path / "shared" / "imdb_keras",
        tmp_path / "shared",
        tmp_path / "cache" / "downloads" / "imdb_keras",
    ]


def test_data_keras_source_keras_without_files_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as info:
        imdb_keras.load_data(data_dir=tmp_path, source="keras")
    message = str(info.value)
    assert message.startswith("Keras's imdb.npz not found; looked in ")
    assert (
        str(tmp_path / "imdb_keras") in message and str(tmp_path / "keras" / "datasets") in message
    )
    assert "download=True" in message and "source='raw'" in message
    with pytest.raises(FileNotFoundError, match="imdb_word_index.json not found"):
        imdb_keras.get_word_index(data_dir=tmp_path, source="keras")


def test_data_keras_auto_falls_back_to_raw_with_a_warning(tmp_path: Path) -> None:
    _write(tmp_path, TINY)
    write_keras_npz(tmp_path / "imdb.npz", [[1]], [0], [[1]], [1])  # the word index is missing
    with pytest.warns(UserWarning, match="imdb_word_index.json not found .* source='raw'"):
        index = imdb_keras.get_word_index(data_dir=tmp_path)
    assert index == TINY_INDEX
    with pytest.warns(UserWarning, match="imdb_word_index.json not found"):
        auto = imdb_keras.load_data(data_dir=tmp_path)
    assert list(auto[0][0]) == list(imdb_keras.load_data(data_dir=tmp_path, source="raw")[0][0])
    # source="keras" reads the npz alone
    assert list(imdb_keras.load_data(10, data_dir=tmp_path, source="keras")[0][0]) == [[1, 4]]


def test_data_keras_bad_arguments_and_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="source must be one of 'auto', 'keras', 'raw'; got 'tf'"):
        imdb_keras.load_data(source="tf")
    with pytest.raises(TypeError, match="download must be True or False, got 'yes'"):
        imdb_keras.get_word_index(download="yes")
    with pytest.raises(ValueError, match="start_char must be None or an int >= 0, got 1.5"):
        imdb_keras.load_data(start_char=1.5)
    np.savez(tmp_path / "imdb.npz", x_train=np.zeros(2), y_train=np.zeros(2))
    (tmp_path / "imdb_word_index.json").write_text("[]")
    with pytest.raises(ValueError, match="is not Keras's imdb.npz: it has no x_test, y_test"):
        imdb_keras.load_data(data_dir=tmp_path)
    with pytest.raises(ValueError, match="holds a list, not a {word: id} object"):
        imdb_keras.get_word_index(data_dir=tmp_path)


@pytest.mark.slow
def test_data_keras_real_imdb_word_index_and_shapes(
    shared_data: Path, real_imdb_cache: Path, monkeypatch
) -> None:
    monkeypatch.setenv("SEQLAB_CACHE", str(real_imdb_cache))
    data_dir = shared_data / "imdb"
    index = imdb_keras.get_word_index(data_dir=data_dir, source="raw")
    top = sorted(index, key=index.get)[:10]
    # the ten most frequent words of Keras's own imdb_word_index.json, in the same order
    assert top == ["the", "and", "a", "of", "to", "is", "br", "in", "it", "i"]
    (x_train, y_train), (x_test, y_test) = imdb_keras.load_data(
        num_words=10_000, data_dir=data_dir, source="raw"
    )
    assert x_train.shape == (25_000,) and x_test.shape == (25_000,)
    assert np.bincount(y_train).tolist() == [12_500, 12_500]
    assert all(x[0] == 1 for x in x_train[:100])
    assert max(max(x) for x in x_train) == 9_999
