"""``keras.datasets.imdb``: ``load_data`` and ``get_word_index``, from Keras's own files or
rebuilt from the raw IMDB reviews.

``source=`` picks where the word ids come from:

* ``"keras"``: Keras's published files, ``imdb.npz`` (the reviews as word ids) and
  ``imdb_word_index.json`` (``{word: id}``). :func:`load_data` then returns exactly the arrays
  of ``keras.datasets.imdb.load_data`` (its code is ported step by step, see there), and
  :func:`get_word_index` the JSON's dict. The files are looked for, in this order, in

  1. ``<data>/imdb_keras/``, then ``<data>/`` itself, where ``<data>`` is ``data_dir`` or,
     without it, ``$SEQLAB_DATA``;
  2. ``<cache>/downloads/imdb_keras/`` (``$SEQLAB_CACHE``, default ``~/.cache/seqlab``):
     where ``download=True`` puts them;
  3. Keras's own cache, ``$KERAS_HOME/datasets`` (default ``~/.keras/datasets``, and
     ``/tmp/.keras/datasets`` when that folder is not writable, as Keras does), so files that
     Keras has already downloaded are used as they are.

  ``download=True`` fetches a missing file from Keras's address (:data:`KERAS_ORIGIN`) with a
  progress bar and checks it against the ``file_hash`` Keras gives (a sha256 for the npz, an
  md5 for the word index); a corrupt download is deleted and refused.
* ``"raw"``: ids rebuilt from the official ``aclImdb`` reviews (``data_dir`` /
  ``$SEQLAB_DATA``, as :func:`seqlab.datasets.imdb` finds them), for when Keras's files cannot
  be had. Keras's tokenisation is not published; the rebuild splits words as Keras's
  ``text_to_word_sequence`` does and ranks them by frequency over the train and test reviews
  (ties by first occurrence). Compared with Keras's files: the ten most frequent words
  and their ids agree (``the`` 1, ``and`` 2, ``a`` 3, ... ``br`` 7 ... ``i`` 10), but ids differ
  from about rank 27 on; the reviews are in another order before the shuffle, so ``x_train``
  comes out in another order; and words that occur only in test reviews keep their ids
  (Keras's files skip them; the raw index has 35,670 such words). Use it to work offline, not
  to reproduce numbers computed on Keras's data.
* ``"auto"`` (default): ``"keras"`` when both files are found (after downloading them with
  ``download=True``), else ``"raw"`` with a warning that says so; pass ``source="raw"`` to
  choose the rebuild without a warning.

>>> from seqlab.datasets import imdb_keras  # doctest: +SKIP
>>> (x_train, y_train), (x_test, y_test) = imdb_keras.load_data(download=True)  # doctest: +SKIP
>>> x_train[0][:8], int(y_train[0]), x_train.dtype  # doctest: +SKIP
([1, 14, 22, 16, 43, 530, 973, 1622], 1, dtype('O'))
"""

from __future__ import annotations

import itertools
import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from seqlab._checks import check_choice
from seqlab._utils import PathLike, cache_dir
from seqlab._utils import data_dir as _env_data_dir
from seqlab.data import _imdb_keras_raw as _raw
from seqlab.data.download import KNOWN_MD5, KNOWN_SHA256, download

__all__ = ["KERAS_FILES", "KERAS_ORIGIN", "SOURCES", "get_word_index", "keras_folders", "load_data"]

#: Where Keras downloads its datasets from (``origin_folder`` in keras/src/datasets/imdb.py).
KERAS_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
#: Keras's two IMDB files: the encoded reviews and the word index.
KERAS_FILES = ("imdb.npz", "imdb_word_index.json")
SOURCES = ("auto", "keras", "raw")
_NPZ, _INDEX = KERAS_FILES
_NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")

# One split as the transformation reads it: flat word ids, (n + 1,) offsets, (n,) labels.
_Split = tuple[np.ndarray, np.ndarray, np.ndarray]


# --------------------------------------------------------------------------- finding the files


