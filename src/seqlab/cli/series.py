r"""``seqlab series``: forecast numeric series and classify numeric sequences.

    seqlab series evaluate --data mackey-glass --model esn --units 100 --spectral-radius 1.25 \
        --leak-rate 0.3 --out runs/mg
    seqlab series evaluate --data laser --data-dir ../shared/data --tune --out runs/laser
    seqlab series fit --data sunspots --data-dir ../shared/data --units 300 --out runs/sun
    seqlab series forecast runs/sun --steps 100
    seqlab series classify --data japanese-vowels --data-dir ../shared/data --model esn --out runs/jv
    seqlab series evaluate --data laser --data-dir ../shared/data --model lstm --set lags=32
    seqlab series classify --data japanese-vowels --data-dir ../shared/data --model tdnn --set epochs=50
    seqlab series classify --data tracks.csv --id-column ID --time-column T --feature-columns a,b \
        --label-column mode --model gru --out runs/tracks

Neural models (lstm, gru, rnn, tdnn, cnn) take --seed, --device and --lr (the learning
rate); every other argument of :class:`~seqlab.series.neural.NeuralForecaster` /
``NeuralSequenceClassifier`` goes through ``--set KEY=VALUE`` (``hidden_size``, ``epochs``,
``lags``, ``ar_lags``, ``pool``, ``ensemble``, ``num_layers`` ...). The ESN's leak rate is
``--leak-rate`` (``--lr`` never means it: ``lr`` is a learning rate everywhere in seqlab).

With a neural model, the ``--out`` of ``evaluate`` and ``classify`` is the model's run folder
(``seqlab.load(out)`` gives the fitted model back; ``--overwrite`` replaces a run there);
with the ESN it holds the results and the plot.

Each command parses its options and calls one function of :mod:`seqlab.series.experiments`.
"""

from __future__ import annotations

import json
from typing import Any

import click

from seqlab.cli._series_options import (
    CLASSIFY_GRID,
    FORECAST_GRID,
    common_options,
    echo_out,
    esn_options,
    model_arguments,
    model_kwargs,
    model_options,
    no_lr_option,
    track_columns,
    track_options,
)
from seqlab.cli.errors import user_errors

__all__ = ["series"]

SEQUENCES_HELP = "japanese-vowels, or a CSV of labelled tracks (see the --*-column options)."


@click.group("series")
def series() -> None:
    """Numeric series: ESN forecasting against baselines, closed-loop forecasts, classification."""


SKIP_BLANK_ROWS = click.option(
    "--skip-blank-rows",
    is_flag=True,
    help="CSV: leave blank rows out (by default one is an error: it would shift the series).",
)


@series.command("evaluate")
@click.option("--data", required=True, help="mackey-glass, sine, laser, sunspots or a CSV path.")
@click.option(
    "--model",
    default="esn",
    show_default=True,
    help="A registered forecaster: esn, persistence, linear-ar, lstm, gru, rnn, tdnn, cnn.",
)
@esn_options
@click.option("--warmup", type=int, default=None, help="ESN warm-up steps (default 100).")
@click.option("--input-to-readout", is_flag=True, default=None, help="Feed u[t] to the readout.")
@click.option("--horizon", type=int, default=1, show_default=True, help="Steps ahead.")
@click.option(
    "--lags",
    type=int,
    multiple=True,
    help="Linear-AR window(s); several: chosen on validation [1 2 5 10 20 50 100].",
)
@click.option("--val", type=float, default=0.1, show_default=True, help="Validation fraction.")
@click.option("--test", type=float, default=0.2, show_default=True, help="Test fraction.")
@SKIP_BLANK_ROWS
@click.option("--n-timesteps", type=int, default=None, help="Length to generate / keep.")
@click.option(
    "--scale/--no-scale",
    default=True,
    show_default=True,
    help="Standardise with train mean/std before fitting (scores stay in series units).",
)
@model_options(tune_help="Choose ESN hyper-parameters on validation first.")
@user_errors
def evaluate_command(
    data: str,
    model: str,
    horizon: int,
    lags: tuple[int, ...],
    n_timesteps: int | None,
    out: str | None,
    seed: int,
    **opts: Any,
) -> None:
    """One-step (or --horizon) forecast of a series: the model next to persistence and linear-AR."""
    from seqlab.series.experiments import run_evaluate
    from seqlab.series.forecast import metrics_table

    names = ("val", "test", "scale", "data_dir", "overwrite", "skip_blank_rows")
    settings = {k: opts.pop(k) for k in names}
    kwargs, grid = model_arguments(model, "forecast", FORECAST_GRID, seed, opts)
    result = run_evaluate(
        data,
        model,
        kwargs,
        grid=grid,
        n_timesteps=n_timesteps,
        horizon=horizon,
        lags=list(lags) or [1, 2, 5, 10, 20, 50, 100],
        out=out,
        **settings,
    )
    click.echo(f"{result['data']}: {result['n_timesteps']} steps, horizon {horizon}")
    click.echo(f"model: {model} {json.dumps(result['config']['model_kwargs'])}")
    click.echo(f"linear-ar lags: {result['config'].get('ar_lags')}")
    click.echo(metrics_table(result["metrics"]))
    echo_out(out, model, result)


