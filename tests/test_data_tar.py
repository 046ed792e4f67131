"""The streaming tar reader behind the IMDB and BBC loaders."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from seqlab.data._tar import TarFormatError, iter_tar_files

LONG = "aclImdb/" + "d" * 60 + "/" + "e" * 70 + "/12_9.txt"  # > 100 characters


def _write(path: Path, fmt: int, compress: bool) -> dict[str, bytes]:
    files = {
        "top/a.txt": b"first",
        "top/empty.txt": b"",
        "top/unicode-\u00e9t\u00e9.txt": "\u00e9t\u00e9".encode(),
        LONG: b"x" * 1500,  # spans several 512-byte blocks
    }
    with tarfile.open(path, "w:gz" if compress else "w", format=fmt) as tar:
        tar.addfile(tarfile.TarInfo("top/"), None)  # a directory entry, plain type
        d = tarfile.TarInfo("top/sub")
        d.type = tarfile.DIRTYPE
        tar.addfile(d)
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("top/link.txt")
        link.type = tarfile.SYMTYPE
        link.linkname = "a.txt"
        tar.addfile(link)
    return files


@pytest.mark.parametrize("fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
@pytest.mark.parametrize("compress", [True, False])
def test_data_tar_reads_every_format_like_tarfile(tmp_path: Path, fmt: int, compress: bool) -> None:
    # ustar keeps the long path in its 155-byte prefix field, GNU in an "L" member, pax in
    # an "x" record; the reader must give the same names as tarfile for all three.
    path = tmp_path / "x.tar"
    files = _write(path, fmt, compress)
    digest = hashlib.sha256()
    got = dict(iter_tar_files(path, digest=digest))
    # directories and the symlink are skipped; every regular file comes back exactly
    assert got == files
    assert digest.hexdigest() == hashlib.sha256(path.read_bytes()).hexdigest()


def test_data_tar_want_filters_members(tmp_path: Path) -> None:
    path = tmp_path / "x.tar.gz"
    _write(path, tarfile.PAX_FORMAT, True)
    got = list(iter_tar_files(path, want=lambda name: name.endswith("a.txt")))
    assert got == [("top/a.txt", b"first")]


def test_data_tar_truncated_gzip_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "x.tar.gz"
    _write(path, tarfile.PAX_FORMAT, True)
    data = path.read_bytes()
    for cut in (len(data) // 3, len(data) // 2, len(data) - 9):
        path.write_bytes(data[:cut])
        with pytest.raises(TarFormatError):
            list(iter_tar_files(path))


def test_data_tar_bad_header_checksum_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "x.tar"
    _write(path, tarfile.USTAR_FORMAT, False)
    raw = bytearray(path.read_bytes())
    raw[0] ^= 0x01  # first header's name, so its checksum no longer matches
    path.write_bytes(bytes(raw))
    with pytest.raises(TarFormatError, match="checksum"):
        list(iter_tar_files(path))


def test_data_tar_not_a_tar_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "x.tar.gz"
    path.write_bytes(gzip.compress(b"just some text, certainly not a tar archive\n" * 40))
    with pytest.raises(TarFormatError):
        list(iter_tar_files(path))
    empty = tmp_path / "empty.tar"
    empty.write_bytes(b"")
    with pytest.raises(TarFormatError, match="empty"):
        list(iter_tar_files(empty))
