"""``seqlab classify ensemble``: one classifier from several trained runs.

The command parses its options and calls :func:`seqlab.ensemble.build_ensemble`; the run
folder it writes is read by ``classify predict / evaluate / explain / summary`` and
``seqlab serve`` like any other.
"""

from __future__ import annotations

import click

from seqlab.cli.errors import user_errors
from seqlab.cli.options import (
    choice_option,
    columns_options,
    comma_list,
    data_dir_option,
    device_option,
    seed_option,
)

__all__ = ["ensemble"]


@click.command("ensemble")
@click.argument("runs", metavar="RUN...", nargs=-1, required=True, type=click.Path())
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False),
    help="The ensemble's run folder (the members are copied into it).",
)
@choice_option(
    "--method",
    ["mean", "stack"],
    "mean: average the members' probabilities (equal weights, or --weights); stack: fit "
    "the combination on the members' validation split of --data.",
)
@click.option(
    "--weights",
    default=None,
    metavar="W1,W2,...",
    help="With --method mean: one weight per RUN (scaled to sum to 1).",
)
@choice_option(
    "--stacker",
    ["weights", "logistic"],
    "With --method stack: weights of the mean (maximum likelihood), or a logistic "
    "regression on the members' log-probabilities.",
)
@click.option(
    "--data",
    default=None,
    help="The dataset the members were trained on (imdb, snippets, bbc or a path); "
    "needed by --method stack; with mean, the validation split is measured.",
)
@data_dir_option()
@columns_options()
@click.option(
    "--val-split",
    type=float,
    default=None,
    help="Fraction of --data's training part held out [default: the members' own].",
)
@seed_option("Seed of that split [default: the members'].", default=None)
@click.option(
    "--force",
    is_flag=True,
    help="Fit even when a member's recorded split shows it may have trained on the "
    "validation texts.",
)
@click.option(
    "--l2",
    type=float,
    default=1e-3,
    show_default=True,
    help="With --stacker logistic: L2 penalty on its coefficients.",
)
@click.option("--batch-size", type=int, default=256, show_default=True)
@click.option("--overwrite", is_flag=True, help="Replace a run already in --out.")
@device_option
@user_errors
def ensemble(runs, out, method, weights, stacker, data, data_dir, text_column, label_column,
             val_split, seed, force, l2, batch_size, overwrite, device) -> None:  # fmt: skip
    """Combine the trained runs RUN... into one classifier, written to --out.

    \b
    seqlab classify ensemble runs/nbsvm runs/lstm runs/kim-cnn --out runs/ens
    seqlab classify ensemble runs/nbsvm runs/lstm --method stack --data imdb --out runs/ens
    seqlab classify predict runs/ens "a wonderful, moving film"

    With --method stack the weights are fitted on the validation split the members were
    trained with (their --val-split and --seed, read from their config.json), never on
    texts a member trained on: a member trained with another split, seed or data is
    refused unless --force.
    """
    from seqlab.ensemble import build_ensemble

    ens = build_ensemble(
        list(runs), method, weights=comma_list(weights, "--weights", float), stacker=stacker,
        data=data, data_dir=data_dir, text_column=text_column, label_column=label_column,
        val_split=val_split, seed=seed, force=force, l2=l2, batch_size=batch_size,
        device=device, out=out, overwrite=overwrite,
    )  # fmt: skip
    how = method if ens.stacker is None else f"{method} ({ens.stacker})"
    click.echo(f"run folder: {out}  (ensemble of {len(ens.members)} runs, {how})")
    val = ens.metrics.get("val")
    members_val = ens.metrics.get("members_val", {})
    for k, name in enumerate(ens.names):
        weight = "" if ens.weights is None else f"weight {ens.weights[k]:.4f}"
        acc = members_val.get(name, {}).get("accuracy")
        score = "" if acc is None else f"  validation accuracy {acc:.4f}"
        click.echo(f"  {name:20s} {ens.members[k].model_name:16s} {weight}{score}")
    if val:
        fit = ens.fitted_on
        click.echo(
            f"ensemble validation accuracy {val['accuracy']:.4f}, loss {val['loss']:.4f} "
            f"({fit['n']} texts of {fit['data']}: {fit['val_split']:g} held out, seed "
            f"{fit['seed']}{', forced' if fit['forced'] else ''})"
        )
