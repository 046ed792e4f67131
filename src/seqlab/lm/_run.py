"""One language-model run on the one training loop: the data and the vocabulary (in memory
or streamed), the model, :func:`seqlab.training.loop.run` with the language-model task, the
held-out loss, and the run folder (see :func:`seqlab.lm.train.train`)."""

from __future__ import annotations

import hashlib
import inspect
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from seqlab._utils import PathLike
from seqlab.lm.config import RESUMABLE_FIELDS, LMConfig
from seqlab.lm.curves import curves_png
from seqlab.lm.data import Vocab, build_vocabulary, split_text, vocabulary_from_dict
from seqlab.lm.model import LanguageModel, loss_metrics
from seqlab.lm.task import LanguageModelTask
from seqlab.models import registry
from seqlab.models.layer_summary import summary
from seqlab.models.lm import model_name
from seqlab.runfolder import RunFolder
from seqlab.training import distributed, loop
from seqlab.training.callbacks import Callback

# LMConfig settings passed on under the same name: to the loop, and to the model (those of
# its constructor's arguments that are LMConfig fields, see build_model).
_TRANSFORMER_ONLY = ("block_size", "d_model", "num_heads")
_LOOP_SETTINGS = (
    "epochs",
    "steps",
    "minutes",
    "optimizer",
    "lr",
    "weight_decay",
    "schedule",
    "warmup",
    "min_lr",
    "eval_every",
    "eval_seconds",
    "checkpoint_every",
    "seed",
    "threads",
    "precision",
    "ema",
)


