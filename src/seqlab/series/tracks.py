"""Time-stamped multivariate tracks (e.g. GPS trajectories) from a CSV with a header.

One row per observation: a track id, a time stamp, numeric features and, for
classification, a label that is the same on every row of a track::

    ID,T,lat,lon,speed,mode
    t1,2024-05-01T08:00:00,52.5201,13.4050,1.3,walk
    t1,2024-05-01T08:00:05,52.5202,13.4051,1.5,walk
    t2,2024-05-01T08:00:00,48.1371,11.5754,5.2,bike

:func:`load_tracks` groups the rows by id and sorts each track by time;
``seqlab series classify --data tracks.csv --id-column ID --time-column T`` classifies the
tracks (see :func:`seqlab.series.loaders.load_sequence_dataset`).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seqlab._utils import PathLike
from seqlab.series.formats import _column

__all__ = ["Tracks", "load_tracks"]


@dataclass
class Tracks:
    """Time-stamped tracks: ``sequences[i]`` (T_i, F) sorted by ``times[i]`` (T_i,);
    ``labels[i]`` the label of track ``i`` when a label column was read (else None)."""

    ids: list[str]
    times: list[np.ndarray]
    sequences: list[np.ndarray]
    feature_names: list[str]
    labels: list[str] | None = None

    def __len__(self) -> int:
        return len(self.ids)


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


def _read_rows(path: Path, delimiter: str) -> tuple[list[str], list[list[str]]]:
    """(header, the non-blank data rows), each row checked to have the header's width."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such CSV file")
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f, delimiter=delimiter))
    if len(rows) < 2:
        raise ValueError(f"{path} has no data rows; expected a header and at least one row")
    header = [h.strip() for h in rows[0]]
    body = [r for r in rows[1:] if any(v.strip() for v in r)]
    for lineno, r in enumerate(body, start=2):
        if len(r) != len(header):
            raise ValueError(
                f"{path}:{lineno}: {len(r)} fields but the header has {len(header)}; "
                f"check the delimiter (got {delimiter!r})"
            )
    return header, body


def _track_label(track: str, values: list[str], path: Path, column: str) -> str:
    distinct = list(dict.fromkeys(values))
    if len(distinct) != 1:
        raise ValueError(
            f"{path}: track {track!r} has {len(distinct)} labels {distinct} in column "
            f"{column!r}; every row of a track needs the same label (split the track or fix "
            "the labels)"
        )
    if not distinct[0]:
        raise ValueError(f"{path}: track {track!r} has an empty label in column {column!r}")
    return distinct[0]


def load_tracks(
    path: PathLike,
    id_column: str,
    time_column: str,
    feature_columns: Sequence[str] | None = None,
    delimiter: str = ",",
    label_column: str | None = None,
) -> Tracks:
    """Read time-stamped multivariate tracks (e.g. GPS trajectories) from a CSV with a header.

    Rows are grouped by ``id_column`` (tracks in order of first appearance) and each track is
    sorted by ``time_column`` (numbers, or ISO 8601 date-times turned into seconds since the
    earliest stamp in the file; a stable sort keeps ties in file order). ``feature_columns``
    defaults to every other column; they must be numeric. ``label_column`` gives each track
    its label (``Tracks.labels``): it must be the same on every row of a track.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "gps.csv"
    >>> _ = p.write_text("id,t,lat,mode\\na,2,1.5,walk\\nb,0,9,bike\\na,1,1.0,walk\\n")
    >>> tr = load_tracks(p, "id", "t", label_column="mode")
    >>> tr.ids, tr.sequences[0].ravel().tolist(), tr.times[0].tolist(), tr.labels
    (['a', 'b'], [1.0, 1.5], [1.0, 2.0], ['walk', 'bike'])
    """
    path = Path(path)
    header, body = _read_rows(path, delimiter)
    id_idx = _column(header, id_column, path)
    t_idx = _column(header, time_column, path)
    label_idx = None if label_column is None else _column(header, label_column, path)
    if feature_columns is None:
        taken = (id_idx, t_idx, label_idx)
        feature_columns = [h for i, h in enumerate(header) if i not in taken]
    feature_columns = list(feature_columns)
    if not feature_columns:
        raise ValueError(f"{path}: no feature columns besides {id_column!r} and {time_column!r}")
    if label_column is not None and label_column in feature_columns:
        raise ValueError(
            f"label column {label_column!r} is also among the feature columns "
            f"{feature_columns}; leave it out of the features"
        )
    f_idx = [_column(header, c, path) for c in feature_columns]
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
    out = Tracks([], [], [], feature_columns, None if label_column is None else [])
    for tid, idx in groups.items():
        idx_arr = np.asarray(idx)
        order = idx_arr[np.argsort(times[idx_arr], kind="stable")]
        out.ids.append(tid)
        out.times.append(times[order])
        out.sequences.append(feats[order])
        if out.labels is not None:
            values = [body[i][label_idx].strip() for i in idx]  # type: ignore[index]
            out.labels.append(_track_label(tid, values, path, str(label_column)))
    return out
