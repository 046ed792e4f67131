"""Reading and writing GloVe / word2vec / fastText files, the cache, bad lines."""

from __future__ import annotations

import gzip
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

from seqlab import embeddings as E

WORDS = ["the", ",", "king", "queen", "Ümlaut", "naïve"]


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQLAB_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def kv() -> E.KeyedVectors:
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((len(WORDS), 7)).astype(np.float32)
    vectors[1, 2] = 1.5e-7  # an exponent in the text form
    return E.KeyedVectors(WORDS, vectors)


def _same(a: E.KeyedVectors, b: E.KeyedVectors) -> None:
    assert a.index_to_key == b.index_to_key
    assert a.vectors.dtype == np.float32
    np.testing.assert_array_equal(np.asarray(a.vectors), np.asarray(b.vectors))


@pytest.mark.parametrize("name", ["v.txt", "v.txt.gz", "v.txt.bz2"])
def test_embeddings_glove_round_trip(tmp_path, kv, name):
    path = E.save_glove(kv, tmp_path / name)
    first = E.load(path)
    assert first.meta["format"] == "glove" and first.meta["from_cache"] is False
    _same(first, kv)


@pytest.mark.parametrize(
    "name,binary", [("w.txt", False), ("w.bin", True), ("w.bin.gz", True), ("w.vec", False)]
)
def test_embeddings_word2vec_round_trip(tmp_path, kv, name, binary):
    path = E.save_word2vec_format(kv, tmp_path / name, binary=binary)
    loaded = E.load(path)
    assert loaded.meta["format"] == ("word2vec-binary" if binary else "word2vec")
    _same(loaded, kv)


def test_embeddings_glove_zip_member_forms(tmp_path, kv):
    text = tmp_path / "glove.7d.txt"
    E.save_glove(kv, text)
    archive = tmp_path / "glove.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(text, "glove.7d.txt")
        z.writestr("README.md", "not vectors")
    _same(E.load(archive), kv)  # the single vector file is picked
    _same(E.load(f"{archive}::glove.7d.txt"), kv)
    _same(E.load(archive, member="glove.7d.txt", cache=False), kv)


def test_embeddings_zip_with_several_members_needs_a_choice(tmp_path, kv):
    archive = tmp_path / "glove.6B.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for d in (50, 100):
            z.writestr(f"glove.6B.{d}d.txt", "a 1 2\n")
    with pytest.raises(ValueError, match=r"member='glove.6B.50d.txt'"):
        E.load(archive)
    with pytest.raises(ValueError, match="is not in"):
        E.load(archive, member="glove.6B.300d.txt")
    assert E.load(archive, member="glove.6B.100d.txt").vector_size == 2


def test_embeddings_fasttext_vec_with_trailing_spaces_and_crlf(tmp_path):
    path = tmp_path / "wiki.vec"
    path.write_bytes(b"3 2\r\nthe 0.5 -1 \r\nof 2 3 \r\nand 1e-3 4 \r\n")
    kv = E.load_fasttext(path)
    assert kv.index_to_key == ["the", "of", "and"]
    np.testing.assert_array_equal(kv.vectors, np.array([[0.5, -1], [2, 3], [1e-3, 4]], np.float32))


def test_embeddings_gensim_reads_our_word2vec_files(tmp_path, kv):
    gensim = pytest.importorskip("gensim")
    for binary in (False, True):
        path = E.save_word2vec_format(
            kv, tmp_path / f"w.{'bin' if binary else 'txt'}", binary=binary
        )
        g = gensim.models.KeyedVectors.load_word2vec_format(str(path), binary=binary)
        assert list(g.index_to_key) == WORDS
        np.testing.assert_array_equal(g.vectors, kv.vectors)


def test_embeddings_we_read_gensim_files(tmp_path, kv):
    gensim = pytest.importorskip("gensim")
    g = gensim.models.KeyedVectors(vector_size=kv.vector_size)
    g.add_vectors(WORDS, np.asarray(kv.vectors))
    g.save_word2vec_format(str(tmp_path / "g.bin"), binary=True)
    g.save_word2vec_format(str(tmp_path / "g.txt"), binary=False)
    _same(E.load(tmp_path / "g.bin"), kv)
    _same(E.load(tmp_path / "g.txt"), kv)


def test_embeddings_limit_reads_first_words(tmp_path, kv):
    for path in (
        E.save_glove(kv, tmp_path / "g.txt.gz"),
        E.save_word2vec_format(kv, tmp_path / "w.bin", binary=True),
    ):
        small = E.load(path, limit=3)
        assert small.index_to_key == WORDS[:3]
        np.testing.assert_array_equal(small.vectors, kv.vectors[:3])
        assert len(E.load(path)) == len(WORDS)  # a different cache entry


