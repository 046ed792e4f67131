"""``seqlab.fit``: train any registered classifier on a TextDataset, on the one training loop.

Every classifier shares one contract: a model has an ``input_kind`` ("bag" or "sequence"),
``forward(**batch) -> logits (B, C)``, and optionally ``prepare(X_train, y_train)``.
:func:`fit` encodes the texts, splits off a seeded stratified validation part, builds a
:class:`~seqlab.training.classification.ClassificationTask` and hands it to
:func:`seqlab.training.loop.run`, which owns the budget, optimizer, schedule, early stopping,
checkpoints, exact resume, interrupts, DDP and progress (see :mod:`seqlab.training.loop`).

:func:`fit` with ``out`` writes the run folder (:mod:`seqlab.runs`) there; ``resume=True``
continues from its checkpoint exactly (same arguments and data, a larger budget allowed); a
folder holding a run is refused without ``overwrite=True`` or ``resume=True``
(:mod:`seqlab.runfolder`). ``model.prepare(X_train, y_train)`` runs once before training if
the model has it. ``train`` may be a :class:`~seqlab.data.streaming.TextStream` with
``label_names`` (:func:`~seqlab.data.streaming.fit_vocabulary` sets them), read a window at
a time. Under ``torchrun`` ``batch_size`` is the global batch (a multiple of the number of
ranks) and ``device="auto"`` or ``"cuda"`` is this rank's GPU. ``tensorboard=DIR`` adds a
:class:`~seqlab.training.tensorboard.TensorBoardLogger` writing the history (and the
embedding projector) to ``DIR``.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from seqlab._utils import PathLike
from seqlab.data.arrays import ArrayDataset
from seqlab.data.base import TextDataset
from seqlab.data.batching import encode, stratified_split
from seqlab.data.streaming import TextStream
from seqlab.runfolder import RunFolder
from seqlab.runs import Run
from seqlab.training import distributed, loop
from seqlab.training._fit_checks import (
    _arrays,
    _check_args,
    _check_dataset,
    _check_inputs,
    _check_monitor,
)
from seqlab.training.callbacks import Callback
from seqlab.training.classification import ClassificationTask, take
from seqlab.training.optim import OPTIMIZERS, build_optimizers
from seqlab.training.tensorboard import TensorBoardLogger

__all__ = ["FIT_DEFAULTS", "OPTIMIZERS", "build_optimizers", "fit", "fit_settings"]

# What fit uses for a setting left at None that the model's train_defaults do not give.
FIT_DEFAULTS: dict[str, Any] = {
    "epochs": 10,
    "batch_size": 32,
    "optimizer": "adam",
    "lr": 1e-3,
    "schedule": "constant",
}

# fit arguments checked on resume only when they differ from these defaults (so that the
# checkpoints of runs from before they existed still resume)
_ULMFIT_KEYS = ("warmup", "layer_lr_decay", "gradual_unfreezing")
_ULMFIT_DEFAULTS = {"warmup": 0.0, "layer_lr_decay": 1.0, "gradual_unfreezing": False}

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


@distributed.with_session
def fit(
    model: nn.Module | str,
    vectorizer: Any,
    train: TextDataset | TextStream | tuple[Any, Any],
    *,
    val_split: float = 0.2,
    val: TextDataset | tuple[Any, Any] | None = None,
    epochs: int | None = None,
    batch_size: int | None = None,
    optimizer: str | None = None,
    lr: float | None = None,
    schedule: str | None = None,
    weight_decay: float = 0.0,
    patience: int | None = None,
    warmup: float = 0.0,
    layer_lr_decay: float = 1.0,
    gradual_unfreezing: bool = False,
    out: PathLike | None = None,
    seed: int = 0,
    device: str | torch.device = "auto",
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    bucket: bool = True,
    monitor: str | None = None,
    restore_best: bool = True,
    max_steps: int | None = None,
    minutes: float | None = None,
    clip_grad_norm: float | None = None,
    checkpoint_every: float = 60.0,
    threads: int | str | None = "auto",
    precision: str = "fp32",
    ema: float | None = None,
    callbacks: Sequence[Callback] = (),
    tensorboard: PathLike | None = None,
    meta: dict[str, Any] | None = None,
    clock: Any = time.perf_counter,
) -> Run:
    """Train ``model`` on ``train`` (texts vectorized by a fitted ``vectorizer``, or
    Keras-style ``(x, y)`` arrays with ``vectorizer=None``: :mod:`seqlab.data.arrays`);
    return a Run. ``model`` may be a registered name (``"fasttext"``): it is then built for the
    vectorizer's ``vocab_size`` and the data's classes, its weights drawn with ``seed``. Validation: ``val``, else a seeded stratified ``val_split`` of ``train``
    (0: none). The history has a row per epoch with ``loss``, ``accuracy`` (``f1_macro`` with
    more than two classes) and the same with a ``val_`` prefix.

    The training settings are :class:`~seqlab.training.protocol.TrainConfig`'s, documented
    there (``max_steps`` is its ``steps``; ``monitor`` is one of ``MONITORS``; ``patience``
    counts epochs; ``warmup``, ``layer_lr_decay`` and ``gradual_unfreezing`` are ULMFiT's
    slanted schedule's ``cut_frac``, discriminative rates and gradual unfreezing; ``threads`` defaults to ``"auto"``; ``seed`` also draws the split and the
    batch order). ``epochs``, ``batch_size``, ``optimizer``, ``lr``, ``schedule``: None takes
    the model's ``train_defaults``, else :data:`FIT_DEFAULTS` (see :func:`fit_settings`).

    With ``out``, the run folder is written there; ``resume``, ``overwrite``, streams,
    ``torchrun`` and ``tensorboard`` are described in this module's docstring.

    >>> import seqlab as sl
    >>> vec = sl.text.TextVectorizer(output_mode="multi_hot").fit(train.texts)  # doctest: +SKIP
    >>> model = sl.models.build("bow-mlp", vocab_size=vec.vocab_size)  # doctest: +SKIP
    >>> run = sl.fit(model, vec, train, epochs=5, out="runs/bow")  # doctest: +SKIP
    """
    if isinstance(model, str):
        model = _named_model(model, vectorizer, train, seed)
    s = fit_settings(model, epochs=epochs, batch_size=batch_size, optimizer=optimizer, lr=lr,
                     schedule=schedule)  # fmt: skip
    _check_args(s["epochs"], s["batch_size"], patience, val_split, max_steps)
    if tensorboard is not None:
        callbacks = [*callbacks, TensorBoardLogger(tensorboard)]
    train, val = _arrays(model, vectorizer, train, val)
    cfg = loop.TrainConfig(
        epochs=s["epochs"], steps=max_steps, minutes=minutes, optimizer=s["optimizer"], lr=s["lr"],
        schedule=s["schedule"], weight_decay=weight_decay, clip_grad_norm=clip_grad_norm,
        warmup=warmup, layer_lr_decay=layer_lr_decay, gradual_unfreezing=gradual_unfreezing,
        patience=patience, monitor=monitor, restore_best=restore_best,
        checkpoint_every=checkpoint_every, seed=seed, threads=threads, precision=precision,
        ema=ema,
    ).validate()  # fmt: skip
    args = (model, vectorizer, train, val, val_split, cfg, device, out, s["batch_size"], bucket)
    task, labels, stream_val = _task(*args)
    split = val_split if val is None else None
    train_config = _train_config(cfg, task, train, split, stream_val, meta or {})
    identity = _identity(train_config, model, train)
    run = _train_into(
        out, overwrite, model=model, vectorizer=vectorizer, labels=labels, task=task, cfg=cfg,
        dev=task.device, resume=resume, progress=progress, callbacks=callbacks, identity=identity,
        clock=clock, train_config=train_config, streaming=isinstance(train, TextStream),
        stream_val=stream_val,
    )  # fmt: skip
    for cb in callbacks:
        cb.on_train_end(dict(run.metrics))
    return run


def _identity(train_config: dict[str, Any], model: nn.Module, train: Any) -> dict[str, Any]:
    """What a resumed run must share with its checkpoint: the settings, the model's shape,
    the data. ULMFiT's settings are named only when set, so older checkpoints resume."""
    identity = {key: train_config.get(key) for key in _RESUME_KEYS}
    identity.update(
        {k: train_config[k] for k in _ULMFIT_KEYS if train_config[k] != _ULMFIT_DEFAULTS[k]}
    )
    if train_config.get("ema") is not None:  # named only when set, so older checkpoints resume
        identity["ema"] = train_config["ema"]
    identity.update(model=type(model).__name__, model_shape=_shape(model), data=_fingerprint(train))
    return identity


