"""The training loop: :func:`fit` trains any registered classifier on a TextDataset.

One loop serves every classifier because they share one contract: a model has an
``input_kind`` ("bag" or "sequence"), ``forward(**batch) -> logits (B, C)``, and optionally
``prepare(X_train, y_train)``. The loop adds what a lecture's ``model.fit`` has (epochs,
batches, a validation split, per-epoch history, early stopping) plus what long runs need:
a checkpoint after every epoch and an exact ``resume``.

Exact resume: the batch order of epoch ``k`` depends only on ``(seed, k)``, and the
checkpoint holds the weights, optimizer state, torch RNG state (dropout), history and
early-stopping state after the last finished epoch. Resuming therefore reproduces the
uninterrupted run bit for bit on the same machine.

Data parallel (``torchrun``, see :mod:`seqlab.training.distributed`): ``batch_size`` is the
global batch; rank ``r`` of ``W`` trains on rows ``r::W`` of every global batch, DDP
averages the gradients, training metrics are summed over the ranks, validation is split
over the ranks and its sums all-reduced, and only rank 0 writes the run folder and shows
progress. The batch order does not depend on ``W``, so a checkpoint resumes under any
number of ranks; under DDP the dropout masks are drawn per rank from ``(seed, epoch,
rank)``.

Streaming: ``train`` may be a :class:`seqlab.data.streaming.TextStream` (a file larger than
memory); each epoch then reads the file again in its seeded window-shuffled order, sharded
by rank and DataLoader worker, with validation lines held out by ``val_split``. A stream
restarts at epoch boundaries (the per-epoch checkpoint).
"""

from __future__ import annotations

import functools
import json
import math
import shutil
import struct
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load as load_safetensors
from torch import nn
from tqdm.auto import tqdm

from seqlab._utils import PathLike, atomic_write_bytes, atomic_write_json
from seqlab.data.base import TextDataset
from seqlab.data.batching import encode, epoch_batches, make_batch, stratified_split
from seqlab.data.streaming import StreamBatch, TextStream
from seqlab.metrics import classification_metrics
from seqlab.runs import Run, predict_logits, state_dict_to_bytes
from seqlab.training import distributed
from seqlab.training.callbacks import Callback

__all__ = ["OPTIMIZERS", "build_optimizers", "fit"]

OPTIMIZERS = ("adam", "rmsprop", "sgd")
MONITORS = {"val_loss": "min", "val_accuracy": "max", "loss": "min", "accuracy": "max"}
# fit arguments that must match for resume=True to continue the same training
_RESUME_KEYS = (
    "batch_size",
    "optimizer",
    "lr",
    "weight_decay",
    "seed",
    "val_split",
    "bucket",
    "stream",
)
# An item of an epoch: (model inputs, targets, loss weights or None, rows in the global batch)
_Item = tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor | None, int]


