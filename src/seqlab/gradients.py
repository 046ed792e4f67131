"""Vanishing gradients, made visible: how strongly each input step reaches a classifier's output.

For one text, the gradient norm at step ``t`` is

    ``g_t = || d logit[target] / d x_t ||_2``

where ``x_t`` is the input vector of step ``t`` (the embedding vector of token ``t``, or the
values of step ``t`` for a numeric model) and ``logit[target]`` the output of the explained
class (the predicted class unless ``target`` is given). It measures how much the output can
still feel a change at step ``t``. A recurrent classifier that reads its last state
(``pooling="last"``) passes the gradient back through one step at a time: in a SimpleRNN
each step multiplies it by ``W_hh^T diag(1 - h^2)``, which usually shrinks it, so ``g_t``
fades towards the early steps (the vanishing gradient); an LSTM's cell state is carried
forward by the forget gate alone, so its gradient reaches far further back.

:func:`input_gradient_norms` works on a model and token ids, :func:`gradient_norms` on a run
and a text, and :func:`plot_gradient_norms` draws several runs on one log-scale plot
(``seqlab classify gradients`` on the command line).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from seqlab._utils import PathLike, atomic_write_bytes
from seqlab.curves import agg_figure, figure_png
from seqlab.explain import _as_input
from seqlab.models.embedding import SequenceClassifier
from seqlab.runs import Run

__all__ = [
    "GradientNorms",
    "gradient_norms",
    "gradient_norms_png",
    "input_gradient_norms",
    "plot_gradient_norms",
]

# Up to this many steps the x axis is labelled with the tokens themselves.
MAX_TOKEN_TICKS = 40


def input_gradient_norms(
    model: SequenceClassifier,
    token_ids: Sequence[int] | np.ndarray | torch.Tensor,
    *,
    target: int | None = None,
) -> np.ndarray:
    """``(T,)`` float64: the L2 norm of ``d logit[target] / d x_t`` for each step ``t``.

    ``token_ids`` is one sequence of ids (for a numeric model, the ``(T, input_size)`` array
    of values); ``x_t`` is the input vector the model's layers read at step ``t`` (see the
    module docstring). ``target`` is a class index, by default the predicted class. A model
    with a single output logit (a sigmoid) has ``logit[1] = z`` and ``logit[0] = -z``. The
    model runs in eval mode (no dropout) and is left in the mode it was in.

    >>> from seqlab.models.rnn import SimpleRNNClassifier
    >>> model = SimpleRNNClassifier(vocab_size=20, embedding_dim=4, hidden_size=4)
    >>> input_gradient_norms(model, [4, 7, 9, 2]).shape
    (4,)
    """
    if not isinstance(model, SequenceClassifier):
        raise TypeError(
            "input_gradient_norms needs a sequence model from seqlab.models (e.g. 'rnn', "
            f"'lstm', 'kim-cnn'), got {type(model).__name__}"
        )
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    inputs = _as_input(model, token_ids, device, caller="input_gradient_norms")
    lengths = torch.tensor([inputs.shape[1]], device=device)
    was_training = model.training
    model.eval()
    try:
        # cuDNN's RNN backward refuses to run in eval mode; the native kernels have no such rule.
        with torch.enable_grad(), torch.backends.cudnn.flags(enabled=False):
            if model.input_size is None:
                x, lengths = model.embed(tokens=inputs, lengths=lengths)
            else:
                x, lengths = model.embed(values=inputs, lengths=lengths)
            x = x.detach().requires_grad_(True)  # (1, T, D): the leaf we differentiate against
            logits = model.forward_embedded(x, lengths)[0]  # (C,)
            if logits.shape[0] == 1:  # one sigmoid logit z: class 1 is z, class 0 is -z
                logits = torch.cat([-logits, logits])
            k = _check_target(target, logits)
            (grad,) = torch.autograd.grad(logits[k], x)
    finally:
        model.train(was_training)
    return grad[0].norm(dim=-1).detach().cpu().double().numpy()  # (T,)


def _check_target(target: int | None, logits: torch.Tensor) -> int:
    if target is None:
        return int(logits.argmax())
    if isinstance(target, bool) or not isinstance(target, int | np.integer):
        raise TypeError(f"target must be a class index (an int), got {target!r}")
    if not 0 <= int(target) < len(logits):
        raise ValueError(f"target must be a class index in [0, {len(logits) - 1}], got {target!r}")
    return int(target)


@dataclass(frozen=True)
class GradientNorms:
    """The per-step gradient norms of one run on one text (see :func:`gradient_norms`).

    ``tokens`` are the steps the model read, ``norms[t]`` is ``||d logit[target] / d x_t||``,
    ``target`` the label whose logit was differentiated, ``predicted`` the run's label for
    the text, and ``model`` the run's model name (``"rnn"``, ``"lstm"``...).
    """

    tokens: list[str]
    norms: np.ndarray
    target: str
    predicted: str
    model: str

    @property
    def first_to_last(self) -> float:
        """``norms[0] / norms[-1]``: far below 1 when the gradient vanishes on its way back
        to the first step (``inf`` when the last norm is 0)."""
        last = float(self.norms[-1])
        return float(self.norms[0]) / last if last > 0 else float("inf")


def gradient_norms(run: Run, text: str, *, target: int | str | None = None) -> GradientNorms:
    """How strongly each token of ``text`` reaches the output of the classifier ``run``.

    The text is vectorized as the run does it (its tokens, its truncation); ``target`` is a
    label name or index, by default the label the run predicts. Steps that are padding of a
    fixed-length run are left out, as they are not tokens of the text.

    >>> result = gradient_norms(seqlab.load("runs/rnn40"), "a dull, lifeless film")  # doctest: +SKIP
    >>> result.tokens, result.norms.round(4), result.target  # doctest: +SKIP
    (['a', 'dull', 'lifeless', 'film'], array([0.0111, 0.0128, 0.0458, 0.3252]), 'neg')
    """
    if not isinstance(run, Run):
        raise TypeError(
            f"run must be a trained classifier (seqlab.runs.Run), got {type(run).__name__}"
        )
    if run.input_kind != "sequence" or not isinstance(run.model, SequenceClassifier):
        name = getattr(run.model, "registry_name", type(run.model).__name__)
        raise ValueError(
            f"run {str(run.path or '')!r} has model {name!r}, which reads a bag of words: it has "
            "no steps, so no per-step gradients; use a sequence model's run (rnn, lstm, gru, "
            "cnn, kim-cnn, tdnn, embedding-dense, transformer)"
        )
    tokens = run.tokens(text)
    ids = np.asarray(run.encode([text])[0])
    k = run._target_index(target)
    proba = run.predict_proba([text])[0]
    norms = input_gradient_norms(run.model, ids, target=k)
    real = ids != 0  # a fixed-length run's padding is not a token of the text
    assert len(tokens) == int(real.sum()), (tokens, ids)
    predicted = run.labels[int(proba.argmax())]
    return GradientNorms(
        tokens=tokens,
        norms=norms[real],
        target=predicted if k is None else run.labels[k],
        predicted=predicted,
        model=str(getattr(run.model, "registry_name", type(run.model).__name__)),
    )


def gradient_norms_png(
    results: Sequence[GradientNorms], names: Sequence[str] | None = None, title: str = ""
) -> bytes:
    """One log-scale line per result: the gradient norm (y) at each token position (x).

    ``names`` label the lines (default: each result's model name). The x axis is labelled
    with the tokens when every result read the same tokens and there are at most
    :data:`MAX_TOKEN_TICKS` of them, else with positions 1..T. A norm of exactly 0 (a token
    no path reaches, e.g. one that a CNN's max pooling skipped) has no place on a log scale
    and is left out of its line.

    >>> r = GradientNorms(["a", "film"], np.array([0.01, 0.5]), "pos", "pos", "rnn")
    >>> gradient_norms_png([r])[:4]
    b'\\x89PNG'
    """
    if not results:
        raise ValueError("results is empty; give the GradientNorms of at least one run")
    names = [r.model for r in results] if names is None else [str(n) for n in names]
    if len(names) != len(results):
        raise ValueError(f"got {len(results)} results but {len(names)} names; give one per result")
    fig = agg_figure()
    ax = fig.subplots()
    for result, name in zip(results, names):
        steps = np.arange(1, len(result.norms) + 1)
        shown = result.norms > 0
        ax.plot(steps[shown], result.norms[shown], "o-", markersize=3, label=name)
    ax.set_yscale("log")
    first = results[0].tokens
    if all(r.tokens == first for r in results) and len(first) <= MAX_TOKEN_TICKS:
        ax.set_xticks(np.arange(1, len(first) + 1))
        ax.set_xticklabels(first, rotation=90 if len(first) > 8 else 0)
        ax.set_xlabel("token")
    else:
        ax.set_xlabel("token position")
    targets = sorted({r.target for r in results})
    ax.set_ylabel(f"gradient norm  |d logit[{', '.join(targets)}] / d x_t|")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    return figure_png(fig, title or "Gradient of the output with respect to each input step")


def plot_gradient_norms(
    results: Sequence[GradientNorms],
    path: PathLike,
    names: Sequence[str] | None = None,
    title: str = "",
) -> Path:
    """Write :func:`gradient_norms_png` to ``path`` (atomically) and return the path.

    >>> r = GradientNorms(["a", "film"], np.array([0.01, 0.5]), "pos", "pos", "rnn")
    >>> plot_gradient_norms([r], "/tmp/seqlab-gradients.png").name
    'seqlab-gradients.png'
    """
    return atomic_write_bytes(path, gradient_norms_png(results, names, title))
