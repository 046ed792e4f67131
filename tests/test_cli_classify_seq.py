"""`seqlab classify train` with sequence models: every model and option end to end on tiny data."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import seqlab
from seqlab.cli.main import cli
from seqlab.data.base import TextDataset
from seqlab.training.classify import FixedLengthVectorizer, train_classifier

POS = ["superb", "great", "wonderful", "moving"]
NEG = ["awful", "boring", "dull", "lifeless"]
FILLER = ["the", "film", "plot", "acting", "story", "cast", "was", "a", "and", "it"]


pytestmark = pytest.mark.usefixtures("one_thread")


def _rows(n: int, seed: int = 0) -> list[tuple[str, str]]:
    """Reviews of 4-9 filler words with one sentiment word somewhere; label by that word."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        words = list(rng.choice(FILLER, size=int(rng.integers(4, 10))))
        label = "pos" if i % 2 else "neg"
        words.insert(int(rng.integers(len(words) + 1)), str(rng.choice(POS if i % 2 else NEG)))
        rows.append((" ".join(words), label))
    return rows


def _write_table(path, rows) -> str:
    path.write_text("text\tlabel\n" + "".join(f"{t}\t{y}\n" for t, y in rows), encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> str:
    return _write_table(tmp_path_factory.mktemp("seq") / "tiny.tsv", _rows(60))


def _train(args: list[str]):
    result = CliRunner().invoke(
        cli, ["classify", "train", *args, "--quiet", "--device", "cpu", "--batch-size", "8"]
    )
    return result


# Small sizes keep every run fast; the architectures are the real ones.
MODEL_ARGS = {
    "embedding-dense": ["--maxlen", "6", "--embedding-dim", "4"],
    "cnn": ["--embedding-dim", "8", "--num-filters", "4", "--kernel-sizes", "3"],
    "kim-cnn": ["--embedding-dim", "8", "--num-filters", "4", "--kernel-sizes", "2,3"],
    "rnn": ["--embedding-dim", "8", "--hidden-size", "8", "--pooling", "max"],
    "lstm": ["--embedding-dim", "8", "--hidden-size", "8", "--bidirectional", "--dropout", "0.1"],
    "gru": ["--embedding-dim", "8", "--hidden-size", "8", "--num-layers", "2", "--residual"],
    "tdnn": ["--embedding-dim", "8", "--num-filters", "4", "--set", "dilations=[1,1,2]"],
    "transformer": [
        "--embedding-dim",
        "8",
        "--num-layers",
        "1",
        "--pooling",
        "first",
        "--set",
        "num_heads=2",
        "--precision",
        "bf16",
    ],  # fmt: skip
}
EXPECTED_CONFIG = {
    "embedding-dense": {"maxlen": 6, "embedding_dim": 4},
    "cnn": {"kernel_size": 3, "num_filters": 4},
    "kim-cnn": {"kernel_sizes": [2, 3], "num_filters": 4},
    "rnn": {"hidden_size": 8, "pooling": "max"},
    "lstm": {"bidirectional": True, "dropout": 0.1},
    "gru": {"num_layers": 2, "residual": True},
    "tdnn": {"channels": [4, 4, 4], "dilations": [1, 1, 2]},
    "transformer": {"num_layers": 1, "pooling": "first", "num_heads": 2, "d_model": 8},
}


@pytest.mark.parametrize("model", list(MODEL_ARGS))
def test_cli_classify_seq_train_every_model(model, table, tmp_path) -> None:
    out = tmp_path / model
    args = ["--data", table, "--model", model, "--epochs", "1", "--steps", "2"]
    result = _train([*args, *MODEL_ARGS[model], "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"run folder: {out}" in result.output and "stopped: steps" in result.output
    config = json.loads((out / "config.json").read_text())
    assert config["model"]["name"] == model
    for key, value in EXPECTED_CONFIG[model].items():
        assert config["model"]["config"][key] == value, key
    vec = config["train"]["vectorizer"]
    assert vec["output_mode"] == "int" and vec["max_tokens"] == 20_000
    # embedding-dense reads 6 steps, so its texts are cut there; the others at 500 tokens.
    assert vec["maxlen"] == (6 if model == "embedding-dense" else 500)
    assert vec["truncating"] == "pre" and config["train"]["bucket"] is True
    run = seqlab.load(out)
    assert run.predict(["a superb film"])[0] in ("neg", "pos")


@pytest.fixture(scope="module")
def seq_run(table, tmp_path_factory):
    """A kim-cnn that has learned the sentiment words (12 epochs on 48 tiny reviews)."""
    out = tmp_path_factory.mktemp("seqrun") / "kim"
    args = ["--data", table, "--model", "kim-cnn", "--embedding-dim", "16", "--num-filters", "8"]
    result = _train([*args, "--kernel-sizes", "1,2", "--dropout", "0", "--epochs", "12",
                     "--lr", "0.02", "--out", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    return out


def test_cli_classify_seq_predict_evaluate_explain(seq_run, table) -> None:
    runner = CliRunner()
    result = runner.invoke(
        cli, ["classify", "predict", str(seq_run), "the plot was superb", "the film was awful"]
    )
    assert result.exit_code == 0, result.output
    assert [line.split("\t")[0] for line in result.output.strip().split("\n")] == ["pos", "neg"]

    result = runner.invoke(cli, ["classify", "evaluate", str(seq_run), "--data", table, "--json"])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output)
    assert metrics["n"] == 60 and metrics["accuracy"] >= 0.95

    result = runner.invoke(cli, ["classify", "explain", str(seq_run), "the film was awful"])
    assert result.exit_code == 0, result.output
    head, body = result.output.strip().split("\n")
    assert head.startswith("neg ")
    assert "\x1b[" not in body  # CliRunner's output is not a terminal: no colour by default
    scores = {tok.split("[")[0]: float(tok.split("[")[1][:-1]) for tok in body.split()}
    assert list(scores) == ["the", "film", "was", "awful"]
    assert max(scores, key=scores.get) == "awful"


def test_cli_classify_seq_fixed_maxlen(table, tmp_path) -> None:
    out = tmp_path / "fixed"
    args = ["--data", table, "--model", "lstm", "--embedding-dim", "8", "--hidden-size", "8"]
    result = _train([*args, "--fixed-maxlen", "6", "--epochs", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())
    assert config["train"]["fixed_maxlen"] == 6 and config["train"]["bucket"] is False
    assert config["train"]["vectorizer"]["padding"] == "pre"
    run = seqlab.load(out)
    assert isinstance(run.vectorizer, FixedLengthVectorizer)
    # Every text becomes exactly 6 ids: short ones padded in front, long ones keep their end.
    short, long_ = run.encode(["superb film", "the plot was dull and the cast was awful"])
    vocab = run.vectorizer.vocabulary_
    assert short.tolist() == [0, 0, 0, 0, *vocab.encode(["superb", "film"])]
    assert long_.tolist() == list(vocab.encode("dull and the cast was awful".split()))
    pairs = run.explain("superb film")
    assert [tok for tok, _ in pairs] == ["superb", "film"]  # the padding is not a token


def test_cli_classify_seq_truncate_and_vocabulary_options(table, tmp_path) -> None:
    out = tmp_path / "cut"
    args = ["--data", table, "--model", "gru", "--embedding-dim", "4", "--hidden-size", "4"]
    result = _train([*args, "--truncate", "3", "--truncating", "post", "--max-tokens", "8",
                     "--epochs", "1", "--steps", "1", "--overwrite", "--out", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    run = seqlab.load(out)
    assert run.vectorizer.vocab_size == 8 and run.vectorizer.maxlen == 3
    (ids,) = run.encode(["superb wonderful moving great"])
    assert len(ids) == 3  # the first three tokens (OOV ids are 1), padding stripped
    result = _train([*args, "--truncate", "0", "--max-tokens", "0", "--epochs", "1",
                     "--steps", "1", "--overwrite", "--out", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    run = seqlab.load(out)
    assert run.vectorizer.maxlen is None and run.vectorizer.vocab_size == 2 + 18


def test_cli_classify_seq_pretrained_vectors(table, tmp_path) -> None:
    pytest.importorskip("seqlab.embeddings.matrix", reason="seqlab.embeddings is not there yet")
    rng = np.random.default_rng(0)
    known = ["superb", "awful", "film", "Plot"]  # "Plot" is found through its lowercase form
    vectors = {w: rng.normal(size=5).round(4) for w in known + ["unused"]}
    glove = tmp_path / "tiny.glove.txt"
    glove.write_text(
        "".join(f"{w} {' '.join(map(str, v))}\n" for w, v in vectors.items()), encoding="utf-8"
    )
    out = tmp_path / "glove"
    args = ["--data", table, "--model", "kim-cnn", "--num-filters", "4", "--pretrained", str(glove)]
    result = _train([*args, "--epochs", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    # 18 words in the vocabulary; "film" and "superb"/"awful" exact, "plot" via lowercase.
    assert "(5 words, 5-d): 3 of 18 vocabulary words found (16.7%" in result.output
    assert "frozen" in result.output
    config = json.loads((out / "config.json").read_text())
    report = config["train"]["pretrained"]
    assert report["found"] == 3 and report["total"] == 18 and report["dim"] == 5
    assert config["model"]["config"]["freeze"] is True
    assert config["model"]["config"]["embedding_dim"] == 5
    run = seqlab.load(out)
    table_ = run.model.embedding.weight.detach().numpy()
    stoi = run.vectorizer.vocabulary_.stoi
    # Frozen: after two epochs the rows are still exactly the file's vectors (or zeros).
    np.testing.assert_allclose(table_[stoi["superb"]], vectors["superb"], rtol=1e-6)
    assert not table_[stoi["the"]].any()

    out2 = tmp_path / "glove-ft"
    result = _train([*args, "--fine-tune", "--epochs", "2", "--lr", "0.05", "--out", str(out2)])
    assert result.exit_code == 0, result.output
    assert "fine-tuned" in result.output
    tuned = seqlab.load(out2).model.embedding.weight.detach().numpy()
    assert not np.allclose(tuned[stoi["superb"]], vectors["superb"])


def test_cli_classify_seq_multiclass(tmp_path) -> None:
    words = {"sport": ["goal", "match", "team"], "tech": ["chip", "code", "phone"],
             "money": ["bank", "stock", "price"]}  # fmt: skip
    rng = np.random.default_rng(1)
    rows = []
    for i in range(90):
        label = list(words)[i % 3]
        body = list(rng.choice(FILLER, size=5)) + list(rng.choice(words[label], size=2))
        rows.append((" ".join(rng.permutation(body)), label))
    data = _write_table(tmp_path / "three.tsv", rows)
    out = tmp_path / "three"
    args = ["--data", data, "--model", "kim-cnn", "--embedding-dim", "16", "--num-filters", "8"]
    result = _train([*args, "--kernel-sizes", "1,2", "--epochs", "12", "--lr", "0.01",
                     "--out", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "f1_macro" in result.output
    result = CliRunner().invoke(cli, ["classify", "evaluate", str(out), "--data", data, "--json"])
    metrics = json.loads(result.output)
    assert len(metrics["confusion_matrix"]) == 3 and metrics["accuracy"] >= 0.9
    assert seqlab.load(out).predict(["the goal of the match"]) == ["sport"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "lstm", "--maxlen", "5"], "use --truncate N or --fixed-maxlen N\n"),
        (["--model", "lstm", "--set", "colour=3"], "unknown setting 'colour'"),
        (["--model", "lstm", "--set", "oops"], "expected KEY=VALUE"),
        (["--model", "lstm", "--freeze"], "no pretrained vectors were given"),
        (["--model", "lstm", "--pretrained", "/no/such.txt"], "no such file"),
        (["--model", "bow-mlp", "--fixed-maxlen", "5"], "applies to sequence models only"),
        (["--model", "cnn", "--kernel-sizes", "3,5"], "give a single value"),
        (["--model", "kim-cnn", "--kernel-sizes", "3,x"], "integers separated by commas"),
        (["--model", "kim-cnn", "--num-filters", "4", "--set", "num_filters=5"], "given twice"),
    ],
)
def test_cli_classify_seq_bad_options_are_explained(args, message, table, tmp_path) -> None:
    result = _train(["--data", table, *args, "--epochs", "1", "--out", str(tmp_path / "x")])
    assert result.exit_code != 0
    assert message in result.output


def test_cli_classify_seq_python_api_matches_cli_defaults() -> None:
    rows = _rows(40, seed=3)
    data = TextDataset(
        texts=[t for t, _ in rows],
        labels=np.array([int(y == "pos") for _, y in rows]),
        label_names=["neg", "pos"],
    )
    run = train_classifier(
        data,
        model="lstm",
        embedding_dim=4,
        hidden_size=4,
        truncate=2,
        epochs=1,
        max_steps=1,
        progress=False,
        device="cpu",
        seed=5,
    )
    assert run.vectorizer.max_tokens == 20_000 and run.vectorizer.maxlen == 2
    (ids,) = run.encode(["the plot superb film"])
    assert ids.tolist() == list(run.vectorizer.vocabulary_.encode(["superb", "film"]))  # the end
    assert run.model.config["seed"] == 5  # the model draws its weights from the run's seed
    bag = train_classifier(data, epochs=1, progress=False, device="cpu", val_split=0)
    assert bag.vectorizer.max_tokens is None and bag.vectorizer.output_mode == "multi_hot"


@pytest.mark.slow
def test_cli_classify_seq_demo_lstm_step(tmp_path) -> None:
    from seqlab.demo import STEPS, run_demo

    steps = [(t, f) for t, f in STEPS if f.__name__ in ("step_data", "step_lstm")]
    lines: list[str] = []
    state = run_demo(tmp_path, steps=steps, device="cpu", echo=lines.append)
    lstm = state.results["lstm"]
    assert lstm["test_accuracy"] >= 0.68  # about 0.72 for a from-scratch LSTM(32), 3 epochs
    assert any(line.startswith("lstm: validation accuracy") for line in lines)
    assert seqlab.load(tmp_path / "lstm").predict(["a wonderful, moving film"]) == ["pos"]
