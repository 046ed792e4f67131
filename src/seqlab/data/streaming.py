"""Corpora larger than memory: labelled texts read from a file a window of lines at a time.

A :class:`TextStream` names a file (plain text, one document per line; JSON lines; or TSV,
``.gz`` allowed) and never holds more than one shuffle ``window`` of lines (default 10,000)
plus one batch. Everything about an epoch is a function of ``(seed, epoch)`` and the line
numbers, never of the number of processes:

* validation lines: line ``i`` of window ``k`` (``k = i // window``) is held out when a draw
  of ``rng(seed, k)`` is below ``val_split`` (the same lines every epoch);
* epoch order: each window's training lines are permuted by ``rng(seed, epoch, k)``, and
  the permuted windows are read one after another;
* global batches: consecutive ``batch_size`` positions of that order;
* sharding: of global batch ``b``, rank ``r`` of ``W`` takes the positions ``j`` with
  ``j % W == r`` (as :func:`seqlab.training.distributed.shard_rows` does in memory), and
  DataLoader worker ``w`` of ``n`` produces the batches with ``b % n == w``. A DataLoader
  takes the workers' outputs in turn, so the batches arrive in the same order whatever the
  number of workers::

      positions   0 1 2 3 | 4 5 6 7 | 8 9        batch_size 4, 2 ranks, 2 workers
      batch       0       | 1       | 2
      rank 0      0   2   | 4   6   | 8          worker 0: batches 0, 2
      rank 1        1   3 |   5   7 |   9        worker 1: batch 1

  Every rank gets the same number of batches (a rank with no row left in the last batch
  gets an empty one), so the ranks of a DDP job stay in step.

Restarting: the trainer restarts a stream at an epoch boundary (its checkpoints are taken
after each epoch, and epoch ``k``'s order is rebuilt from ``(seed, k)``); ``start_batch``
skips the first batches of an epoch to restart inside one (they are read, not parsed).

:func:`fit_vocabulary` fits a :class:`seqlab.text.TextVectorizer` in one pass over any
iterable of texts (a TextStream included) holding only the term counts, with exactly the
vocabulary that ``TextVectorizer.fit`` gives on the same texts.
"""

from __future__ import annotations

import gzip
import io
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from seqlab._checks import check_choice
from seqlab._utils import PathLike

__all__ = ["FORMATS", "StreamBatch", "StreamReader", "TextStream", "fit_vocabulary"]

FORMATS = ("text", "jsonl", "tsv")
PARTS = ("train", "val", "all")
_SUFFIXES = {".txt": "text", ".jsonl": "jsonl", ".ndjson": "jsonl", ".tsv": "tsv", ".tab": "tsv"}


@dataclass
class StreamBatch:
    """One rank's share of one global batch: ``texts`` and ``labels`` (label ids, or -1
    without labels), ``index`` (0-based line numbers), ``batch`` (the global batch number),
    ``size`` (rows in the global batch, all ranks together) and ``filler`` (the batch's
    first text and label, which a rank left with fewer rows pads its share with, at zero
    weight, so that every rank runs the same computation)."""

    batch: int
    index: list[int]
    texts: list[str]
    labels: list[int]
    size: int
    filler: tuple[str, int] | None = None


