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

The first load of a text file is parsed in bulk (see :mod:`seqlab.embeddings._textparse`)
and a binary copy (``vectors.npy`` + ``words.json``) is cached under
``seqlab._utils.cache_dir() / "embeddings"``, keyed by the source's path, size and mtime;
later loads memory-map it.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import json
import lzma
import os
import queue
import re
import shutil
import tempfile
import threading
import time
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from seqlab._utils import PathLike, atomic_write_bytes, cache_dir
from seqlab.embeddings._textparse import Workspace, infer_dim, parse_chunk
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
_CACHE_VERSION = 1
_VECTOR_SUFFIXES = (".txt", ".vec", ".bin", ".txt.gz", ".vec.gz", ".bin.gz")
_COMPRESSED = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}


# --------------------------------------------------------------------------- sources


@dataclass(frozen=True)
class _Source:
    path: Path
    member: str | None = None

    @property
    def name(self) -> str:
        return f"{self.path}::{self.member}" if self.member else str(self.path)

    @property
    def inner_name(self) -> str:
        return self.member if self.member else self.path.name

    def open(self) -> _Stream:
        """A binary stream of the decompressed content (closing it closes every layer)."""
        layers: list[Any] = []
        try:
            if self.member is not None:
                archive = zipfile.ZipFile(self.path)
                layers.append(archive)
                raw: IO[bytes] = archive.open(self.member)
            else:
                raw = open(self.path, "rb")  # noqa: SIM115 - closed by _Stream.close
            layers.append(raw)
            suffix = Path(self.inner_name).suffix.lower()
            if suffix in _COMPRESSED:
                raw = _COMPRESSED[suffix](raw, "rb")  # type: ignore[operator]
                layers.append(raw)
        except BaseException:
            for layer in reversed(layers):
                layer.close()
            raise
        return _Stream(raw, layers)

    def fingerprint(self) -> str:
        st = self.path.stat()
        return f"{self.path.resolve()}|{self.member}|{st.st_size}|{st.st_mtime_ns}"


class _Stream:
    """A readable stream that closes the decompressor, the file and the archive together."""

    def __init__(self, top: IO[bytes], layers: list[Any]) -> None:
        self.read = top.read
        self.readline = top.readline
        self._layers = layers

    def close(self) -> None:
        for layer in reversed(self._layers):
            layer.close()

    def __enter__(self) -> _Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _resolve(path: PathLike, member: str | None) -> _Source:
    text = os.fspath(path)
    if member is None and "::" in text:
        text, member = text.split("::", 1)
    p = Path(text).expanduser()
    if not p.is_file():
        raise FileNotFoundError(
            f"path={os.fspath(path)!r}: no such embeddings file; give the path of a GloVe, "
            "word2vec or fastText file (optionally 'archive.zip::member.txt')"
        )
    if p.suffix.lower() != ".zip":
        if member is not None:
            raise ValueError(f"member={member!r} was given but {p} is not a .zip archive")
        return _Source(p)
    with zipfile.ZipFile(p) as archive:
        names = [n for n in archive.namelist() if not n.endswith("/")]
    if member is None:
        candidates = [n for n in names if n.lower().endswith(_VECTOR_SUFFIXES)]
        if len(candidates) != 1:
            raise ValueError(
                f"{p} holds {len(candidates)} vector files {candidates[:10]}; pick one with "
                f"member='{candidates[0] if candidates else 'name.txt'}' or the path "
                f"'{p}::{candidates[0] if candidates else 'name.txt'}'"
            )
        member = candidates[0]
    elif member not in names:
        raise ValueError(f"member={member!r} is not in {p}; it holds {names[:10]}")
    return _Source(p, member)


