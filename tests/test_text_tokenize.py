"""Tokenizers: exact tokens for the Keras and scikit-learn standardisations, HTML breaks, n-grams."""

from __future__ import annotations

import pytest

from seqlab.text import (
    KERAS_FILTERS,
    char_ngrams,
    char_standardizer,
    strip_html_breaks,
    tokenize_chars,
    tokenize_words,
    word_ngrams,
)


def test_text_tokenize_keras_standardisation_exact_tokens():
    text = "Hello, World! It's a test-case.\tNew\nline (really)?"
    assert tokenize_words(text) == [
        "hello",
        "world",
        "it's",  # the apostrophe is not a Keras filter
        "a",
        "test",
        "case",
        "new",
        "line",
        "really",
    ]


def test_text_tokenize_keras_filters_are_kerass_list():
    assert KERAS_FILTERS == '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'
    # Every filter character separates words, like Keras's text_to_word_sequence.
    assert tokenize_words("a" + "a".join(KERAS_FILTERS) + "a") == ["a"] * (len(KERAS_FILTERS) + 1)


def test_text_tokenize_regex_matches_sklearn_pattern():
    text = "Hello, World! It's a test_case 1 22 Ünïcode"
    assert tokenize_words(text, standardize="regex") == [
        "hello",
        "world",
        "it",
        "test_case",
        "22",
        "ünïcode",
    ]


def test_text_tokenize_regex_custom_pattern():
    assert tokenize_words("ab c d", standardize="regex", token_pattern=r"\w") == list("abcd")


def test_text_tokenize_lower_and_none_keep_punctuation():
    assert tokenize_words("Hi, there!", standardize="lower") == ["hi,", "there!"]
    assert tokenize_words("Hi, there!", standardize=None) == ["Hi,", "there!"]


@pytest.mark.parametrize("brk", ["<br />", "<br/>", "<br>", "<BR />"])
def test_text_tokenize_html_breaks_removed(brk):
    assert strip_html_breaks(f"a{brk}b") == "a b"
    assert tokenize_words(f"good{brk}{brk}film", strip_html=True) == ["good", "film"]
    # Without stripping, Keras's filters leave the tag name behind.
    assert tokenize_words(f"good{brk}film", strip_html=False) == ["good", "br", "film"]


def test_text_tokenize_html_breaks_with_regex():
    tokens = tokenize_words("Great<br /><br />movie", standardize="regex", strip_html=True)
    assert tokens == ["great", "movie"]


def test_text_tokenize_word_ngrams_any_range():
    tokens = ["a", "b", "c", "d"]
    assert word_ngrams(tokens, (1, 3)) == [
        "a",
        "b",
        "c",
        "d",
        "a b",
        "b c",
        "c d",
        "a b c",
        "b c d",
    ]
    assert word_ngrams(tokens, (2, 2)) == ["a b", "b c", "c d"]
    assert word_ngrams(["a"], (2, 3)) == []
    assert word_ngrams(tokens) == tokens


def test_text_tokenize_char_ngrams_over_standardized_string():
    assert char_standardizer("keras")("Hi,  you!") == "hi you"
    assert tokenize_chars("Hi, you!", standardize="keras") == list("hi you")
    assert char_ngrams("hi you", (2, 3)) == [
        "hi",
        "i ",
        " y",
        "yo",
        "ou",
        "hi ",
        "i y",
        " yo",
        "you",
    ]
    assert tokenize_chars("A\nb", standardize=None) == ["A", "\n", "b"]


@pytest.mark.parametrize("bad", [(0, 1), (2, 1), (1,), "12", (1.0, 2)])
def test_text_tokenize_bad_ngram_range_refused(bad):
    with pytest.raises(ValueError, match="ngram_range"):
        word_ngrams(["a"], bad)


def test_text_tokenize_bad_options_refused():
    with pytest.raises(ValueError, match="standardize must be one of"):
        tokenize_words("a", standardize="nope")
    with pytest.raises(ValueError, match="only used with standardize='regex'"):
        tokenize_words("a", standardize="keras", token_pattern=r"\w+")
    with pytest.raises(ValueError, match="more than one capturing group"):
        tokenize_words("a", standardize="regex", token_pattern=r"(a)(b)")
    with pytest.raises(TypeError, match="text must be a str"):
        tokenize_words(b"bytes")