@dataclass
class TextStream:
    """A corpus read lazily from ``path``, one window of lines in memory at a time.

    ``format``: ``"text"`` (a document per non-empty line, no labels), ``"jsonl"`` (an
    object per line with keys ``text_column`` and ``label_column``) or ``"tsv"`` (columns
    by header name, or 0-based numbers with ``header=False``; no quoting); None means "from
    the suffix" (``.txt``, ``.jsonl``, ``.tsv``, each optionally ``.gz``). CSV is refused
    (a quoted field may span lines, so a line is not a record): convert it to TSV or JSONL.

    ``label_names`` maps labels to ids; :func:`fit_vocabulary` fills it (sorted as
    ``seqlab.datasets.from_table`` sorts them) when it is None. ``num_workers`` DataLoader
    processes read and vectorize in parallel during training. ``peak_lines`` records the
    most lines a reader of this process held at once.

    >>> stream = TextStream("reviews.tsv", label_column="sentiment")  # doctest: +SKIP
    >>> vec = fit_vocabulary(TextVectorizer(max_tokens=20_000), stream)  # doctest: +SKIP
    >>> stream.label_names  # doctest: +SKIP
    ['neg', 'pos']
    """

    path: PathLike
    format: str | None = None
    text_column: str | int = "text"
    label_column: str | int | None = "label"
    header: bool = True
    encoding: str = "utf-8"
    window: int = 10_000
    label_names: list[str] | None = None
    num_workers: int = 0
    peak_lines: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path).expanduser()
        if not self.path.is_file():
            raise FileNotFoundError(f"path={str(self.path)!r}: no such file to stream from")
        if self.format is None:
            suffixes = [s.lower() for s in self.path.suffixes]
            if suffixes and suffixes[-1] == ".gz":
                suffixes = suffixes[:-1]
            self.format = _SUFFIXES.get(suffixes[-1]) if suffixes else None
            if self.format is None:
                hint = " (CSV cannot be streamed: convert it to TSV or JSONL)"
                raise ValueError(
                    f"cannot tell the stream format of {self.path.name!r} from its suffix; "
                    f"pass format='text', 'jsonl' or 'tsv'" + (hint if ".csv" in suffixes else "")
                )
        csv = "convert CSV to TSV or JSONL first" if self.format == "csv" else None
        check_choice("format", self.format, FORMATS, fix=csv)
        if self.format == "text":
            self.label_column = None
        if isinstance(self.window, bool) or not isinstance(self.window, int) or self.window < 1:
            raise ValueError(f"window must be an int >= 1 (lines), got {self.window!r}")
        if not isinstance(self.num_workers, int) or self.num_workers < 0:
            raise ValueError(f"num_workers must be an int >= 0, got {self.num_workers!r}")
        if self.label_names is not None:
            self.label_names = [str(x) for x in self.label_names]

    @property
    def labelled(self) -> bool:
        """True when the records carry labels (JSONL / TSV with a label column)."""
        return self.label_column is not None

    # ------------------------------------------------------------------ raw lines

    def _open(self) -> io.TextIOBase:
        assert isinstance(self.path, Path)
        if self.path.suffix.lower() == ".gz":
            return gzip.open(self.path, "rt", encoding=self.encoding, newline="")  # type: ignore[return-value]
        return open(self.path, encoding=self.encoding, newline="")

    def _lines(self) -> Iterator[str]:
        """The data lines (header and blank lines skipped), newline removed."""
        with self._open() as f:
            first = True
            for line in f:
                line = line.rstrip("\r\n")
                if first and self.format == "tsv" and self.header:
                    first = False
                    self._header = line.split("\t")
                    continue
                first = False
                if line.strip():
                    yield line

    def _columns(self) -> tuple[int, int | None]:
        header = getattr(self, "_header", None)

        def position(col: str | int) -> int:
            if isinstance(col, int):
                return col
            if header is None:
                raise ValueError(
                    f"column {col!r} is a name but header=False; give column numbers "
                    "(0 = first) or use header=True"
                )
            if col not in header:
                raise ValueError(f"{self.path}: no column {col!r}; the header has {header}")
            return header.index(col)

        text = position(self.text_column)
        label = None if self.label_column is None else position(self.label_column)
        return text, label

    def parse(self, line: str, number: int) -> tuple[str, str | None]:
        """``(text, label as a string or None)`` of one data line (``number`` for errors)."""
        if self.format == "text":
            return line, None
        if self.format == "jsonl":
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(
                    f"{self.path}, data line {number}: not valid JSON ({exc.msg})"
                ) from None
            if not isinstance(row, dict):
                raise ValueError(f"{self.path}, data line {number}: expected a JSON object")
            cols = [self.text_column] + ([self.label_column] if self.labelled else [])
            for col in cols:
                if col not in row:
                    raise ValueError(
                        f"{self.path}, data line {number}: no key {col!r}; keys are {sorted(row)}"
                    )
            text, label = row[self.text_column], row.get(self.label_column)  # type: ignore[arg-type]
        else:
            fields = line.split("\t")
            t, lab = self._columns()
            need = max(t, lab if lab is not None else 0)
            if need >= len(fields):
                raise ValueError(
                    f"{self.path}, data line {number}: {len(fields)} fields, but column "
                    f"{need} was asked for"
                )
            text, label = fields[t], None if lab is None else fields[lab]
        if not isinstance(text, str):
            raise ValueError(f"{self.path}, data line {number}: the text is {text!r}, not a string")
        if label is not None and not isinstance(label, str):
            label = json.dumps(label)
        return text, label

    def records(self) -> Iterator[tuple[int, str, str | None]]:
        """Every ``(line number, text, label)`` of the file in order: one pass, one line in
        memory at a time."""
        for number, line in enumerate(self._lines()):
            text, label = self.parse(line, number)
            yield number, text, label

    def texts(self) -> Iterator[str]:
        """Every text of the file in order (see :meth:`records`)."""
        for _, text, _ in self.records():
            yield text

    def label_id(self, label: str | None, number: int) -> int:
        """The id of ``label`` in :attr:`label_names` (-1 for an unlabelled stream)."""
        if label is None:
            return -1
        if self.label_names is None:
            raise ValueError(
                "the stream's label_names are not known yet; pass label_names= or run "
                "fit_vocabulary(vectorizer, stream) first (it collects them)"
            )
        if not hasattr(self, "_label_index") or self._label_index[0] is not self.label_names:
            self._label_index = (self.label_names, {c: i for i, c in enumerate(self.label_names)})
        index = self._label_index[1]
        if label not in index:
            raise ValueError(
                f"{self.path}, data line {number}: label {label!r} is not in "
                f"label_names={self.label_names}"
            )
        return index[label]

    # ------------------------------------------------------------------ epochs

    def batches(
        self,
        batch_size: int,
        *,
        seed: int = 0,
        epoch: int = 0,
        part: str = "train",
        val_split: float = 0.0,
        shuffle: bool = True,
        rank: int = 0,
        world_size: int = 1,
        worker: int = 0,
        num_workers: int = 1,
        start_batch: int = 0,
    ) -> Iterator[StreamBatch]:
        """This reader's share of the epoch's global batches, in order (module docstring).

        ``part`` is ``"train"`` (lines not held out), ``"val"`` (held-out lines) or
        ``"all"``; ``val_split`` is the held-out fraction; only ``"train"`` is shuffled, and
        only with ``shuffle``. ``rank`` / ``world_size`` and ``worker`` / ``num_workers``
        select the shard; ``start_batch`` skips the first global batches.

        >>> stream = TextStream("corpus.txt")  # doctest: +SKIP
        >>> [b.index for b in stream.batches(2, shuffle=False, rank=1, world_size=2)]  # doctest: +SKIP
        [[1], [3], [5]]
        """
        _check_shard(batch_size, part, val_split, rank, world_size, worker, num_workers)
        peak = 0
        position = 0  # position of the next selected line in the epoch order
        current = StreamBatch(0, [], [], [], 0)
        window: list[str] = []
        start = 0  # line number of window[0]
        lines = self._lines()
        while True:
            window.clear()
            for line in lines:
                window.append(line)
                if len(window) == self.window:
                    break
            if not window:
                break
            k = start // self.window
            chosen = np.arange(len(window))
            if val_split > 0 and part != "all":
                held = _window_rng(seed, (2, k)).random(len(window)) < val_split
                chosen = chosen[held] if part == "val" else chosen[~held]
            if part == "train" and shuffle:
                chosen = chosen[_window_rng(seed, (3, epoch, k)).permutation(len(chosen))]
            for offset in chosen.tolist():
                b, j = divmod(position, batch_size)
                if b != current.batch:
                    if current.batch % num_workers == worker and current.batch >= start_batch:
                        yield current
                    current = StreamBatch(b, [], [], [], 0)
                current.size += 1
                position += 1
                if j == 0 and b % num_workers == worker and b >= start_batch:
                    text, label = self.parse(window[offset], start + offset)
                    current.filler = (text, self.label_id(label, start + offset))
                if j % world_size != rank or b % num_workers != worker or b < start_batch:
                    continue
                number = start + offset
                text, label = self.parse(window[offset], number)
                current.index.append(number)
                current.texts.append(text)
                current.labels.append(self.label_id(label, number))
            peak = max(peak, len(window) + len(current.texts))
            self.peak_lines = max(self.peak_lines, peak)
            start += len(window)
        if position and current.batch % num_workers == worker and current.batch >= start_batch:
            yield current

    def reader(
        self,
        batch_size: int,
        transform: Callable[[StreamBatch], Any] | None = None,
        **kwargs: Any,
    ) -> StreamReader:
        """A :class:`StreamReader` (an IterableDataset) over :meth:`batches` for a DataLoader.

        >>> loader = DataLoader(stream.reader(32, epoch=3), batch_size=None)  # doctest: +SKIP
        """
        return StreamReader(self, batch_size, transform, kwargs)