def test_embeddings_many_chunks_parse_like_float(tmp_path):
    # ~3 MB of text crosses several read blocks; values are compared with Python's float()
    rng = np.random.default_rng(1)
    n, dim = 12_000, 25
    values = rng.standard_normal((n, dim)) * 10.0 ** rng.integers(-6, 3, (n, dim))
    lines = [f"w{i} " + " ".join(f"{v:.6g}" for v in row) for i, row in enumerate(values)]
    path = tmp_path / "big.txt"
    path.write_text("\n".join(lines) + "\n")
    kv = E.load(path, cache=False)
    expected = np.array([[float(t) for t in line.split()[1:]] for line in lines], np.float32)
    assert kv.index_to_key[-1] == f"w{n - 1}"
    np.testing.assert_array_equal(kv.vectors, expected)


@pytest.mark.parametrize(
    "body,line,message",
    [
        ("a 1 2 3\nb 1 2\nc 1 2 3\n", 2, "has 2 values, expected 3"),
        ("a 1 2 3\nb 1 2 3\nc 1 x 3\n", 3, "'x'"),
        ("a 1 2 3\nb 1 2.5.1 3\n", 2, "'2.5.1'"),
        ("a 1 2 3\nb 1 2 3 4 5\n", 2, "has 5 values, expected 3"),
        ("a 1 2 3\nb 1 - 3\n", 2, "'-'"),
    ],
)
def test_embeddings_bad_lines_name_file_and_line(tmp_path, body, line, message):
    path = tmp_path / "bad.txt"
    path.write_text(body)
    with pytest.raises(ValueError) as info:
        E.load(path)
    text = str(info.value)
    assert str(path) in text and f"line {line}" in text and message in text
    with pytest.warns(UserWarning, match="skipped 1 bad lines"):
        kv = E.load(path, on_bad_lines="skip")
    assert kv.meta["skipped_lines"] == 1
    assert len(kv) == body.count("\n") - 1


def test_embeddings_header_line_numbers_count_the_header(tmp_path):
    path = tmp_path / "w.txt"
    path.write_text("2 3\na 1 2 3\nb 1 2\n")
    with pytest.raises(ValueError, match="line 3: has 2 values"):
        E.load(path)


def test_embeddings_words_with_spaces_take_last_dim_fields(tmp_path):
    path = tmp_path / "840B.txt"
    path.write_text("the 1 2 3\nat name@domain.com 4 5 6\n. . . 7 8 9\n")
    kv = E.load(path)
    assert kv.index_to_key == ["the", "at name@domain.com", ". . ."]
    np.testing.assert_array_equal(kv["at name@domain.com"], [4, 5, 6])


def test_embeddings_repeated_words_keep_first(tmp_path):
    path = tmp_path / "dup.txt"
    path.write_text("a 1 1\nb 2 2\na 3 3\n")
    with pytest.warns(UserWarning, match="1 repeated words"):
        kv = E.load(path)
    assert kv.index_to_key == ["a", "b"]
    np.testing.assert_array_equal(kv["a"], [1, 1])


def test_embeddings_damaged_cache_is_rebuilt_with_a_warning(tmp_path, kv):
    path = E.save_glove(kv, tmp_path / "g.txt")
    E.load(path)
    vectors = Path(E.load(path).meta["cache"]) / "vectors.npy"
    vectors.write_bytes(vectors.read_bytes()[:40])  # cut inside the array
    with pytest.warns(UserWarning, match=r"embeddings cache .* is damaged .*; rebuilding it"):
        rebuilt = E.load(path)
    assert rebuilt.meta["from_cache"] is False
    _same(rebuilt, kv)
    again = E.load(path)  # the cache was written afresh
    assert again.meta["from_cache"] is True
    _same(again, kv)


def test_embeddings_killed_writers_temporaries_are_swept(tmp_path, kv, monkeypatch):
    import os
    import time

    from seqlab.embeddings import _cache

    root = tmp_path / "cache" / "embeddings"
    dead = root / ".g.txt-0123.999999999.abc"  # an owner PID that cannot exist
    old = root / ".g.txt-0123.abcdef"  # no PID (an older seqlab): swept by age
    fresh = root / f".g.txt-0123.{os.getpid()}.xyz"  # a live writer's: kept
    for folder in (dead, old, fresh):
        folder.mkdir(parents=True)
        (folder / "vectors.npy").write_bytes(b"half")
    past = time.time() - _cache.STALE_SECONDS - 10
    os.utime(old, (past, past))
    E.load(E.save_glove(kv, tmp_path / "g.txt"))
    assert not dead.exists() and not old.exists() and fresh.is_dir()


