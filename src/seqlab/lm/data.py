"""Language-model data: vocabularies for characters and words, the held-out split, the
lecture's window builder, and contiguous batches for truncated backpropagation through time.

Two ways to turn a corpus into training examples:

* :func:`build_windows` (the lecture's Keras example): windows of ``maxlen`` tokens taken
  every ``step`` tokens, each labelled with the one token that follows it;
* :func:`batchify` + :func:`get_chunk` (the default): the corpus cut into ``batch_size``
  contiguous streams read ``seq_len`` tokens at a time, every position predicting its
  successor, the recurrent state carried from one chunk to the next.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import repeat
from typing import Any

import numpy as np

from seqlab._checks import check_choice
from seqlab._utils import PathLike
from seqlab.text.tokenize import LM_WORD_PATTERN
from seqlab.text.vocab import OOV, OOV_ID, PAD, PAD_ID, Vocabulary

__all__ = [
    "LEVELS",
    "CharVocabulary",
    "Vocab",
    "WordVocabulary",
    "batchify",
    "build_vocabulary",
    "build_windows",
    "chunk_starts",
    "detokenize_words",
    "get_chunk",
    "load_corpus",
    "split_text",
    "tokenize_words",
    "vocabulary_from_dict",
]

LEVELS = ("char", "word")


# --------------------------------------------------------------------------- corpora


def load_corpus(name_or_path: PathLike, data_dir: PathLike | None = None) -> str:
    """The text of a bundled corpus (``"nietzsche"``, ``"tinyshakespeare"``), of a corpus
    built from a dataset (``"imdb"``: the training and unlabelled reviews, one per line, read
    from ``data_dir`` or ``$SEQLAB_DATA``; see :func:`seqlab.data.imdb_corpus.imdb_corpus`)
    or of a file.

    >>> load_corpus("nietzsche")[:7]
    'PREFACE'
    """
    from seqlab.data.datasets import corpus

    return corpus(name_or_path, data_dir=data_dir)


def split_text(text: str, val_fraction: float = 0.1) -> tuple[str, str]:
    """Cut ``text`` into (train, validation): the last ``val_fraction`` is held out, unshuffled,
    so the validation text is unseen prose rather than windows overlapping the training ones.

    >>> split_text("abcdefghij", 0.2)
    ('abcdefgh', 'ij')
    """
    if not 0.0 <= float(val_fraction) < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction!r}")
    cut = len(text) - int(round(len(text) * float(val_fraction)))
    return text[:cut], text[cut:]


# --------------------------------------------------------------------------- vocabularies


class CharVocabulary:
    """Characters <-> ids, one id per distinct character, in sorted order (as the lecture's
    ``chars = sorted(set(text))``). There is no padding or unknown id: a character that was
    not in the corpus cannot be encoded (``errors="strict"`` raises, ``"ignore"`` drops it).

    ``lower=True`` lower-cases every text before encoding (the lecture does ``text.lower()``).

    >>> v = CharVocabulary.fit("hello")
    >>> v.itos, v.encode("hole").tolist(), v.decode([2, 0])
    (['e', 'h', 'l', 'o'], [1, 3, 2, 0], 'le')
    """

    level = "char"

    def __init__(self, chars: Iterable[str], lower: bool = False) -> None:
        itos = list(chars)
        if len(itos) != len(set(itos)) or any(len(c) != 1 for c in itos):
            raise ValueError("chars must be distinct single characters")
        if len(itos) < 2:
            raise ValueError(
                f"a character vocabulary needs at least 2 characters, got {itos!r}; "
                "the corpus is too small"
            )
        self.itos: list[str] = itos
        self.stoi: dict[str, int] = {c: i for i, c in enumerate(itos)}
        self.lower = bool(lower)

    @classmethod
    def fit(cls, text: str, lower: bool = False) -> CharVocabulary:
        """The vocabulary of the distinct characters of ``text`` (after lower-casing)."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        return cls(sorted(set(text.lower() if lower else text)), lower=lower)

    def __len__(self) -> int:
        return len(self.itos)

    @property
    def special_ids(self) -> list[int]:
        """Ids never to generate (none for characters)."""
        return []

    def standardize(self, text: str) -> str:
        """The text as the model sees it (lower-cased when ``lower``)."""
        return text.lower() if self.lower else text

    def tokenize(self, text: str) -> list[str]:
        """The characters of the standardised text."""
        return list(self.standardize(text))

    def encode(self, text: str, errors: str = "strict") -> np.ndarray:
        """Text -> int64 ids. ``errors="strict"`` refuses unknown characters (listing them),
        ``"ignore"`` drops them."""
        text = self.standardize(text)
        check_choice("errors", errors, ("strict", "ignore"))
        unknown = set(text) - self.stoi.keys()
        if unknown:
            if errors == "strict":
                shown = "".join(sorted(unknown))[:40]
                raise ValueError(
                    f"{len(unknown)} character(s) are not in the vocabulary: {shown!r}; "
                    "remove them, or pass errors='ignore' to drop them"
                )
            text = "".join(c for c in text if c in self.stoi)
        stoi = self.stoi
        return np.fromiter((stoi[c] for c in text), dtype=np.int64, count=len(text))

    def decode(self, ids: Iterable[int]) -> str:
        """Ids -> text."""
        return "".join(self.itos[int(i)] for i in ids)

    def piece(self, previous: int | None, token: int) -> str:
        """The text that ``token`` adds after ``previous`` (for streaming)."""
        return self.itos[int(token)]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able description; :meth:`from_dict` rebuilds the vocabulary."""
        return {"level": "char", "lower": self.lower, "itos": list(self.itos)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CharVocabulary:
        """Rebuild from :meth:`to_dict` output."""
        return cls(d["itos"], lower=bool(d.get("lower", False)))


# Words, numbers and contractions stay whole; every other non-space character and every
# newline is a token of its own, so punctuation and line breaks come back in generated text.
_WORD_RE = re.compile(LM_WORD_PATTERN)
_NO_SPACE_BEFORE = set(".,;:!?)]}%\n") | {"'s", "n't"}
_NO_SPACE_AFTER = set("([{\n")


def tokenize_words(text: str) -> list[str]:
    """Split text into word-level LM tokens: words (with inner apostrophes), single
    punctuation characters and newlines.

    >>> tokenize_words("Don't stop, Mr. Smith!\\nOk")
    ["Don't", 'stop', ',', 'Mr', '.', 'Smith', '!', '\\n', 'Ok']
    """
    return _WORD_RE.findall(text)


# Long texts are tokenized a piece of about this many characters at a time (see _pieces).
_PIECE_CHARS = 1 << 20
_BREAK = re.compile(r"[ \n]")


def _pieces(text: str, size: int = _PIECE_CHARS) -> Iterator[str]:
    """``text`` in consecutive pieces of about ``size`` characters, each ending just after
    a space or a newline (or at the end of the text). No token of :func:`tokenize_words`
    spans a space, and lower-casing stops at white space, so the tokens of the pieces are
    the tokens of the whole text; a 100 MB corpus is then never held as one list of
    strings (as :mod:`seqlab.lm.stream` reads a file piece by piece).

    >>> list(_pieces("ab cd ef", size=4))
    ['ab ', 'cd ', 'ef']
    """
    start, n = 0, len(text)
    while start < n:
        end = start + size
        if end >= n:
            yield text[start:]
            return
        cut = max(text.rfind(" ", start, end), text.rfind("\n", start, end))
        if cut < start:  # no break in this stretch: the piece runs to the next one
            found = _BREAK.search(text, end)
            cut = n - 1 if found is None else found.start()
        yield text[start : cut + 1]
        start = cut + 1


def _join(previous: str | None, token: str) -> str:
    if previous is None or token in _NO_SPACE_BEFORE or previous in _NO_SPACE_AFTER:
        return token
    return " " + token


def detokenize_words(tokens: Sequence[str]) -> str:
    """Join word tokens back into text: a space between tokens except before closing
    punctuation and around newlines and opening brackets (a heuristic; quotes get spaces).

    >>> detokenize_words(["Don't", "stop", ",", "Mr", ".", "Smith", "!", "\\n", "Ok"])
    "Don't stop, Mr. Smith!\\nOk"
    """
    out: list[str] = []
    previous: str | None = None
    for tok in tokens:
        out.append(_join(previous, tok))
        previous = tok
    return "".join(out)


class WordVocabulary:
    """Words <-> ids for a word-level language model: a :class:`seqlab.text.Vocabulary`
    (Keras' conventions: id 0 is padding ``""``, id 1 is the out-of-vocabulary token
    ``"[UNK]"``, then the words by decreasing count, ties by first occurrence) plus the LM
    tokenizer (:func:`tokenize_words`, which keeps punctuation and newlines) and lower-casing.

    ``max_tokens`` counts the two special ids, as Keras' ``TextVectorization`` does, so the
    ``max_tokens - 2`` most frequent words are kept and the rest become ``[UNK]`` — which the
    model then learns to predict like any word.

    >>> v = WordVocabulary.fit("the cat and the dog and the end", max_tokens=4)
    >>> v.itos
    ['', '[UNK]', 'the', 'and']
    >>> v.encode("the bird and").tolist(), v.decode([2, 1])
    ([2, 1, 3], 'the [UNK]')
    """

    level = "word"
    PAD = PAD
    UNK = OOV

    def __init__(self, itos: Iterable[str], lower: bool = True) -> None:
        itos = list(itos)
        if itos[:2] != [PAD, OOV]:
            raise ValueError(f"itos must start with {[PAD, OOV]!r}, got {itos[:2]!r}")
        self.table = Vocabulary(itos[2:])
        self.lower = bool(lower)

    @classmethod
    def fit(cls, text: str, max_tokens: int | None = 10_000, lower: bool = True) -> WordVocabulary:
        """Count the tokens of ``text`` and keep the ``max_tokens - 2`` most frequent."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        counts: Counter[str] = Counter()
        for piece in _pieces(text):  # one piece's tokens at a time (a corpus may be large)
            counts.update(tokenize_words(piece.lower() if lower else piece))
        return cls.from_counts(counts, max_tokens=max_tokens, lower=lower)

    @classmethod
    def from_counts(
        cls, counts: Mapping[str, int], max_tokens: int | None = 10_000, lower: bool = True
    ) -> WordVocabulary:
        """The vocabulary of token ``counts`` (a mapping in first-occurrence order, as a
        ``Counter`` updated token by token keeps it): what :meth:`fit` gives on the text they
        were counted from, so a corpus can be counted in pieces (:mod:`seqlab.lm.stream`).

        >>> WordVocabulary.from_counts({"b": 1, "a": 2, "c": 1}, max_tokens=4).itos
        ['', '[UNK]', 'a', 'b']
        """
        table = Vocabulary.from_counts(counts, max_tokens=max_tokens, num_documents=1)
        return cls(table.itos, lower=lower)

    @property
    def itos(self) -> list[str]:
        """Id -> token."""
        return self.table.itos

    @property
    def stoi(self) -> dict[str, int]:
        """Token -> id."""
        return self.table.stoi

    def __len__(self) -> int:
        return len(self.table)

    @property
    def special_ids(self) -> list[int]:
        """Ids never to generate: padding (never a training target)."""
        return [PAD_ID]

    def standardize(self, text: str) -> str:
        """The text as the model sees it (lower-cased when ``lower``)."""
        return text.lower() if self.lower else text

    def tokenize(self, text: str) -> list[str]:
        """The word tokens of the standardised text."""
        return tokenize_words(self.standardize(text))

    def encode(self, text: str, errors: str = "strict") -> np.ndarray:
        """Text -> int64 ids; unknown words become 1 (``[UNK]``). ``errors`` is accepted for
        symmetry with :class:`CharVocabulary` and has no effect. A long text is encoded a
        piece at a time (its tokens are never all held as strings at once)."""
        get = self.table.stoi.get
        parts = []
        for piece in _pieces(text):
            tokens = self.tokenize(piece)
            parts.append(np.fromiter(map(get, tokens, repeat(OOV_ID)), np.int64, len(tokens)))
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def decode(self, ids: Iterable[int]) -> str:
        """Ids -> text (see :func:`detokenize_words`)."""
        return detokenize_words(self.table.decode(ids))

    def piece(self, previous: int | None, token: int) -> str:
        """The text that ``token`` adds after ``previous`` (for streaming)."""
        prev = None if previous is None else self.itos[int(previous)]
        return _join(prev, self.itos[int(token)])

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able description (the :class:`seqlab.text.Vocabulary` dict plus ``level``
        and ``lower``); :meth:`from_dict` rebuilds the vocabulary."""
        return {"level": "word", "lower": self.lower, **self.table.to_dict()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> WordVocabulary:
        """Rebuild from :meth:`to_dict` output."""
        return cls(Vocabulary.from_dict(d).itos, lower=bool(d.get("lower", True)))


Vocab = CharVocabulary | WordVocabulary


def build_vocabulary(
    text: str, level: str = "char", lower: bool = False, max_tokens: int | None = 10_000
) -> Vocab:
    """A character or word vocabulary fitted on ``text``.

    >>> len(build_vocabulary("abcab")), len(build_vocabulary("a b a", level="word"))
    (3, 4)
    """
    if check_choice("level", level, LEVELS) == "char":
        return CharVocabulary.fit(text, lower=lower)
    return WordVocabulary.fit(text, max_tokens=max_tokens, lower=lower)


def vocabulary_from_dict(d: dict[str, Any]) -> Vocab:
    """Rebuild a vocabulary saved with ``to_dict()`` (dispatching on ``d["level"]``)."""
    level = d.get("level")
    if level == "char":
        return CharVocabulary.from_dict(d)
    if level == "word":
        return WordVocabulary.from_dict(d)
    raise ValueError(f"vocab.json has level={level!r}; expected 'char' or 'word'")


# --------------------------------------------------------------------------- examples


def build_windows(seq: Sequence[Any] | np.ndarray | str, maxlen: int, step: int):
    """The lecture's training examples: windows of ``maxlen`` items starting every ``step``
    items, each with the one item that follows it, exactly as the Keras example builds
    them::

        for i in range(0, len(text) - maxlen, step):
            sentences.append(text[i : i + maxlen]); next_chars.append(text[i + maxlen])

    A ``str`` gives ``(list of window strings, list of next characters)``; an array of ids
    gives ``(x, y)`` with ``x`` a read-only (N, maxlen) view of the input (no copy, so a
    whole corpus fits) and ``y`` (N,).

    >>> build_windows("abcdefgh", maxlen=3, step=2)
    (['abc', 'cde', 'efg'], ['d', 'f', 'h'])
    >>> x, y = build_windows(np.arange(8), maxlen=3, step=2)
    >>> x.tolist(), y.tolist()
    ([[0, 1, 2], [2, 3, 4], [4, 5, 6]], [3, 5, 7])
    """
    if int(maxlen) < 1 or int(step) < 1:
        raise ValueError(f"maxlen and step must be >= 1, got maxlen={maxlen!r}, step={step!r}")
    maxlen, step = int(maxlen), int(step)
    if isinstance(seq, str):
        starts = range(0, len(seq) - maxlen, step)
        return [seq[i : i + maxlen] for i in starts], [seq[i + maxlen] for i in starts]
    ids = np.asarray(seq)
    n = len(range(0, len(ids) - maxlen, step))
    if n == 0:
        raise ValueError(
            f"a sequence of {len(ids)} tokens gives no window of maxlen={maxlen} plus a target; "
            "use a longer text or a smaller maxlen"
        )
    x = np.lib.stride_tricks.sliding_window_view(ids, maxlen)[: n * step : step]
    y = ids[maxlen : maxlen + n * step : step]
    return x, y


def batchify(ids: np.ndarray | Sequence[int], batch_size: int) -> np.ndarray:
    """Cut a token stream into ``batch_size`` contiguous rows (the tail that does not fill a
    row is dropped), for truncated backpropagation through time.

    The 26 tokens ``a .. z`` with ``batch_size=4`` become 4 rows of 6 (``y z`` dropped)::

        row 0:  a b c | d e f        each row is its own stream of text; a training chunk
        row 1:  g h i | j k l        is a column slice (here seq_len=3: "|"), and row r of
        row 2:  m n o | p q r        chunk k continues row r of chunk k-1, so the hidden
        row 3:  s t u | v w x        state of row r is carried over (then detached)

    The targets of a chunk are the same slice shifted by one column (:func:`get_chunk`).

    >>> batchify(np.arange(10), 3).tolist()
    [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    """
    ids = np.asarray(ids, dtype=np.int64)
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
    width = len(ids) // int(batch_size)
    if width < 2:
        raise ValueError(
            f"{len(ids)} tokens cannot fill {batch_size} rows of at least 2 tokens; "
            "use a smaller batch_size or a longer text"
        )
    return ids[: width * int(batch_size)].reshape(int(batch_size), width)


def get_chunk(data: np.ndarray, start: int, seq_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs ``data[:, start : start + L]`` and targets one column later, where
    ``L = min(seq_len, width - 1 - start)`` (the last chunk may be shorter).

    >>> x, y = get_chunk(batchify(np.arange(10), 2), 3, 2)
    >>> x.tolist(), y.tolist()
    ([[3], [8]], [[4], [9]])
    """
    length = min(int(seq_len), data.shape[1] - 1 - int(start))
    if length < 1:
        raise ValueError(f"start={start} leaves no target in rows of width {data.shape[1]}")
    return data[:, start : start + length], data[:, start + 1 : start + 1 + length]


def chunk_starts(width: int, seq_len: int) -> list[int]:
    """Start columns of the chunks of a batchified array of ``width`` columns.

    >>> chunk_starts(10, 4)
    [0, 4, 8]
    """
    return list(range(0, int(width) - 1, int(seq_len)))
