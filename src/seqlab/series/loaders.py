"""Data by name for the series jobs and commands: a series (a generator, a real series or a
CSV column) and a labelled sequence dataset (Japanese Vowels, or tracks in a CSV)."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seqlab._utils import PathLike
from seqlab.series import data as sdata
from seqlab.series.data import stratified_split
from seqlab.series.tracks import load_tracks

__all__ = [
    "SEQUENCE_DATASETS",
    "SERIES_NAMES",
    "TrackColumns",
    "load_sequence_dataset",
    "load_series",
]

SERIES_NAMES = ("mackey-glass", "sine", "laser", "sunspots")
SEQUENCE_DATASETS = ("japanese-vowels",)


def load_series(
    name: str,
    data_dir: PathLike | None = None,
    n_timesteps: int | None = None,
    tau: int = 17,
    column: str | None = None,
    skip_blank_rows: bool = False,
) -> sdata.TimeSeries:
    """A series by name: ``mackey-glass`` (``n_timesteps``, default 2000, ``tau``), ``sine``,
    ``laser``, ``sunspots``, or the path of a CSV with a header (``column`` picks one numeric
    column; default: every column whose values are all numbers). A blank row inside a CSV
    is refused (dropping it would shift the series by a step) unless ``skip_blank_rows``.

    ``n_timesteps`` also truncates the real series (their first steps are kept).

    >>> load_series("mackey-glass", n_timesteps=100).values.shape
    (100, 1)
    """
    if name == "mackey-glass":
        n = 2000 if n_timesteps is None else n_timesteps
        return sdata.TimeSeries(
            sdata.mackey_glass(n, tau=tau), None, f"mackey-glass-tau{tau}", ["x"]
        )
    if name == "sine":
        n = 2000 if n_timesteps is None else n_timesteps
        return sdata.TimeSeries(sdata.sine_mixture(n), None, "sine", ["x"])
    if name == "laser":
        ts = sdata.santafe_laser(data_dir)
    elif name == "sunspots":
        ts = sdata.sunspots(data_dir)
    elif name.lower().endswith(".csv"):
        ts = _series_from_csv(Path(name), column, skip_blank_rows)
    else:
        raise ValueError(
            f"unknown series {name!r}; choose one of {', '.join(SERIES_NAMES)} or a .csv path"
        )
    if n_timesteps is not None:
        if n_timesteps < 1:
            raise ValueError(f"n_timesteps must be >= 1, got {n_timesteps}")
        ts = sdata.TimeSeries(
            ts.values[:n_timesteps],
            None if ts.time is None else ts.time[:n_timesteps],
            ts.name,
            ts.columns,
        )
    return ts


def _csv_rows(path: Path, skip_blank_rows: bool) -> tuple[list[list[str]], list[int]]:
    """The non-blank rows of a CSV and their line numbers; a blank row before the last
    data row is an error unless ``skip_blank_rows`` (blank lines at the end are fine)."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such CSV file")
    rows: list[list[str]] = []
    lines: list[int] = []
    blank: int | None = None
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        for row in reader:
            if not any(cell.strip() for cell in row):
                blank = blank or reader.line_num
                continue
            if blank is not None and rows and not skip_blank_rows:
                raise ValueError(
                    f"{path}, line {blank} is blank: leaving it out would shift the series "
                    "by one step; fill it in, or pass skip_blank_rows=True to leave blank "
                    "rows out"
                )
            blank = None
            rows.append(row)
            lines.append(reader.line_num)
    return rows, lines


def _series_from_csv(path: Path, column: str | None, skip_blank_rows: bool) -> sdata.TimeSeries:
    rows, lines = _csv_rows(path, skip_blank_rows)
    if len(rows) < 2:
        raise ValueError(f"{path} needs a header row and at least one data row")
    header, body = rows[0], rows[1:]

    def numeric(j: int) -> bool:
        try:
            [float(r[j]) for r in body]
        except (ValueError, IndexError):
            return False
        return True

    if column is not None:
        if column not in header:
            raise ValueError(f"{path} has no column {column!r}; its columns are {header}")
        cols = [header.index(column)]
        if not numeric(cols[0]):
            raise ValueError(f"{path}: column {column!r} is not numeric")
    else:
        cols = [j for j in range(len(header)) if numeric(j)]
        if not cols:
            raise ValueError(
                f"{path} has no column of numbers only: {_first_non_number(header, body, lines[1:])}; "
                "fix those values (a series CSV holds one number per column and row)"
            )
    values = np.array([[float(r[j]) for j in cols] for r in body])
    return sdata.TimeSeries(values, None, path.stem, [header[j] for j in cols])


