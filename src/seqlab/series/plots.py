"""PNG plots for series results (matplotlib with the Agg backend: no display needed).

Each function writes the figure atomically and returns the path.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from seqlab._utils import PathLike, atomic_write_bytes

__all__ = ["plot_confusion", "plot_forecast", "plot_generation"]


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: PathLike) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    _pyplot().close(fig)
    return atomic_write_bytes(path, buf.getvalue())


def plot_forecast(
    truth: np.ndarray,
    predictions: Mapping[str, np.ndarray],
    path: PathLike,
    *,
    index: np.ndarray | None = None,
    title: str = "",
    max_points: int = 500,
) -> Path:
    """Truth against each model's predictions (first feature), plus the errors below.

    Only the first ``max_points`` steps are drawn so that details stay visible.

    >>> t = np.sin(np.arange(50) / 5.0)
    >>> plot_forecast(t, {"model": t + 0.01}, "/tmp/seqlab-forecast-doc.png").suffix
    '.png'
    """
    plt = _pyplot()
    truth = np.asarray(truth, dtype=np.float64).reshape(len(truth), -1)[:, 0]
    n = min(len(truth), max_points)
    x = np.arange(len(truth)) if index is None else np.asarray(index)
    fig, (ax, ax_err) = plt.subplots(
        2, 1, figsize=(10, 5), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    ax.plot(x[:n], truth[:n], color="black", lw=1.5, label="truth")
    for name, pred in predictions.items():
        p = np.asarray(pred, dtype=np.float64).reshape(len(pred), -1)[:, 0]
        ax.plot(x[:n], p[:n], lw=1.0, label=name)
        ax_err.plot(x[:n], (p - truth)[:n], lw=0.8, label=name)
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize=8)
    ax_err.axhline(0.0, color="black", lw=0.5)
    ax_err.set_ylabel("error")
    ax_err.set_xlabel("time step")
    return _save(fig, path)


def plot_generation(
    truth: np.ndarray,
    generated: np.ndarray,
    path: PathLike,
    *,
    context: np.ndarray | None = None,
    title: str = "",
) -> Path:
    """A closed-loop forecast against the truth, after the (optional) context it started from.

    >>> t = np.sin(np.arange(30) / 4.0)
    >>> plot_generation(t, t, "/tmp/seqlab-gen-doc.png", context=t).name
    'seqlab-gen-doc.png'
    """
    plt = _pyplot()
    truth = np.asarray(truth, dtype=np.float64).reshape(len(truth), -1)[:, 0]
    gen = np.asarray(generated, dtype=np.float64).reshape(len(generated), -1)[:, 0]
    fig, ax = plt.subplots(figsize=(10, 3.5))
    start = 0
    if context is not None:
        ctx = np.asarray(context, dtype=np.float64).reshape(len(context), -1)[:, 0]
        start = len(ctx)
        ax.plot(np.arange(start), ctx, color="gray", lw=1.0, label="context (teacher-forced)")
        ax.axvline(start - 0.5, color="gray", ls="--", lw=0.8)
    steps = np.arange(start, start + len(truth))
    ax.plot(steps, truth, color="black", lw=1.5, label="truth")
    ax.plot(steps[: len(gen)], gen, color="tab:red", lw=1.2, label="generated (closed loop)")
    ax.set_title(title)
    ax.set_xlabel("time step")
    ax.legend(loc="upper right", fontsize=8)
    return _save(fig, path)


def plot_confusion(
    matrix: np.ndarray, labels: Sequence[str], path: PathLike, *, title: str = ""
) -> Path:
    """A confusion matrix (rows: true class, columns: predicted) with counts in the cells.

    >>> plot_confusion(np.eye(2, dtype=int), ["a", "b"], "/tmp/seqlab-cm-doc.png").exists()
    True
    """
    plt = _pyplot()
    m = np.asarray(matrix)
    fig, ax = plt.subplots(figsize=(1.0 + 0.5 * len(labels), 0.8 + 0.5 * len(labels)))
    ax.imshow(m, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels=list(labels), rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels=list(labels))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    top = m.max() if m.size else 0
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            ax.text(
                j,
                i,
                str(m[i, j]),
                ha="center",
                va="center",
                fontsize=7,
                color="white" if m[i, j] > top / 2 else "black",
            )
    return _save(fig, path)
