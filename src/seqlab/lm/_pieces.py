"""Bytes to text for the streamed corpus: a piece of the file that ends after a space or
a newline (so it holds whole UTF-8 characters and whole words), decoded with ``\\r\\n``
read as ``\\n``, as :func:`seqlab.lm.load_corpus` reads a whole file."""

from __future__ import annotations

import re
from pathlib import Path
from typing import BinaryIO

import numpy as np

_CRLF = re.compile("\r\n")


def count_chars(path: Path, block: int) -> int:
    """Characters of the UTF-8 file after ``\\r\\n`` -> ``\\n`` (as :func:`seqlab.lm.load_corpus`
    reads it), without decoding: bytes that are not continuation bytes, less the CRLF pairs."""
    n = 0
    previous_cr = False
    with open(path, "rb") as f:
        while data := f.read(block):
            a = np.frombuffer(data, dtype=np.uint8)
            n += int(np.count_nonzero((a & 0xC0) != 0x80))
            n -= data.count(b"\r\n") + int(previous_cr and data[:1] == b"\n")
            previous_cr = data[-1:] == b"\r"
    return n


def read_piece(f: BinaryIO, pos: int, end: int, block: int, path: Path) -> bytes:
    """The bytes from ``pos`` up to just after the last space or newline of the next
    ``block`` bytes (all of them if ``end`` comes first; more if there is no space)."""
    f.seek(pos)
    data = f.read(min(block, end - pos))
    while True:
        if pos + len(data) >= end:
            return data
        cut = max(data.rfind(b"\n"), data.rfind(b" ")) + 1
        if cut:
            return data[:cut]
        more = f.read(min(block, end - pos - len(data)))
        if not more:
            raise ValueError(
                f"{path} ended at byte {pos + len(data)}, before the {end} bytes it had when it "
                "was scanned; it changed: train again on the current file"
            )
        data += more


def decode(data: bytes, path: Path, offset: int) -> str:
    """The text of the piece at byte ``offset``, ``\\r\\n`` read as ``\\n``; a ValueError
    naming the bytes that are not UTF-8."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{path}: bytes {offset + exc.start}-{offset + exc.end} are not valid UTF-8 "
            f"({exc.reason}); stream=True reads UTF-8 text: convert the file (iconv -t utf-8)"
        ) from None
    return text.replace("\r\n", "\n")


def raw_byte_offset(raw: str, k: int) -> int:
    """Byte length of the prefix of the decoded ``raw`` piece that becomes the first ``k``
    characters once ``\\r\\n`` is ``\\n`` (pair ``i`` at raw index ``p`` sits at ``p - i``)."""
    j = k
    for i, m in enumerate(_CRLF.finditer(raw)):
        if m.start() - i >= k:
            break
        j += 1
    return len(raw[:j].encode("utf-8"))
