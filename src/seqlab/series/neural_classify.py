"""The neural sequence classifier of :mod:`seqlab.series.neural`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from seqlab._utils import PathLike
from seqlab.series._neural_base import NeuralBase, _Checkpoints, _seeded_training
from seqlab.series.data import stratified_split
from seqlab.series.neural_forecast import _stats

__all__ = ["NeuralSequenceClassifier"]


# --------------------------------------------------------------------------------------
# Sequence classification
# --------------------------------------------------------------------------------------


def _as_sequences(sequences: Any, name: str = "sequences") -> list[np.ndarray]:
    if isinstance(sequences, np.ndarray) and sequences.ndim == 3:
        sequences = list(sequences)
    if isinstance(sequences, str | bytes) or not isinstance(sequences, Sequence | np.ndarray):
        raise TypeError(
            f"{name} must be a list of (time, features) arrays, got {type(sequences).__name__}"
        )
    out = []
    for i, s in enumerate(sequences):
        a = np.asarray(s, dtype=np.float64)
        if a.ndim == 1:
            a = a[:, None]
        if a.ndim != 2 or a.shape[0] == 0:
            raise ValueError(
                f"{name}[{i}] must be a non-empty (time, features) array, got shape {a.shape}"
            )
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name}[{i}] contains NaN or infinite values")
        if out and a.shape[1] != out[0].shape[1]:
            raise ValueError(
                f"{name}[{i}] has {a.shape[1]} features but {name}[0] has {out[0].shape[1]}; "
                "every sequence needs the same features"
            )
        out.append(a)
    if not out:
        raise ValueError(f"{name} is empty; give at least one sequence")
    return out


class NeuralSequenceClassifier(NeuralBase):
    """A neural network on variable-length multivariate sequences (sequence-classifier protocol).

    ``fit(sequences, labels)``: each sequence is a ``(T_i, D)`` array; every channel is
    standardised with the mean / std of the training sequences (all their steps); a
    stratified ``val_split`` of the sequences is held out (``val_split=0``: none) and
    training (cross-entropy, Adam) stops when its loss has not improved for ``patience``
    epochs, keeping the best epoch's weights. Batches are zero-padded to their longest
    sequence and the networks ignore the padding (they get the true lengths).
    ``predict`` returns labels from ``classes_`` (the sorted distinct training labels),
    ``predict_proba`` / ``decision_function`` the softmax probabilities ``(N, classes)``.

    ``model``, ``hidden_size``, ``**model_kwargs``, the training arguments and the run folder
    (``save``, ``seqlab.load``, ``fit(..., out=..., resume=...)``) as in
    :class:`NeuralForecaster` (see the module docstring for the training loop).

    >>> rng = np.random.default_rng(0)
    >>> seqs = [rng.normal(size=(int(rng.integers(5, 12)), 2)) + (i % 2) for i in range(60)]
    >>> clf = NeuralSequenceClassifier("lstm", hidden_size=8, epochs=20, seed=0)
    >>> clf.fit(seqs, [i % 2 for i in range(60)]).score(seqs, [i % 2 for i in range(60)]) > 0.9
    True
    """

    task = "series-classify"

    def __init__(
        self,
        model: str = "lstm",
        hidden_size: int = 64,
        epochs: int = 200,
        lr: float = 3e-3,
        batch_size: int = 32,
        seed: int = 0,
        device: str = "auto",
        patience: int = 20,
        val_split: float = 0.2,
        lr_decay: float = 0.5,
        weight_decay: float = 0.0,
        clip_grad_norm: float | None = 1.0,
        **model_kwargs: Any,
    ) -> None:
        super().__init__(locals())
        self.classes_: list[Any] | None = None
        self.channel_mean_: np.ndarray | None = None
        self.channel_scale_: np.ndarray | None = None

    def _batch(self, seqs: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
        """Standardised, zero post-padded ``values (B, T_max, D)`` and ``lengths (B)``."""
        lengths = [len(s) for s in seqs]
        x = np.zeros((len(seqs), max(lengths), seqs[0].shape[1]), dtype=np.float32)
        for i, s in enumerate(seqs):
            x[i, : len(s)] = (s - self.channel_mean_) / self.channel_scale_
        dev = self._device
        return torch.from_numpy(x).to(dev), torch.tensor(lengths, dtype=torch.long, device=dev)

    def fit(
        self,
        sequences: Any,
        labels: Any,
        *,
        out: PathLike | None = None,
        overwrite: bool = False,
        resume: bool = False,
    ) -> NeuralSequenceClassifier:
        """Train on labelled sequences; see the class docstring. ``out``, ``overwrite`` and
        ``resume`` as in :meth:`NeuralForecaster.fit` (a run folder with checkpoints)."""
        seqs = _as_sequences(sequences)
        labels = np.asarray(labels)
        if labels.ndim != 1 or len(labels) != len(seqs):
            raise ValueError(
                f"labels must give one label per sequence ({len(seqs)}), got shape {labels.shape}"
            )
        classes = sorted(set(labels.tolist()))
        if len(classes) < 2:
            raise ValueError(f"labels must hold at least 2 classes, got {classes}")
        y = np.searchsorted(np.array(classes), labels)
        return self._fit_into(
            out,
            overwrite,
            resume,
            [*seqs, y, np.array([str(c) for c in classes])],
            lambda ck: self._fit_arrays(seqs, y, classes, ck),
        )

    def _fit_arrays(
        self,
        seqs: list[np.ndarray],
        y: np.ndarray,
        classes: list[Any],
        checkpoints: _Checkpoints | None,
    ) -> None:
        if self.val_split > 0:
            tr, va = stratified_split(y, self.val_split, self.seed)
        else:
            tr, va = np.arange(len(seqs)), np.zeros(0, dtype=np.int64)
        self.channel_mean_, self.channel_scale_ = _stats(np.concatenate(seqs, axis=0))
        self.classes_ = classes
        dev = self._device
        y_t = torch.as_tensor(y, dtype=torch.long, device=dev)
        val_batches = [
            (*self._batch([seqs[i] for i in chunk]), y_t[torch.as_tensor(chunk, device=dev)])
            for chunk in np.array_split(va, max(1, math.ceil(len(va) / 256)))
            if len(chunk)
        ]
        with _seeded_training(self.seed, dev):
            net = self._build(seqs[0].shape[1], len(classes))

            def batch_loss(idx: torch.Tensor) -> torch.Tensor:
                rows = tr[idx.numpy()]
                x, lengths = self._batch([seqs[i] for i in rows])
                return nn.functional.cross_entropy(net(values=x, lengths=lengths), y_t[rows])

            def val_loss() -> float:
                total = sum(
                    float(nn.functional.cross_entropy(net(values=x, lengths=n), t, reduction="sum"))
                    for x, n, t in val_batches
                )
                return total / len(va)

            checkpoints_at = None if checkpoints is None else (checkpoints, 0, 1)
            self.history_, self.best_epoch_, self.metrics_ = self._train(
                net, len(tr), batch_loss, val_loss if len(va) else None, None, checkpoints_at
            )
        self.network_ = net

    def predict_proba(self, sequences: Any) -> np.ndarray:
        """Class probabilities ``(N, len(classes_))``, columns in the order of ``classes_``."""
        net = self._check_fitted()
        seqs = _as_sequences(sequences)
        if seqs[0].shape[1] != self.channel_mean_.shape[0]:
            raise ValueError(
                f"sequences have {seqs[0].shape[1]} features but the model was fitted on "
                f"{self.channel_mean_.shape[0]}"
            )
        out = []
        with torch.no_grad():
            for start in range(0, len(seqs), 256):
                x, lengths = self._batch(seqs[start : start + 256])
                out.append(torch.softmax(net(values=x, lengths=lengths), dim=1).cpu())
        return torch.cat(out).double().numpy()

    def decision_function(self, sequences: Any) -> np.ndarray:
        """Same as :meth:`predict_proba` (the scores used for model selection)."""
        return self.predict_proba(sequences)

    def predict(self, sequences: Any) -> np.ndarray:
        """The most probable label of each sequence."""
        proba = self.predict_proba(sequences)
        return np.asarray(self.classes_)[proba.argmax(axis=1)]

    def score(self, sequences: Any, labels: Any) -> float:
        """Accuracy of :meth:`predict` against ``labels``."""
        return float(np.mean(self.predict(sequences) == np.asarray(labels)))

    # ---- the run folder (see seqlab.series._neural_io) -----------------------------------

    def _fitted_state(self) -> dict[str, Any]:
        return {
            "classes": list(self.classes_ or []),
            "channel_mean": self.channel_mean_.tolist(),
            "channel_scale": self.channel_scale_.tolist(),
        }

    def _restore(self, fitted: dict[str, Any]) -> list[nn.Module]:
        self.classes_ = list(fitted["classes"])
        self.channel_mean_ = np.asarray(fitted["channel_mean"], dtype=np.float64)
        self.channel_scale_ = np.asarray(fitted["channel_scale"], dtype=np.float64)
        return [self._build(len(self.channel_mean_), len(self.classes_))]
