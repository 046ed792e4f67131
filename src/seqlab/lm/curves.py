"""Learning curves of a language-model run (loss against training time and against step)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seqlab._utils import PathLike, atomic_write_bytes, read_json
from seqlab.curves import agg_figure, figure_png
from seqlab.training.protocol import history_rows

__all__ = ["curves_png", "plot_curves", "read_history"]


def plot_curves(
    history: list[dict[str, Any]], path: PathLike, title: str = "", unit: str = "nats/token"
) -> Path:
    """Learning curves as a PNG file (atomically; see :func:`curves_png`).

    >>> plot_curves([{"step": 0, "time_s": 0, "val_loss": 4.0},
    ...              {"step": 9, "time_s": 2, "val_loss": 3.0, "loss": 3.2}],
    ...             "/tmp/seqlab-curves.png").name
    'seqlab-curves.png'
    """
    return atomic_write_bytes(path, curves_png(history, title, unit))


def curves_png(history: list[dict[str, Any]], title: str = "", unit: str = "nats/token") -> bytes:
    """Learning curves as the bytes of a PNG: validation (and training) loss against training
    time and against step. Drawn with matplotlib's Agg canvas directly (no global backend
    change).

    >>> curves_png([{"step": 0, "time_s": 0, "val_loss": 4.0}])[:4]
    b'\\x89PNG'
    """
    fig = agg_figure()
    axes = fig.subplots(1, 2, sharey=True)
    for ax, key, label in ((axes[0], "time_s", "training time (s)"), (axes[1], "step", "step")):
        for name, style in (("val_loss", "-o"), ("loss", "--")):
            points = [(h[key], h[name]) for h in history if h.get(name) is not None]
            if points:
                xs, ys = zip(*points)
                legend = "val loss" if name == "val_loss" else "train loss"
                ax.plot(xs, ys, style, markersize=3, label=legend)
        ax.set_xlabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(f"loss ({unit})")
    axes[0].legend()
    return figure_png(fig, title)


def read_history(path: PathLike) -> list[dict[str, Any]]:
    """The ``history.json`` of a run folder, as rows (one per evaluation)."""
    return history_rows(read_json(Path(path) / "history.json"))
