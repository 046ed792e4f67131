"""Numeric series: generators (Mackey-Glass, sine mixtures) and loaders for real data.

Loaders read the files of ``<data dir>/timeseries/`` (see ``../shared/data/README.md``):
the Santa Fe laser, monthly sunspots and Japanese Vowels (sktime ``.ts`` format); the
generic reader for time-stamped multivariate tracks in CSV (e.g. GPS trajectories) is
:func:`seqlab.series.tracks.load_tracks`, also importable from here.
The data dir is the ``data_dir`` argument, else ``$SEQLAB_DATA`` (see
:func:`seqlab._utils.data_dir`); the files may sit in it or in its ``timeseries/`` folder.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from seqlab._utils import PathLike
from seqlab._utils import data_dir as _data_dir
from seqlab.series.tracks import Tracks, _column, load_tracks

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

# reservoirpy draws the random Mackey-Glass history with this seed when none is given
# (reservoirpy.datasets._seed._DEFAULT_SEED); using it by default gives the same series.
MACKEY_GLASS_SEED = 5555


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
        self.labels = np.asarray(self.labels, dtype=np.int64)
        if len(self.labels) != len(self.sequences):
            raise ValueError(
                f"labels has {len(self.labels)} items but there are {len(self.sequences)} "
                "sequences; give one label per sequence"
            )

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


# --------------------------------------------------------------------------------------
# Generators
# --------------------------------------------------------------------------------------


def _mg_rk4(xt: float, xtau: float, a: float, b: float, n: float, h: float) -> float:
    # reservoirpy's discretisation (datasets._chaos._mg_rk4), kept term for term so the
    # series match: the delayed term is held fixed over the step.
    bh = -b * h
    k1 = bh * xt + a * xtau / (1 + xtau**n)
    k2 = 2 * k1 + bh * k1
    k3 = 2 * k1 + bh * k2
    k4 = k1 + bh * k3
    return xt + (k1 + k2 + k3 + k4) / 6


def mackey_glass(
    n_timesteps: int,
    tau: int = 17,
    a: float = 0.2,
    b: float = 0.1,
    n: int = 10,
    x0: float = 1.2,
    h: float = 1.0,
    seed: int | None = MACKEY_GLASS_SEED,
    history: np.ndarray | None = None,
) -> np.ndarray:
    """Mackey-Glass series ``dx/dt = a x(t - tau) / (1 + x(t - tau)^n) - b x(t)``: (T, 1).

    Same discretisation and defaults as ``reservoirpy.datasets.mackey_glass`` (RK4 step of
    ``h`` with the delayed value ``x(t - tau)`` read from the ``floor(tau / h)`` previous
    steps); the history before ``t = 0`` is ``x0 + U(-0.1, 0.1)`` drawn with ``seed``
    (reservoirpy's default seed, 5555, so the default series equals reservoirpy's), or the
    last ``floor(tau / h)`` values of ``history``. ``tau=17`` is mildly chaotic, ``tau=30``
    more so.

    >>> x = mackey_glass(500)
    >>> x.shape, float(x[0, 0])
    ((500, 1), 1.2)
    """
    if not isinstance(n_timesteps, int | np.integer) or n_timesteps < 1:
        raise ValueError(f"n_timesteps must be a positive int, got {n_timesteps!r}")
    if h <= 0:
        raise ValueError(f"h (time step) must be > 0, got {h}")
    if tau < 0:
        raise ValueError(f"tau must be >= 0, got {tau}")
    history_length = int(math.floor(tau / h))
    if history is None:
        rng = np.random.default_rng(seed)
        past = x0 * np.ones(history_length) + 0.2 * (rng.random(history_length) - 0.5)
    else:
        history = np.asarray(history, dtype=np.float64).reshape(-1)
        if len(history) < history_length:
            raise ValueError(
                f"history has {len(history)} values but tau/h needs at least {history_length}; "
                "give a longer history"
            )
        past = history[len(history) - history_length :]
    series = np.empty(history_length + n_timesteps)
    series[:history_length] = past
    xt = x0
    for i in range(history_length, history_length + n_timesteps):
        series[i] = xt
        xtau = series[i - history_length] if tau > 0 else 0.0
        xt = _mg_rk4(xt, xtau, a, b, n, h)
    return series[history_length:].reshape(-1, 1)


def sine_mixture(
    n_timesteps: int,
    periods: Sequence[float] = (20.0, 31.4),
    amplitudes: Sequence[float] | None = None,
    phases: Sequence[float] | None = None,
    noise: float = 0.0,
    seed: int | None = 0,
) -> np.ndarray:
    """Sum of sines ``sum_k A_k sin(2 pi t / P_k + phi_k)`` plus Gaussian noise: (T, 1).

    Phases default to 0, amplitudes to 1; ``noise`` is the noise std, drawn with ``seed``.

    >>> sine_mixture(4, periods=[4.0]).round(6).ravel().tolist()
    [0.0, 1.0, 0.0, -1.0]
    """
    if not isinstance(n_timesteps, int | np.integer) or n_timesteps < 1:
        raise ValueError(f"n_timesteps must be a positive int, got {n_timesteps!r}")
    periods = [float(p) for p in periods]
    if not periods or min(periods) <= 0:
        raise ValueError(f"periods must be positive numbers, got {periods}")
    amps = np.ones(len(periods)) if amplitudes is None else np.asarray(amplitudes, dtype=float)
    phs = np.zeros(len(periods)) if phases is None else np.asarray(phases, dtype=float)
    if len(amps) != len(periods) or len(phs) != len(periods):
        raise ValueError(
            f"give one amplitude and one phase per period: {len(periods)} periods, "
            f"{len(amps)} amplitudes, {len(phs)} phases"
        )
    t = np.arange(n_timesteps, dtype=np.float64)[:, None]
    x = (amps * np.sin(2 * np.pi * t / np.asarray(periods) + phs)).sum(axis=1)
    if noise < 0:
        raise ValueError(f"noise (std) must be >= 0, got {noise}")
    if noise > 0:
        x = x + np.random.default_rng(seed).normal(0.0, noise, size=n_timesteps)
    return x.reshape(-1, 1)


# --------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------


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


def _read_csv_columns(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if not rows:
        raise ValueError(f"{path} is empty; expected a CSV with a header row")
    return rows[0], [r for r in rows[1:] if r]


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
                if not line.startswith("@"):
                    raise ValueError(
                        f"{path}:{lineno}: expected an @-header line or @data before the cases, "
                        f"got {line[:40]!r}"
                    )
                key, _, value = line[1:].partition(" ")
                key = key.lower()
                if key == "data":
                    in_data = True
                    if str(header.get("timestamps", "false")).lower() == "true":
                        raise ValueError(
                            f"{path}: @timeStamps true is not supported; only plain value lists "
                            "(@timeStamps false) can be read"
                        )
                    continue
                if key == "classlabel":
                    parts = value.split()
                    header["classlabel"] = bool(parts) and parts[0].lower() == "true"
                    header["class_names"] = parts[1:]
                else:
                    header[key] = value.strip()
                continue
            fields = line.split(":")
            has_label = header.get("classlabel", True)
            dims = fields[:-1] if has_label else fields
            if has_label:
                labels.append(fields[-1].strip())
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
            seqs.append(np.stack(channels, axis=1))
    if not in_data:
        raise ValueError(f"{path}: no @data line found; is this an sktime .ts file?")
    if not seqs:
        raise ValueError(f"{path}: no cases after @data")
    return seqs, labels, header


def japanese_vowels(split: str = "train", data_dir: PathLike | None = None) -> SequenceDataset:
    """Japanese Vowels (UCI; Kudo et al. 1999): 9 speakers, 12 LPC channels, 7-29 steps.

    ``split="train"`` gives the official 270 utterances, ``"test"`` the 370. Labels are
    0..8 for speakers "1".."9" (``label_names``).

    >>> ds = japanese_vowels("train", data_dir="../shared/data")  # doctest: +SKIP
    >>> len(ds), ds.num_features, ds.num_classes  # doctest: +SKIP
    (270, 12, 9)
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
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
