"""word2vec (skip-gram and CBOW with negative sampling) trained in large vectorised batches.

>>> w2v = Word2Vec(vector_size=100, window=5, sg=True).fit("corpus.txt")   # doctest: +SKIP
>>> w2v.wv.most_similar("good", topn=3)                            # doctest: +SKIP

The model is the one of Mikolov et al. (2013) as implemented by the C tool and gensim:
a vocabulary of the words seen ``min_count`` times (most frequent first), frequent words
dropped with gensim's probability ``(sqrt(f / t) + 1) * t / f`` (``t = sample * total``)
before the windows are formed, a window shrunk at random to ``1..window`` around each
word, ``negative`` noise words drawn from the unigram distribution raised to 0.75, plain
SGD whose rate falls linearly from ``alpha`` to ``min_alpha`` over all epochs, and input
vectors initialised uniformly in ``±1 / vector_size`` as gensim 4 does (output vectors at zero).

What differs is how the work is batched, because a Python loop over word pairs would be
hopeless. The corpus is cut into chunks of ``batch_words`` words; a background thread
prepares each chunk (subsampling, windows, noise words) while the main thread trains on
the previous one. In a chunk, consecutive kept words are grouped in blocks of ``block``
centre words that share a pool of ``negative_pool`` noise words: every word pair of the
block is trained against all of them, each weighted ``negative / negative_pool``, so the
expected update of a pair is word2vec's with ``negative`` draws. (Sharing only
``negative`` noise words per block, BlazingText-style, cost 3 analogy points on IMDB; a
pool of 16 matched gensim.) A block's context rows ``X`` (the block plus ``window`` words
each side) and target rows ``T`` (its centre words, then the pool) give all its scores in
one small matrix product::

    S = X @ T.T                        # (blocks, block + 2*window, block + negative_pool)
    G = alpha * uses * (label - sigmoid(S))   # uses: the weight of the pairs using a score
    syn0[X ids] += G @ T               # repeated words add up (capped, see _Group)
    syn1neg[T ids] += G.T @ X

so each word pair gets word2vec's update, only at the same time as the other pairs of its
step (``step_words`` centre words) rather than one after another. CBOW averages the context
rows of each centre word first (``cbow_mean``), as gensim. On the CPU the arithmetic runs
in numpy (see ``_train_chunk`` for why), on a GPU in PyTorch.
"""

from __future__ import annotations

import os
import queue
import re
import string
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import GeneratorType
from typing import Any

import numpy as np
import torch

from seqlab._utils import resolve_device
from seqlab.embeddings.keyed import KeyedVectors

__all__ = ["Word2Vec", "keras_standardize"]

_PUNCT_TABLE = str.maketrans("", "", string.punctuation)
_TAG = re.compile(r"<[^>]{0,40}>")


def keras_standardize(text: str) -> list[str]:
    """Keras ``lower_and_strip_punctuation`` then a whitespace split, with HTML tags such as
    IMDB's ``<br />`` replaced by a space first (Keras would glue ``film.<br />The`` into
    ``filmbr brthe``).

    >>> keras_standardize("It's GREAT!<br />Really.")
    ['its', 'great', 'really']
    """
    if "<" in text:
        text = _TAG.sub(" ", text)
    return text.lower().translate(_PUNCT_TABLE).split()


# --------------------------------------------------------------------------- corpus