def _named_model(name: str, vectorizer: Any, train: Any, seed: int) -> nn.Module:
    """The registered model ``name`` for this vectorizer and data, weights drawn with ``seed``."""
    import inspect

    from seqlab.models import get

    cls = get(name)  # an unknown name: a ValueError listing the models
    if vectorizer is None or isinstance(train, tuple):
        raise ValueError(
            f"model={name!r} is built for a fitted vectorizer's vocabulary; with (x, y) arrays "
            f"build it yourself: seqlab.models.build({name!r}, vocab_size=..., num_classes=...)"
        )
    accepted = inspect.signature(cls.__init__).parameters
    if "num_classes" not in accepted:
        raise ValueError(f"model={name!r} is not a classifier; give a classifier's name or module")
    kwargs = {"vocab_size": vectorizer.vocab_size, "num_classes": len(train.label_names)}
    if "seed" in accepted:
        kwargs["seed"] = seed
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return cls(**kwargs)


def fit_settings(model: nn.Module | type, **given: Any) -> dict[str, Any]:
    """The ``epochs``, ``batch_size``, ``optimizer``, ``lr`` and ``schedule`` that :func:`fit`
    uses for ``model`` (an instance or a class): each ``given`` value that is not None, else
    the model's ``train_defaults``, else :data:`FIT_DEFAULTS`.

    >>> from seqlab.models import build
    >>> fit_settings(build("lstm", vocab_size=10), lr=0.01)["lr"], fit_settings(
    ...     build("fasttext", vocab_size=10, buckets=10))["optimizer"]
    (0.01, 'adam')
    """
    unknown = sorted(set(given) - set(FIT_DEFAULTS))
    if unknown:
        raise TypeError(f"fit_settings() got unknown setting(s) {unknown}; known: {FIT_DEFAULTS}")
    recipe = getattr(model, "train_defaults", None) or {}
    return {
        name: given[name] if given.get(name) is not None else recipe.get(name, FIT_DEFAULTS[name])
        for name in FIT_DEFAULTS
    }