def _keras_home() -> Path:
    # As keras/src/backend/config.py: $KERAS_HOME when set, else ~/.keras (or /tmp/.keras
    # when the home folder is not writable).
    if "KERAS_HOME" in os.environ:
        return Path(os.environ["KERAS_HOME"]).expanduser()
    home = Path("~").expanduser()
    return (home if os.access(home, os.W_OK) else Path("/tmp")) / ".keras"


def keras_folders(data_dir: PathLike | None = None) -> list[Path]:
    """The folders searched for Keras's files, in order (see the module docstring).

    >>> keras_folders("data")[:2]
    [PosixPath('data/imdb_keras'), PosixPath('data')]
    """
    folders = []
    root = _env_data_dir(data_dir)
    if root is not None:
        folders += [root / "imdb_keras", root]
    folders.append(_download_folder())
    home = _keras_home()
    folders.append(home / "datasets")
    if not os.access(home, os.W_OK):  # Keras's get_file then works in /tmp/.keras
        folders.append(Path("/tmp/.keras/datasets"))
    return list(dict.fromkeys(folders))


def _download_folder() -> Path:
    return cache_dir() / "downloads" / "imdb_keras"


def _find(data_dir: PathLike | None) -> dict[str, Path | None]:
    folders = keras_folders(data_dir)
    return {
        name: next((f / name for f in folders if (f / name).is_file()), None)
        for name in KERAS_FILES
    }


def _fetch(name: str, progress: bool) -> Path:
    return download(
        KERAS_ORIGIN + name,
        _download_folder() / name,
        sha256=KNOWN_SHA256.get(name),
        md5=KNOWN_MD5.get(name),
        progress=progress,
    )


def _keras_paths(
    source: str, data_dir: PathLike | None, download: bool, progress: bool, need: str
) -> dict[str, Path] | None:
    """Keras's files when ``source`` resolves to ``"keras"``, else None (the raw rebuild).

    ``need`` is the file the caller reads; ``"auto"`` takes Keras's files only when both are
    there, so that :func:`load_data` and :func:`get_word_index` always agree on the source.
    """
    check_choice("source", source, SOURCES)
    if not isinstance(download, bool):
        raise TypeError(f"download must be True or False, got {download!r}")
    if source == "raw":
        return None
    found = _find(data_dir)
    if download:
        found = {name: path or _fetch(name, progress) for name, path in found.items()}
    missing = [name for name in (KERAS_FILES if source == "auto" else (need,)) if not found[name]]
    if not missing:
        return found  # type: ignore[return-value]
    where = ", ".join(str(f) for f in keras_folders(data_dir))
    if source == "keras":
        raise FileNotFoundError(
            f"Keras's {missing[0]} not found; looked in {where}. Pass download=True to fetch "
            f"it from {KERAS_ORIGIN} (checksum checked), or put {' and '.join(KERAS_FILES)} "
            "in <data_dir>/imdb_keras/; source='raw' rebuilds the ids from the aclImdb reviews"
        )
    warnings.warn(
        f"imdb_keras: Keras's {' and '.join(missing)} not found (looked in {where}); using ids "
        "rebuilt from the raw aclImdb reviews, which differ from Keras's (see "
        "seqlab.data.imdb_keras). Pass download=True for Keras's own files, or source='raw' "
        "to choose the rebuild without this warning",
        UserWarning,
        stacklevel=3,
    )
    return None


# --------------------------------------------------------------------------- reading them


