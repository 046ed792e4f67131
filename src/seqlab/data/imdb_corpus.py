"""The IMDB reviews as a language-model corpus (``seqlab lm train --corpus imdb``).

The corpus holds the 25,000 training and the 50,000 unlabelled reviews of
:func:`seqlab.data.imdb.imdb` and never a test review, one review per line: HTML line
breaks (``<br />``) become a space, as :class:`~seqlab.text.TextVectorizer` reads them, and
any line end inside a review a space. The reviews come in an order shuffled with ``seed``
(not negatives, positives, then unlabelled), so that the held-out tail a language model
keeps (its last ``val_split`` of the text) is a sample of the whole. About 98 million
characters; written once as a UTF-8 file in the cache folder (``<cache>/corpora/``, named
after the IMDB copy it was built from and the seed) and read from there afterwards.

A classifier later trained on the same training reviews with a validation split finds its
validation reviews' *text* in this corpus (never their labels): ULMFiT's practice, as the
language model only learns how reviews are written. The test reviews stay unseen.

>>> text = imdb_corpus(data_dir="../shared/data/imdb")  # doctest: +SKIP
>>> text.count("\\n") + 1  # doctest: +SKIP
75000
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np

from seqlab._utils import PathLike, atomic_write_text, cache_dir
from seqlab.data.imdb import _source_key, imdb, imdb_path
from seqlab.text.tokenize import strip_html_breaks

__all__ = ["IMDB_CORPUS_SPLITS", "imdb_corpus", "imdb_corpus_path", "review_line"]

IMDB_CORPUS_SPLITS: tuple[str, ...] = ("train", "unsup")
_FORMAT = 1  # bump when the way the lines are made changes
_LINE_END = re.compile(r"\r\n|\r|\n")


def review_line(text: str) -> str:
    """One review as one corpus line: HTML line breaks and line ends become a space.

    >>> review_line("Great.<br /><br />Loved it\\nreally")
    'Great.  Loved it really'
    """
    return _LINE_END.sub(" ", strip_html_breaks(text))


def imdb_corpus_path(
    data_dir: PathLike | None = None, *, seed: int = 0, progress: bool = False
) -> Path:
    """The corpus file (see the module docstring), written on the first call for this IMDB
    copy and ``seed``; the IMDB data is found as :func:`seqlab.data.imdb.imdb_path` finds
    it (``data_dir``, else ``$SEQLAB_DATA``).

    >>> imdb_corpus_path("../shared/data/imdb").name  # doctest: +SKIP
    'imdb-train-unsup-v1-seed0-3c5f0a1b2d4e.txt'
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    source = imdb_path(data_dir)
    key = hashlib.sha256(f"{_source_key(source)}|{_FORMAT}".encode()).hexdigest()[:12]
    path = cache_dir() / "corpora" / f"imdb-train-unsup-v{_FORMAT}-seed{seed}-{key}.txt"
    if path.is_file():
        return path
    parts = imdb(IMDB_CORPUS_SPLITS, data_dir=data_dir, progress=progress)
    texts = [text for part in parts for text in part.texts]
    order = np.random.default_rng(seed).permutation(len(texts))
    atomic_write_text(path, "\n".join(review_line(texts[i]) for i in order) + "\n")
    return path


def imdb_corpus(data_dir: PathLike | None = None, *, seed: int = 0, progress: bool = False) -> str:
    """The corpus as one string (see :func:`imdb_corpus_path`); what
    ``seqlab.datasets.corpus("imdb")`` returns.

    >>> len(imdb_corpus("../shared/data/imdb"))  # doctest: +SKIP
    98162777
    """
    path = imdb_corpus_path(data_dir, seed=seed, progress=progress)
    return path.read_text(encoding="utf-8")