def _task(
    model: nn.Module,
    vectorizer: Any,
    train: TextDataset | TextStream,
    val: TextDataset | None,
    val_split: float,
    cfg: loop.TrainConfig,
    device: str | torch.device,
    out: PathLike | None,
    batch_size: int,
    bucket: bool,
) -> tuple[ClassificationTask, list[str], bool]:
    """Check the inputs, split and encode the data, move the model to its device; the
    task, the label names and whether a stream holds out its own validation. Sets
    ``cfg.monitor``."""
    streaming = isinstance(train, TextStream)
    input_kind, labels = _check_inputs(model, vectorizer, train, out, batch_size)
    train_idx, val_idx, stream_val = _split(train, val, val_split, cfg.seed, labels)
    has_val = val is not None or val_idx is not None or stream_val
    cfg.monitor = _check_monitor(cfg.monitor, has_val)
    x_train, y_train, x_val, y_val = _encode(vectorizer, input_kind, train, val, train_idx, val_idx)
    dev = distributed.local_device(device)
    model.to(dev)
    if hasattr(model, "prepare") and not streaming:
        model.prepare(x_train, y_train)
    task = ClassificationTask(
        num_classes=len(labels),
        batch_size=batch_size,
        seed=cfg.seed,
        device=dev,
        input_kind=input_kind,
        x_train=x_train,
        y_train=y_train,
        x_val=x_val,
        y_val=y_val,
        bucket=bucket,
        stream=train if streaming else None,  # type: ignore[arg-type]
        vectorizer=vectorizer,
        stream_val_split=val_split if stream_val else 0.0,
    )
    return task, labels, stream_val


