"""Language-model corpora larger than memory: a streaming scan, then contiguous token streams
read from byte offsets, with exactly the batches of the in-memory path.

:func:`scan_corpus` (in :mod:`seqlab.lm.scan`, re-exported here) reads a UTF-8 text file
once, a ``block`` of bytes at a time (a cheap byte-level pre-pass first counts the
characters, so that the held-out boundary — the last ``val_fraction`` of the characters, as
:func:`seqlab.lm.data.split_text` cuts it — is known before the words are counted). The scan
fits the vocabulary (the character set of the whole corpus, or the word counts of the
training part -> the ``max_tokens - 2`` most frequent, as
:class:`~seqlab.lm.data.WordVocabulary` does), counts the tokens of each part and keeps
*seek points*: the byte offset and token index where each piece of text starts. What stays
in memory is the vocabulary (for words, the counts while scanning) and one seek point per
piece (two integers per ``block`` bytes: ~16,000 for 1 GB with the default 64 KiB).

Pieces end right after a space or a newline (or at the held-out boundary, or at the end of
the file). Those are ASCII bytes, so a piece is always whole UTF-8 characters (never half of
``\\r\\n`` either), no word token runs across a piece boundary, and lower-casing a piece gives
what lower-casing the whole text gives (even Greek final sigma, whose context stops at
white space). That is why tokenizing piece by piece from any seek point gives the same tokens
as tokenizing the whole text; a run of ``block`` bytes without a space or newline makes a
longer piece (it is read whole).

:class:`TokenReader` reads the tokens of one part (``"train"`` or ``"val"``) from any token
position: it seeks to the last seek point at or before it, reads forward a piece at a time
and skips to the position. It holds one piece of text (at most ``block`` characters, see
``max_buffer``) and its ids, and no open file between reads. :func:`batch_streams` gives
the rows of :func:`seqlab.lm.data.batchify` (``batch_size`` contiguous streams of the
training tokens after an epoch's ``offset``) as readers, only those of one rank under DDP
(rows ``rank, rank + W, ...``, as the in-memory path shards them). DataLoader workers are
not used: reading is a file read, a decode and a tokenization per piece, far cheaper than
the model's step on the same tokens, so the LM streams are not sharded over workers (the
classifier's :class:`seqlab.data.streaming.TextStream` is).

>>> index = scan_corpus("corpus.txt", level="word")  # doctest: +SKIP
>>> index.tokens("train"), len(index.vocab)  # doctest: +SKIP
(1803211, 10000)
>>> TokenReader(index, "train", 1000).read(5)  # doctest: +SKIP
array([  17,    4,  315,    2, 1024])
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

from seqlab.lm._pieces import decode, read_piece
from seqlab.lm.data import chunk_starts
from seqlab.lm.model import chunks_loss
from seqlab.lm.scan import (
    DEFAULT_BLOCK,
    PARTS,
    CorpusIndex,
    _check_part,
    scan_corpus,
    stream_path,
)

__all__ = [
    "DEFAULT_BLOCK",
    "PARTS",
    "CorpusIndex",
    "StreamRows",
    "TokenReader",
    "batch_streams",
    "scan_corpus",
    "stream_path",
    "streamed_loss",
]


class TokenReader:
    """The token ids of one part of a scanned corpus, read forward from token ``start``.

    Holds one piece of text at a time (``max_buffer``: the most characters held so far,
    at most the index's ``block`` unless the file has a run of that many bytes without a
    space or newline) and the ids not yet consumed; the file is opened for each piece.

    >>> reader = TokenReader(scan_corpus("corpus.txt"), "train", 100)  # doctest: +SKIP
    >>> reader.read(3), reader.position  # doctest: +SKIP
    (array([12, 40,  1]), 103)
    """

    def __init__(self, index: CorpusIndex, part: str, start: int = 0) -> None:
        self.index = index
        self.part = _check_part(part)
        n = index.tokens(part)
        if not 0 <= int(start) <= n:
            raise ValueError(f"start must be in [0, {n}] for the {part} part, got {start!r}")
        if index.path.stat().st_size != index.size:
            raise ValueError(
                f"{index.path} has changed since it was scanned ({index.size} bytes then); "
                "train again on the current file"
            )
        offsets, tokens = index.points[part]
        first, self._end = index.bounds(part)
        i = bisect.bisect_right(tokens, int(start)) - 1
        self._byte = offsets[i] if i >= 0 else first
        self.position = tokens[i] if i >= 0 else 0  # token index of the next id to read
        self._ids = np.empty(0, dtype=np.int64)
        self._at = 0
        self.max_buffer = 0
        self.skip(int(start) - self.position)

    def _fill(self) -> None:
        if self._byte >= self._end:
            raise ValueError(
                f"read past the end of the {self.part} part ({self.index.tokens(self.part)} tokens)"
            )
        with open(self.index.path, "rb") as f:
            data = read_piece(f, self._byte, self._end, self.index.block, self.index.path)
        text = decode(data, self.index.path, self._byte)
        self.max_buffer = max(self.max_buffer, len(text))
        ids = self.index.vocab.encode(text, errors="ignore")
        self._byte += len(data)
        self._ids = np.concatenate([self._ids[self._at :], ids])
        self._at = 0

    def _ensure(self, n: int) -> None:
        while len(self._ids) - self._at < n:
            self._fill()

    def skip(self, n: int) -> None:
        """Move ``n`` tokens forward without returning them."""
        while n > len(self._ids) - self._at:
            n -= len(self._ids) - self._at
            self.position += len(self._ids) - self._at
            self._ids, self._at = self._ids[:0], 0
            self._fill()
        self._at += n
        self.position += n

    def read(self, n: int) -> np.ndarray:
        """The next ``n`` ids (int64), consumed."""
        self._ensure(n)
        out = self._ids[self._at : self._at + n].copy()
        self._at += n
        self.position += n
        return out

    def window(self, length: int) -> np.ndarray:
        """The next ``length + 1`` ids, of which ``length`` are consumed: the inputs and,
        shifted by one, the targets of a chunk; the next chunk starts at the last id."""
        self._ensure(length + 1)
        out = self._ids[self._at : self._at + length + 1].copy()
        self._at += length
        self.position += length
        return out


class StreamRows:
    """Some rows of an epoch's batchified training part, as readers: row ``r`` is the
    stream of tokens ``[row_start[r], row_start[r] + width)``.

    >>> rows = batch_streams(scan_corpus("corpus.txt"), 32, offset=7)  # doctest: +SKIP
    >>> x, y = rows.chunk(0, 100)  # doctest: +SKIP
    >>> x.shape, y.shape  # doctest: +SKIP
    ((32, 100), (32, 100))
    """

    def __init__(
        self,
        index: CorpusIndex,
        row_starts: list[int],
        width: int,
        batch_size: int,
        offset: int = 0,
    ) -> None:
        self.index = index
        self.offset = int(offset)  # the epoch's shift: row r of all starts at offset + r * width
        self.row_starts = [int(s) for s in row_starts]
        self.width = int(width)
        self.batch_size = int(batch_size)  # the global number of rows
        self.readers: list[TokenReader | None] = [None] * len(self.row_starts)
        self.shape = (self.batch_size, self.width)  # of the whole batchified array

    def positions(self, start: int) -> list[int]:
        """Token index (in the training part) where each row's chunk at ``start`` begins."""
        return [s + int(start) for s in self.row_starts]

    def all_positions(self, start: int) -> list[int]:
        """:meth:`positions` of all ``batch_size`` rows, these and the other ranks' ones."""
        return [self.offset + r * self.width + int(start) for r in range(self.batch_size)]

    def chunk(self, start: int, seq_len: int) -> tuple[np.ndarray, np.ndarray]:
        """Inputs and targets of these rows for the chunk at column ``start`` (as
        :func:`seqlab.lm.data.get_chunk` cuts the batchified array). A row whose reader is
        elsewhere (the first chunk, a resumed run) seeks to its position."""
        length = min(int(seq_len), self.width - 1 - int(start))
        if length < 1:
            raise ValueError(f"start={start} leaves no target in rows of width {self.width}")
        out = []
        for i, pos in enumerate(self.positions(start)):
            reader = self.readers[i]
            if reader is None or reader.position != pos:
                reader = self.readers[i] = TokenReader(self.index, "train", pos)
            out.append(reader.window(length))
        ids = np.stack(out) if out else np.empty((0, length + 1), dtype=np.int64)
        return ids[:, :-1], ids[:, 1:]

    @property
    def max_buffer(self) -> int:
        """The most characters any of the readers held at once."""
        return max((r.max_buffer for r in self.readers if r is not None), default=0)


