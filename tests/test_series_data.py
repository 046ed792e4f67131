"""Series generators and loaders: Mackey-Glass, sines, .ts files, tracks, the real data files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from seqlab.series.data import (
    find_data_file,
    japanese_vowels,
    load_tracks,
    mackey_glass,
    read_ts,
    santafe_laser,
    sine_mixture,
    sunspots,
)


def test_series_mackey_glass_matches_reservoirpy_values() -> None:
    # reference values printed by reservoirpy 0.4.2: mackey_glass(2000) and
    # mackey_glass(500, tau=30, seed=1)
    x = mackey_glass(2000)
    assert x.shape == (2000, 1)
    np.testing.assert_allclose(
        x[[0, 1, 17, 100, 1000, 1999], 0],
        [
            1.2,
            1.13753884113329,
            0.47702183520111513,
            1.2965979311384965,
            0.8128575682575481,
            0.9487498037920479,
        ],
        rtol=1e-12,
    )
    y = mackey_glass(500, tau=30, seed=1)
    np.testing.assert_allclose(
        y[[0, 50, 499], 0], [1.2, 1.027096449066841, 0.6900059302730807], rtol=1e-12
    )


def test_series_mackey_glass_seed_history_and_errors() -> None:
    np.testing.assert_array_equal(mackey_glass(300, seed=3), mackey_glass(300, seed=3))
    assert not np.array_equal(mackey_glass(300, seed=3), mackey_glass(300, seed=4))
    hist = np.full(40, 0.9)
    a = mackey_glass(100, history=hist)
    b = mackey_glass(100, history=hist[-17:])
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="history has 5 values"):
        mackey_glass(10, history=np.ones(5))
    with pytest.raises(ValueError, match="n_timesteps"):
        mackey_glass(0)


def test_series_sine_mixture_values_and_noise() -> None:
    x = sine_mixture(8, periods=[8.0], amplitudes=[2.0])
    np.testing.assert_allclose(x[:3, 0], [0.0, 2 * np.sin(np.pi / 4), 2.0], atol=1e-12)
    noisy = sine_mixture(100, noise=0.1, seed=1)
    np.testing.assert_array_equal(noisy, sine_mixture(100, noise=0.1, seed=1))
    assert 0.05 < np.std(noisy - sine_mixture(100)) < 0.15
    with pytest.raises(ValueError, match="one amplitude and one phase per period"):
        sine_mixture(10, periods=[5.0, 7.0], amplitudes=[1.0])


def _write_ts(path: Path) -> Path:
    path.write_text(
        "# a comment\n"
        "#\n"
        "@problemName Tiny\n"
        "@timeStamps false\n"
        "@missing true\n"
        "@univariate false\n"
        "@dimensions 3\n"
        "@equalLength false\n"
        "@classLabel true up down\n"
        "@data\n"
        "1.0,2.0,3.0:4,5,6:-1e-1,?,0.5:up\n"
        "\n"
        "7:8:9:down\n"
    )
    return path


def test_series_read_ts_parses_header_values_and_labels(tmp_path: Path) -> None:
    seqs, labels, header = read_ts(_write_ts(tmp_path / "tiny.ts"))
    assert labels == ["up", "down"]
    assert header["problemname"] == "Tiny" and header["class_names"] == ["up", "down"]
    assert seqs[0].shape == (3, 3) and seqs[1].shape == (1, 3)
    np.testing.assert_array_equal(seqs[0][:, 0], [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(seqs[0][:, 1], [4.0, 5.0, 6.0])
    assert seqs[0][0, 2] == -0.1 and np.isnan(seqs[0][1, 2])
    np.testing.assert_array_equal(seqs[1], [[7.0, 8.0, 9.0]])


def test_series_read_ts_rejects_malformed_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.ts"
    bad.write_text("@dimensions 2\n@data\n1,2:3:a\n")
    with pytest.raises(ValueError, match="different lengths"):
        read_ts(bad)
    bad.write_text("@dimensions 3\n@data\n1:2:a\n")
    with pytest.raises(ValueError, match="header says @dimensions 3"):
        read_ts(bad)
    bad.write_text("1,2,3\n")
    with pytest.raises(ValueError, match="@-header"):
        read_ts(bad)
    bad.write_text("@timeStamps true\n@data\n(0,1):a\n")
    with pytest.raises(ValueError, match="timeStamps true is not supported"):
        read_ts(bad)
    with pytest.raises(FileNotFoundError, match="no such .ts file"):
        read_ts(tmp_path / "none.ts")


def test_series_japanese_vowels_from_a_written_folder(tmp_path: Path) -> None:
    folder = tmp_path / "timeseries"
    folder.mkdir()
    _write_ts(folder / "JapaneseVowels_TRAIN.ts")
    ds = japanese_vowels("train", data_dir=tmp_path)
    assert ds.label_names == ["up", "down"] and ds.labels.tolist() == [0, 1]
    x, lens = ds.padded()
    assert x.shape == (2, 3, 3) and lens.tolist() == [3, 1]


def test_series_data_dir_errors_name_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SEQLAB_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match="SEQLAB_DATA.*--data-dir"):
        santafe_laser()
    with pytest.raises(FileNotFoundError, match="santafe_laser.csv not found"):
        santafe_laser(data_dir=tmp_path)
    (tmp_path / "santafe_laser.csv").write_text("intensity\n1\n2\n")
    monkeypatch.setenv("SEQLAB_DATA", str(tmp_path))
    assert santafe_laser().values.ravel().tolist() == [1.0, 2.0]
    assert find_data_file("santafe_laser.csv") == tmp_path / "santafe_laser.csv"


def test_series_load_tracks_groups_and_sorts_by_time(tmp_path: Path) -> None:
    path = tmp_path / "gps.csv"
    path.write_text(
        "track,timestamp,lat,lon,name\n"
        "b,2024-01-01T00:00:10,48.1,11.5,x\n"
        "a,2024-01-01T00:00:05,52.5,13.4,y\n"
        "b,2024-01-01T00:00:00,48.0,11.4,z\n"
        "a,2024-01-01T00:00:00,52.4,13.3,w\n"
        "b,2024-01-01T00:00:20,48.2,11.6,v\n"
    )
    tr = load_tracks(path, "track", "timestamp", ["lat", "lon"])
    assert tr.ids == ["b", "a"] and tr.feature_names == ["lat", "lon"]
    np.testing.assert_array_equal(tr.sequences[0], [[48.0, 11.4], [48.1, 11.5], [48.2, 11.6]])
    np.testing.assert_array_equal(tr.times[0], [0.0, 10.0, 20.0])
    np.testing.assert_array_equal(tr.sequences[1][:, 0], [52.4, 52.5])
    with pytest.raises(ValueError, match="must be numeric"):
        load_tracks(path, "track", "timestamp")  # 'name' is text
    with pytest.raises(ValueError, match="no column 'time'"):
        load_tracks(path, "track", "time", ["lat"])
    numeric = tmp_path / "num.csv"
    numeric.write_text("id;t;v\n1;3.5;30\n1;1.5;10\n")
    tr = load_tracks(numeric, "id", "t", delimiter=";")
    assert tr.times[0].tolist() == [1.5, 3.5] and tr.sequences[0].ravel().tolist() == [10.0, 30.0]


def test_series_real_files_load(shared_data: Path) -> None:
    laser = santafe_laser(shared_data)
    assert laser.values.shape == (10093, 1) and laser.values[:2, 0].tolist() == [86.0, 141.0]
    sun = sunspots(shared_data)
    assert sun.values.shape == (3177, 1)
    assert sun.time[0] == 1749.0 and sun.values[1, 0] == 62.6
    train = japanese_vowels("train", shared_data)
    test = japanese_vowels("test", shared_data)
    assert (len(train), len(test), train.num_features, train.num_classes) == (270, 370, 12, 9)
    lens = np.concatenate([train.lengths, test.lengths])
    assert lens.min() == 7 and lens.max() == 29
    assert np.bincount(train.labels).tolist() == [30] * 9