@distributed.with_session
def fit(
    model: nn.Module,
    vectorizer: Any,
    train: TextDataset | TextStream,
    *,
    val_split: float = 0.2,
    val: TextDataset | None = None,
    epochs: int = 10,
    batch_size: int = 32,
    optimizer: str = "adam",
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    patience: int | None = None,
    out: PathLike | None = None,
    seed: int = 0,
    device: str | torch.device = "auto",
    resume: bool = False,
    progress: bool = True,
    bucket: bool = True,
    monitor: str | None = None,
    restore_best: bool = True,
    max_steps: int | None = None,
    clip_grad_norm: float | None = None,
    callbacks: Sequence[Callback] = (),
    meta: dict[str, Any] | None = None,
) -> Run:
    """Train ``model`` on ``train`` (texts vectorized by a fitted ``vectorizer``); return a Run.

    Validation: ``val`` when given, else a seeded stratified ``val_split`` of ``train``
    (``val_split=0`` trains on everything, with no validation). After each epoch the history
    gets ``loss``, ``accuracy`` (``f1_macro`` with more than two classes), the same with a
    ``val_`` prefix, ``time_s`` (the epoch with its validation) and ``train_time_s`` (the
    training pass alone).

    Model selection: ``monitor`` (default ``"val_loss"``, lower is better; or
    ``"val_accuracy"``; ``"loss"`` / ``"accuracy"`` without validation) picks the best epoch;
    with ``restore_best`` the returned model has that epoch's weights. ``patience=k`` stops
    after ``k`` epochs without improvement (early stopping).

    Optimizers: ``"adam"`` (``torch.optim.Adam``; ``SparseAdam`` for sparse-gradient
    layers), ``"rmsprop"``, ``"sgd"`` (no momentum, as in Keras); ``weight_decay`` is an L2
    penalty added to the gradients.

    With ``out``, the run folder (see :mod:`seqlab.runs`) is written there, with a checkpoint
    after every epoch; ``resume=True`` continues from that checkpoint (same arguments, more
    ``epochs`` allowed), and without ``resume`` an old checkpoint in ``out`` is replaced.
    ``model.prepare(X_train, y_train)`` is called once before training when it exists.
    ``max_steps`` stops after that many optimizer steps (quick smoke runs).

    ``train`` may be a :class:`~seqlab.data.streaming.TextStream` with ``label_names`` set
    (:func:`~seqlab.data.streaming.fit_vocabulary` sets them): the file is then read one
    window at a time, every epoch (see the module docstring).

    Under ``torchrun`` (see the module docstring) ``batch_size`` is the global batch: it must
    be a multiple of the number of ranks, each of which trains on ``batch_size / W`` rows of
    it; ``device="auto"`` or ``"cuda"`` means this rank's GPU (``cuda:LOCAL_RANK``).

    >>> import seqlab as sl
    >>> vec = sl.text.TextVectorizer(output_mode="multi_hot").fit(train.texts)  # doctest: +SKIP
    >>> model = sl.models.build("bow-mlp", vocab_size=vec.vocab_size)  # doctest: +SKIP
    >>> run = sl.fit(model, vec, train, epochs=5, out="runs/bow")  # doctest: +SKIP
    >>> run.history["val_accuracy"][-1]  # doctest: +SKIP
    0.87
    """
    _check_args(
        epochs=epochs,
        batch_size=batch_size,
        optimizer=optimizer,
        lr=lr,
        weight_decay=weight_decay,
        patience=patience,
        val_split=val_split,
        max_steps=max_steps,
        clip_grad_norm=clip_grad_norm,
    )
    streaming = isinstance(train, TextStream)
    if streaming:
        _check_stream(train, model)
    else:
        _check_dataset(train, "train")
    distributed.check_batch_size(batch_size)
    world = distributed.world_size()
    main = distributed.is_main()
    input_kind = getattr(model, "input_kind", None)
    if input_kind not in ("bag", "sequence"):
        raise TypeError(
            f"{type(model).__name__} has input_kind={input_kind!r}; a seqlab classifier sets "
            "the class attribute input_kind = 'bag' or 'sequence'"
        )
    labels = [str(x) for x in train.label_names]  # type: ignore[union-attr]
    _check_model_matches(model, vectorizer, len(labels))
    if out is not None:
        Run(model, vectorizer, labels).config_dict()  # fail now, not after training

    # ---- data -------------------------------------------------------------------------
    if val is not None:
        _check_dataset(val, "val", need_two_classes=False)
        if [str(x) for x in val.label_names] != labels:
            raise ValueError(
                f"val has label_names {list(val.label_names)} but train has {labels}; "
                "give both datasets the same label names in the same order"
            )
        train_idx, val_idx = (None if streaming else np.arange(len(train))), None
    elif streaming:
        train_idx = val_idx = None
    elif val_split:
        train_idx, val_idx = stratified_split(train.labels, val_split, seed=seed)
        if len(val_idx) == 0:
            raise ValueError(
                f"val_split={val_split} of {len(train)} items leaves no validation items; "
                "use more data, a larger val_split, or val_split=0 (no validation)"
            )
    else:
        train_idx, val_idx = np.arange(len(train)), None
    stream_val = streaming and val is None and bool(val_split)
    has_val = val is not None or val_idx is not None or stream_val
    monitor = monitor or ("val_loss" if has_val else "loss")
    if monitor not in MONITORS:
        raise ValueError(f"monitor must be one of {sorted(MONITORS)}, got {monitor!r}")
    if monitor.startswith("val_") and not has_val:
        raise ValueError(
            f"monitor={monitor!r} needs validation data but val_split=0 and val=None; "
            "pass val_split=0.2, val=..., or monitor='loss'"
        )

    x_train: Any = None
    y_train: Any = None
    if not streaming:
        assert isinstance(train, TextDataset) and train_idx is not None
        all_inputs = encode(vectorizer, train.texts, input_kind)
        x_train = _take(all_inputs, train_idx)
        y_train = train.labels[train_idx]
        if len(np.unique(y_train)) < 2:
            raise ValueError("after the validation split the training part has a single class")
    if val is not None:
        x_val, y_val = encode(vectorizer, val.texts, input_kind), val.labels
    elif val_idx is not None:
        assert isinstance(train, TextDataset)
        x_val, y_val = _take(all_inputs, val_idx), train.labels[val_idx]
    else:
        x_val = y_val = None

    dev = distributed.local_device(device)
    model.to(dev)
    if hasattr(model, "prepare") and not streaming:
        model.prepare(x_train, y_train)
    net = distributed.wrap(model, dev)  # forward passes go through DDP; state stays on model
    optimizers = build_optimizers(model, optimizer, lr=lr, weight_decay=weight_decay)

    train_config = {
        "epochs": epochs,
        "batch_size": batch_size,
        "optimizer": optimizer,
        "lr": lr,
        "weight_decay": weight_decay,
        "val_split": val_split if val is None else None,
        "patience": patience,
        "monitor": monitor,
        "restore_best": restore_best,
        "seed": seed,
        "bucket": bucket,
        "max_steps": max_steps,
        "clip_grad_norm": clip_grad_norm,
        "device": str(dev),
        "train_size": None if streaming else len(train_idx),
        "val_size": 0 if x_val is None else len(y_val),
        **(meta or {}),
    }
    if streaming:
        assert isinstance(train, TextStream)
        train_config["val_size"] = None if stream_val else train_config["val_size"]
        train_config["stream"] = {"path": str(train.path), "format": train.format}
        train_config["stream"]["window"] = train.window
    if world > 1:
        train_config["world_size"] = world
    num_classes = len(labels)
    loop = _Loop(model, optimizers, monitor, dev, num_classes, net=net)
    ckpt_dir = Path(out) / "checkpoint" if out is not None else None
    progress = progress and main

    def epoch_items(epoch: int) -> tuple[Any, int | None]:
        """The epoch's items and their number (None when streaming: not known ahead)."""
        if streaming:
            assert isinstance(train, TextStream)
            return _stream_items(
                train,
                vectorizer,
                input_kind,
                batch_size,
                seed=seed,
                epoch=epoch,
                val_split=val_split if stream_val else 0.0,
                part="train",
                device=dev,
            ), None
        batches = epoch_batches(x_train, batch_size, seed=seed, epoch=epoch, bucket=bucket)
        return (_memory_item(x_train, y_train, rows, dev) for rows in batches), len(batches)

    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
        torch.manual_seed(seed)  # dropout and any other in-training randomness
        blob = None
        if ckpt_dir is not None and resume:
            # rank 0 reads the checkpoint and sends it to every rank (no shared folder needed)
            path = ckpt_dir / "state.safetensors"
            blob = distributed.broadcast_bytes(
                path.read_bytes() if main and path.is_file() else None
            )
        if blob is not None:
            assert ckpt_dir is not None
            loop.load_checkpoint(ckpt_dir, train_config, blob)
        elif ckpt_dir is not None and ckpt_dir.exists() and main:
            shutil.rmtree(ckpt_dir)  # a fresh run must not resume from an old one later

        start = {"start_epoch": loop.epoch, "train_size": train_config["train_size"]}
        for cb in callbacks:
            cb.on_train_begin(start)
        while loop.epoch < epochs and loop.stopped is None:
            epoch = loop.epoch
            if world > 1:
                torch.manual_seed(distributed.rank_seed(seed, epoch))
            for cb in callbacks:
                cb.on_epoch_begin(epoch, {})
            items, total = epoch_items(epoch)
            t0 = time.perf_counter()
            logs = loop.train_epoch(
                items,
                total,
                epoch,
                epochs,
                progress,
                callbacks,
                clip_grad_norm,
                max_steps,
            )
            train_time = time.perf_counter() - t0
            if streaming and train_config["train_size"] is None:
                train_config["train_size"] = loop.last_seen
            if stream_val:
                assert isinstance(train, TextStream)
                val_logs, n_val = _stream_val_metrics(
                    model, train, vectorizer, input_kind, val_split, seed, num_classes, dev
                )
                train_config["val_size"] = n_val
                logs.update({f"val_{k}": v for k, v in val_logs.items()})
            elif x_val is not None and world > 1:
                val_logs = _sharded_val_metrics(model, x_val, y_val, num_classes)
                logs.update({f"val_{k}": v for k, v in val_logs.items()})
            elif x_val is not None:
                proba = torch.softmax(predict_logits(model, x_val, batch_size=256), 1).numpy()
                val_logs = classification_metrics(y_val, proba, num_classes)
                logs.update({f"val_{k}": v for k, v in val_logs.items()})
            logs["time_s"] = round(time.perf_counter() - t0, 3)
            logs["train_time_s"] = round(train_time, 3)
            loop.end_epoch(epoch, logs, patience, max_steps)
            if progress:
                tqdm.write(_format_epoch(epoch, epochs, logs))
            stop = any([cb.on_epoch_end(epoch, dict(logs)) for cb in callbacks])
            if distributed.any_rank(stop) if world > 1 else stop:
                loop.stopped = loop.stopped or "callback"
            if ckpt_dir is not None and main:
                loop.save_checkpoint(ckpt_dir, train_config)
                atomic_write_json(Path(out) / "history.json", loop.history)

        if restore_best and loop.best_state is not None:
            model.load_state_dict(loop.best_state)
    train_config["stopped"] = loop.stopped or "epochs"
    train_config["epochs_run"] = loop.epoch
    run = Run(
        model,
        vectorizer,
        labels,
        history=loop.history,
        metrics=loop.summary(restore_best),
        train_config=train_config,
    )
    if out is not None and main:
        run.save(out)
    for cb in callbacks:
        cb.on_train_end(dict(run.metrics))
    return run


