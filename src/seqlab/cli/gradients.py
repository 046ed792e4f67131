"""``seqlab classify gradients``: the gradient norm at each input step of one or more runs.

Registered on the ``classify`` group by :mod:`seqlab.cli.main`; it parses its options and
calls :func:`seqlab.gradients.gradient_norms` (and :func:`~seqlab.gradients.plot_gradient_norms`).
"""

from __future__ import annotations

import click

from seqlab.cli.errors import user_errors
from seqlab.cli.options import device_option, png_option, run_argument

__all__ = ["gradients"]


@click.command("gradients")
@run_argument
@click.argument("text")
@click.option(
    "--compare",
    "others",
    multiple=True,
    type=click.Path(),
    metavar="RUN2",
    help="Another run to draw beside RUN (repeatable: --compare runs/lstm --compare runs/gru).",
)
@png_option("Write the plot here (PNG): one log-scale line per run, the tokens on the x axis.")
@click.option(
    "--target",
    default=None,
    help="Label whose logit to differentiate [default: the predicted one].",
)
@device_option
@user_errors
def gradients(run_dir, text, others, out, target, device) -> None:
    """Print how strongly each token of TEXT reaches the output of the run RUN: the norm of
    the gradient of the label's logit with respect to the token's embedding vector, step by
    step, and the ratio of the first step's norm to the last one's.

    A SimpleRNN's gradient fades towards the early steps (the vanishing gradient); an
    LSTM's cell state carries it much further back.

    \b
    seqlab classify gradients runs/rnn "a dull, lifeless film" --compare runs/lstm --out g.png
    """
    from seqlab.gradients import gradient_norms, plot_gradient_norms
    from seqlab.runs import load

    paths = [run_dir, *others]
    results = []
    for path in paths:
        run = load(path, device=device)
        if target is not None and target not in run.labels:
            raise click.BadParameter(
                f"{target!r} is not a label of the run {path}: {', '.join(run.labels)}",
                param_hint="--target",
            )
        results.append(gradient_norms(run, text, target=target))
    names = [f"{p} ({r.model})" for p, r in zip(paths, results)]
    for name, result in zip(names, results):
        click.echo(
            f"{name}: gradient of the {result.target!r} logit (predicted {result.predicted!r}); "
            f"first/last step {result.first_to_last:.2e}"
        )
    _print_norms(results, [str(p) for p in paths])
    if out is not None:
        written = plot_gradient_norms(results, out, names=names, title=_title(text))
        click.echo(f"plot: {written}")


def _print_norms(results, names: list[str]) -> None:
    """One table of step, token and a norm column per run (one table per run when the runs
    read different tokens)."""
    groups = [(results, names)]
    if any(r.tokens != results[0].tokens for r in results):
        groups = [([r], [n]) for r, n in zip(results, names)]
    for group, group_names in groups:
        tokens = group[0].tokens
        width = max(5, *(len(t) for t in tokens))
        columns = [max(9, len(n)) for n in group_names]
        header = f"{'step':>4}  {'token':<{width}}" + "".join(
            f"  {n:>{w}}" for n, w in zip(group_names, columns)
        )
        click.echo(header)
        for t, token in enumerate(tokens):
            row = "".join(f"  {r.norms[t]:>{w}.3e}" for r, w in zip(group, columns))
            click.echo(f"{t + 1:>4}  {token:<{width}}{row}")


def _title(text: str) -> str:
    short = text if len(text) <= 60 else text[:57] + "..."
    return f"Gradient norm at each step of {short!r}"
