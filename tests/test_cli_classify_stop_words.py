"""`seqlab classify train --stop-words english|FILE`: the words reach the vectorizer, are
saved in vocab.json, and the reloaded run drops them too."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from seqlab.cli.main import cli

ROWS = [
    ("the film was a wonderful film", "pos"),
    ("it is a great and moving story", "pos"),
    ("the plot was awful and dull", "neg"),
    ("it is a boring and poor film", "neg"),
] * 4


@pytest.mark.parametrize("kind", ["english", "file"])
def test_cli_classify_train_stop_words_saved_and_reloaded(kind, tmp_path):
    import seqlab

    table = tmp_path / "tiny.tsv"
    table.write_text("text\tlabel\n" + "".join(f"{t}\t{y}\n" for t, y in ROWS), encoding="utf-8")
    stop = tmp_path / "stop.txt"
    stop.write_text("film\nthe\n", encoding="utf-8")
    value = "english" if kind == "english" else str(stop)
    out = tmp_path / "run"
    args = ["classify", "train", "--data", str(table), "--stop-words", value, "--epochs", "1"]
    args += ["--batch-size", "4", "--out", str(out), "--quiet", "--device", "cpu"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    saved = json.loads((out / "vocab.json").read_text())
    expected = "english" if kind == "english" else ["film", "the"]
    assert saved["params"]["stop_words"] == expected
    terms = saved["vocabulary"][2:]
    dropped = {"the", "was", "a", "it", "is", "and"} if kind == "english" else {"film", "the"}
    assert not dropped & set(terms) and {"wonderful", "dull"} <= set(terms)
    run = seqlab.load(out)
    assert run.vectorizer.stop_words == expected
    assert run.vectorizer.words("The film was wonderful") == (
        ["film", "wonderful"] if kind == "english" else ["was", "wonderful"]
    )


def test_cli_classify_train_stop_words_missing_file(tmp_path):
    args = ["classify", "train", "--data", "snippets", "--stop-words", str(tmp_path / "no.txt")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    assert "Invalid value for '--stop-words': stop-word file" in result.output
