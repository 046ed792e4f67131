"""What :func:`seqlab.fit` checks before it trains: the data (texts, a stream or
Keras-style arrays), the model against it, and the arguments; one-line errors that name the
parameter, the value and the fix."""

from __future__ import annotations

from typing import Any

import numpy as np
from torch import nn

from seqlab._checks import check_choice
from seqlab._utils import PathLike
from seqlab.data.arrays import ArrayDataset, from_arrays
from seqlab.data.base import TextDataset
from seqlab.data.streaming import TextStream
from seqlab.runs import Run
from seqlab.training import distributed

__all__: list[str] = []

MONITORS = ("val_loss", "val_accuracy", "val_f1_macro", "loss", "accuracy", "f1_macro")


def _arrays(model: nn.Module, vectorizer: Any, train: Any, val: Any) -> tuple[Any, Any]:
    """Keras-style ``(x, y)`` arrays as :class:`~seqlab.data.arrays.ArrayDataset`s."""
    if not isinstance(train, tuple):
        if isinstance(val, tuple):
            raise TypeError(
                "val is (x, y) arrays but train is not; give both as arrays or both as datasets"
            )
        return train, val
    if len(train) != 2:
        raise ValueError(f"train as arrays is a pair (x, y), got a tuple of {len(train)}")
    if vectorizer is not None:
        raise ValueError(
            "train is (x, y) arrays, already numbers, so there is nothing to vectorize: pass "
            "vectorizer=None"
        )
    kind = getattr(model, "input_kind", None)
    vocab_size = (getattr(model, "config", None) or {}).get("vocab_size")
    if kind not in ("bag", "sequence"):
        raise TypeError(
            f"{type(model).__name__} has input_kind={kind!r}; arrays train a seqlab classifier "
            "(input_kind 'bag' or 'sequence')"
        )
    kw: dict[str, Any] = {"input_kind": kind, "vocab_size": vocab_size}
    out = from_arrays(*train, **kw)
    if isinstance(val, tuple):
        if len(val) != 2:
            raise ValueError(f"val as arrays is a pair (x, y), got a tuple of {len(val)}")
        val = from_arrays(*val, **kw, label_names=out.label_names, name="val")
        if int(val.labels.max(initial=0)) >= len(out.label_names):
            raise ValueError(
                f"val has label {int(val.labels.max())} but train's labels are 0.."
                f"{len(out.label_names) - 1}; give val labels that train has"
            )
    elif val is not None:
        raise TypeError("train is (x, y) arrays: give val as (x, y) arrays too")
    return out, val


def _check_inputs(
    model: nn.Module, vectorizer: Any, train: Any, out: PathLike | None, batch_size: int
) -> tuple[str, list[str]]:
    """Refuse what cannot train; the model's input kind and the label names."""
    if isinstance(train, TextStream):
        _check_stream(train, model)
    else:
        _check_dataset(train, "train")
    distributed.check_batch_size(batch_size)
    input_kind = getattr(model, "input_kind", None)
    if input_kind not in ("bag", "sequence"):
        raise TypeError(
            f"{type(model).__name__} has input_kind={input_kind!r}; a seqlab classifier sets "
            "the class attribute input_kind = 'bag' or 'sequence'"
        )
    labels = [str(x) for x in train.label_names]
    _check_model_matches(model, vectorizer, len(labels), isinstance(train, ArrayDataset))
    if out is not None:
        Run(model, vectorizer, labels).config_dict()  # fail now, not after training
    return input_kind, labels


def _check_monitor(monitor: str | None, has_val: bool) -> str:
    monitor = monitor or ("val_loss" if has_val else "loss")
    check_choice("monitor", monitor, MONITORS)
    if monitor.startswith("val_") and not has_val:
        raise ValueError(
            f"monitor={monitor!r} needs validation data but val_split=0 and val=None; "
            "pass val_split=0.2, val=..., or monitor='loss'"
        )
    return monitor


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


def _check_dataset(ds: Any, name: str, need_two_classes: bool = True) -> None:
    if not isinstance(ds, TextDataset | ArrayDataset):
        raise TypeError(
            f"{name} must be a seqlab TextDataset (texts + labels) or (x, y) arrays, got "
            f"{type(ds).__name__}; build one with seqlab.data.base.TextDataset(texts, labels, "
            "label_names)"
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


def _check_model_matches(
    model: nn.Module, vectorizer: Any, num_classes: int, arrays: bool = False
) -> None:
    config = getattr(model, "config", {}) or {}
    if "num_classes" in config and config["num_classes"] != num_classes:
        raise ValueError(
            f"the model has num_classes={config['num_classes']} but the data has "
            f"{num_classes} label names; build the model with num_classes={num_classes}"
        )
    if arrays:
        return  # the ids were checked against the model's vocab_size (data.arrays)
    if vectorizer is None:
        raise ValueError(
            "vectorizer is None but train holds texts; fit a vectorizer on them "
            "(TextVectorizer().fit(train.texts)), or pass (x, y) arrays of numbers"
        )
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


def _check_args(
    epochs: Any, batch_size: Any, patience: Any, val_split: Any, max_steps: Any
) -> None:
    def positive_int(name: str, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")

    positive_int("epochs", epochs)
    positive_int("batch_size", batch_size)
    if patience is not None:
        positive_int("patience", patience)
    if max_steps is not None:
        positive_int("max_steps", max_steps)
    vs = val_split
    if vs is not None and not 0.0 <= vs < 1.0:
        raise ValueError(f"val_split must be in [0, 1), got {vs!r}; use 0 for no validation")
