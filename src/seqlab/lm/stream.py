"""Language-model corpora larger than memory: a streaming scan, then contiguous token streams
read from byte offsets, with exactly the batches of the in-memory path.

:func:`scan_corpus` reads a UTF-8 text file once, a ``block`` of bytes at a time (a cheap
byte-level pre-pass first counts the characters, so that the held-out boundary — the last
``val_fraction`` of the characters, as :func:`seqlab.lm.data.split_text` cuts it — is known
before the words are counted). The scan fits the vocabulary (the character set of the whole
corpus, or the word counts of the training part -> the ``max_tokens - 2`` most frequent, as
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
import hashlib
import re
from array import array
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch
from torch import nn

from seqlab._utils import PathLike
from seqlab.data.corpora import BUNDLED_CORPORA
from seqlab.lm.data import (
    LEVELS,
    CharVocabulary,
    Vocab,
    WordVocabulary,
    chunk_starts,
    tokenize_words,
    vocabulary_from_dict,
)
from seqlab.lm.model import chunks_loss

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

PARTS = ("train", "val")
DEFAULT_BLOCK = 1 << 16  # bytes read at a time; also the most characters a reader holds
_CRLF = re.compile("\r\n")


# --------------------------------------------------------------------------- bytes -> text


def stream_path(corpus: PathLike) -> Path:
    """The plain text file that ``stream=True`` reads, or a ValueError / FileNotFoundError
    saying what to pass instead (bundled corpora and ``.gz`` files are refused).

    >>> stream_path("nietzsche")
    Traceback (most recent call last):
    ...
    ValueError: stream=True reads a text file on disk, but 'nietzsche' is a bundled corpus (it fits in memory): drop stream=True (--stream)
    """
    path = Path(corpus).expanduser()
    if isinstance(corpus, str) and corpus in BUNDLED_CORPORA and not path.exists():
        raise ValueError(
            f"stream=True reads a text file on disk, but {corpus!r} is a bundled corpus "
            "(it fits in memory): drop stream=True (--stream)"
        )
    if path.is_dir():
        raise ValueError(f"corpus={str(corpus)!r} is a folder; give a text file")
    if not path.is_file():
        raise FileNotFoundError(f"corpus={str(corpus)!r}: no such file")
    if path.suffix == ".gz":
        raise ValueError(
            f"stream=True seeks inside the corpus, which a .gz file cannot do cheaply; got "
            f"{str(corpus)!r}: decompress it first (gunzip -k) and pass the plain text file"
        )
    return path


def _count_chars(path: Path, block: int) -> int:
    """Characters of the UTF-8 file after ``\\r\\n`` -> ``\\n`` (as :func:`seqlab.lm.load_corpus`
    reads it), without decoding: bytes that are not continuation bytes, less the CRLF pairs."""
    n = 0
    previous_cr = False
    with open(path, "rb") as f:
        while data := f.read(block):
            a = np.frombuffer(data, dtype=np.uint8)
            n += int(np.count_nonzero((a & 0xC0) != 0x80))
            n -= data.count(b"\r\n") + int(previous_cr and data[:1] == b"\n")
            previous_cr = data[-1:] == b"\r"
    return n


def _read_piece(f: BinaryIO, pos: int, end: int, block: int, path: Path) -> bytes:
    """The bytes from ``pos`` up to just after the last space or newline of the next
    ``block`` bytes (all of them if ``end`` comes first; more if there is no space)."""
    f.seek(pos)
    data = f.read(min(block, end - pos))
    while True:
        if pos + len(data) >= end:
            return data
        cut = max(data.rfind(b"\n"), data.rfind(b" ")) + 1
        if cut:
            return data[:cut]
        more = f.read(min(block, end - pos - len(data)))
        if not more:
            raise ValueError(
                f"{path} ended at byte {pos + len(data)}, before the {end} bytes it had when it "
                "was scanned; it changed: train again on the current file"
            )
        data += more


def _decode(data: bytes, path: Path, offset: int) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{path}: bytes {offset + exc.start}-{offset + exc.end} are not valid UTF-8 "
            f"({exc.reason}); stream=True reads UTF-8 text: convert the file (iconv -t utf-8)"
        ) from None
    return text.replace("\r\n", "\n")


def _raw_byte_offset(raw: str, k: int) -> int:
    """Byte length of the prefix of the decoded ``raw`` piece that becomes the first ``k``
    characters once ``\\r\\n`` is ``\\n`` (pair ``i`` at raw index ``p`` sits at ``p - i``)."""
    j = k
    for i, m in enumerate(_CRLF.finditer(raw)):
        if m.start() - i >= k:
            break
        j += 1
    return len(raw[:j].encode("utf-8"))


# --------------------------------------------------------------------------- the scan


@dataclass
class CorpusIndex:
    """What :func:`scan_corpus` learnt about a corpus file: its vocabulary, the tokens of the
    training and held-out parts, and the seek points of each part. Small whatever the size
    of the file; :meth:`to_dict` / :meth:`from_dict` carry it as JSON (DDP ranks get rank 0's).

    >>> index = scan_corpus("corpus.txt")  # doctest: +SKIP
    >>> index.tokens("val"), index.sha256[:8]  # doctest: +SKIP
    (60090, '1f0c3a9e')
    """

    path: Path
    level: str
    lower: bool
    max_tokens: int | None
    val_fraction: float
    block: int
    vocab: Vocab
    size: int  # bytes
    chars: int  # characters (after \r\n -> \n)
    cut_char: int  # first held-out character
    cut_byte: int  # its byte offset
    sha256: str  # of the text, as seqlab.lm.train hashes a corpus read into memory
    counts: dict[str, int]  # tokens per part
    points: dict[str, tuple[array, array]]  # part -> (byte offsets, token indices)
    max_buffer: int = 0  # most characters the scan held at once

    def tokens(self, part: str) -> int:
        """Number of tokens of ``part`` ("train" or "val")."""
        return self.counts[_check_part(part)]

    def bounds(self, part: str) -> tuple[int, int]:
        """(first byte, end byte) of ``part`` in the file."""
        return (0, self.cut_byte) if _check_part(part) == "train" else (self.cut_byte, self.size)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able copy; :meth:`from_dict` rebuilds the index."""
        return {
            "path": str(self.path),
            "level": self.level,
            "lower": self.lower,
            "max_tokens": self.max_tokens,
            "val_fraction": self.val_fraction,
            "block": self.block,
            "vocab": self.vocab.to_dict(),
            "size": self.size,
            "chars": self.chars,
            "cut_char": self.cut_char,
            "cut_byte": self.cut_byte,
            "sha256": self.sha256,
            "counts": dict(self.counts),
            "points": {p: [list(b), list(t)] for p, (b, t) in self.points.items()},
            "max_buffer": self.max_buffer,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CorpusIndex:
        """Rebuild from :meth:`to_dict` output."""
        return cls(
            path=Path(d["path"]),
            level=d["level"],
            lower=bool(d["lower"]),
            max_tokens=d["max_tokens"],
            val_fraction=float(d["val_fraction"]),
            block=int(d["block"]),
            vocab=vocabulary_from_dict(d["vocab"]),
            size=int(d["size"]),
            chars=int(d["chars"]),
            cut_char=int(d["cut_char"]),
            cut_byte=int(d["cut_byte"]),
            sha256=d["sha256"],
            counts={k: int(v) for k, v in d["counts"].items()},
            points={p: (array("q", b), array("q", t)) for p, (b, t) in d["points"].items()},
            max_buffer=int(d.get("max_buffer", 0)),
        )


def _check_part(part: str) -> str:
    if part not in PARTS:
        raise ValueError(f"part must be one of {PARTS}, got {part!r}")
    return part


def scan_corpus(
    path: PathLike,
    level: str = "char",
    lower: bool = False,
    max_tokens: int | None = 10_000,
    val_fraction: float = 0.1,
    block: int = DEFAULT_BLOCK,
) -> CorpusIndex:
    """Read a UTF-8 text file once, ``block`` bytes at a time, and return its
    :class:`CorpusIndex`: the vocabulary that :func:`seqlab.lm.train` would fit on the file
    read into memory (the character set of the whole text; or the word counts of its
    training part), the token counts of the training part and of the held-out last
    ``val_fraction`` of the characters, and the seek points of both.

    >>> index = scan_corpus("corpus.txt", level="word", lower=True)  # doctest: +SKIP
    >>> index.vocab.itos[:4]  # doctest: +SKIP
    ['', '[UNK]', 'the', ',']
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    if not 0.0 <= float(val_fraction) < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction!r}")
    if isinstance(block, bool) or not isinstance(block, int) or block < 1:
        raise ValueError(f"block must be a positive number of bytes, got {block!r}")
    path = stream_path(path)
    size = path.stat().st_size
    chars = _count_chars(path, block)
    cut = chars - int(round(chars * float(val_fraction)))  # as split_text cuts
    charset: set[str] = set()
    word_counts: Counter[str] = Counter()
    counts = {"train": 0, "val": 0}
    points: dict[str, tuple[array, array]] = {p: (array("q"), array("q")) for p in PARTS}
    hasher = hashlib.sha256()
    cut_byte = size if cut >= chars else None
    max_buffer = 0
    position = 0  # characters before the current piece
    split: tuple[str, str] | None = None  # the piece cut in two at the held-out boundary

    def add(part: str, byte: int, text: str) -> None:
        points[part][0].append(byte)
        points[part][1].append(counts[part])
        std = text.lower() if lower else text
        if level == "char":
            counts[part] += len(std)
        else:
            words = tokenize_words(std)
            counts[part] += len(words)
            if part == "train":  # words come from the training part only, as in memory
                word_counts.update(words)

    with open(path, "rb") as f:
        byte = 0
        while byte < size:
            data = _read_piece(f, byte, size, block, path)
            text = _decode(data, path, byte)
            max_buffer = max(max_buffer, len(text))
            hasher.update(text.encode("utf-8"))
            if level == "char":  # the character set of the whole text, held-out part too
                charset.update(text.lower() if lower else text)
            start, end = position, position + len(text)
            if end <= cut:
                add("train", byte, text)
            elif start >= cut:
                if cut_byte is None:
                    cut_byte = byte
                add("val", byte, text)
            else:  # the held-out boundary falls inside this piece: split it there
                k = cut - start
                raw = data.decode("utf-8")
                cut_byte = byte + _raw_byte_offset(raw, k)
                add("train", byte, text[:k])
                add("val", cut_byte, text[k:])
                split = (text[:k], text[k:])
            position = end
            byte += len(data)
    if position != chars:
        raise ValueError(f"{path} changed while it was scanned; scan it again")
    if cut_byte is None:
        cut_byte = size
    if level == "char":
        vocab: Vocab = CharVocabulary(sorted(charset), lower=lower)
        if split is not None and lower:
            # Lower-casing the two parts apart can give a character that lower-casing the
            # whole text does not (a Greek final sigma just before the boundary); the
            # in-memory path drops it when encoding, so the counts must too.
            for part, half in zip(PARTS, split, strict=True):
                dropped = len(half.lower()) - len(vocab.encode(half, errors="ignore"))
                counts[part] -= dropped
                if part == "val":
                    tokens = points["val"][1]
                    for i in range(1, len(tokens)):
                        tokens[i] -= dropped
    else:
        vocab = WordVocabulary.from_counts(word_counts, max_tokens=max_tokens, lower=lower)
    return CorpusIndex(
        path=path.resolve(),
        level=level,
        lower=bool(lower),
        max_tokens=max_tokens,
        val_fraction=float(val_fraction),
        block=int(block),
        vocab=vocab,
        size=size,
        chars=chars,
        cut_char=cut,
        cut_byte=cut_byte,
        sha256=hasher.hexdigest(),
        counts=counts,
        points=points,
        max_buffer=max_buffer,
    )


# --------------------------------------------------------------------------- reading


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
            data = _read_piece(f, self._byte, self._end, self.index.block, self.index.path)
        text = _decode(data, self.index.path, self._byte)
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
