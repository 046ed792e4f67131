"""PCA projection and the word plot."""

from __future__ import annotations

import numpy as np
import pytest

from seqlab.embeddings import KeyedVectors, pca_2d, plot_words


def test_embeddings_pca_recovers_main_axis():
    rng = np.random.default_rng(0)
    t = rng.standard_normal(50)
    x = np.stack([t * 10, t * 0.1 + rng.standard_normal(50) * 0.01, rng.standard_normal(50)], 1)
    out = pca_2d(x)
    assert out.shape == (50, 2)
    assert abs(np.corrcoef(out[:, 0], t)[0, 1]) > 0.999
    np.testing.assert_allclose(pca_2d(x), out)  # deterministic signs


def test_embeddings_plot_words_writes_png(tmp_path):
    kv = KeyedVectors(["a", "b", "c"], np.eye(3, dtype=np.float32))
    path = plot_words(kv, ["a", "b", "c"], tmp_path / "p.png", title="tiny")
    assert path.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(KeyError, match="'d' is not in the vocabulary"):
        plot_words(kv, ["a", "d"], tmp_path / "q.png")
    with pytest.raises(ValueError, match="at least 2 distinct words"):
        plot_words(kv, ["a", "a"], tmp_path / "q.png")
