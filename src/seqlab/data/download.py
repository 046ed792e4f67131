"""Download a file over HTTP(S) with a progress bar, resume, checksum and atomic rename.

Only the standard library (``urllib``) is used, so a download works wherever Python does.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

from tqdm.auto import tqdm

from seqlab._utils import PathLike

__all__ = ["IMDB_URL", "KNOWN_MD5", "KNOWN_SHA256", "download", "sha256_file"]

IMDB_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"

# sha256 digests that are known to be good copies of a file, by file name. Any one of them
# is accepted. Why two for IMDB: the official tarball holds three pre-computed ``*.feat``
# bag-of-words files; the copy in the project's shared data folder was repacked without
# them, so its digest differs even though every review is identical.
KNOWN_SHA256: dict[str, tuple[str, ...]] = {
    "aclImdb_v1.tar.gz": (
        "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe",  # official
        "1f1c6f5f2d383ef13b9a5e2c51c90e8eeeccfc86d7bc664643c12e35c67efe77",  # shared, no .feat
    ),
    # Keras's pre-tokenised IMDB, with the file_hash keras/src/datasets/imdb.py gives it.
    "imdb.npz": ("69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f",),
}

# md5 digests, by file name, for files whose publisher gives only an md5: Keras's
# get_word_index() checks imdb_word_index.json against this 32-digit file_hash (its
# get_file picks md5 for a hash of that length).
KNOWN_MD5: dict[str, tuple[str, ...]] = {
    "imdb_word_index.json": ("bfafd718b763782e994055a2d397834f",),
}

_CHUNK = 1 << 20  # 1 MiB: large enough to be fast, small enough for a smooth progress bar


def sha256_file(path: PathLike) -> str:
    """The hex sha256 digest of a file, read in 1 MiB chunks.

    >>> from pathlib import Path; _ = Path("/tmp/seqlab-doc.txt").write_bytes(b"abc")
    >>> sha256_file("/tmp/seqlab-doc.txt")[:16]
    'ba7816bf8f01cfea'
    """
    return _file_digest(path, "sha256")


def _file_digest(path: PathLike, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


_HEX_DIGITS = {"sha256": 64, "md5": 32}


def _expected(digest: str | Iterable[str] | None, algorithm: str) -> tuple[str, ...]:
    if digest is None:
        return ()
    if isinstance(digest, str):
        digests = (digest,)
    else:
        digests = tuple(digest)
    size = _HEX_DIGITS[algorithm]
    for d in digests:
        if (
            not isinstance(d, str)
            or len(d) != size
            or any(c not in "0123456789abcdefABCDEF" for c in d)
        ):
            raise ValueError(
                f"{algorithm} must be {size} hex digits (or a list of such), got {d!r}"
            )
    return tuple(d.lower() for d in digests)


def _mismatch(path: Path, expected: dict[str, tuple[str, ...]]) -> str | None:
    """None when ``path`` matches every expected digest, else "md5 <got> is not one of [...]"."""
    for algorithm, digests in expected.items():
        got = _file_digest(path, algorithm)
        if got not in digests:
            return f"{algorithm} {got} is not one of {list(digests)}"
    return None


def download(
    url: str,
    dest: PathLike,
    sha256: str | Iterable[str] | None = None,
    progress: bool = True,
    resume: bool = True,
    timeout: float = 60.0,
    md5: str | Iterable[str] | None = None,
) -> Path:
    """Download ``url`` to ``dest`` and return the path of the finished file.

    The bytes go to ``dest + ".part"``; only a complete file whose checksum matches is
    renamed to ``dest`` (an atomic rename), so ``dest`` is never half written. When a
    ``.part`` file is left by an interrupted download and ``resume`` is true, only the
    missing bytes are asked for (an HTTP ``Range`` request); a server that ignores the
    range sends the whole file again and the partial file is started over.

    Args:
        url: ``http://`` or ``https://`` address.
        dest: the file to write, or an existing folder (the name is taken from the URL).
        sha256: the expected hex digest, or several accepted digests; ``None`` skips the
            check. On a mismatch the downloaded file is deleted and ``ValueError`` raised.
        md5: the same for an md5 digest (for files whose publisher gives only an md5, such
            as Keras's ``imdb_word_index.json``); both are checked when both are given.
        progress: show a tqdm progress bar.
        resume: continue a partial ``.part`` file instead of starting over.
        timeout: seconds to wait for the server on each read.

    Returns the path of the complete file. A ``dest`` that already exists is returned as is
    when its checksum matches (or no checksum is given).

    >>> download("https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
    ...          "data/", sha256=KNOWN_SHA256["aclImdb_v1.tar.gz"])  # doctest: +SKIP
    PosixPath('data/aclImdb_v1.tar.gz')
    """
    scheme = urlsplit(url).scheme
    if scheme not in ("http", "https"):
        raise ValueError(f"url must start with http:// or https://, got {url!r}")
    expected = {
        name: digests
        for name, digests in (
            ("sha256", _expected(sha256, "sha256")),
            ("md5", _expected(md5, "md5")),
        )
        if digests
    }
    dest = Path(dest).expanduser()
    if dest.is_dir():
        name = Path(urlsplit(url).path).name
        if not name:
            raise ValueError(
                f"dest={str(dest)!r} is a folder and the url {url!r} names no file; "
                "give the full destination path"
            )
        dest = dest / name
    if dest.is_file():
        wrong = _mismatch(dest, expected)
        if wrong is None:
            return dest
        raise ValueError(
            f"{dest} already exists but its {wrong}; delete it (or move it away) and download again"
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    if not resume and part.exists():
        part.unlink()

    _fetch(url, part, progress=progress, timeout=timeout)

    wrong = _mismatch(part, expected)
    if wrong is not None:
        part.unlink()
        raise ValueError(
            f"checksum mismatch for {url}: {wrong}; the corrupt download was deleted. Try "
            "again, or check the url and the expected digest"
        )
    os.replace(part, dest)
    return dest


def _fetch(url: str, part: Path, *, progress: bool, timeout: float) -> None:
    """Append the missing bytes of ``url`` to ``part`` (creating it when absent)."""
    have = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": "seqlab (python urllib)"}
    if have:
        headers["Range"] = f"bytes={have}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:
            # Range not satisfiable: the partial file already holds every byte.
            return
        raise ConnectionError(
            f"could not download {url}: HTTP {exc.code} {exc.reason}; check the url, or fetch "
            "the file by hand and pass its folder as data_dir"
        ) from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ConnectionError(
            f"could not download {url}: {reason}; check the network connection, or fetch the "
            "file by hand and pass its folder as data_dir"
        ) from exc
    with response:
        mode = "ab"
        if have and response.status != 206:
            # The server ignored the Range header and sends the whole file: start over.
            have, mode = 0, "wb"
        elif have:
            start = _content_range_start(response.headers.get("Content-Range"))
            if start != have:
                raise ConnectionError(
                    f"could not resume {url}: asked for bytes from {have}, the server sent "
                    f"Content-Range {response.headers.get('Content-Range')!r}; delete {part} "
                    "and try again"
                )
        length = response.headers.get("Content-Length")
        remaining = int(length) if length is not None else None
        total = have + remaining if remaining is not None else None
        received = 0
        with (
            open(part, mode) as f,
            tqdm(
                total=total,
                initial=have,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=part.name.removesuffix(".part"),
                disable=not progress,
            ) as bar,
        ):
            try:
                while chunk := response.read(_CHUNK):
                    f.write(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
            except (OSError, http.client.HTTPException) as exc:
                f.flush()
                raise ConnectionError(
                    f"download of {url} interrupted after {have + received} bytes ({exc}); "
                    f"call download again to resume from {part}"
                ) from exc
            f.flush()
            os.fsync(f.fileno())
    if remaining is not None and received < remaining:
        raise ConnectionError(
            f"download of {url} interrupted: got {have + received} of {total} bytes; "
            f"call download again to resume from {part}"
        )


def _content_range_start(value: str | None) -> int | None:
    # "bytes 100-199/200" -> 100
    if not value or not value.startswith("bytes "):
        return None
    first = value[len("bytes ") :].split("-", 1)[0]
    return int(first) if first.isdigit() else None