def text_sha256(text: str) -> str:
    """The hash that ties a checkpoint to its corpus."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def run(
    cfg: LMConfig,
    text: str | None,
    device: torch.device,
    out: PathLike | None,
    progress: bool,
    vocab_dict: dict[str, Any] | None = None,
    index: Any = None,
    resume: bool = False,
    clock: Callable[[], float] = time.perf_counter,
    overwrite: bool = False,
    callbacks: Sequence[Callback] = (),
) -> LanguageModel:
    """Prepare the data and the model, train on the one loop (``callbacks`` see it), write
    the run folder."""
    distributed.check_batch_size(cfg.batch_size)
    vocab, train_ids, val_ids, sha = _data(cfg, text, index, vocab_dict)
    torch.manual_seed(cfg.seed)
    model = build_model(cfg, len(vocab)).to(device)
    task = LanguageModelTask(cfg, device, train_ids, val_ids, index, model=model)
    task.plan(0)  # fail now, not after the first evaluation, if the text is short
    out_path = None if out is None else Path(out)
    folder = None
    if out_path is not None and distributed.is_main():
        folder = RunFolder(out_path, overwrite=overwrite, resume=resume).open()
    try:
        if progress and distributed.is_main():
            sizes = model.config  # width: a transformer's d_model, an RNN's hidden_size
            width = sizes.get("d_model", sizes.get("hidden_size"))
            _say(
                f"training {cfg.model.upper()} x{cfg.num_layers} ({width}) on "
                f"{task.train_tokens():,} {cfg.level} tokens, vocabulary {len(vocab)}, "
                f"recipe {cfg.recipe!r}, device {device}"
                + (f", streamed from {index.path}" if index is not None else "")
            )
            length = cfg.maxlen if cfg.recipe == "lecture" else task.seq_len
            _say(summary(model, input_length=length))
        ckpt = None if out_path is None else out_path / "checkpoint"
        result = loop.run(
            model,
            task,
            _loop_config(cfg, task),
            device=device,
            checkpoint_dir=ckpt,
            resume=resume,
            progress=progress,
            identity={**_fixed_settings(cfg), "corpus_sha256": sha},
            clock=clock,
            extra_state={"config": asdict(cfg), "vocab": vocab.to_dict(), "corpus_sha256": sha},
            callbacks=callbacks,
            vocabulary=vocab.itos,
        )
        metrics = _metrics(cfg, model, task, result, progress)
        model.eval()
        lm = LanguageModel(model, vocab, asdict(cfg), result.history, metrics, path=out_path)
        if folder is not None:
            _commit(folder, lm, cfg, result.history, progress)
    finally:
        if folder is not None:
            folder.close()
    for cb in callbacks:
        cb.on_train_end(dict(metrics))
    # Under torchrun every rank returns once rank 0 has written the run folder (and the ranks
    # leave the process group together).
    distributed.barrier()
    return lm


def build_model(cfg: LMConfig, vocab_size: int) -> nn.Module:
    """The model of ``cfg.model`` with the LMConfig settings its constructor takes (by name:
    ``hidden_size`` for an LSTM, ``d_model`` and ``num_heads`` for a transformer, ...)."""
    cls = registry.get(model_name(cfg.model))
    takes = inspect.signature(cls).parameters
    settings = {k: v for k, v in asdict(cfg).items() if k in takes and k != "vocab_size"}
    return registry.build(model_name(cfg.model), vocab_size=vocab_size, **settings)


def _data(
    cfg: LMConfig, text: str | None, index: Any, vocab_dict: dict[str, Any] | None
) -> tuple[Vocab, np.ndarray | None, np.ndarray | None, str]:
    """``(vocabulary, training ids, held-out ids, the corpus hash)``; the ids are None when
    the corpus is streamed (``index``: the scan fitted the same vocabulary)."""
    if index is not None:
        if vocab_dict is not None:
            index.vocab = vocabulary_from_dict(vocab_dict)
        return index.vocab, None, None, index.sha256
    assert text is not None
    train_text, val_text = split_text(text, cfg.val_split)
    if vocab_dict is not None:
        vocab = vocabulary_from_dict(vocab_dict)
    elif cfg.level == "char":
        # The character set of the whole corpus: a character seen only in the held-out
        # part would otherwise make the validation loss undefined. Words come from the
        # training part only, and unseen held-out words are [UNK].
        vocab = build_vocabulary(text, "char", lower=cfg.lower)
    else:
        vocab = build_vocabulary(train_text, "word", cfg.lower, cfg.max_tokens)
    train_ids = vocab.encode(train_text, errors="ignore")
    val_ids = vocab.encode(val_text, errors="ignore")
    return vocab, train_ids, val_ids, text_sha256(text)


def _loop_config(cfg: LMConfig, task: LanguageModelTask) -> loop.TrainConfig:
    return loop.TrainConfig(
        **{name: getattr(cfg, name) for name in _LOOP_SETTINGS},
        clip_grad_norm=cfg.clip_grad_norm or None,
        monitor="val_loss" if task.has_validation else "loss",
        restore_best=False,  # the schedule ends low: the last weights are the model
        evaluate_at_start=True,
    )


def _fixed_settings(cfg: LMConfig) -> dict[str, Any]:
    """The settings a resumed run must share with the checkpoint."""
    # init only says how the weights started; a checkpoint from before it existed resumes.
    # The transformer's sizes mean nothing to a model that does not take them (a recurrent
    # run's checkpoint may predate them).
    takes = inspect.signature(registry.get(model_name(cfg.model))).parameters
    unused = [k for k in _TRANSFORMER_ONLY if k not in takes]
    skip = (*RESUMABLE_FIELDS, "init", *unused)
    return {k: v for k, v in asdict(cfg).items() if k not in skip}


def _metrics(
    cfg: LMConfig, model: nn.Module, task: LanguageModelTask, result: Any, progress: bool
) -> dict[str, Any]:
    """``metrics.json``: the budget used, the training loss and (on rank 0) the held-out
    loss of the final weights."""
    main = distributed.is_main()
    val = task.held_out_loss(model, None) if main else None
    metrics: dict[str, Any] = {
        "steps": result.step,
        "epochs": round(result.epoch, 6),
        "train_time_s": round(result.train_time, 3),
        "tokens": result.history[-1].get("tokens", 0) if result.history else 0,
        "stopped": result.stopped,
        "train": result.summary["train"],
    }
    metrics["tokens_per_s"] = (
        metrics["tokens"] / result.train_time if result.train_time > 0 else None
    )
    if val is not None:
        v = loss_metrics(val[0] / val[1], cfg.level)
        v["tokens"] = val[1]
        v["mode"] = "stream" if cfg.recipe == "default" else "window"
        metrics["val"] = v
        if progress and main:
            _say(
                f"held-out: {v['loss']:.4f} nats/token, perplexity {v['perplexity']:.2f}"
                + (f", {v['bits_per_char']:.4f} bits/char" if "bits_per_char" in v else "")
            )
    return metrics


def _commit(
    folder: RunFolder, lm: LanguageModel, cfg: LMConfig, history: list, progress: bool
) -> None:
    title = f"{cfg.corpus or 'text'} ({cfg.level}, {cfg.recipe} recipe, {cfg.model})"
    files = lm.files()
    files["curves.png"] = curves_png(history, title=title)
    folder.commit(files)
    if progress:
        _say(f"run saved to {folder.path}")


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
