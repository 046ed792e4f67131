"""Where a transformer classifier looks: the attention matrix of one text, as data or a heat map.

:func:`attention_map` runs a trained ``transformer`` run on one text and returns the tokens
and the ``(T, T)`` attention matrix of one layer (by default the last), either one head's
or the mean over the heads (the default). Row ``i`` holds the weights that token ``i``
(the query) gives every token ``j`` (the keys); each row sums to 1. With
``pooling="first"`` the matrix has a first row and column for the ``[CLS]`` vector, whose
row is the one that reaches the head.

:func:`attention_png` draws the matrix as a heat map (tokens on both axes);
:func:`plot_attention` writes it to a file (``seqlab classify attention --out``).

The weights are computed explicitly from the model's own projections
(:meth:`seqlab.models.transformer.TransformerClassifier.attention_weights`): the forward
pass itself uses ``scaled_dot_product_attention``, which keeps no weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from seqlab._utils import PathLike, atomic_write_bytes
from seqlab.curves import agg_figure, figure_png
from seqlab.models.transformer import TransformerClassifier
from seqlab.runs import Run

__all__ = [
    "CLS_TOKEN",
    "MAX_PLOT_TOKENS",
    "AttentionMap",
    "attention_map",
    "attention_png",
    "plot_attention",
]

#: The label of the ``[CLS]`` row and column (``pooling="first"``).
CLS_TOKEN = "[CLS]"
#: A heat map shows at most this many tokens (the first ones) unless told otherwise.
MAX_PLOT_TOKENS = 60


@dataclass(frozen=True)
class AttentionMap:
    """The attention of one layer of a transformer run on one text (see
    :func:`attention_map`).

    ``tokens`` label the rows (queries) and columns (keys) of ``matrix`` ``(T, T)``;
    ``layer`` is the layer's index (0 = first), ``head`` the head's index or ``None`` for
    the mean over all ``heads``; ``layers`` is the model's number of layers; ``label`` the
    label the run predicts for the text.
    """

    tokens: list[str]
    matrix: np.ndarray
    layer: int
    head: int | None
    layers: int
    heads: int
    label: str

    def describe(self) -> str:
        """Which layer and head(s): ``"layer 1 (last), mean of 4 heads"``, ``"layer 0, head 2"``."""
        last = " (last)" if self.layer == self.layers - 1 else ""
        which = f"mean of {self.heads} heads" if self.head is None else f"head {self.head}"
        return f"layer {self.layer}{last}, {which}"


def attention_map(run: Run, text: str, *, layer: int = -1, head: int | None = None) -> AttentionMap:
    """The tokens of ``text`` and the attention matrix of ``layer`` of the transformer ``run``.

    ``layer`` counts from 0; negative values count from the end (``-1``, the default, is the
    last layer, the one whose output is pooled). ``head`` picks one head (from 0); ``None``
    (the default) averages the heads, which is what the layer's output mixes. The text is
    read as the run reads it (its tokenizer and truncation); the model runs in eval mode.

    >>> result = attention_map(seqlab.load("runs/transformer"), "a dull film")  # doctest: +SKIP
    >>> result.tokens, result.matrix.shape, result.matrix.sum(axis=1)  # doctest: +SKIP
    (['a', 'dull', 'film'], (3, 3), array([1., 1., 1.]))
    """
    if not isinstance(run, Run):
        raise TypeError(
            f"run must be a trained classifier (seqlab.runs.Run), got {type(run).__name__}"
        )
    model = run.model
    if not isinstance(model, TransformerClassifier):
        name = getattr(model, "registry_name", type(model).__name__)
        raise ValueError(
            f"attention weights exist only for --model transformer runs; this run is {name!r}"
        )
    layers, heads = model.num_layers, model.num_heads
    layer = _index("layer", layer, layers)
    if head is not None:
        head = _index("head", head, heads, negative=False)
    tokens = run.tokens(text)
    ids = np.asarray(run.encode([text])[0])
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            device = next(model.parameters()).device
            batch = torch.as_tensor(ids[None], dtype=torch.long, device=device)
            lengths = torch.tensor([len(ids)], device=device)  # as predictions read it
            weights = model.attention_weights(tokens=batch, lengths=lengths)
    finally:
        model.train(was_training)
    w = weights[layer][0]  # (H, T', T')
    matrix = (w.mean(dim=0) if head is None else w[head]).float().cpu().double().numpy()
    # A fixed-length run's padding is read as input but is not a token of the text.
    real = ids != 0
    if model.pooling == "first":
        real = np.concatenate([[True], real])
        tokens = [CLS_TOKEN, *tokens]
    assert len(tokens) == int(real.sum()), (tokens, ids)
    label = run.labels[int(run.predict_proba([text])[0].argmax())]
    return AttentionMap(
        tokens=tokens,
        matrix=matrix[np.ix_(real, real)],
        layer=layer,
        head=head,
        layers=layers,
        heads=heads,
        label=label,
    )


def _index(name: str, value: int, count: int, negative: bool = True) -> int:
    """``value`` as an index in ``[0, count)`` (negative counts from the end if allowed)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    low = -count if negative else 0
    if not low <= value < count:
        has = f"1 {name}" if count == 1 else f"{count} {name}s"
        give = "0" if count == 1 else f"0 to {count - 1}"
        if negative:
            give += " (or -1 from the end)" if count == 1 else f" (or -1 to -{count} from the end)"
        raise ValueError(f"{name}={value} is out of range: the model has {has}; give {give}")
    return int(value) % count


