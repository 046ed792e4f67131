"""Fast parsing of whitespace-separated word-vector text (GloVe, word2vec text, fastText .vec).

The lecture's loop (``for line in f: values = line.split(); ...``) spends most of its time
creating one Python object per number. Here a chunk of complete lines is parsed in bulk:

1. numpy finds the lines, checks that each holds exactly ``dim`` spaces (*regular* lines)
   and where each word ends;
2. in a copy of the chunk every space becomes a newline and every word of a regular line
   is overwritten with ``0`` digits, so each run of regular lines is one number per line;
3. a few vectorised byte checks make sure no number has trailing characters (see
   :func:`_block_is_clean`), and scipy's C++ Matrix Market reader (``fast_float``:
   correctly rounded, the same values as ``float()`` then ``float32``) parses the run in
   one call; the first column (the blanked word) is dropped;
4. everything else (words with spaces, short or long lines, ``nan``, odd whitespace) goes
   through an exact per-line Python path that also names the bad line.
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from seqlab._utils import is_number

_NUMERIC_BYTES = b"0123456789.eE+-\n"
_DIGITS = b"0123456789"
_SPACE_TO_NEWLINE = bytes.maketrans(b" ", b"\n")
_NUMBER = re.compile(rb"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")

try:  # scipy >= 1.12 ships the fast C++ reader; older versions fall back to numpy
    from scipy.io import _fast_matrix_market as _fmm  # noqa: F401
    from scipy.io import mmread as _mmread

    _HAVE_FMM = True
except ImportError:  # pragma: no cover - depends on the installed scipy
    _HAVE_FMM = False


@dataclass
class ParsedChunk:
    """Words, vectors and the bad lines of one chunk of text."""

    words: list[bytes]
    vectors: np.ndarray
    bad: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)
    lines: np.ndarray | None = None  # line number of each word when some lines were dropped


class Workspace:
    """Scratch arrays reused from chunk to chunk: fresh 32 MB temporaries for every numpy
    operation cost more in page faults than the operation itself on some systems."""

    def __init__(self) -> None:
        self._size = 0

    def arrays(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if n > self._size:
            self._size = max(n, int(self._size * 1.25))
            self._u8 = np.empty(self._size, dtype=np.uint8)
            self._b1 = np.empty(self._size, dtype=bool)
            self._b2 = np.empty(self._size, dtype=bool)
        return self._u8[:n], self._b1[:n], self._b2[:n]


def _block_is_clean(block: bytes, work: Workspace) -> bool:
    """True when no number of ``block`` (one per line) has trailing characters that the
    fast reader would silently drop: it reads the longest number at the start of a line, so
    ``1.2.3`` would become 1.2 and ``1-2`` 1.0. (A line that does not *start* with a number
    makes the reader fail, which sends the chunk to the exact path anyway.)

    After a maximal number the next character can only be a second dot, a sign, or an
    exponent mark. With the digits deleted (one ``bytes.translate``), a second dot shows as
    ``..``; a sign is accepted only right after a newline or an exponent mark (looked up at
    the few sign positions, not with full-length passes); the rare numbers with an exponent
    are checked one by one with a regular expression. Stricter than needed is fine: a
    rejected block goes to the exact path.
    """
    skeleton = block.translate(None, _DIGITS)  # only . e E + - and newlines may remain
    if not block or skeleton.translate(None, _NUMERIC_BYTES) or b".." in skeleton:
        return False
    a = np.frombuffer(block, dtype=np.uint8)
    _, mask, _ = work.arrays(a.size)
    for sign, char in ((45, b"-"), (43, b"+")):
        if char not in skeleton:
            continue
        np.equal(a, sign, out=mask)
        pos = np.flatnonzero(mask)
        if pos[0] == 0:  # the block starts at a line start
            pos = pos[1:]
        before = a[pos - 1]
        if not ((before == 10) | ((before | 32) == 101)).all():  # newline, e or E
            return False
    if b"e" in skeleton or b"E" in skeleton:
        np.bitwise_or(a, 32, out=work.arrays(a.size)[0])
        np.equal(work.arrays(a.size)[0], 101, out=mask)
        for pos in np.flatnonzero(mask).tolist():
            start = block.rfind(b"\n", 0, pos) + 1
            if not _NUMBER.fullmatch(block, start, block.find(b"\n", pos)):
                return False
    return True


class _Joined(io.RawIOBase):
    """A read-only stream over a header then a block, without concatenating them."""

    def __init__(self, head: bytes, body: bytes) -> None:
        self._parts = [memoryview(head), memoryview(body)]
        self._pos = [0, 0]

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        out = memoryview(buffer).cast("B")
        for i, part in enumerate(self._parts):
            if self._pos[i] < len(part):
                n = min(len(out), len(part) - self._pos[i])
                out[:n] = part[self._pos[i] : self._pos[i] + n]
                self._pos[i] += n
                return n
        return 0


def _parse_block(block: bytes, count: int, work: Workspace) -> np.ndarray | None:
    """Parse ``count`` numbers, one per line, or return None when the block is not clean."""
    if count == 0:
        return np.zeros(0, dtype=np.float32)
    if not _block_is_clean(block, work):
        return None
    if _HAVE_FMM:
        header = f"%%MatrixMarket matrix array real general\n{count} 1\n".encode()
        try:
            values = _mmread(io.BufferedReader(_Joined(header, block), buffer_size=1 << 20))
        except ValueError:
            return None
        return np.asarray(values, dtype=np.float64).ravel().astype(np.float32)
    with warnings.catch_warnings():  # pragma: no cover - old scipy only
        warnings.simplefilter("ignore", DeprecationWarning)
        values = np.fromstring(block, dtype=np.float64, sep="\n")
    if values.size != count:  # pragma: no cover
        return None
    return values.astype(np.float32)  # pragma: no cover


def parse_line(line: bytes, dim: int) -> tuple[bytes | None, np.ndarray | None, str]:
    """Parse one line exactly: (word, vector, "") or (None, None, reason); blank -> (None, None, "").

    The last ``dim`` fields are the numbers, so a word may contain spaces (GloVe 840B has a few).
    A line with extra fields that are all numbers has too many values rather than a long word.
    """
    fields = line.split()
    if not fields:
        return None, None, ""
    if len(fields) < dim + 1:
        return None, None, f"has {len(fields) - 1} values, expected {dim}"
    word_parts = fields[:-dim]
    if len(word_parts) > 1 and all(is_number(p) for p in word_parts[1:]):
        return None, None, f"has {len(fields) - 1} values, expected {dim}"
    numbers = fields[-dim:]
    vector = np.empty(dim, dtype=np.float32)
    for i, token in enumerate(numbers):
        try:
            vector[i] = float(token)
        except ValueError:
            return (
                None,
                None,
                f"value {i + 1} ({token.decode('utf-8', 'replace')!r}) is not a number",
            )
    return b" ".join(word_parts), vector, ""


_WORD_WINDOW = 64  # words longer than this are found with bytes.find instead


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of each run of True in a 1-D bool array."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.view(np.int8), [0]])))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def _regular_lines(
    is_space: np.ndarray, starts: np.ndarray, ends: np.ndarray, dim: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """Which lines hold exactly ``dim`` spaces; when all do, also where each line's first
    space is (the end of its word), else None."""
    n = starts.size
    positions = np.flatnonzero(is_space)
    if positions.size == n * dim and n:
        # dim spaces per line in order: it suffices that each group of dim lies in its line
        groups = positions.reshape(n, dim)
        if ((groups[:, 0] > starts) & (groups[:, -1] < ends)).all():
            return np.ones(n, dtype=bool), groups[:, 0] - starts
    line_of = np.searchsorted(ends, positions)  # the line of each space
    return np.bincount(line_of, minlength=n) == dim, None


def _word_lengths(chunk: bytes, original: np.ndarray, line_starts: np.ndarray) -> np.ndarray:
    """Where the first space of each line is, relative to its start (looked for in a window
    of bytes; longer words with ``bytes.find``)."""
    size = original.size
    windows = np.lib.stride_tricks.sliding_window_view(original, min(_WORD_WINDOW, size))
    window = windows[np.minimum(line_starts, windows.shape[0] - 1)]
    first_space = np.argmax(window == 32, axis=1)
    long_words = np.flatnonzero(
        (window[np.arange(first_space.size), first_space] != 32)
        | (line_starts > windows.shape[0] - 1)  # the last bytes: no full window
    )
    for j in long_words.tolist():
        first_space[j] = chunk.find(b" ", int(line_starts[j])) - line_starts[j]
    return first_space


def parse_chunk(
    chunk: bytes, dim: int, first_line: int, work: Workspace | None = None
) -> ParsedChunk:
    """Parse complete lines (``chunk`` ends with a newline); ``first_line`` is the 1-based
    number of its first line in the file, for error messages.

    In a mutable copy of the chunk every word of a regular line (exactly ``dim`` spaces) is
    overwritten with ``0`` digits and every space becomes a newline, so each run of regular
    lines is one number per line, ``dim + 1`` per word, for the fast reader; the first
    column is then dropped. Other lines go through :func:`parse_line`.
    """
    work = work or Workspace()
    if b"\r" in chunk:
        chunk = chunk.replace(b"\r\n", b"\n")
    while b" \n" in chunk:  # fastText writes a space before each newline
        chunk = chunk.replace(b" \n", b"\n")
    size = len(chunk)
    original = np.frombuffer(chunk, dtype=np.uint8)
    ends = np.flatnonzero(original == 10)  # the newline of each line
    n = ends.size
    starts = np.empty(n, dtype=np.int64)
    starts[:1] = 0
    starts[1:] = ends[:-1] + 1
    _, is_space, _ = work.arrays(size)
    np.equal(original, 32, out=is_space)
    regular, first_space = _regular_lines(is_space, starts, ends, dim)
    if first_space is None:
        regular &= original[starts] != 32
        first_space = _word_lengths(chunk, original, starts[regular])
    reg_starts = starts[regular]
    vectors = np.empty((n, dim), dtype=np.float32)
    words: list[bytes | None] = [None] * n
    reg_lines = np.flatnonzero(regular)
    for i, s0, length in zip(reg_lines.tolist(), reg_starts.tolist(), first_space.tolist()):
        words[i] = chunk[s0 : s0 + length]
    # every space becomes a newline, and the words are blanked out (a run of "0"s is a
    # number), in a copy of the chunk
    buf = bytearray(chunk.translate(_SPACE_TO_NEWLINE))
    if reg_lines.size:
        body = np.frombuffer(buf, dtype=np.uint8)
        lengths = first_space.astype(np.int64)
        offsets = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        body[np.repeat(reg_starts, lengths) + offsets] = 48
        del body
    failed = np.zeros(n, dtype=bool)
    for lo, hi in _runs(regular):
        begin, end = int(starts[lo]), int(ends[hi - 1]) + 1
        block = buf if (begin == 0 and end == size) else buf[begin:end]
        values = _parse_block(block, (hi - lo) * (dim + 1), work)
        if values is None:
            failed[lo:hi] = True
        else:
            vectors[lo:hi] = values.reshape(hi - lo, dim + 1)[:, 1:]
    bad: list[tuple[int, str]] = []
    keep = np.ones(n, dtype=bool)
    exact = np.flatnonzero(~regular | failed)
    for i in exact.tolist():  # parse these lines one by one, from the untouched chunk
        word, vector, reason = parse_line(chunk[starts[i] : ends[i]], dim)
        if word is None:
            keep[i] = False
            if reason:
                bad.append((first_line + i, reason))
            continue
        words[i] = word
        vectors[i] = vector
    if keep.all():
        return ParsedChunk(words=words, vectors=vectors, bad=bad)  # type: ignore[arg-type]
    return ParsedChunk(
        words=[w for w, k in zip(words, keep) if k],  # type: ignore[misc]
        vectors=vectors[keep],
        bad=bad,
        lines=first_line + np.flatnonzero(keep),
    )


def infer_dim(lines: list[bytes]) -> int:
    """The vector size of a headerless file: the most common field count minus one."""
    counts: dict[int, int] = {}
    for line in lines:
        n = len(line.split())
        if n >= 2:
            counts[n - 1] = counts.get(n - 1, 0) + 1
    if not counts:
        raise ValueError("no line with a word and at least one number")
    return max(counts, key=lambda d: (counts[d], -d))
