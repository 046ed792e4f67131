"""Language-model data: vocabularies, the lecture's windows, contiguous TBPTT batches."""

from __future__ import annotations

import numpy as np
import pytest

from seqlab.lm.data import (
    CharVocabulary,
    WordVocabulary,
    batchify,
    build_windows,
    chunk_starts,
    detokenize_words,
    get_chunk,
    split_text,
    tokenize_words,
    vocabulary_from_dict,
)


def test_lm_windows_match_hand_made_example():
    text = "the cat sat"
    # maxlen 4, step 3: starts 0, 3, 6 (range(0, 11 - 4, 3)), each with the next character.
    sentences, next_chars = build_windows(text, maxlen=4, step=3)
    assert sentences == ["the ", " cat", "t sa"]
    assert next_chars == ["c", " ", "t"]


def test_lm_windows_of_ids_equal_the_keras_loop():
    vocab = CharVocabulary.fit("the quick brown fox jumps over the lazy dog")
    text = "the quick brown fox jumps over the lazy dog"
    ids = vocab.encode(text)
    x, y = build_windows(ids, maxlen=5, step=2)
    sentences, next_chars = build_windows(text, maxlen=5, step=2)
    assert [vocab.decode(row) for row in x] == sentences
    assert vocab.decode(y) == "".join(next_chars)
    assert x.shape == (len(range(0, len(text) - 5, 2)), 5)
    assert not x.flags.writeable  # a view of the corpus, not a copy


def test_lm_windows_need_enough_text():
    with pytest.raises(ValueError, match="maxlen"):
        build_windows(np.arange(5), maxlen=5, step=1)
    with pytest.raises(ValueError, match="step"):
        build_windows("abc", maxlen=1, step=0)


def test_lm_batchify_layout():
    data = batchify(np.arange(26), 4)  # 26 tokens, 4 streams of 6, the last 2 dropped
    assert data.tolist() == [
        [0, 1, 2, 3, 4, 5],
        [6, 7, 8, 9, 10, 11],
        [12, 13, 14, 15, 16, 17],
        [18, 19, 20, 21, 22, 23],
    ]
    x0, y0 = get_chunk(data, 0, 3)
    x1, y1 = get_chunk(data, 3, 3)
    assert x0.tolist() == [[0, 1, 2], [6, 7, 8], [12, 13, 14], [18, 19, 20]]
    assert y0.tolist() == [[1, 2, 3], [7, 8, 9], [13, 14, 15], [19, 20, 21]]
    # Row r of the next chunk continues row r: the hidden state may be carried over.
    assert (x1[:, 0] == x0[:, -1] + 1).all()
    assert x1.tolist() == [[3, 4], [9, 10], [15, 16], [21, 22]]  # the last chunk is shorter
    assert y1.tolist() == [[4, 5], [10, 11], [16, 17], [22, 23]]
    assert chunk_starts(data.shape[1], 3) == [0, 3]
    with pytest.raises(ValueError, match="batch_size"):
        batchify(np.arange(5), 4)


def test_lm_every_token_is_a_target_once_per_epoch():
    ids = np.arange(1000)
    data = batchify(ids, 8)
    targets = [get_chunk(data, s, 16)[1] for s in chunk_starts(data.shape[1], 16)]
    seen = np.concatenate([t.ravel() for t in targets])
    # Every token but the first of each stream is predicted exactly once.
    assert sorted(seen.tolist()) == sorted(set(range(1000)) - set(data[:, 0].tolist()))


def test_lm_split_holds_out_the_end():
    train, val = split_text("0123456789" * 10, 0.1)
    assert len(val) == 10 and train + val == "0123456789" * 10
    assert split_text("abc", 0.0) == ("abc", "")
    with pytest.raises(ValueError, match="val_fraction"):
        split_text("abc", 1.0)


def test_lm_char_vocabulary_round_trip_and_unknown_chars():
    v = CharVocabulary.fit("Hello World", lower=True)
    assert v.itos == sorted(set("hello world"))
    assert v.decode(v.encode("HELLO")) == "hello"
    with pytest.raises(ValueError, match="not in the vocabulary"):
        v.encode("hello!")
    assert v.decode(v.encode("hello!", errors="ignore")) == "hello"
    again = vocabulary_from_dict(v.to_dict())
    assert isinstance(again, CharVocabulary) and again.itos == v.itos and again.lower


def test_lm_word_tokens_and_detokenize():
    text = "Hello, world! (It's 3 o'clock.)\nNew line"
    tokens = tokenize_words(text)
    assert tokens == [
        "Hello", ",", "world", "!", "(", "It's", "3", "o'clock", ".", ")", "\n", "New", "line",
    ]  # fmt: skip
    assert detokenize_words(tokens) == "Hello, world! (It's 3 o'clock.)\nNew line"


def test_lm_word_vocabulary_top_n_and_oov():
    text = "a a a b b c d . a b"
    v = WordVocabulary.fit(text, max_tokens=5)  # pad, [UNK] and the 3 most frequent
    assert v.itos == ["", "[UNK]", "a", "b", "c"]  # c and d tie (1 each): first seen wins
    assert v.encode("a d zebra b").tolist() == [2, 1, 1, 3]
    assert v.decode(v.encode("a d zebra b")) == "a [UNK] [UNK] b"
    assert v.special_ids == [0]
    assert vocabulary_from_dict(v.to_dict()).itos == v.itos
    with pytest.raises(ValueError, match="max_tokens"):
        WordVocabulary.fit(text, max_tokens=2)
    with pytest.raises(TypeError, match="str"):
        WordVocabulary.fit(["a", "b"])  # type: ignore[arg-type]
