"""TensorBoard logs: the events written by TensorBoardLogger (``tensorboard=``,
``--tensorboard``) read back with TensorBoard's own reader equal history.json, row for row,
and a model with an embedding gets a projector with its vocabulary."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import seqlab as sl
from _toy_reviews import ROWS, toy_reviews
from seqlab.cli.main import cli
from seqlab.training import TensorBoardLogger
from seqlab.training.tensorboard import NOT_SCALARS

pytestmark = pytest.mark.usefixtures("one_thread")


def _scalars(folder) -> dict[str, list[tuple[int, float]]]:
    acc = EventAccumulator(str(folder))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def _expected(history: dict[str, list]) -> dict[str, dict[str, list[tuple[int, float]]]]:
    """What the logger should have written for ``history`` (a history.json), per folder."""
    out: dict[str, dict[str, list]] = {"train": {}, "validation": {}}
    for key, values in history.items():
        if key in NOT_SCALARS:
            continue
        part, tag = ("validation", key[4:]) if key.startswith("val_") else ("train", key)
        points = [(s, v) for s, v in zip(history["step"], values) if v is not None]
        if points:
            out[part][tag] = points
    return out


def _assert_mirrors(tb, run_dir) -> dict:
    history = json.loads((run_dir / "history.json").read_text())
    expected = _expected(history)
    for part in ("train", "validation"):
        got = _scalars(tb / part)
        assert sorted(got) == sorted(expected[part])
        for tag, points in expected[part].items():
            assert [s for s, _ in got[tag]] == [s for s, _ in points], tag
            np.testing.assert_allclose(
                [v for _, v in got[tag]], [v for _, v in points], rtol=1e-6, err_msg=tag
            )
    return history


def _projector(folder):
    """(metadata lines, vectors) of the one projector embedding written under ``folder``."""
    assert (folder / "projector_config.pbtxt").is_file()
    [meta] = folder.glob("*/embedding/metadata.tsv")
    vectors = np.loadtxt(meta.with_name("tensors.tsv"), delimiter="\t", ndmin=2)
    return meta.read_text(encoding="utf-8").splitlines(), vectors


def test_tensorboard_fit_mirrors_history_and_writes_a_projector(tmp_path):
    data = toy_reviews(40)
    vec = sl.text.TextVectorizer().fit(data.texts)
    model = sl.models.build("lstm", vocab_size=vec.vocab_size, embedding_dim=6, hidden_size=6)
    run = sl.fit(model, vec, data, epochs=3, batch_size=8, val_split=0.25, progress=False,
                 device="cpu", out=tmp_path / "run", tensorboard=tmp_path / "tb")  # fmt: skip
    history = _assert_mirrors(tmp_path / "tb", tmp_path / "run")
    assert len(history["loss"]) == 3 and history["val_accuracy"][0] is not None
    assert {"loss", "accuracy", "lr"} <= set(_scalars(tmp_path / "tb" / "train"))
    labels, vectors = _projector(tmp_path / "tb" / "train")
    vocabulary = vec.get_vocabulary()
    assert labels == vocabulary[1:]  # id 0 (padding, "") is left out
    np.testing.assert_allclose(
        vectors, run.model.embedding.weight.detach().numpy()[1:], rtol=1e-5, atol=1e-7
    )


def test_tensorboard_callback_caps_the_projector_and_escapes_tokens(tmp_path):
    text = "ab\tc ab\nab " * 30
    lm = sl.lm.train(text=text, steps=4, hidden_size=8, embedding_dim=4, num_layers=1,
                     batch_size=2, seq_len=8, device="cpu", progress=False, seed=0,
                     eval_every=2, out=tmp_path / "run",
                     callbacks=[TensorBoardLogger(tmp_path / "tb", max_words=3)])  # fmt: skip
    history = _assert_mirrors(tmp_path / "tb", tmp_path / "run")
    assert history["step"] == [0, 2, 4]  # the evaluation at the start (validation only) too
    assert _scalars(tmp_path / "tb" / "validation")["loss"][0][0] == 0
    labels, vectors = _projector(tmp_path / "tb" / "train")
    assert lm.vocab.itos[:3] == ["\t", "\n", " "]
    assert labels == ["'\\t'", "'\\n'", "' '"] and vectors.shape == (3, 4)


def test_tensorboard_flag_of_classify_train_and_lm_train(tmp_path):
    table = tmp_path / "reviews.tsv"
    table.write_text("text\tlabel\n" + "".join(f"{t}\t{y}\n" for t, y in ROWS), encoding="utf-8")
    runner = CliRunner()
    args = ["classify", "train", "--data", str(table), "--model", "bow-mlp", "--epochs", "2",
            "--out", str(tmp_path / "bow"), "--tensorboard", str(tmp_path / "tb-bow"), "--quiet",
            "--device", "cpu"]  # fmt: skip
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    _assert_mirrors(tmp_path / "tb-bow", tmp_path / "bow")
    labels, _ = _projector(tmp_path / "tb-bow" / "train")  # the bag model's first layer
    assert labels == sl.load(tmp_path / "bow").vectorizer.get_vocabulary()[1:]
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the will to truth, the will to power. " * 40, encoding="utf-8")
    args = ["lm", "train", "--corpus", str(corpus), "--out", str(tmp_path / "lm"), "--steps",
            "3", "--hidden-size", "8", "--embedding-dim", "4", "--num-layers", "1",
            "--batch-size", "2", "--seq-len", "8", "--quiet", "--device", "cpu",
            "--tensorboard", str(tmp_path / "tb-lm")]  # fmt: skip
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    history = _assert_mirrors(tmp_path / "tb-lm", tmp_path / "lm")
    assert "lr" in _scalars(tmp_path / "tb-lm" / "train") and history["step"][-1] == 3


def test_tensorboard_logger_checks_max_words():
    with pytest.raises(ValueError, match=r"^max_words must be an int >= 1, got 0$"):
        TensorBoardLogger("tb", max_words=0)