class _Corpus:
    """A restartable stream of token lists from a path, a list, or a re-iterable."""

    def __init__(self, corpus: Any, tokenizer: Callable[[str], list[str]]) -> None:
        self.tokenizer = tokenizer
        self.path: Path | None = None
        self.items: Any = None
        if isinstance(corpus, (str, os.PathLike)):
            path = Path(corpus).expanduser()
            if not path.is_file():
                raise FileNotFoundError(
                    f"corpus={os.fspath(corpus)!r} is not a file; pass a path to a text file "
                    "(one sentence or document per line) or a list of token lists / strings"
                )
            self.path = path
            return
        texts = getattr(corpus, "texts", None)  # a seqlab TextDataset
        if texts is not None and not isinstance(corpus, (list, tuple)):
            corpus = texts
        if isinstance(corpus, GeneratorType) or (
            isinstance(corpus, Iterator) and iter(corpus) is corpus
        ):
            raise TypeError(
                "corpus is a one-shot iterator (e.g. a generator): Word2Vec reads the corpus "
                "once for the vocabulary and once per epoch, so it must start over each time. "
                "Pass a list, a file path, or an object whose __iter__ returns a new iterator"
            )
        if not isinstance(corpus, Iterable):
            raise TypeError(
                f"corpus must be a path or an iterable of token lists / strings, "
                f"got {type(corpus).__name__}"
            )
        self.items = corpus

    def __iter__(self) -> Iterator[list[str]]:
        tokenize = self.tokenizer
        if self.path is not None:
            with open(self.path, encoding="utf-8", errors="replace") as f:
                for line in f:
                    yield tokenize(line)
            return
        for item in self.items:
            if isinstance(item, str):
                yield tokenize(item)
            elif isinstance(item, (list, tuple)):
                yield item  # type: ignore[misc]
            else:
                raise TypeError(
                    "each corpus item must be a str (a document) or a list of tokens, "
                    f"got {type(item).__name__}: {item!r:.60}"
                )


@dataclass
class _Chunk:
    ids: np.ndarray  # in-vocabulary word ids, in corpus order (int32: kept for later epochs)
    lengths: np.ndarray  # words per sentence (after dropping unknown words)
    raw_words: int  # all tokens, unknown ones included


@dataclass
class _Step:
    """One training step: ``step_words // block`` blocks of centre words.

    Skip-gram scores every context row against every target of its block, ``S = X @ T.T``
    (b, R, C); CBOW scores the mean context ``H`` (b, B, D) of each centre word instead.
    ``weight`` is alpha times the number of word pairs that use a score, so the gradient of
    the scores is ``weight * (labels - sigmoid(S))``.
    """

    xidx: np.ndarray  # (b, R) context row ids (R = block + 2 * window)
    tidx: np.ndarray  # (b, C) target row ids (C = block + negative_pool)
    labels: np.ndarray  # (1, C) skip-gram, (B, C) CBOW: 1 for the true centre word
    weight: np.ndarray  # (b, R or B, C) float32
    ctx_mean: np.ndarray | None = None  # CBOW: (b, R, B) averaging weights
    ctx: np.ndarray | None = None  # CBOW: (b, R, B) 1 where row r is a context of centre i
    x_group: _Group | None = None  # X rows -> words
    t_group: _Group | None = None  # T rows -> words


@dataclass
class _Prepared:
    steps: list[_Step]
    raw_words: int
    effective_words: int


@dataclass
class _Group:
    """How the gradient rows of one step map to words.

    ``weights[unique] += (matrix @ grad) * scale`` adds every row to its word (``matrix`` is
    a sparse distinct-words x rows 0/1 matrix; repeated words sum up, ``np.add.at`` would be
    far slower). ``scale`` caps a word's update in one step at ``cap`` word pairs' worth:
    summing hundreds of pair updates computed from the same stale vector overshoots (the
    most frequent noise words diverge), whereas sequential SGD corrects itself after each.
    ``row_scale`` is the same per row, for the torch backend's ``index_add_``.
    """

    matrix: Any
    unique: np.ndarray
    scale: np.ndarray | None
    row_scale: np.ndarray | None


