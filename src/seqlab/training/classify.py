"""One call from a dataset name to a trained run folder: what ``seqlab classify train`` and
``seqlab demo`` both use."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seqlab._utils import PathLike
from seqlab.data.base import TextDataset
from seqlab.runs import Run

__all__ = ["BAG_MODES", "load_dataset", "train_classifier"]

BAG_MODES = ("multi_hot", "count", "freq", "tf_idf")
SPLITS = ("train", "test", "all")
# Datasets without an official test split get a seeded stratified one of this size, so that
# `classify train` and `classify evaluate --split test` agree on it without sharing state.
TEST_FRACTION = 0.2


def load_dataset(
    data: str | PathLike | TextDataset,
    *,
    split: str = "train",
    data_dir: PathLike | None = None,
    seed: int = 0,
    text_column: str | int = "text",
    label_column: str | int = "label",
) -> TextDataset:
    """A labelled dataset from a name (``imdb``, ``snippets``, ``bbc``), a path or a dataset.

    A path is read whole and ``split`` is ignored: a folder (or ``.tar.gz``) with one
    sub-folder per label via ``seqlab.datasets.from_folder``, or a CSV/TSV/JSONL table via
    ``seqlab.datasets.from_table`` with the columns ``text_column`` and ``label_column``. A
    named dataset with an official train/test split (IMDB) gives that split; one without
    (snippets, bbc) is split 80/20 by ``seqlab.datasets.train_test_split`` (stratified,
    ``seed``) into ``"train"`` and ``"test"``. ``split="all"`` gives everything.

    >>> train, test = load_dataset("snippets"), load_dataset("snippets", split="test")
    >>> len(train) + len(test), round(len(test) / (len(train) + len(test)), 2)
    (10568, 0.2)
    """
    if isinstance(data, TextDataset):
        return data
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    import seqlab.data.datasets as datasets

    path = Path(data).expanduser()
    if path.is_dir() or (path.is_file() and path.name.endswith((".tar", ".tar.gz", ".tgz"))):
        return datasets.from_folder(path)
    if path.is_file():
        return datasets.from_table(path, text_column=text_column, label_column=label_column)
    name = str(data)
    if name not in datasets.names() or datasets.describe(name)["kind"] != "classification":
        choices = [n for n in datasets.names() if datasets.describe(n)["kind"] == "classification"]
        raise FileNotFoundError(
            f"data={name!r} is neither an existing file or folder nor a labelled dataset name; "
            f"use one of {', '.join(choices)} or the path of a CSV/TSV/JSONL table or a "
            "folder with one sub-folder per label"
        )
    if name == "imdb":
        if split == "all":
            return _concat(datasets.imdb(("train", "test"), data_dir=data_dir))
        return datasets.imdb(split, data_dir=data_dir)
    full = datasets.load(name, data_dir=data_dir)
    if split == "all":
        return full
    train, test = datasets.train_test_split(full, test_size=TEST_FRACTION, seed=seed)
    return train if split == "train" else test


def _concat(parts: Sequence[TextDataset]) -> TextDataset:
    first = parts[0]
    return TextDataset(
        texts=[t for p in parts for t in p.texts],
        labels=np.concatenate([p.labels for p in parts]),
        label_names=list(first.label_names),
        name=first.name,
    )


def train_classifier(
    data: str | PathLike | TextDataset,
    *,
    data_dir: PathLike | None = None,
    text_column: str | int = "text",
    label_column: str | int = "label",
    model: str = "bow-mlp",
    mode: str = "multi_hot",
    ngram_range: tuple[int, int] = (1, 1),
    max_tokens: int | None = None,
    min_count: int = 1,
    maxlen: int | None = None,
    nbsvm: bool = False,
    hidden_sizes: Sequence[int] = (),
    dropout: float = 0.0,
    model_options: dict[str, Any] | None = None,
    vectorizer_options: dict[str, Any] | None = None,
    epochs: int = 10,
    batch_size: int = 32,
    optimizer: str = "adam",
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    val_split: float = 0.2,
    patience: int | None = None,
    monitor: str | None = None,
    seed: int = 0,
    device: str = "auto",
    out: PathLike | None = None,
    resume: bool = False,
    progress: bool = True,
    max_steps: int | None = None,
) -> Run:
    """Load ``data``, fit a TextVectorizer on its training texts, build ``model`` and train it.

    ``data`` is read by :func:`load_dataset` (its ``"train"`` split; for snippets and bbc the
    seeded 80% part, so ``--split test`` of ``classify evaluate`` is never trained on).

    Bag models (``bow-mlp``) get a vectorizer with ``output_mode=mode``; sequence models an
    int-mode one (with ``maxlen``). ``nbsvm=True`` turns on ``nb_scaling`` (NBSVM-style
    log-count-ratio features). ``model_options`` go to the model's constructor,
    ``vectorizer_options`` to TextVectorizer's. The model's weights are drawn with ``seed``.

    >>> run = train_classifier("snippets", ngram_range=(1, 2), nbsvm=True,
    ...                        out="runs/snippets")  # doctest: +SKIP
    >>> run.metrics["val"]["accuracy"]  # doctest: +SKIP
    0.78
    """
    from seqlab.models import get
    from seqlab.text import TextVectorizer
    from seqlab.training.trainer import fit

    train = load_dataset(
        data,
        split="train",
        data_dir=data_dir,
        seed=seed,
        text_column=text_column,
        label_column=label_column,
    )
    cls = get(model)
    input_kind = getattr(cls, "input_kind", None)
    if input_kind == "bag" and mode not in BAG_MODES:
        raise ValueError(f"mode must be one of {BAG_MODES} for model {model!r}, got {mode!r}")
    vec_kwargs: dict[str, Any] = {
        "max_tokens": max_tokens,
        "min_count": min_count,
        "ngram_range": tuple(ngram_range),
        "output_mode": mode if input_kind == "bag" else "int",
    }
    if input_kind != "bag":
        vec_kwargs["maxlen"] = maxlen
    vec_kwargs.update(vectorizer_options or {})
    vectorizer = TextVectorizer(**vec_kwargs).fit(train.texts)

    kwargs: dict[str, Any] = {"vocab_size": vectorizer.vocab_size, "num_classes": train.num_classes}
    if hidden_sizes:
        kwargs["hidden_sizes"] = tuple(hidden_sizes)
    if dropout:
        kwargs["dropout"] = dropout
    if nbsvm:
        kwargs["nb_scaling"] = True
    kwargs.update(model_options or {})
    accepted = inspect.signature(cls.__init__).parameters
    unknown = sorted(k for k in kwargs if k not in accepted)
    if unknown:
        raise ValueError(
            f"model {model!r} does not take {', '.join(unknown)}; it takes "
            f"{', '.join(p for p in accepted if p != 'self')}"
        )
    with torch.random.fork_rng(devices=[]):  # seeded initial weights, global RNG untouched
        torch.manual_seed(seed)
        net = cls(**kwargs)
    meta = {
        "data": str(data) if not isinstance(data, TextDataset) else (data.name or "dataset"),
        "vectorizer": {k: list(v) if isinstance(v, tuple) else v for k, v in vec_kwargs.items()},
    }
    return fit(
        net,
        vectorizer,
        train,
        val_split=val_split,
        epochs=epochs,
        batch_size=batch_size,
        optimizer=optimizer,
        lr=lr,
        weight_decay=weight_decay,
        patience=patience,
        monitor=monitor,
        out=out,
        seed=seed,
        device=device,
        resume=resume,
        progress=progress,
        max_steps=max_steps,
        meta=meta,
    )
