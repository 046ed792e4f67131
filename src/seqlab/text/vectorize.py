"""``TextVectorizer``: documents to token ids (sequences) or to sparse bag-of-n-gram vectors.

It follows Keras's ``TextVectorization`` for the vocabulary (id 0 = padding ``""``, id 1 = OOV
``"[UNK]"``, ``max_tokens`` counts both) and scikit-learn's conventions for the object (the
constructor only stores parameters, ``fit`` sets attributes ending in ``_`` and returns
``self``, ``transform`` before ``fit`` raises :class:`NotFittedError`).

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
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from itertools import repeat
from typing import Any

import numpy as np
import scipy.sparse as sp

from seqlab._utils import PathLike, atomic_write_json, read_json
from seqlab.text._ngrams import EncodedBatch, Level
from seqlab.text.sequences import pad_sequences
from seqlab.text.tokenize import (
    LEVEL_CHOICES,
    _ngrams,
    char_standardizer,
    check_ngram_range,
    check_standardize,
    word_tokenizer,
)
from seqlab.text.vocab import (
    OOV,
    OOV_ID,
    PAD,
    Vocabulary,
    check_max_tokens,
    check_min_count,
    empty_vocabulary_error,
)

__all__ = ["BAG_MODES", "OUTPUT_MODES", "NotFittedError", "TextVectorizer"]

OUTPUT_MODES = ("int", "one_hot", "multi_hot", "count", "freq", "tf_idf")
BAG_MODES = ("multi_hot", "count", "freq", "tf_idf")
_FORMAT = "seqlab.TextVectorizer"


class NotFittedError(ValueError, AttributeError):
    """Raised when a :class:`TextVectorizer` is used before :meth:`TextVectorizer.fit`."""


class TextVectorizer:
    """Turn documents into token ids or sparse bag-of-n-gram vectors (see the module docstring).

    Tokens come from ``level="word"`` (standardised by ``standardize``: ``"keras"``,
    ``"regex"`` with ``token_pattern``, ``"lower"`` or ``None``) or ``level="char"``;
    ``ngram_range=(1, 2)`` adds bigrams; ``strip_html`` replaces ``<br />`` by a space first.
    The vocabulary keeps ids 0 / 1 for padding / OOV, then the terms by frequency (ties: first
    occurrence in the corpus token stream, i.e. document by document, and within a document
    in :meth:`tokenize` order, unigrams before bigrams), at most ``max_tokens`` entries in all
    (padding and OOV included, as in Keras), each seen at least ``min_count`` times in total.
    With ``standardize="regex"`` and no HTML stripping, the vocabulary of any ``ngram_range``
    is exactly scikit-learn's ``CountVectorizer(ngram_range=...)`` one (tested).

    >>> vec = TextVectorizer(output_mode="int", maxlen=4).fit(["the cat sat", "the dog"])
    >>> vec.get_feature_names_out()
    ['', '[UNK]', 'the', 'cat', 'sat', 'dog']
    >>> vec.transform(["the bird sat"]).tolist()
    [[2, 1, 4, 0]]
    >>> TextVectorizer(output_mode="count").fit(["a b a"]).transform(["a a c"]).toarray()
    array([[0., 0., 2., 0.]], dtype=float32)
    """

    def __init__(
        self,
        max_tokens: int | None = None,
        min_count: int = 1,
        output_mode: str = "int",
        maxlen: int | None = None,
        ngram_range: tuple[int, int] = (1, 1),
        level: str = "word",
        standardize: str | None = "keras",
        token_pattern: str | None = None,
        strip_html: bool = True,
        dtype: str = "float32",
        padding: str = "post",
        truncating: str = "post",
    ) -> None:
        self.max_tokens = max_tokens
        self.min_count = min_count
        self.output_mode = output_mode
        self.maxlen = maxlen
        self.ngram_range = ngram_range
        self.level = level
        self.standardize = standardize
        self.token_pattern = token_pattern
        self.strip_html = strip_html
        self.dtype = dtype
        self.padding = padding
        self.truncating = truncating

    # ------------------------------------------------------------------ parameters
    def get_params(self) -> dict[str, Any]:
        """The constructor arguments as a dict (``TextVectorizer(**vec.get_params())``)."""
        return {name: getattr(self, name) for name in _PARAM_NAMES}

    def __repr__(self) -> str:
        changed = [f"{k}={v!r}" for k, v in self.get_params().items() if v != _DEFAULTS[k]]
        return f"TextVectorizer({', '.join(changed)})"

    def _check_params(self) -> None:
        check_max_tokens(self.max_tokens)
        check_min_count(self.min_count)
        if self.output_mode not in OUTPUT_MODES:
            raise ValueError(f"output_mode must be one of {OUTPUT_MODES}, got {self.output_mode!r}")
        if self.maxlen is not None:
            if not isinstance(self.maxlen, int) or isinstance(self.maxlen, bool) or self.maxlen < 1:
                raise ValueError(f"maxlen must be None or an int >= 1, got {self.maxlen!r}")
            if self.output_mode not in ("int", "one_hot"):
                raise ValueError(
                    f"maxlen={self.maxlen} only applies to output_mode='int' or 'one_hot', "
                    f"got output_mode={self.output_mode!r}; drop maxlen for bag modes"
                )
        check_ngram_range(self.ngram_range)
        if self.level not in LEVEL_CHOICES:
            raise ValueError(f"level must be one of {LEVEL_CHOICES}, got {self.level!r}")
        check_standardize(self.standardize, self.token_pattern)
        if not isinstance(self.strip_html, bool):
            raise TypeError(f"strip_html must be True or False, got {self.strip_html!r}")
        try:
            kind = np.dtype(self.dtype).kind
        except TypeError:
            kind = ""
        if kind != "f":
            raise ValueError(
                f"dtype must be a float dtype such as 'float32', got {self.dtype!r} "
                "(it sets the values of the bag and one-hot outputs)"
            )
        for name in ("padding", "truncating"):
            if getattr(self, name) not in ("pre", "post"):
                raise ValueError(f"{name} must be 'pre' or 'post', got {getattr(self, name)!r}")

    # ------------------------------------------------------------------ tokenizing
    def tokenize(self, doc: str) -> list[str]:
        """The tokens (n-grams included) of ``doc`` whose ids make up its encoding.

        >>> TextVectorizer(ngram_range=(1, 2)).tokenize("The cat, the hat.")
        ['the', 'cat', 'the', 'hat', 'the cat', 'cat the', 'the hat']
        """
        if not isinstance(doc, str):
            raise TypeError(f"doc must be a str, got {type(doc).__name__}")
        self._check_params()
        ngram_range = check_ngram_range(self.ngram_range)
        if self.level == "char":
            text = char_standardizer(self.standardize, self.token_pattern, self.strip_html)(doc)
            return _ngrams(list(text), ngram_range, "")
        words = word_tokenizer(self.standardize, self.token_pattern, self.strip_html)(doc)
        return _ngrams(words, ngram_range, " ")

    def _encode(self, docs: Iterable[str]) -> EncodedBatch:
        if isinstance(docs, str | bytes):
            raise TypeError(
                "docs must be an iterable of documents, got a single str; wrap it in a list: [text]"
            )
        ngram_range = check_ngram_range(self.ngram_range)
        if self.level == "char":
            std = char_standardizer(self.standardize, self.token_pattern, self.strip_html)
            return EncodedBatch.from_chars(docs, std, ngram_range)
        tok = word_tokenizer(self.standardize, self.token_pattern, self.strip_html)
        return EncodedBatch.from_words(docs, tok, ngram_range)

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
        levels = batch.stream_levels()
        terms, cand_to_vocab = self._learn_vocabulary(batch, levels)
        self.vocabulary_ = Vocabulary._from_distinct(terms)
        self.document_count_ = batch.num_documents
        self.idf_: np.ndarray | None = None
        if not want_output and self.output_mode != "tf_idf":
            return None
        # Vocabulary id of every n-gram occurrence, straight from the fitting pass.
        ids = [lut[lv.inverse] for lut, lv in zip(cand_to_vocab, levels)]
        del levels, cand_to_vocab
        batch.release()  # the per-token arrays are no longer needed: free them early
        counts_matrix = None
        if self.output_mode == "tf_idf":
            counts_matrix = self._bag_counts(batch, ids)
            df = np.bincount(counts_matrix.indices, minlength=self.vocab_size)
            self.idf_ = np.log((1.0 + batch.num_documents) / (1.0 + df)) + 1.0
            self.idf_[:2] = 0.0  # padding and OOV columns are never filled
        if not want_output:
            return None
        return self._output(batch, ids, counts_matrix)

    def _learn_vocabulary(
        self, batch: EncodedBatch, levels: list[Level]
    ) -> tuple[list[str], list[np.ndarray]]:
        """The kept terms in vocabulary order, and per level a table dense n-gram id -> vocab id.

        Candidates are all distinct n-grams of the stream orders, with their total count and
        the position of their first occurrence in the batch's token stream (the tie-break).
        """
        counts = np.concatenate([lv.counts for lv in levels])
        first = np.concatenate([batch.stream_positions(lv.n, lv.starts(lv.first)) for lv in levels])
        offsets = np.cumsum([0] + [lv.size for lv in levels])
        ambiguous = (
            batch.joiner != "" and batch.max_n > 1 and any(batch.joiner in w for w in batch.words)
        )
        if ambiguous:
            # A token with a space in it (custom token_pattern) can make two different
            # n-grams print the same: merge candidates by their string.
            strings = [s for lv in levels for s in batch.strings(lv)]
            canon_index: dict[str, int] = {}
            canon = np.fromiter(
                (canon_index.setdefault(s, len(canon_index)) for s in strings),
                dtype=np.int64,
                count=len(strings),
            )
            merged_counts = np.bincount(canon, weights=counts).astype(np.int64)
            merged_first = np.full(len(canon_index), np.iinfo(np.int64).max, dtype=np.int64)
            np.minimum.at(merged_first, canon, first)
            canon_strings = list(canon_index)
            chosen, terms = self._select(
                merged_counts,
                merged_first,
                lambda idx: [canon_strings[i] for i in idx.tolist()],
                batch.num_documents,
            )
            to_vocab = np.full(len(canon_index), OOV_ID, dtype=np.int64)
            to_vocab[chosen] = np.arange(2, 2 + len(chosen))
            to_vocab = to_vocab[canon]
        else:

            def strings_of(idx: np.ndarray) -> list[str]:
                out = np.empty(len(idx), dtype=object)
                for k, lv in enumerate(levels):
                    mask = (idx >= offsets[k]) & (idx < offsets[k + 1])
                    if mask.any():
                        out[mask] = batch.strings(lv, idx[mask] - offsets[k])
                return out.tolist()

            chosen, terms = self._select(counts, first, strings_of, batch.num_documents)
            to_vocab = np.full(len(counts), OOV_ID, dtype=np.int64)
            to_vocab[chosen] = np.arange(2, 2 + len(chosen))
        return terms, [to_vocab[offsets[k] : offsets[k + 1]] for k in range(len(levels))]

    def _select(
        self,
        counts: np.ndarray,
        first: np.ndarray,
        strings_of: Callable[[np.ndarray], list[str]],
        num_documents: int,
    ) -> tuple[np.ndarray, list[str]]:
        """Indices and strings of the kept candidates, in vocabulary order."""
        eligible = np.flatnonzero(counts >= self.min_count)
        order = eligible[_order_by_count_then_first(counts[eligible], first[eligible])]
        limit = len(order) if self.max_tokens is None else self.max_tokens - 2
        # One spare: a literal "[UNK]" token (possible with standardize=None) maps to OOV.
        chosen = order[: limit + 1]
        terms = strings_of(chosen)
        reserved = [i for i, t in enumerate(terms) if t in (OOV, PAD)] if OOV in terms else []
        if reserved:
            keep = np.ones(len(chosen), dtype=bool)
            keep[reserved] = False
            chosen = chosen[keep]
            terms = [t for i, t in enumerate(terms) if keep[i]]
        chosen, terms = chosen[:limit], terms[:limit]
        if len(chosen) == 0:
            raise empty_vocabulary_error(
                self.min_count, self.max_tokens, num_documents, len(counts)
            )
        return chosen, terms

    # ------------------------------------------------------------------ transforming
    @property
    def vocab_size(self) -> int:
        """Number of ids, padding and OOV included (the width of bag outputs)."""
        self._check_fitted()
        return len(self.vocabulary_)

    def get_feature_names_out(self) -> list[str]:
        """The term of every column / id: ``["", "[UNK]", most frequent, ...]``."""
        self._check_fitted()
        return list(self.vocabulary_.itos)

    def _check_fitted(self) -> None:
        if not hasattr(self, "vocabulary_"):
            raise NotFittedError(
                "This TextVectorizer instance is not fitted yet. Call 'fit' with a list of "
                "documents before using it, or load a fitted one with TextVectorizer.load(path)."
            )

    def transform(self, docs: Iterable[str]) -> Any:
        """Encode ``docs`` with the fitted vocabulary (the output type depends on the mode).

        >>> vec = TextVectorizer().fit(["good movie", "bad movie"])
        >>> [a.tolist() for a in vec.transform(["a good movie", ""])]
        [[1, 3, 2], []]
        """
        self._check_fitted()
        self._check_params()
        batch = self._encode(docs)
        levels = batch.stream_levels()
        get = self.vocabulary_.stoi.get
        ids = []
        for lv in levels:
            strings = batch.strings(lv)
            lut = np.fromiter(map(get, strings, repeat(OOV_ID)), dtype=np.int64, count=len(strings))
            ids.append(lut[lv.inverse])
        levels.clear()
        batch.release()
        return self._output(batch, ids)

    def _output(
        self, batch: EncodedBatch, ids: list[np.ndarray], counts: sp.csr_matrix | None = None
    ) -> Any:
        """Build the mode's output from ``ids[k]``, the vocabulary id of every n-gram of order
        ``batch.min_n + k``, in document order."""
        if self.output_mode in ("int", "one_hot"):
            seqs = self._sequences(batch, ids)
            if self.maxlen is not None:
                seqs = pad_sequences(
                    seqs, self.maxlen, np.int64, self.padding, self.truncating, value=0
                )
            if self.output_mode == "int":
                return seqs
            return [self._one_hot(s) for s in seqs]
        if counts is None:
            counts = self._bag_counts(batch, ids)
        data = counts.data
        if self.output_mode == "multi_hot":
            data = np.ones_like(data)
        elif self.output_mode == "freq":
            row = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))
            data = data / batch.stream_lengths[row]
        elif self.output_mode == "tf_idf":
            assert self.idf_ is not None
            data = data * self.idf_[counts.indices]
            row = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))
            norms = np.sqrt(np.bincount(row, weights=data * data, minlength=counts.shape[0]))
            data = data / norms[row]
        return sp.csr_matrix(
            (data.astype(self.dtype), counts.indices, counts.indptr), shape=counts.shape
        )

    def _sequences(self, batch: EncodedBatch, ids: list[np.ndarray]) -> list[np.ndarray]:
        if len(ids) == 1:
            stream = ids[0]
        else:
            stream = np.empty(int(batch.stream_lengths.sum()), dtype=np.int64)
            for n, lv_ids in enumerate(ids, start=batch.min_n):
                stream[batch.stream_positions(n)] = lv_ids
        if batch.num_documents == 0:
            return []
        return np.split(stream, np.cumsum(batch.stream_lengths)[:-1])

    def _one_hot(self, seq: np.ndarray) -> sp.csr_matrix:
        present = np.flatnonzero(seq != 0)  # padding rows stay all zero
        indptr = np.zeros(len(seq) + 1, dtype=np.int64)
        indptr[present + 1] = 1
        np.cumsum(indptr, out=indptr)
        data = np.ones(len(present), dtype=self.dtype)
        return sp.csr_matrix((data, seq[present], indptr), shape=(len(seq), self.vocab_size))

    def _bag_counts(self, batch: EncodedBatch, ids: list[np.ndarray]) -> sp.csr_matrix:
        """(B, V) float64 counts of in-vocabulary terms, canonical CSR (sorted, no repeats).

        Consumes ``ids`` (the list is emptied) so that each array is freed once used.
        """
        V = self.vocab_size
        B = batch.num_documents
        keys = np.empty(sum(int(np.count_nonzero(lv_ids >= 2)) for lv_ids in ids), np.int64)
        end = 0
        for n in range(batch.min_n, batch.max_n + 1):
            lv_ids = ids.pop(0)
            known = lv_ids >= 2  # OOV (1) is not counted
            rows = batch.rows(n)[known]
            part = keys[end : end + len(rows)]
            np.multiply(rows, V, out=part)
            part += lv_ids[known]
            end += len(rows)
            del lv_ids, known, rows
        keys.sort()  # one key per (row, column) occurrence; np.sort beats np.unique's argsort
        flag = np.empty(len(keys), dtype=bool)
        flag[:1] = True
        np.not_equal(keys[1:], keys[:-1], out=flag[1:])
        starts = np.flatnonzero(flag)
        del flag
        counts = np.diff(np.append(starts, len(keys))).astype(np.float64)
        keys = keys[starts]  # the distinct (row * V + column) keys, sorted
        del starts
        # Row d's entries are the keys in [d * V, (d + 1) * V).
        indptr = np.searchsorted(keys, np.arange(B + 1, dtype=np.int64) * V)
        keys %= V
        index_dtype = np.int32 if max(V, len(keys)) < 2**31 else np.int64
        return sp.csr_matrix(
            (counts, keys.astype(index_dtype), indptr.astype(index_dtype)), shape=(B, V)
        )

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict with the parameters, the vocabulary and the idf."""
        self._check_fitted()
        return {
            "format": _FORMAT,
            "version": 1,
            "params": {**self.get_params(), "ngram_range": list(self.ngram_range)},
            "vocabulary": list(self.vocabulary_.itos),
            "idf": None if self.idf_ is None else [float(x) for x in self.idf_],
            "document_count": int(self.document_count_),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TextVectorizer:
        """Rebuild a fitted vectorizer from :meth:`to_dict` output."""
        if not isinstance(d, Mapping) or d.get("format") != _FORMAT:
            got = d.get("format") if isinstance(d, Mapping) else type(d).__name__
            raise ValueError(
                f"not a saved TextVectorizer: expected format {_FORMAT!r}, got {got!r}"
            )
        params = dict(d["params"])
        unknown = set(params) - set(_PARAM_NAMES)
        if unknown:
            raise ValueError(f"unknown TextVectorizer parameters {sorted(unknown)} in the file")
        params["ngram_range"] = tuple(params.get("ngram_range", (1, 1)))
        vec = cls(**params)
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


def _order_by_count_then_first(counts: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Indices sorting by count descending, then first occurrence ascending (all distinct)."""
    if len(counts) == 0:
        return np.zeros(0, dtype=np.int64)
    top = int(counts.max())
    span = int(first.max()) + 1
    if (top + 1) * span < 2**62:
        return np.argsort((top - counts) * span + first)
    return np.lexsort((first, -counts))


_DEFAULTS: dict[str, Any] = {
    "max_tokens": None,
    "min_count": 1,
    "output_mode": "int",
    "maxlen": None,
    "ngram_range": (1, 1),
    "level": "word",
    "standardize": "keras",
    "token_pattern": None,
    "strip_html": True,
    "dtype": "float32",
    "padding": "post",
    "truncating": "post",
}
_PARAM_NAMES = tuple(_DEFAULTS)