def _groupings(
    ids: np.ndarray, uses: np.ndarray, per_step: int, cap: float, vocab: int
) -> list[_Group]:
    """The :class:`_Group` of every step of a chunk (``per_step`` blocks each), from one sort
    of (step, word) keys over the whole chunk."""
    from scipy.sparse import csr_matrix

    nb, width = ids.shape
    flat = ids.reshape(-1)
    key = np.repeat(np.arange(nb, dtype=np.int64) // per_step, width) * vocab + flat
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    new = np.empty(flat.size, dtype=bool)
    new[:1] = True
    np.not_equal(sorted_key[1:], sorted_key[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    group_of_sorted = np.cumsum(new) - 1
    totals = np.bincount(group_of_sorted, weights=uses.reshape(-1)[order], minlength=starts.size)
    scale = np.minimum(1.0, cap / np.maximum(totals, 1e-9)).astype(np.float32)
    row_group = np.empty(flat.size, dtype=np.int64)
    row_group[order] = group_of_sorted
    bounds = np.searchsorted(sorted_key, np.arange(0, nb + per_step, per_step) // per_step * vocab)
    out = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        if lo == hi:
            break
        first_row = lo  # a step's rows are contiguous, and so are its sorted keys
        g0, g1 = group_of_sorted[lo], group_of_sorted[hi - 1] + 1
        indptr = np.append(starts[g0:g1] - lo, hi - lo).astype(np.int32)
        matrix = csr_matrix(
            (
                np.ones(hi - lo, dtype=np.float32),
                (order[lo:hi] - first_row).astype(np.int32),
                indptr,
            ),
            shape=(g1 - g0, hi - lo),
        )
        step_scale = scale[g0:g1]
        capped = bool((step_scale < 1).any())
        out.append(
            _Group(
                matrix=matrix,
                unique=sorted_key[starts[g0:g1]] - sorted_key[lo] // vocab * vocab,
                scale=step_scale[:, None] if capped else None,
                row_scale=scale[row_group[lo:hi]] if capped else None,
            )
        )
    return out


# --------------------------------------------------------------------------- model


class Word2Vec:
    """Skip-gram (``sg=True``) or CBOW word2vec with negative sampling.

    ``fit(corpus)`` accepts a path (one sentence/document per line), a list of token lists,
    a list of strings, or any object that can be iterated over more than once (a generator
    is refused). Strings are split on whitespace, or with ``standardize="keras"``
    lowercased and stripped of punctuation first (:func:`keras_standardize`). The trained
    vectors are ``.wv`` (a :class:`KeyedVectors`, words sorted by frequency).

    The parameters are gensim's, plus how the work is batched (see the module docstring):
    ``block`` centre words share ``negative_pool`` noise words (default ``max(16,
    3 * negative)``; each word pair is trained against all of them, weighted
    ``negative / negative_pool``, so its expected update is word2vec's with ``negative``
    draws), and a step updates ``step_words`` centre words at once. With the corpus held in
    memory (``keep_in_memory``, default: when it has at most 100 M words) epochs after the
    first skip reading and tokenising. Results depend only on ``seed``: one thread trains,
    one prepares the next chunk.

    >>> corpus = [["the", "cat", "sat"], ["the", "dog", "sat"]] * 50
    >>> w2v = Word2Vec(vector_size=8, min_count=1, epochs=2, progress=False).fit(corpus)
    >>> w2v.wv.index_to_key[:2], w2v.wv.vectors.shape
    (['the', 'sat'], (4, 8))
    """

    def __init__(
        self,
        vector_size: int = 100,
        window: int = 5,
        sg: bool = True,
        negative: int = 5,
        min_count: int = 5,
        sample: float = 1e-3,
        alpha: float = 0.025,
        min_alpha: float = 1e-4,
        epochs: int = 5,
        seed: int = 0,
        batch_words: int = 100_000,
        ns_exponent: float = 0.75,
        cbow_mean: bool = True,
        shrink_windows: bool = True,
        max_vocab_size: int | None = None,
        standardize: str | None = None,
        block: int = 8,
        negative_pool: int | None = None,
        step_words: int = 1024,
        keep_in_memory: bool | None = None,
        device: str = "cpu",
        progress: bool = True,
        dim: int | None = None,
    ) -> None:
        if dim is not None:  # the old name, as gensim 3's ``size``: one name, vector_size
            warnings.warn(
                f"Word2Vec(dim={dim!r}) is deprecated; use vector_size={dim!r}",
                DeprecationWarning,
                stacklevel=2,
            )
            if vector_size not in (100, dim):
                raise ValueError(
                    f"vector_size={vector_size!r} and dim={dim!r} disagree; pass only "
                    "vector_size (dim is its deprecated name)"
                )
            vector_size = dim
        for name, value, low in [
            ("vector_size", vector_size, 1),
            ("window", window, 1),
            ("negative", negative, 1),
            ("min_count", min_count, 1),
            ("epochs", epochs, 1),
            ("batch_words", batch_words, 1000),
            ("block", block, 1),
            ("step_words", step_words, 1),
        ]:
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
        if not 0 <= sample < 1:
            raise ValueError(f"sample must be in [0, 1), got {sample!r}")
        if not alpha > 0 or not 0 <= min_alpha <= alpha:
            raise ValueError(
                f"need alpha > 0 and 0 <= min_alpha <= alpha, got alpha={alpha!r}, "
                f"min_alpha={min_alpha!r}"
            )
        if standardize not in (None, "keras"):
            raise ValueError(f"standardize must be None or 'keras', got {standardize!r}")
        self.config: dict[str, Any] = dict(
            vector_size=vector_size,
            window=window,
            sg=bool(sg),
            negative=negative,
            min_count=min_count,
            sample=float(sample),
            alpha=float(alpha),
            min_alpha=float(min_alpha),
            epochs=epochs,
            seed=int(seed),
            batch_words=batch_words,
            ns_exponent=float(ns_exponent),
            cbow_mean=bool(cbow_mean),
            shrink_windows=bool(shrink_windows),
            max_vocab_size=max_vocab_size,
            standardize=standardize,
            block=block,
            negative_pool=negative_pool,
            step_words=step_words,
        )
        self.vector_size, self.window, self.sg = vector_size, window, bool(sg)
        self.negative = negative
        self.min_count, self.sample, self.alpha, self.min_alpha = (
            min_count,
            sample,
            alpha,
            min_alpha,
        )
        self.epochs, self.seed, self.batch_words = epochs, int(seed), batch_words
        self.ns_exponent, self.cbow_mean, self.shrink_windows = (
            ns_exponent,
            cbow_mean,
            shrink_windows,
        )
        self.max_vocab_size, self.standardize = max_vocab_size, standardize
        self.block, self.step_words, self.keep_in_memory = block, step_words, keep_in_memory
        if negative_pool is None:
            negative_pool = max(16, 3 * negative)
        if not isinstance(negative_pool, int) or negative_pool < negative:
            raise ValueError(
                f"negative_pool must be an int >= negative={negative}, got {negative_pool!r}"
            )
        self.negative_pool = negative_pool
        self.device, self.progress = device, progress
        self.wv: KeyedVectors | None = None
        self._backend: str | None = None  # "numpy" (CPU) or "torch" (GPU); see _train_chunk
        self._cap = 64.0  # most word pairs' worth of update one word takes per step (_Group)

    # ------------------------------------------------------------------ vocabulary

    @property
    def dim(self) -> int:
        """Deprecated name of :attr:`vector_size`."""
        warnings.warn(
            "Word2Vec.dim is deprecated; use Word2Vec.vector_size", DeprecationWarning, stacklevel=2
        )
        return self.vector_size

    def _tokenizer(self) -> Callable[[str], list[str]]:
        return keras_standardize if self.standardize == "keras" else str.split

    def build_vocab(self, corpus: Any) -> Word2Vec:
        """Count the words of ``corpus`` and keep those seen ``min_count`` times.

        >>> Word2Vec(min_count=2, progress=False).build_vocab([["a", "b", "a"]]).index_to_key_
        ['a']
        """
        stream = _Corpus(corpus, self._tokenizer())
        counts: Counter[str] = Counter()
        raw = sentences = 0
        for tokens in stream:
            counts.update(tokens)
            raw += len(tokens)
            sentences += 1
        kept = [(w, c) for w, c in counts.items() if c >= self.min_count]
        kept.sort(key=lambda wc: -wc[1])  # stable: ties keep first-seen order, as gensim
        if self.max_vocab_size is not None:
            kept = kept[: self.max_vocab_size]
        if not kept:
            raise ValueError(
                f"no word occurs min_count={self.min_count} times in the corpus "
                f"({raw} words, {len(counts)} distinct); lower min_count or give more text"
            )
        self.index_to_key_ = [w for w, _ in kept]
        self.counts_ = np.array([c for _, c in kept], dtype=np.int64)
        self.key_to_index_ = {w: i for i, w in enumerate(self.index_to_key_)}
        self.corpus_words_ = raw
        self.corpus_sentences_ = sentences
        retained = int(self.counts_.sum())
        # gensim's downsampling: keep a word with probability (sqrt(f / t) + 1) * t / f
        if self.sample > 0:
            threshold = self.sample * retained
            f = self.counts_.astype(np.float64)
            self.keep_prob_ = np.minimum(1.0, (np.sqrt(f / threshold) + 1) * threshold / f)
        else:
            self.keep_prob_ = np.ones(len(kept))
        # noise distribution: unigram ** ns_exponent, drawn by bisection as in gensim
        power = self.counts_.astype(np.float64) ** self.ns_exponent
        self.cum_table_ = np.cumsum(power) / power.sum()
        self.cum_table_[-1] = 1.0
        self._stream = stream
        return self

    # ------------------------------------------------------------------ data pipeline

    def _chunks(self, stream: _Corpus) -> Iterator[_Chunk]:
        lookup = self.key_to_index_
        get = lookup.get
        budget = self.batch_words
        ids: list[int] = []
        lengths: list[int] = []
        raw = 0
        for tokens in stream:
            before = len(ids)
            ids.extend([i for i in map(get, tokens) if i is not None])
            lengths.append(len(ids) - before)
            raw += len(tokens)
            if raw >= budget:
                yield _Chunk(np.array(ids, dtype=np.int32), np.array(lengths, np.int32), raw)
                ids, lengths, raw = [], [], 0
        if raw:
            yield _Chunk(np.array(ids, dtype=np.int32), np.array(lengths, np.int32), raw)

    def _prepare(self, chunk: _Chunk, rng: np.random.Generator, alpha: float) -> _Prepared:
        B, W, K = self.block, self.window, self.negative
        ids = chunk.ids
        sid = np.repeat(np.arange(len(chunk.lengths)), chunk.lengths)
        if self.sample > 0 and ids.size:
            keep = rng.random(ids.size) < self.keep_prob_[ids]
            ids, sid = ids[keep], sid[keep]
        n = ids.size
        nb = max(1, -(-n // B))
        size = nb * B
        R = B + 2 * W
        # padded positions: W invalid rows on the left, then the words, then padding;
        # -1 / -2 sentence ids never match a real sentence, so padded rows pair with nothing
        ids_pad = np.zeros(size + 2 * W, dtype=np.int64)
        ids_pad[W : W + n] = ids
        sid_pad = np.full(size + 2 * W, -2, dtype=np.int64)
        sid_pad[:W] = -1
        sid_pad[W : W + n] = sid
        windows = np.zeros(size, dtype=np.int64)
        if self.shrink_windows:
            windows[:n] = W - rng.integers(0, W, n)
        else:
            windows[:n] = W
        view = np.lib.stride_tricks.sliding_window_view
        xidx = view(ids_pad, R)[::B][:nb]
        xsid = view(sid_pad, R)[::B][:nb]
        cid = ids_pad[W : W + size].reshape(nb, B)
        csid = sid_pad[W : W + size].reshape(nb, B)
        offset = np.abs(np.arange(R)[:, None] - W - np.arange(B)[None, :])  # (R, B)
        pairs = (
            (offset[None] >= 1)
            & (offset[None] <= windows.reshape(nb, 1, B))
            & (xsid[:, :, None] == csid[:, None, :])
        )
        M = self.negative_pool  # noise words per block; each pair uses all, weighted K / M
        draws = rng.random((nb, M))
        negs = np.searchsorted(self.cum_table_, draws, side="right")
        np.minimum(negs, len(self.cum_table_) - 1, out=negs)
        # (block, centre, noise) triples where a noise word is the centre word itself: that
        # pair skips it, as in word2vec (rare, so handled as exceptions)
        clash = np.nonzero(negs[:, None, :] == cid[:, :, None])
        pairs_f = pairs.astype(np.float32)  # (nb, R, B)
        tidx = np.concatenate([cid, negs], axis=1)
        C = B + M
        a = np.float32(alpha)
        share = np.float32(K / M)
        if self.sg:
            # score (r, c): a centre column is one pair; a noise column is used by every pair
            # of row r (but those whose centre is that noise word)
            x_uses = pairs_f.sum(axis=2)  # word pairs of each context row
            weight = np.empty((nb, R, C), dtype=np.float32)
            weight[:, :, :B] = pairs_f
            weight[:, :, B:] = x_uses[:, :, None] * share
            if clash[0].size:
                blk, centre, noise = clash
                rows = np.arange(R)
                np.subtract.at(
                    weight,
                    (blk[:, None], rows[None, :], B + noise[:, None]),
                    pairs_f[blk, :, centre] * share,
                )
            t_uses = weight.sum(axis=1)  # word pairs of each target row
            weight *= a
            ctx_mean = None
        else:
            counts = pairs_f.sum(axis=1)  # (nb, B) context words of each centre
            has = (counts > 0).astype(np.float32)  # centres without any context: skip
            ctx_mean = pairs_f / np.maximum(counts, 1)[:, None, :] if self.cbow_mean else pairs_f
            weight = np.zeros((nb, B, C), dtype=np.float32)
            diag = np.arange(B)
            weight[:, diag, diag] = has
            weight[:, :, B:] = has[:, :, None] * share
            if clash[0].size:
                blk, centre, noise = clash
                weight[blk, centre, B + noise] = 0.0
            x_uses = pairs_f.sum(axis=2)  # centres whose error each context row takes
            t_uses = weight.sum(axis=1)  # centres per target row
            weight *= a
        # the label of each score: 1 for a centre word (CBOW: its own centre), 0 for noise
        labels = np.zeros((1, C) if self.sg else (B, C), dtype=np.float32)
        labels[:, :B] = 1.0 if self.sg else np.eye(B, dtype=np.float32)
        per_step = max(1, self.step_words // B)
        vocab = len(self.index_to_key_)
        x_groups = _groupings(xidx, x_uses, per_step, self._cap, vocab)
        t_groups = _groupings(tidx, t_uses, per_step, self._cap, vocab)
        steps = []
        for k, lo in enumerate(range(0, nb, per_step)):
            part = slice(lo, min(nb, lo + per_step))
            step = _Step(
                xidx=np.ascontiguousarray(xidx[part]),
                tidx=np.ascontiguousarray(tidx[part]),
                labels=labels,
                weight=np.ascontiguousarray(weight[part]),
                x_group=x_groups[k],
                t_group=t_groups[k],
            )
            if ctx_mean is not None:
                step.ctx_mean = np.ascontiguousarray(ctx_mean[part])
                step.ctx = np.ascontiguousarray(pairs_f[part])
            steps.append(step)
        return _Prepared(steps=steps, raw_words=chunk.raw_words, effective_words=n)

    def _prepared_stream(self, rng: np.random.Generator) -> Iterator[_Prepared]:
        """Chunks of every epoch, prepared in order, with their learning rates."""
        total = self.corpus_words_ * self.epochs
        done = 0
        cached: list[_Chunk] | None = [] if self._keep else None
        for epoch in range(self.epochs):
            source = self._cache if (epoch > 0 and self._keep) else self._chunks(self._stream)
            for chunk in source:
                if epoch == 0 and cached is not None:
                    cached.append(chunk)
                progress = done / total if total else 1.0
                alpha = max(self.min_alpha, self.alpha - (self.alpha - self.min_alpha) * progress)
                done += chunk.raw_words
                yield self._prepare(chunk, rng, alpha)
            if epoch == 0 and cached is not None:
                self._cache = cached

    # ------------------------------------------------------------------ training

    def fit(self, corpus: Any, epochs: int | None = None) -> Word2Vec:
        """Build the vocabulary and train; returns ``self`` (vectors in ``self.wv``).

        >>> w2v = Word2Vec(min_count=1, progress=False).fit("corpus.txt")  # doctest: +SKIP
        """
        if epochs is not None:
            if not isinstance(epochs, int) or epochs < 1:
                raise ValueError(f"epochs must be an int >= 1, got {epochs!r}")
            self.epochs = self.config["epochs"] = epochs
        self.build_vocab(corpus)
        self._keep = (
            self.corpus_words_ <= 100_000_000
            if self.keep_in_memory is None
            else bool(self.keep_in_memory)
        )
        self._cache: list[_Chunk] = []
        device = resolve_device(self.device)
        if self._backend is None:
            self._backend = "numpy" if device.type == "cpu" else "torch"
        vocab, dim = len(self.index_to_key_), self.vector_size
        seeds = np.random.SeedSequence(self.seed).spawn(2)
        init = np.random.default_rng(seeds[0])
        # as gensim 4: input vectors uniform in [-1/dim, 1/dim), output vectors zero
        syn0: Any = ((init.random((vocab, dim)) * 2.0 - 1.0) / dim).astype(np.float32)
        syn1: Any = np.zeros((vocab, dim), dtype=np.float32)
        if self._backend == "torch":
            syn0 = torch.from_numpy(syn0).to(device)
            syn1 = torch.from_numpy(syn1).to(device)
        rng = np.random.default_rng(seeds[1])

        bar = None
        if self.progress:
            from tqdm.auto import tqdm

            bar = tqdm(
                total=self.corpus_words_ * self.epochs,
                unit="word",
                unit_scale=True,
                desc="word2vec",
                smoothing=0.1,
            )
        start = time.perf_counter()
        effective = 0
        try:
            for prepared in _background(self._prepared_stream(rng)):
                self._train_chunk(prepared, syn0, syn1)
                effective += prepared.effective_words
                if bar is not None:
                    bar.update(prepared.raw_words)
        finally:
            if bar is not None:
                bar.close()
        seconds = time.perf_counter() - start
        self._cache = []
        self.train_seconds_ = seconds
        self.effective_words_ = effective
        self.words_per_second_ = self.corpus_words_ * self.epochs / max(seconds, 1e-9)
        if self._backend == "torch":
            syn0, syn1 = syn0.cpu().numpy(), syn1.cpu().numpy()
        self.syn1neg_ = syn1
        self.wv = KeyedVectors(self.index_to_key_, syn0, counts=self.counts_)
        self.wv.meta.update(source="word2vec", **{k: v for k, v in self.config.items()})
        return self

    def _train_chunk(self, p: _Prepared, syn0: Any, syn1: Any) -> None:
        if self._backend == "numpy":
            for step in p.steps:
                (_np_sg_step if self.sg else _np_cbow_step)(step, syn0, syn1)
            return
        device = syn0.device
        for step in p.steps:
            (_torch_sg_step if self.sg else _torch_cbow_step)(step, syn0, syn1, device)


# Two backends do the same arithmetic. On the CPU, numpy: its small matrix products and
# gathers run in the calling thread, while torch's CPU kernels open an OpenMP parallel
# region per call, which on a busy machine waits for a descheduled thread (measured: 25 ms
# per call instead of 0.05 ms on a shared 2-core machine). On a GPU, torch.


def _np_apply(weights: np.ndarray, grad: np.ndarray, group: _Group) -> None:
    update = group.matrix @ grad
    if group.scale is not None:
        update *= group.scale
    weights[group.unique] += update


def _np_sg_step(step: _Step, syn0: np.ndarray, syn1: np.ndarray) -> None:
    # each (context row r, centre c) pair trains syn0[r] to predict syn1[c] against the
    # noise words of the block, as in word2vec's skip-gram (input = the context word)
    from scipy.special import expit

    X = syn0.take(step.xidx, axis=0)  # (b, R, D)
    T = syn1.take(step.tidx, axis=0)  # (b, C, D)
    G = np.matmul(X, T.transpose(0, 2, 1))  # (b, R, C) scores
    expit(G, out=G)
    np.subtract(step.labels, G, out=G)
    G *= step.weight  # alpha * uses * (label - sigmoid)
    D = X.shape[-1]
    _np_apply(syn0, np.matmul(G, T).reshape(-1, D), step.x_group)  # type: ignore[arg-type]
    _np_apply(syn1, np.matmul(G.transpose(0, 2, 1), X).reshape(-1, D), step.t_group)  # type: ignore[arg-type]


def _np_cbow_step(step: _Step, syn0: np.ndarray, syn1: np.ndarray) -> None:
    # h_i = mean of the context rows of centre i predicts syn1[i]; as in gensim the error
    # of h_i is added in full to each of its context rows
    from scipy.special import expit

    X = syn0.take(step.xidx, axis=0)  # (b, R, D)
    T = syn1.take(step.tidx, axis=0)  # (b, C, D)
    H = np.matmul(step.ctx_mean.transpose(0, 2, 1), X)  # type: ignore[union-attr]  # (b, B, D)
    G = np.matmul(H, T.transpose(0, 2, 1))  # (b, B, C)
    expit(G, out=G)
    np.subtract(step.labels, G, out=G)
    G *= step.weight
    D = X.shape[-1]
    E = np.matmul(G, T)  # (b, B, D) error of each h_i
    _np_apply(syn0, np.matmul(step.ctx, E).reshape(-1, D), step.x_group)  # type: ignore[arg-type]
    _np_apply(syn1, np.matmul(G.transpose(0, 2, 1), H).reshape(-1, D), step.t_group)  # type: ignore[arg-type]


def _tensors(step: _Step, device: torch.device) -> dict[str, torch.Tensor]:
    names = ("xidx", "tidx", "labels", "weight", "ctx_mean", "ctx")
    out = {
        name: torch.from_numpy(getattr(step, name)).to(device, non_blocking=True)
        for name in names
        if getattr(step, name) is not None
    }
    for name, group in (("x_scale", step.x_group), ("t_scale", step.t_group)):
        if group is not None and group.row_scale is not None:
            out[name] = torch.from_numpy(group.row_scale).to(device).unsqueeze(1)
    return out


def _torch_add(
    weights: torch.Tensor, ids: torch.Tensor, grad: torch.Tensor, scale: torch.Tensor | None
) -> None:
    weights.index_add_(0, ids.reshape(-1), grad if scale is None else grad * scale)


def _torch_sg_step(
    step: _Step, syn0: torch.Tensor, syn1: torch.Tensor, device: torch.device
) -> None:
    t = _tensors(step, device)
    X, T = syn0[t["xidx"]], syn1[t["tidx"]]  # (b, R, D), (b, C, D)
    G = (t["labels"] - torch.bmm(X, T.transpose(1, 2)).sigmoid_()).mul_(t["weight"])
    D = X.shape[-1]
    _torch_add(syn0, t["xidx"], torch.bmm(G, T).reshape(-1, D), t.get("x_scale"))
    _torch_add(syn1, t["tidx"], torch.bmm(G.transpose(1, 2), X).reshape(-1, D), t.get("t_scale"))


def _torch_cbow_step(
    step: _Step, syn0: torch.Tensor, syn1: torch.Tensor, device: torch.device
) -> None:
    t = _tensors(step, device)
    X, T = syn0[t["xidx"]], syn1[t["tidx"]]
    H = torch.bmm(t["ctx_mean"].transpose(1, 2), X)
    G = (t["labels"] - torch.bmm(H, T.transpose(1, 2)).sigmoid_()).mul_(t["weight"])
    D = X.shape[-1]
    E = torch.bmm(G, T)
    _torch_add(syn0, t["xidx"], torch.bmm(t["ctx"], E).reshape(-1, D), t.get("x_scale"))
    _torch_add(syn1, t["tidx"], torch.bmm(G.transpose(1, 2), H).reshape(-1, D), t.get("t_scale"))


def _background(items: Iterator[Any], depth: int = 2) -> Iterator[Any]:
    """Run the ``items`` generator in a thread, ``depth`` items ahead of the consumer."""
    q: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def work() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(done)
        except BaseException as exc:  # re-raised in the consumer
            q.put(exc)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)
