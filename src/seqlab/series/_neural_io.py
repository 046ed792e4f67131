"""The run folder of a neural series model (:class:`~seqlab.series.neural.NeuralForecaster`,
:class:`~seqlab.series.neural.NeuralSequenceClassifier`), in the style of the ESN's
``config.json`` (``task``, ``format``, ``class``, ``config``) and with the files of every
other task's run folder::

    run/
      config.json        {"task": "series-forecast" | "series-classify", "format": 1,
                          "class": "NeuralForecaster", "config": {constructor arguments},
                          "fitted": {what fit learned besides the weights: standardisation
                          statistics, feature counts, classes, best_epoch},
                          "experiment": {the data and its split, scaler, horizon or label
                          names: written by the seqlab series commands}, "seqlab_version"}
      model.safetensors  the weights of the networks, "<i>." before the keys of network i
                         (one network, or one per member of an ensemble)
      history.json       Keras-style {"loss": [...], "val_loss": [...], "epoch": [...], ...}
      metrics.json       the training loop's summary (best epoch, stop reason, ...) and, from
                         the seqlab series commands, their results (test scores ...)
      curves.png         training and validation loss per epoch
      checkpoint/        the loop's resume state, when trained with fit(..., out=...)

:meth:`NeuralBase.load <seqlab.series._neural_base.NeuralBase.load>` rebuilds the wrapper
with ``cls(**config)``, puts back ``fitted`` and loads the weights, so its predictions equal
the saved model's exactly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from safetensors.torch import load as load_safetensors
from torch import nn

from seqlab._utils import PathLike, json_bytes, read_json
from seqlab.curves import curves_png
from seqlab.runs import FORMAT, read_config, run_task, state_dict_to_bytes
from seqlab.training.protocol import history_dict, history_rows

__all__ = ["TASKS", "read_run", "run_files"]

TASKS = ("series-forecast", "series-classify")


def run_files(
    model: Any,
    experiment: dict[str, Any] | None,
    metrics: dict[str, Any] | None,
    folder: PathLike | None,
) -> dict[str, bytes]:
    """The files of ``model``'s run folder as bytes (see the module docstring)."""
    import seqlab

    config: dict[str, Any] = {
        "task": model.task,
        "format": FORMAT,
        "class": type(model).__name__,
        "config": model.config,
        "fitted": {**model._fitted_state(), "best_epoch": model.best_epoch_},
    }
    if experiment is not None:
        config["experiment"] = experiment
    config["seqlab_version"] = seqlab.__version__
    history = history_dict(model.history_)
    files = {
        "config.json": json_bytes(config),
        "model.safetensors": state_dict_to_bytes(nn.ModuleList(model._networks()).state_dict()),
        "history.json": json_bytes(history),
        "metrics.json": json_bytes({**model.metrics_, **(metrics or {})}),
    }
    if any(v is not None for v in history.get("loss", [])):
        title = f"{type(model).__name__} {model.model}"
        if folder is not None:
            title += f" ({Path(folder).name})"
        files["curves.png"] = curves_png(history, title=title)
    return files


def read_run(
    path: Path, cls: type
) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    """``(config, weights, history rows, metrics)`` of the run folder ``path`` of a ``cls``,
    with one-line errors for another task's folder or a missing file."""
    config = read_config(path)
    task = run_task(config)
    if task != cls.task or config.get("class") != cls.__name__:
        raise ValueError(
            f"{path} holds a {task!r} run ({config.get('class')}), not a {cls.__name__} "
            f"({cls.task!r}); load it with seqlab.load(path)"
        )
    weights = path / "model.safetensors"
    if not weights.is_file():
        raise FileNotFoundError(
            f"{weights} is missing, so {str(path)!r} is not a complete run folder (it needs "
            "config.json and model.safetensors); save the model again"
        )
    tensors = load_safetensors(weights.read_bytes())
    history = (
        history_rows(read_json(path / "history.json")) if (path / "history.json").is_file() else []
    )
    metrics = read_json(path / "metrics.json") if (path / "metrics.json").is_file() else {}
    return config, tensors, history, metrics
