"""Stream the regular files of a ``.tar`` or ``.tar.gz`` archive once, without unpacking it.

Why not :mod:`tarfile`: parsing 100,000 headers of the IMDB archive with ``tarfile`` costs
several times more than unpacking the gzip stream, and its stream mode stops silently at a
truncated header. This reader handles what real archives use (POSIX ustar with its name
prefix, GNU long names, pax ``path`` records), checks every header's checksum, and lets
:class:`gzip.GzipFile` check the gzip CRC and length, so damage is an error, not a short read.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

_BLOCK = 512


class TarFormatError(ValueError):
    """The archive is damaged or truncated."""


class _Hashing:
    """A read-only wrapper that feeds every byte read through it to ``digest`` and ``on_read``."""

    def __init__(self, f: BinaryIO, digest: Any, on_read: Callable[[int], Any] | None) -> None:
        self._f, self._digest, self._on_read = f, digest, on_read

    def read(self, n: int = -1) -> bytes:
        data = self._f.read(n)
        if self._digest is not None:
            self._digest.update(data)
        if self._on_read is not None:
            self._on_read(len(data))
        return data


def _read_exact(stream: Any, n: int, what: str) -> bytes:
    data = stream.read(n)
    while len(data) < n:
        more = stream.read(n - len(data))
        if not more:
            raise TarFormatError(f"unexpected end of archive in {what}")
        data += more
    return data


def _number(field: bytes, what: str) -> int:
    if field[:1] and field[0] & 0x80:  # GNU base-256 for very large values
        value = int.from_bytes(field[1:], "big")
        return value - (1 << (8 * len(field) - 8)) if field[0] & 0x40 else value
    text = field.split(b"\0", 1)[0].strip()
    try:
        return int(text, 8) if text else 0
    except ValueError:
        raise TarFormatError(f"bad number {field!r} in the {what} field") from None


def _checksum_ok(header: bytes) -> bool:
    stored = _number(header[148:156], "checksum")
    unsigned = sum(header[:148]) + 8 * 32 + sum(header[156:])
    # Some old tars summed signed chars; accept either, as tarfile does.
    signed = unsigned - 256 * sum(1 for b in header[:148] + header[156:] if b > 127)
    return stored in (unsigned, signed)


def _name(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _pax_path(data: bytes) -> str | None:
    # records: b"<len> <key>=<value>\n"
    path = None
    pos = 0
    while pos < len(data):
        space = data.find(b" ", pos)
        if space < 0:
            break
        length = int(data[pos:space])
        if length <= 0:
            break
        key, _, value = data[space + 1 : pos + length - 1].partition(b"=")
        if key == b"path":
            path = value.decode("utf-8", "surrogateescape")
        pos += length
    return path


def iter_tar_files(
    path: Path,
    want: Callable[[str], bool] | None = None,
    digest: Any = None,
    on_read: Callable[[int], Any] | None = None,
) -> Iterator[tuple[str, bytes]]:
    """Yield ``(member name, content)`` for each regular file for which ``want(name)`` is true.

    The file is read once, front to back; ``digest`` (e.g. ``hashlib.sha256()``), when given,
    sees every raw byte of it, and ``on_read(n)`` is told how many raw bytes each read took
    (for a progress bar). Raises :class:`TarFormatError` on a damaged archive.
    """
    with open(path, "rb") as raw:
        magic = raw.read(2)
        raw.seek(0)
        hashed = _Hashing(raw, digest, on_read)
        stream: Any = gzip.GzipFile(fileobj=hashed, mode="rb") if magic == b"\x1f\x8b" else hashed
        try:
            yield from _members(stream, want)
            # Read to the end so that a damaged tail and the gzip CRC are checked too.
            while stream.read(1 << 20):
                pass
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise TarFormatError(f"{type(exc).__name__}: {exc}") from None


def _members(stream: Any, want: Callable[[str], bool] | None) -> Iterator[tuple[str, bytes]]:
    long_name: str | None = None
    offset = 0
    while True:
        header = stream.read(_BLOCK)
        if not header:
            if offset == 0:
                raise TarFormatError("empty archive")
            return  # no end-of-archive blocks: tolerated, as tar and tarfile do
        if len(header) < _BLOCK:
            header += _read_exact(stream, _BLOCK - len(header), "a header")
        if header.count(0) == _BLOCK:
            return  # end-of-archive marker
        if not _checksum_ok(header):
            raise TarFormatError(f"bad header checksum at byte {offset} of the tar stream")
        size = _number(header[124:136], "size")
        kind = header[156:157]
        padded = (size + _BLOCK - 1) // _BLOCK * _BLOCK
        name = _name(header[0:100])
        if header[257:263] == b"ustar\0" and header[345] != 0:  # POSIX name prefix
            name = _name(header[345:500]) + "/" + name
        offset += _BLOCK + padded
        if kind in (b"L", b"x"):
            data = _read_exact(stream, padded, f"the extended header before byte {offset}")
            if kind == b"L":
                long_name = _name(data[:size])
            else:
                long_name = _pax_path(data[:size]) or long_name
            continue
        if long_name is not None:
            name, long_name = long_name, None
        # A "regular file" whose name ends in "/" is an old-style folder entry.
        is_file = kind in (b"0", b"\0", b"7") and not name.endswith("/")
        if is_file and (want is None or want(name)):
            data = _read_exact(stream, padded, f"member {name}")
            yield name, data[:size]
        elif padded:
            _read_exact(stream, padded, f"member {name}")
