"""`seqlab text encode`: exact output for each mode, the Keras mode, stop words, --fit-on."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from seqlab.cli.main import cli


def run(*args: str):
    return CliRunner().invoke(cli, ["text", "encode", *args])


def test_cli_text_encode_multi_hot_default():
    result = run("The cat sat.", "The dog sat down.")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "vocabulary: 7 entries: 0 = padding '', 1 = [UNK], then 5 terms, fitted on the 2 "
        "texts given",
        "",
        'text:    "The cat sat."',
        "tokens:  ['the', 'cat', 'sat']",
        "ids:     [2, 4, 3]",
        "vector:  multi_hot 1 x 7, 3 non-zero: {2: 1, 3: 1, 4: 1}",
        "",
        'text:    "The dog sat down."',
        "tokens:  ['the', 'dog', 'sat', 'down']",
        "ids:     [2, 5, 3, 6]",
        "vector:  multi_hot 1 x 7, 4 non-zero: {2: 1, 3: 1, 5: 1, 6: 1}",
    ]


def test_cli_text_encode_ngrams_and_modes():
    result = run("a b a", "--ngrams", "1", "2", "--mode", "count")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[2:] == [
        'text:    "a b a"',
        "tokens:  ['a', 'b', 'a', 'a b', 'b a']",
        "ids:     [2, 3, 2, 4, 5]",
        "vector:  count 1 x 6, 4 non-zero: {2: 2, 3: 1, 4: 1, 5: 1}",
    ]
    assert run("a b a", "--mode", "int").output.splitlines()[-1] == "vector:  int [2, 3, 2]"
    assert run("a b a", "--mode", "one_hot").output.splitlines()[-1] == (
        "vector:  one_hot 3 x 4, the 1 of each row at [2, 3, 2]"
    )
    # freq: count / tokens; tf_idf: one document, so idf = 1 and the row is L2-normalised
    assert run("a b a", "--mode", "freq").output.splitlines()[-1] == (
        "vector:  freq 1 x 4, 2 non-zero: {2: 0.6667, 3: 0.3333}"
    )
    assert run("a b a", "--mode", "tf_idf").output.splitlines()[-1] == (
        "vector:  tf_idf 1 x 4, 2 non-zero: {2: 0.8944, 3: 0.4472}"
    )


def test_cli_text_encode_keras_mode_and_stop_words():
    result = run("Don't stop, don't!", "stop now", "--keras", "--mode", "tf_idf")
    assert result.exit_code == 0, result.output
    # N = 2; df(stop) = 2: ln(1 + 2/3); df(dont) = df(now) = 1: ln(1 + 2/2); [UNK] = mean
    assert result.output.splitlines() == [
        "vocabulary: 4 entries: 0 = [UNK], then 3 terms, fitted on the 2 texts given",
        "",
        "text:    \"Don't stop, don't!\"",
        "tokens:  ['dont', 'stop', 'dont']",
        "ids:     [2, 1, 2]",
        "vector:  tf_idf 1 x 4, 2 non-zero: {1: 0.5108, 2: 1.386}",
        "",
        'text:    "stop now"',
        "tokens:  ['stop', 'now']",
        "ids:     [1, 3]",
        "vector:  tf_idf 1 x 4, 2 non-zero: {1: 0.5108, 3: 0.6931}",
    ]
    # "now" is an English stop word; the terms, all counted once, go by token descending
    result = run("Don't stop now", "--keras", "--stop-words", "english", "--ngrams", "1", "2")
    assert result.output.splitlines()[3:5] == [
        "tokens:  ['dont', 'stop', 'dont stop']",
        "ids:     [3, 1, 2]",
    ]


def test_cli_text_encode_stop_words_file_and_fit_on_file(tmp_path):
    stop = tmp_path / "stop.txt"
    stop.write_text("the\nsat\n", encoding="utf-8")
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat\n\nthe dog sat\ncat\n", encoding="utf-8")
    result = run("the cat sat on a mat", "--stop-words", str(stop), "--fit-on", str(corpus))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "vocabulary: 4 entries: 0 = padding '', 1 = [UNK], then 2 terms, fitted on the 3 "
        f"lines of {corpus}",
        "",
        'text:    "the cat sat on a mat"',
        "tokens:  ['cat', 'on', 'a', 'mat']",
        "ids:     [2, 1, 1, 1]",
        "vector:  multi_hot 1 x 4, 1 non-zero: {2: 1}",
    ]


def test_cli_text_encode_fit_on_dataset(shared_data):
    result = run("a wonderful, moving film", "--fit-on", "snippets", "--max-tokens", "1000")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == (
        "vocabulary: 1000 entries: 0 = padding '', 1 = [UNK], then 998 terms, fitted on the "
        "8455 training texts of snippets"
    )
    assert lines[3] == "tokens:  ['a', 'wonderful', 'moving', 'film']"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["x", "--fit-on", "nothing"], "'nothing' is neither a file nor a labelled dataset"),
        (["x", "--stop-words", "nofile.txt"], "stop-word file 'nofile.txt' does not exist"),
        (["x", "--ngrams", "2", "1"], "expected 1 <= MIN <= MAX, got 2 1"),
        (["x", "--max-tokens", "2"], "max_tokens must be None or an int >= 3"),
        (["the", "--stop-words", "english"], "After pruning, no terms remain"),
    ],
)
def test_cli_text_encode_errors(args, message):
    result = run(*args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_cli_text_help_says_where_the_vocabulary_comes_from():
    result = CliRunner().invoke(cli, ["text", "encode", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "The vocabulary is fitted on the TEXTS given" in text
    assert "--fit-on FILE|DATASET" in text and "--keras" in text and "--stop-words" in text