def _window_rng(seed: int, key: tuple[int, ...]) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=key))


def _check_shard(
    batch_size: int,
    part: str,
    val_split: float,
    rank: int,
    world_size: int,
    worker: int,
    num_workers: int,
) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    check_choice("part", part, PARTS)
    if not 0.0 <= val_split < 1.0:
        raise ValueError(f"val_split must be in [0, 1), got {val_split!r}")
    if not 0 <= rank < world_size:
        raise ValueError(f"rank must be in 0..{world_size - 1}, got {rank!r}")
    if not 0 <= worker < num_workers:
        raise ValueError(f"worker must be in 0..{num_workers - 1}, got {worker!r}")


try:  # the reader is a torch IterableDataset when torch is there (it always is for training)
    from torch.utils.data import IterableDataset, get_worker_info
except ImportError:  # pragma: no cover - torch is a dependency
    IterableDataset = object  # type: ignore[assignment,misc]
    get_worker_info = None  # type: ignore[assignment]


class StreamReader(IterableDataset):  # type: ignore[misc]
    """An IterableDataset that yields ``transform(batch)`` for each of this rank's
    :class:`StreamBatch` es (the batch itself without ``transform``); inside a DataLoader
    with ``num_workers=n`` each worker reads its own batches (``b % n``), and the
    DataLoader's turn-taking puts them back in order. Use it with ``batch_size=None``.

    >>> from torch.utils.data import DataLoader
    >>> reader = TextStream("corpus.txt").reader(32, shuffle=False)  # doctest: +SKIP
    >>> sum(len(b.texts) for b in DataLoader(reader, batch_size=None, num_workers=2))  # doctest: +SKIP
    """

    def __init__(
        self,
        stream: TextStream,
        batch_size: int,
        transform: Callable[[StreamBatch], Any] | None,
        options: dict[str, Any],
    ) -> None:
        self.stream = stream
        self.batch_size = batch_size
        self.transform = transform
        self.options = dict(options)

    def __iter__(self) -> Iterator[Any]:
        info = get_worker_info() if get_worker_info is not None else None
        worker, num_workers = (0, 1) if info is None else (info.id, info.num_workers)
        for batch in self.stream.batches(
            self.batch_size, worker=worker, num_workers=num_workers, **self.options
        ):
            yield batch if self.transform is None else self.transform(batch)


