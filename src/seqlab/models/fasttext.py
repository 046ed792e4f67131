"""A fastText-style classifier (Joulin et al. 2017, "Bag of Tricks for Efficient Text
Classification"): the mean of the vectors of a text's words and of its hashed word n-grams,
then one linear layer.

The model reads token ids like every sequence model (``tokens (B, T)``, ``lengths (B)``)
and forms its n-grams itself, so a run folder needs nothing beyond the vocabulary and the
weights. Every n-gram of ``n`` consecutive ids is hashed into one of ``buckets`` extra rows
of the embedding table, after the ``vocab_size`` word rows, as fastText's ``-bucket`` does::

    h = 0xcbf29ce484222325                       # FNV-1a, 64 bits, one step per token id
    for id in ngram: h = (h ^ id) * 0x100000001b3  (mod 2**64)
    h = fmix64(h)                                # MurmurHash3's finaliser mixes all bits
    row = vocab_size + (h mod 2**63) mod buckets

The hash is fixed arithmetic on the ids (no Python ``hash()``, whose salt changes from one
process to the next), so a model hashes a text the same way in every run and process;
:func:`ngram_bucket` is the same computation in plain Python.

>>> model = FastTextClassifier(vocab_size=100, buckets=1000)
>>> model(tokens=torch.tensor([[5, 6, 7], [8, 0, 0]]), lengths=torch.tensor([3, 1])).shape
torch.Size([2, 2])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from seqlab.defaults import DEFAULT_INIT
from seqlab.models._checks import check_int, check_int_list
from seqlab.models.embedding import ClassifierOptions, SequenceClassifier, length_mask
from seqlab.models.initializers import EMBEDDING_LIMIT
from seqlab.models.registry import register

__all__ = [
    "DEFAULT_BUCKETS",
    "FastTextClassifier",
    "UniqueRowsBag",
    "ngram_bucket",
    "ngram_buckets",
    "ngram_hashes",
]

_MASK64 = (1 << 64) - 1
_FNV_OFFSET = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3
_FMIX1 = 0xFF51AFD7ED558CCD
_FMIX2 = 0xC4CEB9FE1A85EC53
#: Hashed n-gram rows unless told otherwise (fastText's ``-bucket`` is 2,000,000; chosen on a
#: validation split of IMDB's training reviews, see ``benchmarks/bench_fasttext.py``).
DEFAULT_BUCKETS = 500_000


def _signed(value: int) -> int:
    """A uint64 constant as the int64 with the same bits (torch has no uint64 arithmetic)."""
    return value - (1 << 64) if value >= 1 << 63 else value


def _shift_right(h: torch.Tensor, bits: int) -> torch.Tensor:
    # torch's >> on int64 copies the sign bit; a uint64 shift brings in zeros.
    return (h >> bits) & ((1 << (64 - bits)) - 1)


def ngram_hashes(tokens: torch.Tensor, n: int) -> torch.Tensor:
    """The 64-bit hashes (as int64 bit patterns) of every ``n`` consecutive ids along the
    last axis: ``(..., T)`` -> ``(..., T - n + 1)`` (empty when ``T < n``).

    Multiplications wrap around modulo 2**64 in int64, which gives the bits of the uint64
    product; see the module docstring for the formula.

    >>> ngram_hashes(torch.tensor([2, 3, 4]), 2).shape
    torch.Size([2])
    """
    n = check_int("n", n, minimum=1)
    steps = tokens.shape[-1]
    width = max(steps - n + 1, 0)
    h = torch.full((*tokens.shape[:-1], width), _signed(_FNV_OFFSET), dtype=torch.int64)
    h = h.to(tokens.device)
    for j in range(n):
        h = (h ^ tokens[..., j : j + width].long()) * _signed(_FNV_PRIME)
    h = h ^ _shift_right(h, 33)
    h = h * _signed(_FMIX1)
    h = h ^ _shift_right(h, 33)
    h = h * _signed(_FMIX2)
    return h ^ _shift_right(h, 33)


def ngram_buckets(tokens: torch.Tensor, n: int, buckets: int) -> torch.Tensor:
    """The bucket in ``[0, buckets)`` of every ``n`` consecutive ids along the last axis.

    >>> ngram_buckets(torch.tensor([[2, 3, 4]]), 2, 10).tolist() == [
    ...     [ngram_bucket([2, 3], 10), ngram_bucket([3, 4], 10)]]
    True
    """
    buckets = check_int("buckets", buckets, minimum=1)
    return (ngram_hashes(tokens, n) & ((1 << 63) - 1)) % buckets


def ngram_bucket(ids: Sequence[int], buckets: int) -> int:
    """The bucket of one n-gram of token ids, in plain Python (the reference for
    :func:`ngram_buckets`).

    >>> ngram_bucket([2, 3], 500_000)
    104706
    """
    h = _FNV_OFFSET
    for token in ids:
        h = ((h ^ int(token)) * _FNV_PRIME) & _MASK64
    h ^= h >> 33
    h = (h * _FMIX1) & _MASK64
    h ^= h >> 33
    h = (h * _FMIX2) & _MASK64
    h ^= h >> 33
    return (h & ((1 << 63) - 1)) % int(buckets)


class _UniqueRowsSum(torch.autograd.Function):
    """``F.embedding_bag(ids, weight, offsets, mode="sum", per_sample_weights=...)`` computed
    on the distinct rows of ``ids`` only, with a sparse gradient of one entry per row.

    One sort of the ids gives both directions::

        order = argsort(ids)       rows, counts = the distinct ids in order, their counts
        forward:  out[b] = sum_{e in bag b} w[e] * weight[ids[e]]       (over rows' table)
        backward: grad[rows[u]] = sum_{e: ids[e] = rows[u]} w[e] * grad_out[bag(e)]

    and the backward is itself an embedding bag (one bag per distinct row, over the sorted
    entries, reading ``grad_out`` as the table), which is faster than the sum over
    duplicates that ``nn.EmbeddingBag``'s own backward does.
    """

    @staticmethod
    def forward(
        ctx: Any,
        weight: torch.Tensor,
        ids: torch.Tensor,
        offsets: torch.Tensor,
        per_sample_weights: torch.Tensor | None,
    ) -> torch.Tensor:
        sorted_ids, order = torch.sort(ids)
        rows, counts = torch.unique_consecutive(sorted_ids, return_counts=True)  # (U,)
        inverse = torch.empty_like(ids)
        inverse[order] = torch.repeat_interleave(torch.arange(len(rows), device=ids.device), counts)
        table = weight.index_select(0, rows)  # (U, D)
        out = F.embedding_bag(
            inverse, table, offsets, mode="sum", per_sample_weights=per_sample_weights
        )
        sizes = torch.diff(offsets, append=torch.tensor([len(ids)], device=ids.device))
        bag = torch.repeat_interleave(torch.arange(len(offsets), device=ids.device), sizes)
        sorted_weights = None if per_sample_weights is None else per_sample_weights[order]
        ctx.save_for_backward(rows, counts, bag[order], sorted_weights)
        ctx.shape = weight.shape
        return out

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[torch.Tensor, None, None, None]:
        rows, counts, bag, sorted_weights = ctx.saved_tensors
        starts = torch.cumsum(counts, 0) - counts
        grad_rows = F.embedding_bag(
            bag, grad_out.contiguous(), starts, mode="sum", per_sample_weights=sorted_weights
        )  # (U, D)
        grad = torch.sparse_coo_tensor(
            rows.unsqueeze(0), grad_rows, ctx.shape, is_coalesced=True, check_invariants=False
        )
        return grad, None, None, None


class UniqueRowsBag(nn.EmbeddingBag):
    """``nn.EmbeddingBag(mode="sum")`` that, when training with ``sparse=True``, looks up
    each distinct row of a batch once and returns a sparse gradient of one row per distinct
    id, in increasing order.

    A text's frequent words and n-grams repeat across a batch (about two thirds of the ids
    of a batch of 256 IMDB reviews are repeats), so the gradient holds each row once and the sparse
    optimizer has no duplicates to sum first (:class:`seqlab.training.optim.SparseAdam`).
    Outside training (or with ``sparse=False``) it is a plain ``nn.EmbeddingBag``.

    >>> bag = UniqueRowsBag(10, 3, mode="sum", sparse=True)
    >>> out = bag(torch.tensor([4, 2, 4]), torch.tensor([0, 2]))
    >>> out.sum().backward()
    >>> bag.weight.grad._indices().tolist()  # rows 2 and 4, once each
    [[2, 4]]
    """

    def forward(
        self,
        input: torch.Tensor,
        offsets: torch.Tensor | None = None,
        per_sample_weights: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if not (
            self.sparse
            and self.mode == "sum"
            and input.dim() == 1
            and offsets is not None
            and self.weight.requires_grad
            and torch.is_grad_enabled()
        ):
            return super().forward(input, offsets, per_sample_weights)
        return _UniqueRowsSum.apply(self.weight, input, offsets, per_sample_weights)


@register("fasttext")
class FastTextClassifier(SequenceClassifier):
    """fastText's supervised model: the mean of the ``embedding_dim``-d vectors of a text's
    words and of its hashed word n-grams, then a linear layer (dropout before it if asked).

    ``ngrams`` are the n-gram orders added to the words (``(2,)``: bigrams, fastText's
    ``-wordNgrams 2``; ``(2, 3)``: bigrams and trigrams; ``()``: words only); each n-gram
    goes to one of ``buckets`` hashed rows (fastText's ``-bucket``; see the module docstring
    for the hash). The table has ``vocab_size + buckets`` rows; row 0 (padding) stays zero,
    and ids 0 inside a text are skipped. An empty text gets the zero vector (its logits are
    the bias). The table starts as fastText draws it, U(-1/dim, 1/dim), or with
    ``init="keras"`` as Keras's ``Embedding`` does, U(-0.05, 0.05); ``init`` draws the
    linear layer as for every model.

    ``sparse=True`` (the default) gives the table sparse gradients of only the rows a batch
    uses (:class:`UniqueRowsBag`); the trainer pairs them with a sparse Adam, which is what
    makes training fast. ``sparse=False`` gives dense gradients (needed for
    ``weight_decay`` or ``optimizer="rmsprop"``), much slower with many buckets.

    :attr:`train_defaults` are the settings ``seqlab.fit`` and ``seqlab classify train`` use
    for this model unless told otherwise: whole texts, no vocabulary limit, one epoch of Adam
    at lr 0.08 decayed linearly to 0, batches of 128. They and ``embedding_dim=20`` were
    chosen on a validation split of the IMDB training reviews
    (``benchmarks/bench_fasttext.py --select``): the cheapest settings as accurate as the
    best one-epoch ones; ``embedding_dim=50`` with two epochs at lr 0.03 in batches of 256
    gains about 0.4 point, for two passes over rows two and a half times as wide.

    For :func:`seqlab.explain.explain`, the input vector of step ``t`` is the word's vector
    plus the vectors of the n-grams that end at ``t``, each divided by the number of
    features of the text; the logits are the head on their sum, so occluding a token removes
    the word and the n-grams it completes.

    >>> m = FastTextClassifier(vocab_size=50, embedding_dim=8, buckets=100, ngrams=(2, 3))
    >>> m.bag.weight.shape
    torch.Size([150, 8])
    >>> x = m(tokens=torch.tensor([[5, 6, 7, 8]]), lengths=torch.tensor([4]))
    >>> torch.allclose(x, m.forward_embedded(*m.embed(tokens=torch.tensor([[5, 6, 7, 8]]))))
    True
    """

    default_embedding_dim = 20
    train_defaults: ClassVar[dict[str, Any]] = {
        "epochs": 1,
        "batch_size": 128,
        "optimizer": "adam",
        "lr": 0.08,
        "schedule": "linear",
        "max_tokens": None,
        "truncate": None,
    }

    def __init__(
        self,
        vocab_size: int,
        num_classes: int = 2,
        embedding_dim: int | None = None,
        ngrams: Sequence[int] = (2,),
        buckets: int = DEFAULT_BUCKETS,
        dropout: float = 0.0,
        sparse: bool = True,
        seed: int | None = 0,
        init: str = DEFAULT_INIT,
        head: str = "softmax",
    ) -> None:
        super().__init__()
        orders = _check_ngrams(ngrams)
        buckets = check_int("buckets", buckets, minimum=1)
        if not isinstance(sparse, bool):
            raise TypeError(f"sparse must be True or False, got {sparse!r}")
        own = {"ngrams": orders, "buckets": buckets, "sparse": sparse}
        options: ClassifierOptions = {
            "vocab_size": vocab_size,
            "num_classes": num_classes,
            "embedding_dim": embedding_dim,
            "seed": seed,
            "init": init,
            "head": head,
        }
        with self._building(dropout, own, options) as add_head:
            vocab_size, dim = self._inputs["vocab_size"], self.feature_size
            self.bag = UniqueRowsBag(vocab_size + buckets, dim, mode="sum", sparse=sparse)
            limit = EMBEDDING_LIMIT if init == "keras" else 1.0 / dim
            with torch.no_grad():
                self.bag.weight.uniform_(-limit, limit)
                self.bag.weight[0].zero_()
            add_head(dim)
        del self.config["freeze"], self.config["input_size"]  # not options of this model
        self.vocab_size, self.ngrams, self.buckets = vocab_size, orders, buckets

    def _init_input(self, options: ClassifierOptions) -> None:
        """What :class:`SequenceClassifier` records for the input side; no ``nn.Embedding``:
        the bag built in the constructor holds the word and n-gram rows."""
        vocab_size = check_int("vocab_size", options["vocab_size"], minimum=1)
        dim = options["embedding_dim"]
        dim = check_int(
            "embedding_dim", self.default_embedding_dim if dim is None else dim, minimum=1
        )
        self.input_size, self.embedding, self.feature_size = None, None, dim
        self._inputs = {
            "vocab_size": vocab_size,
            "embedding_dim": dim,
            "freeze": False,
            "pretrained": False,
        }

    def _kept_weights(self) -> list[nn.Parameter]:
        return [self.bag.weight]  # drawn above, fastText's or Keras's Embedding's way

    # ---- the rows of a batch -------------------------------------------------------------
    def _features(
        self, tokens: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[list[int], list[torch.Tensor], list[torch.Tensor], torch.Tensor]:
        """The orders (1: the words), the table row of every feature of each order
        (``(B, T - n + 1)``; row 0 where the feature is not real), which features are real
        (inside the length, no padding id in them), and each text's real feature count."""
        steps = tokens.shape[1]
        word = length_mask(lengths, steps) & (tokens != 0)  # (B, T)
        orders, rows, real = [1], [torch.where(word, tokens.long(), 0)], [word]
        for n in self.ngrams:
            ok = word[:, : max(steps - n + 1, 0)]
            for j in range(1, n):
                ok = ok & word[:, j : j + ok.shape[1]]
            bucket = self.vocab_size + ngram_buckets(tokens, n, self.buckets)
            orders.append(n)
            rows.append(torch.where(ok, bucket, 0))
            real.append(ok)
        count = torch.stack([r.sum(1) for r in real]).sum(0)  # (B,)
        return orders, rows, real, count

    def _scale(self, count: torch.Tensor) -> torch.Tensor:
        """``1 / count`` (``(B,)``; 1 for a text without features, whose vectors are zero)."""
        return 1.0 / count.clamp(min=1).to(self.bag.weight.dtype)

    def forward_checked(self, data: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        # One bag per text over its words and n-grams, each weighted 1 / count (0 where not
        # real): the mean, with no boolean indexing and one lookup for the whole batch.
        _, rows, real, count = self._features(data, lengths)
        flat = torch.cat(rows, 1)  # (B, W)
        weights = torch.cat(real, 1) * self._scale(count).unsqueeze(1)  # (B, W)
        batch, width = flat.shape
        offsets = torch.arange(batch, device=flat.device) * width
        h = self.bag(flat.reshape(-1), offsets, per_sample_weights=weights.reshape(-1))
        return self._logits(self.dropout(h))  # (B, D) -> (B, num_classes)

    def _vectors(self, data: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Input vectors ``(B, T, D)``: at step ``t`` the word's vector plus those of the
        n-grams ending at ``t``, divided by the text's feature count (see the class
        docstring); their sum is the mean the model reads."""
        orders, rows, real, count = self._features(data, lengths)
        weight = self.bag.weight
        x = torch.zeros(*data.shape, self.feature_size, dtype=weight.dtype, device=data.device)
        for n, ids, ok in zip(orders, rows, real):
            # the n-gram that starts at step s ends at step s + n - 1
            x[:, n - 1 :] += F.embedding(ids, weight) * ok.unsqueeze(-1)
        return x * self._scale(count).view(-1, 1, 1)

    def forward_embedded(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self._logits(self.dropout(x.sum(1)))  # (B, T, D) -> (B, num_classes)


def _check_ngrams(ngrams: Any) -> list[int]:
    """The n-gram orders as a sorted list of distinct ints >= 2 (``()`` allowed)."""
    if isinstance(ngrams, int | np.integer) and not isinstance(ngrams, bool):
        ngrams = [ngrams]
    if isinstance(ngrams, str) or not isinstance(ngrams, Sequence):
        raise ValueError(
            f"ngrams must be a list of n-gram orders >= 2 such as [2] (bigrams) or [2, 3], "
            f"got {ngrams!r}"
        )
    if len(ngrams) == 0:
        return []
    orders = check_int_list("ngrams", list(ngrams), minimum=2)
    if len(set(orders)) != len(orders):
        raise ValueError(f"ngrams has an order twice: {list(ngrams)!r}; give each order once")
    return sorted(orders)
