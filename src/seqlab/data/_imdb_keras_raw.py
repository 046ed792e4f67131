"""Keras-style word ids rebuilt from the raw IMDB reviews: the ``source="raw"`` fallback of
:mod:`seqlab.data.imdb_keras` (which documents how it differs from Keras's own files).

How the ids are made:

* each review of the labelled train and test splits (in :func:`seqlab.datasets.imdb` order,
  train then test) is split into words as Keras's ``text_to_word_sequence`` does with its
  defaults: lower-case, the characters ``!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~``, tab and newline
  become spaces, then split on spaces (HTML such as ``<br />`` is not removed, so ``"br"``
  is a word, as in Keras's own index);
* a word's id is its frequency rank over both splits, 1 = the most frequent; words that are
  equally frequent are ranked by first occurrence.

The encoded reviews are cached beside the parsed IMDB copy, so only the first call tokenises::

    <parsed IMDB cache>/keras-v1/
        words.json                        the words by rank (written last: the folder is
                                          renamed into place when complete)
        train.tokens.npy / .offsets.npy / .labels.npy      flat ranks, (n + 1,) offsets, labels
        (the same for test)
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from seqlab._utils import PathLike
from seqlab.data.corpora import _keras_words
from seqlab.data.imdb import _ensure_cache, imdb, imdb_path

_FORMAT = "keras-v1"

# One split as the transformation of load_data reads it: flat word ids (every review's ids
# one after another), (n + 1,) offsets of the reviews into them, and (n,) labels.
Split = tuple[np.ndarray, np.ndarray, np.ndarray]


class _FirstSeen(dict):
    """word -> id in order of first occurrence; a new word gets the next id on lookup."""

    def __missing__(self, word: str) -> int:
        i = self[word] = len(self)
        return i


def _tokenise(texts: list[str], first_seen: _FirstSeen) -> tuple[np.ndarray, np.ndarray]:
    """Provisional ids (order of first occurrence) as one flat array, and document offsets."""
    lookup = first_seen.__getitem__
    # map() over the C-level dict lookup: only unseen words run Python code (__missing__).
    chunks = [np.fromiter(map(lookup, _keras_words(t)), dtype=np.int64) for t in texts]
    lengths = np.fromiter((len(c) for c in chunks), dtype=np.int64, count=len(chunks))
    flat = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return flat, offsets


def _build(folder: Path, data_dir: PathLike | None, download: bool, progress: bool) -> None:
    train, test = imdb(("train", "test"), data_dir=data_dir, download=download, progress=progress)
    first_seen = _FirstSeen()
    train_flat, train_off = _tokenise(train.texts, first_seen)
    test_flat, test_off = _tokenise(test.texts, first_seen)
    counts = np.bincount(np.concatenate([train_flat, test_flat]), minlength=len(first_seen))
    # Most frequent first; lexsort is stable, so equal counts keep first-occurrence order.
    order = np.lexsort((np.arange(len(counts)), -counts))
    rank = np.empty(len(counts), dtype=np.int32)
    rank[order] = np.arange(1, len(counts) + 1, dtype=np.int32)
    words = list(first_seen)
    ranked = [words[i] for i in order.tolist()]

    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.", suffix=".tmp"))
    try:
        for name, flat, off, ds in (
            ("train", train_flat, train_off, train),
            ("test", test_flat, test_off, test),
        ):
            np.save(tmp / f"{name}.tokens.npy", rank[flat], allow_pickle=False)
            np.save(tmp / f"{name}.offsets.npy", off, allow_pickle=False)
            np.save(tmp / f"{name}.labels.npy", ds.labels, allow_pickle=False)
        (tmp / "words.json").write_text(json.dumps(ranked, ensure_ascii=False), encoding="utf-8")
        try:
            os.rename(tmp, folder)
        except OSError:
            if not (folder / "words.json").is_file():
                raise
            shutil.rmtree(tmp, ignore_errors=True)  # another process was first
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _encoded(data_dir: PathLike | None, download: bool, progress: bool) -> Path:
    """The cache folder holding the encoded train and test reviews (built on first use)."""
    parsed, _ = _ensure_cache(imdb_path(data_dir, download=download, progress=progress))
    folder = parsed / _FORMAT
    if not (folder / "words.json").is_file():
        _build(folder, data_dir, download, progress)
    return folder


def word_index(
    data_dir: PathLike | None, *, download: bool = False, progress: bool = True
) -> dict[str, int]:
    """``{word: rank}``, rank 1 = the most frequent word of the raw reviews."""
    folder = _encoded(data_dir, download, progress)
    words = json.loads((folder / "words.json").read_text(encoding="utf-8"))
    return {w: i for i, w in enumerate(words, start=1)}


def splits(
    data_dir: PathLike | None, *, download: bool = False, progress: bool = True
) -> tuple[Split, Split]:
    """The train and test reviews as word ranks (flat ids, offsets, labels), unshuffled."""
    folder = _encoded(data_dir, download, progress)
    out = []
    for name in ("train", "test"):
        flat = np.load(folder / f"{name}.tokens.npy", allow_pickle=False).astype(np.int64)
        offsets = np.load(folder / f"{name}.offsets.npy", allow_pickle=False)
        labels = np.load(folder / f"{name}.labels.npy", allow_pickle=False)
        out.append((flat, offsets, labels))
    return out[0], out[1]
