"""Where word vectors are read from: a plain or compressed file, or a member of a ``.zip``
(:class:`Source`), opened as one binary stream, and read in chunks of whole lines."""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from seqlab._utils import PathLike

VECTOR_SUFFIXES = (".txt", ".vec", ".bin", ".txt.gz", ".vec.gz", ".bin.gz")
COMPRESSED = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
# What a cut or corrupt compressed file raises while it is read (gzip.BadGzipFile is an OSError).
_DAMAGED = (EOFError, OSError, zlib.error, lzma.LZMAError, zipfile.BadZipFile)


@dataclass(frozen=True)
class Source:
    """A vector file, or the member of a .zip archive that holds one."""

    path: Path
    member: str | None = None

    @property
    def name(self) -> str:
        return f"{self.path}::{self.member}" if self.member else str(self.path)

    @property
    def inner_name(self) -> str:
        return self.member if self.member else self.path.name

    def open(self) -> Stream:
        """A binary stream of the decompressed content (closing it closes every layer)."""
        layers: list[Any] = []
        try:
            if self.member is not None:
                archive = zipfile.ZipFile(self.path)
                layers.append(archive)
                raw: IO[bytes] = archive.open(self.member)
            else:
                raw = open(self.path, "rb")  # noqa: SIM115 - closed by Stream.close
            layers.append(raw)
            suffix = Path(self.inner_name).suffix.lower()
            if suffix in COMPRESSED:
                raw = COMPRESSED[suffix](raw, "rb")  # type: ignore[operator]
                layers.append(raw)
        except BaseException:
            for layer in reversed(layers):
                layer.close()
            raise
        return Stream(raw, layers, self.name)

    def fingerprint(self) -> str:
        st = self.path.stat()
        return f"{self.path.resolve()}|{self.member}|{st.st_size}|{st.st_mtime_ns}"


class Stream:
    """A readable stream that closes the decompressor, the file and the archive together."""

    def __init__(self, top: IO[bytes], layers: list[Any], name: str = "the stream") -> None:
        self._top = top
        self._layers = layers
        self.name = name

    def read(self, size: int = -1) -> bytes:
        try:
            return self._top.read(size)
        except _DAMAGED as exc:
            raise self._damaged(exc) from None

    def readline(self, size: int = -1) -> bytes:
        try:
            return self._top.readline(size)
        except _DAMAGED as exc:
            raise self._damaged(exc) from None

    def _damaged(self, exc: BaseException) -> ValueError:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        return ValueError(
            f"{self.name} is damaged or truncated ({reason}); download or copy it again"
        )

    def close(self) -> None:
        for layer in reversed(self._layers):
            layer.close()

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def resolve(path: PathLike, member: str | None) -> Source:
    """The :class:`Source` of ``path`` (``"archive.zip::member.txt"`` names a member)."""
    text = os.fspath(path)
    if member is None and "::" in text:
        text, member = text.split("::", 1)
    p = Path(text).expanduser()
    if not p.is_file():
        raise FileNotFoundError(
            f"path={os.fspath(path)!r}: no such embeddings file; give the path of a GloVe, "
            "word2vec or fastText file (optionally 'archive.zip::member.txt')"
        )
    if p.suffix.lower() != ".zip":
        if member is not None:
            raise ValueError(f"member={member!r} was given but {p} is not a .zip archive")
        return Source(p)
    with zipfile.ZipFile(p) as archive:
        names = [n for n in archive.namelist() if not n.endswith("/")]
    if member is None:
        candidates = [n for n in names if n.lower().endswith(VECTOR_SUFFIXES)]
        if len(candidates) != 1:
            raise ValueError(
                f"{p} holds {len(candidates)} vector files {candidates[:10]}; pick one with "
                f"member='{candidates[0] if candidates else 'name.txt'}' or the path "
                f"'{p}::{candidates[0] if candidates else 'name.txt'}'"
            )
        member = candidates[0]
    elif member not in names:
        raise ValueError(f"member={member!r} is not in {p}; it holds {names[:10]}")
    return Source(p, member)


def line_blocks(stream: Stream) -> Iterator[bytes]:
    """The stream in chunks of whole lines; every chunk ends with a newline. (Read through
    :func:`seqlab._utils.background`, decompression, which releases the GIL, and the
    re-cutting at line ends overlap the parsing of the previous chunk.)"""
    rest = b""
    for size in _block_sizes():
        block = stream.read(size)
        if not block:
            break
        data = rest + block if rest else block
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            rest = data
            continue
        rest = data[cut:]
        yield data[:cut] if cut < len(data) else data
    if rest:
        yield rest + b"\n"


def _block_sizes() -> Iterator[int]:
    # Small first blocks make `limit=1000` and the header cheap; later ones amortise overhead.
    size = 1 << 20
    while True:
        yield size
        size = min(size * 2, 1 << 25)
