"""Sequence classification with a reservoir: a ridge readout on a summary of each sequence's
states, and :func:`embed_tokens` to feed it text."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Unpack

import numpy as np

from seqlab._checks import check_choice
from seqlab._utils import PathLike
from seqlab.models.esn._inputs import as_batch, valid_rows
from seqlab.models.esn._io import load_model, save_model
from seqlab.models.esn._model import ReservoirModel
from seqlab.models.esn._names import accepts_old_names
from seqlab.models.esn.linalg import ridge_solve
from seqlab.models.esn.reservoir import RESERVOIR_DEFAULTS, ReservoirOptions

__all__ = ["ESNClassifier", "embed_tokens"]

# fitted arrays saved next to the matrices
_FITTED_ARRAYS = ("input_mean_", "input_std_")

_STATE_SUMMARIES = ("last", "mean", "mean+last", "concat")


class ESNClassifier(ReservoirModel):
    """Sequence classifier: a reservoir summarises each sequence, a ridge readout classifies.

    The states of every sequence (run from a zero state, respecting its length) are reduced
    to one feature vector by ``readout_state``:

    * ``"last"``: the state after the last step; ``"mean"``: the mean state over the steps;
    * ``"mean+last"``: both, concatenated;
    * ``"concat"``: the states at ``n_points`` evenly spaced steps, concatenated.

    ``bidirectional=True`` also runs the same reservoir over each sequence reversed and
    concatenates both summaries. ``scale_inputs=True`` standardises every input feature with
    the mean / std of the training data first. The readout is ridge regression on one-hot
    targets; the predicted class is the largest score. Labels may be ints or strings
    (``classes_`` holds them, sorted).

    The reservoir's other arguments (:class:`~seqlab.models.esn.reservoir.ReservoirOptions`)
    are keywords, with defaults of their own here (:attr:`reservoir_defaults`):
    ``leak_rate=0.3``, ``input_scaling=0.5``, ``bias_scaling=0.1``,
    ``input_connectivity=0.5``; the others as :class:`~seqlab.models.esn.Reservoir`'s.

    Works on numeric sequences and on text once tokens are mapped to vectors
    (see :func:`embed_tokens`): ``fit(x, labels, lengths=...)`` with x (B, T, D).

    >>> rng = np.random.default_rng(0)
    >>> seqs = [rng.normal(size=(int(rng.integers(5, 15)), 2)) + (i % 2) for i in range(40)]
    >>> labels = [i % 2 for i in range(40)]
    >>> clf = ESNClassifier(units=50, seed=0).fit(seqs, labels)
    >>> clf.score(seqs, labels) > 0.9
    True
    """

    #: The reservoir's defaults for classification (see the class docstring).
    reservoir_defaults: ClassVar[ReservoirOptions] = {
        **RESERVOIR_DEFAULTS,
        "leak_rate": 0.3,
        "input_scaling": 0.5,
        "bias_scaling": 0.1,
        "input_connectivity": 0.5,
    }

    @accepts_old_names
    def __init__(
        self,
        units: int = 500,
        spectral_radius: float = 0.9,
        *,
        ridge: float = 0.1,
        readout_state: str = "mean+last",
        n_points: int = 5,
        bidirectional: bool = False,
        scale_inputs: bool = True,
        **reservoir: Unpack[ReservoirOptions],
    ) -> None:
        check_choice("readout_state", readout_state, _STATE_SUMMARIES)
        if n_points < 1:
            raise ValueError(f"n_points must be >= 1, got {n_points}")
        if ridge < 0:
            raise ValueError(f"ridge must be >= 0, got {ridge}")
        self.ridge = float(ridge)
        self.readout_state = readout_state
        self.n_points = int(n_points)
        self.bidirectional = bool(bidirectional)
        self.scale_inputs = bool(scale_inputs)
        self._init_reservoir(
            units,
            spectral_radius,
            reservoir,
            {
                "ridge": self.ridge,
                "readout_state": readout_state,
                "n_points": self.n_points,
                "bidirectional": self.bidirectional,
                "scale_inputs": self.scale_inputs,
            },
        )
        self.W_out: np.ndarray | None = None
        self.classes_: list | None = None
        self.input_mean_: np.ndarray | None = None
        self.input_std_: np.ndarray | None = None

    def _summary(self, states: np.ndarray, lens: np.ndarray) -> np.ndarray:
        b = states.shape[0]
        rows = np.arange(b)
        last = states[rows, lens - 1]
        if self.readout_state == "last":
            return last
        mask = (np.arange(states.shape[1])[None, :] < lens[:, None])[..., None]
        mean = (states * mask).sum(axis=1) / lens[:, None]
        if self.readout_state == "mean":
            return mean
        if self.readout_state == "mean+last":
            return np.concatenate([mean, last], axis=1)
        # evenly spaced steps 0 .. len-1 of each sequence
        pos = np.rint(np.linspace(0.0, 1.0, self.n_points)[None, :] * (lens[:, None] - 1))
        picked = states[rows[:, None], pos.astype(np.int64)]  # (B, n_points, N)
        return picked.reshape(b, -1)

    def features(self, x: Any, lengths: Any = None) -> np.ndarray:
        """One feature vector per sequence: (B, F), without the bias column.

        >>> clf = ESNClassifier(units=10, readout_state="mean+last", scale_inputs=False)
        >>> clf.features([np.ones((4, 3))]).shape
        (1, 20)
        """
        u, lens, _ = as_batch(x, lengths, "x", self.reservoir.input_dim)
        if self.input_mean_ is not None:
            u = (u - self.input_mean_) / self.input_std_
        if not self.reservoir.built:
            self.reservoir.build(u.shape[2])
        states, _ = self.reservoir.run_batch(u, lens)
        feats = [self._summary(states, lens)]
        if self.bidirectional:
            # reverse each sequence inside its own length, so padding stays at the end
            idx = lens[:, None] - 1 - np.arange(u.shape[1])[None, :]
            idx = np.where(idx >= 0, idx, 0)
            rev = u[np.arange(u.shape[0])[:, None], idx]
            rstates, _ = self.reservoir.run_batch(rev, lens)
            feats.append(self._summary(rstates, lens))
        return np.concatenate(feats, axis=1)

    def fit(self, x: Any, labels: Any, lengths: Any = None) -> ESNClassifier:
        """Fit the ridge readout on the summarised states of the training sequences."""
        labels = list(np.asarray(labels).tolist()) if not isinstance(labels, list) else labels
        u, lens, _ = as_batch(x, lengths, "x", None)
        if len(labels) != u.shape[0]:
            raise ValueError(
                f"got {len(labels)} labels for {u.shape[0]} sequences; give one label per sequence"
            )
        self.classes_ = sorted(set(labels))
        if len(self.classes_) < 2:
            raise ValueError(f"need at least 2 classes to classify, got {self.classes_}")
        if self.scale_inputs:
            valid = valid_rows(u, lens, 0)
            self.input_mean_ = valid.mean(axis=0)
            std = valid.std(axis=0)
            self.input_std_ = np.where(std > 0, std, 1.0)
        else:
            self.input_mean_ = self.input_std_ = None
        feats = self.features(u, lens)
        index = {c: i for i, c in enumerate(self.classes_)}
        onehot = np.zeros((len(labels), len(self.classes_)))
        onehot[np.arange(len(labels)), [index[v] for v in labels]] = 1.0
        phi = np.concatenate([np.ones((feats.shape[0], 1)), feats], axis=1)
        self.W_out = ridge_solve(phi, onehot, self.ridge)
        return self

    def decision_function(self, x: Any, lengths: Any = None) -> np.ndarray:
        """Readout scores (B, n_classes); columns follow ``classes_``."""
        if self.W_out is None:
            raise ValueError("this ESNClassifier is not fitted yet; call fit(x, labels) first")
        feats = self.features(x, lengths)
        return feats @ self.W_out[:, 1:].T + self.W_out[:, 0]

    def predict(self, x: Any, lengths: Any = None) -> np.ndarray:
        """Predicted labels (B,), taken from ``classes_``."""
        scores = self.decision_function(x, lengths)
        return np.asarray(self.classes_)[scores.argmax(axis=1)]

    def score(self, x: Any, labels: Any, lengths: Any = None) -> float:
        """Accuracy on ``(x, labels)``."""
        pred = self.predict(x, lengths)
        return float(np.mean(pred == np.asarray(labels)))

    def save(self, path: PathLike) -> Path:
        """Write ``config.json`` (with ``classes_``) and ``model.safetensors`` to ``path``."""
        if self.W_out is None:
            raise ValueError("this ESNClassifier is not fitted yet; call fit(x, labels) first")
        return save_model(self, path, {"classes": self.classes_}, _FITTED_ARRAYS)

    @classmethod
    def load(cls, path: PathLike) -> ESNClassifier:
        """Rebuild a classifier written by :meth:`save`."""
        model, meta = load_model(cls, path, _FITTED_ARRAYS)
        model.classes_ = meta["classes"]
        return model


def embed_tokens(tokens: Any, embedding: Any, lengths: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Map token-id sequences through an embedding matrix: -> (x (B, T, D), lengths (B,)).

    ``tokens`` is a list of 1-D id arrays (ragged) or a (B, T) array post-padded with 0
    (seqlab's convention: id 0 is padding); without ``lengths`` the length of a padded row
    runs up to its last non-zero id. ``embedding`` is a (vocab_size, D) array (e.g. GloVe
    rows aligned with a :class:`seqlab.text.Vocabulary`). Padded steps are zero vectors.
    The result feeds :class:`ESNClassifier` (``fit(x, labels, lengths=lengths)``).

    >>> emb = np.arange(12, dtype=float).reshape(6, 2)
    >>> x, lens = embed_tokens([[2, 3, 4], [5]], emb)
    >>> x.shape, lens.tolist(), x[1, 0].tolist()
    ((2, 3, 2), [3, 1], [10.0, 11.0])
    """
    emb = np.asarray(embedding, dtype=np.float64)
    if emb.ndim != 2:
        raise ValueError(f"embedding must be a (vocab_size, dim) matrix, got shape {emb.shape}")
    if isinstance(tokens, list | tuple):
        seqs = [np.asarray(s, dtype=np.int64).reshape(-1) for s in tokens]
        if lengths is not None:
            raise ValueError("lengths is only used with a padded (B, T) token array, not a list")
        lens = np.array([len(s) for s in seqs], dtype=np.int64)
        padded = np.zeros((len(seqs), max(1, int(lens.max(initial=0)))), dtype=np.int64)
        for i, s in enumerate(seqs):
            padded[i, : len(s)] = s
    else:
        padded = np.asarray(tokens, dtype=np.int64)
        if padded.ndim != 2:
            raise ValueError(
                f"tokens must be a (batch, time) id array or a list, got shape {padded.shape}"
            )
        if lengths is None:
            nonzero = padded != 0
            lens = np.where(
                nonzero.any(axis=1), padded.shape[1] - np.argmax(nonzero[:, ::-1], axis=1), 0
            ).astype(np.int64)
        else:
            lens = np.asarray(lengths, dtype=np.int64).reshape(-1)
    if padded.size and (padded.min() < 0 or padded.max() >= emb.shape[0]):
        raise ValueError(
            f"token ids must lie in [0, {emb.shape[0] - 1}] (the embedding has {emb.shape[0]} "
            f"rows); got ids from {padded.min()} to {padded.max()}"
        )
    if np.any(lens < 1):
        empty = int(np.flatnonzero(lens < 1)[0])
        raise ValueError(
            f"sequence {empty} has no tokens; drop empty documents or give them an OOV token"
        )
    x = emb[padded]
    x[np.arange(padded.shape[1])[None, :] >= lens[:, None]] = 0.0
    return x, lens
