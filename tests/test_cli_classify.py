"""`seqlab classify train|evaluate|predict` end to end on a tiny TSV."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from seqlab.cli.main import cli

ROWS = [
    ("a wonderful superb film", "pos"),
    ("great moving story", "pos"),
    ("fine and good acting", "pos"),
    ("an awful dull plot", "neg"),
    ("boring poor acting", "neg"),
    ("bad lifeless film", "neg"),
] * 5


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    table = folder / "tiny.tsv"
    table.write_text("text\tlabel\n" + "".join(f"{t}\t{y}\n" for t, y in ROWS), encoding="utf-8")
    out = folder / "run"
    result = CliRunner().invoke(
        cli,
        [
            "classify",
            "train",
            "--data",
            str(table),
            "--ngrams",
            "1",
            "2",
            "--nbsvm",
            "--epochs",
            "1",
            "--lr",
            "0.1",
            "--batch-size",
            "4",
            "--out",
            str(out),
            "--quiet",
            "--device",
            "cpu",
        ],
    )
    assert result.exit_code == 0, result.output
    return table, out, result


def test_cli_classify_train_writes_run_folder(trained):
    _, out, result = trained
    assert f"run folder: {out}" in result.output
    assert "val   loss" in result.output
    for name in ("config.json", "vocab.json", "model.safetensors", "curves.png"):
        assert (out / name).is_file()
    config = json.loads((out / "config.json").read_text())
    assert config["model"]["config"]["nb_scaling"] is True
    assert config["train"]["vectorizer"]["ngram_range"] == [1, 2]
    assert config["train"]["epochs"] == 1


def test_cli_classify_evaluate(trained):
    table, out, _ = trained
    result = CliRunner().invoke(cli, ["classify", "evaluate", str(out), "--data", str(table)])
    assert result.exit_code == 0, result.output
    assert f"{table} [whole file]: 30 texts" in result.output and "accuracy" in result.output
    result = CliRunner().invoke(
        cli, ["classify", "evaluate", str(out), "--data", str(table), "--json"]
    )
    metrics = json.loads(result.output)
    assert metrics["n"] == 30 and metrics["accuracy"] >= 0.9


def test_cli_classify_predict_from_args_file_and_stdin(trained, tmp_path):
    _, out, _ = trained
    runner = CliRunner()
    result = runner.invoke(
        cli, ["classify", "predict", str(out), "superb moving film", "dull poor plot"]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.strip().split("\n")
    assert [line.split("\t")[0] for line in lines] == ["pos", "neg"]
    assert all(0.5 <= float(line.split("\t")[1]) <= 1.0 for line in lines)
    assert lines[0].split("\t")[2] == "superb moving film"

    texts = tmp_path / "texts.txt"
    texts.write_text("superb moving film\n\ndull poor plot\n", encoding="utf-8")
    result = runner.invoke(cli, ["classify", "predict", str(out), "--file", str(texts)])
    assert [line.split("\t")[0] for line in result.output.strip().split("\n")] == ["pos", "neg"]

    result = runner.invoke(cli, ["classify", "predict", str(out)], input="dull poor plot\n")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("neg\t")


def test_cli_classify_errors_are_one_line_messages(trained, tmp_path):
    table, out, _ = trained
    runner = CliRunner()
    result = runner.invoke(
        cli, ["classify", "train", "--data", "no-such-data", "--out", str(tmp_path / "x")]
    )
    assert result.exit_code != 0
    assert "neither an existing file or folder nor a labelled dataset name" in result.output
    result = runner.invoke(cli, ["classify", "predict", str(tmp_path / "missing"), "text"])
    assert result.exit_code != 0 and "does not exist" in result.output
    result = runner.invoke(
        cli,
        [
            "classify",
            "train",
            "--data",
            str(table),
            "--ngrams",
            "1",
            "2",
            "--ngram-range",
            "1,2",
            "--out",
            str(tmp_path / "y"),
        ],
    )
    assert result.exit_code != 0 and "not both" in result.output
    result = runner.invoke(cli, ["classify", "predict", str(out)], input="")
    assert result.exit_code != 0 and "no texts to classify" in result.output
