"""``seqlab runs compare RUN RUN...``: finished runs side by side, a table and one plot
(:func:`seqlab.compare.compare_runs`)."""

from __future__ import annotations

import json

import click

from seqlab.cli.errors import user_errors
from seqlab.cli.options import choice_option, png_option

__all__ = ["runs"]

X_AXES = ("epoch", "step", "time_s")  # seqlab.compare.X_AXES, without importing torch


@click.group("runs")
def runs() -> None:
    """Work with finished run folders.

    \b
    seqlab runs compare runs/bow runs/lstm runs/kim-cnn --metric val_accuracy
    """


@runs.command("compare")
@click.argument("run_dirs", metavar="RUN RUN...", nargs=-1, required=True, type=click.Path())
@click.option(
    "--metric",
    default=None,
    help="History column to plot and to find the best value of [default: val_accuracy for "
    "classifiers that have it, else val_loss].",
)
@png_option("Where to write the plot of the runs' curves.", default="compare.png")
@choice_option("--x", X_AXES, "The plot's horizontal axis.")
@click.option("--json", "as_json", is_flag=True, help="Print the table as JSON.")
@user_errors
def compare(run_dirs: tuple[str, ...], metric: str | None, out: str, x: str, as_json: bool) -> None:
    """Print the settings that differ between the runs RUN..., their final metrics (those
    of the weights they kept: training, validation, test when recorded), parameters,
    epochs, steps and training time, and the best value of --metric; write one plot of
    their --metric curves to --out. The runs must be of one task (classifiers, or language
    models: their losses are in different units)."""
    from seqlab.compare import compare_runs

    comparison = compare_runs(list(run_dirs), metric=metric)
    path = comparison.plot(out, x=x)
    if as_json:
        click.echo(json.dumps(comparison.to_dict()))
        return
    click.echo(comparison.table())
    click.echo(f"curves of {comparison.metric}: {path}")