@series.command("fit")
@click.option("--data", required=True, help="mackey-glass, sine, laser, sunspots or a CSV path.")
@esn_options
@click.option("--warmup", type=int, default=100, show_default=True, help="Warm-up steps.")
@click.option("--input-to-readout", is_flag=True, default=None, help="Feed u[t] to the readout.")
@click.option("--val", type=float, default=0.1, show_default=True, help="Validation fraction.")
@click.option("--test", type=float, default=0.2, show_default=True, help="Test fraction.")
@SKIP_BLANK_ROWS
@click.option("--n-timesteps", type=int, default=None, help="Length to generate / keep.")
@click.option("--scale/--no-scale", default=True, show_default=True, help="Standardise first.")
@no_lr_option
@common_options
@user_errors
def fit_command(
    data: str,
    warmup: int,
    input_to_readout: bool | None,
    val: float,
    test: float,
    n_timesteps: int | None,
    skip_blank_rows: bool,
    scale: bool,
    out: str | None,
    data_dir: str | None,
    seed: int,
    overrides: tuple[str, ...],
    **esn: Any,
) -> None:
    """Fit a one-step-ahead ESN on the train part of a series and save it to --out."""
    from seqlab.series.experiments import run_fit

    if out is None:
        raise click.UsageError("fit needs --out (the folder the model is saved to)")
    kwargs = model_kwargs(
        "esn", "forecast", seed, overrides, **esn, input_to_readout=input_to_readout
    )
    result = run_fit(
        data,
        out,
        kwargs,
        warmup=warmup,
        data_dir=data_dir,
        n_timesteps=n_timesteps,
        val=val,
        test=test,
        scale=scale,
        skip_blank_rows=skip_blank_rows,
    )
    m = result["metrics"]["val"]
    click.echo(
        f"fitted esn on {result['name']} in {result['metrics']['fit_seconds']:.3f}s; "
        f"validation RMSE {m['rmse']:.6g}  NRMSE {m['nrmse']:.5f}  R2 {m['r2']:.5f}"
    )
    click.echo(f"saved to {out}")


@series.command("forecast")
@click.argument("run_dir", type=click.Path(path_type=str))
@click.option("--steps", type=int, default=100, show_default=True, help="Closed-loop steps.")
@click.option("--data-dir", type=click.Path(path_type=str), default=None, help="See fit.")
@click.option("--out", type=click.Path(path_type=str), default=None, help="Default: RUN_DIR.")
@user_errors
def forecast_command(run_dir: str, steps: int, data_dir: str | None, out: str | None) -> None:
    """Closed-loop forecast of --steps values from the start of the test part (a saved ESN)."""
    from seqlab.series.experiments import run_forecast

    result = run_forecast(run_dir, steps, data_dir=data_dir, out=out)
    m = result["metrics"]
    click.echo(
        f"{steps}-step closed-loop forecast from step {result['start']}: "
        f"RMSE {m['rmse']:.6g}  NRMSE {m['nrmse']:.5f}  R2 {m['r2']:.5f}"
    )
    click.echo(f"wrote {result['plot']}")


@series.command("classify")
@click.option("--data", default="japanese-vowels", show_default=True, help=SEQUENCES_HELP)
@click.option(
    "--model",
    default="esn",
    show_default=True,
    help="A registered classifier: esn, lstm, gru, rnn, tdnn, cnn.",
)
@esn_options
@click.option(
    "--readout-state",
    type=click.Choice(["last", "mean", "mean+last", "concat"]),
    default=None,
    help="How each sequence's states are summarised (ESN).",
)
@click.option("--bidirectional", is_flag=True, default=None, help="Also read sequences reversed.")
@track_options
@click.option(
    "--val-split",
    "--val-fraction",  # the old name, kept working
    "val_split",
    type=click.FloatRange(0.0, 1.0, min_open=True, max_open=True),
    default=0.2,
    show_default=True,
    help="Share of the training sequences held out to choose hyper-parameters (--tune).",
)
@model_options(tune_help="Choose hyper-parameters on a validation split.")
@user_errors
def classify_command(
    data: str, model: str, val_split: float, out: str | None, seed: int, **opts: Any
) -> None:
    """Classify variable-length sequences (e.g. Japanese Vowels); print the test accuracy.

    With --data PATH.csv, each track is one sequence: rows grouped by --id-column and sorted
    by --time-column, the --feature-columns as channels, labelled by --label-column (the
    same on every row of a track). The tracks are split into train and test by a stratified
    split seeded with --seed: --test-split of each label's tracks (at least one track of
    each label stays in train) go to the test.
    """
    from seqlab.series.experiments import run_classify

    tracks, test_split = track_columns(data, opts)
    settings = {k: opts.pop(k) for k in ("data_dir", "overwrite")}
    kwargs, grid = model_arguments(model, "classify", CLASSIFY_GRID, seed, opts)
    result = run_classify(
        data, model, kwargs, tracks=tracks, test_split=test_split, grid=grid,
        val_split=val_split, seed=seed, out=out, **settings,
    )  # fmt: skip
    click.echo(f"{data}: {result['n_train']} train / {result['n_test']} test sequences")
    click.echo(f"model: {model} {json.dumps(result['kwargs'])}")
    click.echo(f"test accuracy: {result['test_accuracy']:.4f}")
    echo_out(out, model, result)
