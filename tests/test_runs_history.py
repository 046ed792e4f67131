"""Keras 2's history['acc'] / history['val_acc'], and run folders from before init / head."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import seqlab
from seqlab.data.base import TextDataset
from seqlab.history import History
from seqlab.models.rnn import LSTMClassifier
from seqlab.text import TextVectorizer
from seqlab.training.protocol import history_dict
from seqlab.training.trainer import fit

pytestmark = pytest.mark.usefixtures("one_thread")

POSITIVE, NEGATIVE = ["superb", "moving", "great"], ["dull", "awful", "boring"]
TEXTS = [f"a {w} film with a {w} cast" for w in POSITIVE + NEGATIVE] * 6
LABELS = np.array([1, 1, 1, 0, 0, 0] * 6)


def test_runs_history_aliases_acc_and_val_acc() -> None:
    h = History({"loss": [0.7, 0.6], "accuracy": [0.5, 0.75], "val_accuracy": [0.4, 0.8]})
    assert h["acc"] == [0.5, 0.75] and h["val_acc"] == [0.4, 0.8]
    assert h.get("acc") == [0.5, 0.75] and h.get("val_loss", "none") == "none"
    assert "acc" in h and "val_acc" in h and "val_loss" not in h and "f1" not in h
    assert list(h) == ["loss", "accuracy", "val_accuracy"] and len(h) == 3
    assert json.loads(json.dumps(h)) == {
        "loss": [0.7, 0.6],
        "accuracy": [0.5, 0.75],
        "val_accuracy": [0.4, 0.8],
    }
    with pytest.raises(KeyError, match="val_acc"):
        History({"loss": [1.0]})["val_acc"]  # no accuracy at all: still a KeyError
    with pytest.raises(KeyError):
        h["f1_macro"]
    rows = history_dict([{"epoch": 1, "accuracy": 0.5}, {"epoch": 2, "accuracy": 0.7}])
    assert isinstance(rows, History) and rows["acc"] == [0.5, 0.7]


@pytest.fixture(scope="module")
def lstm_run(tmp_path_factory):
    ds = TextDataset(TEXTS, LABELS, ["neg", "pos"])
    vec = TextVectorizer(output_mode="int").fit(ds.texts)
    model = LSTMClassifier(vocab_size=vec.vocab_size, embedding_dim=8, hidden_size=8,
                           head="sigmoid", init="keras")  # fmt: skip
    out = tmp_path_factory.mktemp("hist") / "run"
    run = fit(model, vec, ds, epochs=2, val_split=0.25, out=out, progress=False, device="cpu")
    return run, out, ds


def test_runs_history_fit_and_load_answer_to_acc(lstm_run) -> None:
    run, out, _ = lstm_run
    assert run.history["acc"] == run.history["accuracy"] and len(run.history["acc"]) == 2
    assert run.history["val_acc"] == run.history["val_accuracy"]
    stored = json.loads((out / "history.json").read_text())
    assert "acc" not in stored and "val_acc" not in stored and "accuracy" in stored
    loaded = seqlab.load(out)
    assert isinstance(loaded.history, History)
    assert loaded.history["val_acc"] == stored["val_accuracy"]


def test_runs_history_sigmoid_keras_run_round_trips(lstm_run) -> None:
    run, out, ds = lstm_run
    loaded = seqlab.load(out)
    assert loaded.model.config["head"] == "sigmoid" and loaded.model.config["init"] == "keras"
    assert loaded.model.head.weight.shape == (1, 8)
    np.testing.assert_allclose(loaded.predict_proba(ds.texts), run.predict_proba(ds.texts))
    proba = loaded.predict_proba(ds.texts)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-6)
    assert "Total params: " in loaded.summary() and "(None, 1)" in loaded.summary()


def test_runs_history_old_run_folders_mean_torch_and_softmax(lstm_run, tmp_path) -> None:
    _, _, ds = lstm_run
    vec = TextVectorizer(output_mode="int").fit(ds.texts)
    model = LSTMClassifier(vocab_size=vec.vocab_size, embedding_dim=8, hidden_size=8)
    out = tmp_path / "old"
    run = fit(model, vec, ds, epochs=1, out=out, progress=False, device="cpu")
    config = json.loads((out / "config.json").read_text())
    assert config["model"]["config"]["init"] == "torch"
    for key in ("init", "head", "unit_forget_bias"):  # as a run written before they existed
        del config["model"]["config"][key]
    (out / "config.json").write_text(json.dumps(config))
    loaded = seqlab.load(out)
    assert loaded.model.config["init"] == "torch" and loaded.model.config["head"] == "softmax"
    assert loaded.model.config["unit_forget_bias"] is False
    torch.testing.assert_close(
        torch.as_tensor(loaded.predict_proba(ds.texts)),
        torch.as_tensor(run.predict_proba(ds.texts)),
    )