# --------------------------------------------------------------------------- vocabulary


def fit_vocabulary(vectorizer: Any, docs: Iterable[str] | TextStream) -> Any:
    """Fit ``vectorizer`` (a :class:`seqlab.text.TextVectorizer`) in one pass over ``docs``,
    holding only the term counts (and document frequencies for ``tf_idf``) in memory;
    returns the vectorizer. The vocabulary (terms, order, ``max_tokens``, ``min_count``)
    and ``idf_`` are those of ``vectorizer.fit(list(docs))``.

    With a :class:`TextStream` its labels are collected in the same pass and
    ``stream.label_names`` is set when it was None (sorted; as numbers when all are
    integers, as ``seqlab.datasets.from_table`` does).

    >>> from seqlab.text import TextVectorizer
    >>> fit_vocabulary(TextVectorizer(), iter(["b a a", "c"])).vocabulary_.itos
    ['', '[UNK]', 'a', 'b', 'c']
    """
    if isinstance(docs, str | bytes):
        raise TypeError("docs must be an iterable of documents, got a single str; wrap it: [text]")
    vectorizer._check_params()
    labels: set[str] = set()
    if isinstance(docs, TextStream):
        stream = docs

        def texts() -> Iterator[str]:
            for _, text, label in stream.records():
                if label is not None:
                    labels.add(label)
                yield text

        source: Iterable[str] = texts()
    else:
        stream, source = None, docs
    # Counter keeps keys in first-insertion order: the order of first occurrence in the
    # token stream, TextVectorizer's tie-break.
    counts: Counter[str] = Counter()
    df: Counter[str] | None = Counter() if vectorizer.output_mode == "tf_idf" else None
    num_documents = 0
    for i, doc in enumerate(source):
        if not isinstance(doc, str):
            raise TypeError(
                f"documents must be str, got {type(doc).__name__} at position {i}; "
                "pass texts (decode bytes first)"
            )
        tokens = vectorizer.tokenize(doc)
        counts.update(tokens)
        if df is not None:
            df.update(set(tokens))
        num_documents += 1
    vectorizer.fit_counts(counts, num_documents, df)
    if stream is not None and stream.label_names is None and labels:
        if all(re.fullmatch(r"-?\d+", s) for s in labels):
            stream.label_names = sorted(labels, key=int)
        else:
            stream.label_names = sorted(labels)
    return vectorizer
