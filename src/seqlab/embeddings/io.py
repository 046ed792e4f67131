"""Read and write word vectors: GloVe text, word2vec text and binary, fastText ``.vec``.

>>> kv = load("glove.6B.50d.txt.gz")                      # doctest: +SKIP
>>> kv = load("glove.6B.zip::glove.6B.100d.txt", limit=50_000)  # doctest: +SKIP
>>> save_word2vec_format(kv, "vectors.bin", binary=True)   # doctest: +SKIP

Formats (``format=``):

- ``"glove"``: ``word v1 ... vD`` per line, no header (plain, ``.gz``, ``.bz2``, ``.xz``, or a
  member of a ``.zip``);
- ``"word2vec"`` / ``"fasttext"``: the same lines after a ``"N D"`` header line (``.vec``);
- ``"word2vec-binary"``: the header, then for each word ``word<space>`` and D little-endian
  float32 (``.bin``), as written by the original C tool and gensim;
- ``"auto"`` (default): ``.bin`` means binary; otherwise a first line of two integers is a
  header, anything else is GloVe.

The first load of a text file is parsed in bulk (:mod:`seqlab.embeddings._readers`, with
:mod:`seqlab.embeddings._textparse`) and a binary copy (``vectors.npy`` + ``words.json``) is
cached under ``seqlab._utils.cache_dir() / "embeddings"``, keyed by the source's path, size
and mtime; later loads memory-map it (:mod:`seqlab.embeddings._cache`). Where a file is
read from (plain, compressed, a ``.zip`` member) is :mod:`seqlab.embeddings._sources`.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from seqlab._checks import check_choice
from seqlab._utils import PathLike, atomic_write_bytes
from seqlab.embeddings._cache import (
    cache_folder,
    cache_read,
    cache_write,
    clear_cache,
    sweep_temporaries,
)
from seqlab.embeddings._readers import dedupe, read_binary, read_text
from seqlab.embeddings._sources import COMPRESSED, resolve
from seqlab.embeddings.keyed import KeyedVectors

__all__ = [
    "load",
    "load_glove",
    "load_word2vec",
    "load_fasttext",
    "save_word2vec_format",
    "save_glove",
    "clear_cache",
]

FORMATS = ("auto", "glove", "word2vec", "word2vec-binary", "fasttext")


def load(
    path: PathLike,
    *,
    format: str = "auto",
    limit: int | None = None,
    on_bad_lines: str = "error",
    cache: bool = True,
    member: str | None = None,
    encoding: str = "utf-8",
    unicode_errors: str = "strict",
) -> KeyedVectors:
    """Load word vectors from a GloVe, word2vec (text or binary) or fastText ``.vec`` file.

    ``path`` may be plain, ``.gz``/``.bz2``/``.xz``, a ``.zip`` (its single vector file, or
    ``member=``, or ``"archive.zip::member.txt"``). ``limit=N`` reads the first N words.
    Bad lines (a wrong number of values, a value that is not a number) raise a ValueError
    naming the file and line, unless ``on_bad_lines="skip"`` (the count is warned about and
    kept in ``kv.meta["skipped_lines"]``). Repeated words keep their first vector.
    With ``cache=True`` the parsed vectors are cached and memory-mapped on later loads.

    >>> kv = load("../shared/data/embeddings/glove.6B.50d.txt.gz")  # doctest: +SKIP
    >>> kv.most_similar("king", topn=3)  # doctest: +SKIP
    [('prince', 0.82), ('queen', 0.78), ('ii', 0.77)]
    """
    check_choice("format", format, FORMATS)
    check_choice("on_bad_lines", on_bad_lines, ("error", "skip"))
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit must be a positive int or None, got {limit!r}")
    source = resolve(path, member)
    fmt = format
    if fmt == "auto":
        inner = source.inner_name.lower()
        for suffix in COMPRESSED:
            inner = inner.removesuffix(suffix)
        fmt = "word2vec-binary" if inner.endswith(".bin") else "auto"
    key = {
        "format": fmt,
        "limit": limit,
        "on_bad_lines": on_bad_lines,
        "encoding": encoding,
        "unicode_errors": unicode_errors,
    }
    folder = cache_folder(source, key) if cache else None
    if folder is not None:
        sweep_temporaries(folder.parent)
    if folder is not None and folder.is_dir():
        kv = cache_read(folder)
        if kv is not None:
            return kv
    start = time.perf_counter()
    if fmt == "word2vec-binary":
        words, vectors, meta = read_binary(source, limit, encoding, unicode_errors)
    else:
        words, vectors, meta = read_text(source, fmt, limit, on_bad_lines, encoding, unicode_errors)
    words, vectors, duplicates = dedupe(words, vectors)
    meta.update(
        source=source.name,
        duplicates=duplicates,
        parse_seconds=round(time.perf_counter() - start, 3),
    )
    if meta["skipped_lines"]:
        line, reason = meta["first_bad_line"]
        warnings.warn(
            f"skipped {meta['skipped_lines']} bad lines in {source.name} "
            f"(first: line {line}: {reason})",
            stacklevel=2,
        )
    if duplicates:
        warnings.warn(
            f"{source.name}: {duplicates} repeated words kept their first vector", stacklevel=2
        )
    try:
        kv = KeyedVectors(words, vectors)  # refuses NaN / infinite vectors, naming the words
    except ValueError as exc:
        raise ValueError(f"{source.name}: {exc}") from None
    if folder is not None:
        cache_write(folder, words, vectors, meta)
    kv.meta.update(meta, from_cache=False)
    return kv


def load_glove(path: PathLike, **kwargs: Any) -> KeyedVectors:
    """Load a GloVe file (no header). Same options as :func:`load`.

    >>> kv = load_glove("glove.6B.50d.txt.gz", limit=10_000)  # doctest: +SKIP
    """
    return load(path, format="glove", **kwargs)


def load_word2vec(path: PathLike, binary: bool | None = None, **kwargs: Any) -> KeyedVectors:
    """Load a word2vec file; ``binary=None`` guesses from the ``.bin`` suffix.

    >>> kv = load_word2vec("vectors.bin", binary=True)  # doctest: +SKIP
    """
    fmt = "auto" if binary is None else ("word2vec-binary" if binary else "word2vec")
    return load(path, format=fmt, **kwargs)


def load_fasttext(path: PathLike, **kwargs: Any) -> KeyedVectors:
    """Load a fastText ``.vec`` text file (a word2vec text file with a header).

    >>> kv = load_fasttext("wiki.en.vec", limit=100_000)  # doctest: +SKIP
    """
    return load(path, format="fasttext", **kwargs)


# --------------------------------------------------------------------------- writers


def _format_rows(kv: KeyedVectors, precision: int) -> Iterator[bytes]:
    fmt = f"%.{precision}g"
    vectors = np.asarray(kv.vectors, dtype=np.float32)
    for word, row in zip(kv.index_to_key, vectors.tolist()):
        if not word or any(ch.isspace() for ch in word):
            raise ValueError(
                f"the word {word!r} is empty or contains whitespace and cannot be written "
                "to a text vector file"
            )
        yield (word + " " + " ".join([fmt % v for v in row]) + "\n").encode("utf-8")


def _compress_for(path: Path, data: bytes) -> bytes:
    suffix = path.suffix.lower()
    if suffix == ".gz":
        return gzip.compress(data, compresslevel=6, mtime=0)
    if suffix == ".bz2":
        return bz2.compress(data)
    if suffix == ".xz":
        return lzma.compress(data)
    return data


def save_word2vec_format(
    kv: KeyedVectors, path: PathLike, *, binary: bool = False, precision: int = 9
) -> Path:
    """Write ``kv`` in word2vec format (a ``"N D"`` header, then text or binary rows), which
    gensim's ``KeyedVectors.load_word2vec_format`` reads back. Text values use ``%.{precision}g``
    (9 digits reproduce float32 exactly). Written atomically; ``.gz`` compresses.

    >>> save_word2vec_format(kv, "vectors.bin", binary=True)  # doctest: +SKIP
    PosixPath('vectors.bin')
    """
    path = Path(path)
    vectors = np.ascontiguousarray(kv.vectors, dtype="<f4")
    head = f"{len(kv)} {kv.vector_size}\n".encode()
    if binary:
        parts = [head]
        for word, row in zip(kv.index_to_key, vectors):
            if not word or " " in word:
                raise ValueError(
                    f"the word {word!r} is empty or contains a space; "
                    "binary word2vec files cannot hold it"
                )
            parts.append(word.encode("utf-8") + b" " + row.tobytes() + b"\n")
        data = b"".join(parts)
    else:
        data = head + b"".join(_format_rows(kv, precision))
    return atomic_write_bytes(path, _compress_for(path, data))


def save_glove(kv: KeyedVectors, path: PathLike, *, precision: int = 9) -> Path:
    """Write ``kv`` as a GloVe text file (no header); ``.gz``/``.bz2``/``.xz`` compress.

    >>> save_glove(kv, "vectors.txt.gz")  # doctest: +SKIP
    PosixPath('vectors.txt.gz')
    """
    path = Path(path)
    data = b"".join(_format_rows(kv, precision))
    return atomic_write_bytes(path, _compress_for(path, data))