def _flatten(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A sequence of id lists as one flat int64 array and (n + 1,) offsets."""
    lengths = np.fromiter(map(len, x), dtype=np.int64, count=len(x))
    total = int(lengths.sum())
    flat = np.fromiter(itertools.chain.from_iterable(x), dtype=np.int64, count=total)
    return flat, np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)


def _read_npz(path: Path) -> tuple[_Split, _Split]:
    # Keras's imdb.npz stores each split as a 1-D object array of Python lists, which numpy
    # can only store pickled: reading Keras's published file needs allow_pickle=True, as
    # keras.datasets.imdb.load_data itself does. seqlab never writes a pickle; only point
    # this at a file you trust (download=True checks it against Keras's sha256).
    with np.load(path, allow_pickle=True) as f:
        missing = [k for k in _NPZ_KEYS if k not in f.files]
        if missing:
            raise ValueError(
                f"{path} is not Keras's imdb.npz: it has no {', '.join(missing)} (it holds "
                f"{', '.join(f.files) or 'nothing'}); delete it, or pass download=True to "
                "fetch Keras's file"
            )
        arrays = {k: f[k] for k in _NPZ_KEYS}
    out = []
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if len(x) != len(y):
            raise ValueError(
                f"{path} is not Keras's imdb.npz: x_{split} holds {len(x)} reviews but "
                f"y_{split} {len(y)} labels"
            )
        out.append((*_flatten(x), y))
    return out[0], out[1]


def get_word_index(
    data_dir: PathLike | None = None,
    *,
    source: str = "auto",
    download: bool = False,
    progress: bool = True,
) -> dict[str, int]:
    """``{word: id}``, as Keras's ``keras.datasets.imdb.get_word_index()``.

    With ``source="keras"`` (or ``"auto"`` finding Keras's files) the content of
    ``imdb_word_index.json``; with ``"raw"`` the rebuilt index, rank 1 = the most frequent
    word. A review's ids in :func:`load_data` are these ids plus ``index_from``. Where the
    files are looked for, ``download`` and the sources: see the module docstring.

    >>> index = get_word_index()  # doctest: +SKIP
    >>> index["the"], index["and"], len(index)  # doctest: +SKIP
    (1, 2, 88584)
    """
    paths = _keras_paths(source, data_dir, download, progress, need=_INDEX)
    if paths is None:
        return _raw.word_index(data_dir, download=download, progress=progress)
    index = json.loads(paths[_INDEX].read_text(encoding="utf-8"))
    if not isinstance(index, dict):
        raise ValueError(
            f"{paths[_INDEX]} is not Keras's imdb_word_index.json: it holds a "
            f"{type(index).__name__}, not a {{word: id}} object"
        )
    return index


# --------------------------------------------------------------------------- load_data


def _check_args(values: dict[str, Any]) -> None:
    # Keras checks nothing up front (a bad value fails somewhere inside, or quietly gives
    # odd data); these refuse values that are not ints, or negative, and accept the rest.
    for name in ("skip_top", "seed", "index_from"):
        value = values[name]
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
            raise ValueError(f"{name} must be an int >= 0, got {value!r}")
    for name in ("num_words", "maxlen", "start_char", "oov_char"):
        value = values[name]
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0
        ):
            raise ValueError(f"{name} must be None or an int >= 0, got {value!r}")


def load_data(
    num_words: int | None = None,
    skip_top: int = 0,
    maxlen: int | None = None,
    seed: int = 113,
    start_char: int | None = 1,
    oov_char: int | None = 2,
    index_from: int = 3,
    data_dir: PathLike | None = None,
    *,
    source: str = "auto",
    download: bool = False,
    progress: bool = True,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """``(x_train, y_train), (x_test, y_test)``: ``keras.datasets.imdb.load_data``.

    Keras's code, in its order: one ``np.random.RandomState(seed)`` shuffles the train and
    then the test reviews; each review becomes ``[start_char] + [id + index_from ...]`` (no
    ``start_char`` when it is None); with ``maxlen`` only reviews whose length
    (``start_char`` included) is *below* ``maxlen`` are kept, and when no review of a split
    is left Keras's ``ValueError`` ("... no sequence was kept. Increase maxlen.") is raised;
    every id ``w`` (the ``start_char`` too) outside ``skip_top <= w < num_words`` becomes
    ``oov_char``, or is dropped when ``oov_char`` is None. ``num_words=None`` (or 0) means
    the largest id present, which, as in Keras, leaves that one id out of range.

    ``x_*`` are 1-D object arrays of Python lists of ints, as tf.keras returns (Keras 3
    returns the same lists in a Python list), also when every review has the same length;
    ``y_*`` are the labels, 0 = negative, 1 = positive, in the dtype of the source.
    Keras's ``path=`` argument is replaced by ``data_dir``; ``source`` chooses Keras's files
    or the raw rebuild (see the module docstring), and ``download=True`` fetches what the
    chosen source lacks (Keras's two files for ``"keras"`` / ``"auto"``, the aclImdb archive
    for ``"raw"``), with a progress bar when ``progress``. Arguments that are not ints (or
    None where Keras allows it), or are negative, are refused up front.

    >>> (x_train, y_train), _ = load_data(num_words=10_000, maxlen=200)  # doctest: +SKIP
    >>> max(max(x) for x in x_train) < 10_000  # doctest: +SKIP
    True
    """
    options = dict(num_words=num_words, skip_top=skip_top, maxlen=maxlen, seed=seed)
    options.update(start_char=start_char, oov_char=oov_char, index_from=index_from)
    _check_args(options)
    paths = _keras_paths(source, data_dir, download, progress, need=_NPZ)
    if paths is None:
        train, test = _raw.splits(data_dir, download=download, progress=progress)
    else:
        train, test = _read_npz(paths[_NPZ])
    return _transform(train, test, **options)


def _transform(
    train: _Split,
    test: _Split,
    *,
    num_words: int | None,
    skip_top: int,
    maxlen: int | None,
    seed: int,
    start_char: int | None,
    oov_char: int | None,
    index_from: int,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Keras's ``load_data`` after reading the file, on flat arrays instead of lists of lists:
    the same result in a fraction of the time (tests/test_data_imdb_keras.py compares the two
    on every combination of options)."""
    rng = np.random.RandomState(seed)
    shuffled = []
    for flat, offsets, labels in (train, test):
        indices = np.arange(len(labels))
        rng.shuffle(indices)  # train first, then test, from the same generator, as Keras
        shuffled.append((flat, offsets, indices, labels[indices]))

    head = 0 if start_char is None else 1
    if maxlen:
        kept = []
        for flat, offsets, indices, labels in shuffled:
            short = (offsets[indices + 1] - offsets[indices]) + head < maxlen
            kept.append((flat, offsets, indices[short], labels[short]))
        shuffled = kept
        if not all(len(indices) for _, _, indices, _ in shuffled):
            raise ValueError(
                f"After filtering for sequences shorter than maxlen={maxlen}, no sequence was "
                "kept. Increase maxlen."
            )
    bodies, lengths = zip(*(_gather(flat, off, idx) for flat, off, idx, _ in shuffled))
    body, length = np.concatenate(bodies) + index_from, np.concatenate(lengths) + head
    bounds = np.concatenate([[0], np.cumsum(length)]).astype(np.int64)
    xs_flat = np.empty(int(bounds[-1]), dtype=np.int64)
    body_at = np.ones(len(xs_flat), dtype=bool)
    if head:
        xs_flat[bounds[:-1]] = start_char
        body_at[bounds[:-1]] = False
    xs_flat[body_at] = body
    if not num_words:
        # Keras: max(max(x) for x in xs), which fails on an empty review; here the largest id.
        num_words = int(xs_flat.max()) if len(xs_flat) else 0
    inside = (xs_flat >= skip_top) & (xs_flat < num_words)
    if oov_char is not None:
        xs_flat = np.where(inside, xs_flat, oov_char)
    else:
        bounds = np.concatenate([[0], np.cumsum(inside)])[bounds]
        xs_flat = xs_flat[inside]
    values = xs_flat.tolist()
    xs = [values[a:b] for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist())]
    labels = np.concatenate([shuffled[0][3], shuffled[1][3]])
    n = len(shuffled[0][3])
    return (_object_array(xs[:n]), labels[:n]), (_object_array(xs[n:]), labels[n:])


def _gather(flat: np.ndarray, offsets: np.ndarray, order: np.ndarray) -> tuple[np.ndarray, ...]:
    """Documents ``order`` of a flat ragged array, as a new flat array and their lengths."""
    starts, lengths = offsets[order], offsets[order + 1] - offsets[order]
    out_starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    # position j of the output comes from starts[doc] + (j - out_starts[doc])
    source = np.arange(int(lengths.sum()), dtype=np.int64) + np.repeat(starts - out_starts, lengths)
    return flat[source], lengths


def _object_array(seqs: list[list[int]]) -> np.ndarray:
    # Filled one by one: np.array(list_of_equal_length_lists, dtype=object) would be 2-D.
    out = np.empty(len(seqs), dtype=object)
    for i, s in enumerate(seqs):
        out[i] = s
    return out
