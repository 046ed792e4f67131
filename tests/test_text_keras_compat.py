"""TextVectorizer(compat="keras") against Keras 3's own test cases.

Each test names the Keras test it ports; inputs and expected outputs are copied from it.
Sources (keras-team/keras, Keras 3): keras/src/layers/preprocessing/
text_vectorization_test.py, index_lookup_test.py and string_lookup_test.py, and the
TextVectorization docstring. How the calls map:

* ``layer.adapt(data)`` -> ``vec.fit(data)``; ``vocabulary=[...]`` / ``set_vocabulary`` ->
  ``vec.set_vocabulary([...])``; ``output_sequence_length`` -> ``maxlen``;
  ``layer([[s1], [s2]])`` -> ``vec.transform([s1, s2])`` (bag outputs are CSR: compared
  with ``.toarray()``).
* IndexLookup / StringLookup take tokens, TextVectorization takes texts: a token list
  becomes one document of those tokens joined by spaces (whitespace split gives them back),
  a list of single tokens given to ``adapt`` becomes one document per token (Keras adapts a
  rank-1 list as that many documents). Their ``oov_token="[OOV]"`` is TextVectorization's
  ``"[UNK]"``.
* Not offered, so not ported: ``split="character"`` or a callable, ``ragged=True`` (the
  ragged rows are compared padded, Keras's ``ragged=False`` output), ``pad_to_max_tokens``,
  ``output_mode="one_hot"``, ``invert``, ``num_oov_indices != 1``, vocabulary files.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from seqlab.text import TextVectorizer
from seqlab.text.keras_compat import (
    KERAS_PUNCTUATION,
    KERAS_PUNCTUATION_REGEX,
    keras_split,
    keras_standardizer,
)


def keras(**kw):
    return TextVectorizer(compat="keras", **kw)


def dense(x):
    return x.toarray().tolist()


# ---------------------------------------------------------------- text_vectorization_test.py


def test_keras_adapt_flow():
    # text_vectorization_test.py::test_adapt_flow (also the TextVectorization docstring)
    layer = keras(max_tokens=5000, output_mode="int", maxlen=4)
    layer.fit(["foo bar", "bar baz", "baz bada boom"])
    out = layer.transform(["foo qux bar", "qux baz"])
    assert out.dtype == np.int64
    assert out.tolist() == [[4, 1, 3, 0], [1, 2, 0, 0]]
    # The order behind those ids: by count, ties by the token descending (baz before bar,
    # both twice; foo before boom and bada), not by first occurrence (bar, then baz; foo).
    assert layer.get_vocabulary() == ["", "[UNK]", "baz", "bar", "foo", "boom", "bada"]


@pytest.mark.parametrize("special", [False, True])
def test_keras_fixed_and_set_vocabulary(special):
    # text_vectorization_test.py::test_fixed_vocabulary and ::test_set_vocabulary;
    # the special tokens may lead the list (index_lookup_test.py::test_basics_string_vocab)
    vocabulary = ["", "[UNK]"] * special + ["baz", "bar", "foo"]
    layer = keras(max_tokens=5000, output_mode="int", maxlen=4).set_vocabulary(vocabulary)
    assert layer.transform(["foo qux bar", "qux baz"]).tolist() == [[4, 1, 3, 0], [1, 2, 0, 0]]


def test_keras_rows_without_and_with_output_sequence_length():
    # text_vectorization_test.py::test_ragged_tensor and ::test_ragged_tensor_output_length:
    # rows [[4, 1, 3], [1, 2], [4]] and [[4, 1], [1, 2], [4]], here padded at the end with 0
    layer = keras(output_mode="int").set_vocabulary(["baz", "bar", "foo"])
    docs = ["foo qux bar", "qux baz", "foo"]
    assert layer.transform(docs).tolist() == [[4, 1, 3], [1, 2, 0], [4, 0, 0]]
    cut = keras(output_mode="int", maxlen=2).set_vocabulary(["baz", "bar", "foo"])
    assert cut.transform(docs).tolist() == [[4, 1], [1, 2], [4, 0]]


def test_keras_multi_hot_count_tf_idf_outputs():
    # text_vectorization_test.py::test_multi_hot_output, ::test_output_mode_count_output,
    # ::test_output_mode_tf_idf_output
    docs = ["foo bar", "baz foo foo"]
    multi = keras(output_mode="multi_hot").set_vocabulary(["foo", "bar", "baz"])
    assert dense(multi.transform(docs)) == [[0, 1, 1, 0], [0, 1, 0, 1]]
    count = keras(output_mode="count").set_vocabulary(["foo", "bar", "baz"])
    assert dense(count.transform(docs)) == [[0, 1, 1, 0], [0, 2, 0, 1]]
    tfidf = keras(output_mode="tf_idf").set_vocabulary(
        ["foo", "bar", "baz"], idf_weights=[0.3, 0.5, 0.2]
    )
    expected = [[0.0, 0.3, 0.5, 0.0], [0.0, 0.6, 0.0, 0.2]]
    np.testing.assert_allclose(tfidf.transform(docs).toarray(), expected, rtol=1e-6)


def test_keras_lower_and_strip_punctuation_standardization():
    # text_vectorization_test.py::test_lower_and_strip_punctuation_standardization
    layer = keras(standardize="lower_and_strip_punctuation").set_vocabulary(
        ["hello", "world", "this", "is", "nice", "test"]
    )
    out = layer.transform(["Hello, World!. This is just a nice test!"])
    assert out.tolist() == [[2, 3, 4, 5, 1, 1, 6, 7]]
    # the default standardize ("keras") is the same rule in this mode
    default = keras().set_vocabulary(["hello", "world", "this", "is", "nice", "test"])
    assert default.transform(["Hello, World!. This is just a nice test!"]).tolist() == out.tolist()


def test_keras_lower_standardization():
    # text_vectorization_test.py::test_lower_standardization
    layer = keras(standardize="lower").set_vocabulary(
        ["hello,", "hello", "world", "this", "is", "nice", "test"]
    )
    out = layer.transform(["Hello, World!. This is just a nice test!"])
    assert out.tolist() == [[2, 1, 5, 6, 1, 1, 7, 1]]


def test_keras_strip_punctuation_and_no_standardization():
    # text_vectorization_test.py::test_strip_punctuation_standardization, ::test_no_standardization
    strip = keras(standardize="strip_punctuation").set_vocabulary(["Hello", "World", "Test"])
    assert strip.transform(["Hello, World! Test."]).tolist() == [[2, 3, 4]]
    raw = keras(standardize=None).set_vocabulary(["Hello", "world"])
    assert raw.transform(["Hello hello"]).tolist() == [[2, 1]]


def test_keras_ngrams_integer_and_tuple():
    # text_vectorization_test.py::test_ngrams_integer and ::test_ngrams_tuple
    two = keras(ngrams=2, output_mode="int").fit(["foo bar baz"])
    vocab = two.get_vocabulary()
    assert "foo bar" in vocab and "bar baz" in vocab
    # all counts are 1, so the whole order is the tokens descending
    assert vocab == ["", "[UNK]", "foo bar", "foo", "baz", "bar baz", "bar"]
    orders = keras(ngrams=(1, 3), output_mode="int").fit(["foo bar baz"])
    vocab = orders.get_vocabulary()
    assert "foo" in vocab and "foo bar baz" in vocab and "foo bar" not in vocab
    assert orders.tokenize("foo bar baz") == ["foo", "bar", "baz", "foo bar baz"]


def test_keras_max_tokens():
    # text_vectorization_test.py::test_max_tokens: 5 entries, '' and [UNK] included
    layer = keras(output_mode="int", max_tokens=5).fit(["a b c d e f g h i j"])
    assert len(layer.get_vocabulary()) == 5
    assert layer.get_vocabulary() == ["", "[UNK]", "j", "i", "h"]


def test_keras_get_vocabulary_and_size():
    # text_vectorization_test.py::test_get_vocabulary, ::test_get_vocabulary_no_special_tokens,
    # ::test_vocabulary_size; the docstring's second example
    layer = keras(output_mode="int").set_vocabulary(["foo", "bar", "baz"])
    vocab = layer.get_vocabulary()
    assert vocab[0] == "" and vocab[1] == "[UNK]"
    assert layer.get_vocabulary(include_special_tokens=False) == ["foo", "bar", "baz"]
    assert layer.vocab_size == 5
    doc = keras(max_tokens=5000, maxlen=4).set_vocabulary(["earth", "wind", "and", "fire"])
    assert doc.get_vocabulary() == ["", "[UNK]", "earth", "wind", "and", "fire"]


def test_keras_invalid_arguments():
    # text_vectorization_test.py::test_invalid_ngrams and
    # ::test_output_sequence_length_with_non_int_mode (our messages)
    with pytest.raises(ValueError, match="ngrams must be None, an int N >= 1"):
        keras(ngrams="invalid").fit(["a"])
    with pytest.raises(ValueError, match="maxlen=5 only applies to output_mode='int'"):
        keras(output_mode="multi_hot", maxlen=5).fit(["a"])


def test_keras_save_load_tf_idf_and_ngrams(tmp_path):
    # text_vectorization_test.py::test_save_load_tf_idf_mode and
    # ::test_save_load_with_ngrams_flow: the same output after a save and a load
    data = ["foo bar", "bar baz", "baz bada boom"]
    for kw in ({"max_tokens": 100, "output_mode": "tf_idf"}, {"ngrams": (1, 2)}):
        layer = keras(**kw).fit(data)
        before = layer.transform(data)
        layer.save(tmp_path / "v.json")
        after = TextVectorizer.load(tmp_path / "v.json").transform(data)
        before = before.toarray() if hasattr(before, "toarray") else before
        after = after.toarray() if hasattr(after, "toarray") else after
        np.testing.assert_array_equal(before, after)
    # the values behind the tf_idf case: N = 3, df(bar) = df(baz) = 2, the rest 1
    tfidf = keras(max_tokens=100, output_mode="tf_idf").fit(data)
    assert tfidf.get_vocabulary() == ["[UNK]", "baz", "bar", "foo", "boom", "bada"]
    ln2, ln25 = math.log(2), math.log(2.5)
    np.testing.assert_allclose(tfidf.idf_, [(2 * ln2 + 3 * ln25) / 5, ln2, ln2, ln25, ln25, ln25])
    np.testing.assert_allclose(
        tfidf.transform(["foo bar", "qux qux"]).toarray(),
        [[0, 0, ln2, ln25, 0, 0], [2 * (2 * ln2 + 3 * ln25) / 5, 0, 0, 0, 0, 0]],
        rtol=1e-6,
    )


# ---------------------------------------------------------------- index_lookup_test.py

ADAPT = ["one", "one", "one", "two", "two", "three"]  # six one-token documents


def test_keras_index_lookup_basics_string_vocab():
    # index_lookup_test.py::test_basics_string_vocab (adapt, fixed vocabulary with and
    # without the special tokens, set_vocabulary)
    adapted = keras(max_tokens=7).fit(ADAPT)
    fixed = keras(max_tokens=7).set_vocabulary(["one", "two", "three"])
    special = keras(max_tokens=7).set_vocabulary(["", "[UNK]", "one", "two", "three"])
    for layer in (adapted, fixed, special):
        assert layer.get_vocabulary() == ["", "[UNK]", "one", "two", "three"]
        assert layer.get_vocabulary(include_special_tokens=False) == ["one", "two", "three"]
        assert layer.transform(["one two four"]).tolist() == [[2, 3, 1]]


def test_keras_index_lookup_max_tokens_adapt():
    # index_lookup_test.py::test_max_tokens_adapt (integer tokens written as words)
    layer = keras(max_tokens=4).fit(["1", "1", "1", "2", "2", "3"])
    assert layer.get_vocabulary() == ["", "[UNK]", "1", "2"]
    assert layer.get_vocabulary(include_special_tokens=False) == ["1", "2"]
    assert layer.transform(["1 2 3 4"]).tolist() == [[2, 3, 1, 1]]


def test_keras_index_lookup_output_modes():
    # index_lookup_test.py::test_output_modes (int, multi_hot, count, tf_idf)
    vocabulary = ["one", "two", "three"]
    single, batch = "one two four", "one two four two"

    def layer(mode, **kw):
        return keras(max_tokens=7, output_mode=mode).set_vocabulary(vocabulary, **kw)

    assert layer("int").transform([single]).tolist() == [[2, 3, 1]]
    assert layer("int").transform([batch]).tolist() == [[2, 3, 1, 3]]
    assert dense(layer("multi_hot").transform([single])) == [[1, 1, 1, 0]]
    assert dense(layer("multi_hot").transform([batch])) == [[1, 1, 1, 0]]
    assert dense(layer("count").transform([single])) == [[1, 1, 1, 0]]
    assert dense(layer("count").transform([batch])) == [[1, 1, 2, 0]]
    tfidf = layer("tf_idf", idf_weights=np.array([0.1, 0.2, 0.3]))
    np.testing.assert_allclose(tfidf.transform([single]).toarray(), [[0.2, 0.1, 0.2, 0.0]])
    np.testing.assert_allclose(tfidf.transform([batch]).toarray(), [[0.2, 0.1, 0.4, 0.0]])


def test_keras_index_lookup_adapt_tf_idf():
    # index_lookup_test.py::test_adapt_tf_idf, unbatched then batched data
    layer = keras(max_tokens=7, output_mode="tf_idf").fit(ADAPT)
    idf = np.log(1 + len(ADAPT) / (1 + np.array([3, 2, 1])))  # document counts 3, 2, 1
    np.testing.assert_allclose(layer.idf_[1:], idf)
    np.testing.assert_allclose(
        layer.transform(["one two four"]).toarray(), [[1.1337324, 0.91629076, 1.0986123, 0.0]]
    )
    adapt = ["one one", "one two", "two three"]
    layer = keras(max_tokens=7, output_mode="tf_idf").fit(adapt)
    assert layer.get_vocabulary() == ["[UNK]", "one", "two", "three"]  # counts 3, 2, 1
    idf = np.log(1 + len(adapt) / (1 + np.array([2, 2, 1])))  # document counts 2, 2, 1
    np.testing.assert_allclose(layer.idf_[1:], idf)
    np.testing.assert_allclose(
        layer.transform(["one two", "two four"]).toarray(),
        [[0.0, 0.6931472, 0.6931472, 0.0], [0.76752836, 0.0, 0.6931472, 0.0]],
        rtol=1e-6,
    )


def test_keras_index_lookup_errors():
    # index_lookup_test.py::test_max_tokens_less_than_two,
    # ::test_idf_weights_set_with_non_tfidf_output_mode, ::test_repeated_tokens_in_vocabulary,
    # ::test_mask_token_in_wrong_position (our messages)
    with pytest.raises(ValueError, match="max_tokens must be None or an int >= 2"):
        keras(max_tokens=1).fit(["a"])
    with pytest.raises(ValueError, match="idf_weights only apply to output_mode='tf_idf'"):
        keras(output_mode="int").set_vocabulary(["a", "b", "c"], idf_weights=[0.5, 0.1, 0.3])
    with pytest.raises(ValueError, match=r"must not repeat a term, got \['token'\]"):
        keras().set_vocabulary(["token", "token", "unique"])
    with pytest.raises(ValueError, match=r"only at its start, got '' at index 1"):
        keras().set_vocabulary(["token", "", "unique"])
    with pytest.raises(ValueError, match="vocabulary has 6 entries .* max_tokens is 5"):
        keras(max_tokens=5).set_vocabulary(["a", "b", "c", "d"])


# ---------------------------------------------------------------- string_lookup_test.py


def test_keras_string_lookup_multi_hot_and_count():
    # string_lookup_test.py::test_output_mode_multi_hot_binary and
    # ::test_output_mode_count_shape (bag outputs have no mask column: [UNK] is index 0)
    multi = keras(output_mode="multi_hot").set_vocabulary(["a", "b"])
    assert dense(multi.transform(["a b"])) == [[0, 1, 1]]
    count = keras(output_mode="count").set_vocabulary(["a", "b"])
    out = count.transform(["a a a b b"])
    assert out.shape[-1] == len(count.get_vocabulary()) == 3
    assert dense(out) == [[0, 3, 2]]


# ---------------------------------------------------------------- Keras's source


def test_keras_punctuation_is_the_verbatim_regex():
    # text_vectorization.py::_preprocess deletes matches of this regex (copied verbatim)
    regex = r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']'
    assert KERAS_PUNCTUATION_REGEX == regex
    ascii_matches = "".join(c for c in map(chr, range(128)) if re.match(regex, c))
    assert KERAS_PUNCTUATION == ascii_matches == "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
    assert re.sub(regex, "", "".join(map(chr, range(128, 600)))) == "".join(
        map(chr, range(128, 600))
    )  # non-ASCII characters are never punctuation here


def test_keras_standardize_and_split_details():
    # tf.strings.lower without an encoding lowers ASCII only; the apostrophe is punctuation
    assert keras_standardizer("lower_and_strip_punctuation")("Don't ÉCOLE-Bus") == "dont Écolebus"
    # tf.strings.split splits on ASCII whitespace only
    assert keras_split("a\tb\nc\x0bd\x0ce\rf\u00a0g\u2003h  ") == [
        "a",
        "b",
        "c",
        "d",
        "e",
        "f\u00a0g\u2003h",
    ]
    vec = keras().fit(["Don't stop"])
    assert vec.get_vocabulary() == ["", "[UNK]", "stop", "dont"]


def test_keras_mode_versus_default_mode():
    # the default mode keeps the Keras Tokenizer's rules: punctuation becomes a space, the
    # apostrophe stays, ties go by first occurrence, bag modes keep the padding column
    docs = ["Don't stop-me now", "now"]
    assert TextVectorizer().fit(docs).get_vocabulary() == [
        "",
        "[UNK]",
        "now",
        "don't",
        "stop",
        "me",
    ]
    assert keras().fit(docs).get_vocabulary() == ["", "[UNK]", "now", "stopme", "dont"]
    default_bag = TextVectorizer(output_mode="count").fit(docs).transform(["now zzz"])
    keras_bag = keras(output_mode="count").fit(docs).transform(["now zzz"])
    assert dense(default_bag) == [[0, 0, 1, 0, 0, 0]]  # OOV never counted
    assert dense(keras_bag) == [[1, 1, 0, 0]]  # OOV counted at index 0


def test_keras_mode_refuses_what_keras_has_not():
    with pytest.raises(
        ValueError, match="output_mode must be one of 'int', .*; got 'freq'; compat='keras' takes"
    ):
        keras(output_mode="freq").fit(["a"])
    with pytest.raises(ValueError, match="^standardize must be one of .*; got 'regex'; compat="):
        keras_standardizer("regex")
    with pytest.raises(ValueError, match="not ngram_range=\\(1, 2\\); e.g. ngrams=2"):
        keras(ngram_range=(1, 2)).fit(["a"])
    with pytest.raises(ValueError, match="level='char' is not available with compat='keras'"):
        keras(level="char").fit(["a"])
    with pytest.raises(ValueError, match="ngrams=2 is Keras's n-gram argument"):
        TextVectorizer(ngrams=2).fit(["a"])
    with pytest.raises(ValueError, match="'strip_punctuation' is Keras 3 TextVectorization's"):
        TextVectorizer(standardize="strip_punctuation").fit(["a"])
    with pytest.raises(ValueError, match="compat must be None .* got 'sklearn'"):
        TextVectorizer(compat="sklearn").fit(["a"])


def test_keras_fit_counts_and_streaming_fit_match_fit():
    from seqlab.data.streaming import fit_vocabulary

    docs = ["b a a", "c b", "d", "a c!"]
    for mode in ("int", "tf_idf"):
        whole = keras(output_mode=mode, ngrams=2, max_tokens=6).fit(docs)
        streamed = fit_vocabulary(keras(output_mode=mode, ngrams=2, max_tokens=6), iter(docs))
        assert streamed.get_vocabulary() == whole.get_vocabulary()
        if mode == "tf_idf":
            np.testing.assert_allclose(streamed.idf_, whole.idf_)
