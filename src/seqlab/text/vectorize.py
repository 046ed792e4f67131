"""``TextVectorizer``: documents to token ids (sequences) or to sparse bag-of-n-gram vectors.

The object follows scikit-learn's conventions (the constructor only stores parameters,
``fit`` sets attributes ending in ``_`` and returns ``self``, ``transform`` before ``fit``
raises :class:`NotFittedError`). Two modes:

**Default mode** (``compat=None``): the Keras ``Tokenizer`` way with scikit-learn's n-grams.
Words are standardised by ``standardize="keras"`` = the ``Tokenizer``'s filters (lowercase,
punctuation becomes a space, the apostrophe stays: ``"don't"`` is one token), or ``"regex"``
(scikit-learn's ``token_pattern``), ``"lower"``, ``None``; ``<br />`` is removed first. The
vocabulary keeps id 0 for padding ``""`` and id 1 for OOV ``"[UNK]"`` in every mode, then the
terms by frequency with ties by first occurrence (the ``Tokenizer``'s order, shifted by one);
``max_tokens`` counts both reserved ids. ``ngram_range=(1, 3)`` means orders 1, 2 and 3.
Output modes (``V = vocab_size``, ``B`` documents):

* ``"int"``: token ids, a list of 1-D int64 arrays, or a ``(B, maxlen)`` int64 array padded
  with 0 when ``maxlen`` is set (``padding`` / ``truncating`` as in :func:`pad_sequences`).
* ``"one_hot"``: a list of ``(T_i, V)`` CSR matrices, one 1 per row at the token's id (OOV
  tokens at column 1; with ``maxlen``, padding rows are all zero).
* bag modes, a ``(B, V)`` ``scipy.sparse.csr_matrix`` of ``dtype``; columns 0 (padding) and
  1 (OOV) are always zero:

  - ``"multi_hot"``: 1 where the term occurs in the document;
  - ``"count"``: occurrences of the term;
  - ``"freq"``: count / number of tokens of the document (the length of ``tokenize(doc)``,
    out-of-vocabulary tokens included), so a row sums to 1 when every token is known;
  - ``"tf_idf"``: scikit-learn's ``TfidfVectorizer`` defaults: ``count * idf`` with the smooth
    ``idf = ln((1 + n) / (1 + df)) + 1`` (``n`` fitted documents, ``df`` documents that
    contain the term), then each row divided by its L2 norm (all-zero rows stay zero).

**Keras mode** (``compat="keras"``): Keras 3's ``TextVectorization`` (standardisation, split,
vocabulary order, ``max_tokens``, ``int`` / ``multi_hot`` / ``count`` / ``tf_idf``, ``ngrams``,
``get_vocabulary()``), as described in :mod:`seqlab.text.keras_compat` and tested with cases
ported from Keras's own tests. ``maxlen`` is Keras's ``output_sequence_length``; bag outputs
stay CSR (Keras's values, as with its ``sparse=True``).

``stop_words`` (both modes; not a Keras option) drops words after standardisation and
before n-grams are formed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any

import numpy as np
import scipy.sparse as sp

from seqlab._utils import PathLike, atomic_write_json, read_json
from seqlab.text._ngrams import EncodedBatch
from seqlab.text._params import (
    BAG_MODES,
    COMPAT_CHOICES,
    OUTPUT_MODES,
    char_standardizer_of,
    check_given_vocabulary,
    check_params,
    given_idf,
    params_from_json,
    params_to_json,
    word_tokenizer_of,
)
from seqlab.text.keras_compat import (
    keras_idf,
    keras_ngram_orders,
    select_by_count_then_token,
)
from seqlab.text.sequences import pad_sequences
from seqlab.text.tokenize import (
    check_ngram_range,
    ngrams_of_orders,
)
from seqlab.text.vocab import (
    OOV,
    OOV_ID,
    PAD,
    Vocabulary,
    empty_vocabulary_error,
    select_by_count_then_first,
)

__all__ = ["BAG_MODES", "COMPAT_CHOICES", "OUTPUT_MODES", "NotFittedError", "TextVectorizer"]

_FORMAT = "seqlab.TextVectorizer"


class NotFittedError(ValueError, AttributeError):
    """Raised when a :class:`TextVectorizer` is used before :meth:`TextVectorizer.fit`."""


@dataclass(eq=False, repr=False)
class TextVectorizer:
    """Turn documents into token ids or sparse bag-of-n-gram vectors (see the module docstring).

    Tokens come from ``level="word"`` (standardised by ``standardize``) or ``level="char"``;
    ``ngram_range=(1, 2)`` adds bigrams (Keras mode: ``ngrams=2``, or a tuple of orders);
    ``strip_html`` (default: True, False with ``compat="keras"``) replaces ``<br />`` by a
    space first; ``stop_words`` is ``"english"`` (scikit-learn's list, see
    :mod:`seqlab.text.stop_words`) or a list of words. The vocabulary holds at most
    ``max_tokens`` entries, reserved ones included, each seen at least ``min_count`` times.
    With ``standardize="regex"`` and no HTML stripping, the vocabulary of any ``ngram_range``
    is exactly scikit-learn's ``CountVectorizer(ngram_range=...)`` one (tested).

    >>> vec = TextVectorizer(output_mode="int", maxlen=4).fit(["the cat sat", "the dog"])
    >>> vec.get_feature_names_out()
    ['', '[UNK]', 'the', 'cat', 'sat', 'dog']
    >>> vec.transform(["the bird sat"]).tolist()
    [[2, 1, 4, 0]]
    >>> TextVectorizer(output_mode="count").fit(["a b a"]).transform(["a a c"]).toarray()
    array([[0., 0., 2., 0.]], dtype=float32)
    >>> keras = TextVectorizer(compat="keras", maxlen=4).fit(["foo bar", "bar baz", "baz bada boom"])
    >>> keras.get_vocabulary(), keras.transform(["foo qux bar", "qux baz"]).tolist()
    (['', '[UNK]', 'baz', 'bar', 'foo', 'boom', 'bada'], [[4, 1, 3, 0], [1, 2, 0, 0]])
    """

    max_tokens: int | None = None
    min_count: int = 1
    output_mode: str = "int"
    maxlen: int | None = None
    ngram_range: tuple[int, int] = (1, 1)
    level: str = "word"
    standardize: str | None = "keras"
    token_pattern: str | None = None
    strip_html: bool | None = None
    dtype: str = "float32"
    padding: str = "post"
    truncating: str = "post"
    stop_words: str | Sequence[str] | None = None
    compat: str | None = None
    ngrams: int | tuple[int, ...] | None = None

    # ------------------------------------------------------------------ parameters
    def get_params(self) -> dict[str, Any]:
        """The constructor arguments as a dict (``TextVectorizer(**vec.get_params())``)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def __repr__(self) -> str:
        changed = [
            f"{f.name}={getattr(self, f.name)!r}"
            for f in dataclasses.fields(self)
            if getattr(self, f.name) != f.default
        ]
        return f"TextVectorizer({', '.join(changed)})"

    @property
    def _keras(self) -> bool:
        return self.compat == "keras"

    @property
    def _offset(self) -> int:
        """Vocabulary id minus output index: 1 in Keras's bag modes (no padding column)."""
        return 1 if self._keras and self.output_mode != "int" else 0

    def _orders(self) -> tuple[int, ...]:
        if self._keras:
            return keras_ngram_orders(self.ngrams)
        min_n, max_n = check_ngram_range(self.ngram_range)
        return tuple(range(min_n, max_n + 1))

    def _check_params(self) -> None:
        check_params(self)

    # ------------------------------------------------------------------ tokenizing
    def words(self, doc: str) -> list[str]:
        """The words of ``doc``: standardised, split, stop words removed (before n-grams).

        >>> TextVectorizer(stop_words=["the"]).words("The cat, the hat.")
        ['cat', 'hat']
        >>> TextVectorizer(compat="keras").words("Don't panic!")
        ['dont', 'panic']
        """
        if not isinstance(doc, str):
            raise TypeError(f"doc must be a str, got {type(doc).__name__}")
        self._check_params()
        if self.level != "word":
            raise ValueError(f"words() needs level='word', got level={self.level!r}")
        return word_tokenizer_of(self)(doc)

    def tokenize(self, doc: str) -> list[str]:
        """The tokens (n-grams included) of ``doc`` whose ids make up its encoding.

        >>> TextVectorizer(ngram_range=(1, 2)).tokenize("The cat, the hat.")
        ['the', 'cat', 'the', 'hat', 'the cat', 'cat the', 'the hat']
        >>> TextVectorizer(compat="keras", ngrams=(1, 3)).tokenize("a b c")
        ['a', 'b', 'c', 'a b c']
        """
        if not isinstance(doc, str):
            raise TypeError(f"doc must be a str, got {type(doc).__name__}")
        self._check_params()
        if self.level == "char":
            return ngrams_of_orders(list(char_standardizer_of(self)(doc)), self._orders(), "")
        return ngrams_of_orders(word_tokenizer_of(self)(doc), self._orders(), " ")

    def _encode(self, docs: Iterable[str]) -> EncodedBatch:
        if isinstance(docs, str | bytes):
            raise TypeError(
                "docs must be an iterable of documents, got a single str; wrap it in a list: [text]"
            )
        if self.level == "char":
            return EncodedBatch.from_chars(docs, char_standardizer_of(self), self._orders())
        return EncodedBatch.from_words(docs, word_tokenizer_of(self), self._orders())

    # ------------------------------------------------------------------ fitting
    def fit(self, docs: Iterable[str]) -> TextVectorizer:
        """Learn the vocabulary (and the idf for ``tf_idf``) from ``docs``; returns ``self``.

        >>> TextVectorizer(max_tokens=3).fit(["b a a"]).vocabulary_.itos
        ['', '[UNK]', 'a']
        """
        self._fit(docs, want_output=False)
        return self

    def fit_transform(self, docs: Iterable[str]) -> Any:
        """``fit(docs).transform(docs)``, tokenizing ``docs`` only once.

        >>> TextVectorizer(output_mode="multi_hot").fit_transform(["x y", "y"]).toarray()
        array([[0., 0., 1., 1.],
               [0., 0., 1., 0.]], dtype=float32)
        """
        return self._fit(docs, want_output=True)

    def _fit(self, docs: Iterable[str], want_output: bool) -> Any:
        self._check_params()
        batch = self._encode(docs)
        num_documents = batch.num_documents
        terms, luts = batch.learn_vocabulary(
            lambda counts, first, strings_of: self._select(counts, first, strings_of, num_documents)
        )
        self.vocabulary_ = Vocabulary._from_distinct(terms)
        self.document_count_ = num_documents
        self.idf_: np.ndarray | None = None
        if not want_output and self.output_mode != "tf_idf":
            return None
        # Vocabulary id of every n-gram occurrence, straight from the fitting pass.
        ids = [lut[lv.inverse] for lut, lv in zip(luts, batch.stream_levels())]
        del luts
        batch.release()  # the per-token arrays are no longer needed: free them early
        counts_matrix = None
        if self.output_mode == "tf_idf":
            counts_matrix = batch.bag_counts(ids, self.vocab_size, self._offset == 1)
            df = np.bincount(counts_matrix.indices, minlength=self.vocab_size)
            self.idf_ = self._idf(df[2 - self._offset :], num_documents)
        if not want_output:
            return None
        return self._output(batch, ids, counts_matrix)

    def _select(
        self, counts: np.ndarray, first: np.ndarray, strings_of: Any, num_documents: int
    ) -> tuple[np.ndarray, list[str]]:
        """Indices and strings of the kept candidates, in the mode's vocabulary order."""
        limit = None if self.max_tokens is None else self.max_tokens - 2 + self._offset
        if self._keras:
            chosen, terms = select_by_count_then_token(counts, strings_of, limit, self.min_count)
        else:
            chosen, terms = select_by_count_then_first(
                counts, first, strings_of, limit, self.min_count
            )
        if len(chosen) == 0:
            raise empty_vocabulary_error(
                self.min_count, self.max_tokens, num_documents, len(counts)
            )
        return chosen, terms

    def _idf(self, df: np.ndarray, num_documents: int) -> np.ndarray:
        """The idf of every output column from the terms' document frequencies ``df``."""
        if self._keras:
            return keras_idf(df, num_documents)
        idf = np.log((1.0 + num_documents) / (1.0 + np.asarray(df, dtype=np.float64))) + 1.0
        return np.concatenate([[0.0, 0.0], idf])  # padding and OOV columns are never filled

    def fit_counts(
        self,
        counts: Mapping[str, int],
        num_documents: int,
        document_frequencies: Mapping[str, int] | None = None,
    ) -> TextVectorizer:
        """Learn the vocabulary from token counts instead of documents; returns ``self``.

        ``counts`` maps every token (as :meth:`tokenize` gives them) to its total count, in
        order of first occurrence (a ``Counter`` filled document by document);
        ``document_frequencies`` (needed for ``tf_idf``) maps tokens to the number of
        documents that contain them. The vocabulary and idf are those ``fit`` would learn
        from the documents (:func:`seqlab.data.streaming.fit_vocabulary` uses this).

        >>> TextVectorizer().fit_counts({"b": 1, "a": 2}, num_documents=1).get_vocabulary()
        ['', '[UNK]', 'a', 'b']
        """
        self._check_params()
        if self.output_mode == "tf_idf" and document_frequencies is None:
            raise ValueError(
                "output_mode='tf_idf' needs document_frequencies (token -> number of documents "
                "containing it) to compute the idf"
            )
        tokens = list(counts)
        _, terms = self._select(
            np.fromiter(counts.values(), dtype=np.int64, count=len(tokens)),
            np.arange(len(tokens)),
            lambda idx: [tokens[i] for i in idx.tolist()],
            num_documents,
        )
        self.vocabulary_ = Vocabulary._from_distinct(terms)
        self.document_count_ = int(num_documents)
        self.idf_ = None
        if self.output_mode == "tf_idf":
            assert document_frequencies is not None
            df = np.array([document_frequencies.get(t, 0) for t in terms], dtype=np.float64)
            self.idf_ = self._idf(df, num_documents)
        return self

    # ------------------------------------------------------------------ the vocabulary
    @property
    def vocab_size(self) -> int:
        """Number of ids (the width of bag outputs): ``len(get_vocabulary())``."""
        self._check_fitted()
        return len(self.vocabulary_) - self._offset

    def get_vocabulary(self, include_special_tokens: bool = True) -> list[str]:
        """The term of every id / column, as Keras's ``get_vocabulary``: ``["", "[UNK]",
        terms...]`` (Keras mode bag outputs: ``["[UNK]", terms...]``); with
        ``include_special_tokens=False`` the terms only."""
        self._check_fitted()
        return list(self.vocabulary_.itos[self._offset if include_special_tokens else 2 :])

    def get_feature_names_out(self) -> list[str]:
        """The term of every column / id (scikit-learn's name for :meth:`get_vocabulary`)."""
        return self.get_vocabulary()

    def lookup(self, tokens: Iterable[str]) -> list[int]:
        """The index of each token in :meth:`get_vocabulary` (its ``int`` id or bag column);
        unknown tokens get the ``[UNK]`` index.

        >>> TextVectorizer().fit(["good film"]).lookup(["film", "bad"])
        [3, 1]
        """
        self._check_fitted()
        if isinstance(tokens, str):
            raise TypeError("tokens must be a list of tokens, got a single str; wrap it: [token]")
        get, off = self.vocabulary_.stoi.get, self._offset
        return [get(t, OOV_ID) - off for t in tokens]

    def set_vocabulary(
        self, vocabulary: Sequence[str], idf_weights: Sequence[float] | None = None
    ) -> TextVectorizer:
        """Use ``vocabulary`` (terms in id order) instead of fitting; returns ``self``.

        As Keras's ``set_vocabulary``: ``vocabulary`` may start with the mode's special
        tokens (``["", "[UNK]"]``; Keras mode bag outputs ``["[UNK]"]``), which are then
        taken as given; ``idf_weights`` (``tf_idf`` only, one per entry of ``vocabulary``)
        are the idf of those entries, and without the special tokens the OOV column gets
        their mean in Keras mode (0 in the default mode, where it is never filled).

        >>> vec = TextVectorizer(compat="keras").set_vocabulary(["earth", "wind", "and", "fire"])
        >>> vec.get_vocabulary()
        ['', '[UNK]', 'earth', 'wind', 'and', 'fire']
        """
        self._check_params()
        if isinstance(vocabulary, str | bytes):
            raise TypeError("vocabulary must be a list of terms, got a single str; wrap it: [term]")
        given = list(vocabulary)
        special = [PAD, OOV][self._offset :]
        terms, has_special = check_given_vocabulary(given, special, self.max_tokens)
        self.idf_ = given_idf(self, idf_weights, len(given), has_special)
        self.vocabulary_ = Vocabulary(terms)
        self.document_count_ = 0
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "vocabulary_"):
            raise NotFittedError(
                "This TextVectorizer instance is not fitted yet. Call 'fit' with a list of "
                "documents before using it, or load a fitted one with TextVectorizer.load(path)."
            )

    # ------------------------------------------------------------------ transforming
    def transform(self, docs: Iterable[str]) -> Any:
        """Encode ``docs`` with the fitted vocabulary (the output type depends on the mode).

        >>> vec = TextVectorizer().fit(["good movie", "bad movie"])
        >>> [a.tolist() for a in vec.transform(["a good movie", ""])]
        [[1, 3, 2], []]
        """
        self._check_fitted()
        self._check_params()
        batch = self._encode(docs)
        get = self.vocabulary_.stoi.get
        ids = []
        for lv in batch.stream_levels():
            strings = batch.strings(lv)
            lut = np.fromiter(map(get, strings, repeat(OOV_ID)), dtype=np.int64, count=len(strings))
            ids.append(lut[lv.inverse])
        batch.release()
        return self._output(batch, ids)

    def _output(
        self, batch: EncodedBatch, ids: list[np.ndarray], counts: sp.csr_matrix | None = None
    ) -> Any:
        """Build the mode's output from ``ids[k]``, the vocabulary id of every n-gram of order
        ``batch.orders[k]``, in document order."""
        if self.output_mode in ("int", "one_hot"):
            seqs = batch.sequences(ids)
            if self.maxlen is not None or self._keras:  # Keras pads a batch to its longest row
                seqs = pad_sequences(
                    seqs, self.maxlen, np.int64, self.padding, self.truncating, value=0
                )
            if self.output_mode == "int":
                return seqs
            return [self._one_hot(s) for s in seqs]
        if counts is None:
            counts = batch.bag_counts(ids, self.vocab_size, self._offset == 1)
        data = counts.data
        if self.output_mode == "multi_hot":
            data = np.ones_like(data)
        elif self.output_mode == "freq":
            row = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))
            data = data / batch.stream_lengths[row]
        elif self.output_mode == "tf_idf":
            assert self.idf_ is not None
            data = data * self.idf_[counts.indices]
            if not self._keras:
                row = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))
                norms = np.sqrt(np.bincount(row, weights=data * data, minlength=counts.shape[0]))
                data = data / norms[row]
        return sp.csr_matrix(
            (data.astype(self.dtype), counts.indices, counts.indptr), shape=counts.shape
        )

    def _one_hot(self, seq: np.ndarray) -> sp.csr_matrix:
        present = np.flatnonzero(seq != 0)  # padding rows stay all zero
        indptr = np.zeros(len(seq) + 1, dtype=np.int64)
        indptr[present + 1] = 1
        np.cumsum(indptr, out=indptr)
        data = np.ones(len(present), dtype=self.dtype)
        return sp.csr_matrix((data, seq[present], indptr), shape=(len(seq), self.vocab_size))

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict with the parameters, the vocabulary and the idf."""
        self._check_fitted()
        return {
            "format": _FORMAT,
            "version": 2,
            "params": params_to_json(self.get_params()),
            "vocabulary": list(self.vocabulary_.itos),
            "idf": None if self.idf_ is None else [float(x) for x in self.idf_],
            "document_count": int(self.document_count_),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TextVectorizer:
        """Rebuild a fitted vectorizer from :meth:`to_dict` output (version 1 or 2)."""
        if not isinstance(d, Mapping) or d.get("format") != _FORMAT:
            got = d.get("format") if isinstance(d, Mapping) else type(d).__name__
            raise ValueError(
                f"not a saved TextVectorizer: expected format {_FORMAT!r}, got {got!r}"
            )
        vec = cls(**params_from_json(d["params"], {f.name for f in dataclasses.fields(cls)}))
        vec._check_params()
        vec.vocabulary_ = Vocabulary.from_dict({"itos": d["vocabulary"]})
        vec.document_count_ = int(d.get("document_count", 0))
        idf = d.get("idf")
        vec.idf_ = None if idf is None else np.asarray(idf, dtype=np.float64)
        if vec.output_mode == "tf_idf" and (vec.idf_ is None or len(vec.idf_) != vec.vocab_size):
            raise ValueError("a tf_idf TextVectorizer needs an 'idf' list of vocab_size floats")
        return vec

    def save(self, path: PathLike) -> None:
        """Write :meth:`to_dict` to ``path`` as JSON (atomically)."""
        atomic_write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: PathLike) -> TextVectorizer:
        """Read a vectorizer written by :meth:`save`.

        >>> import tempfile, os
        >>> vec = TextVectorizer().fit(["hello world"])
        >>> path = os.path.join(tempfile.mkdtemp(), "vocab.json")
        >>> vec.save(path); TextVectorizer.load(path).vocabulary_ == vec.vocabulary_
        True
        """
        return cls.from_dict(read_json(path))
