"""``seqlab series classify`` on GPS-style tracks from a CSV, and the run folders that the
series commands write for neural models."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import seqlab
from seqlab.cli.series import series
from seqlab.series.forecast import StandardScaler, rmse, split_by_time
from seqlab.series.loaders import TrackColumns, load_sequence_dataset, load_series
from seqlab.series.neural import NeuralForecaster, NeuralSequenceClassifier

pytestmark = pytest.mark.usefixtures("one_thread")

TRACK_ARGS = ["--id-column", "ID", "--time-column", "T", "--label-column", "mode"]


def write_tracks(path: Path, n: int = 120, seed: int = 0) -> Path:
    """GPS-style trips, one row per fix, rows shuffled: walks (1.5 m/s on average) and bike
    rides (3 m/s), with a per-fix speed noise of 1.5 m/s, so that one fix cannot tell them
    apart but a trip can; lat / lon integrate speed along a wandering heading, from a random
    start in Berlin, every 4-6 s."""
    rng = np.random.default_rng(seed)
    rows = []
    base = np.datetime64("2024-05-01T08:00:00")
    for i in range(n):
        mode = ("walk", "cycle")[i % 2]
        steps = int(rng.integers(12, 31))
        speed = np.clip(rng.normal(1.5 if mode == "walk" else 3.0, 1.5, steps), 0.0, None)
        heading = np.cumsum(rng.normal(0.0, 0.3, steps)) + rng.uniform(0, 2 * np.pi)
        dt = rng.uniform(4.0, 6.0, steps)
        north = np.cumsum(speed * dt * np.cos(heading))
        east = np.cumsum(speed * dt * np.sin(heading))
        lat = 52.52 + rng.normal(0, 0.02) + north / 111_320.0
        lon = 13.40 + rng.normal(0, 0.02) + east / (111_320.0 * np.cos(np.radians(52.52)))
        start = base + np.timedelta64(int(rng.integers(0, 86_400)), "s")
        times = start + (np.cumsum(dt) * 1000).astype("timedelta64[ms]")
        for t in range(steps):
            rows.append(
                f"trip-{i:03d},{str(times[t])[:19]},{lat[t]:.6f},{lon[t]:.6f},{speed[t]:.2f},"
                f"phone,{mode}"
            )
    order = rng.permutation(len(rows))
    path.write_text("ID,T,lat,lon,speed,device,mode\n" + "\n".join(rows[j] for j in order) + "\n")
    return path


@pytest.fixture(scope="module")
def tracks_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tracks(tmp_path_factory.mktemp("tracks") / "trips.csv")


def _invoke(*args: str) -> str:
    result = CliRunner().invoke(series, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _refused(*args: str) -> str:
    result = CliRunner().invoke(series, list(args))
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and result.output.count("Error") == 1
    return result.output


def test_series_cli_classifies_gps_tracks_into_a_run_folder(
    tracks_csv: Path, tmp_path: Path
) -> None:
    out = tmp_path / "trips"
    text = _invoke(
        "classify", "--data", str(tracks_csv), *TRACK_ARGS, "--feature-columns", "lat,lon,speed",
        "--test-split", "0.25", "--model", "gru", "--set", "hidden_size=16", "--set", "epochs=40",
        "--device", "cpu", "--out", str(out),
    )  # fmt: skip
    assert f"{tracks_csv}: 90 train / 30 test sequences" in text
    accuracy = float(text.split("test accuracy: ")[1].split()[0])
    assert accuracy >= 0.85  # chance is 0.5: the network learnt speed from noisy fixes
    assert f"wrote the run folder {out}" in text
    assert sorted(p.name for p in out.iterdir()) == [
        ".run-files.json", "config.json", "confusion.png", "curves.png", "history.json",
        "metrics.json", "model.safetensors",
    ]  # fmt: skip
    config = json.loads((out / "config.json").read_text())
    assert config["task"] == "series-classify"
    assert config["experiment"]["label_names"] == ["cycle", "walk"]
    assert config["experiment"]["tracks"] == {
        "id_column": "ID", "time_column": "T", "feature_columns": ["lat", "lon", "speed"],
        "label_column": "mode",
    }  # fmt: skip
    metrics = json.loads((out / "metrics.json").read_text())
    assert round(metrics["test_accuracy"], 4) == accuracy and metrics["n_test"] == 30
    assert metrics["stopped"] in ("epochs", "early_stopping")  # the training summary too
    # the folder gives back the classifier that scored the test tracks
    clf = seqlab.load(out)
    assert isinstance(clf, NeuralSequenceClassifier)
    columns = TrackColumns("ID", "T", ["lat", "lon", "speed"], "mode")
    _, test = load_sequence_dataset(str(tracks_csv), tracks=columns, test_split=0.25, seed=0)
    assert clf.score(test.sequences, test.labels) == metrics["test_accuracy"]


def test_series_cli_tracks_with_the_esn_and_default_features(
    tracks_csv: Path, tmp_path: Path
) -> None:
    # default features: every column but ID, T and mode, so the text column is refused
    bad = _refused("classify", "--data", str(tracks_csv), *TRACK_ARGS)
    assert "feature columns ['lat', 'lon', 'speed', 'device'] must be numeric" in bad
    out = tmp_path / "esn"
    text = _invoke(
        "classify", "--data", str(tracks_csv), *TRACK_ARGS, "--feature-columns", "speed",
        "--units", "100", "--out", str(out),
    )  # fmt: skip
    assert "96 train / 24 test sequences" in text  # --test-split 0.2 of each label's tracks
    assert float(text.split("test accuracy: ")[1].split()[0]) >= 0.9
    assert sorted(p.name for p in out.iterdir()) == ["confusion.png", "metrics.json"]


def test_series_cli_tracks_errors_are_one_line(tracks_csv: Path, tmp_path: Path) -> None:
    csv = str(tracks_csv)
    assert "give --id-column and --time-column" in _refused("classify", "--data", csv)
    assert "give --time-column" in _refused("classify", "--data", csv, "--id-column", "ID")
    out = _refused("classify", "--data", csv, *TRACK_ARGS[:4], "--label-column", "kind")
    assert "has no column 'kind'; its columns are ['ID', 'T', 'lat', 'lon'" in out
    out = _refused("classify", "--data", csv, *TRACK_ARGS, "--feature-columns", "speed,alt")
    assert "has no column 'alt'" in out
    out = _refused("classify", "--data", csv, *TRACK_ARGS, "--feature-columns", " , ")
    assert "' , ' names no column" in out
    out = _refused("classify", "--data", csv, *TRACK_ARGS, "--feature-columns", "speed,mode")
    assert "label column 'mode' is also among the feature columns" in out
    out = _refused("classify", "--id-column", "ID", "--test-split", "0.3")
    assert "--id-column, --test-split apply to a CSV of tracks" in out
    out = _refused("classify", "--label-column", "mode")
    assert "--label-column applies to a CSV of tracks (--data PATH.csv), but --data is" in out
    # a track whose label changes is named
    changed = tmp_path / "changed.csv"
    lines = tracks_csv.read_text().splitlines()
    row = next(i for i, line in enumerate(lines) if line.startswith("trip-007,"))
    assert lines[row].endswith(",cycle")  # odd trips are bike rides
    lines[row] = lines[row].removesuffix(",cycle") + ",walk"
    changed.write_text("\n".join(lines) + "\n")
    out = _refused("classify", "--data", str(changed), *TRACK_ARGS, "--feature-columns", "speed")
    assert "track 'trip-007' has 2 labels" in out and "every row of a track" in out
    one = tmp_path / "one.csv"
    one.write_text("ID,T,x,label\na,0,1,walk\na,1,2,walk\nb,0,3,walk\n")
    out = _refused("classify", "--data", str(one), "--id-column", "ID", "--time-column", "T")
    assert "holds 1 label(s) ['walk']; classification needs tracks of at least 2" in out


def test_series_cli_evaluate_lstm_writes_a_run_folder_that_reproduces_the_test_scores(
    tmp_path: Path,
) -> None:
    out = tmp_path / "lstm"
    args = [
        "evaluate", "--data", "sine", "--n-timesteps", "300", "--model", "lstm", "--lags", "5",
        "--set", "epochs=3", "--set", "hidden_size=8", "--set", "lags=8", "--device", "cpu",
        "--out", str(out),
    ]  # fmt: skip
    assert f"wrote the run folder {out}" in _invoke(*args)
    fc = seqlab.load(out)
    assert isinstance(fc, NeuralForecaster) and fc.config["lags"] == 8
    config = json.loads((out / "config.json").read_text())
    experiment = config["experiment"]
    assert (experiment["data"], experiment["horizon"], experiment["n_timesteps"]) == (
        "sine",
        1,
        300,
    )
    # the loaded model reads the series standardised with the saved scaler and gives the
    # test predictions that were scored
    raw = load_series("sine", n_timesteps=300).values
    z = StandardScaler.from_dict(experiment["scaler"]).transform(raw)
    steps = split_by_time(300, 0.1, 0.2).steps("test", 1)
    pred = fc.predict(z[:-1][: steps.stop])[steps]
    pred = StandardScaler.from_dict(experiment["scaler"]).inverse_transform(pred)
    metrics = json.loads((out / "metrics.json").read_text())
    assert (
        rmse(raw[steps.start + 1 : steps.stop + 1], pred)
        == metrics["metrics"]["lstm"]["test"]["rmse"]
    )
    # a second run into the folder is refused before any training, and --overwrite replaces it
    refused = _refused(*args)
    assert "already holds a finished run; pass --overwrite" in refused
    assert "persistence" not in refused
    assert f"wrote the run folder {out}" in _invoke(*args, "--overwrite")
