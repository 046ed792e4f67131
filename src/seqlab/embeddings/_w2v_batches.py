"""How :class:`~seqlab.embeddings.word2vec.Word2Vec` batches a chunk of the corpus: the
subsampled words in blocks of ``block`` centre words, each block's context rows and target
rows (its centre words, then a pool of ``negative_pool`` noise words), the weight of every
score, and the steps of ``step_words`` centre words (see the module docstring of
:mod:`seqlab.embeddings.word2vec`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from seqlab.embeddings._w2v_corpus import Chunk

if TYPE_CHECKING:
    from seqlab.embeddings.word2vec import Word2Vec


@dataclass
class Step:
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
    x_group: Group | None = None  # X rows -> words
    t_group: Group | None = None  # T rows -> words


@dataclass
class Prepared:
    steps: list[Step]
    raw_words: int
    effective_words: int


@dataclass
class Group:
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
) -> list[Group]:
    """The :class:`Group` of every step of a chunk (``per_step`` blocks each), from one sort
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
            Group(
                matrix=matrix,
                unique=sorted_key[starts[g0:g1]] - sorted_key[lo] // vocab * vocab,
                scale=step_scale[:, None] if capped else None,
                row_scale=scale[row_group[lo:hi]] if capped else None,
            )
        )
    return out


def prepare_chunk(chunk: Chunk, rng: np.random.Generator, alpha: float, w2v: Word2Vec) -> Prepared:
    """The steps of one chunk, trained at learning rate ``alpha`` (random draws from ``rng``:
    subsampling, window sizes, noise words, in that order)."""
    B, K, M = w2v.block, w2v.negative, w2v.negative_pool
    ids, sid = chunk.ids, np.repeat(np.arange(len(chunk.lengths)), chunk.lengths)
    if w2v.sample > 0 and ids.size:
        keep = rng.random(ids.size) < w2v.keep_prob_[ids]
        ids, sid = ids[keep], sid[keep]
    xidx, cid, pairs = _blocks(ids, sid, rng, B, w2v.window, w2v.shrink_windows)
    nb = len(cid)
    # M noise words per block; each pair uses all of them, weighted K / M
    negs = np.searchsorted(w2v.cum_table_, rng.random((nb, M)), side="right")
    np.minimum(negs, len(w2v.cum_table_) - 1, out=negs)
    # (block, centre, noise) triples where a noise word is the centre word itself: that
    # pair skips it, as in word2vec (rare, so handled as exceptions)
    clash = np.nonzero(negs[:, None, :] == cid[:, :, None])
    pairs_f = pairs.astype(np.float32)  # (nb, R, B)
    tidx = np.concatenate([cid, negs], axis=1)
    share = np.float32(K / M)
    if w2v.sg:
        weight, x_uses, t_uses = _sg_weights(pairs_f, clash, M, share)
        ctx_mean = None
    else:
        weight, x_uses, t_uses = _cbow_weights(pairs_f, clash, M, share)
        counts = pairs_f.sum(axis=1)  # (nb, B) context words of each centre
        ctx_mean = pairs_f / np.maximum(counts, 1)[:, None, :] if w2v.cbow_mean else pairs_f
    weight *= np.float32(alpha)
    # the label of each score: 1 for a centre word (CBOW: its own centre), 0 for noise
    labels = np.zeros((1, B + M) if w2v.sg else (B, B + M), dtype=np.float32)
    labels[:, :B] = 1.0 if w2v.sg else np.eye(B, dtype=np.float32)
    per_step = max(1, w2v.step_words // B)
    vocab = len(w2v.index_to_key_)
    x_groups = _groupings(xidx, x_uses, per_step, w2v._cap, vocab)
    t_groups = _groupings(tidx, t_uses, per_step, w2v._cap, vocab)
    steps = []
    for k, lo in enumerate(range(0, nb, per_step)):
        part = slice(lo, min(nb, lo + per_step))
        step = Step(
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
    return Prepared(steps=steps, raw_words=chunk.raw_words, effective_words=ids.size)


def _blocks(
    ids: np.ndarray, sid: np.ndarray, rng: np.random.Generator, B: int, W: int, shrink: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The kept words ``ids`` (sentence ids ``sid``) in blocks of ``B`` centre words:
    ``(context row ids (nb, R), centre ids (nb, B), pairs (nb, R, B))`` with ``R = B + 2W``;
    ``pairs[b, r, i]`` is True where row r is in the (shrunk at random) window of centre i."""
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
    if shrink:
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
    return xidx, cid, pairs


def _sg_weights(
    pairs_f: np.ndarray, clash: Any, M: int, share: np.float32
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Skip-gram: ``(weight (nb, R, C), uses of each context row, uses of each target row)``
    before alpha. Score (r, c): a centre column is one pair; a noise column is used by every
    pair of row r (but those whose centre is that noise word)."""
    nb, R, B = pairs_f.shape
    x_uses = pairs_f.sum(axis=2)  # word pairs of each context row
    weight = np.empty((nb, R, B + M), dtype=np.float32)
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
    return weight, x_uses, weight.sum(axis=1)  # word pairs of each target row


def _cbow_weights(
    pairs_f: np.ndarray, clash: Any, M: int, share: np.float32
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CBOW: ``(weight (nb, B, C), uses of each context row, uses of each target row)``
    before alpha; a centre word without any context word is skipped."""
    nb, R, B = pairs_f.shape
    has = (pairs_f.sum(axis=1) > 0).astype(np.float32)  # (nb, B)
    weight = np.zeros((nb, B, B + M), dtype=np.float32)
    diag = np.arange(B)
    weight[:, diag, diag] = has
    weight[:, :, B:] = has[:, :, None] * share
    if clash[0].size:
        blk, centre, noise = clash
        weight[blk, centre, B + noise] = 0.0
    x_uses = pairs_f.sum(axis=2)  # centres whose error each context row takes
    return weight, x_uses, weight.sum(axis=1)  # centres per target row
