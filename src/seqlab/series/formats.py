"""File formats of numeric series: sktime / UEA ``.ts`` files (:func:`read_ts`) and
time-stamped multivariate tracks in CSV (:func:`load_tracks`, e.g. GPS trajectories)."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from seqlab._utils import PathLike

__all__ = ["Tracks", "load_tracks", "read_ts"]


@dataclass
class Tracks:
    """Time-stamped tracks: ``sequences[i]`` (T_i, F) sorted by ``times[i]`` (T_i,)."""

    ids: list[str]
    times: list[np.ndarray]
    sequences: list[np.ndarray]
    feature_names: list[str]

    def __len__(self) -> int:
        return len(self.ids)


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


def _parse_times(raw: list[str], path: Path, column: str) -> np.ndarray:
    try:
        return np.array([float(v) for v in raw], dtype=np.float64)
    except ValueError:
        pass
    try:
        stamps = np.array(raw, dtype="datetime64[ns]")
    except ValueError:
        raise ValueError(
            f"{path}: column {column!r} holds neither numbers nor ISO 8601 date-times "
            f"(e.g. {raw[0]!r}); convert it to seconds or to 'YYYY-MM-DDTHH:MM:SS'"
        ) from None
    # seconds since the first stamp of the file keeps float64 precision
    return (stamps - stamps.min()).astype("timedelta64[ns]").astype(np.float64) / 1e9


def load_tracks(
    path: PathLike,
    id_column: str,
    time_column: str,
    feature_columns: Sequence[str] | None = None,
    delimiter: str = ",",
) -> Tracks:
    """Read time-stamped multivariate tracks (e.g. GPS trajectories) from a CSV with a header.

    Rows are grouped by ``id_column`` (tracks in order of first appearance) and each track is
    sorted by ``time_column`` (numbers, or ISO 8601 date-times turned into seconds since the
    earliest stamp in the file; a stable sort keeps ties in file order). ``feature_columns``
    defaults to every other column; they must be numeric.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "gps.csv"
    >>> _ = p.write_text("id,t,lat\\na,2,1.5\\nb,0,9\\na,1,1.0\\n")
    >>> tr = load_tracks(p, "id", "t")
    >>> tr.ids, tr.sequences[0].ravel().tolist(), tr.times[0].tolist()
    (['a', 'b'], [1.0, 1.5], [1.0, 2.0])
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such CSV file")
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f, delimiter=delimiter))
    if len(rows) < 2:
        raise ValueError(f"{path} has no data rows; expected a header and at least one row")
    header = [h.strip() for h in rows[0]]
    id_idx = _column(header, id_column, path)
    t_idx = _column(header, time_column, path)
    if feature_columns is None:
        feature_columns = [h for i, h in enumerate(header) if i not in (id_idx, t_idx)]
    feature_columns = list(feature_columns)
    if not feature_columns:
        raise ValueError(f"{path}: no feature columns besides {id_column!r} and {time_column!r}")
    f_idx = [_column(header, c, path) for c in feature_columns]
    body = [r for r in rows[1:] if any(v.strip() for v in r)]
    for lineno, r in enumerate(body, start=2):
        if len(r) != len(header):
            raise ValueError(
                f"{path}:{lineno}: {len(r)} fields but the header has {len(header)}; "
                f"check the delimiter (got {delimiter!r})"
            )
    times = _parse_times([r[t_idx].strip() for r in body], path, time_column)
    try:
        feats = np.array([[float(r[i]) for i in f_idx] for r in body], dtype=np.float64)
    except ValueError as exc:
        raise ValueError(
            f"{path}: feature columns {feature_columns} must be numeric ({exc}); "
            "pass feature_columns= to choose numeric ones"
        ) from None
    groups: dict[str, list[int]] = {}
    for i, r in enumerate(body):
        groups.setdefault(r[id_idx].strip(), []).append(i)
    ids, out_t, out_x = [], [], []
    for tid, idx in groups.items():
        idx_arr = np.asarray(idx)
        order = idx_arr[np.argsort(times[idx_arr], kind="stable")]
        ids.append(tid)
        out_t.append(times[order])
        out_x.append(feats[order])
    return Tracks(ids, out_t, out_x, feature_columns)
