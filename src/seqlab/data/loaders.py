"""Labelled-text loaders: a folder (or archive) per class, CSV/TSV/JSONL tables, and the two
small real sets (bundled movie-review snippets, BBC News read in place)."""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from seqlab._utils import PathLike
from seqlab._utils import data_dir as _env_data_dir
from seqlab.data._tar import TarFormatError, iter_tar_files
from seqlab.data.base import TextDataset
from seqlab.data.corpora import bundled_bytes

__all__ = ["BBC_ARCHIVE", "SNIPPETS_FILE", "bbc", "from_folder", "from_table", "snippets"]

_ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz")
_TABLE_FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}


def _natural_key(name: str) -> list[Any]:
    # "2.txt" before "10.txt"
    return [(0, int(t)) if t.isdigit() else (1, t) for t in re.split(r"(\d+)", name)]


def _is_archive(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith(_ARCHIVE_SUFFIXES)


def _decode_doc(data: bytes, encoding: str, fallback: str | None, where: str) -> tuple[str, bool]:
    try:
        return data.decode(encoding), False
    except UnicodeDecodeError as exc:
        if fallback is not None:
            return data.decode(fallback, errors="replace"), True
        raise ValueError(
            f"{where}: bytes {exc.start}-{exc.end} are not valid {encoding} ({exc.reason}); "
            "pass encoding= (the files' real encoding) or fallback_encoding='cp1252'"
        ) from None


def _folder_docs(root: Path) -> Iterator[tuple[str, str, bytes]]:
    """``(class, file name, bytes)`` of a folder laid out as ``root/<class>/<document>``."""
    classes = sorted(
        (p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")),
        key=lambda p: p.name,
    )
    for cls in classes:
        for f in sorted(cls.iterdir(), key=lambda p: _natural_key(p.name)):
            if f.is_file() and not f.name.startswith("."):
                yield cls.name, f.name, f.read_bytes()


def _archive_docs(path: Path) -> Iterator[tuple[str, str, bytes]]:
    """``(class, file name, bytes)`` of an archive laid out as ``[prefix/]<class>/<document>``."""
    prefix: str | None = None
    items = []
    try:
        for name, data in iter_tar_files(path):
            parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
            if len(parts) < 2 or any(p.startswith(".") for p in parts):
                continue  # a file at the top level (README, licence) or hidden: not a document
            here = "/".join(parts[:-2])
            if prefix is None:
                prefix = here
            elif here != prefix:
                raise ValueError(
                    f"{path}: documents sit at different depths ({prefix!r}/<class>/ and "
                    f"{here!r}/<class>/); expected one folder per class under one parent"
                )
            items.append((parts[-2], parts[-1], data))
    except TarFormatError as exc:
        raise ValueError(f"{path} is corrupt or truncated ({exc}); get a fresh copy") from None
    items.sort(key=lambda t: (t[0], _natural_key(t[1])))
    yield from items


def from_folder(
    path: PathLike,
    *,
    encoding: str = "utf-8",
    fallback_encoding: str | None = None,
    suffixes: Sequence[str] | None = None,
    label_names: Sequence[str] | None = None,
    name: str | None = None,
) -> TextDataset:
    """A dataset from one folder per class, each file one document: ``path/<class>/<file>``.

    ``path`` may also be a ``.tar``/``.tar.gz`` archive with that layout (under any one
    parent folder), read in place. Classes are the sorted folder names, or ``label_names``
    (which also fixes their order); documents are sorted by name (numbers compared as
    numbers). Hidden files are skipped, and with ``suffixes`` only files ending in one of them
    are read. A file that is not valid ``encoding`` is an error naming it, unless
    ``fallback_encoding`` is given (the ids of such files go to ``meta["fallback_decoded"]``).
    ``ids`` are ``"<class>/<file name>"``.

    >>> ds = from_folder("reviews/")  # reviews/neg/1.txt, reviews/pos/2.txt, ...  # doctest: +SKIP
    >>> ds.label_names  # doctest: +SKIP
    ['neg', 'pos']
    """
    root = Path(path).expanduser()
    if not root.exists():
        raise FileNotFoundError(f"path={str(path)!r} does not exist")
    if root.is_dir():
        docs = _folder_docs(root)
    elif _is_archive(root):
        docs = _archive_docs(root)
    else:
        raise ValueError(
            f"path={str(path)!r} is neither a folder nor a .tar/.tar.gz archive; for a table "
            "use from_table, for one text file use corpus"
        )
    wanted = tuple(s.lower() for s in suffixes) if suffixes is not None else None
    texts: list[str] = []
    classes: list[str] = []
    ids: list[str] = []
    fallback: list[str] = []
    for cls, fname, data in docs:
        if wanted is not None and not fname.lower().endswith(wanted):
            continue
        if label_names is not None and cls not in label_names:
            continue
        doc_id = f"{cls}/{fname}"
        text, fell_back = _decode_doc(data, encoding, fallback_encoding, f"{root}: {doc_id}")
        texts.append(text)
        classes.append(cls)
        ids.append(doc_id)
        if fell_back:
            fallback.append(doc_id)
    found = sorted(set(classes))
    if label_names is None:
        label_names = found
    else:
        label_names = list(label_names)
        missing = [c for c in label_names if c not in found]
        if missing:
            raise ValueError(
                f"label_names={label_names!r}: no documents for {missing} in {root}; the "
                f"class folders with documents are {found}"
            )
    if not texts:
        raise ValueError(
            f"no documents found in {root}: expected one folder per class holding the "
            f"documents, e.g. {root}/pos/1.txt"
            + (f" (only files ending in {list(wanted)})" if wanted else "")
        )
    index = {c: i for i, c in enumerate(label_names)}
    return TextDataset(
        texts=texts,
        labels=np.asarray([index[c] for c in classes], dtype=np.int64),
        label_names=list(label_names),
        ids=ids,
        name=name or root.name,
        meta={"source": str(root.resolve()), "fallback_decoded": fallback},
    )


# --------------------------------------------------------------------------- tables


def _table_format(path: Path, format: str | None) -> str:
    if format is not None:
        if format not in ("csv", "tsv", "jsonl"):
            raise ValueError(f"format must be 'csv', 'tsv' or 'jsonl', got {format!r}")
        return format
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    fmt = _TABLE_FORMATS.get(suffixes[-1]) if suffixes else None
    if fmt is None:
        raise ValueError(
            f"cannot tell the table format of {path.name!r} from its suffix; pass "
            "format='csv', 'tsv' or 'jsonl'"
        )
    return fmt


def _open_text(path: Path, encoding: str) -> io.TextIOBase:
    if path.suffix.lower() == ".gz":
        return gzip.open(path, "rt", encoding=encoding, newline="")  # type: ignore[return-value]
    return open(path, encoding=encoding, newline="")


def _rows(
    path: Path,
    fmt: str,
    text_column: str | int,
    label_column: str | int,
    encoding: str,
    header: bool,
) -> Iterator[tuple[int, Any, Any]]:
    """Stream ``(line number, text, label)`` from a table, one row in memory at a time."""
    with _open_text(path, encoding) as f:
        if fmt == "jsonl":
            for number, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}, line {number}: not valid JSON ({exc.msg})") from None
                if not isinstance(row, dict):
                    raise ValueError(f"{path}, line {number}: expected a JSON object, got {line!r}")
                for col in (text_column, label_column):
                    if col not in row:
                        raise ValueError(
                            f"{path}, line {number}: no key {col!r}; keys are {sorted(row)}"
                        )
                yield number, row[text_column], row[label_column]
            return
        reader = csv.reader(
            f,
            delimiter="," if fmt == "csv" else "\t",
            # TSV files are rarely quoted and their texts often hold quote marks.
            quoting=csv.QUOTE_MINIMAL if fmt == "csv" else csv.QUOTE_NONE,
        )
        positions: list[int] = []
        end = 0
        for row in reader:
            # the line this record starts on (a quoted field may span several lines)
            number, end = end + 1, reader.line_num
            if not positions:
                columns = row if header else None
                for col in (text_column, label_column):
                    if isinstance(col, int):
                        positions.append(col)
                    elif columns is None:
                        raise ValueError(
                            f"column {col!r} is a name but header=False; give column numbers "
                            "(0 = first) or use header=True"
                        )
                    elif col not in columns:
                        raise ValueError(f"{path}: no column {col!r}; the header has {columns}")
                    else:
                        positions.append(columns.index(col))
                if header:
                    continue
            if not row:
                continue
            if max(positions) >= len(row):
                raise ValueError(
                    f"{path}, line {number}: {len(row)} fields, but column {max(positions)} "
                    "was asked for"
                )
            yield number, row[positions[0]], row[positions[1]]


def from_table(
    path: PathLike,
    text_column: str | int,
    label_column: str | int,
    format: str | None = None,
    *,
    label_names: Sequence[str] | None = None,
    encoding: str = "utf-8",
    header: bool = True,
    name: str | None = None,
) -> TextDataset:
    """A dataset from a CSV, TSV or JSON-lines table (``.gz`` too), read row by row.

    ``format`` is ``"csv"``, ``"tsv"`` or ``"jsonl"``; None means "from the suffix". Columns
    are header names (or 0-based numbers, e.g. with ``header=False``); in JSON lines they are
    keys. TSV is read without quote handling (a ``"`` is an ordinary character). Labels are
    turned into strings; ``label_names`` defaults to the distinct labels sorted (as numbers
    when they all are integers), and fixes the order when given. ``ids`` are the numbers of
    the lines the rows start on.

    >>> ds = from_table("reviews.csv", text_column="review", label_column="sentiment")  # doctest: +SKIP
    >>> ds.label_names  # doctest: +SKIP
    ['negative', 'positive']
    """
    file = Path(path).expanduser()
    if not file.is_file():
        raise FileNotFoundError(f"path={str(path)!r}: no such file")
    fmt = _table_format(file, format)
    texts: list[str] = []
    raw_labels: list[str] = []
    ids: list[str] = []
    try:
        for number, text, label in _rows(file, fmt, text_column, label_column, encoding, header):
            if not isinstance(text, str):
                raise ValueError(f"{file}, line {number}: the text is {text!r}, not a string")
            texts.append(text)
            raw_labels.append(label if isinstance(label, str) else json.dumps(label))
            ids.append(str(number))
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{file}: not valid {encoding} ({exc.reason}); pass encoding= (e.g. 'latin-1')"
        ) from None
    if not texts:
        raise ValueError(f"{file} has no data rows")
    if label_names is None:
        found = set(raw_labels)
        if all(re.fullmatch(r"-?\d+", s) for s in found):
            label_names = sorted(found, key=int)
        else:
            label_names = sorted(found)
    label_names = [str(s) for s in label_names]
    index = {c: i for i, c in enumerate(label_names)}
    labels = np.empty(len(raw_labels), dtype=np.int64)
    for i, lab in enumerate(raw_labels):
        if lab not in index:
            raise ValueError(
                f"{file}, line {ids[i]}: label {lab!r} is not in label_names={label_names}"
            )
        labels[i] = index[lab]
    return TextDataset(
        texts=texts,
        labels=labels,
        label_names=label_names,
        ids=ids,
        name=name or file.name.split(".")[0],
        meta={"source": str(file.resolve()), "format": fmt},
    )


