"""Parse word-vector files into ``(words, vectors, meta)``: text (GloVe, word2vec text,
fastText ``.vec``; the numbers parsed in bulk by :mod:`seqlab.embeddings._textparse`) and
binary word2vec; then drop repeated words."""

from __future__ import annotations

import re
import warnings
from typing import Any

import numpy as np

from seqlab._utils import background
from seqlab.embeddings._sources import Source, line_blocks
from seqlab.embeddings._textparse import Workspace, infer_dim, parse_chunk


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


def _start(chunk: bytes, fmt: str, src: str) -> tuple[tuple[int, int] | None, int, bytes, int]:
    """From the first chunk of a text file: ``(header or None, dim, the chunk without the
    header, the number of its first line)``."""
    first, _, rest = chunk.partition(b"\n")
    header = _header(first)
    if fmt == "glove" and header is not None:
        raise ValueError(
            f"{src}, line 1 looks like a word2vec header ({first[:40]!r}) "
            "but format='glove' has none; use format='word2vec' or 'auto'"
        )
    if fmt in ("word2vec", "fasttext") and header is None:
        raise ValueError(
            f"{src}, line 1: expected a 'count dim' header for "
            f"format={fmt!r}, got {first[:60]!r}; use format='glove' for "
            "files without a header"
        )
    if header is not None:
        return header, header[1], rest, 2
    return None, infer_dim(chunk.split(b"\n", 200)[:200]), chunk, 1


def read_text(
    source: Source,
    fmt: str,
    limit: int | None,
    on_bad_lines: str,
    encoding: str,
    unicode_errors: str,
) -> tuple[list[str], np.ndarray, dict]:
    """The words, vectors and meta of a text file (``fmt``: ``"glove"``, ``"word2vec"``,
    ``"fasttext"`` or ``"auto"``), the first ``limit`` words when given."""
    stream = source.open()
    blocks = background(line_blocks(stream))
    words: list[str] = []
    arrays: list[np.ndarray] = []
    bad: list[tuple[int, str]] = []
    total = 0
    header: tuple[int, int] | None = None
    dim: int | None = None
    line_no = 1
    work = Workspace()
    try:
        for chunk in blocks:
            if dim is None:
                header, dim, chunk, line_no = _start(chunk, fmt, source.name)
                if header is not None:
                    limit = header[0] if limit is None else min(limit, header[0])
            parsed = parse_chunk(chunk, dim, line_no, work)
            where = _line_of(parsed.lines, line_no)
            line_no += chunk.count(b"\n")
            bad.extend(parsed.bad)
            _report_bad(parsed.bad, source.name, on_bad_lines)
            n = len(parsed.words)
            if limit is not None and total + n >= limit:
                n = limit - total
            if n:
                names = parsed.words[:n]
                words.extend(_decode_words(names, source.name, where, encoding, unicode_errors))
            arrays.append(parsed.vectors[:n])
            total += n
            if limit is not None and total >= limit:
                break
    finally:
        blocks.close()
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


def read_binary(
    source: Source, limit: int | None, encoding: str, unicode_errors: str
) -> tuple[list[str], np.ndarray, dict]:
    """The words, vectors and meta of a binary word2vec file (the first ``limit`` words)."""
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


def dedupe(words: list[str], vectors: np.ndarray) -> tuple[list[str], np.ndarray, int]:
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