def _train_into(out: PathLike | None, overwrite: bool, **kw: Any) -> Run:
    """Train (see :func:`_train`) inside the run folder ``out`` (locked while training) and
    commit its files at the end; without ``out``, just train."""
    folder = None
    if out is not None and distributed.is_main():
        folder = RunFolder(out, overwrite=overwrite, resume=kw["resume"]).open()
    try:
        run = _train(out=out, **kw)
        if folder is not None:
            folder.commit(run.files(folder=out))
            run.path = Path(out)  # type: ignore[arg-type]
    finally:
        if folder is not None:
            folder.close()
    # Under torchrun every rank returns once rank 0 has written the run folder (and the ranks
    # leave the process group together).
    distributed.barrier()
    return run


def _train_config(
    cfg: loop.TrainConfig,
    task: ClassificationTask,
    train: Any,
    val_split: float | None,
    stream_val: bool,
    meta: dict[str, Any],
) -> dict[str, Any]:
    """The ``train`` part of config.json: the settings and sizes of the run."""
    train_size = None if isinstance(train, TextStream) else len(task.y_train)  # type: ignore[arg-type]
    val_size = 0 if task.y_val is None else len(task.y_val)
    out: dict[str, Any] = {
        "epochs": cfg.epochs,
        "batch_size": task.batch_size,
        "optimizer": cfg.optimizer,
        "lr": cfg.lr,
        "schedule": cfg.schedule,
        "weight_decay": cfg.weight_decay,
        "val_split": val_split,
        "patience": cfg.patience,
        "monitor": cfg.monitor,
        "restore_best": cfg.restore_best,
        "seed": cfg.seed,
        "bucket": task.bucket,
        "max_steps": cfg.steps,
        "minutes": cfg.minutes,
        "clip_grad_norm": cfg.clip_grad_norm,
        **{k: getattr(cfg, k) for k in _ULMFIT_KEYS},
        "device": str(task.device),
        "precision": cfg.precision,
        "ema": cfg.ema,
        "train_size": train_size,
        "val_size": val_size,
        **meta,
    }
    if isinstance(train, ArrayDataset):
        out["inputs"] = "arrays"  # no vocabulary: the run reads ids / rows of numbers
    if isinstance(train, TextStream):
        out["val_size"] = None if stream_val else val_size
        out["stream"] = {"path": str(train.path), "format": train.format, "window": train.window}
    if distributed.world_size() > 1:
        out["world_size"] = distributed.world_size()
    return out


