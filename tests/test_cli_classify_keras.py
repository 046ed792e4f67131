"""The lecture's Keras listings from the command line: --init, --head, --hidden, --optimizer,
the model summary (printed by `classify train` / `lm train`, and `classify summary RUN`)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import seqlab
from seqlab.cli.main import cli
from seqlab.lm.config import make_config, upgrade_config
from seqlab.models import summarize

pytestmark = pytest.mark.usefixtures("one_thread")

RMSPROP_HELP = "rmsprop (Keras's RMSprop: rho 0.9, epsilon 1e-7"


def _invoke(args: list[str]):
    return CliRunner().invoke(cli, args)


def _table(path, rows) -> str:
    path.write_text("text\tlabel\n" + "".join(f"{t}\t{y}\n" for t, y in rows), encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> str:
    rng = np.random.default_rng(0)
    words = ["good", "bad", "film", "plot", "the", "a", "was", "fine", "dull", "great"]
    rows = [(" ".join(rng.choice(words, size=6)), "pos" if i % 2 else "neg") for i in range(40)]
    return _table(tmp_path_factory.mktemp("keras") / "small.tsv", rows)


def test_cli_classify_keras_glove_model_counts(tmp_path) -> None:
    # The lecture's GloVe model: a 10,000-word vocabulary, texts cut to 100 words,
    # Embedding(10000, 100) with frozen GloVe vectors, Flatten, Dense(32, relu), Dense(1,
    # sigmoid): 1,320,065 parameters, 1,000,000 of them frozen.
    rows = [
        (" ".join(f"w{i * 250 + j}" for j in range(250)), "pos" if i % 2 else "neg")
        for i in range(40)
    ]  # fmt: skip  (10,000 distinct words)
    data = _table(tmp_path / "wide.tsv", rows)
    rng = np.random.default_rng(0)
    glove = tmp_path / "glove.100d.txt"
    glove.write_text(
        "".join(f"w{i} " + " ".join(f"{v:.4f}" for v in rng.normal(size=100)) + "\n"
                for i in range(0, 10_000, 7)),
        encoding="utf-8",
    )  # fmt: skip
    out = tmp_path / "glove-run"
    result = _invoke(["classify", "train", "--data", data, "--model", "embedding-dense",
                      "--fixed-maxlen", "100", "--max-tokens", "10000", "--pretrained", str(glove),
                      "--hidden", "32", "--head", "sigmoid", "--init", "keras",
                      "--optimizer", "rmsprop", "--epochs", "1", "--steps", "1",
                      "--batch-size", "8", "--device", "cpu", "--out", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    # the summary comes first, after the pretrained-vectors line
    assert "hidden_layers.0 (Linear)          (None, 32)                320,032" in result.output
    assert result.output.index("Total params: 1,320,065") < result.output.index("run folder:")
    assert "Trainable params: 320,065\nNon-trainable params: 1,000,000" in result.output
    config = json.loads((out / "config.json").read_text())
    model_config = config["model"]["config"]
    assert model_config["init"] == "keras" and model_config["head"] == "sigmoid"
    assert model_config["hidden_sizes"] == [32] and model_config["maxlen"] == 100
    assert model_config["vocab_size"] == 10_000 and model_config["freeze"] is True
    assert config["train"]["optimizer"] == "rmsprop"
    run = seqlab.load(out)
    s = summarize(run.model)
    assert (s.total, s.trainable, s.non_trainable) == (1_320_065, 320_065, 1_000_000)
    shown = _invoke(["classify", "summary", str(out)])
    assert shown.exit_code == 0, shown.output
    assert shown.output.startswith('Model: "EmbeddingDenseClassifier"')
    assert "embedding (Embedding)             (None, 100, 100)          1,000,000" in shown.output
    assert "Non-trainable params: 1,000,000" in shown.output


def test_cli_classify_keras_flags_reach_the_model(small, tmp_path) -> None:
    base = ["classify", "train", "--data", small, "--epochs", "1", "--steps", "1",
            "--batch-size", "8", "--device", "cpu"]  # fmt: skip
    out = tmp_path / "dense"
    result = _invoke([*base, "--model", "embedding-dense", "--maxlen", "6", "--embedding-dim", "4",
                      "--hidden", "16,8", "--hidden", "4", "--out", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())["model"]["config"]
    assert config["hidden_sizes"] == [16, 8, 4] and config["init"] == "torch"
    assert config["head"] == "softmax"
    # 12 ids x 4 + (6*4 -> 16) 400 + (16 -> 8) 136 + (8 -> 4) 36 + (4 -> 2) 10
    assert "Total params: 630" in result.output

    out = tmp_path / "lstm"
    result = _invoke([*base, "--model", "lstm", "--embedding-dim", "4", "--hidden-size", "4",
                      "--set", "init=keras", "--head", "sigmoid", "--quiet", "--out", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Total params" not in result.output  # --quiet: no summary
    config = json.loads((out / "config.json").read_text())["model"]["config"]
    assert (config["init"], config["head"], config["unit_forget_bias"]) == (
        "keras",
        "sigmoid",
        True,
    )

    out = tmp_path / "bow"
    result = _invoke([*base, "--hidden", "4", "--init", "keras", "--quiet", "--out", str(out)])
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())["model"]["config"]
    assert config["hidden_sizes"] == [4] and config["init"] == "keras"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "lstm", "--head", "sigmoid", "--data", "{three}"],
         "--head sigmoid has one output unit for two classes, but num_classes=3; use "
         "--head softmax\n"),
        (["--model", "lstm", "--init", "glorot"], "Invalid value for '--init'"),
        (["--model", "lstm", "--set", "init=glorot"], "init must be 'keras'"),
        (["--model", "lstm", "--init", "keras", "--set", "init=torch"], "given twice"),
        (["--model", "lstm", "--hidden", "32"], "model 'lstm' does not take hidden_sizes"),
        (["--model", "embedding-dense", "--hidden", "3,x"], "integers separated by commas"),
        (["--model", "kim-cnn", "--head", "tanh"], "Invalid value for '--head'"),
    ],
)  # fmt: skip
def test_cli_classify_keras_bad_values_are_one_line(args, message, small, tmp_path) -> None:
    rows = [(f"text number {i}", "abc"[i % 3]) for i in range(30)]
    three = _table(tmp_path / "three.tsv", rows)
    args = [a.replace("{three}", three) for a in args]
    data = [] if "--data" in args else ["--data", small]
    result = _invoke(["classify", "train", *data, *args, "--epochs", "1", "--steps", "1",
                      "--quiet", "--device", "cpu", "--out", str(tmp_path / "x")])  # fmt: skip
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_cli_classify_keras_rmsprop_help_on_both_commands() -> None:
    for command in (["classify", "train"], ["lm", "train"]):
        text = " ".join(_invoke([*command, "--help"]).output.split())
        assert RMSPROP_HELP in text, command
        assert "--init [keras|torch]" in text and "[default: torch]" in text


def test_cli_lm_train_init_and_optimizer(tmp_path) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the will to truth, the will to power. " * 30, encoding="utf-8")
    out = tmp_path / "lm"
    result = _invoke(["lm", "train", "--corpus", str(corpus), "--steps", "2", "--hidden-size",
                      "16", "--num-layers", "1", "--batch-size", "4", "--seq-len", "16",
                      "--init", "keras", "--optimizer", "rmsprop", "--device", "cpu",
                      "--set", "eval_tokens=100", "--out", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert 'Model: "LSTMLanguageModel"' in result.output
    assert "rnn (LSTM)                        (None, 16, 16)            5,184" in result.output
    config = json.loads((out / "config.json").read_text())
    assert config["model"]["config"]["init"] == "keras"
    assert config["train"]["init"] == "keras" and config["train"]["optimizer"] == "rmsprop"
    model = seqlab.load(out).model
    bias = model.rnn.bias_ih_l0.detach()  # Keras's forget-gate bias 1, two steps later
    assert (bias[16:32] - 1).abs().max() < 0.05 and bias[:16].abs().max() < 0.05


def test_cli_lm_config_init_values() -> None:
    assert make_config(steps=1).init == "torch"
    with pytest.raises(ValueError, match="init must be one of"):
        make_config(steps=1, init="glorot").validate()
    assert upgrade_config({"hidden_size": 8})["init"] == "torch"  # a run from before init=
    assert upgrade_config({"init": "keras"})["init"] == "keras"
