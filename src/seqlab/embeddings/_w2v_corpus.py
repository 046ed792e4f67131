"""What :class:`~seqlab.embeddings.word2vec.Word2Vec` reads: a restartable stream of token
lists (a path, a list, or a re-iterable; a one-shot generator is refused), cut into chunks
of about ``batch_words`` words as arrays of vocabulary ids."""

from __future__ import annotations

import os
import re
import string
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import GeneratorType
from typing import Any

import numpy as np

_PUNCT_TABLE = str.maketrans("", "", string.punctuation)
_TAG = re.compile(r"<[^>]{0,40}>")


def keras_standardize(text: str) -> list[str]:
    """Keras ``lower_and_strip_punctuation`` then a whitespace split, with HTML tags such as
    IMDB's ``<br />`` replaced by a space first (Keras would glue ``film.<br />The`` into
    ``filmbr brthe``).

    >>> keras_standardize("It's GREAT!<br />Really.")
    ['its', 'great', 'really']
    """
    if "<" in text:
        text = _TAG.sub(" ", text)
    return text.lower().translate(_PUNCT_TABLE).split()


class Corpus:
    """A restartable stream of token lists from a path, a list, or a re-iterable."""

    def __init__(self, corpus: Any, tokenizer: Callable[[str], list[str]]) -> None:
        self.tokenizer = tokenizer
        self.path: Path | None = None
        self.items: Any = None
        if isinstance(corpus, (str, os.PathLike)):
            path = Path(corpus).expanduser()
            if not path.is_file():
                raise FileNotFoundError(
                    f"corpus={os.fspath(corpus)!r} is not a file; pass a path to a text file "
                    "(one sentence or document per line) or a list of token lists / strings"
                )
            _check_text(path, os.fspath(corpus))
            self.path = path
            return
        texts = getattr(corpus, "texts", None)  # a seqlab TextDataset
        if texts is not None and not isinstance(corpus, (list, tuple)):
            corpus = texts
        if isinstance(corpus, GeneratorType) or (
            isinstance(corpus, Iterator) and iter(corpus) is corpus
        ):
            raise TypeError(
                "corpus is a one-shot iterator (e.g. a generator): Word2Vec reads the corpus "
                "once for the vocabulary and once per epoch, so it must start over each time. "
                "Pass a list, a file path, or an object whose __iter__ returns a new iterator"
            )
        if not isinstance(corpus, Iterable):
            raise TypeError(
                f"corpus must be a path or an iterable of token lists / strings, "
                f"got {type(corpus).__name__}"
            )
        self.items = corpus

    def __iter__(self) -> Iterator[list[str]]:
        tokenize = self.tokenizer
        if self.path is not None:
            with open(self.path, encoding="utf-8", errors="replace") as f:
                for line in f:
                    yield tokenize(line)
            return
        for item in self.items:
            if isinstance(item, str):
                yield tokenize(item)
            elif isinstance(item, (list, tuple)):
                yield item  # type: ignore[misc]
            else:
                raise TypeError(
                    "each corpus item must be a str (a document) or a list of tokens, "
                    f"got {type(item).__name__}: {item!r:.60}"
                )


def _check_text(path: Path, given: str, size: int = 1 << 16) -> None:
    """Refuse a file whose first ``size`` bytes are not UTF-8 text (a NUL byte, or bytes
    that do not decode): word2vec would otherwise learn from the noise of a binary file."""
    with open(path, "rb") as f:
        block = f.read(size)
    nul = block.find(b"\x00")
    if nul >= 0:
        raise ValueError(
            f"corpus={given!r} is not UTF-8 text (byte {nul} is NUL: a binary file?); pass a "
            "text file, one sentence or document per line"
        )
    try:
        block.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(block) - 3 or len(block) < size:  # not a character cut at the end
            raise ValueError(
                f"corpus={given!r} is not UTF-8 text (bytes {exc.start}-{exc.end}: "
                f"{exc.reason}); pass a text file, converted to UTF-8 first (e.g. iconv -f "
                "latin1 -t utf-8)"
            ) from None


@dataclass
class Chunk:
    ids: np.ndarray  # in-vocabulary word ids, in corpus order (int32: kept for later epochs)
    lengths: np.ndarray  # words per sentence (after dropping unknown words)
    raw_words: int  # all tokens, unknown ones included


def chunks(stream: Corpus, key_to_index: dict[str, int], batch_words: int) -> Iterator[Chunk]:
    """The corpus in chunks of at least ``batch_words`` tokens (whole sentences)."""
    get = key_to_index.get
    ids: list[int] = []
    lengths: list[int] = []
    raw = 0
    for tokens in stream:
        before = len(ids)
        ids.extend([i for i in map(get, tokens) if i is not None])
        lengths.append(len(ids) - before)
        raw += len(tokens)
        if raw >= batch_words:
            yield Chunk(np.array(ids, dtype=np.int32), np.array(lengths, np.int32), raw)
            ids, lengths, raw = [], [], 0
    if raw:
        yield Chunk(np.array(ids, dtype=np.int32), np.array(lengths, np.int32), raw)