# --------------------------------------------------------------------------- real sets

SNIPPETS_FILE = "movie_review_snippets.tsv"


def snippets(data_dir: PathLike | None = None) -> TextDataset:
    """10,568 movie-review sentences labelled ``neg``/``pos`` (bundled; Hutto & Gilbert 2014).

    Each sentence of Pang & Lee's Rotten Tomatoes snippets carries the mean score of human
    raters in [-4, 4]; the label is ``pos`` (1) when the score is > 0 and ``neg`` (0) when
    < 0, and the 37 sentences scored exactly 0 are left out. ``ratings`` keeps the score,
    ``ids`` the original sentence ids. The whole set comes back in file order; split it
    yourself, e.g. with :func:`seqlab.datasets.train_test_split` (stratified, seeded).
    ``data_dir`` reads the TSV from elsewhere (the file itself or its folder) instead of the
    copy bundled in the package.

    >>> ds = snippets()
    >>> len(ds), ds.label_names, int(ds.labels.sum())
    (10568, ['neg', 'pos'], 5242)
    """
    if data_dir is None:
        data, where = bundled_bytes(SNIPPETS_FILE), f"bundled {SNIPPETS_FILE}"
    else:
        root = Path(data_dir).expanduser()
        candidates = [root, root / SNIPPETS_FILE, root / "sentiment" / SNIPPETS_FILE]
        file = next((p for p in candidates if p.is_file()), None)
        if file is None:
            raise FileNotFoundError(
                f"data_dir={str(data_dir)!r}: no {SNIPPETS_FILE} there (or under sentiment/); "
                "leave data_dir=None to use the bundled copy"
            )
        data, where = file.read_bytes(), str(file)
    texts: list[str] = []
    labels: list[int] = []
    scores: list[float] = []
    ids: list[str] = []
    # split("\n"), not splitlines(): a text may hold characters such as U+2028 or \x85.
    for number, line in enumerate(data.decode("utf-8").split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        parts = line.split("\t", 2)
        try:
            score = float(parts[1])
            if len(parts) < 3:
                raise ValueError
        except (IndexError, ValueError):
            raise ValueError(
                f"{where}, line {number}: expected 'id<TAB>score<TAB>text', got {line[:80]!r}"
            ) from None
        if score == 0:
            continue
        ids.append(parts[0])
        scores.append(score)
        labels.append(1 if score > 0 else 0)
        texts.append(parts[2])
    return TextDataset(
        texts=texts,
        labels=np.asarray(labels, dtype=np.int64),
        label_names=["neg", "pos"],
        ids=ids,
        ratings=np.asarray(scores, dtype=np.float64),
        name="snippets",
        meta={"source": where, "dropped_zero_scores": True},
    )


BBC_ARCHIVE = "bbc.tar.gz"


def _find_bbc(data_dir: PathLike | None) -> Path:
    roots = [Path(data_dir).expanduser()] if data_dir is not None else []
    if data_dir is None and _env_data_dir(None) is not None:
        roots.append(_env_data_dir(None))  # type: ignore[arg-type]
    looked = []
    for root in roots:
        if root.is_file():
            return root
        for candidate in (root / BBC_ARCHIVE, root / "news" / BBC_ARCHIVE):
            looked.append(candidate)
            if candidate.is_file():
                return candidate
        for candidate in (root, root / "data", root / "bbc"):
            looked.append(candidate)
            if (candidate / "business").is_dir():
                return candidate
    raise FileNotFoundError(
        "BBC News data not found"
        + (f"; looked for {', '.join(map(str, looked))}" if looked else "")
        + f". Pass data_dir= (or --data-dir) naming {BBC_ARCHIVE} or the folder holding it, "
        "or set SEQLAB_DATA to that folder; it is not bundled (research use only)"
    )


def bbc(data_dir: PathLike | None = None) -> TextDataset:
    """BBC News (Greene & Cunningham 2006): 2,225 articles in 5 classes, read in place.

    ``data_dir`` (else ``$SEQLAB_DATA``) is ``bbc.tar.gz``, a folder holding it (directly or
    under ``news/``), or the unpacked folder of class folders. Labels are the sorted folder
    names: ``business, entertainment, politics, sport(s), tech``. The first line of each text
    is the headline. Files are UTF-8; the odd one that is not is read as cp1252 (its id is in
    ``meta["fallback_decoded"]``).

    >>> ds = bbc("../shared/data/news")  # doctest: +SKIP
    >>> len(ds), ds.label_names  # doctest: +SKIP
    (2225, ['business', 'entertainment', 'politics', 'sports', 'tech'])
    """
    return from_folder(
        _find_bbc(data_dir), suffixes=(".txt",), fallback_encoding="cp1252", name="bbc"
    )
