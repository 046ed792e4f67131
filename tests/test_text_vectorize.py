"""TextVectorizer: every output mode against hand-computed values, round trips, errors, and
the numpy n-gram engine against a plain-Python reference and scikit-learn."""

from __future__ import annotations

import json
import math
from collections import Counter

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from seqlab.text import NotFittedError, TextVectorizer

DOCS = ["The cat sat.", "The dog sat on the mat!", "dog"]
# the x3; sat x2, dog x2 (sat first); cat, on, mat x1 in order of first appearance.
ITOS = ["", "[UNK]", "the", "sat", "dog", "cat", "on", "mat"]


def dense(x):
    return x.toarray().tolist()


def test_text_vectorize_vocabulary_and_int_ids():
    vec = TextVectorizer().fit(DOCS)
    assert vec.get_feature_names_out() == ITOS
    assert vec.vocab_size == 8
    out = vec.transform(["The dog sat on the mat", "a bird", ""])
    assert [a.tolist() for a in out] == [[2, 4, 3, 6, 2, 7], [1, 1], []]
    assert all(a.dtype == np.int64 for a in out)


def test_text_vectorize_int_maxlen_padding_truncating():
    doc = ["the dog sat on the mat", "cat"]
    post = TextVectorizer(maxlen=4).fit(DOCS).transform(doc)
    assert post.dtype == np.int64 and post.shape == (2, 4)
    assert post.tolist() == [[2, 4, 3, 6], [5, 0, 0, 0]]
    pre = TextVectorizer(maxlen=4, padding="pre", truncating="pre").fit(DOCS).transform(doc)
    assert pre.tolist() == [[3, 6, 2, 7], [0, 0, 0, 5]]


def test_text_vectorize_count_multi_hot_freq():
    doc = ["the cat the bird"]  # bird is OOV: never counted, but it is a token of the doc
    count = TextVectorizer(output_mode="count").fit(DOCS).transform(doc)
    assert isinstance(count, sp.csr_matrix) and count.dtype == np.float32
    assert count.shape == (1, 8)
    assert dense(count) == [[0, 0, 2, 0, 0, 1, 0, 0]]
    multi = TextVectorizer(output_mode="multi_hot").fit(DOCS).transform(doc)
    assert dense(multi) == [[0, 0, 1, 0, 0, 1, 0, 0]]
    freq = TextVectorizer(output_mode="freq").fit(DOCS).transform(doc)
    assert dense(freq) == [[0, 0, 0.5, 0, 0, 0.25, 0, 0]]


def test_text_vectorize_tf_idf_hand_computed():
    vec = TextVectorizer(output_mode="tf_idf").fit(DOCS)
    # n = 3 documents; df: the, sat, dog = 2; cat, on, mat = 1.
    idf2, idf1 = math.log(4 / 3) + 1, math.log(4 / 2) + 1
    assert np.allclose(vec.idf_, [0, 0, idf2, idf2, idf2, idf1, idf1, idf1])
    row = vec.transform(["the cat the bird"]).toarray()[0]
    a, b = 2 * idf2, 1 * idf1
    norm = math.hypot(a, b)
    expected = [0, 0, a / norm, 0, 0, b / norm, 0, 0]
    assert np.allclose(row, expected, atol=1e-7)
    assert vec.transform([""]).nnz == 0  # an empty row stays zero (no division by zero)


def test_text_vectorize_one_hot():
    vec = TextVectorizer(output_mode="one_hot").fit(DOCS)
    out = vec.transform(["the bird", ""])
    assert len(out) == 2 and out[0].shape == (2, 8) and out[1].shape == (0, 8)
    assert dense(out[0]) == [[0, 0, 1, 0, 0, 0, 0, 0], [0, 1, 0, 0, 0, 0, 0, 0]]
    padded = TextVectorizer(output_mode="one_hot", maxlen=3).fit(DOCS).transform(["mat"])
    assert dense(padded[0]) == [[0] * 7 + [1], [0] * 8, [0] * 8]  # padding rows are zero


