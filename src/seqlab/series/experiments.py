"""End-to-end series jobs, one library function per CLI command.

* :func:`load_series` / :func:`load_sequence_dataset`: data by name, a CSV path or a CSV of
  labelled tracks (:mod:`seqlab.series.loaders`).
* :func:`run_evaluate`: a forecaster against persistence and linear-AR, metrics + plot (a
  neural model: its run folder around them).
* :func:`run_fit` / :func:`run_forecast`: fit an ESN forecaster into a folder, then forecast
  closed-loop from it.
* :func:`evaluate_classifier` / :func:`run_classify`: sequence classification (e.g. Japanese
  Vowels, or GPS-style tracks) with hyper-parameters chosen on a validation split of the
  training set (:mod:`seqlab.series.classification`, re-exported here).

The neural networks (:data:`NEURAL_MODELS`) are registered here, by name, as forecasters
and as sequence classifiers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from seqlab._utils import PathLike, atomic_write_json, read_json
from seqlab.series._outputs import JobOutputs
from seqlab.series.classification import (
    ClassificationReport,
    SequenceClassifier,
    evaluate_classifier,
    register_sequence_classifier,
    run_classify,
    sequence_classifiers,
)
from seqlab.series.data import stratified_split
from seqlab.series.forecast import (
    NEURAL_MODELS,
    ESNForecaster,
    StandardScaler,
    evaluate_forecast,
    forecast_metrics,
    register_forecaster,
    split_by_time,
    tune_forecaster,
)
from seqlab.series.loaders import TrackColumns, load_sequence_dataset, load_series

__all__ = [
    "NEURAL_MODELS",
    "ClassificationReport",
    "SequenceClassifier",
    "TrackColumns",
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
    overwrite: bool = False,
    skip_blank_rows: bool = False,
) -> dict[str, Any]:
    """Evaluate a forecaster on a series against persistence and linear-AR; return a JSON-able dict.

    With ``grid``, hyper-parameters are first chosen on the validation steps
    (:func:`~seqlab.series.forecast.tune_forecaster`). With ``out``, writes ``metrics.json``
    and ``forecast.png`` (test predictions against the truth) there; for a neural model, its
    run folder around them: ``seqlab.load(out)`` gives back the forecaster that made the
    test predictions (fitted on train + validation), which reads the series standardised
    with ``config.json``'s ``experiment.scaler`` and predicts ``horizon`` steps ahead (a
    folder holding a run is refused unless ``overwrite``).

    >>> r = run_evaluate("sine", "esn", {"units": 30, "warmup": 50}, n_timesteps=600)
    >>> sorted(r["metrics"])
    ['esn', 'linear-ar', 'persistence']
    """
    from seqlab.series.plots import plot_forecast

    neural = isinstance(model, str) and model in NEURAL_MODELS
    with JobOutputs(out, run_folder=neural, overwrite=overwrite) as outputs:
        ts = load_series(data, data_dir, n_timesteps, skip_blank_rows=skip_blank_rows)
        kwargs = dict(model_kwargs or {})
        tuning = None
        if grid:
            kwargs, tuning = tune_forecaster(
                ts.values, model, grid, kwargs, horizon=horizon, val=val, test=test, scale=scale
            )
        lag_list = [lags] if isinstance(lags, int) else list(lags)
        rep = evaluate_forecast(
            ts.values, model, kwargs, horizon=horizon, lags=lag_list, val=val, test=test,
            scale=scale,
        )  # fmt: skip
        result = {"data": ts.name, "n_timesteps": len(ts), **rep.to_dict()}
        if tuning is not None:
            result["tuning"] = tuning
        experiment = {"data": data, "name": ts.name, "n_timesteps": len(ts), "horizon": horizon}
        experiment.update(split=result["split"], scaler=rep.config["scaler"])
        outputs.write(
            result,
            "forecast.png",
            lambda path: plot_forecast(
                rep.truth["test"],
                {k: v["test"] for k, v in rep.predictions.items()},
                path,
                index=rep.target_index["test"],
                title=f"{ts.name}: one-step test forecast (horizon {horizon})",
            ),
            model=rep.fitted,
            experiment=experiment,
        )
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
    skip_blank_rows: bool = False,
) -> dict[str, Any]:
    """Fit a one-step-ahead ESN on the train part of a series and save it to ``out``.

    The series is standardised with the train mean / std unless ``scale=False``.
    ``out`` receives ``model/`` (:meth:`ESN.save`), ``series.json`` (data name, split,
    scaler), ``metrics.json`` (one-step validation metrics) and ``fit.png``.
    """
    ts = load_series(data, data_dir, n_timesteps, skip_blank_rows=skip_blank_rows)
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
        "skip_blank_rows": skip_blank_rows,
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
    ts = load_series(
        info["data"],
        data_dir,
        info["n_timesteps"],
        skip_blank_rows=info.get("skip_blank_rows", False),
    )
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
# The neural models, registered under their network's name as forecasters and classifiers
# --------------------------------------------------------------------------------------


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