def attention_png(result: AttentionMap, max_shown: int = MAX_PLOT_TOKENS, title: str = "") -> bytes:
    """A heat map of ``result.matrix``: keys (attended to) on the x axis, queries on the y
    axis, both labelled with the tokens; darker is more attention. A text of more than
    ``max_shown`` tokens shows its first ``max_shown`` (rows and columns), and the
    picture says so.

    >>> r = AttentionMap(["a", "film"], np.array([[0.3, 0.7], [0.5, 0.5]]), 0, None, 1, 2, "pos")
    >>> attention_png(r)[:4]
    b'\\x89PNG'
    """
    if isinstance(max_shown, bool) or not isinstance(max_shown, int) or max_shown < 1:
        raise ValueError(f"max_shown must be an integer >= 1, got {max_shown!r}")
    total = len(result.tokens)
    shown = min(total, max_shown)
    tokens, matrix = result.tokens[:shown], result.matrix[:shown, :shown]
    fig = agg_figure()
    side = min(16.0, max(5.0, 0.22 * shown + 2.5))
    fig.set_size_inches(side + 1.2, side)
    ax = fig.subplots()
    image = ax.imshow(matrix, cmap="Blues", vmin=0.0, aspect="equal", interpolation="nearest")
    size = 9 if shown <= 30 else 7 if shown <= 60 else 5
    ax.set_xticks(np.arange(shown))
    ax.set_xticklabels(tokens, rotation=90, fontsize=size)
    ax.set_yticks(np.arange(shown))
    ax.set_yticklabels(tokens, fontsize=size)
    ax.set_xlabel("attended to (key)")
    ax.set_ylabel("attending (query)")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="attention weight")
    note = f"; first {shown} of {total} tokens shown" if shown < total else ""
    heading = title or f"Attention, {result.describe()} (predicted {result.label!r}){note}"
    if title and note:
        heading += f" ({note[2:]})"
    return figure_png(fig, heading)


def plot_attention(
    result: AttentionMap, path: PathLike, max_shown: int = MAX_PLOT_TOKENS, title: str = ""
) -> Path:
    """Write :func:`attention_png` to ``path`` (atomically) and return the path.

    >>> r = AttentionMap(["a", "film"], np.array([[0.3, 0.7], [0.5, 0.5]]), 0, None, 1, 2, "pos")
    >>> plot_attention(r, "/tmp/seqlab-attention.png").name
    'seqlab-attention.png'
    """
    return atomic_write_bytes(path, attention_png(result, max_shown, title))
