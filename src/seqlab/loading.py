"""``seqlab.load``: any run folder back as a ready object, whatever task wrote it.

``config.json`` names the task (``"task"``) and the run-folder format (``"format"``, 1):

* ``classify``: :func:`seqlab.fit`, ``seqlab classify train`` -> :class:`seqlab.runs.Run`
* ``classify-ensemble``: :func:`seqlab.ensemble.build_ensemble`, ``seqlab classify
  ensemble`` -> :class:`seqlab.ensemble.Ensemble` (a ``Run``)
* ``lm``: :func:`seqlab.lm.train`, ``seqlab lm train`` -> ``LanguageModel``
* ``esn``: ``ESN.save`` -> ``ESN``; ``esn-classifier``: ``ESNClassifier.save`` ->
  ``ESNClassifier``
* ``series-forecast``: ``NeuralForecaster.save`` or ``.fit(..., out=...)``, ``seqlab series
  evaluate --model lstm --out`` -> ``NeuralForecaster``
* ``series-classify``: ``NeuralSequenceClassifier.save`` or ``.fit(..., out=...)``,
  ``seqlab series classify --model lstm --out`` -> ``NeuralSequenceClassifier``

This module sits above the task packages (it imports each of them); the task packages
never import it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from seqlab._utils import PathLike
from seqlab.runs import Run, read_config, run_task
from seqlab.runs import load as load_run

__all__ = ["TASKS", "load", "load_classifier"]

TASKS = (
    "classify",
    "classify-ensemble",
    "lm",
    "esn",
    "esn-classifier",
    "series-forecast",
    "series-classify",
)


def load(path: PathLike, device: str | torch.device = "auto") -> Any:
    """Load the run folder ``path`` written by any seqlab task (see the module docstring).

    >>> run = seqlab.load("runs/demo")  # doctest: +SKIP
    >>> run.predict(["an instant classic"])  # doctest: +SKIP
    ['pos']
    """
    path = Path(path)
    config = read_config(path)
    task = run_task(config)
    if task == "classify":
        return load_run(path, device=device)
    if task == "classify-ensemble":
        from seqlab.ensemble import load as load_ensemble

        return load_ensemble(path, device=device)
    if task == "lm":
        from seqlab.lm.model import LanguageModel

        return LanguageModel.load(path, device=device)
    if task in ("esn", "esn-classifier"):
        from seqlab.models.esn import ESN, ESNClassifier

        return (ESN if task == "esn" else ESNClassifier).load(path)
    if task in ("series-forecast", "series-classify"):
        from seqlab.series.neural import NeuralForecaster, NeuralSequenceClassifier

        cls = NeuralForecaster if task == "series-forecast" else NeuralSequenceClassifier
        return cls.load(path, device=str(device))
    raise ValueError(
        f"{path / 'config.json'} has task {config.get('task')!r}; seqlab.load reads "
        f"{', '.join(repr(t) for t in TASKS)} run folders"
    )


def load_classifier(path: PathLike, device: str | torch.device = "auto") -> Run:
    """A text classifier's run folder: a :class:`seqlab.runs.Run`, or an ensemble of runs
    (:class:`seqlab.ensemble.Ensemble`, itself a ``Run``); any other task is refused with
    :func:`seqlab.runs.load`'s message.

    >>> seqlab.loading.load_classifier("runs/ens").predict(["a dull mess"])  # doctest: +SKIP
    ['neg']
    """
    if run_task(read_config(Path(path))) == "classify-ensemble":
        return load(path, device=device)
    return load_run(path, device=device)
