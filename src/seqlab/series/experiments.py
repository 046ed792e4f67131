"""End-to-end series jobs, one library function per CLI command.

* :func:`load_series` / :func:`load_sequence_dataset`: data by name (or a CSV path).
* :func:`run_evaluate`: a forecaster against persistence and linear-AR, metrics + plot.
* :func:`run_fit` / :func:`run_forecast`: fit an ESN forecaster into a folder, then forecast
  closed-loop from it.
* :func:`evaluate_classifier` / :func:`run_classify`: sequence classification (e.g. Japanese
  Vowels) with hyper-parameters chosen on a validation split of the training set.

Sequence classifiers follow a small protocol (``fit(sequences, labels) -> self``,
``predict(sequences) -> labels``) and are registered by name, so that another model (an
LSTM, a TDNN) plugs in with :func:`register_sequence_classifier`.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from seqlab._utils import PathLike, atomic_write_json, read_json
from seqlab.series import data as sdata
from seqlab.series.data import stratified_split
from seqlab.series.forecast import (
    NEURAL_MODELS,
    ESNForecaster,
    StandardScaler,
    _grid,
    evaluate_forecast,
    forecast_metrics,
    register_forecaster,
    split_by_time,
    tune_forecaster,
)

__all__ = [
    "NEURAL_MODELS",
    "ClassificationReport",
    "SequenceClassifier",
    "evaluate_classifier",
    "load_sequence_dataset",
    "load_series",
    "register_sequence_classifier",
    "run_classify",
    "run_evaluate",
    "run_fit",
    "run_forecast",
    "sequence_classifiers",
    "stratified_split",
]

SERIES_NAMES = ("mackey-glass", "sine", "laser", "sunspots")
SEQUENCE_DATASETS = ("japanese-vowels",)


# --------------------------------------------------------------------------------------
# Data by name
# --------------------------------------------------------------------------------------


def load_series(
    name: str,
    data_dir: PathLike | None = None,
    n_timesteps: int | None = None,
    tau: int = 17,
    column: str | None = None,
) -> sdata.TimeSeries:
    """A series by name: ``mackey-glass`` (``n_timesteps``, default 2000, ``tau``), ``sine``,
    ``laser``, ``sunspots``, or the path of a CSV with a header (``column`` picks one numeric
    column; default: every column whose values are all numbers).

    ``n_timesteps`` also truncates the real series (their first steps are kept).

    >>> load_series("mackey-glass", n_timesteps=100).values.shape
    (100, 1)
    """
    if name == "mackey-glass":
        n = 2000 if n_timesteps is None else n_timesteps
        return sdata.TimeSeries(
            sdata.mackey_glass(n, tau=tau), None, f"mackey-glass-tau{tau}", ["x"]
        )
    if name == "sine":
        n = 2000 if n_timesteps is None else n_timesteps
        return sdata.TimeSeries(sdata.sine_mixture(n), None, "sine", ["x"])
    if name == "laser":
        ts = sdata.santafe_laser(data_dir)
    elif name == "sunspots":
        ts = sdata.sunspots(data_dir)
    elif name.lower().endswith(".csv"):
        ts = _series_from_csv(Path(name), column)
    else:
        raise ValueError(
            f"unknown series {name!r}; choose one of {', '.join(SERIES_NAMES)} or a .csv path"
        )
    if n_timesteps is not None:
        if n_timesteps < 1:
            raise ValueError(f"n_timesteps must be >= 1, got {n_timesteps}")
        ts = sdata.TimeSeries(
            ts.values[:n_timesteps],
            None if ts.time is None else ts.time[:n_timesteps],
            ts.name,
            ts.columns,
        )
    return ts


def _series_from_csv(path: Path, column: str | None) -> sdata.TimeSeries:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such CSV file")
    with open(path, newline="", encoding="utf-8") as f:
        rows = [r for r in csv.reader(f) if r]
    if len(rows) < 2:
        raise ValueError(f"{path} needs a header row and at least one data row")
    header, body = rows[0], rows[1:]

    def numeric(j: int) -> bool:
        try:
            [float(r[j]) for r in body]
        except (ValueError, IndexError):
            return False
        return True

    if column is not None:
        if column not in header:
            raise ValueError(f"{path} has no column {column!r}; its columns are {header}")
        cols = [header.index(column)]
        if not numeric(cols[0]):
            raise ValueError(f"{path}: column {column!r} is not numeric")
    else:
        cols = [j for j in range(len(header)) if numeric(j)]
        if not cols:
            raise ValueError(f"{path} has no numeric column; pass column= to choose one")
    values = np.array([[float(r[j]) for j in cols] for r in body])
    return sdata.TimeSeries(values, None, path.stem, [header[j] for j in cols])


def load_sequence_dataset(
    name: str, data_dir: PathLike | None = None
) -> tuple[sdata.SequenceDataset, sdata.SequenceDataset]:
    """``(train, test)`` of a labelled sequence dataset; only ``japanese-vowels`` for now."""
    if name == "japanese-vowels":
        return sdata.japanese_vowels("train", data_dir), sdata.japanese_vowels("test", data_dir)
    raise ValueError(f"unknown sequence dataset {name!r}; choose one of {list(SEQUENCE_DATASETS)}")


# --------------------------------------------------------------------------------------
# Forecasting jobs
# --------------------------------------------------------------------------------------


def run_evaluate(
    data: str,
    model: str = "esn",
    model_kwargs: dict[str, Any] | None = None,
    *,
    grid: dict[str, Iterable[Any]] | None = None,
    data_dir: PathLike | None = None,
    n_timesteps: int | None = None,
    horizon: int = 1,
    lags: int | Iterable[int] = (1, 2, 5, 10, 20, 50, 100),
    val: float = 0.1,
    test: float = 0.2,
    scale: bool = True,
    out: PathLike | None = None,
) -> dict[str, Any]:
    """Evaluate a forecaster on a series against persistence and linear-AR; return a JSON-able dict.

    With ``grid``, hyper-parameters are first chosen on the validation steps
    (:func:`~seqlab.series.forecast.tune_forecaster`). With ``out``, writes ``metrics.json``
    and ``forecast.png`` (test predictions against the truth) there.

    >>> r = run_evaluate("sine", "esn", {"units": 30, "warmup": 50}, n_timesteps=600)
    >>> sorted(r["metrics"])
    ['esn', 'linear-ar', 'persistence']
    """
    ts = load_series(data, data_dir, n_timesteps)
    kwargs = dict(model_kwargs or {})
    tuning = None
    if grid:
        best, rows = tune_forecaster(
            ts.values, model, grid, kwargs, horizon=horizon, val=val, test=test, scale=scale
        )
        kwargs, tuning = best, rows
    lag_list = [lags] if isinstance(lags, int) else list(lags)
    rep = evaluate_forecast(
        ts.values, model, kwargs, horizon=horizon, lags=lag_list, val=val, test=test, scale=scale
    )
    result = {"data": ts.name, "n_timesteps": len(ts), **rep.to_dict()}
    if tuning is not None:
        result["tuning"] = tuning
    if out is not None:
        from seqlab.series.plots import plot_forecast

        folder = Path(out)
        plot_forecast(
            rep.truth["test"],
            {k: v["test"] for k, v in rep.predictions.items()},
            folder / "forecast.png",
            index=rep.target_index["test"],
            title=f"{ts.name}: one-step test forecast (horizon {horizon})",
        )
        atomic_write_json(folder / "metrics.json", result)
        result["plot"] = str(folder / "forecast.png")
    return result


def run_fit(
    data: str,
    out: PathLike,
    esn_kwargs: dict[str, Any] | None = None,
    *,
    warmup: int = 100,
    data_dir: PathLike | None = None,
    n_timesteps: int | None = None,
    val: float = 0.1,
    test: float = 0.2,
    scale: bool = True,
) -> dict[str, Any]:
    """Fit a one-step-ahead ESN on the train part of a series and save it to ``out``.

    The series is standardised with the train mean / std unless ``scale=False``.
    ``out`` receives ``model/`` (:meth:`ESN.save`), ``series.json`` (data name, split,
    scaler), ``metrics.json`` (one-step validation metrics) and ``fit.png``.
    """
    ts = load_series(data, data_dir, n_timesteps)
    split = split_by_time(len(ts), val, test)
    scaler = StandardScaler().fit(ts.values[split.train])
    if not scale:
        scaler = StandardScaler.from_dict(
            {"mean": [0.0] * ts.values.shape[1], "scale": [1.0] * ts.values.shape[1]}
        )
    z = scaler.transform(ts.values)
    fc = ESNForecaster(warmup=warmup, **(esn_kwargs or {}))
    train_steps = split.steps("train", 1)
    start = time.perf_counter()
    fc.fit(z[:-1][train_steps], z[1:][train_steps])
    fit_seconds = time.perf_counter() - start
    val_steps = split.steps("val", 1)
    pred = scaler.inverse_transform(fc.predict(z[:-1][: val_steps.stop])[val_steps])
    truth = ts.values[val_steps.start + 1 : val_steps.stop + 1]
    folder = Path(out)
    fc.esn.save(folder / "model")
    info = {
        "data": data,
        "name": ts.name,
        "n_timesteps": len(ts),
        "split": {"n": split.n, "train_end": split.train_end, "val_end": split.val_end},
        "val": val,
        "test": test,
        "warmup": warmup,
        "scaler": scaler.to_dict(),
        "model": {"name": "esn", "config": fc.esn.config},
    }
    atomic_write_json(folder / "series.json", info)
    metrics = {"val": forecast_metrics(truth, pred), "fit_seconds": fit_seconds}
    atomic_write_json(folder / "metrics.json", metrics)
    from seqlab.series.plots import plot_forecast

    plot_forecast(
        truth,
        {"esn": pred},
        folder / "fit.png",
        index=np.arange(val_steps.start + 1, val_steps.stop + 1),
        title=f"{ts.name}: one-step validation forecast",
    )
    return {**info, "metrics": metrics, "out": str(folder)}


def run_forecast(
    run_dir: PathLike,
    n_steps: int = 100,
    *,
    data_dir: PathLike | None = None,
    out: PathLike | None = None,
) -> dict[str, Any]:
    """Closed-loop forecast of ``n_steps`` from the start of the test part with a saved ESN.

    The reservoir is driven (teacher-forced) by the whole series before the test part, then
    runs on its own outputs. Writes ``forecast.json`` and ``generation.png`` to ``out``
    (default: ``run_dir``). NRMSE uses the std of the true values over the forecast window.
    """
    from seqlab.models.esn import ESN
    from seqlab.series.plots import plot_generation

    folder = Path(run_dir)
    if not (folder / "series.json").is_file():
        raise FileNotFoundError(
            f"{folder} has no series.json; give a folder written by `seqlab series fit`"
        )
    info = read_json(folder / "series.json")
    esn = ESN.load(folder / "model")
    ts = load_series(info["data"], data_dir, info["n_timesteps"])
    scaler = StandardScaler.from_dict(info["scaler"])
    start = info["split"]["val_end"]
    available = len(ts) - start
    if n_steps < 1 or n_steps > available:
        raise ValueError(
            f"n_steps must be in [1, {available}] (the test part has {available} steps), got {n_steps}"
        )
    z = scaler.transform(ts.values)
    gen = scaler.inverse_transform(esn.generate(n_steps, warmup_inputs=z[:start]))
    truth = ts.values[start : start + n_steps]
    result = {
        "run": str(folder),
        "n_steps": n_steps,
        "start": start,
        "metrics": forecast_metrics(truth, gen),
    }
    dest = Path(out) if out is not None else folder
    ctx = ts.values[max(0, start - 3 * n_steps) : start]
    plot_generation(
        truth,
        gen,
        dest / "generation.png",
        context=ctx,
        title=f"{info['name']}: {n_steps}-step closed-loop forecast "
        f"(NRMSE {result['metrics']['nrmse']:.3f})",
    )
    atomic_write_json(dest / "forecast.json", result)
    result["plot"] = str(dest / "generation.png")
    return result


# --------------------------------------------------------------------------------------
# Sequence classification
# --------------------------------------------------------------------------------------


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


def _neural_factory(kind: str, name: str) -> Callable[..., Any]:
    """``factory(**kwargs)`` building the ``name`` network as a forecaster or a classifier."""

    def factory(**kwargs: Any) -> Any:
        from seqlab.series import neural

        given = kwargs.pop("model", name)
        if given != name:
            raise ValueError(
                f"model={given!r} was passed to the {name!r} {kind}; drop it or use "
                f"model {given!r} directly"
            )
        cls = neural.NeuralForecaster if kind == "forecaster" else neural.NeuralSequenceClassifier
        return cls(model=name, **kwargs)

    factory.__name__ = name
    return factory


for _name in NEURAL_MODELS:
    register_forecaster(_name, _neural_factory("forecaster", _name))
    register_sequence_classifier(_name, _neural_factory("classifier", _name))


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
    )


def run_classify(
    data: str,
    model: str = "esn",
    model_kwargs: dict[str, Any] | None = None,
    *,
    grid: dict[str, Iterable[Any]] | None = None,
    data_dir: PathLike | None = None,
    val_split: float = 0.2,
    seed: int = 0,
    out: PathLike | None = None,
) -> dict[str, Any]:
    """Classify a named sequence dataset; with ``out`` write ``metrics.json`` and ``confusion.png``."""
    train, test = load_sequence_dataset(data, data_dir)
    rep = evaluate_classifier(
        train, test, model, model_kwargs, grid=grid, val_split=val_split, seed=seed
    )
    result = {"data": data, "n_train": len(train), "n_test": len(test), **rep.to_dict()}
    if out is not None:
        from seqlab.series.plots import plot_confusion

        folder = Path(out)
        plot_confusion(
            rep.confusion,
            rep.label_names,
            folder / "confusion.png",
            title=f"{data}: test accuracy {rep.test_accuracy:.3f}",
        )
        atomic_write_json(folder / "metrics.json", result)
        result["plot"] = str(folder / "confusion.png")
    return result