class _Loop:
    """Mutable training state: what a checkpoint saves and resume restores."""

    def __init__(
        self,
        model: nn.Module,
        optimizers: list[torch.optim.Optimizer],
        monitor: str,
        device: torch.device,
        num_classes: int,
        net: nn.Module | None = None,
    ) -> None:
        self.model = model
        self.net = model if net is None else net  # the DDP wrapper under torchrun
        self.optimizers = optimizers
        self.monitor = monitor
        self.mode = MONITORS[monitor]
        self.device = device
        self.num_classes = num_classes
        self.epoch = 0  # epochs finished
        self.step = 0  # optimizer steps taken
        self.history: dict[str, list] = {}
        self.best_score: float | None = None
        self.best_epoch: int | None = None
        self.best_state: dict[str, torch.Tensor] | None = None
        self.bad_epochs = 0
        self.stopped: str | None = None
        self.last_seen = 0  # training rows of the last epoch, all ranks together

    def train_epoch(
        self,
        items: Any,
        total: int | None,
        epoch: int,
        epochs: int,
        progress: bool,
        callbacks: Sequence[Callback],
        clip_grad_norm: float | None,
        max_steps: int | None = None,
    ) -> dict[str, float]:
        """One pass over ``items`` (see ``_Item``); the logs are summed over the ranks."""
        model = self.model
        model.train()
        world = distributed.world_size()
        num_classes = self.num_classes
        total_loss, seen = 0.0, 0
        confusion = np.zeros(num_classes * num_classes, dtype=np.int64)
        bar = tqdm(
            items,
            total=total,
            desc=f"epoch {epoch + 1}/{epochs}",
            unit="batch",
            disable=not progress,
            leave=False,
        )
        for i, (batch, target, weights, size) in enumerate(bar):
            logits = self.net(**batch)  # (B, C)
            if weights is None:
                loss = F.cross_entropy(logits, target)
                batch_loss = None
            else:
                # Scaled so that DDP's mean over the ranks is the mean over the global batch.
                per_item = F.cross_entropy(logits, target, reduction="none") * weights
                loss = per_item.sum() * (world / size)
                batch_loss = float(per_item.detach().sum())
            for opt in self.optimizers:
                opt.zero_grad(set_to_none=True)
            loss.backward()
            if clip_grad_norm is not None:
                nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm)
            for opt in self.optimizers:
                opt.step()
            self.step += 1
            value = float(loss.detach())
            if not math.isfinite(value):
                raise FloatingPointError(
                    f"the training loss became {value} at epoch {epoch + 1}, batch {i + 1}; "
                    "lower lr or set clip_grad_norm"
                )
            pred = logits.detach().argmax(1).cpu().numpy()
            truth = target.cpu().numpy()
            if weights is None:
                total_loss += value * len(truth)
            else:
                real = weights.cpu().numpy() > 0
                pred, truth = pred[real], truth[real]
                total_loss += batch_loss  # type: ignore[operator]
            seen += len(truth)
            confusion += np.bincount(truth * num_classes + pred, minlength=num_classes**2)
            if progress and (i % 10 == 0 or (total is not None and i == total - 1)):
                bar.set_postfix(loss=f"{total_loss / max(seen, 1):.4f}")
            for cb in callbacks:
                cb.on_batch_end(
                    self.step, {"epoch": epoch, "batch": i, "step": self.step, "loss": value}
                )
            if max_steps is not None and self.step >= max_steps:
                break
        bar.close()
        if world > 1:
            sums = distributed.all_reduce_sum([total_loss, seen, *confusion])
            total_loss, seen = float(sums[0]), int(sums[1])
            confusion = sums[2:].astype(np.int64)
        self.last_seen = seen
        return _metrics_from_sums(total_loss, confusion.reshape(num_classes, num_classes))

    def end_epoch(
        self, epoch: int, logs: dict[str, float], patience: int | None, max_steps: int | None
    ) -> None:
        logs = {"epoch": epoch + 1, **logs}
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)
        self.epoch = epoch + 1
        score = float(logs[self.monitor])
        better = self.best_score is None or (
            score < self.best_score if self.mode == "min" else score > self.best_score
        )
        if better:
            self.best_score, self.best_epoch, self.bad_epochs = score, epoch + 1, 0
            self.best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        else:
            self.bad_epochs += 1
            if patience is not None and self.bad_epochs >= patience:
                self.stopped = "early_stopping"
        if max_steps is not None and self.step >= max_steps:
            self.stopped = self.stopped or "max_steps"

    def summary(self, restore_best: bool) -> dict[str, Any]:
        """metrics.json: the monitored best epoch and the metrics of the returned weights."""
        chosen = self.best_epoch if (restore_best and self.best_epoch) else self.epoch
        at = {
            k: v[chosen - 1]
            for k, v in self.history.items()
            if k not in ("epoch", "time_s", "train_time_s")
        }
        return {
            "monitor": self.monitor,
            "best_epoch": self.best_epoch,
            "best_score": self.best_score,
            "weights_from_epoch": chosen,
            "epochs_run": self.epoch,
            "stopped": self.stopped or "epochs",
            "train": {k: v for k, v in at.items() if not k.startswith("val_")},
            "val": {k[4:]: v for k, v in at.items() if k.startswith("val_")},
        }

    # ---- checkpoints --------------------------------------------------------------------
    def save_checkpoint(self, folder: Path, train_config: dict[str, Any]) -> None:
        """One safetensors file holds tensors and (as metadata) the JSON state, so the
        checkpoint is replaced atomically as a whole; state.json is a readable copy."""
        tensors = {f"model.{k}": v for k, v in self.model.state_dict().items()}
        if self.best_state is not None:
            tensors.update({f"best.{k}": v for k, v in self.best_state.items()})
        scalars: dict[str, Any] = {}
        for i, opt in enumerate(self.optimizers):
            for pid, pstate in opt.state_dict()["state"].items():
                for name, value in pstate.items():
                    key = f"optim{i}.{pid}.{name}"
                    if isinstance(value, torch.Tensor):
                        tensors[key] = value.to_dense() if value.is_sparse else value
                    else:
                        scalars[key] = value
        tensors["rng.torch"] = torch.get_rng_state()
        if self.device.type == "cuda":
            tensors["rng.cuda"] = torch.cuda.get_rng_state(self.device)
        state = {
            "epoch": self.epoch,
            "step": self.step,
            "history": self.history,
            "best_score": self.best_score,
            "best_epoch": self.best_epoch,
            "bad_epochs": self.bad_epochs,
            "stopped": self.stopped,
            "optimizer_scalars": scalars,
            "train": train_config,
        }
        text = json.dumps(state, indent=2)
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(
            folder / "state.safetensors", state_dict_to_bytes(tensors, metadata={"state": text})
        )
        atomic_write_json(folder / "state.json", state)

    def load_checkpoint(
        self, folder: Path, train_config: dict[str, Any], blob: bytes | None = None
    ) -> None:
        """Restore from ``folder`` (or from ``blob``, the bytes of its state.safetensors)."""
        if blob is None:
            blob = (folder / "state.safetensors").read_bytes()
        tensors = load_safetensors(blob)
        (header_size,) = struct.unpack("<Q", blob[:8])
        state = json.loads(json.loads(blob[8 : 8 + header_size])["__metadata__"]["state"])
        old = state["train"]
        for key in _RESUME_KEYS:
            if old.get(key) != train_config.get(key):
                raise ValueError(
                    f"resume=True found a checkpoint in {folder} made with {key}="
                    f"{old.get(key)!r} but this call has {key}={train_config.get(key)!r}; pass "
                    "the same arguments to continue, or resume=False to start over"
                )

        def group(prefix: str) -> dict[str, torch.Tensor]:
            return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}

        self.model.load_state_dict(group("model."))
        best = group("best.")
        self.best_state = {k: v.to(self.device) for k, v in best.items()} if best else None
        scalars = state["optimizer_scalars"]
        for i, opt in enumerate(self.optimizers):
            current = opt.state_dict()
            per_param: dict[int, dict[str, Any]] = {}
            for key, value in [*group(f"optim{i}.").items(), *_prefixed(scalars, f"optim{i}.")]:
                pid, name = key.split(".", 1)
                per_param.setdefault(int(pid), {})[name] = value
            opt.load_state_dict({"state": per_param, "param_groups": current["param_groups"]})
        torch.set_rng_state(tensors["rng.torch"])
        if self.device.type == "cuda" and "rng.cuda" in tensors:
            torch.cuda.set_rng_state(tensors["rng.cuda"], self.device)
        self.epoch = int(state["epoch"])
        self.step = int(state["step"])
        self.history = state["history"]
        self.best_score = state["best_score"]
        self.best_epoch = state["best_epoch"]
        self.bad_epochs = int(state["bad_epochs"])
        self.stopped = state["stopped"]