class _BlockReader:
    """Reads a stream in a background thread and hands out chunks of whole lines, so that
    decompression (zlib releases the GIL) and the re-cutting at line ends overlap the
    parsing of the previous chunk. Every chunk ends with a newline."""

    def __init__(self, stream: _Stream, sizes: Iterator[int]) -> None:
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(stream, sizes), daemon=True)
        self._thread.start()

    def _run(self, stream: _Stream, sizes: Iterator[int]) -> None:
        try:
            rest = b""
            for size in sizes:
                block = stream.read(size)
                if not block:
                    break
                data = rest + block if rest else block
                cut = data.rfind(b"\n") + 1
                if cut == 0:
                    rest = data
                    continue
                rest = data[cut:]
                if not self._put(data[:cut] if cut < len(data) else data):
                    return
            if rest:
                self._put(rest + b"\n")
            self._put(b"")
        except BaseException as exc:  # handed to the consumer, which re-raises it
            self._put(exc)

    def _put(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[bytes]:
        while True:
            item = self._queue.get()
            if isinstance(item, BaseException):
                raise item
            if not item:
                return
            yield item

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def _block_sizes() -> Iterator[int]:
    # Small first blocks make `limit=1000` and the header cheap; later ones amortise overhead.
    size = 1 << 20
    while True:
        yield size
        size = min(size * 2, 1 << 25)


# --------------------------------------------------------------------------- readers


def _header(line: bytes) -> tuple[int, int] | None:
    fields = line.split()
    if len(fields) == 2 and all(re.fullmatch(rb"\d+", f) for f in fields):
        return int(fields[0]), int(fields[1])
    return None


def _decode_words(
    words: list[bytes], src: str, where: Any, encoding: str, errors: str
) -> list[str]:
    """Decode all words at once; on failure name the first bad one (``where(i)`` says where)."""
    try:
        return b"\n".join(words).decode(encoding, errors).split("\n")
    except UnicodeDecodeError:
        out = []
        for i, word in enumerate(words):
            try:
                out.append(word.decode(encoding, errors))
            except UnicodeDecodeError as exc:
                raise ValueError(
                    f"{src}, {where(i)}: the word is not valid {encoding} ({exc.reason}); "
                    "pass unicode_errors='replace' or 'ignore' to load it anyway"
                ) from None
        return out


def _report_bad(bad: list[tuple[int, str]], src: str, on_bad_lines: str) -> None:
    if bad and on_bad_lines == "error":
        line, reason = bad[0]
        raise ValueError(
            f"{src}, line {line}: {reason}; fix the file or pass on_bad_lines='skip' "
            "to leave such lines out"
        )


def _read_text(
    source: _Source,
    fmt: str,
    limit: int | None,
    on_bad_lines: str,
    encoding: str,
    unicode_errors: str,
) -> tuple[list[str], np.ndarray, dict]:
    stream = source.open()
    reader = _BlockReader(stream, _block_sizes())
    words: list[str] = []
    arrays: list[np.ndarray] = []
    bad: list[tuple[int, str]] = []
    total = 0
    header: tuple[int, int] | None = None
    dim: int | None = None
    line_no = 1
    work = Workspace()
    try:
        for chunk in reader:
            if dim is None:
                first, _, rest = chunk.partition(b"\n")
                header = _header(first)
                if fmt == "glove" and header is not None:
                    raise ValueError(
                        f"{source.name}, line 1 looks like a word2vec header ({first[:40]!r}) "
                        "but format='glove' has none; use format='word2vec' or 'auto'"
                    )
                if fmt in ("word2vec", "fasttext") and header is None:
                    raise ValueError(
                        f"{source.name}, line 1: expected a 'count dim' header for "
                        f"format={fmt!r}, got {first[:60]!r}; use format='glove' for "
                        "files without a header"
                    )
                if header is not None:
                    dim = header[1]
                    chunk, line_no = rest, 2
                else:
                    dim = infer_dim(chunk.split(b"\n", 200)[:200])
                if header is not None and limit is not None:
                    limit = min(limit, header[0])
                elif header is not None:
                    limit = header[0]
            parsed = parse_chunk(chunk, dim, line_no, work)
            line_start = line_no
            line_no += chunk.count(b"\n")
            bad.extend(parsed.bad)
            _report_bad(parsed.bad, source.name, on_bad_lines)
            n = len(parsed.words)
            if limit is not None and total + n >= limit:
                n = limit - total
            if n:
                words.extend(
                    _decode_words(
                        parsed.words[:n],
                        source.name,
                        _line_of(parsed.lines, line_start),
                        encoding,
                        unicode_errors,
                    )
                )
            arrays.append(parsed.vectors[:n])
            total += n
            if limit is not None and total >= limit:
                break
    finally:
        reader.close()
        stream.close()
    if dim is None:
        raise ValueError(f"{source.name} is empty: no word vectors found")
    if header is not None and total < header[0] and (limit is None or total < limit):
        msg = f"{source.name}: the header promises {header[0]} vectors but the file has {total}"
        if on_bad_lines == "error":
            raise ValueError(msg + "; the file is probably truncated")
        warnings.warn(msg, stacklevel=3)
    vectors = np.concatenate(arrays) if len(arrays) != 1 else arrays[0]
    kind = "glove" if header is None else ("fasttext" if fmt == "fasttext" else "word2vec")
    meta = {
        "format": kind,
        "skipped_lines": len(bad),
        "first_bad_line": list(bad[0]) if bad else None,
    }
    return words, vectors.reshape(-1, dim), meta


def _line_of(lines: np.ndarray | None, first: int) -> Any:
    return lambda i: f"line {first + i if lines is None else int(lines[i])}"


def _read_binary(
    source: _Source, limit: int | None, encoding: str, unicode_errors: str
) -> tuple[list[str], np.ndarray, dict]:
    with source.open() as stream:
        first = stream.readline()
        header = _header(first)
        if header is None:
            raise ValueError(
                f"{source.name}, line 1: a binary word2vec file starts with a 'count dim' "
                f"header, got {first[:60]!r}"
            )
        count, dim = header
        if limit is not None:
            count = min(count, limit)
        width = 4 * dim
        words: list[bytes] = []
        pieces: list[np.ndarray] = []
        buf, pos = b"", 0
        while len(words) < count:
            block = stream.read(1 << 24)
            buf, pos = buf[pos:] + block, 0
            offsets: list[int] = []
            find, size = buf.find, len(buf)
            while len(words) < count:
                space = find(b" ", pos)
                if space < 0 or size - space - 1 < width:
                    break
                # the C tool ends each vector with a newline, gensim does not
                words.append(buf[pos:space].lstrip(b"\n"))
                offsets.append(space + 1)
                pos = space + 1 + width
            if offsets:
                raw = np.frombuffer(buf, dtype=np.uint8)
                rows = np.lib.stride_tricks.sliding_window_view(raw, width)[offsets]
                pieces.append(rows.view("<f4").astype(np.float32))
            if not block:
                break
        if len(words) < count:
            raise ValueError(
                f"{source.name}: the header promises {count} vectors but the file ends after "
                f"{len(words)}; the file is probably truncated"
            )
    vectors = np.concatenate(pieces) if pieces else np.zeros((0, dim), np.float32)
    names = _decode_words(words, source.name, lambda i: f"word {i + 1}", encoding, unicode_errors)
    return names, vectors, {"format": "word2vec-binary", "skipped_lines": 0, "first_bad_line": None}


def _dedupe(words: list[str], vectors: np.ndarray) -> tuple[list[str], np.ndarray, int]:
    """Drop repeated words (the first occurrence wins, as in gensim).

    Equal hashes are found with numpy first, so the usual case (no repeats) builds no
    Python set or dict of all the words.
    """
    hashes = np.fromiter(map(hash, words), dtype=np.int64, count=len(words))
    uniq, counts = np.unique(hashes, return_counts=True)
    if counts.size == 0 or counts.max() == 1:
        return words, vectors, 0
    suspects = set(uniq[counts > 1].tolist())
    seen: set[str] = set()
    keep = np.ones(len(words), dtype=bool)
    for i in np.flatnonzero(np.isin(hashes, list(suspects))):
        if words[i] in seen:
            keep[i] = False
        seen.add(words[i])
    if keep.all():
        return words, vectors, 0
    kept = [w for w, k in zip(words, keep) if k]
    return kept, vectors[keep], int((~keep).sum())


# --------------------------------------------------------------------------- cache


def _cache_folder(source: _Source, key: dict) -> Path:
    digest = hashlib.sha1(
        json.dumps(
            {**key, "source": source.fingerprint(), "v": _CACHE_VERSION}, sort_keys=True
        ).encode()
    ).hexdigest()[:16]
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(source.inner_name).name)[:60]
    return cache_dir() / "embeddings" / f"{stem}-{digest}"