def test_embeddings_cut_gzip_and_nan_vectors_name_the_file(tmp_path, kv):
    packed = gzip.compress(b"".join(f"w{i} 0.5 0.25\n".encode() for i in range(2000)))
    cut = tmp_path / "cut.txt.gz"
    cut.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(ValueError, match=r"cut\.txt\.gz is damaged or truncated \("):
        E.load(cut)
    nan = tmp_path / "nan.txt"
    nan.write_text("a 1 2\nb nan 2\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"^.*nan\.txt: the vectors of 1 word\(s\) .*'b'"):
        E.load(nan)
    assert not (tmp_path / "cache" / "embeddings").exists() or not any(
        p.name.startswith("nan") for p in (tmp_path / "cache" / "embeddings").iterdir()
    )


def test_embeddings_cache_second_load_is_identical_and_memory_mapped(tmp_path, kv):
    path = E.save_glove(kv, tmp_path / "g.txt.gz")
    first = E.load(path)
    second = E.load(path)
    assert first.meta["from_cache"] is False and second.meta["from_cache"] is True
    assert isinstance(second.vectors, np.memmap)
    _same(first, second)
    # a changed source file is parsed again
    kv.vectors[0, 0] += 1.0
    E.save_glove(kv, path)
    third = E.load(path)
    assert third.meta["from_cache"] is False
    np.testing.assert_array_equal(third.vectors, kv.vectors)
    assert E.clear_cache() >= 1
    assert E.load(path, cache=False).meta["from_cache"] is False


def test_embeddings_missing_file_and_bad_options(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such embeddings file"):
        E.load(tmp_path / "nope.txt")
    path = tmp_path / "g.txt"
    path.write_text("a 1 2\n")
    with pytest.raises(ValueError, match="format must be one of"):
        E.load(path, format="fasttxt")
    with pytest.raises(ValueError, match="on_bad_lines"):
        E.load(path, on_bad_lines="ignore")
    with pytest.raises(ValueError, match="limit must be"):
        E.load(path, limit=0)


def test_embeddings_header_in_glove_mode_is_explained(tmp_path):
    path = tmp_path / "w.txt"
    path.write_text("1 2\na 1 2\n")
    with pytest.raises(ValueError, match="looks like a word2vec header"):
        E.load(path, format="glove")
    assert E.load(path).index_to_key == ["a"]


def test_embeddings_truncated_files_are_errors(tmp_path, kv):
    data = tmp_path / "w.bin"
    E.save_word2vec_format(kv, data, binary=True)
    cut = tmp_path / "cut.bin"
    cut.write_bytes(data.read_bytes()[:-20])
    with pytest.raises(ValueError, match="truncated"):
        E.load(cut)
    text = tmp_path / "cut.txt"
    text.write_text("5 2\na 1 2\nb 3 4\n")
    with pytest.raises(ValueError, match="promises 5 vectors"):
        E.load(text)


def test_embeddings_invalid_utf8_word_is_reported(tmp_path):
    path = tmp_path / "latin1.txt.gz"
    path.write_bytes(gzip.compress(b"ok 1 2\ncaf\xe9 3 4\n"))
    with pytest.raises(ValueError, match="line 2: the word is not valid utf-8"):
        E.load(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kv = E.load(path, unicode_errors="replace")
    assert kv.index_to_key[1] == "caf\ufffd"


def test_embeddings_odd_but_valid_lines_parse_exactly(tmp_path):
    long_word = "x" * 150  # longer than the window used to find word ends
    text = (
        "1984 1 2 3\n"  # a numeric word
        f"{long_word} 4 5 6\n"
        "\n"  # a blank line is skipped
        "tab\t7 8 9\n"  # other whitespace goes through the exact path
        "e 1e-3 -2.5E+2 .5\n"
        "last 10 11 12"  # no final newline
    )
    path = tmp_path / "odd.txt"
    path.write_text(text)
    kv = E.load(path, cache=False)
    assert kv.index_to_key == ["1984", long_word, "tab", "e", "last"]
    np.testing.assert_array_equal(
        kv.vectors,
        np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9], [1e-3, -250, 0.5], [10, 11, 12]], np.float32),
    )


def _parse_lines_one_by_one(lines: list[bytes], dim: int):
    from seqlab.embeddings._textparse import parse_line

    words, vectors, bad = [], [], []
    for number, line in enumerate(lines, start=1):
        word, vector, reason = parse_line(line, dim)
        if word is None:
            bad.append((number, reason))
        else:
            words.append(word)
            vectors.append(vector)
    return words, np.array(vectors), bad


@pytest.mark.parametrize(
    "token",
    [b"1.2.3", b"1-2", b"1+2", b"1e", b"1e-", b"1e5.3", b"1ee5", b"--1", b"+1", b"-", b".",
     b"nan", b"inf", b".5", b"5.", b"-.5", b"1e+5", b"1E-5", b"0x1", b"1_0", b"2.-1", b"1..2",
     b"-1e-3e", b"1.5e2", b"1-"],
)  # fmt: skip
def test_embeddings_bulk_parser_agrees_with_the_exact_line_parser(token):
    # An odd token (trailing characters that the fast reader would drop, a sign in the
    # middle, a bare exponent) among ordinary lines must give what the exact per-line parser
    # gives: the same vectors, or the same bad-line reason.
    from seqlab.embeddings._textparse import parse_chunk

    rng = np.random.default_rng(0)
    lines = [
        b"w%d " % i + b" ".join(b"%.4f" % v for v in rng.standard_normal(3)) for i in range(50)
    ]
    lines[17] = b"odd 0.5 " + token + b" -0.25"
    parsed = parse_chunk(b"\n".join(lines) + b"\n", 3, first_line=1)
    words, vectors, bad = _parse_lines_one_by_one(lines, 3)
    assert parsed.bad == bad
    assert parsed.words == words
    np.testing.assert_array_equal(parsed.vectors, vectors)