def _prefixed(d: dict[str, Any], prefix: str) -> list[tuple[str, Any]]:
    return [(k[len(prefix) :], v) for k, v in d.items() if k.startswith(prefix)]


def build_optimizers(
    model: nn.Module, name: str, *, lr: float, weight_decay: float = 0.0
) -> list[torch.optim.Optimizer]:
    """The optimizer(s) for ``model``: one for dense parameters and, when an embedding layer
    was built with ``sparse=True``, one that accepts its sparse gradients.

    >>> [type(o).__name__ for o in build_optimizers(nn.Linear(2, 2), "adam", lr=1e-3)]
    ['Adam']
    """
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {name!r}")
    sparse_ids = {
        id(m.weight)
        for m in model.modules()
        if isinstance(m, nn.Embedding | nn.EmbeddingBag) and m.sparse
    }
    params = [p for p in model.parameters() if p.requires_grad]
    sparse = [p for p in params if id(p) in sparse_ids]
    dense = [p for p in params if id(p) not in sparse_ids]
    if sparse and weight_decay:
        raise ValueError(
            f"weight_decay={weight_decay} cannot be applied to sparse-gradient layers; build "
            "the model with sparse=False or use weight_decay=0"
        )
    if sparse and name == "rmsprop":
        raise ValueError(
            "optimizer='rmsprop' does not accept sparse gradients; use optimizer='adam' or "
            "'sgd', or build the model with sparse=False"
        )
    out: list[torch.optim.Optimizer] = []
    if name == "sgd":
        out.append(torch.optim.SGD(params, lr=lr, weight_decay=weight_decay))
        return out
    cls = torch.optim.Adam if name == "adam" else torch.optim.RMSprop
    if dense:
        out.append(cls(dense, lr=lr, weight_decay=weight_decay))
    if sparse:
        out.append(torch.optim.SparseAdam(sparse, lr=lr))
    return out


