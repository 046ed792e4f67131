"""Numeric series: the containers, and loaders for real data.

Loaders read the files of ``<data dir>/timeseries/`` (see ``../shared/data/README.md``):
the Santa Fe laser, monthly sunspots and Japanese Vowels (sktime ``.ts`` format). The
``.ts`` reader is :mod:`seqlab.series.formats`, the reader for time-stamped tracks in CSV
(e.g. GPS trajectories) :func:`seqlab.series.tracks.load_tracks`, the generators
(Mackey-Glass, sine mixtures) :mod:`seqlab.series.generators`; all are re-exported here.
The data dir is the ``data_dir`` argument, else ``$SEQLAB_DATA`` (see
:func:`seqlab._utils.data_dir`); the files may sit in it or in its ``timeseries/`` folder.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from seqlab._checks import check_choice
from seqlab._utils import PathLike
from seqlab._utils import data_dir as _data_dir
from seqlab.data.base import label_array
from seqlab.series.formats import _column, _read_csv_columns, read_ts
from seqlab.series.generators import MACKEY_GLASS_SEED as MACKEY_GLASS_SEED  # re-exported
from seqlab.series.generators import mackey_glass, sine_mixture
from seqlab.series.tracks import Tracks, load_tracks

__all__ = [
    "SequenceDataset",
    "TimeSeries",
    "Tracks",
    "find_data_file",
    "japanese_vowels",
    "load_tracks",
    "mackey_glass",
    "read_ts",
    "santafe_laser",
    "sine_mixture",
    "stratified_split",
    "sunspots",
]


@dataclass
class TimeSeries:
    """One regularly sampled series: ``values`` (T, D), optional ``time`` (T,).

    >>> TimeSeries(np.zeros((3, 1)), name="zeros").values.shape
    (3, 1)
    """

    values: np.ndarray
    time: np.ndarray | None = None
    name: str = ""
    columns: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.values.shape[0])


@dataclass
class SequenceDataset:
    """Variable-length multivariate sequences with integer labels ``0 .. C-1``.

    ``sequences[i]`` is a (T_i, D) float array; ``label_names[labels[i]]`` its class name.

    >>> ds = SequenceDataset([np.zeros((2, 3)), np.ones((4, 3))], np.array([0, 1]), ["a", "b"])
    >>> len(ds), ds.num_features, ds.lengths.tolist()
    (2, 3, [2, 4])
    """

    sequences: list[np.ndarray]
    labels: np.ndarray
    label_names: list[str]
    name: str = ""

    def __post_init__(self) -> None:
        self.labels = label_array(self.labels, len(self.sequences), "sequences", "sequence")

    def __len__(self) -> int:
        return len(self.sequences)

    @property
    def num_features(self) -> int:
        return int(self.sequences[0].shape[1]) if self.sequences else 0

    @property
    def num_classes(self) -> int:
        return len(self.label_names)

    @property
    def lengths(self) -> np.ndarray:
        return np.array([len(s) for s in self.sequences], dtype=np.int64)

    def padded(self) -> tuple[np.ndarray, np.ndarray]:
        """``(x (B, T_max, D) zero post-padded, lengths (B,))``."""
        lens = self.lengths
        out = np.zeros((len(self), int(lens.max()), self.num_features))
        for i, s in enumerate(self.sequences):
            out[i, : len(s)] = s
        return out, lens

    def subset(self, index: Sequence[int] | np.ndarray) -> SequenceDataset:
        """A new dataset with the items at ``index`` (in that order)."""
        index = np.asarray(index, dtype=np.int64)
        return SequenceDataset(
            [self.sequences[i] for i in index],
            self.labels[index],
            list(self.label_names),
            self.name,
        )


def find_data_file(filename: str, data_dir: PathLike | None = None) -> Path:
    """Locate ``filename`` in the data dir or its ``timeseries/`` folder.

    The data dir is ``data_dir``, else ``$SEQLAB_DATA``; a clear FileNotFoundError says
    where it looked and how to point seqlab at the data otherwise.
    """
    base = _data_dir(data_dir)
    if base is None:
        raise FileNotFoundError(
            f"{filename}: no data directory given; set the SEQLAB_DATA environment variable "
            "or pass data_dir= (CLI: --data-dir) pointing at the folder that holds "
            f"timeseries/{filename} (e.g. ../shared/data)"
        )
    for cand in (base / "timeseries" / filename, base / filename):
        if cand.is_file():
            return cand
    raise FileNotFoundError(
        f"{filename} not found in {base} or {base / 'timeseries'}; check SEQLAB_DATA / "
        "--data-dir (it should hold timeseries/" + filename + ")"
    )


def santafe_laser(data_dir: PathLike | None = None) -> TimeSeries:
    """Santa Fe competition set A (far-infrared laser intensity), 10,093 steps: (T, 1).

    Reads ``timeseries/santafe_laser.csv`` (one ``intensity`` column).
    """
    path = find_data_file("santafe_laser.csv", data_dir)
    header, rows = _read_csv_columns(path)
    col = _column(header, "intensity", path)
    values = np.array([float(r[col]) for r in rows], dtype=np.float64)[:, None]
    return TimeSeries(values, np.arange(len(values), dtype=np.float64), "laser", ["intensity"])


def sunspots(data_dir: PathLike | None = None) -> TimeSeries:
    """Monthly mean sunspot numbers 1749-2013 (R ``sunspot.month``), 3,177 months: (T, 1).

    ``time`` is the decimal year of each month. Reads ``timeseries/sunspot_month.csv``
    (columns ``"", time, sunspot.month``).
    """
    path = find_data_file("sunspot_month.csv", data_dir)
    header, rows = _read_csv_columns(path)
    tcol, vcol = _column(header, "time", path), _column(header, "sunspot.month", path)
    time = np.array([float(r[tcol]) for r in rows])
    values = np.array([float(r[vcol]) for r in rows])[:, None]
    return TimeSeries(values, time, "sunspots", ["sunspot.month"])


def japanese_vowels(split: str = "train", data_dir: PathLike | None = None) -> SequenceDataset:
    """Japanese Vowels (UCI; Kudo et al. 1999): 9 speakers, 12 LPC channels, 7-29 steps.

    ``split="train"`` gives the official 270 utterances, ``"test"`` the 370. Labels are
    0..8 for speakers "1".."9" (``label_names``).

    >>> ds = japanese_vowels("train", data_dir="../shared/data")  # doctest: +SKIP
    >>> len(ds), ds.num_features, ds.num_classes  # doctest: +SKIP
    (270, 12, 9)
    """
    check_choice("split", split, ("train", "test"))
    path = find_data_file(f"JapaneseVowels_{split.upper()}.ts", data_dir)
    seqs, labels, header = read_ts(path)
    names = header.get("class_names") or sorted(set(labels))
    index = {name: i for i, name in enumerate(names)}
    unknown = sorted(set(labels) - set(index))
    if unknown:
        raise ValueError(f"{path}: labels {unknown} are not in @classLabel {names}")
    return SequenceDataset(
        seqs, np.array([index[v] for v in labels]), list(names), f"japanese-vowels-{split}"
    )


def stratified_split(
    labels: Any, val_split: float = 0.2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``(train_index, val_index)`` with about ``val_split`` of every class in validation.

    >>> tr, va = stratified_split([0] * 10 + [1] * 10, 0.2, seed=0)
    >>> len(tr), len(va)
    (16, 4)
    """
    labels = np.asarray(labels)
    if not 0.0 < val_split < 1.0:
        raise ValueError(f"val_split must be in (0, 1), got {val_split}")
    rng = np.random.default_rng(seed)
    val_idx = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        rng.shuffle(idx)
        k = int(round(len(idx) * val_split))
        val_idx.extend(idx[: min(k, len(idx) - 1)].tolist())
    val = np.sort(np.array(val_idx, dtype=np.int64))
    train = np.setdiff1d(np.arange(len(labels)), val)
    return train, val