def _train(
    model: nn.Module,
    vectorizer: Any,
    labels: list[str],
    task: ClassificationTask,
    cfg: loop.TrainConfig,
    dev: torch.device,
    out: PathLike | None,
    resume: bool,
    progress: bool,
    callbacks: Sequence[Callback],
    identity: dict[str, Any],
    clock: Any,
    train_config: dict[str, Any],
    streaming: bool,
    stream_val: bool,
) -> Run:
    """Run the loop on the prepared task; the Run (not yet written to disk)."""
    ckpt_dir = Path(out) / "checkpoint" if out is not None else None
    result = loop.run(
        model,
        task,
        cfg,
        device=dev,
        checkpoint_dir=ckpt_dir,
        resume=resume,
        progress=progress,
        callbacks=callbacks,
        identity=identity,
        clock=clock,
        vocabulary=vectorizer.get_vocabulary() if hasattr(vectorizer, "get_vocabulary") else None,
    )
    if streaming:
        train_config["train_size"] = task.rows_seen
        if stream_val:
            train_config["val_size"] = task.val_size
    train_config["stopped"] = result.stopped
    train_config["epochs_run"] = result.summary["epochs_run"]
    return Run(
        model,
        vectorizer,
        labels,
        history=loop.history_dict(result.history),
        metrics=result.summary,
        train_config=train_config,
    )


def _split(
    train: Any, val: TextDataset | None, val_split: float, seed: int, labels: list[str]
) -> tuple[np.ndarray | None, np.ndarray | None, bool]:
    """(training rows, validation rows, whether a stream holds out its own validation)."""
    streaming = isinstance(train, TextStream)
    if val is not None:
        _check_dataset(val, "val", need_two_classes=False)
        if [str(x) for x in val.label_names] != labels:
            raise ValueError(
                f"val has label_names {list(val.label_names)} but train has {labels}; "
                "give both datasets the same label names in the same order"
            )
        return (None if streaming else np.arange(len(train))), None, False
    if streaming:
        return None, None, bool(val_split)
    if not val_split:
        return np.arange(len(train)), None, False
    train_idx, val_idx = stratified_split(train.labels, val_split, seed=seed)
    if len(val_idx) == 0:
        raise ValueError(
            f"val_split={val_split} of {len(train)} items leaves no validation items; "
            "use more data, a larger val_split, or val_split=0 (no validation)"
        )
    return train_idx, val_idx, False


def _encode(
    vectorizer: Any,
    input_kind: str,
    train: Any,
    val: TextDataset | None,
    train_idx: np.ndarray | None,
    val_idx: np.ndarray | None,
) -> tuple[Any, Any, Any, Any]:
    """(x_train, y_train, x_val, y_val): the encoded parts (None for a stream's)."""
    x_train = y_train = x_val = y_val = None
    if not isinstance(train, TextStream):
        assert train_idx is not None
        if isinstance(train, ArrayDataset):
            all_inputs = train.inputs
        else:
            all_inputs = encode(vectorizer, train.texts, input_kind)
        x_train, y_train = take(all_inputs, train_idx), train.labels[train_idx]
        if len(np.unique(y_train)) < 2:
            raise ValueError("after the validation split the training part has a single class")
        if val_idx is not None:
            x_val, y_val = take(all_inputs, val_idx), train.labels[val_idx]
    if isinstance(val, ArrayDataset):
        x_val, y_val = val.inputs, val.labels
    elif val is not None:
        x_val, y_val = encode(vectorizer, val.texts, input_kind), val.labels
    return x_train, y_train, x_val, y_val


def _fingerprint(train: TextDataset | TextStream) -> str:
    """What identifies the training data for a resume: a hash of the texts and labels (of a
    stream: its path and size)."""
    if isinstance(train, ArrayDataset):
        return train.fingerprint()
    if isinstance(train, TextStream):
        path = Path(train.path)
        return f"stream {path.resolve()} ({path.stat().st_size} bytes)"
    digest = hashlib.sha256()
    for text in train.texts:
        digest.update(text.encode("utf-8", "surrogatepass") + b"\0")
    digest.update(np.ascontiguousarray(train.labels, dtype=np.int64).tobytes())
    return f"{len(train)} texts, sha256 {digest.hexdigest()[:16]}"


def _shape(model: nn.Module) -> str:
    """A short fingerprint of the model's architecture: its parameters' names and shapes."""
    return ";".join(f"{k}:{'x'.join(map(str, v.shape))}" for k, v in model.state_dict().items())
