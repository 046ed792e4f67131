"""Run folders: save, load, predict, evaluate (seqlab.runs)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import seqlab
import seqlab.lm
from seqlab.data.base import TextDataset
from seqlab.models.dense import BagOfWordsMLP
from seqlab.runs import Run, load, predict_logits
from seqlab.text import TextVectorizer
from seqlab.training.trainer import fit

TEXTS = [
    "a wonderful superb film",
    "great moving story",
    "fine and good acting",
    "an awful dull plot",
    "boring poor acting",
    "bad lifeless film",
] * 6
LABELS = np.array([1, 1, 1, 0, 0, 0] * 6)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    ds = TextDataset(TEXTS, LABELS, ["neg", "pos"])
    vec = TextVectorizer(output_mode="tf_idf", ngram_range=(1, 2)).fit(ds.texts)
    torch.manual_seed(0)
    model = BagOfWordsMLP(vec.vocab_size, hidden_sizes=(4,), nb_scaling=True)
    out = tmp_path_factory.mktemp("run")
    run = fit(model, vec, ds, epochs=3, lr=0.05, out=out, progress=False)
    return run, out, ds


def test_runs_load_gives_equal_logits(trained):
    run, out, ds = trained
    loaded = seqlab.load(out)
    assert isinstance(loaded, Run)
    assert loaded.labels == ["neg", "pos"]
    assert loaded.model.config == run.model.config
    before = predict_logits(run.model, run.encode(ds.texts))
    after = predict_logits(loaded.model, loaded.encode(ds.texts))
    torch.testing.assert_close(after, before, rtol=0, atol=0)
    assert torch.equal(loaded.model.nb_ratio, run.model.nb_ratio)
    assert loaded.history == run.history
    assert loaded.metrics == json.loads((out / "metrics.json").read_text())
    config = json.loads((out / "config.json").read_text())
    assert config["task"] == "classify" and config["model"]["name"] == "bow-mlp"
    assert config["seqlab_version"] == seqlab.__version__


def test_runs_predict_and_evaluate(trained):
    run, out, ds = trained
    loaded = load(out)
    proba = loaded.predict_proba(["superb moving film", "dull poor plot"])
    assert proba.shape == (2, 2)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-6)
    assert loaded.predict(["superb moving film", "dull poor plot"]) == ["pos", "neg"]
    metrics = loaded.evaluate(ds)
    predicted = loaded.predict(ds.texts)
    truth = [ds.label_names[y] for y in ds.labels]
    assert metrics["accuracy"] == np.mean([p == t for p, t in zip(predicted, truth)]) > 0.8
    assert metrics["n"] == len(ds)
    assert np.array(metrics["confusion_matrix"]).sum() == len(ds)
    # labels are matched by name, whatever their order in the other dataset
    swapped = TextDataset(ds.texts, 1 - ds.labels, ["pos", "neg"])
    assert loaded.evaluate(swapped)["accuracy"] == metrics["accuracy"]
    with pytest.raises(ValueError, match="never learned"):
        loaded.evaluate(TextDataset(["x"], [0], ["spam"]))
    with pytest.raises(TypeError, match="single str"):
        loaded.predict("one text")


def test_runs_save_elsewhere_and_reload(trained, tmp_path):
    run, _, ds = trained
    copy = run.save(tmp_path / "copy")
    assert sorted(p.name for p in copy.iterdir() if not p.name.startswith(".")) == [
        "config.json",
        "curves.png",
        "history.json",
        "metrics.json",
        "model.safetensors",
        "vocab.json",
    ]
    again = load(copy)
    np.testing.assert_array_equal(again.predict_proba(ds.texts), run.predict_proba(ds.texts))


def test_runs_missing_folder_or_file_is_file_not_found(trained, tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load(tmp_path / "nowhere")
    _, out, _ = trained
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "config.json").write_bytes((out / "config.json").read_bytes())
    with pytest.raises(FileNotFoundError, match="vocab.json is missing"):
        load(partial)


def test_runs_unregistered_model_cannot_be_saved(tmp_path):
    class Plain(torch.nn.Module):
        input_kind = "bag"

    vec = TextVectorizer(output_mode="multi_hot").fit(["a b"])
    with pytest.raises(TypeError, match="must be registered"):
        Run(Plain(), vec, ["neg", "pos"]).save(tmp_path)


def test_runs_load_returns_the_object_of_every_task(trained, tmp_path):
    from seqlab.lm import LanguageModel
    from seqlab.models.esn import ESN, ESNClassifier

    run, out, _ = trained
    assert isinstance(seqlab.load(out), seqlab.Run)
    config = json.loads((out / "config.json").read_text())
    assert (config["task"], config["format"]) == ("classify", 1)
    lm = seqlab.lm.train(text="abcabcabd " * 40, steps=2, hidden_size=8, num_layers=1,
                         embedding_dim=4, batch_size=2, seq_len=8, progress=False,
                         device="cpu", out=tmp_path / "lm")  # fmt: skip
    assert isinstance(seqlab.load(tmp_path / "lm"), LanguageModel) and lm.metrics["steps"] == 2
    u = np.sin(np.arange(200) / 5.0)[:, None]
    ESN(units=20, seed=0).fit(u[:-1], u[1:]).save(tmp_path / "esn")
    assert isinstance(seqlab.load(tmp_path / "esn"), ESN)
    seqs = [np.random.default_rng(i).normal(size=(10, 2)) + i % 2 for i in range(6)]
    ESNClassifier(units=20, seed=0).fit(seqs, [i % 2 for i in range(6)]).save(tmp_path / "esc")
    assert isinstance(seqlab.load(tmp_path / "esc"), ESNClassifier)
    # a run folder written before the format field still loads; a newer format is refused
    # with the fix; an unknown task names the ones seqlab reads
    old = tmp_path / "old"
    run.save(old)
    config = json.loads((old / "config.json").read_text())
    (old / "config.json").write_text(json.dumps({k: v for k, v in config.items() if k != "format"}))
    assert isinstance(seqlab.load(old), seqlab.Run)
    (old / "config.json").write_text(json.dumps({**config, "format": 99}))
    with pytest.raises(ValueError, match="upgrade seqlab"):
        seqlab.load(old)
    (old / "config.json").write_text(json.dumps({**config, "task": "translate"}))
    with pytest.raises(ValueError, match="'classify', 'classify-ensemble', 'lm', 'esn'"):
        seqlab.load(old)
