"""BagOfWordsMLP ("bow-mlp") and the NB log-count ratios."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from seqlab.data.batching import bag_batch
from seqlab.models import build
from seqlab.models.dense import BagOfWordsMLP, nb_log_count_ratio


def _batch(dense: np.ndarray) -> dict:
    return bag_batch(sp.csr_matrix(dense.astype(np.float32)))


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"num_classes": 3},
        {"hidden_sizes": (8,), "dropout": 0.5},
        {"hidden_sizes": (8, 4), "num_classes": 5},
        {"nb_scaling": True},
        {"nb_scaling": True, "num_classes": 4},
        {"nb_scaling": True, "hidden_sizes": (6,), "sparse": True},
    ],
)
def test_models_dense_output_shape(kwargs):
    model = build("bow-mlp", vocab_size=12, **kwargs)
    x = np.zeros((3, 12))
    x[0, [2, 5]] = 1
    x[2, 7] = 3
    out = model(**_batch(x))
    assert out.shape == (3, kwargs.get("num_classes", 2))
    assert model.input_kind == "bag"
    assert model.config["vocab_size"] == 12


def test_models_dense_linear_equals_logistic_regression():
    model = BagOfWordsMLP(vocab_size=6, num_classes=2)
    x = np.array([[0, 0, 1, 2, 0, 0], [0, 0, 0, 0, 0, 4]], dtype=np.float32)
    expected = torch.from_numpy(x) @ model.embedding.weight + model.bias
    torch.testing.assert_close(model(**_batch(x)), expected)


def test_models_dense_nb_ratio_matches_hand_computation():
    # 4 documents, 3 features; feature values are binarized before counting
    x = np.array([[2, 0, 1], [1, 1, 0], [0, 1, 0], [0, 3, 1]], dtype=np.float32)
    y = np.array([1, 1, 0, 0])
    # positives contain f0 twice, f1 once, f2 once; negatives f0 0, f1 twice, f2 once
    p = np.array([1 + 2, 1 + 1, 1 + 1]) / 7.0
    q = np.array([1 + 0, 1 + 2, 1 + 1]) / 6.0
    expected = np.log(p / q)
    np.testing.assert_allclose(nb_log_count_ratio(sp.csr_matrix(x), y), expected, rtol=1e-6)

    model = BagOfWordsMLP(vocab_size=3, nb_scaling=True)
    model.prepare(sp.csr_matrix(x), y)
    np.testing.assert_allclose(model.nb_ratio.numpy(), expected, rtol=1e-6)
    # the features reach the linear layer scaled by r
    out = model(**_batch(x))
    scaled = torch.from_numpy(x * expected.astype(np.float32))
    torch.testing.assert_close(out, scaled @ model.embedding.weight + model.bias)
    assert "nb_ratio" in model.state_dict()


def test_models_dense_nb_ratio_one_vs_rest_for_three_classes():
    x = sp.csr_matrix(np.array([[1, 0], [0, 1], [1, 1]], dtype=np.float32))
    y = np.array([0, 1, 2])
    r = nb_log_count_ratio(x, y, alpha=1.0)
    assert r.shape == (3, 2)
    # class 0 vs rest: p = 1 + [1, 0], q = 1 + [1, 2]
    p, q = np.array([2.0, 1.0]), np.array([2.0, 3.0])
    np.testing.assert_allclose(r[0], np.log((p / p.sum()) / (q / q.sum())), rtol=1e-6)
    model = BagOfWordsMLP(vocab_size=2, num_classes=3, nb_scaling=True)
    model.prepare(x, y)
    dense = torch.from_numpy(x.toarray())
    expected = dense @ (model.embedding.weight * model.nb_ratio.t()) + model.bias
    torch.testing.assert_close(model(**bag_batch(x)), expected)


def test_models_dense_errors_name_the_fix():
    with pytest.raises(ValueError, match="two classes"):
        nb_log_count_ratio(sp.csr_matrix(np.ones((2, 2))), np.array([1, 1]))
    with pytest.raises(ValueError, match="hidden_sizes=\\(\\)"):
        BagOfWordsMLP(10, num_classes=3, nb_scaling=True, hidden_sizes=(4,))
    with pytest.raises(ValueError, match="dropout=0.5 has no effect"):
        BagOfWordsMLP(10, dropout=0.5)
    with pytest.raises(ValueError, match="vocab_size must be >= 1, got 0"):
        BagOfWordsMLP(0)
    with pytest.raises(ValueError, match="vocab_size=5"):
        BagOfWordsMLP(5, nb_scaling=True).prepare(sp.csr_matrix(np.ones((2, 7))), np.array([0, 1]))


def test_models_dense_same_seed_same_weights():
    def make():
        torch.manual_seed(7)
        return BagOfWordsMLP(50, hidden_sizes=(8,))

    a, b = make(), make()
    for (k, v), w in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(v, w), k


@pytest.mark.parametrize("kwargs", [{}, {"hidden_sizes": (16,)}, {"nb_scaling": True}])
def test_models_dense_overfits_tiny_dataset(kwargs):
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    x = sp.csr_matrix((rng.random((16, 30)) < 0.2).astype(np.float32))
    y = rng.integers(0, 2, 16)
    y[:2] = [0, 1]
    model = BagOfWordsMLP(30, **kwargs)
    model.prepare(x, y)
    opt = torch.optim.Adam(model.parameters(), lr=0.2)
    batch, target = bag_batch(x), torch.from_numpy(y)
    for _ in range(60):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(**batch), target)
        loss.backward()
        opt.step()
    assert (model(**batch).argmax(1) == target).all()
    assert loss.item() < 0.05


def test_models_dense_sparse_gradients():
    model = BagOfWordsMLP(40, hidden_sizes=(4,), sparse=True)
    x = np.zeros((2, 40))
    x[0, 3] = x[1, 9] = 1
    model(**_batch(x)).sum().backward()
    assert model.embedding.weight.grad.is_sparse
