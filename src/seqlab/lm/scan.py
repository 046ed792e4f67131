"""The streaming scan of a language-model corpus larger than memory (see
:mod:`seqlab.lm.stream` for how the scan is read back as token streams).

:func:`scan_corpus` reads a UTF-8 text file once, a ``block`` of bytes at a time (a cheap
byte-level pre-pass first counts the characters, so that the held-out boundary is known
before the words are counted), fits the vocabulary, counts the tokens of each part and keeps
*seek points*: the byte offset and token index where each piece of text starts. The result
is a small :class:`CorpusIndex`, whatever the size of the file.

>>> index = scan_corpus("corpus.txt", level="word")  # doctest: +SKIP
>>> index.tokens("train"), len(index.vocab)  # doctest: +SKIP
(1803211, 10000)
"""

from __future__ import annotations

import hashlib
from array import array
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqlab._checks import check_choice
from seqlab._utils import PathLike
from seqlab.data.corpora import BUNDLED_CORPORA, DATASET_CORPORA
from seqlab.lm._pieces import count_chars, decode, raw_byte_offset, read_piece
from seqlab.lm.data import (
    LEVELS,
    CharVocabulary,
    Vocab,
    WordVocabulary,
    tokenize_words,
    vocabulary_from_dict,
)

__all__ = ["DEFAULT_BLOCK", "PARTS", "CorpusIndex", "scan_corpus", "stream_path"]

PARTS = ("train", "val")
DEFAULT_BLOCK = 1 << 16  # bytes read at a time; also the most characters a reader holds


def stream_path(corpus: PathLike, data_dir: PathLike | None = None) -> Path:
    """The plain text file that ``stream=True`` reads, or a ValueError / FileNotFoundError
    saying what to pass instead (bundled corpora and ``.gz`` files are refused). A corpus
    built from a dataset (``"imdb"``) is its file in the cache, written once from ``data_dir``.

    >>> stream_path("nietzsche")
    Traceback (most recent call last):
    ...
    ValueError: stream=True reads a text file on disk, but 'nietzsche' is a bundled corpus (it fits in memory): drop stream=True (--stream)
    """
    path = Path(corpus).expanduser()
    if isinstance(corpus, str) and corpus in DATASET_CORPORA and not path.is_file():
        from seqlab.data.imdb_corpus import imdb_corpus_path

        return imdb_corpus_path(data_dir)
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
    return check_choice("part", part, PARTS)


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
    check_choice("level", level, LEVELS)
    if not 0.0 <= float(val_fraction) < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction!r}")
    if isinstance(block, bool) or not isinstance(block, int) or block < 1:
        raise ValueError(f"block must be a positive number of bytes, got {block!r}")
    path = stream_path(path)
    size = path.stat().st_size
    chars = count_chars(path, block)
    cut = chars - int(round(chars * float(val_fraction)))  # as split_text cuts
    scan = _Scan(level, lower)
    cut_byte = scan.read(path, size, block, cut, chars)
    return CorpusIndex(
        path=path.resolve(),
        level=level,
        lower=bool(lower),
        max_tokens=max_tokens,
        val_fraction=float(val_fraction),
        block=int(block),
        vocab=scan.vocabulary(max_tokens),
        size=size,
        chars=chars,
        cut_char=cut,
        cut_byte=cut_byte,
        sha256=scan.hasher.hexdigest(),
        counts=scan.counts,
        points=scan.points,
        max_buffer=scan.max_buffer,
    )


class _Scan:
    """What one pass over the file gathers: the token count and the seek points of each
    part, the character set (or the training part's word counts), the text's hash."""

    def __init__(self, level: str, lower: bool) -> None:
        self.level, self.lower = level, lower
        self.charset: set[str] = set()
        self.word_counts: Counter[str] = Counter()
        self.counts = {"train": 0, "val": 0}
        self.points: dict[str, tuple[array, array]] = {p: (array("q"), array("q")) for p in PARTS}
        self.hasher = hashlib.sha256()
        self.max_buffer = 0
        self.split: tuple[str, str] | None = None  # the piece cut in two at the boundary

    def read(self, path: Path, size: int, block: int, cut: int, chars: int) -> int:
        """Read the file piece by piece, the characters from ``cut`` on held out; the byte
        offset of the first held-out character."""
        cut_byte = size if cut >= chars else None
        position = 0  # characters before the current piece
        with open(path, "rb") as f:
            byte = 0
            while byte < size:
                data = read_piece(f, byte, size, block, path)
                text = decode(data, path, byte)
                self.max_buffer = max(self.max_buffer, len(text))
                self.hasher.update(text.encode("utf-8"))
                if self.level == "char":  # the character set of the whole text, held-out too
                    self.charset.update(text.lower() if self.lower else text)
                start, end = position, position + len(text)
                if end <= cut:
                    self._add("train", byte, text)
                elif start >= cut:
                    if cut_byte is None:
                        cut_byte = byte
                    self._add("val", byte, text)
                else:  # the held-out boundary falls inside this piece: split it there
                    k = cut - start
                    cut_byte = byte + raw_byte_offset(data.decode("utf-8"), k)
                    self._add("train", byte, text[:k])
                    self._add("val", cut_byte, text[k:])
                    self.split = (text[:k], text[k:])
                position = end
                byte += len(data)
        if position != chars:
            raise ValueError(f"{path} changed while it was scanned; scan it again")
        return size if cut_byte is None else cut_byte

    def _add(self, part: str, byte: int, text: str) -> None:
        self.points[part][0].append(byte)
        self.points[part][1].append(self.counts[part])
        std = text.lower() if self.lower else text
        if self.level == "char":
            self.counts[part] += len(std)
        else:
            words = tokenize_words(std)
            self.counts[part] += len(words)
            if part == "train":  # words come from the training part only, as in memory
                self.word_counts.update(words)

    def vocabulary(self, max_tokens: int | None) -> Vocab:
        """The vocabulary of the scanned text (after :meth:`read`)."""
        if self.level != "char":
            return WordVocabulary.from_counts(
                self.word_counts, max_tokens=max_tokens, lower=self.lower
            )
        vocab = CharVocabulary(sorted(self.charset), lower=self.lower)
        if self.split is not None and self.lower:
            # Lower-casing the two parts apart can give a character that lower-casing the
            # whole text does not (a Greek final sigma just before the boundary); the
            # in-memory path drops it when encoding, so the counts must too.
            for part, half in zip(PARTS, self.split, strict=True):
                dropped = len(half.lower()) - len(vocab.encode(half, errors="ignore"))
                self.counts[part] -= dropped
                if part == "val":
                    tokens = self.points["val"][1]
                    for i in range(1, len(tokens)):
                        tokens[i] -= dropped
        return vocab
