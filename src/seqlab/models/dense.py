"""Bag-of-words classifiers: a dense network on sparse document vectors.

The first layer is an ``nn.EmbeddingBag(mode="sum")`` fed with the non-zero entries of each
document's bag vector (``per_sample_weights`` = the values), which computes ``x @ W`` for a
sparse ``x`` without ever building the dense ``(B, vocab_size)`` matrix.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import nn

from seqlab.defaults import DEFAULT_INIT
from seqlab.models.heads import check_head, output_units, two_class_logits
from seqlab.models.initializers import check_init, keras_init
from seqlab.models.registry import register

__all__ = ["BagOfWordsMLP", "nb_log_count_ratio"]


def nb_log_count_ratio(X: sp.spmatrix, y: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """Naive Bayes log-count ratios of Wang & Manning (2012), on binarized features.

    For a binary task (labels 0 and 1), with ``f_i = 1{x_i > 0}``::

        p = alpha + sum_{i: y_i = 1} f_i        q = alpha + sum_{i: y_i = 0} f_i
        r = log( (p / ||p||_1) / (q / ||q||_1) )

    and the result has shape ``(vocab_size,)``. With more than two classes the ratios are
    one-vs-rest: row ``c`` uses class ``c`` as ``p`` and all other classes as ``q``, and the
    result has shape ``(num_classes, vocab_size)``.

    >>> X = sp.csr_matrix(np.array([[1, 0], [1, 1], [0, 2]], np.float32))
    >>> [round(float(v), 3) for v in nb_log_count_ratio(X, np.array([1, 1, 0]))]
    [0.588, -0.511]
    """
    if alpha <= 0:
        raise ValueError(f"nb_alpha must be > 0 (it keeps the ratios finite), got {alpha}")
    y = np.asarray(y, dtype=np.int64)
    if X.shape[0] != len(y):
        raise ValueError(f"X has {X.shape[0]} rows but y has {len(y)} labels")
    classes = np.unique(y)
    if len(classes) < 2:
        raise ValueError(
            f"NB log-count ratios need documents of at least two classes, got only class(es) "
            f"{classes.tolist()}; check the labels of the training set"
        )
    binary = sp.csr_matrix(X, dtype=np.float64, copy=True)
    binary.data = (binary.data > 0).astype(np.float64)
    # (num_classes, vocab_size): how many documents of each class contain each feature
    counts = np.vstack(
        [np.asarray(binary[y == c].sum(axis=0)).ravel() for c in range(int(y.max()) + 1)]
    )
    total = counts.sum(axis=0)

    def ratio(pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
        p = alpha + pos
        q = alpha + neg
        return np.log((p / p.sum()) / (q / q.sum()))

    if counts.shape[0] <= 2:
        return ratio(counts[1], counts[0]).astype(np.float32)
    return np.vstack([ratio(counts[c], total - counts[c]) for c in range(len(counts))]).astype(
        np.float32
    )


@register("bow-mlp")
class BagOfWordsMLP(nn.Module):
    """A dense network on bag-of-words vectors; logistic regression when ``hidden_sizes=()``.

    Input: any bag mode of :class:`seqlab.text.TextVectorizer` (``multi_hot``, ``count``,
    ``freq``, ``tf_idf``) as ``nn.EmbeddingBag`` batches (see
    :func:`seqlab.data.batching.bag_batch`). Each hidden layer is ``Linear -> ReLU ->
    Dropout(dropout)``; the first layer is the embedding bag itself.

    ``nb_scaling=True`` gives NBSVM-style features (Wang & Manning 2012): each feature is
    multiplied by its Naive Bayes log-count ratio ``r`` (see :func:`nb_log_count_ratio`),
    computed by :meth:`prepare` on the training split (the trainer calls it) and kept in the
    buffer ``nb_ratio`` so that it is saved with the weights. With ``output_mode="multi_hot"``
    and no hidden layer this is exactly logistic regression on ``r * 1{x > 0}``. With more
    than two classes the ratios are one-vs-rest and class ``c``'s weights see the features
    scaled by ``r_c``; that needs ``hidden_sizes=()`` (a shared hidden layer cannot see
    several scalings at once). Until :meth:`prepare` runs, the ratios are 1 (no scaling).

    ``sparse=True`` makes the embedding bag produce sparse gradients: a large speed-up for a
    wide first layer on a big vocabulary (measured 12x with 500k features and 64 units); the
    trainer then pairs it with ``torch.optim.SparseAdam`` (``optimizer="adam"``) or SGD, and
    refuses ``weight_decay`` for that layer.

    ``init="keras"`` draws the hidden layers Glorot-uniform with zero biases as well (the
    first layer always is); ``head="sigmoid"`` gives two classes one output unit (see
    :mod:`seqlab.models.heads`).

    >>> model = BagOfWordsMLP(vocab_size=10, num_classes=2, hidden_sizes=(4,))
    >>> batch = {"indices": torch.tensor([2, 5, 3]), "offsets": torch.tensor([0, 2]),
    ...          "weights": torch.tensor([1.0, 1.0, 2.0])}
    >>> model(**batch).shape
    torch.Size([2, 2])
    """

    input_kind = "bag"

    def __init__(
        self,
        vocab_size: int,
        num_classes: int = 2,
        hidden_sizes: Sequence[int] = (),
        dropout: float = 0.0,
        nb_scaling: bool = False,
        nb_alpha: float = 1.0,
        sparse: bool = False,
        init: str = DEFAULT_INIT,
        head: str = "softmax",
    ) -> None:
        super().__init__()
        hidden_sizes = [hidden_sizes] if isinstance(hidden_sizes, int) else list(hidden_sizes)
        _check_int("vocab_size", vocab_size, 1)
        _check_int("num_classes", num_classes, 2)
        for h in hidden_sizes:
            _check_int("hidden_sizes", h, 1)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if dropout > 0 and not hidden_sizes:
            raise ValueError(
                f"dropout={dropout} has no effect without hidden layers (it is applied after "
                "each hidden layer); pass hidden_sizes=(64,) or dropout=0"
            )
        if nb_alpha <= 0:
            raise ValueError(f"nb_alpha must be > 0, got {nb_alpha}")
        init, head = check_init(init), check_head(head, num_classes)
        if nb_scaling and num_classes > 2 and hidden_sizes:
            raise ValueError(
                f"nb_scaling with num_classes={num_classes} uses one-vs-rest ratios, one per "
                f"class, which only a linear model can apply; pass hidden_sizes=() (got "
                f"{tuple(hidden_sizes)}) or nb_scaling=False"
            )
        self.config = {
            "vocab_size": int(vocab_size),
            "num_classes": int(num_classes),
            "hidden_sizes": [int(h) for h in hidden_sizes],
            "dropout": float(dropout),
            "nb_scaling": bool(nb_scaling),
            "nb_alpha": float(nb_alpha),
            "sparse": bool(sparse),
            "init": init,
            "head": head,
        }
        units = output_units(head, num_classes)
        first = hidden_sizes[0] if hidden_sizes else units
        self.embedding = nn.EmbeddingBag(vocab_size, first, mode="sum", sparse=sparse)
        self.bias = nn.Parameter(torch.zeros(first))
        layers: list[nn.Module] = []
        sizes = [*hidden_sizes, units]
        for i in range(len(hidden_sizes)):
            layers += [nn.ReLU(), nn.Dropout(dropout), nn.Linear(sizes[i], sizes[i + 1])]
        self.head = nn.Sequential(*layers)
        # Glorot-uniform (the Keras Dense default): N(0, 1), the EmbeddingBag default, would
        # give logits in the hundreds for documents with hundreds of features.
        limit = math.sqrt(6.0 / (vocab_size + first))
        nn.init.uniform_(self.embedding.weight, -limit, limit)
        if init == "keras":
            keras_init(self)  # the hidden layers too; zero biases
        self._sigmoid = head == "sigmoid"
        ratio_shape = (num_classes, vocab_size) if num_classes > 2 else (vocab_size,)
        self.register_buffer("nb_ratio", torch.ones(ratio_shape) if nb_scaling else None)

    def prepare(self, X_train: sp.spmatrix, y_train: np.ndarray) -> None:
        """Compute the NB log-count ratios from the training split (no-op without nb_scaling)."""
        if not self.config["nb_scaling"]:
            return
        if X_train.shape[1] != self.config["vocab_size"]:
            raise ValueError(
                f"X_train has {X_train.shape[1]} columns but the model has vocab_size="
                f"{self.config['vocab_size']}; build the model with the vectorizer's vocab_size"
            )
        ratio = nb_log_count_ratio(X_train, y_train, alpha=self.config["nb_alpha"])
        if ratio.ndim == 2 and ratio.shape[0] != self.config["num_classes"]:
            # labels never reach the last classes: pad with zero ratios (feature unused)
            full = np.zeros((self.config["num_classes"], ratio.shape[1]), np.float32)
            full[: ratio.shape[0]] = ratio
            ratio = full
        self.nb_ratio.copy_(torch.from_numpy(ratio).to(self.nb_ratio.device))

    def forward(
        self, indices: torch.Tensor, offsets: torch.Tensor, weights: torch.Tensor
    ) -> torch.Tensor:
        """Logits ``(B, num_classes)`` for a batch of bags (``nn.EmbeddingBag`` format)."""
        ratio = self.nb_ratio
        if ratio is not None and ratio.ndim == 2:
            # One-vs-rest NB: logit_c = sum_j x_j r_cj W_jc, i.e. a per-class scaled weight.
            h = F.embedding_bag(
                indices,
                self.embedding.weight * ratio.t(),
                offsets,
                mode="sum",
                per_sample_weights=weights,
            )
        else:
            if ratio is not None:
                weights = weights * ratio[indices]  # (nnz,) NBSVM feature scaling
            h = self.embedding(indices, offsets, per_sample_weights=weights)  # (B, first)
        z = self.head(h + self.bias)  # (B, num_classes), or (B, 1) with a sigmoid head
        return two_class_logits(z) if self._sigmoid else z


def _check_int(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