def _first_non_number(header: list[str], body: list[list[str]], lines: list[int]) -> str:
    """Where each of the first three columns first holds something that is not a number."""
    found = []
    for j, name in enumerate(header[:3]):
        for row, line in zip(body, lines, strict=True):
            cell = row[j] if j < len(row) else None
            try:
                float(cell)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                shown = "nothing" if cell is None else repr(cell)
                found.append(f"column {name!r} holds {shown} on line {line}")
                break
    return ", ".join(found)


@dataclass
class TrackColumns:
    """The columns of a CSV of labelled tracks (see :mod:`seqlab.series.tracks`):
    ``feature_columns`` None = every column but the id, time and label ones."""

    id_column: str
    time_column: str
    feature_columns: Sequence[str] | None = None
    label_column: str = "label"


def load_sequence_dataset(
    name: str,
    data_dir: PathLike | None = None,
    *,
    tracks: TrackColumns | None = None,
    test_split: float = 0.2,
    seed: int = 0,
) -> tuple[sdata.SequenceDataset, sdata.SequenceDataset]:
    """``(train, test)`` of a labelled sequence dataset: ``japanese-vowels`` (its official
    split), or the path of a CSV of tracks read with the ``tracks`` columns: one sequence
    per track, labelled by its label column, split into train and test by
    :func:`~seqlab.series.data.stratified_split` (``test_split`` of the tracks of every
    class go to test, chosen with ``seed``; every class keeps at least one training track).
    Label names are sorted; label ``i`` is ``label_names[i]``.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "tracks.csv"
    >>> rows = [f"{i},{t},{i % 2 + t},{'ab'[i % 2]}" for i in range(10) for t in range(3)]
    >>> _ = p.write_text("id,t,x,mode\\n" + "\\n".join(rows))
    >>> train, test = load_sequence_dataset(str(p), tracks=TrackColumns("id", "t", None, "mode"))
    >>> len(train), len(test), train.label_names, train.num_features
    (8, 2, ['a', 'b'], 1)
    """
    if tracks is None and name.lower().endswith(".csv"):
        raise ValueError(
            f"{name} is a CSV of tracks: give its columns (tracks=TrackColumns(id_column, "
            "time_column, ...); CLI: --id-column and --time-column)"
        )
    if tracks is not None:
        return _track_datasets(Path(name), tracks, test_split, seed)
    if name == "japanese-vowels":
        return sdata.japanese_vowels("train", data_dir), sdata.japanese_vowels("test", data_dir)
    raise ValueError(
        f"unknown sequence dataset {name!r}; choose one of {list(SEQUENCE_DATASETS)} or a "
        ".csv path of tracks"
    )


def _track_datasets(
    path: Path, columns: TrackColumns, test_split: float, seed: int
) -> tuple[sdata.SequenceDataset, sdata.SequenceDataset]:
    if not 0.0 < test_split < 1.0:
        raise ValueError(
            f"test_split must be in (0, 1) (the share of each class's tracks held out for "
            f"the test), got {test_split}"
        )
    tr = load_tracks(
        path,
        columns.id_column,
        columns.time_column,
        columns.feature_columns,
        label_column=columns.label_column,
    )
    names = sorted(set(tr.labels or []))
    if len(names) < 2:
        raise ValueError(
            f"{path}: column {columns.label_column!r} holds {len(names)} label(s) {names}; "
            "classification needs tracks of at least 2 labels"
        )
    labels = np.searchsorted(np.array(names), np.array(tr.labels))
    everything = sdata.SequenceDataset(tr.sequences, labels, names, path.stem)
    train_idx, test_idx = stratified_split(labels, test_split, seed)
    if len(test_idx) == 0:
        raise ValueError(
            f"{path}: test_split={test_split} of {len(tr)} tracks leaves no test track; "
            "use a larger test_split or more tracks"
        )
    return everything.subset(train_idx), everything.subset(test_idx)
