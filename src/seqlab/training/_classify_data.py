"""The data of :func:`seqlab.training.classify.train_classifier`: a labelled dataset from a
name, a path or a dataset (:func:`load_dataset`), or a stream of a file larger than memory."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from seqlab._checks import check_choice
from seqlab._utils import PathLike
from seqlab.data.base import TextDataset

if TYPE_CHECKING:
    from seqlab.training.classify import ClassifyConfig

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
    check_choice("split", split, SPLITS)
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


def training_data(data: str | PathLike | TextDataset, cfg: ClassifyConfig) -> Any:
    """The training part of ``data`` (see :func:`load_dataset`), or with ``cfg.stream`` a
    :class:`~seqlab.data.streaming.TextStream` of the JSONL / TSV file."""
    if not cfg.stream:
        return load_dataset(
            data,
            split="train",
            data_dir=cfg.data_dir,
            seed=cfg.seed,
            text_column=cfg.text_column,
            label_column=cfg.label_column,
        )
    from seqlab.data.streaming import TextStream

    if isinstance(data, TextDataset) or not Path(data).expanduser().is_file():
        raise ValueError(
            f"stream=True reads a JSONL or TSV file, got data={data!r}; give the path of "
            "one (named datasets and folders are loaded in memory: drop stream)"
        )
    return TextStream(
        data,
        text_column=cfg.text_column,
        label_column=cfg.label_column,
        num_workers=cfg.num_workers,
    )
