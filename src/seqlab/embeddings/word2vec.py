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
in numpy, on a GPU in PyTorch (:mod:`seqlab.embeddings._w2v_steps` says why).

The parts: the corpus and its chunks are :mod:`seqlab.embeddings._w2v_corpus`, the blocks,
noise pools and weights of a chunk :mod:`seqlab.embeddings._w2v_batches`, the arithmetic of
a step :mod:`seqlab.embeddings._w2v_steps`.
"""

from __future__ import annotations

import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch

from seqlab._utils import background, resolve_device
from seqlab.embeddings._w2v_batches import Prepared, prepare_chunk
from seqlab.embeddings._w2v_corpus import Chunk, Corpus, chunks, keras_standardize
from seqlab.embeddings._w2v_steps import (
    _np_cbow_step,
    _np_sg_step,
    _torch_cbow_step,
    _torch_sg_step,
)
from seqlab.embeddings.keyed import KeyedVectors

__all__ = ["Word2Vec", "keras_standardize"]

# The constructor's settings kept in ``config`` (and the vectors' meta), in this order.
_CONFIG = (
    "vector_size",
    "window",
    "sg",
    "negative",
    "min_count",
    "sample",
    "alpha",
    "min_alpha",
    "epochs",
    "seed",
    "batch_words",
    "ns_exponent",
    "cbow_mean",
    "shrink_windows",
    "max_vocab_size",
    "standardize",
    "block",
    "negative_pool",
    "step_words",
)
_CONFIG_TYPES: dict[str, Callable[[Any], Any]] = {
    "sample": float,
    "alpha": float,
    "min_alpha": float,
    "ns_exponent": float,
    "cbow_mean": bool,
    "shrink_windows": bool,
}


def _as_given(value: Any) -> Any:
    return value


def _renamed_dim(vector_size: int, dim: int) -> int:
    """``vector_size`` from the deprecated ``dim`` (a warning; a clash is an error)."""
    warnings.warn(
        f"Word2Vec(dim={dim!r}) is deprecated; use vector_size={dim!r}",
        DeprecationWarning,
        stacklevel=3,
    )
    if vector_size not in (100, dim):
        raise ValueError(
            f"vector_size={vector_size!r} and dim={dim!r} disagree; pass only "
            "vector_size (dim is its deprecated name)"
        )
    return dim


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
        device: str = "auto",
        progress: bool = True,
        dim: int | None = None,
    ) -> None:
        if dim is not None:  # the old name, as gensim 3's ``size``: one name, vector_size
            vector_size = _renamed_dim(vector_size, dim)
        self.vector_size, self.window, self.sg = vector_size, window, bool(sg)
        self.negative, self.min_count, self.sample = negative, min_count, sample
        self.alpha, self.min_alpha, self.epochs, self.seed = alpha, min_alpha, epochs, seed
        self.batch_words, self.ns_exponent, self.cbow_mean = batch_words, ns_exponent, cbow_mean
        self.shrink_windows, self.max_vocab_size = shrink_windows, max_vocab_size
        self.standardize, self.block, self.step_words = standardize, block, step_words
        self.negative_pool, self.keep_in_memory = negative_pool, keep_in_memory
        self.device, self.progress = device, progress
        self._validate()
        self.seed = int(seed)
        # the settings as given (numbers as float, flags as bool): wv.meta, config.json
        self.config: dict[str, Any] = {
            name: _CONFIG_TYPES.get(name, _as_given)(getattr(self, name)) for name in _CONFIG
        }
        if negative_pool is None:
            self.negative_pool = max(16, 3 * negative)
        if not isinstance(self.negative_pool, int) or self.negative_pool < negative:
            raise ValueError(
                f"negative_pool must be an int >= negative={negative}, got {self.negative_pool!r}"
            )
        self.wv: KeyedVectors | None = None
        self._backend: str | None = None  # "numpy" (CPU) or "torch" (GPU); see _train_chunk
        self._cap = 64.0  # most word pairs' worth of update one word takes per step (Group)

    def _validate(self) -> None:
        """Raise ValueError naming the first bad setting."""
        for name, low in [
            ("vector_size", 1),
            ("window", 1),
            ("negative", 1),
            ("min_count", 1),
            ("epochs", 1),
            ("batch_words", 1000),
            ("block", 1),
            ("step_words", 1),
        ]:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
        if not 0 <= self.sample < 1:
            raise ValueError(f"sample must be in [0, 1), got {self.sample!r}")
        if not self.alpha > 0 or not 0 <= self.min_alpha <= self.alpha:
            raise ValueError(
                f"need alpha > 0 and 0 <= min_alpha <= alpha, got alpha={self.alpha!r}, "
                f"min_alpha={self.min_alpha!r}"
            )
        if self.standardize not in (None, "keras"):
            raise ValueError(f"standardize must be None or 'keras', got {self.standardize!r}")

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
        stream = Corpus(corpus, self._tokenizer())
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

    def _chunks(self, stream: Corpus) -> Iterator[Chunk]:
        return chunks(stream, self.key_to_index_, self.batch_words)

    def _prepare(self, chunk: Chunk, rng: np.random.Generator, alpha: float) -> Prepared:
        return prepare_chunk(chunk, rng, alpha, self)

    def _prepared_stream(self, rng: np.random.Generator) -> Iterator[Prepared]:
        """Chunks of every epoch, prepared in order, with their learning rates."""
        total = self.corpus_words_ * self.epochs
        done = 0
        cached: list[Chunk] | None = [] if self._keep else None
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
        self._cache: list[Chunk] = []
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
            for prepared in background(self._prepared_stream(rng)):
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

    def _train_chunk(self, p: Prepared, syn0: Any, syn1: Any) -> None:
        if self._backend == "numpy":
            for step in p.steps:
                (_np_sg_step if self.sg else _np_cbow_step)(step, syn0, syn1)
            return
        device = syn0.device
        for step in p.steps:
            (_torch_sg_step if self.sg else _torch_cbow_step)(step, syn0, syn1, device)
