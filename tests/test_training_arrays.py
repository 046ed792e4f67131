"""seqlab.fit on Keras-style (x, y) arrays: padded token ids, bag matrices, run folders."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

import seqlab
from seqlab.models import build
from seqlab.text import pad_sequences


def _ids_task(n: int = 240, seed: int = 0):
    """Sequences of ids 3..19 of random lengths; class 1 when id 2 occurs (a cue word)."""
    rng = np.random.default_rng(seed)
    seqs, labels = [], []
    for i in range(n):
        seq = list(rng.integers(3, 20, rng.integers(3, 12)))
        if i % 2:
            seq[rng.integers(len(seq))] = 2
        seqs.append(seq)
        labels.append(i % 2)
    return seqs, np.array(labels)


def _fit(x, y, model="lstm", **kw):
    net = build(model, vocab_size=20, embedding_dim=8, hidden_size=8, seed=0)
    opts = {"epochs": 4, "lr": 0.03, "batch_size": 16, "progress": False, "seed": 0}
    return seqlab.fit(net, None, (x, y), **{**opts, **kw})


def test_padding_zeros_are_dropped_wherever_they_stand():
    seqs, y = _ids_task()
    pre = _fit(pad_sequences(seqs, maxlen=12, padding="pre"), y)
    post = _fit(pad_sequences(seqs, maxlen=12, padding="post"), y)
    ragged = _fit(seqs, y)
    for run in (post, ragged):
        for a, b in zip(pre.model.state_dict().values(), run.model.state_dict().values()):
            assert torch.equal(a, b)
    assert pre.history["val_accuracy"][-1] >= 0.9  # it learns the cue
    assert pre.labels == ["0", "1"] and pre.train_config["inputs"] == "arrays"


def test_val_arrays_predict_evaluate_and_the_run_folder(tmp_path):
    seqs, y = _ids_task()
    x = pad_sequences(seqs, maxlen=12)
    run = _fit(x[:200], y[:200], val=(x[200:], y[200:]), out=tmp_path / "run")
    assert run.train_config["val_size"] == 40
    assert not (tmp_path / "run" / "vocab.json").exists()
    back = seqlab.load(tmp_path / "run")
    assert back.vectorizer is None
    np.testing.assert_array_equal(back.predict_proba(x[200:]), run.predict_proba(x[200:]))
    metrics = back.evaluate((x[200:], y[200:]))
    assert metrics["n"] == 40 and metrics["accuracy"] == run.metrics["val"]["accuracy"]
    assert back.predict([[5, 2, 7]]) == ["1"]
    with pytest.raises(ValueError, match="trained on \\(x, y\\) arrays and has no vocabulary"):
        back.predict(["a text"])


@pytest.mark.parametrize("sparse", [False, True])
def test_bag_models_train_on_dense_or_sparse_rows(sparse):
    rng = np.random.default_rng(0)
    x = (rng.random((200, 30)) < 0.2).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    torch.manual_seed(0)
    net = build("bow-mlp", vocab_size=30)
    run = seqlab.fit(
        net, None, (sp.csr_matrix(x) if sparse else x, y), epochs=30, lr=0.05, progress=False
    )
    assert run.history["val_accuracy"][-1] >= 0.9


@pytest.mark.parametrize(
    "args, message",
    [
        ({"vectorizer": "vec"}, "pass vectorizer=None"),
        ({"x": [[1, 25]]}, r"token id 25 but the model has vocab_size=20"),
        (
            {"x": np.array([[0.5, 1.0]])},
            r"train's x has dtype float64; a sequence model reads integer token ids",
        ),
        ({"x": [[0, 0]]}, r"holds no token \(only padding 0s\)"),
        ({"x": [[1.5, 2.0], [3.0]]}, r"train's x: sequence 0 must be a 1-D array of int token"),
        ({"y": [0, 1, 1]}, "has 3 labels for 2 rows of x"),
        ({"y": ["a", "b"]}, "labels must be a 1-D array of ints"),
        ({"val": ([[3]], [5])}, "val has label 5 but train's labels are 0..1"),
        ({"val": "texts"}, r"give val as \(x, y\) arrays too"),
    ],
)
def test_bad_arrays_are_refused_with_the_fix(args, message):
    net = build("lstm", vocab_size=20, embedding_dim=4, hidden_size=4)
    x, y = args.get("x", [[3, 4], [5, 6, 7]]), args.get("y", [0, 1])
    with pytest.raises((ValueError, TypeError), match=message):
        seqlab.fit(
            net,
            args.get("vectorizer"),
            (x, y),
            val=args.get("val"),
            epochs=1,
            val_split=0,
            progress=False,
        )


def test_texts_without_a_vectorizer_are_refused():
    net = build("lstm", vocab_size=20, embedding_dim=4, hidden_size=4)
    ds = seqlab.data.base.TextDataset(["a b", "c d"], np.array([0, 1]), ["n", "p"])
    with pytest.raises(ValueError, match="vectorizer is None but train holds texts"):
        seqlab.fit(net, None, ds, epochs=1, val_split=0, progress=False)


@pytest.mark.parametrize("model", ["lstm", "rnn", "gru", "cnn", "kim-cnn", "tdnn"])
def test_bf16_precision_trains_every_sequence_model(model):
    seqs, y = _ids_task(120)
    net = build(model, vocab_size=20, embedding_dim=8, seed=0)
    run = seqlab.fit(
        net, None, (seqs, y), epochs=2, lr=0.01, progress=False, precision="bf16", val_split=0.25
    )
    assert np.isfinite(run.history["loss"]).all() and np.isfinite(run.history["val_loss"]).all()
    assert run.train_config["precision"] == "bf16"
    assert all(p.dtype == torch.float32 for p in run.model.parameters())


def test_is_encoded_tells_numbers_from_texts():
    from seqlab.data.arrays import is_encoded

    assert is_encoded(np.array([[0, 4, 5]])) and is_encoded([[4, 5], [6]])
    assert is_encoded(sp.csr_matrix(np.eye(2))) and is_encoded(np.array([[4, 5], [6]], object))
    assert not is_encoded(["a good film"]) and not is_encoded(np.array(["a good film"]))
    assert not is_encoded(np.array(["a", "b"], dtype=object)) and not is_encoded("text")
