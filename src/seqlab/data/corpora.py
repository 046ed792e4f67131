"""Plain-text corpora: the bundled ones, those built from a dataset (``"imdb"``), files on
disk, and line-by-line streaming.

The bundled files live gzip-compressed in ``seqlab/data/_bundled/`` (sources and licences in
its README.md) and are read with :mod:`importlib.resources`, so they work from a wheel too.
``"imdb"`` is built from the IMDB reviews found in ``data_dir`` or ``$SEQLAB_DATA``
(:mod:`seqlab.data.imdb_corpus`: the training and unlabelled reviews, never the test ones).
"""

from __future__ import annotations

import gzip
import importlib.resources
import io
from collections.abc import Iterator
from pathlib import Path

from seqlab._utils import PathLike
from seqlab.data.imdb_corpus import imdb_corpus

__all__ = ["BUNDLED_CORPORA", "DATASET_CORPORA", "bundled_bytes", "corpus", "iter_lines"]

# name -> file inside _bundled/
BUNDLED_CORPORA: dict[str, str] = {
    "nietzsche": "nietzsche.txt.gz",
    "tinyshakespeare": "tinyshakespeare.txt.gz",
}

# name -> what the corpus built from a dataset holds (seqlab.data.imdb_corpus)
DATASET_CORPORA: dict[str, str] = {
    "imdb": "IMDB's 25,000 training and 50,000 unlabelled reviews (never the test reviews), "
    "one per line, HTML line breaks removed, shuffled with seed 0",
}

# Keras ``text_to_word_sequence`` defaults: lower-case, these characters become spaces, split
# on " " only (so a tab-free "\r" or a non-breaking space stays inside a word, as in Keras).
_KERAS_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'
_KERAS_TABLE = str.maketrans(dict.fromkeys(_KERAS_FILTERS, " "))


def _keras_words(text: str) -> list[str]:
    """Keras ``text_to_word_sequence(text)`` with its default arguments."""
    return [w for w in text.lower().translate(_KERAS_TABLE).split(" ") if w]


def bundled_bytes(filename: str) -> bytes:
    """The uncompressed bytes of a file bundled in ``seqlab/data/_bundled/`` (``<filename>.gz``).

    >>> len(bundled_bytes("nietzsche.txt"))
    600918
    """
    name = filename if filename.endswith(".gz") else filename + ".gz"
    resource = importlib.resources.files("seqlab.data").joinpath("_bundled").joinpath(name)
    if not resource.is_file():
        raise FileNotFoundError(
            f"bundled file {name!r} is missing from the seqlab package; reinstall seqlab "
            "(pip install -e .) so that package data is included"
        )
    return gzip.decompress(resource.read_bytes())


def _open_binary(path: Path) -> io.BufferedIOBase:
    if path.suffix == ".gz":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def _decode(data: bytes, encoding: str, where: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{where}: bytes {exc.start}-{exc.end} are not valid {encoding} ({exc.reason}); "
            "pass the file's real encoding, e.g. encoding='latin-1'"
        ) from None


def _existing_file(name_or_path: PathLike, what: str) -> Path:
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        raise ValueError(f"{what}={str(name_or_path)!r} is a folder; give a text file")
    if not path.is_file():
        raise FileNotFoundError(
            f"{what}={str(name_or_path)!r}: no such file, and not a named corpus "
            f"(bundled: {sorted(BUNDLED_CORPORA)}; from a dataset: {sorted(DATASET_CORPORA)})"
        )
    return path


def corpus(
    name_or_path: PathLike, encoding: str = "utf-8", data_dir: PathLike | None = None
) -> str:
    """A whole plain-text corpus as one string: a bundled name, a corpus built from a
    dataset (:data:`DATASET_CORPORA`: ``"imdb"``, read from ``data_dir`` or
    ``$SEQLAB_DATA``), or a file (``.gz`` is unpacked).

    Bundled: ``"nietzsche"`` (600,901 characters) and ``"tinyshakespeare"`` (1,115,394).
    Windows line ends (``\\r\\n``) become ``\\n``; nothing else is changed.

    >>> text = corpus("tinyshakespeare")
    >>> len(text), text[:14]
    (1115394, 'First Citizen:')
    """
    if isinstance(name_or_path, str) and name_or_path in DATASET_CORPORA:
        if not Path(name_or_path).is_file():
            return imdb_corpus(data_dir)
    if data_dir is not None:
        raise ValueError(
            f"data_dir={str(data_dir)!r} is for the corpora built from a dataset "
            f"({sorted(DATASET_CORPORA)}); {str(name_or_path)!r} is not one: drop data_dir"
        )
    if isinstance(name_or_path, str) and name_or_path in BUNDLED_CORPORA:
        data = bundled_bytes(BUNDLED_CORPORA[name_or_path])
        where = f"bundled corpus {name_or_path!r}"
    else:
        path = _existing_file(name_or_path, "name_or_path")
        with _open_binary(path) as f:
            data = f.read()
        where = str(path)
    return _decode(data, encoding, where).replace("\r\n", "\n")


def iter_lines(path: PathLike, encoding: str = "utf-8") -> Iterator[str]:
    """Stream the lines of a text file (or ``.gz``, or a bundled corpus name) without their ends.

    Only one line is held in memory at a time, so files larger than memory are fine. A line
    that is not valid in ``encoding`` raises ``ValueError`` naming the file and line number.

    >>> next(iter_lines("nietzsche"))
    'PREFACE'
    """
    if isinstance(path, str) and path in BUNDLED_CORPORA and not Path(path).exists():
        f: io.BufferedIOBase = io.BytesIO(bundled_bytes(BUNDLED_CORPORA[path]))
        where = f"bundled corpus {path!r}"
    else:
        file = _existing_file(path, "path")
        f = _open_binary(file)
        where = str(file)
    with f:
        for number, raw in enumerate(f, start=1):
            yield _decode(raw, encoding, f"{where}, line {number}").rstrip("\r\n")
