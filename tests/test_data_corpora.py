"""Plain-text corpora: the bundled files, files on disk, line streaming."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import pytest

from seqlab.data.corpora import _keras_words, bundled_bytes, corpus, iter_lines

# sha256 of the originals, from ../shared/data/README.md: the bundled copies are unchanged
ORIGINALS = {
    "movie_review_snippets.tsv": "c8293b0d942e90e223ea2c0955d969040d1a1be514a978b9af0698940bd13350",
    "nietzsche.txt": "dea01ca2da603db6736fd856c585d073ccf3dca68efe4a59c5e73242cdf0b028",
    "tinyshakespeare.txt": "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
}


@pytest.mark.parametrize("name", sorted(ORIGINALS))
def test_data_bundled_files_are_the_originals(name: str) -> None:
    assert hashlib.sha256(bundled_bytes(name)).hexdigest() == ORIGINALS[name]


def test_data_bundled_folder_has_a_readme_with_licences() -> None:
    readme = Path(__file__).parent.parent / "src" / "seqlab" / "data" / "_bundled" / "README.md"
    text = readme.read_text(encoding="utf-8")
    for needle in ("Hutto", "Pang", "MIT", "public domain", "nietzsche", "tinyshakespeare"):
        assert needle in text


def test_data_corpus_bundled_names() -> None:
    nietzsche = corpus("nietzsche")
    assert len(nietzsche) == 600_901 and nietzsche.startswith("PREFACE\n\n\nSUPPOSING that Truth")
    shakespeare = corpus("tinyshakespeare")
    assert len(shakespeare) == 1_115_394 and shakespeare.startswith("First Citizen:\n")


def test_data_corpus_from_files(tmp_path: Path) -> None:
    plain = tmp_path / "c.txt"
    plain.write_bytes("line one\r\nline two \u00e9\r\n".encode())
    assert corpus(plain) == "line one\nline two \u00e9\n"  # CRLF -> LF
    packed = tmp_path / "c.txt.gz"
    packed.write_bytes(gzip.compress(b"packed text\n"))
    assert corpus(packed) == "packed text\n"
    latin = tmp_path / "latin.txt"
    latin.write_bytes(b"caf\xe9")
    with pytest.raises(ValueError, match="not valid utf-8.*encoding="):
        corpus(latin)
    assert corpus(latin, encoding="latin-1") == "caf\u00e9"
    with pytest.raises(FileNotFoundError, match=r"bundled: \['nietzsche', 'tinyshakespeare'\]"):
        corpus("shakespeare")
    with pytest.raises(ValueError, match="is a folder"):
        corpus(tmp_path)


def test_data_iter_lines_streams_without_line_ends(tmp_path: Path) -> None:
    path = tmp_path / "lines.txt"
    path.write_bytes(b"first\r\nsecond\n\nlast")
    assert list(iter_lines(path)) == ["first", "second", "", "last"]
    packed = tmp_path / "lines.txt.gz"
    packed.write_bytes(gzip.compress(b"a\nb\n"))
    assert list(iter_lines(packed)) == ["a", "b"]
    lines = iter_lines("tinyshakespeare")
    assert [next(lines) for _ in range(2)] == [
        "First Citizen:",
        "Before we proceed any further, hear me speak.",
    ]
    assert sum(1 for _ in iter_lines("nietzsche")) == 9_935

    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"ok\nok\nbad \xff here\n")
    with pytest.raises(ValueError, match="line 3"):
        list(iter_lines(bad))


def test_data_keras_words_match_text_to_word_sequence() -> None:
    # Keras: lower-case, its filters become spaces, split on " " only
    assert _keras_words("Hello, World!  It's <br />fine.") == [
        "hello",
        "world",
        "it's",
        "br",
        "fine",
    ]
    assert _keras_words("a\tb\nc") == ["a", "b", "c"]  # tab and newline are in the filters
    assert _keras_words("a\u00a0b") == ["a\u00a0b"]  # a non-breaking space is not