@pytest.mark.parametrize("mode", ["multi_hot", "count", "freq", "tf_idf"])
def test_text_vectorize_bag_pad_oov_columns_zero(mode):
    X = TextVectorizer(output_mode=mode).fit(DOCS).transform(["zebra the unicorn", "cat"])
    assert X.shape == (2, 8) and X.dtype == np.float32 and X.has_sorted_indices
    assert X[:, :2].nnz == 0


def test_text_vectorize_ngrams_int_and_tokenize():
    vec = TextVectorizer(ngram_range=(1, 2)).fit(["a b c", "b c"])
    assert vec.tokenize("A b, C") == ["a", "b", "c", "a b", "b c"]
    # b, c, "b c" x2 (b first); then a, "a b" x1 by first appearance in the token stream.
    assert vec.get_feature_names_out() == ["", "[UNK]", "b", "c", "b c", "a", "a b"]
    assert vec.transform(["a b c d"])[0].tolist() == [5, 2, 3, 1, 6, 4, 1]


def test_text_vectorize_char_level():
    vec = TextVectorizer(level="char", ngram_range=(1, 2), output_mode="count")
    X = vec.fit_transform(["Ab, ab!"])
    assert vec.tokenize("Ab, ab!") == list("ab ab") + ["ab", "b ", " a", "ab"]
    names = vec.get_feature_names_out()
    assert names == ["", "[UNK]", "a", "b", "ab", " ", "b ", " a"]
    assert dense(X) == [[0, 0, 2, 2, 2, 1, 1, 1]]
    raw = TextVectorizer(level="char", standardize=None).fit(["", "B\na\U0001f600"])
    assert raw.get_feature_names_out()[2:] == ["B", "\n", "a", "\U0001f600"]
    assert [a.tolist() for a in raw.transform(["a\U0001f600?"])] == [[4, 5, 1]]


def test_text_vectorize_max_tokens_and_min_count():
    vec = TextVectorizer(max_tokens=5).fit(DOCS)
    assert vec.vocab_size == 5 and vec.get_feature_names_out() == ITOS[:5]
    assert vec.transform(["cat"])[0].tolist() == [1]
    assert TextVectorizer(min_count=2).fit(DOCS).get_feature_names_out() == ITOS[:5]
    bag = TextVectorizer(max_tokens=4, ngram_range=(1, 2), output_mode="count").fit(DOCS)
    assert bag.vocab_size == 4 and bag.transform(["the sat"]).shape == (1, 4)


def test_text_vectorize_deterministic_order():
    docs = ["b a", "c a", "d c b"]  # all ties broken by first occurrence
    names = TextVectorizer().fit(docs).get_feature_names_out()
    assert names == ["", "[UNK]", "b", "a", "c", "d"]
    assert TextVectorizer().fit(list(docs)).get_feature_names_out() == names
    assert TextVectorizer().fit(iter(docs)).get_feature_names_out() == names


def test_text_vectorize_html_stripped_by_default():
    vec = TextVectorizer().fit(["good<br /><br />film"])
    assert vec.get_feature_names_out()[2:] == ["good", "film"]
    raw = TextVectorizer(strip_html=False).fit(["good<br />film"])
    assert "br" in raw.get_feature_names_out()


ALL_SETTINGS = [
    {"output_mode": "int"},
    {"output_mode": "int", "maxlen": 5, "padding": "pre"},
    {"output_mode": "one_hot", "maxlen": 3},
    {"output_mode": "multi_hot", "ngram_range": (1, 2)},
    {"output_mode": "count", "ngram_range": (1, 3), "standardize": "regex"},
    {"output_mode": "freq", "level": "char", "ngram_range": (2, 3)},
    {"output_mode": "tf_idf", "ngram_range": (1, 2), "max_tokens": 10, "dtype": "float64"},
]