def _take(inputs: Any, idx: np.ndarray) -> Any:
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
        proba = torch.softmax(predict_logits(model, _take(x_val, idx), batch_size=256), 1)
        proba_np = proba.double().numpy()
        truth = np.asarray(y_val[idx], dtype=np.int64)
        picked = np.clip(proba_np[np.arange(len(idx)), truth], 1e-15, 1.0)
        loss_sum = float(-np.log(picked).sum())
        confusion += np.bincount(truth * num_classes + proba_np.argmax(1), minlength=num_classes**2)
    sums = distributed.all_reduce_sum([loss_sum, *confusion])
    return _metrics_from_sums(float(sums[0]), sums[1:].astype(np.int64).reshape(num_classes, -1))


def _check_stream(stream: TextStream, model: nn.Module) -> None:
    if not stream.labelled:
        raise ValueError(
            f"{stream.path} is a {stream.format!r} stream without labels; a classifier "
            "needs a JSONL or TSV file with a label column"
        )
    if not stream.label_names or len(stream.label_names) < 2:
        raise ValueError(
            f"the stream's label_names are {stream.label_names!r}; fit the vectorizer with "
            "seqlab.data.streaming.fit_vocabulary(vectorizer, stream) (it collects them) or "
            "pass label_names= with at least two labels"
        )
    if (getattr(model, "config", None) or {}).get("nb_scaling"):
        raise ValueError(
            "nb_scaling (NBSVM) needs the whole training matrix before training, which a "
            "stream does not hold; drop nbsvm / nb_scaling or load the data in memory"
        )


