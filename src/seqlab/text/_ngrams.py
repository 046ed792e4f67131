"""Counting the n-grams of a whole batch of documents with numpy (TextVectorizer's engine).

Only one Python pass is made over the text: each document is tokenized and every token is
mapped to a batch-local integer id with a dict. Everything after that is array work:

    flat     [ 5 9 5 | 2 5 9 7 | 3 ]      token ids of all documents, concatenated
    lengths  [ 3     | 4       | 1 ]      tokens per document
    level 2  keys id(a) * V + id(b) at every position whose bigram stays inside its document
             (never across the "|"), grouped with one sort into dense n-gram ids
    level n  keys dense_{n-1}(p) * V + id(p + n - 1): any order without overflow

Strings are built only for the distinct n-grams that are needed (the kept vocabulary when
fitting, the distinct n-grams of the batch when transforming).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from seqlab.text.vocab import OOV_ID

# (counts, first occurrences, strings_of(indices)) -> (kept indices, their strings), in order
Selector = Callable[
    [np.ndarray, np.ndarray, Callable[[np.ndarray], list[str]]], tuple[np.ndarray, list[str]]
]


@dataclass
class Level:
    """The n-grams of one order ``n`` in a batch, one entry per occurrence ("instance")."""

    n: int
    pos: np.ndarray | None  # (I,) start of each instance in `flat`; None means 0 .. I-1 (n=1)
    inverse: np.ndarray  # (I,) dense id of each instance, 0 .. U-1, in document order
    first: np.ndarray  # (U,) index of the first instance of each dense id
    counts: np.ndarray  # (U,) occurrences of each dense id

    @property
    def size(self) -> int:
        return len(self.counts)

    def starts(self, which: np.ndarray) -> np.ndarray:
        """Start in `flat` of the instances ``which``."""
        return which if self.pos is None else self.pos[which]


def _check_doc(i: int, doc: object) -> None:
    if not isinstance(doc, str):
        raise TypeError(
            f"documents must be str, got {type(doc).__name__} at position {i}; "
            "pass a list of texts (decode bytes first)"
        )


class EncodedBatch:
    """Token ids of a batch of documents and its n-gram levels up to ``max_n``.

    ``orders`` (distinct, e.g. ``(1, 2)`` or Keras's ``(1, 3)``) are the n-gram orders that
    make up each document's token stream (the output of ``TextVectorizer.tokenize``): per
    document, all n-grams of ``orders[0]`` left to right, then of ``orders[1]``, ... Orders
    below ``max_n`` that are not listed are built only as stepping stones.
    """

    def __init__(
        self,
        flat: np.ndarray,
        lengths: np.ndarray,
        words: list[str],
        joiner: str,
        orders: tuple[int, ...],
    ) -> None:
        self.flat = flat
        self.lengths = lengths
        self.words = words
        self.joiner = joiner
        self.orders = tuple(orders)
        self.max_n = max(self.orders)
        self.starts = np.zeros(len(lengths), dtype=np.int64)
        np.cumsum(lengths[:-1], out=self.starts[1:])
        self.levels = self._build_levels()
        # Per document: instances of each stream order, and where its stream starts.
        self._order_counts = {n: np.maximum(lengths - (n - 1), 0) for n in self.orders}
        self.stream_lengths = sum(self._order_counts.values())
        self.stream_starts = np.zeros(len(lengths), dtype=np.int64)
        np.cumsum(self.stream_lengths[:-1], out=self.stream_starts[1:])

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_words(
        cls,
        docs: Iterable[str],
        tokenizer: Callable[[str], list[str]],
        orders: tuple[int, ...],
    ) -> EncodedBatch:
        """Tokenize every document into words; ids are assigned in first-occurrence order."""
        index: dict[str, int] = {}
        get = index.get
        flat = array("q")
        lengths = array("q")
        for i, doc in enumerate(docs):
            if type(doc) is not str:
                _check_doc(i, doc)
            tokens = tokenizer(doc)
            ids = list(map(get, tokens))  # the fast path: C-level lookups, None for new tokens
            if None in ids:
                for j, token in enumerate(tokens):
                    if ids[j] is None:
                        new = get(token)
                        if new is None:
                            new = index[token] = len(index)
                        ids[j] = new
            flat.extend(ids)
            lengths.append(len(tokens))
        return cls(
            np.frombuffer(flat, dtype=np.int64) if flat else np.zeros(0, dtype=np.int64),
            np.frombuffer(lengths, dtype=np.int64) if lengths else np.zeros(0, dtype=np.int64),
            list(index),
            " ",
            orders,
        )

    @classmethod
    def from_chars(
        cls,
        docs: Iterable[str],
        standardizer: Callable[[str], str],
        orders: tuple[int, ...],
    ) -> EncodedBatch:
        """Split every standardised document into characters, vectorised over code points."""
        parts: list[str] = []
        for i, doc in enumerate(docs):
            if type(doc) is not str:
                _check_doc(i, doc)
            parts.append(standardizer(doc))
        lengths = np.fromiter(map(len, parts), dtype=np.int64, count=len(parts))
        text = "".join(parts)
        del parts
        codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        del text
        # Code points are < 0x110000, so a dense table maps them to ids without sorting.
        uniq = np.flatnonzero(np.bincount(codes))
        table = np.zeros(int(uniq[-1]) + 1 if len(uniq) else 1, dtype=np.int64)
        table[uniq] = np.arange(len(uniq))
        ids = table[codes]
        del codes
        # Renumber so that ids follow first occurrence, as for words.
        first = np.full(len(uniq), len(ids), dtype=np.int64)
        np.minimum.at(first, ids, np.arange(len(ids), dtype=np.int64))
        order = np.argsort(first)
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        words = [chr(c) for c in uniq[order].tolist()]
        return cls(rank[ids], lengths, words, "", orders)

    def _build_levels(self) -> dict[int, Level]:
        flat = self.flat
        N = len(flat)
        V = max(len(self.words), 1)
        levels: dict[int, Level] = {}
        # Level 1: ids are already dense and numbered in first-occurrence order, so the first
        # occurrences are exactly where the running maximum grows.
        new = np.ones(N, dtype=bool)
        if N:
            new[1:] = flat[1:] > np.maximum.accumulate(flat)[:-1]
        levels[1] = Level(
            1,
            None,
            flat,
            np.flatnonzero(new),
            np.bincount(flat, minlength=len(self.words)),
        )
        if self.max_n == 1:
            return levels
        ends = self.starts + self.lengths
        valid = np.ones(N, dtype=bool)  # does an n-gram start at p (inside p's document)?
        prev_full = flat  # dense id of the (n-1)-gram starting at each position
        for n in range(2, self.max_n + 1):
            # The last n - 1 positions of each document start no n-gram.
            valid[(ends - (n - 1))[self.lengths >= n - 1]] = False
            pos = np.flatnonzero(valid)
            prev_size = levels[n - 1].size
            if prev_size * V >= 2**63:
                raise ValueError(
                    f"too many distinct {n - 1}-grams ({prev_size}) to index {n}-grams in one "
                    "batch; fit on fewer documents"
                )
            keys = prev_full[pos]
            keys *= V
            keys += flat[pos + (n - 1)]
            inverse, first, counts = _group(keys, prev_size * V)  # consumes keys
            levels[n] = Level(n, pos, inverse, first, counts)
            if n < self.max_n:
                prev_full = np.full(N, -1, dtype=np.int64)
                prev_full[pos] = inverse
        return levels

    # ------------------------------------------------------------------ queries
    @property
    def num_documents(self) -> int:
        return len(self.lengths)

    def stream_levels(self) -> list[Level]:
        """The levels that make up the token stream, in the order of ``orders``."""
        return [self.levels[n] for n in self.orders]

    def order_counts(self, n: int) -> np.ndarray:
        """(B,) number of n-grams of order ``n`` in each document."""
        return np.maximum(self.lengths - (n - 1), 0)

    def rows(self, n: int) -> np.ndarray:
        """(I,) document index of every n-gram of order ``n`` (instances are in document order)."""
        return np.repeat(np.arange(self.num_documents), self.order_counts(n))

    def stream_positions(self, n: int, starts: np.ndarray | None = None) -> np.ndarray:
        """Position in the batch's token stream of the n-grams of order ``n`` that start at
        ``starts`` (positions in `flat`), or of all of them, in order, when None."""
        if starts is None:
            doc = self.rows(n)
            # Instance k of document d is the (k - first instance of d)-th n-gram of d.
            level_starts = np.zeros(self.num_documents, dtype=np.int64)
            np.cumsum(self.order_counts(n)[:-1], out=level_starts[1:])
            offset = np.arange(len(doc), dtype=np.int64) - level_starts[doc]
        else:
            doc = np.searchsorted(self.starts, starts, side="right") - 1
            offset = starts - self.starts[doc]
        offset += self.stream_starts[doc]
        for m in self.orders[: self.orders.index(n)]:
            offset += self._order_counts[m][doc]
        return offset

    def release(self) -> None:
        """Drop the per-token arrays once the caller has what it needs (saves memory)."""
        self.flat = np.zeros(0, dtype=np.int64)
        self.levels = {}

    def learn_vocabulary(self, select: Selector) -> tuple[list[str], list[np.ndarray]]:
        """The kept terms in vocabulary order and, per stream level, a table dense n-gram id
        -> vocabulary id (``OOV_ID`` for the n-grams left out).

        Candidates are all distinct n-grams of the stream orders, with their total count and
        the position of their first occurrence in the token stream; ``select(counts, first,
        strings_of)`` picks them (indices and strings, in vocabulary order).
        """
        levels = self.stream_levels()
        counts = np.concatenate([lv.counts for lv in levels])
        first = np.concatenate([self.stream_positions(lv.n, lv.starts(lv.first)) for lv in levels])
        offsets = np.cumsum([0] + [lv.size for lv in levels])
        if self.joiner != "" and self.max_n > 1 and any(self.joiner in w for w in self.words):
            # A token with a space in it (custom token_pattern) can make two different
            # n-grams print the same: merge candidates by their string.
            strings = [s for lv in levels for s in self.strings(lv)]
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
            chosen, terms = select(
                merged_counts, merged_first, lambda idx: [canon_strings[i] for i in idx.tolist()]
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
                        out[mask] = self.strings(lv, idx[mask] - offsets[k])
                return out.tolist()

            chosen, terms = select(counts, first, strings_of)
            to_vocab = np.full(len(counts), OOV_ID, dtype=np.int64)
            to_vocab[chosen] = np.arange(2, 2 + len(chosen))
        return terms, [to_vocab[offsets[k] : offsets[k + 1]] for k in range(len(levels))]

    def sequences(self, ids: list[np.ndarray]) -> list[np.ndarray]:
        """Per document, the ids of its token stream; ``ids[k]`` holds the id of every n-gram
        of order ``orders[k]``, in document order."""
        if len(ids) == 1:
            stream = ids[0]
        else:
            stream = np.empty(int(self.stream_lengths.sum()), dtype=np.int64)
            for n, lv_ids in zip(self.orders, ids):
                stream[self.stream_positions(n)] = lv_ids
        if self.num_documents == 0:
            return []
        return np.split(stream, np.cumsum(self.stream_lengths)[:-1])

    def bag_counts(
        self, ids: list[np.ndarray], width: int, keras_layout: bool = False
    ) -> sp.csr_matrix:
        """(B, width) float64 counts of the ids in ``ids`` (as for :meth:`sequences`),
        canonical CSR (sorted, no repeats). The term of id ``i >= 2`` goes to column ``i`` and
        OOV (id 1) is not counted; with ``keras_layout`` (Keras's bag modes, no padding
        column) the term goes to column ``i - 1`` and OOV is counted in column 0.

        Consumes ``ids`` (the list is emptied) so that each array is freed once used.
        """
        V = width
        B = self.num_documents
        low, shift = (1, 1) if keras_layout else (2, 0)
        keys = np.empty(sum(int(np.count_nonzero(lv_ids >= low)) for lv_ids in ids), np.int64)
        end = 0
        for n in self.orders:
            lv_ids = ids.pop(0)
            known = lv_ids >= low
            rows = self.rows(n)[known]
            part = keys[end : end + len(rows)]
            np.multiply(rows, V, out=part)
            part += lv_ids[known]
            part -= shift
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

    def strings(self, level: Level, dense_ids: np.ndarray | None = None) -> list[str]:
        """The n-gram strings of ``dense_ids`` (all distinct n-grams of ``level`` when None)."""
        if level.n == 1:
            if dense_ids is None:
                return list(self.words)
            words = self.words
            return [words[i] for i in dense_ids.tolist()]
        start = level.starts(level.first if dense_ids is None else level.first[dense_ids])
        words = np.array(self.words, dtype=object)
        # One column of component words per position, then str.join over the rows: C-level
        # loops only, and no intermediate strings.
        columns = [words[self.flat[start + k]] for k in range(level.n)]
        return list(map(self.joiner.join, zip(*columns)))


def _group(keys: np.ndarray, key_bound: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(inverse, first, counts) of non-negative ``keys`` < ``key_bound``: dense ids in sorted-key
    order, the index of each group's first occurrence, and the group sizes (like ``np.unique``).
    ``keys`` is overwritten.
    """
    n = len(keys)
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    pos_bits = max(int(n - 1).bit_length(), 1)
    if (key_bound - 1).bit_length() + pos_bits <= 63:
        # Pack (key, position) into one int64 and use np.sort, several times faster than
        # argsort; the packed sort is stable, so a group's first element is its first occurrence.
        packed = keys
        packed <<= pos_bits
        packed |= np.arange(n, dtype=np.int64)
        packed.sort()
        perm = packed & ((1 << pos_bits) - 1)
        packed >>= pos_bits
        sorted_keys = packed
    else:
        perm = np.argsort(keys, kind="stable")
        sorted_keys = keys[perm]
    flag = np.empty(n, dtype=bool)
    flag[0] = True
    np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=flag[1:])
    starts = np.flatnonzero(flag)
    counts = np.diff(np.append(starts, n))
    first = perm[starts]
    group = np.cumsum(flag, out=sorted_keys)  # reuse the buffer: dense id in sorted order
    group -= 1
    inverse = np.empty(n, dtype=np.int64)
    inverse[perm] = group
    return inverse, first, counts