def _same(a, b):
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if sp.issparse(a):
        return a.shape == b.shape and a.dtype == b.dtype and (a != b).nnz == 0
    return a.dtype == b.dtype and np.array_equal(a, b)


@pytest.mark.parametrize("kw", ALL_SETTINGS)
def test_text_vectorize_fitted_vs_loaded_identical(kw, tmp_path):
    new = ["the cat sat on the dog", "an unseen mat", ""]
    vec = TextVectorizer(**kw)
    fitted_out = vec.fit_transform(DOCS)
    assert _same(fitted_out, vec.transform(DOCS))  # fit_transform == fit + transform
    d = vec.to_dict()
    assert json.loads(json.dumps(d)) == d  # JSON-able
    vec.save(tmp_path / "vec.json")
    for other in (TextVectorizer.from_dict(d), TextVectorizer.load(tmp_path / "vec.json")):
        assert other.get_params() == vec.get_params()
        assert other.get_feature_names_out() == vec.get_feature_names_out()
        assert _same(other.transform(new), vec.transform(new))
        assert _same(other.transform(DOCS), fitted_out)


def test_text_vectorize_not_fitted_error():
    vec = TextVectorizer()
    for call in (lambda: vec.transform(DOCS), lambda: vec.vocab_size, vec.to_dict):
        with pytest.raises(NotFittedError, match="not fitted yet. Call 'fit'"):
            call()
    assert isinstance(NotFittedError("x"), ValueError)


def test_text_vectorize_str_refused():
    with pytest.raises(TypeError, match="single str; wrap it in a list"):
        TextVectorizer().fit("the cat sat")
    vec = TextVectorizer().fit(DOCS)
    with pytest.raises(TypeError, match="single str"):
        vec.transform("the cat")
    with pytest.raises(TypeError, match="documents must be str, got int at position 1"):
        vec.transform(["ok", 3])


def test_text_vectorize_empty_vocabulary_error():
    with pytest.raises(ValueError) as err:
        TextVectorizer(min_count=5).fit(DOCS)
    msg = str(err.value)
    assert msg.startswith("After pruning, no terms remain (min_count=5, max_tokens=None")
    assert "3 documents" in msg and "Try a lower min_count" in msg
    with pytest.raises(ValueError, match="no terms remain.*contained no tokens"):
        TextVectorizer().fit(["", "!!!"])


def test_text_vectorize_params_checked_at_fit_not_init():
    vec = TextVectorizer(output_mode="bogus")  # the constructor only stores parameters
    assert vec.output_mode == "bogus"
    with pytest.raises(ValueError, match="output_mode must be one of .* got 'bogus'"):
        vec.fit(DOCS)
    with pytest.raises(ValueError, match="maxlen=5 only applies to output_mode='int'"):
        TextVectorizer(output_mode="count", maxlen=5).fit(DOCS)
    with pytest.raises(ValueError, match="dtype must be a float dtype"):
        TextVectorizer(output_mode="count", dtype="int32").fit(DOCS)
    with pytest.raises(ValueError, match="^padding must be one of 'pre', 'post'; got 'left'$"):
        TextVectorizer(padding="left").fit(DOCS)
    with pytest.raises(ValueError, match="max_tokens must be None or an int >= 3"):
        TextVectorizer(max_tokens=1).fit(DOCS)


def test_text_vectorize_literal_unk_token_maps_to_oov():
    vec = TextVectorizer(standardize=None, output_mode="count").fit(["[UNK] a a [UNK] [UNK]"])
    assert vec.get_feature_names_out() == ["", "[UNK]", "a"]
    assert dense(vec.transform(["[UNK] a"])) == [[0, 0, 1]]


def test_text_vectorize_tokens_with_spaces_merge_with_ngrams():
    # A custom pattern can produce the token "x y", which prints like the bigram (x, y).
    vec = TextVectorizer(
        standardize="regex", token_pattern=r"[^|]+", ngram_range=(1, 2), output_mode="count"
    )
    X = vec.fit_transform(["x y|x|y"])
    assert vec.tokenize("x y|x|y") == ["x y", "x", "y", "x y x", "x y"]
    assert vec.get_feature_names_out() == ["", "[UNK]", "x y", "x", "y", "x y x"]
    assert dense(X) == [[0, 0, 2, 1, 1, 1]]
    assert dense(vec.transform(["x y|x|y"])) == dense(X)


