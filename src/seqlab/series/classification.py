"""Sequence classification: a small protocol, a registry of classifiers by name, and the
job behind ``seqlab series classify`` (hyper-parameters chosen on a validation split of the
training set, accuracy and confusion on the test set).

Sequence classifiers follow a small protocol (``fit(sequences, labels) -> self``,
``predict(sequences) -> labels``) and are registered by name, so that another model (an
LSTM, a TDNN) plugs in with :func:`register_sequence_classifier`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from seqlab._utils import PathLike
from seqlab.series import data as sdata
from seqlab.series._outputs import JobOutputs
from seqlab.series.data import stratified_split
from seqlab.series.forecast import NEURAL_MODELS, _grid
from seqlab.series.loaders import TrackColumns, load_sequence_dataset

__all__ = [
    "ClassificationReport",
    "SequenceClassifier",
    "evaluate_classifier",
    "register_sequence_classifier",
    "run_classify",
    "sequence_classifiers",
]


@runtime_checkable
class SequenceClassifier(Protocol):
    """``fit(sequences, labels) -> self`` and ``predict(sequences) -> labels``.

    ``sequences`` is a list of (T_i, D) float arrays (variable lengths); labels are ints.
    """

    def fit(self, sequences: list[np.ndarray], labels: np.ndarray) -> SequenceClassifier: ...

    def predict(self, sequences: list[np.ndarray]) -> np.ndarray: ...


def _esn_classifier(**kwargs: Any) -> SequenceClassifier:
    from seqlab.models.esn import ESNClassifier

    return ESNClassifier(**kwargs)


_CLASSIFIERS: dict[str, Callable[..., SequenceClassifier]] = {"esn": _esn_classifier}


def register_sequence_classifier(name: str, factory: Callable[..., SequenceClassifier]) -> None:
    """Make ``factory(**kwargs)`` available as ``model=name`` in :func:`evaluate_classifier`."""
    _CLASSIFIERS[name] = factory


def sequence_classifiers() -> list[str]:
    """Names of the registered sequence classifiers."""
    return sorted(_CLASSIFIERS)


@dataclass
class ClassificationReport:
    """Accuracy of a sequence classifier (chosen on validation) on the test set."""

    model: str
    kwargs: dict[str, Any]
    test_accuracy: float
    confusion: np.ndarray
    label_names: list[str]
    val_results: list[dict[str, Any]] = field(default_factory=list)
    fit_seconds: float = 0.0
    classifier: Any = field(default=None, repr=False)  # refitted on all of train; not in to_dict

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "kwargs": self.kwargs,
            "test_accuracy": self.test_accuracy,
            "confusion": self.confusion.tolist(),
            "label_names": self.label_names,
            "val_results": self.val_results,
            "fit_seconds": self.fit_seconds,
        }


def _build_classifier(
    model: str | Callable[..., SequenceClassifier], kwargs: dict[str, Any]
) -> SequenceClassifier:
    if isinstance(model, str):
        if model not in _CLASSIFIERS:
            raise ValueError(
                f"unknown sequence classifier {model!r}; choose one of: "
                f"{', '.join(sequence_classifiers())}"
            )
        return _CLASSIFIERS[model](**kwargs)
    return model(**kwargs)


def _val_loss(clf: Any, seqs: list[np.ndarray], labels: np.ndarray) -> float | None:
    """Mean squared error of the class scores against one-hot targets (None without scores)."""
    scores_fn = getattr(clf, "decision_function", None)
    classes = getattr(clf, "classes_", None)
    if scores_fn is None or classes is None:
        return None
    scores = np.asarray(scores_fn(seqs), dtype=np.float64)
    index = {c: i for i, c in enumerate(classes)}
    target = np.zeros_like(scores)
    for row, lab in enumerate(labels.tolist()):
        if lab in index:
            target[row, index[lab]] = 1.0
    return float(np.mean((scores - target) ** 2))


def evaluate_classifier(
    train: sdata.SequenceDataset,
    test: sdata.SequenceDataset,
    model: str | Callable[..., SequenceClassifier] = "esn",
    model_kwargs: dict[str, Any] | None = None,
    *,
    grid: dict[str, Iterable[Any]] | None = None,
    val_split: float = 0.2,
    seed: int = 0,
) -> ClassificationReport:
    """Choose hyper-parameters on a stratified ``val_split`` of ``train``, refit on all of
    ``train``, report accuracy and the confusion matrix on ``test``.

    The best validation accuracy wins; ties go to the lowest validation loss (mean squared
    error of ``decision_function`` scores against one-hot targets, when the model has one).

    >>> rng = np.random.default_rng(0)
    >>> seqs = [rng.normal(size=(8, 2)) + (i % 2) for i in range(40)]
    >>> ds = sdata.SequenceDataset(seqs, [i % 2 for i in range(40)], ["a", "b"])
    >>> rep = evaluate_classifier(ds, ds, "esn", {"units": 30}, grid={"ridge": [1e-3, 1.0]})
    >>> rep.test_accuracy > 0.9, len(rep.val_results)
    (True, 2)
    """
    base = dict(model_kwargs or {})
    rows: list[dict[str, Any]] = []
    chosen = base
    if grid:
        tr, va = stratified_split(train.labels, val_split, seed)
        tr_seqs = [train.sequences[i] for i in tr]
        va_seqs = [train.sequences[i] for i in va]
        for combo in _grid(grid):
            kwargs = {**base, **combo}
            clf = _build_classifier(model, kwargs).fit(tr_seqs, train.labels[tr])
            acc = float(np.mean(np.asarray(clf.predict(va_seqs)) == train.labels[va]))
            rows.append(
                {
                    "kwargs": kwargs,
                    "val_accuracy": acc,
                    "val_loss": _val_loss(clf, va_seqs, train.labels[va]),
                }
            )
        # accuracy first; a small validation set often ties, so the loss breaks ties
        chosen = min(
            rows,
            key=lambda r: (-r["val_accuracy"], np.inf if r["val_loss"] is None else r["val_loss"]),
        )["kwargs"]
    start = time.perf_counter()
    clf = _build_classifier(model, chosen).fit(list(train.sequences), train.labels)
    fit_seconds = time.perf_counter() - start
    pred = np.asarray(clf.predict(list(test.sequences))).astype(np.int64)
    c = max(train.num_classes, test.num_classes)
    confusion = np.zeros((c, c), dtype=np.int64)
    np.add.at(confusion, (test.labels, pred), 1)
    return ClassificationReport(
        model if isinstance(model, str) else getattr(model, "__name__", "model"),
        dict(chosen),
        float(np.mean(pred == test.labels)),
        confusion,
        list(test.label_names),
        rows,
        fit_seconds,
        clf,
    )


def run_classify(
    data: str,
    model: str = "esn",
    model_kwargs: dict[str, Any] | None = None,
    *,
    tracks: TrackColumns | None = None,
    test_split: float = 0.2,
    grid: dict[str, Iterable[Any]] | None = None,
    data_dir: PathLike | None = None,
    val_split: float = 0.2,
    seed: int = 0,
    out: PathLike | None = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Classify a named sequence dataset, or the CSV of labelled tracks ``data`` read with
    the ``tracks`` columns (split by ``test_split`` and ``seed``, see
    :func:`~seqlab.series.loaders.load_sequence_dataset`); return a JSON-able dict.

    With ``out``: ``metrics.json`` and ``confusion.png``; for a neural model, its run folder
    around them (``seqlab.load(out)`` gives the classifier refitted on all of train back; a
    folder holding a run is refused unless ``overwrite``).
    """
    from seqlab.series.plots import plot_confusion

    neural = isinstance(model, str) and model in NEURAL_MODELS
    with JobOutputs(out, run_folder=neural, overwrite=overwrite) as outputs:
        train, test = load_sequence_dataset(
            data, data_dir, tracks=tracks, test_split=test_split, seed=seed
        )
        rep = evaluate_classifier(
            train, test, model, model_kwargs, grid=grid, val_split=val_split, seed=seed
        )
        result = {"data": data, "n_train": len(train), "n_test": len(test), **rep.to_dict()}
        experiment: dict[str, Any] = {"data": data, "label_names": rep.label_names, "seed": seed}
        if tracks is not None:
            experiment.update(tracks=asdict(tracks), test_split=test_split)
        outputs.write(
            result,
            "confusion.png",
            lambda path: plot_confusion(
                rep.confusion,
                rep.label_names,
                path,
                title=f"{data}: test accuracy {rep.test_accuracy:.3f}",
            ),
            model=rep.classifier,
            experiment=experiment,
        )
    return result
