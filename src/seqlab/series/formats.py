"""File formats of numeric series: sktime / UEA ``.ts`` files (:func:`read_ts`) and the CSV
helpers the loaders share (time-stamped tracks in CSV: :mod:`seqlab.series.tracks`)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from seqlab._utils import PathLike

__all__ = ["read_ts"]


def _read_csv_columns(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if not rows:
        raise ValueError(f"{path} is empty; expected a CSV with a header row")
    return rows[0], [r for r in rows[1:] if r]


def _column(header: list[str], name: str, path: Path) -> int:
    if name not in header:
        raise ValueError(f"{path} has no column {name!r}; its columns are {header}")
    return header.index(name)


def read_ts(path: PathLike) -> tuple[list[np.ndarray], list[str], dict[str, Any]]:
    """Parse an sktime / UEA ``.ts`` file: ``(sequences, labels, header)``.

    The format: ``#`` comment lines, ``@key value`` header lines (``@problemName``,
    ``@univariate``, ``@dimensions``, ``@equalLength``, ``@classLabel true a b c``, ...),
    then after ``@data`` one case per line: ``dim1:dim2:...:label`` where each dimension is
    a comma-separated list of values (``?`` = missing, read as NaN). Every case becomes a
    (T, D) float array (dimensions of one case must have the same length). Labels are kept as
    strings. Time-stamped files (``@timeStamps true``) are refused.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.ts"
    >>> _ = p.write_text("@dimensions 2\\n@classLabel true a b\\n@data\\n1,2:3,4:a\\n5:6:b\\n")
    >>> seqs, labels, header = read_ts(p)
    >>> [s.tolist() for s in seqs], labels
    ([[[1.0, 3.0], [2.0, 4.0]], [[5.0, 6.0]]], ['a', 'b'])
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such .ts file")
    header: dict[str, Any] = {}
    seqs: list[np.ndarray] = []
    labels: list[str] = []
    in_data = False
    with open(path, encoding="utf-8") as f:
        for lineno, raw in enumerate(f, start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if not in_data:
                in_data = _ts_header_line(line, header, path, lineno)
                continue
            fields = line.split(":")
            has_label = header.get("classlabel", True)
            if has_label:
                labels.append(fields[-1].strip())
            seqs.append(_ts_case(fields[:-1] if has_label else fields, header, path, lineno))
    if not in_data:
        raise ValueError(f"{path}: no @data line found; is this an sktime .ts file?")
    if not seqs:
        raise ValueError(f"{path}: no cases after @data")
    return seqs, labels, header


def _ts_header_line(line: str, header: dict[str, Any], path: Path, lineno: int) -> bool:
    """Read an ``@key value`` line into ``header``; True for ``@data`` (the cases follow)."""
    if not line.startswith("@"):
        raise ValueError(
            f"{path}:{lineno}: expected an @-header line or @data before the cases, "
            f"got {line[:40]!r}"
        )
    key, _, value = line[1:].partition(" ")
    key = key.lower()
    if key == "data":
        if str(header.get("timestamps", "false")).lower() == "true":
            raise ValueError(
                f"{path}: @timeStamps true is not supported; only plain value lists "
                "(@timeStamps false) can be read"
            )
        return True
    if key == "classlabel":
        parts = value.split()
        header["classlabel"] = bool(parts) and parts[0].lower() == "true"
        header["class_names"] = parts[1:]
    else:
        header[key] = value.strip()
    return False


def _ts_case(dims: list[str], header: dict[str, Any], path: Path, lineno: int) -> np.ndarray:
    """One case: its dimensions (comma-separated values, ``?`` = NaN) as a (T, D) array."""
    try:
        channels = [
            np.array(
                [np.nan if v.strip() == "?" else float(v) for v in d.split(",")],
                dtype=np.float64,
            )
            for d in dims
        ]
    except ValueError as exc:
        raise ValueError(f"{path}:{lineno}: cannot read a number ({exc})") from None
    lens = {len(c) for c in channels}
    if len(lens) != 1:
        raise ValueError(
            f"{path}:{lineno}: the dimensions of this case have different lengths "
            f"{sorted(lens)}; each dimension must have one value per timestep"
        )
    if "dimensions" in header and len(channels) != int(header["dimensions"]):
        raise ValueError(
            f"{path}:{lineno}: {len(channels)} dimensions but the header says "
            f"@dimensions {header['dimensions']}"
        )
    return np.stack(channels, axis=1)