def _reference(docs, kw):
    """Plain-Python vocabulary and count matrix built from TextVectorizer.tokenize."""
    tok = TextVectorizer(**kw)
    streams = [tok.tokenize(d) for d in docs]
    counts = Counter(t for s in streams for t in s)  # insertion order = first occurrence
    terms = [t for t, _ in sorted(counts.items(), key=lambda tc: -tc[1])]
    stoi = {t: i + 2 for i, t in enumerate(terms)}
    X = np.zeros((len(docs), len(terms) + 2))
    for r, s in enumerate(streams):
        for t in s:
            X[r, stoi[t]] += 1
    return ["", "[UNK]", *terms], X, [[stoi[t] for t in s] for s in streams]


@settings(max_examples=60, deadline=None)
@given(
    docs=st.lists(
        st.lists(st.sampled_from(["a", "b", "c", "dd", "e!"]), max_size=9).map(" ".join),
        min_size=1,
        max_size=6,
    ).filter(lambda ds: any(d.strip() for d in ds)),
    ngram_range=st.sampled_from([(1, 1), (1, 2), (2, 2), (1, 3), (2, 4)]),
    level=st.sampled_from(["word", "char"]),
)
def test_text_vectorize_matches_python_reference(docs, ngram_range, level):
    kw = {"ngram_range": ngram_range, "level": level}
    itos, X_ref, ids_ref = _reference(docs, kw)
    if len(itos) == 2:
        return  # e.g. bigrams of one-word documents: nothing to compare
    vec = TextVectorizer(output_mode="count", **kw)
    X = vec.fit_transform(docs)
    assert vec.get_feature_names_out() == itos
    assert np.array_equal(X.toarray(), X_ref)
    seq = TextVectorizer(**kw).fit(docs)
    assert [a.tolist() for a in seq.transform(docs)] == ids_ref


def test_text_vectorize_same_vocabulary_and_counts_as_sklearn():
    text = pytest.importorskip("sklearn.feature_extraction.text")
    docs = [
        "The film was great, GREAT fun: a 10/10 film!",
        "I didn't like the film; the acting was poor.",
        "Great acting and a great story, a must-see film",
        "",
        "Poor story. Poor acting. Poor me.",
    ]
    for ngram_range in [(1, 1), (1, 2), (2, 3)]:
        ours = TextVectorizer(
            output_mode="count", ngram_range=ngram_range, standardize="regex", strip_html=False
        )
        X = ours.fit_transform(docs)
        cv = text.CountVectorizer(ngram_range=ngram_range)
        Y = cv.fit_transform(docs)
        names = ours.get_feature_names_out()[2:]
        assert set(names) == set(cv.get_feature_names_out())
        perm = [cv.vocabulary_[t] for t in names]
        assert np.array_equal(X[:, 2:].toarray(), Y[:, perm].toarray())
    tfidf = TextVectorizer(output_mode="tf_idf", ngram_range=(1, 2), standardize="regex")
    X = tfidf.fit_transform(docs)
    tv = text.TfidfVectorizer(ngram_range=(1, 2))
    Y = tv.fit_transform(docs)
    perm = [tv.vocabulary_[t] for t in tfidf.get_feature_names_out()[2:]]
    assert np.allclose(X[:, 2:].toarray(), Y[:, perm].toarray(), atol=1e-6)


def test_text_vectorize_repr_and_params():
    vec = TextVectorizer(max_tokens=100, ngram_range=(1, 2))
    assert repr(vec) == "TextVectorizer(max_tokens=100, ngram_range=(1, 2))"
    assert vec.get_params()["standardize"] == "keras"