def _format_epoch(epoch: int, epochs: int, logs: dict[str, float]) -> str:
    parts = [f"epoch {epoch + 1}/{epochs}"]
    parts += [f"{k} {v:.4f}" for k, v in logs.items() if not k.endswith("time_s")]
    parts.append(f"({logs['time_s']:.1f} s)")
    return "  ".join(parts)


def _check_dataset(ds: Any, name: str, need_two_classes: bool = True) -> None:
    if not isinstance(ds, TextDataset):
        raise TypeError(
            f"{name} must be a seqlab TextDataset (texts + labels), got {type(ds).__name__}; "
            "build one with seqlab.data.base.TextDataset(texts, labels, label_names)"
        )
    if len(ds) == 0:
        raise ValueError(f"{name} is empty; a classifier needs at least two labelled texts")
    num_classes = len(ds.label_names)
    if ds.labels.min() < 0 or ds.labels.max() >= num_classes:
        raise ValueError(
            f"{name} has labels outside 0..{num_classes - 1} (label_names has {num_classes} "
            f"names, labels range {ds.labels.min()}..{ds.labels.max()})"
        )
    present = np.unique(ds.labels)
    if need_two_classes and len(present) < 2:
        raise ValueError(
            f"{name} has a single class ({ds.label_names[present[0]]!r}, {len(ds)} texts); "
            "a classifier needs texts of at least two classes"
        )


