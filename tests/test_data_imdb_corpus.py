"""The IMDB language-model corpus: training and unlabelled reviews only, one per line."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import seqlab.data.imdb_corpus as imdb_corpus_module
from seqlab.cli.main import cli
from seqlab.data.datasets import corpus
from seqlab.data.imdb_corpus import imdb_corpus, imdb_corpus_path
from seqlab.lm.data import tokenize_words
from test_data_imdb import REVIEWS, write_folder

TEST_REVIEWS = [text for (split, *_), text in REVIEWS.items() if split == "test"]


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEQLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SEQLAB_DATA", raising=False)


def test_data_imdb_corpus_holds_train_and_unsup_reviews_never_test(tmp_path: Path) -> None:
    root = write_folder(tmp_path / "data")
    text = corpus("imdb", data_dir=root)
    lines = text.rstrip("\n").split("\n")
    # 4 labelled training reviews and 2 unlabelled ones, HTML breaks made spaces
    expected = {
        "Dreadful.  Avoid it.",
        "Two hours I will never get back.",
        "Am\u00e9lie is a na\u00efve delight \u2014 10/10!",
        "Good, not great.",
        "Unlabelled review five.",
        "Unlabelled review three.",
    }
    assert sorted(lines) == sorted(expected)
    for review in TEST_REVIEWS:
        assert review not in text
    assert "<br" not in text
    # the order is shuffled with the seed: the same for the same seed
    assert imdb_corpus(root) == text
    assert imdb_corpus_path(root, seed=0) != imdb_corpus_path(root, seed=1)
    assert sorted(imdb_corpus(root, seed=1).split("\n")) == sorted(text.split("\n"))


def test_data_imdb_corpus_is_written_once_then_read(tmp_path: Path, monkeypatch) -> None:
    root = write_folder(tmp_path / "data")
    path = imdb_corpus_path(root)
    assert path.parent == tmp_path / "cache" / "corpora"

    def no_parse(*args, **kwargs):
        raise AssertionError("the reviews were read again")

    monkeypatch.setattr(imdb_corpus_module, "imdb", no_parse)
    assert imdb_corpus_path(root) == path
    assert imdb_corpus(root) == path.read_text(encoding="utf-8")


def test_data_imdb_corpus_review_line_has_no_line_breaks() -> None:
    from seqlab.data.imdb_corpus import review_line

    assert review_line("a<br/>b<BR>c\r\nd\re\nf") == "a b c d e f"


def test_data_imdb_corpus_data_dir_only_for_dataset_corpora(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"data_dir=.* is for the corpora built from a dataset"):
        corpus("nietzsche", data_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match="IMDB data not found"):
        corpus("imdb")  # no data_dir, no $SEQLAB_DATA


def test_data_imdb_corpus_lm_train_cli_word_level(tmp_path: Path) -> None:
    root = write_folder(tmp_path / "data")
    out = tmp_path / "lm"
    args = ["lm", "train", "--corpus", "imdb", "--data-dir", str(root), "--level", "word",
            "--steps", "2", "--batch-size", "2", "--seq-len", "4", "--hidden-size", "8",
            "--embedding-dim", "8", "--num-layers", "1", "--max-tokens", "20", "--out", str(out),
            "--quiet", "--device", "cpu"]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    import seqlab.lm

    lm = seqlab.lm.load(out)
    assert lm.train_config["corpus"] == "imdb"
    assert lm.train_config["data_dir"] == str(root.resolve())
    # every word of the vocabulary comes from the corpus; no word of a test review does
    # (those words appear nowhere else)
    words = set(tokenize_words(corpus("imdb", data_dir=root).lower()))
    assert "unlabelled" in lm.vocab.itos and set(lm.vocab.itos[2:]) <= words
    assert {"meh", "masterpiece", "loved"}.isdisjoint(words)
    # its held-out part is re-read from the same corpus
    assert seqlab.lm.evaluate(out)["tokens"] > 0


def test_data_imdb_corpus_streams_like_memory(tmp_path: Path) -> None:
    import seqlab.lm

    root = write_folder(tmp_path / "data")
    settings = dict(level="word", steps=3, batch_size=2, seq_len=4, hidden_size=8,
                    embedding_dim=8, num_layers=1, max_tokens=20, device="cpu", progress=False,
                    data_dir=root, stream_block=16)  # fmt: skip
    memory = seqlab.lm.train("imdb", **settings)
    stream = seqlab.lm.train("imdb", stream=True, **settings)  # reads the cached corpus file
    assert stream.vocab.itos == memory.vocab.itos
    assert stream.metrics["val"]["loss"] == pytest.approx(memory.metrics["val"]["loss"], abs=1e-6)
    assert stream.history[-1]["loss"] == pytest.approx(memory.history[-1]["loss"], abs=1e-6)