def batch_streams(
    index: CorpusIndex, batch_size: int, offset: int = 0, rank: int = 0, world: int = 1
) -> StreamRows:
    """The rows ``rank, rank + world, ...`` of ``batchify(train_ids[offset:], batch_size)``
    (the training tokens of the scanned corpus) as streams, never holding the corpus.

    >>> rows = batch_streams(scan_corpus("corpus.txt"), 4, rank=1, world=2)  # doctest: +SKIP
    >>> rows.row_starts == [rows.shape[1], 3 * rows.shape[1]]  # doctest: +SKIP
    True
    """
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
    n = index.tokens("train") - int(offset)
    width = n // int(batch_size)
    if width < 2:
        raise ValueError(
            f"{n} tokens cannot fill {batch_size} rows of at least 2 tokens; "
            "use a smaller batch_size or a longer text"
        )
    rows = range(int(rank), int(batch_size), int(world))
    starts = [int(offset) + r * width for r in rows]
    return StreamRows(index, starts, width, int(batch_size), int(offset))


@torch.inference_mode()
def streamed_loss(
    model: nn.Module,
    index: CorpusIndex,
    part: str = "val",
    batch_size: int = 16,
    seq_len: int = 256,
    max_tokens: int | None = None,
) -> tuple[float, int]:
    """:func:`seqlab.lm.model.stream_loss` over a part of a scanned corpus, read as streams:
    the same sums, without holding the part in memory.

    >>> nats, n = streamed_loss(model, scan_corpus("corpus.txt"), "val")  # doctest: +SKIP
    """
    n = index.tokens(part)
    if max_tokens is not None:
        n = min(n, int(max_tokens) + int(batch_size))
    if n < 2:
        raise ValueError(f"need at least 2 known tokens to evaluate, got {n}")
    batch_size = max(1, min(int(batch_size), n // 2))
    width = n // batch_size
    readers = [TokenReader(index, part, r * width) for r in range(batch_size)]

    def chunks() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for start in chunk_starts(width, seq_len):
            length = min(int(seq_len), width - 1 - start)
            ids = np.stack([r.window(length) for r in readers])
            yield ids[:, :-1], ids[:, 1:]

    return chunks_loss(model, chunks())
