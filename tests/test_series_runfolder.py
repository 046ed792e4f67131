"""The run folder of the neural series models: save, seqlab.load, fit(out=...), resume."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import seqlab
from seqlab.series import sine_mixture
from seqlab.series._neural_base import _SeriesTask
from seqlab.series.data import SequenceDataset
from seqlab.series.neural import NeuralForecaster, NeuralSequenceClassifier
from seqlab.training.loop import TrainingInterrupted

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = {"hidden_size": 8, "lags": 12, "epochs": 4, "batch_size": 32}
RUN_FILES = [
    ".run-files.json",
    "config.json",
    "curves.png",
    "history.json",
    "metrics.json",
    "model.safetensors",
]


def _sine(n: int = 300) -> np.ndarray:
    return sine_mixture(n, periods=(11.0, 23.0), noise=0.02, seed=0)


def _updown(n: int, seed: int) -> SequenceDataset:
    """Two classes of 2-channel sequences of 4..20 steps: channel 0 rises or falls."""
    rng = np.random.default_rng(seed)
    seqs, labels = [], []
    for i in range(n):
        t = int(rng.integers(4, 21))
        slope = (1.0 if i % 2 else -1.0) * rng.uniform(0.2, 0.4)
        ramp = slope * np.arange(t) + rng.normal(0.0, 0.3, t)
        seqs.append(np.stack([ramp + rng.normal(), rng.normal(size=t)], axis=1))
        labels.append(i % 2)
    return SequenceDataset(seqs, np.array(labels), ["down", "up"])


def test_series_runfolder_forecaster_round_trip_predicts_exactly(tmp_path: Path) -> None:
    u = np.concatenate([_sine(), np.cos(np.arange(300) / 3.0)[:, None]], axis=1)
    kwargs = {**TINY, "ar_lags": 4, "pool": 2, "ensemble": 2, "residual": True, "seed": 5}
    fc = NeuralForecaster("lstm", num_layers=2, **kwargs).fit(u[:-1], u[1:, :1])
    path = fc.save(tmp_path / "fc")
    assert sorted(p.name for p in path.iterdir()) == RUN_FILES
    back = seqlab.load(path)
    assert isinstance(back, NeuralForecaster)
    np.testing.assert_array_equal(back.predict(u[:-1]), fc.predict(u[:-1]))
    assert back.config == fc.config and back.best_epoch_ == fc.best_epoch_
    assert back.history_ == fc.history_ and len(back.networks_) == 2
    config = json.loads((path / "config.json").read_text())
    assert (config["task"], config["format"], config["class"]) == (
        "series-forecast",
        1,
        "NeuralForecaster",
    )
    assert config["config"]["num_layers"] == 2 and config["config"]["ensemble"] == 2
    assert sorted(config["fitted"]) == [
        "best_epoch", "input_dim", "input_mean", "input_scale", "output_dim", "target_mean",
        "target_scale",
    ]  # fmt: skip
    assert config["fitted"]["input_mean"] == fc.input_mean_.tolist()
    assert config["seqlab_version"] == seqlab.__version__
    history = json.loads((path / "history.json").read_text())
    assert history["epoch"] == [row["epoch"] for row in fc.history_]
    assert history["val_loss"] == [row["val_loss"] for row in fc.history_]
    assert history["loss"][0] is None  # epoch 0 (untrained) has only a validation loss
    assert {"step", "lr", "time_s", "train_time_s", "wall_time_s"} <= set(history)
    metrics = json.loads((path / "metrics.json").read_text())
    assert metrics["best_epoch"] == fc.best_epoch_ and len(metrics["ensemble"]) == 2
    assert (path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the same folder again is refused unless overwrite=True
    with pytest.raises(ValueError, match="already holds a finished run; pass --overwrite"):
        fc.save(path)
    fc.save(path, overwrite=True)


def test_series_runfolder_classifier_round_trip_predicts_exactly(tmp_path: Path) -> None:
    ds = _updown(60, seed=2)
    names = np.array(ds.label_names)[ds.labels]
    clf = NeuralSequenceClassifier(
        "tdnn", hidden_size=8, epochs=3, kernel_sizes=[3, 3], dilations=[1, 2]
    )
    clf.fit(ds.sequences, names)
    path = clf.save(tmp_path / "clf")
    back = seqlab.load(path)
    assert isinstance(back, NeuralSequenceClassifier)
    np.testing.assert_array_equal(back.predict_proba(ds.sequences), clf.predict_proba(ds.sequences))
    assert back.classes_ == ["down", "up"] and list(back.predict(ds.sequences[:3])) == list(
        clf.predict(ds.sequences[:3])
    )
    config = json.loads((path / "config.json").read_text())
    assert (config["task"], config["class"]) == ("series-classify", "NeuralSequenceClassifier")
    assert config["fitted"]["classes"] == ["down", "up"]
    assert config["config"]["kernel_sizes"] == [3, 3] and config["config"]["model"] == "tdnn"
    assert NeuralSequenceClassifier.load(path).classes_ == ["down", "up"]
    with pytest.raises(ValueError, match=r"holds a 'series-classify' run .*not a NeuralForecaster"):
        NeuralForecaster.load(path)
    with pytest.raises(ValueError, match="not fitted yet"):
        NeuralSequenceClassifier().save(tmp_path / "unfitted")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        seqlab.load(tmp_path / "nowhere")


def test_series_runfolder_fit_out_checkpoints_and_resumes_with_more_epochs(
    tmp_path: Path,
) -> None:
    u = _sine()
    kwargs = {**TINY, "lr_decay": 1.0, "patience": 50}
    short = NeuralForecaster("gru", **{**kwargs, "epochs": 2}).fit(u[:-1], u[1:], out=tmp_path)
    for name in [*RUN_FILES[1:], "checkpoint/state.safetensors", "checkpoint/state.json"]:
        assert (tmp_path / name).is_file(), name
    assert [row["epoch"] for row in short.history_] == [0, 1, 2]
    with pytest.raises(ValueError, match="already holds a finished run"):
        NeuralForecaster("gru", **kwargs).fit(u[:-1], u[1:], out=tmp_path)
    more = NeuralForecaster("gru", **{**kwargs, "epochs": 5})
    more.fit(u[:-1], u[1:], out=tmp_path, resume=True)
    whole = NeuralForecaster("gru", **{**kwargs, "epochs": 5}).fit(u[:-1], u[1:])
    assert [row["epoch"] for row in more.history_] == [0, 1, 2, 3, 4, 5]
    assert [r["val_loss"] for r in more.history_] == [r["val_loss"] for r in whole.history_]
    np.testing.assert_array_equal(more.predict(u[:-1]), whole.predict(u[:-1]))
    np.testing.assert_array_equal(seqlab.load(tmp_path).predict(u[:-1]), whole.predict(u[:-1]))
    # resume checks the settings and the data
    with pytest.raises(ValueError, match="made with settings=.*'hidden_size': 8"):
        NeuralForecaster("gru", **{**kwargs, "hidden_size": 4}).fit(
            u[:-1], u[1:], out=tmp_path, resume=True
        )
    with pytest.raises(ValueError, match="made with data="):
        NeuralForecaster("gru", **kwargs).fit(u[1:], u[:-1], out=tmp_path, resume=True)
    with pytest.raises(FileNotFoundError, match="no checkpoint to resume from"):
        NeuralForecaster("gru", **kwargs).fit(u[:-1], u[1:], out=tmp_path / "new", resume=True)
    with pytest.raises(ValueError, match=r"resume=True needs out="):
        NeuralForecaster("gru", **kwargs).fit(u[:-1], u[1:], resume=True)


def test_series_runfolder_resume_after_kill_equals_uninterrupted_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ds = _updown(80, seed=4)
    kwargs = {"hidden_size": 8, "epochs": 4, "batch_size": 16, "dropout": 0.2, "seed": 1}
    whole = NeuralSequenceClassifier("lstm", **kwargs).fit(ds.sequences, ds.labels)

    calls = {"n": 0}
    loss = _SeriesTask.loss

    def killed(self, model, idx):  # the 7th batch: epoch 2 (4 batches an epoch), batch 3
        calls["n"] += 1
        if calls["n"] == 7:
            raise KeyboardInterrupt("simulated kill")
        return loss(self, model, idx)

    monkeypatch.setattr(_SeriesTask, "loss", killed)
    with pytest.raises(TrainingInterrupted, match="continue with --resume"):
        NeuralSequenceClassifier("lstm", **kwargs).fit(ds.sequences, ds.labels, out=tmp_path)
    state = json.loads((tmp_path / "checkpoint" / "state.json").read_text())
    assert (state["epoch"], state["batch_index"], state["step"]) == (1, 2, 6)
    assert not (tmp_path / "config.json").exists()
    with pytest.raises(FileNotFoundError, match="unfinished run"):
        seqlab.load(tmp_path)
    resumed = NeuralSequenceClassifier("lstm", **kwargs)
    resumed.fit(ds.sequences, ds.labels, out=tmp_path, resume=True)
    for key, value in whole.network_.state_dict().items():
        assert torch.equal(value, resumed.network_.state_dict()[key]), key
    assert [r["val_loss"] for r in resumed.history_] == [r["val_loss"] for r in whole.history_]
    np.testing.assert_array_equal(
        seqlab.load(tmp_path).predict_proba(ds.sequences), whole.predict_proba(ds.sequences)
    )


def test_series_runfolder_ensemble_resumes_member_by_member(tmp_path: Path) -> None:
    u = _sine()
    kwargs = {**TINY, "val_split": 0.0, "ensemble": 2, "seed": 3}
    NeuralForecaster("rnn", **{**kwargs, "epochs": 2}).fit(u[:-1], u[1:], out=tmp_path)
    assert sorted(p.name for p in (tmp_path / "checkpoint").iterdir()) == ["member-0", "member-1"]
    more = NeuralForecaster("rnn", **kwargs).fit(u[:-1], u[1:], out=tmp_path, resume=True)
    whole = NeuralForecaster("rnn", **kwargs).fit(u[:-1], u[1:])
    np.testing.assert_array_equal(more.predict(u[:-1]), whole.predict(u[:-1]))
    assert [row["epoch"] for row in more.history_] == [1, 2, 3, 4]
