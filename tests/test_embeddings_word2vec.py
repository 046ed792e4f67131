"""word2vec: corpus handling, the batched update, determinism, a real-text neighbour."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seqlab.embeddings import Word2Vec
from seqlab.embeddings.word2vec import (
    _np_cbow_step,
    _np_sg_step,
    _torch_cbow_step,
    _torch_sg_step,
    keras_standardize,
)


def _topic_corpus(seed: int = 0, n: int = 400) -> list[list[str]]:
    """Sentences drawn from one of two disjoint topics: words co-occur within a topic only."""
    rng = np.random.default_rng(seed)
    topics = [[f"a{i}" for i in range(8)], [f"b{i}" for i in range(8)]]
    return [list(rng.choice(topics[k % 2], size=12)) for k in range(n)]


def _reference_update(step, syn0, syn1, sg, block, share, alpha=0.1):
    """word2vec's per-pair SGD updates, all computed from the same starting weights; each
    pair meets every noise word of its block, weighted ``share = negative / pool``."""
    s0, s1 = syn0.astype(np.float64), syn1.astype(np.float64)
    d0, d1 = np.zeros_like(s0), np.zeros_like(s1)
    sig = lambda z: 1.0 / (1.0 + np.exp(-z))  # noqa: E731
    x, t = step.xidx, step.tidx
    for b in range(x.shape[0]):
        for i in range(block):
            centre = t[b, i]
            targets = [(centre, 1.0, 1.0)] + [(n, 0.0, share) for n in t[b, block:] if n != centre]
            if sg:
                rows = [r for r in range(x.shape[1]) if step.weight[b, r, i] > 0]
                for r in rows:  # input = the context word
                    err = np.zeros(s0.shape[1])
                    for tgt, label, w in targets:
                        g = (label - sig(s0[x[b, r]] @ s1[tgt])) * alpha * w
                        err += g * s1[tgt]
                        d1[tgt] += g * s0[x[b, r]]
                    d0[x[b, r]] += err
            else:
                rows = [r for r in range(x.shape[1]) if step.ctx[b, r, i] > 0]
                if not rows:
                    continue
                h = np.mean([s0[x[b, r]] for r in rows], axis=0)
                err = np.zeros(s0.shape[1])
                for tgt, label, w in targets:
                    g = (label - sig(h @ s1[tgt])) * alpha * w
                    err += g * s1[tgt]
                    d1[tgt] += g * h
                for r in rows:
                    d0[x[b, r]] += err
    return s0 + d0, s1 + d1


@pytest.mark.parametrize("sg", [True, False])
@pytest.mark.parametrize("backend,pool", [("numpy", 3), ("numpy", 7), ("torch", 7)])
def test_embeddings_word2vec_batched_steps_equal_per_pair_updates(sg, backend, pool):
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(30)]
    corpus = [[words[j] for j in rng.integers(0, 30, rng.integers(2, 25))] for _ in range(30)]
    model = Word2Vec(
        vector_size=6,
        window=3,
        min_count=1,
        sample=0,
        sg=sg,
        block=4,
        negative=3,
        negative_pool=pool,
        step_words=16,
        progress=False,
    )
    model._backend = backend
    model._cap = 1e9  # the reference has no cap on repeated words
    model.build_vocab(corpus)
    prepared = model._prepare(next(model._chunks(model._stream)), np.random.default_rng(1), 0.1)
    assert len(prepared.steps) > 3
    syn0 = rng.standard_normal((len(words), 6)).astype(np.float32)
    syn1 = rng.standard_normal((len(words), 6)).astype(np.float32)
    for step in prepared.steps:
        want0, want1 = _reference_update(step, syn0, syn1, sg, block=4, share=3 / pool)
        if backend == "numpy":
            (_np_sg_step if sg else _np_cbow_step)(step, syn0, syn1)
        else:
            t0, t1 = torch.from_numpy(syn0), torch.from_numpy(syn1)
            (_torch_sg_step if sg else _torch_cbow_step)(step, t0, t1, torch.device("cpu"))
        np.testing.assert_allclose(syn0, want0, atol=2e-5)
        np.testing.assert_allclose(syn1, want1, atol=2e-5)


def test_embeddings_word2vec_caps_updates_of_very_repeated_words():
    corpus = [["the"] * 30 + ["cat", "sat"] for _ in range(20)]
    model = Word2Vec(
        vector_size=4, window=3, min_count=1, sample=0, step_words=4096, progress=False
    )
    model._backend = "numpy"
    model.build_vocab(corpus)
    step = model._prepare(next(model._chunks(model._stream)), np.random.default_rng(0), 0.1).steps[
        0
    ]
    group = step.x_group
    the = int(np.flatnonzero(group.unique == model.key_to_index_["the"])[0])
    assert group.scale is not None and group.scale[the, 0] < 0.2
    assert group.scale.max() == 1.0  # rarer words keep their full update


@pytest.mark.parametrize("sg", [True, False])
def test_embeddings_word2vec_learns_topics(sg):
    model = Word2Vec(
        vector_size=16, window=3, min_count=1, sample=0, epochs=5, sg=sg, seed=1, progress=False
    ).fit(_topic_corpus())
    for word in ("a0", "b3"):
        neighbours = [w for w, _ in model.wv.most_similar(word, topn=5)]
        assert all(w[0] == word[0] for w in neighbours), (word, neighbours)


def test_embeddings_word2vec_same_seed_same_vectors():
    corpus = _topic_corpus()
    runs = [
        Word2Vec(vector_size=8, min_count=1, epochs=2, seed=s, progress=False).fit(corpus)
        for s in (7, 7, 8)
    ]
    np.testing.assert_array_equal(runs[0].wv.vectors, runs[1].wv.vectors)
    assert not np.array_equal(runs[0].wv.vectors, runs[2].wv.vectors)


def test_embeddings_word2vec_streaming_equals_in_memory(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(" ".join(s) for s in _topic_corpus()) + "\n")
    kw = dict(vector_size=8, min_count=1, epochs=3, seed=3, batch_words=1000, progress=False)
    streamed = Word2Vec(keep_in_memory=False, **kw).fit(path)
    cached = Word2Vec(keep_in_memory=True, **kw).fit(str(path))
    listed = Word2Vec(**kw).fit(_topic_corpus())
    np.testing.assert_array_equal(streamed.wv.vectors, cached.wv.vectors)
    np.testing.assert_array_equal(streamed.wv.vectors, listed.wv.vectors)
    assert streamed.corpus_words_ == 400 * 12


def test_embeddings_word2vec_refuses_one_shot_generator():
    corpus = _topic_corpus()
    with pytest.raises(TypeError, match="one-shot iterator"):
        Word2Vec(min_count=1, progress=False).fit(s for s in corpus)
    with pytest.raises(TypeError, match="one-shot iterator"):
        Word2Vec(min_count=1, progress=False).fit(iter(corpus))

    class Restartable:
        def __iter__(self):
            return iter(corpus)

    model = Word2Vec(vector_size=4, min_count=1, epochs=1, progress=False).fit(Restartable())
    assert len(model.wv) == 16


def test_embeddings_word2vec_vocabulary_and_strings(tmp_path):
    docs = ["The cat sat.", "the CAT ran!", "a dog<br />sat"]
    model = Word2Vec(vector_size=4, min_count=2, epochs=1, standardize="keras", progress=False)
    model.fit(docs)
    assert model.wv.index_to_key == ["the", "cat", "sat"]  # by count, ties by first sight
    assert model.wv.counts.tolist() == [2, 2, 2]
    assert model.corpus_words_ == 9
    assert keras_standardize("Don't<br />stop.") == ["dont", "stop"]
    plain = Word2Vec(vector_size=4, min_count=1, epochs=1, progress=False).build_vocab(docs)
    assert "cat" in plain.index_to_key_ and "sat." in plain.index_to_key_


def test_embeddings_word2vec_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="no word occurs min_count=50"):
        Word2Vec(min_count=50, progress=False).fit(_topic_corpus(n=4))
    with pytest.raises(FileNotFoundError, match="is not a file"):
        Word2Vec(progress=False).fit(tmp_path / "missing.txt")
    with pytest.raises(ValueError, match="window must be an int >= 1, got 0"):
        Word2Vec(window=0)
    with pytest.raises(ValueError, match="sample must be in"):
        Word2Vec(sample=2.0)
    with pytest.raises(ValueError, match="negative_pool must be an int >= negative=5, got 3"):
        Word2Vec(negative_pool=3)
    with pytest.raises(TypeError, match="must be a str"):
        Word2Vec(min_count=1, progress=False).fit([["a"], 3])


def test_embeddings_word2vec_known_neighbour_on_real_text(shared_data):
    """Skip-gram on tiny-shakespeare (200k words, a few seconds): kin terms cluster, and
    'thou' sits next to the verb forms that go with it."""
    path = shared_data / "text" / "tinyshakespeare.txt"
    model = Word2Vec(
        vector_size=50, window=5, min_count=5, epochs=5, seed=0, standardize="keras", progress=False
    ).fit(path)
    assert model.corpus_words_ > 150_000
    father = {w for w, _ in model.wv.most_similar("father", topn=10)}
    assert father & {"mother", "son", "brother"}, father
    thou = {w for w, _ in model.wv.most_similar("thou", topn=10)}
    assert len(thou & {"art", "dost", "hast", "wilt", "shalt", "canst"}) >= 2, thou


def test_embeddings_word2vec_dim_is_a_deprecated_alias_of_vector_size():
    corpus = [["the", "cat", "sat"], ["the", "dog", "sat"]] * 20
    with pytest.warns(DeprecationWarning, match=r"use vector_size=6"):
        model = Word2Vec(dim=6, min_count=1, epochs=1, progress=False)
    assert model.vector_size == 6
    assert model.fit(corpus).wv.vector_size == 6
    with pytest.warns(DeprecationWarning, match="Word2Vec.vector_size"):
        assert model.dim == 6
    with pytest.warns(DeprecationWarning), pytest.raises(ValueError, match="disagree"):
        Word2Vec(vector_size=8, dim=6)
    with pytest.raises(ValueError, match="vector_size must be an int >= 1, got 0"):
        Word2Vec(vector_size=0)