def _check_model_matches(model: nn.Module, vectorizer: Any, num_classes: int) -> None:
    config = getattr(model, "config", {}) or {}
    try:
        vocab_size = vectorizer.vocab_size
    except Exception as exc:  # e.g. the vectorizer's own "not fitted" error
        raise ValueError(
            f"the vectorizer is not usable ({exc}); fit it on the training texts first: "
            "vectorizer.fit(train.texts)"
        ) from exc
    if "vocab_size" in config and config["vocab_size"] != vocab_size:
        raise ValueError(
            f"the model has vocab_size={config['vocab_size']} but the vectorizer has "
            f"vocab_size={vocab_size}; build the model with vocab_size=vectorizer.vocab_size"
        )
    if "num_classes" in config and config["num_classes"] != num_classes:
        raise ValueError(
            f"the model has num_classes={config['num_classes']} but the data has "
            f"{num_classes} label names; build the model with num_classes={num_classes}"
        )


def _check_args(**kw: Any) -> None:
    def positive_int(name: str, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")

    positive_int("epochs", kw["epochs"])
    positive_int("batch_size", kw["batch_size"])
    if kw["optimizer"] not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {kw['optimizer']!r}")
    if not kw["lr"] > 0:
        raise ValueError(f"lr must be > 0, got {kw['lr']!r}")
    if kw["weight_decay"] < 0:
        raise ValueError(f"weight_decay must be >= 0, got {kw['weight_decay']!r}")
    if kw["patience"] is not None:
        positive_int("patience", kw["patience"])
    if kw["max_steps"] is not None:
        positive_int("max_steps", kw["max_steps"])
    vs = kw["val_split"]
    if vs is not None and not 0.0 <= vs < 1.0:
        raise ValueError(f"val_split must be in [0, 1), got {vs!r}; use 0 for no validation")
    if kw["clip_grad_norm"] is not None and not kw["clip_grad_norm"] > 0:
        raise ValueError(f"clip_grad_norm must be > 0, got {kw['clip_grad_norm']!r}")
