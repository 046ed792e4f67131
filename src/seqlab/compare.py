"""Compare finished runs: a table of the settings that differ between them and of their
final and best metrics, and one plot of their learning curves.

Only the run folders' JSON is read (``config.json``, ``history.json``, ``metrics.json``, the
header of ``model.safetensors`` for the parameter count); no model is built. The runs must
be of one task, all classifiers (``classify``) or all language models (``lm``): their
losses are not in the same unit (nats per text, nats per token), so a mixed comparison is
refused rather than drawn on one axis.

>>> table = compare_runs(["runs/bow", "runs/lstm"], metric="val_accuracy")  # doctest: +SKIP
>>> print(table.table()); table.plot("compare.png")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqlab._checks import check_choice
from seqlab._utils import PathLike, atomic_write_bytes, read_json
from seqlab.curves import agg_figure, figure_png
from seqlab.runs import read_config, run_task

__all__ = ["COMPARED_TASKS", "X_AXES", "RunComparison", "RunSummary", "compare_runs", "read_run"]

COMPARED_TASKS = ("classify", "lm")
X_AXES = ("epoch", "step", "time_s")
_SKIPPED = {"task", "format"}  # config.json keys that are the same for every run of a task


@dataclass
class RunSummary:
    """What the comparison reads from one run folder: its flattened ``config.json``
    (``model`` (the name), ``model.hidden_size`` (its config), ``train.lr``, ...), the
    metrics of the table, and ``history.json``."""

    path: Path
    task: str
    settings: dict[str, Any]
    metrics: dict[str, Any]
    history: dict[str, list]


def read_run(path: PathLike) -> RunSummary:
    """The :class:`RunSummary` of the finished run folder ``path`` (one-line errors for a
    folder that is not one, or a task that is not compared).

    >>> read_run("runs/lstm").metrics["val_accuracy"]  # doctest: +SKIP
    0.83
    """
    path = Path(path)
    config = read_config(path)
    task = str(run_task(config))
    if task not in COMPARED_TASKS:
        raise ValueError(
            f"{path} holds a {task!r} run; runs compare reads classifier ('classify') and "
            "language-model ('lm') runs"
        )
    if not (path / "history.json").is_file():
        raise FileNotFoundError(f"{path / 'history.json'} is missing; train the run to its end")
    history = read_json(path / "history.json")
    stored = read_json(path / "metrics.json") if (path / "metrics.json").is_file() else {}
    model = config.get("model") or {}
    settings = {"model": model.get("name"), **_flatten(model.get("config") or {}, "model.")}
    settings.update(_flatten({k: v for k, v in config.items() if k not in _SKIPPED | {"model"}}))
    metrics: dict[str, Any] = {"params": _parameter_count(path / "model.safetensors")}
    metrics["epochs"] = stored.get("epochs_run", stored.get("epochs"))
    metrics["steps"] = stored.get("steps")
    metrics["time_s"] = stored.get("train_time_s")
    metrics["stopped"] = stored.get("stopped")
    for part, prefix in (("train", ""), ("val", "val_"), ("test", "test_")):
        for key, value in (stored.get(part) or {}).items():
            if isinstance(value, int | float) and not isinstance(value, bool) and key != "tokens":
                metrics[prefix + key] = value
    return RunSummary(path, task, settings, metrics, history)


def compare_runs(paths: Sequence[PathLike], metric: str | None = None) -> RunComparison:
    """Read the runs ``paths`` (at least two, of one task) for a :class:`RunComparison` on
    ``metric`` (a history column: the curves drawn and the best value shown), by default
    ``val_accuracy`` for classifiers that have it, else ``val_loss``, else ``loss``."""
    if isinstance(paths, str | Path) or len(paths) < 2:
        raise ValueError(f"runs compare needs at least two run folders, got {paths!r}")
    runs = [read_run(p) for p in paths]
    tasks = sorted({r.task for r in runs})
    if len(tasks) > 1:
        by_task = "; ".join(
            f"{t}: {', '.join(str(r.path) for r in runs if r.task == t)}" for t in tasks
        )
        raise ValueError(
            f"runs compare compares runs of one task (their losses are in different units); "
            f"got {by_task}: compare each task's runs separately"
        )
    if metric is None:
        candidates = ["val_accuracy", "val_loss", "loss"]
        metric = next(c for c in candidates if all(_values(r, c) for r in runs) or c == "loss")
    for r in runs:
        if not _values(r, metric):
            columns = sorted(k for k, v in r.history.items() if any(x is not None for x in v))
            raise ValueError(
                f"metric={metric!r} is not in the history of {r.path} (it has "
                f"{', '.join(columns)}); pick one of those"
            )
    return RunComparison(runs, metric)


class RunComparison:
    """Runs of one task side by side: :meth:`table` (one column per run), :meth:`plot`.

    >>> print(compare_runs(["runs/a", "runs/b"]).table())  # doctest: +SKIP
    """

    def __init__(self, runs: list[RunSummary], metric: str) -> None:
        self.runs = runs
        self.metric = metric
        self.names = _names([r.path for r in runs])

    def differing(self) -> list[str]:
        """The settings whose values are not the same in every run, in config order."""
        keys: list[str] = []
        for r in self.runs:
            keys += [k for k in r.settings if k not in keys]
        first = [k for k in keys if k == "model"]
        return first + [
            k
            for k in keys
            if k != "model" and len({json.dumps(r.settings.get(k)) for r in self.runs}) > 1
        ]

    def rows(self) -> list[tuple[str, list[Any]]]:
        """The table as ``(row name, one value per run)``: the differing settings, then the
        metrics (``-`` where a run has none), then the best value of the metric."""
        rows = [(k, [r.settings.get(k) for r in self.runs]) for k in self.differing()]
        keys: list[str] = []
        for r in self.runs:
            keys += [k for k in r.metrics if k not in keys]
        rows += [(k, [r.metrics.get(k) for r in self.runs]) for k in keys]
        best = [self.best(r) for r in self.runs]
        rows.append((f"best {self.metric}", [b[0] for b in best]))
        rows.append((f"best {self.metric} at epoch", [b[1] for b in best]))
        return rows

    def best(self, run: RunSummary) -> tuple[float, Any]:
        """The best value of the metric in ``run``'s history (lowest for a loss, perplexity
        or bits, highest otherwise) and the epoch it was reached at."""
        values = run.history[self.metric]
        epochs = run.history.get("epoch") or [None] * len(values)
        points = [(v, e) for v, e in zip(values, epochs) if v is not None]
        low = any(w in self.metric for w in ("loss", "perplexity", "bits", "nats"))
        return (min if low else max)(points, key=lambda p: p[0])

    def table(self) -> str:
        """The rows as aligned text, one column per run (named by its folder)."""
        lines = [["run", *self.names]] + [[k, *map(_cell, v)] for k, v in self.rows()]
        widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
        aligned = [
            [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths))]
            for line in lines
        ]
        return "\n".join("  ".join(cells).rstrip() for cells in aligned)

    def to_dict(self) -> dict[str, Any]:
        """The comparison as JSON-able data: ``{"metric", "runs", "rows": {name: [...]}}``."""
        return {
            "metric": self.metric,
            "runs": [str(r.path) for r in self.runs],
            "rows": {k: v for k, v in self.rows()},
        }

    def plot_png(self, x: str = "epoch") -> bytes:
        """The curves of the metric against ``x`` (``epoch``, ``step`` or ``time_s``), one
        line per run, as the bytes of a PNG."""
        check_choice("x", x, X_AXES)
        fig = agg_figure()
        ax = fig.subplots()
        for name, r in zip(self.names, self.runs):
            if not r.history.get(x):
                raise ValueError(f"the history of {r.path} has no {x!r} column; use x='epoch'")
            points = [(a, v) for a, v in zip(r.history[x], r.history[self.metric]) if v is not None]
            ax.plot(*zip(*points), "-o", markersize=3, label=name)
        ax.set_xlabel({"time_s": "training time (s)"}.get(x, x))
        ax.set_ylabel(self.metric)
        ax.grid(alpha=0.3)
        ax.legend()
        return figure_png(fig, f"{self.metric} of {len(self.runs)} runs")

    def plot(self, path: PathLike, x: str = "epoch") -> Path:
        """Write :meth:`plot_png` to ``path`` (atomically); returns it."""
        return atomic_write_bytes(path, self.plot_png(x))


def _values(run: RunSummary, metric: str) -> list:
    return [v for v in run.history.get(metric) or [] if v is not None]


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"train": {"lr": 0.1}}`` -> ``{"train.lr": 0.1}``; lists stay values."""
    out: dict[str, Any] = {}
    for key, value in d.items():
        if isinstance(value, dict) and value:
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def _parameter_count(file: Path) -> int | None:
    """Numbers stored in a safetensors file (weights and buffers), from its header only."""
    try:
        with open(file, "rb") as f:
            (size,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(size))
    except (OSError, ValueError, struct.error):
        return None
    shapes = [v["shape"] for k, v in header.items() if k != "__metadata__"]
    return sum(math.prod(s) for s in shapes)


def _names(paths: list[Path]) -> list[str]:
    """Column names: the folders' names, or their paths where two names are the same."""
    names = [p.name or str(p) for p in paths]
    return [str(p) if names.count(n) > 1 else n for p, n in zip(paths, names)]


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e5 else f"{value:.3e}"
    if isinstance(value, int) and not isinstance(value, bool) and value >= 10_000:
        return f"{value:,}"
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= 32 else text[:29] + "..."
