"""Learning curves: accuracy and loss per epoch, training against validation."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from seqlab._utils import PathLike, atomic_write_bytes

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["agg_figure", "curves_png", "figure_png", "plot_curves"]


def plot_curves(history: Mapping[str, Sequence[float]], path: PathLike, title: str = "") -> Path:
    """Write the two classic learning-curve panels (accuracy, loss) as one PNG at ``path``
    (atomically; see :func:`curves_png`).

    >>> plot_curves({"loss": [0.7, 0.5], "accuracy": [0.5, 0.8]}, "/tmp/seqlab-curves.png").name
    'seqlab-curves.png'
    """
    return atomic_write_bytes(path, curves_png(history, title))


def curves_png(history: Mapping[str, Sequence[float]], title: str = "") -> bytes:
    """The two classic learning-curve panels (accuracy, loss) as the bytes of one PNG.

    ``history`` is a Keras-style dict of per-epoch lists: ``loss``, ``accuracy`` and, when a
    validation set was used, ``val_loss``, ``val_accuracy`` (``epoch`` gives the x axis,
    1-based, when present). Training is drawn as dots and validation as a line, as in
    Chollet's *Deep Learning with Python* figures. A history without accuracy (a regression,
    such as a series forecaster) gets the loss panel only; a ``None`` (a row without that
    value, such as the untrained epoch 0 that has only a validation loss) is left out.

    >>> curves_png({"loss": [0.7, 0.5], "accuracy": [0.5, 0.8]})[:4]
    b'\\x89PNG'
    """
    from matplotlib.ticker import MaxNLocator

    if not history.get("loss"):
        raise ValueError("history has no 'loss' values to plot; train for at least one epoch")
    epochs = list(history.get("epoch") or range(1, len(history["loss"]) + 1))
    panels = [
        (key, label)
        for key, label in (("accuracy", "Accuracy"), ("loss", "Loss"))
        if key == "loss" or history.get(key) or history.get(f"val_{key}")
    ]
    fig = agg_figure()
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (key, label) in zip(axes, panels):
        for name, style, kind in ((key, "bo", "Training"), (f"val_{key}", "b-", "Validation")):
            points = [(e, v) for e, v in zip(epochs, history.get(name) or []) if v is not None]
            if points:
                ax.plot(*zip(*points), style, label=f"{kind} {key}")
        ax.set_title(f"Training and validation {key}")
        ax.set_xlabel("Epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
    return figure_png(fig, title)


def agg_figure() -> Figure:
    """A blank 10 x 4 inch figure on matplotlib's Agg canvas: headless, and it leaves pyplot's
    global backend and figure list alone (so it is safe inside a notebook)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def figure_png(fig: Figure, title: str = "") -> bytes:
    """The bytes of ``fig`` as a PNG, with ``title`` (if any) above its panels.

    >>> figure_png(agg_figure())[:4]
    b'\\x89PNG'
    """
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