def _cache_read(folder: Path) -> KeyedVectors | None:
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        vectors = np.load(folder / "vectors.npy", mmap_mode="r", allow_pickle=False)
        words = json.loads((folder / "words.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if len(words) != vectors.shape[0]:
        return None
    kv = KeyedVectors(words, vectors)
    kv.meta.update(meta, from_cache=True, cache=str(folder))
    return kv


def _cache_write(folder: Path, words: list[str], vectors: np.ndarray, meta: dict) -> None:
    """Write the three files into a temporary folder, then rename it into place (atomic)."""
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    except OSError as exc:
        warnings.warn(f"could not cache embeddings under {folder.parent}: {exc}", stacklevel=3)
        return
    try:
        with open(tmp / "vectors.npy", "wb") as f:
            np.lib.format.write_array(f, np.ascontiguousarray(vectors), allow_pickle=False)
        (tmp / "words.json").write_text(json.dumps(words, ensure_ascii=False), encoding="utf-8")
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
        os.replace(tmp, folder)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if not folder.is_dir():  # else another process cached the same file first: fine
            warnings.warn(f"could not cache embeddings in {folder}: {exc}", stacklevel=3)


def clear_cache() -> int:
    """Delete every cached embedding copy; returns how many were removed.

    >>> clear_cache() >= 0
    True
    """
    root = cache_dir() / "embeddings"
    if not root.is_dir():
        return 0
    removed = 0
    for child in root.iterdir():
        if child.is_dir():
            shutil.rmtree(child, ignore_errors=True)
            removed += 1
    return removed


# --------------------------------------------------------------------------- public API


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
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {format!r}")
    if on_bad_lines not in ("error", "skip"):
        raise ValueError(f"on_bad_lines must be 'error' or 'skip', got {on_bad_lines!r}")
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit must be a positive int or None, got {limit!r}")
    source = _resolve(path, member)
    fmt = format
    if fmt == "auto":
        inner = source.inner_name.lower()
        for suffix in _COMPRESSED:
            inner = inner.removesuffix(suffix)
        fmt = "word2vec-binary" if inner.endswith(".bin") else "auto"
    key = {
        "format": fmt,
        "limit": limit,
        "on_bad_lines": on_bad_lines,
        "encoding": encoding,
        "unicode_errors": unicode_errors,
    }
    folder = _cache_folder(source, key) if cache else None
    if folder is not None and folder.is_dir():
        kv = _cache_read(folder)
        if kv is not None:
            return kv
    start = time.perf_counter()
    if fmt == "word2vec-binary":
        words, vectors, meta = _read_binary(source, limit, encoding, unicode_errors)
    else:
        words, vectors, meta = _read_text(
            source, fmt, limit, on_bad_lines, encoding, unicode_errors
        )
    words, vectors, duplicates = _dedupe(words, vectors)
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
    if folder is not None:
        _cache_write(folder, words, vectors, meta)
    kv = KeyedVectors(words, vectors)
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
