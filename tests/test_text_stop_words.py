"""Stop words: the built-in English list, removal after standardisation and before n-grams,
the JSON round trip, and the errors."""

from __future__ import annotations

import json

import pytest

from seqlab.text import ENGLISH_STOP_WORDS, TextVectorizer, read_stop_words
from seqlab.text.stop_words import stop_word_set


def test_text_stop_words_english_is_scikit_learns_list():
    assert len(ENGLISH_STOP_WORDS) == 318
    assert {"the", "a", "and", "amoungst", "yourselves"} <= ENGLISH_STOP_WORDS
    assert "film" not in ENGLISH_STOP_WORDS
    sklearn = pytest.importorskip("sklearn.feature_extraction.text")
    assert ENGLISH_STOP_WORDS == sklearn.ENGLISH_STOP_WORDS


def test_text_stop_words_removed_before_ngrams():
    vec = TextVectorizer(stop_words="english", ngram_range=(1, 2))
    # "the" and "and" go first, so "cat hat" is a bigram although they were not adjacent
    assert vec.tokenize("The cat and the hat.") == ["cat", "hat", "cat hat"]
    vec.fit(["The cat and the hat.", "a hat"])
    assert vec.get_vocabulary() == ["", "[UNK]", "hat", "cat", "cat hat"]
    assert [a.tolist() for a in vec.transform(["the hat of the cat"])] == [[2, 3, 1]]


def test_text_stop_words_compared_after_standardisation():
    # default mode: "Don't" becomes "don't"; Keras mode: "dont" (apostrophe deleted)
    assert TextVectorizer(stop_words=["don't"]).words("Don't PANIC") == ["panic"]
    keras = TextVectorizer(compat="keras", stop_words=["dont"], output_mode="count")
    assert keras.words("Don't PANIC") == ["panic"]
    keras.fit(["Don't panic", "panic now"])
    assert keras.get_vocabulary() == ["[UNK]", "panic", "now"]
    assert keras.transform(["don't panic"]).toarray().tolist() == [[0, 1, 0]]


@pytest.mark.parametrize("stop_words", ["english", ["panic", "now"], ("now",)])
def test_text_stop_words_saved_and_reloaded(stop_words, tmp_path):
    docs = ["Don't panic now", "the towel", "panic! the towel"]
    vec = TextVectorizer(stop_words=stop_words, output_mode="count").fit(docs)
    saved = json.loads(json.dumps(vec.to_dict()))
    expected = stop_words if isinstance(stop_words, str) else sorted(stop_words)
    assert saved["params"]["stop_words"] == expected
    vec.save(tmp_path / "v.json")
    back = TextVectorizer.load(tmp_path / "v.json")
    assert stop_word_set(back.stop_words) == stop_word_set(stop_words)
    assert back.get_vocabulary() == vec.get_vocabulary()
    new = ["panic about the towel now"]
    assert (back.transform(new) != vec.transform(new)).nnz == 0
    assert back.words(new[0]) == vec.words(new[0])


def test_text_stop_words_errors():
    with pytest.raises(
        ValueError, match="stop_words must be None, 'english' or a list of words, got 'french'"
    ):
        TextVectorizer(stop_words="french").fit(["a b"])
    with pytest.raises(ValueError, match="stop_words must be non-empty strings, got 3"):
        TextVectorizer(stop_words=["a", 3]).fit(["a b"])
    with pytest.raises(ValueError, match="stop_words apply to words, got level='char'"):
        TextVectorizer(stop_words="english", level="char").fit(["a b"])
    with pytest.raises(ValueError, match="After pruning, no terms remain"):
        TextVectorizer(stop_words="english").fit(["the and of", "a"])


def test_text_stop_words_read_file(tmp_path):
    path = tmp_path / "stop.txt"
    path.write_text("# my list\nthe\n\n  Film  \nmovie\n", encoding="utf-8")
    assert read_stop_words(path) == ["the", "Film", "movie"]
    with pytest.raises(FileNotFoundError, match="stop-word file .*nope.txt' does not exist"):
        read_stop_words(tmp_path / "nope.txt")
    (tmp_path / "empty.txt").write_text("# nothing\n\n", encoding="utf-8")
    with pytest.raises(ValueError, match="holds no words"):
        read_stop_words(tmp_path / "empty.txt")
