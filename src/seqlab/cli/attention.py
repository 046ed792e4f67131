"""``seqlab classify attention``: where a transformer run's attention goes on one text.

Registered on the ``classify`` group by :mod:`seqlab.cli.main`; it parses its options and
calls :func:`seqlab.attention.attention_map` (and :func:`~seqlab.attention.plot_attention`).
"""

from __future__ import annotations

import json

import click

from seqlab.cli.errors import user_errors
from seqlab.cli.options import device_option, png_option, run_argument

__all__ = ["attention"]

# Without --out: the keys each token attends to most.
TOP_KEYS = 3


@click.command("attention")
@run_argument
@click.argument("text")
@png_option("Write the heat map here (PNG): the tokens on both axes, darker is more attention.")
@click.option(
    "--layer",
    type=int,
    default=-1,
    show_default=True,
    help="Layer, counted from 0; negative counts from the end (-1: the last).",
)
@click.option(
    "--head", type=int, default=None, help="One head, counted from 0 [default: the mean of all]."
)
@click.option(
    "--max-shown",
    type=click.IntRange(min=1),
    default=60,
    show_default=True,
    help="The heat map shows the first N tokens of a longer text (and says so).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the tokens and the matrix as JSON.")
@device_option
@user_errors
def attention(run_dir, text, out, layer, head, max_shown, as_json, device) -> None:
    """Show the attention weights of the transformer run RUN on TEXT: for each token, the
    tokens it attends to most (row i of the layer's matrix; each row sums to 1), and with
    --out a heat map of the whole matrix.

    \b
    seqlab classify attention runs/transformer "a dull, lifeless film" --out attn.png
    seqlab classify attention runs/transformer "a dull film" --layer 0 --head 2 --json
    """
    from seqlab.attention import attention_map, plot_attention
    from seqlab.runs import load

    run = load(run_dir, device=device)
    result = attention_map(run, text, layer=layer, head=head)
    if as_json:
        record = {
            "text": text,
            "label": result.label,
            "layer": result.layer,
            "head": result.head,
            "layers": result.layers,
            "heads": result.heads,
            "tokens": result.tokens,
            "matrix": result.matrix.round(6).tolist(),
        }
        click.echo(json.dumps(record))
    else:
        click.echo(f"{run_dir}: {result.describe()}; predicted {result.label!r}")
        width = max(len(t) for t in result.tokens)
        for i, token in enumerate(result.tokens):
            row = result.matrix[i]
            top = sorted(range(len(row)), key=lambda j: -row[j])[:TOP_KEYS]
            keys = "  ".join(f"{result.tokens[j]} {row[j]:.2f}" for j in top)
            click.echo(f"{i:>4}  {token:<{width}}  -> {keys}")
    if out is not None:
        written = plot_attention(result, out, max_shown=max_shown)
        click.echo(f"heat map: {written}", err=as_json)
