"""The classification task of the training loop (:mod:`seqlab.training.loop`).

A :class:`ClassificationTask` holds encoded training inputs (a CSR matrix for bag models, a
list of token-id arrays for sequence models) or a :class:`~seqlab.data.streaming.TextStream`,
and answers the loop's questions: the batches of an epoch (seeded by ``(seed, epoch)``, in
length buckets for sequence models), the cross-entropy loss of a batch, the training metrics
from summed counts (``loss``, ``accuracy``, ``f1_macro`` with more than two classes) and the
validation metrics.

Data parallel: rank ``r`` of ``W`` takes rows ``r::W`` of every global batch, with loss
weights that make DDP's mean over the ranks the mean over the global batch; validation is
split over the ranks and its sums all-reduced. Streaming: each epoch reads the file again in
its seeded window-shuffled order, sharded by rank and DataLoader worker, with the validation
lines held out by ``val_split``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from seqlab.data.batching import encode, epoch_batches, make_batch
from seqlab.data.streaming import StreamBatch, TextStream
from seqlab.metrics import classification_metrics
from seqlab.runs import predict_logits
from seqlab.training import distributed

__all__ = ["ClassificationTask", "take"]

# An item of an epoch: (model inputs, targets, loss weights or None, rows in the global batch)
_Item = tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor | None, int]


class ClassificationTask:
    """Texts with labels for a classifier with ``input_kind`` "bag" or "sequence".

    ``x_train`` / ``y_train`` are encoded inputs and integer labels (or ``stream`` is a
    labelled TextStream, then ``vectorizer`` encodes its batches); ``x_val`` / ``y_val`` the
    validation part (or ``stream_val`` holds out ``val_split`` of the stream's lines).
    """

    kind = "classify"

    def __init__(
        self,
        *,
        num_classes: int,
        batch_size: int,
        seed: int,
        device: torch.device,
        input_kind: str,
        x_train: Any = None,
        y_train: np.ndarray | None = None,
        x_val: Any = None,
        y_val: np.ndarray | None = None,
        bucket: bool = True,
        stream: TextStream | None = None,
        vectorizer: Any = None,
        stream_val_split: float = 0.0,
    ) -> None:
        self.num_classes = num_classes
        self.batch_size = batch_size
        self.seed = seed
        self.device = device
        self.input_kind = input_kind
        self.x_train, self.y_train = x_train, y_train
        self.x_val, self.y_val = x_val, y_val
        self.bucket = bucket
        self.stream = stream
        self.vectorizer = vectorizer
        self.stream_val_split = stream_val_split
        self.has_validation = x_val is not None or (stream is not None and stream_val_split > 0)
        self.val_size: int | None = None if x_val is None else len(y_val)  # type: ignore[arg-type]
        self._plan: tuple[int, list[np.ndarray]] | None = None
        self.rows_seen: int | None = None  # training rows in the last logged period

    def _batches_of(self, epoch: int) -> list[np.ndarray]:
        if self._plan is None or self._plan[0] != epoch:
            rows = epoch_batches(
                self.x_train, self.batch_size, seed=self.seed, epoch=epoch, bucket=self.bucket
            )
            self._plan = (epoch, rows)
        return self._plan[1]

    def num_batches(self, epoch: int) -> int | None:
        return None if self.stream is not None else len(self._batches_of(epoch))

    def batches(self, split: str, epoch: int) -> Iterator[_Item]:
        if self.stream is not None:
            return _stream_items(
                self.stream,
                self.vectorizer,
                self.input_kind,
                self.batch_size,
                seed=self.seed,
                epoch=epoch,
                val_split=self.stream_val_split,
                part="train",
                device=self.device,
            )
        assert self.y_train is not None
        rows = self._batches_of(epoch)
        return (_memory_item(self.x_train, self.y_train, r, self.device) for r in rows)

    def loss(self, model: nn.Module, batch: _Item) -> tuple[torch.Tensor, dict[str, Any]]:
        inputs, target, weights, size = batch
        logits = model(**inputs)  # (B, C)
        num_classes = self.num_classes
        if weights is None:
            loss = F.cross_entropy(logits, target)
            loss_sum = float(loss.detach()) * len(target)
            pred, truth = logits.detach().argmax(1).cpu().numpy(), target.cpu().numpy()
        else:
            # Scaled so that DDP's mean over the ranks is the mean over the global batch.
            per_item = F.cross_entropy(logits, target, reduction="none") * weights
            loss = per_item.sum() * (distributed.world_size() / size)
            loss_sum = float(per_item.detach().sum())
            real = weights.cpu().numpy() > 0
            pred = logits.detach().argmax(1).cpu().numpy()[real]
            truth = target.cpu().numpy()[real]
        counts = np.bincount(truth * num_classes + pred, minlength=num_classes**2)
        return loss, {"loss_sum": loss_sum, "confusion": counts}

    def train_metrics(self, sums: dict[str, Any]) -> dict[str, float]:
        confusion = np.asarray(sums["confusion"], dtype=np.int64)
        k = self.num_classes
        self.rows_seen = int(confusion.sum())
        return _metrics_from_sums(float(sums["loss_sum"]), confusion.reshape(k, k))

    def evaluate(self, model: nn.Module, split: str) -> dict[str, float]:
        if split != "val" or not self.has_validation:
            return {}
        if self.stream is not None:
            logs, self.val_size = _stream_val_metrics(
                model,
                self.stream,
                self.vectorizer,
                self.input_kind,
                self.stream_val_split,
                self.seed,
                self.num_classes,
                self.device,
            )
            return logs
        assert self.y_val is not None
        if distributed.world_size() > 1:
            return _sharded_val_metrics(model, self.x_val, self.y_val, self.num_classes)
        proba = torch.softmax(predict_logits(model, self.x_val, batch_size=256), 1).numpy()
        return classification_metrics(self.y_val, proba, self.num_classes)


def take(inputs: Any, idx: np.ndarray) -> Any:
    if isinstance(inputs, list):
        return [inputs[i] for i in idx]
    return inputs[idx]


def _metrics_from_sums(loss_sum: float, confusion: np.ndarray) -> dict[str, float]:
    """``loss``, ``accuracy`` (and ``f1_macro`` with more than two classes) from a summed loss
    and a confusion matrix (rows: truth), the form in which ranks add up their shares."""
    seen = int(confusion.sum())
    logs = {
        "loss": loss_sum / max(seen, 1),
        "accuracy": float(np.trace(confusion) / seen) if seen else 0.0,
    }
    if len(confusion) > 2:
        tp = np.diag(confusion).astype(np.float64)
        denom = confusion.sum(axis=0) + confusion.sum(axis=1)
        f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
        logs["f1_macro"] = float(f1.mean())
    return logs


def _memory_item(x: Any, y: np.ndarray, rows: np.ndarray, device: torch.device) -> _Item:
    """This rank's part of the global batch ``rows`` of in-memory data."""
    size = len(rows)
    weights = None
    if distributed.world_size() > 1:
        rows, w = distributed.shard_rows(rows)
        weights = torch.from_numpy(w).to(device)
    batch = {k: v.to(device) for k, v in make_batch(x, rows).items()}
    target = torch.from_numpy(np.asarray(y[rows], dtype=np.int64)).to(device)
    return batch, target, weights, size


def _encode_stream_batch(
    batch: StreamBatch, vectorizer: Any, input_kind: str, world: int
) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor, int]:
    """Vectorize one rank's share of a streamed batch (in a DataLoader worker), padded with
    zero-weight copies of the batch's first row to the share size of every rank."""
    texts, labels = list(batch.texts), list(batch.labels)
    share = -(-batch.size // world)
    weights = np.zeros(share, dtype=np.float32)
    weights[: len(texts)] = 1.0
    if len(texts) < share:
        assert batch.filler is not None
        texts += [batch.filler[0]] * (share - len(texts))
        labels += [batch.filler[1]] * (share - len(labels))
    inputs = encode(vectorizer, texts, input_kind)
    tensors = make_batch(inputs, np.arange(len(texts)))
    return tensors, torch.tensor(labels, dtype=torch.int64), torch.from_numpy(weights), batch.size


def _stream_items(
    stream: TextStream,
    vectorizer: Any,
    input_kind: str,
    batch_size: int,
    *,
    seed: int,
    epoch: int,
    val_split: float,
    part: str,
    device: torch.device,
    shuffle: bool = True,
) -> Any:
    """The epoch's items from a stream, read and vectorized by ``stream.num_workers``
    DataLoader workers (in this process when 0)."""
    from torch.utils.data import DataLoader

    world = distributed.world_size()
    reader = stream.reader(
        batch_size,
        functools.partial(
            _encode_stream_batch, vectorizer=vectorizer, input_kind=input_kind, world=world
        ),
        seed=seed,
        epoch=epoch,
        part=part,
        val_split=val_split,
        shuffle=shuffle,
        rank=distributed.rank() if world > 1 else 0,
        world_size=world,
    )
    loader = DataLoader(reader, batch_size=None, num_workers=stream.num_workers)
    for batch, target, weights, size in loader:
        yield (
            {k: v.to(device) for k, v in batch.items()},
            target.to(device),
            weights.to(device),
            int(size),
        )


def _sum_val(
    model: nn.Module,
    batch: dict[str, torch.Tensor],
    target: torch.Tensor,
    weights: torch.Tensor,
    num_classes: int,
) -> tuple[float, np.ndarray]:
    """Summed log loss (clipped as ``metrics.log_loss`` clips) and confusion counts of the
    rows with a non-zero weight (the others are padding)."""
    real = weights.cpu().numpy() > 0
    proba = torch.softmax(model(**batch).float(), 1).double().cpu().numpy()[real]
    truth = target.cpu().numpy()[real]
    picked = np.clip(proba[np.arange(len(truth)), truth], 1e-15, 1.0)
    counts = np.bincount(truth * num_classes + proba.argmax(1), minlength=num_classes**2)
    return float(-np.log(picked).sum()), counts


@torch.no_grad()
def _stream_val_metrics(
    model: nn.Module,
    stream: TextStream,
    vectorizer: Any,
    input_kind: str,
    val_split: float,
    seed: int,
    num_classes: int,
    device: torch.device,
) -> tuple[dict[str, float], int]:
    """Validation metrics over the stream's held-out lines, split over the ranks."""
    was_training = model.training
    model.eval()
    loss_sum, confusion = 0.0, np.zeros(num_classes**2, dtype=np.int64)
    try:
        world = distributed.world_size()
        for batch, target, weights, _ in _stream_items(
            stream,
            vectorizer,
            input_kind,
            256 * world,
            seed=seed,
            epoch=0,
            val_split=val_split,
            part="val",
            device=device,
            shuffle=False,
        ):
            if not bool((weights > 0).any()):
                continue
            loss, counts = _sum_val(model, batch, target, weights, num_classes)
            loss_sum += loss
            confusion += counts
    finally:
        model.train(was_training)
    sums = distributed.all_reduce_sum([loss_sum, *confusion])
    confusion = sums[1:].astype(np.int64)
    n = int(confusion.sum())
    if n == 0:
        raise ValueError(
            f"val_split={val_split} held out no line of {stream.path}; use a larger "
            "val_split, a longer file, or val_split=0 (no validation)"
        )
    return _metrics_from_sums(float(sums[0]), confusion.reshape(num_classes, num_classes)), n


@torch.no_grad()
def _sharded_val_metrics(
    model: nn.Module, x_val: Any, y_val: np.ndarray, num_classes: int
) -> dict[str, float]:
    """Validation metrics with the items split over the ranks and the sums all-reduced."""
    idx = np.arange(len(y_val))[distributed.rank() :: distributed.world_size()]
    loss_sum, confusion = 0.0, np.zeros(num_classes**2, dtype=np.int64)
    if len(idx):
        proba = torch.softmax(predict_logits(model, take(x_val, idx), batch_size=256), 1)
        proba_np = proba.double().numpy()
        truth = np.asarray(y_val[idx], dtype=np.int64)
        picked = np.clip(proba_np[np.arange(len(idx)), truth], 1e-15, 1.0)
        loss_sum = float(-np.log(picked).sum())
        confusion += np.bincount(truth * num_classes + proba_np.argmax(1), minlength=num_classes**2)
    sums = distributed.all_reduce_sum([loss_sum, *confusion])
    return _metrics_from_sums(float(sums[0]), sums[1:].astype(np.int64).reshape(num_classes, -1))
