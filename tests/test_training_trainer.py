"""seqlab.fit: learning, determinism, resume, early stopping, run folder, errors."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch
from torch import nn

import seqlab
from seqlab.data.base import TextDataset
from seqlab.models.dense import BagOfWordsMLP
from seqlab.text import TextVectorizer
from seqlab.training.callbacks import Callback
from seqlab.training.trainer import build_optimizers, fit

POS = "good great fine wonderful superb moving".split()
NEG = "bad awful poor dull boring lifeless".split()
FILLER = "the a movie film plot actor scene story and of".split()


def toy(n: int = 120, seed: int = 0, classes: int = 2) -> TextDataset:
    """Short texts whose class shows in two of seven words."""
    rng = np.random.default_rng(seed)
    cues = [NEG, POS, "red green blue cyan pink gray".split()][:classes]
    texts, labels = [], []
    for i in range(n):
        y = i % classes
        words = list(rng.choice(FILLER, 5)) + list(rng.choice(cues[y], 2))
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append(y)
    names = ["neg", "pos", "other"][:classes] if classes <= 3 else None
    return TextDataset(texts, np.array(labels), names)


def bag_model(vec, seed=0, **kw):
    torch.manual_seed(seed)
    return BagOfWordsMLP(vec.vocab_size, **kw)


@pytest.fixture(scope="module")
def data():
    ds = toy()
    vec = TextVectorizer(output_mode="multi_hot").fit(ds.texts)
    return ds, vec


def test_trainer_learns_and_reports_history(data, tmp_path):
    ds, vec = data
    run = fit(bag_model(vec), vec, ds, epochs=4, lr=0.05, out=tmp_path / "r", progress=False)
    assert run.history["val_accuracy"][-1] >= 0.9
    assert set(run.history) >= {"epoch", "loss", "accuracy", "val_loss", "val_accuracy"}
    assert run.history["epoch"] == [1, 2, 3, 4]
    # train_time_s: the epoch's training pass alone; wall_time_s adds the validation pass;
    # time_s counts training seconds from the start (the x axis of a learning curve)
    h = run.history
    assert all(0 < a <= b for a, b in zip(h["train_time_s"], h["wall_time_s"]))
    assert h["time_s"] == pytest.approx(np.cumsum(h["train_time_s"]).tolist(), abs=0.01)
    assert h["step"] == [3, 6, 9, 12]
    best = run.metrics["best_epoch"]
    assert run.metrics["val"]["accuracy"] == run.history["val_accuracy"][best - 1]
    assert run.metrics["val"]["loss"] == min(run.history["val_loss"])
    assert run.metrics["monitor"] == "val_loss"
    assert run.train_config["train_size"] + run.train_config["val_size"] == len(ds)
    assert run.predict(["a wonderful superb film", "an awful dull plot"]) == ["pos", "neg"]
    folder = tmp_path / "r"
    for name in (
        "config.json",
        "vocab.json",
        "model.safetensors",
        "history.json",
        "metrics.json",
        "curves.png",
        "checkpoint/state.safetensors",
        "checkpoint/state.json",
    ):
        assert (folder / name).is_file(), name
    assert (folder / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((folder / "history.json").read_text())["loss"] == run.history["loss"]
    assert seqlab.fit is fit
    # more epochs continue the run exactly where it stopped
    more = fit(bag_model(vec), vec, ds, epochs=6, lr=0.05, out=folder, resume=True,
               progress=False)  # fmt: skip
    assert more.history["epoch"] == [1, 2, 3, 4, 5, 6]
    assert more.history["loss"][:4] == run.history["loss"]
    # --resume where nothing was trained is an error, not a silent fresh start
    with pytest.raises(FileNotFoundError, match="no checkpoint to resume from"):
        fit(bag_model(vec), vec, ds, epochs=2, out=tmp_path / "none", resume=True, progress=False)
    # and a folder holding a finished run is refused without overwrite=True
    with pytest.raises(ValueError, match="already holds a finished run; pass --overwrite"):
        fit(bag_model(vec), vec, ds, epochs=1, out=folder, progress=False)
    again = fit(bag_model(vec), vec, ds, epochs=1, out=folder, overwrite=True, progress=False)
    assert json.loads((folder / "history.json").read_text())["epoch"] == again.history["epoch"]


def test_trainer_same_seed_same_weights(data):
    ds, vec = data

    def train(seed):
        model = bag_model(vec, seed=seed, hidden_sizes=(8,), dropout=0.2)
        fit(model, vec, ds, epochs=2, seed=seed, progress=False)
        return model.state_dict()

    a, b, c = train(0), train(0), train(1)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


class _Kill(Callback):
    def __init__(self, epoch: int, batch: int) -> None:
        self.at = (epoch, batch)

    def on_batch_end(self, step, logs):
        if (logs["epoch"], logs["batch"]) == self.at:
            raise KeyboardInterrupt("simulated kill")


def test_trainer_resume_after_kill_equals_uninterrupted_run(data, tmp_path):
    ds, vec = data
    kw = dict(epochs=4, lr=0.01, progress=False, seed=3, batch_size=16)
    kw_model = dict(hidden_sizes=(8,), dropout=0.3, nb_scaling=True)
    whole = fit(bag_model(vec, **kw_model), vec, ds, out=tmp_path / "whole", **kw)

    with pytest.raises(KeyboardInterrupt):
        fit(
            bag_model(vec, **kw_model), vec, ds, out=tmp_path / "cut", callbacks=[_Kill(2, 1)], **kw
        )
    state = json.loads((tmp_path / "cut" / "checkpoint" / "state.json").read_text())
    assert state["epoch"] == 2  # the last finished epoch before the kill
    # a fresh model with other initial weights: everything must come from the checkpoint
    resumed = fit(
        bag_model(vec, seed=99, **kw_model), vec, ds, out=tmp_path / "cut", resume=True, **kw
    )
    for key, value in whole.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert resumed.history[key] == whole.history[key]


def test_trainer_resume_refuses_changed_arguments(data, tmp_path):
    ds, vec = data
    fit(bag_model(vec), vec, ds, epochs=1, out=tmp_path, progress=False)
    with pytest.raises(ValueError, match="batch_size=32 but this call has batch_size=8"):
        fit(
            bag_model(vec),
            vec,
            ds,
            epochs=2,
            batch_size=8,
            out=tmp_path,
            resume=True,
            progress=False,
        )
    # more epochs with the same arguments continue the run
    run = fit(bag_model(vec), vec, ds, epochs=2, out=tmp_path, resume=True, progress=False)
    assert run.history["epoch"] == [1, 2]


def test_trainer_early_stopping_restores_best_weights(tmp_path):
    # random labels: validation loss gets worse as the network memorises the training part
    rng = np.random.default_rng(0)
    ds = toy(80, seed=1)
    ds.labels = rng.integers(0, 2, len(ds))
    vec = TextVectorizer(output_mode="multi_hot").fit(ds.texts)
    val = toy(40, seed=2)
    val.labels = rng.integers(0, 2, len(val))
    run = fit(
        bag_model(vec, hidden_sizes=(32,)),
        vec,
        ds,
        val=val,
        epochs=30,
        lr=0.05,
        patience=2,
        progress=False,
    )
    hist = run.history["val_loss"]
    best = int(np.argmin(hist))
    assert run.metrics["stopped"] == "early_stopping"
    assert len(hist) == best + 1 + 2  # two epochs without improvement, then stop
    assert run.metrics["best_epoch"] == best + 1
    assert run.evaluate(val)["loss"] == pytest.approx(hist[best], rel=1e-5)


def test_trainer_monitor_val_accuracy_and_no_validation(data):
    ds, vec = data
    run = fit(bag_model(vec), vec, ds, epochs=2, monitor="val_accuracy", progress=False)
    assert run.metrics["best_score"] == max(run.history["val_accuracy"])
    run = fit(bag_model(vec), vec, ds, epochs=1, val_split=0, progress=False)
    assert "val_loss" not in run.history and run.metrics["monitor"] == "loss"
    with pytest.raises(ValueError, match="monitor='val_loss' needs validation data"):
        fit(bag_model(vec), vec, ds, val_split=0, monitor="val_loss", progress=False)


def test_trainer_multiclass_reports_macro_f1():
    ds = toy(90, classes=3)
    vec = TextVectorizer(output_mode="count").fit(ds.texts)
    run = fit(
        bag_model(vec, num_classes=3, nb_scaling=True), vec, ds, epochs=3, lr=0.05, progress=False
    )
    assert "f1_macro" in run.history and "val_f1_macro" in run.history
    assert run.history["val_f1_macro"][-1] > 0.8


def test_trainer_max_steps_stops_early(data):
    ds, vec = data
    run = fit(bag_model(vec), vec, ds, epochs=5, batch_size=8, max_steps=3, progress=False)
    assert run.metrics["stopped"] == "steps" and run.metrics["epochs_run"] == 1


class _MeanEmbedding(nn.Module):
    """A minimal sequence classifier to exercise the sequence path of the trainer."""

    input_kind = "sequence"

    def __init__(self, vocab_size: int, num_classes: int = 2) -> None:
        super().__init__()
        self.config = {"vocab_size": vocab_size, "num_classes": num_classes}
        self.embedding = nn.Embedding(vocab_size, 8, padding_idx=0)
        self.out = nn.Linear(8, num_classes)

    def forward(self, tokens, lengths):
        mask = (tokens != 0).unsqueeze(-1).float()  # (B, T, 1)
        mean = (self.embedding(tokens) * mask).sum(1) / lengths.clamp(min=1).unsqueeze(1)
        return self.out(mean)


def test_trainer_trains_sequence_models(data):
    ds, _ = data
    vec = TextVectorizer(output_mode="int").fit(ds.texts)
    torch.manual_seed(0)
    run = fit(_MeanEmbedding(vec.vocab_size), vec, ds, epochs=6, lr=0.05, progress=False)
    assert run.history["val_accuracy"][-1] >= 0.9
    with pytest.raises(ValueError, match="output_mode='int'"):
        fit(_MeanEmbedding(data[1].vocab_size), data[1], ds, epochs=1, progress=False)


def test_trainer_sparse_gradients_use_sparse_adam(data):
    ds, vec = data
    model = bag_model(vec, hidden_sizes=(8,), sparse=True)
    names = [type(o).__name__ for o in build_optimizers(model, "adam", lr=1e-3)]
    assert names == ["Adam", "SparseAdam"]
    run = fit(model, vec, ds, epochs=3, lr=0.05, progress=False)
    assert run.history["val_accuracy"][-1] >= 0.9
    with pytest.raises(ValueError, match="weight_decay=0.1 cannot be applied"):
        build_optimizers(model, "adam", lr=1e-3, weight_decay=0.1)
    with pytest.raises(ValueError, match="rmsprop"):
        build_optimizers(model, "rmsprop", lr=1e-3)


def test_trainer_bad_input_errors(data):
    ds, vec = data
    one_class = TextDataset(["good film", "great film"], np.array([1, 1]), ["neg", "pos"])
    with pytest.raises(ValueError, match="single class"):
        fit(bag_model(vec), vec, one_class, progress=False)
    empty = TextDataset([], np.array([], dtype=np.int64), ["neg", "pos"])
    with pytest.raises(ValueError, match="train is empty"):
        fit(bag_model(vec), vec, empty, progress=False)
    with pytest.raises(ValueError, match="vocab_size=5 but the vectorizer has"):
        fit(BagOfWordsMLP(5), vec, ds, progress=False)
    with pytest.raises(ValueError, match="num_classes=3 but the data has 2"):
        fit(BagOfWordsMLP(vec.vocab_size, num_classes=3), vec, ds, progress=False)
    with pytest.raises(ValueError, match="optimizer must be one of"):
        fit(bag_model(vec), vec, ds, optimizer="adagrad", progress=False)
    with pytest.raises(TypeError, match="TextDataset"):
        fit(bag_model(vec), vec, ds.texts, progress=False)
    with pytest.raises(ValueError, match="val_split must be in"):
        fit(bag_model(vec), vec, ds, val_split=1.5, progress=False)


def test_trainer_callback_can_stop_training(data, tmp_path):
    ds, vec = data

    class StopFirst(Callback):
        def on_epoch_end(self, epoch, logs):
            return "val_loss" in logs

    run = fit(bag_model(vec), vec, ds, epochs=5, callbacks=[StopFirst()], out=tmp_path,
              progress=False)  # fmt: skip
    assert run.metrics["stopped"] == "callback" and run.history["epoch"] == [1]
    state = json.loads((tmp_path / "checkpoint" / "state.json").read_text())
    assert state["stopped"] == "callback"


def test_trainer_threads_auto_sets_torchs_count_for_the_run(data, monkeypatch):
    # "auto": torch's count less the cores other work uses, for the run only
    from seqlab.training import runtime

    monkeypatch.setattr(runtime, "_running_tasks", lambda: 1 + 64)  # 64 other runnable tasks
    seen = []

    class Record(Callback):
        def on_batch_end(self, step, logs):
            seen.append(torch.get_num_threads())

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        ds, vec = data
        fit(bag_model(vec), vec, ds, epochs=1, threads="auto", callbacks=[Record()],
            progress=False)  # fmt: skip
        assert set(seen) == {1} and torch.get_num_threads() == 2
        monkeypatch.setattr(runtime, "_running_tasks", lambda: 1)  # a quiet machine
        seen.clear()
        fit(bag_model(vec), vec, ds, epochs=1, threads="auto", callbacks=[Record()],
            progress=False)  # fmt: skip
        assert set(seen) == {min(2, len(os.sched_getaffinity(0)))}
    finally:
        torch.set_num_threads(before)
    with pytest.raises(ValueError, match="threads must be an int >= 1, 'auto' or None"):
        fit(bag_model(vec), vec, ds, epochs=1, threads="many", progress=False)


def test_a_far_too_high_learning_rate_stops_with_a_message_naming_lr(data):
    ds, vec = data
    with pytest.raises(seqlab.training.loop.TrainingDiverged) as info:
        fit(bag_model(vec), vec, ds, epochs=3, lr=1e6, progress=False)
    message = str(info.value)
    assert "with lr=1000000.0; lower lr or set clip_grad_norm" in message
    assert "(from 0.8675) at step 2" in message  # the first step's loss, then 1.25e+05
