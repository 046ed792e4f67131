"""`seqlab embed ...` end to end on tiny files."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from seqlab.cli.embed import embed
from seqlab.embeddings import KeyedVectors, load, save_glove

WORDS = ["king", "queen", "man", "woman", "prince", "apple", "banana"]
VECTORS = np.array(
    [[5, 0, 1], [5, 0, -1], [1, 0, 1], [1, 0, -1], [4.5, 0.2, 1], [0, 5, 0], [0, 5, 0.3]],
    dtype=np.float32,
)


@pytest.fixture
def glove(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQLAB_CACHE", str(tmp_path / "cache"))
    return str(save_glove(KeyedVectors(WORDS, VECTORS), tmp_path / "tiny.txt.gz"))


def _run(*args: str) -> str:
    result = CliRunner().invoke(embed, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_embeddings_cli_neighbors_analogy_similarity(glove):
    assert _run("neighbors", glove, "king", "--topn", "2").splitlines()[0].startswith("prince\t")
    out = json.loads(_run("neighbors", glove, "apple", "--topn", "1", "--json"))
    assert out[0]["word"] == "banana"
    assert _run("analogy", glove, "man", "king", "woman", "--topn", "1").startswith("queen\t")
    assert _run("analogy", glove, "man", "king", "woman", "--cosmul").startswith("queen\t")
    assert float(_run("similarity", glove, "apple", "apple")) == pytest.approx(1.0)


def test_embeddings_cli_unknown_word_is_a_clean_error(glove):
    result = CliRunner().invoke(embed, ["neighbors", glove, "quen"])
    assert result.exit_code != 0
    assert "did you mean 'queen'" in result.output


def test_embeddings_cli_evaluate(glove, tmp_path):
    questions = tmp_path / "q.txt"
    questions.write_text(": family\nman king woman queen\nman woman king queen\n")
    pairs = tmp_path / "p.tsv"
    pairs.write_text("king\tqueen\t8\nking\tapple\t1\nman\twoman\t7\n")
    out = _run("evaluate", glove, "--analogies", str(questions), "--pairs", str(pairs))
    assert "Total accuracy" in out and "spearman" in out
    data = json.loads(_run("evaluate", glove, "--analogies", str(questions), "--json"))
    assert data["analogies"]["correct"] == 2
    result = CliRunner().invoke(embed, ["evaluate", glove])
    assert result.exit_code != 0 and "--analogies" in result.output


def test_embeddings_cli_plot_and_convert(glove, tmp_path):
    png = tmp_path / "w.png"
    _run("plot", glove, "king", "queen", "apple", "--out", str(png))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for name in ("v.bin", "v.txt", "v.safetensors"):
        _run("convert", glove, str(tmp_path / name))
        back = (
            KeyedVectors.load(tmp_path / name)
            if name.endswith(".safetensors")
            else load(tmp_path / name, cache=False)
        )
        assert back.index_to_key == WORDS
        np.testing.assert_array_equal(back.vectors, VECTORS)
    _run("convert", glove, str(tmp_path / "g.txt"), "--to", "glove", "--limit", "3")
    assert load(tmp_path / "g.txt", cache=False).index_to_key == WORDS[:3]


def test_embeddings_cli_train(tmp_path):
    corpus = tmp_path / "c.txt"
    rng = np.random.default_rng(0)
    lines = [" ".join(rng.choice(["a", "b", "c", "d", "e"], 10)) for _ in range(200)]
    corpus.write_text("\n".join(lines) + "\n")
    out = tmp_path / "v.safetensors"
    text = _run(
        "train",
        str(corpus),
        "--out",
        str(out),
        "--vector-size",
        "8",
        "--epochs",
        "1",
        "--min-count",
        "1",
        "--quiet",
    )
    assert "5 words x 8 dims" in text
    assert sorted(KeyedVectors.load(out).index_to_key) == ["a", "b", "c", "d", "e"]
    _run(
        "train",
        str(corpus),
        "--out",
        str(tmp_path / "v.bin"),
        "--vector-size",
        "4",
        "--epochs",
        "1",
        "--min-count",
        "1",
        "--cbow",
        "--quiet",
    )
    assert load(tmp_path / "v.bin", cache=False).vector_size == 4


def test_embeddings_cli_train_dim_is_a_hidden_deprecated_alias(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("a b c d e a b c\n" * 50)
    out = tmp_path / "v.bin"
    result = CliRunner().invoke(
        embed,
        ["train", str(corpus), "--out", str(out), "--dim", "3", "--min-count", "1",
         "--epochs", "1", "--quiet"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "--dim is deprecated; use --vector-size 3" in result.output
    assert load(out, cache=False).vector_size == 3
    help_text = CliRunner().invoke(embed, ["train", "--help"]).output
    assert "--vector-size" in help_text and "--dim" not in help_text
