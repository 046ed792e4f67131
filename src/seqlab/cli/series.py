"""``seqlab series``: forecast numeric series and classify numeric sequences.

seqlab series evaluate --data mackey-glass --model esn --units 100 --spectral-radius 1.25 \
    --leak-rate 0.3 --out runs/mg
seqlab series evaluate --data laser --data-dir ../shared/data --tune --out runs/laser
seqlab series fit --data sunspots --data-dir ../shared/data --units 300 --out runs/sun
seqlab series forecast runs/sun --steps 100
seqlab series classify --data japanese-vowels --data-dir ../shared/data --model esn --out runs/jv
seqlab series evaluate --data laser --data-dir ../shared/data --model lstm --set lags=32
seqlab series classify --data japanese-vowels --data-dir ../shared/data --model tdnn --set epochs=50

Neural models (lstm, gru, rnn, tdnn, cnn) take --seed, --device and --lr (the learning
rate); every other argument of :class:`~seqlab.series.neural.NeuralForecaster` /
``NeuralSequenceClassifier`` goes through ``--set KEY=VALUE`` (``hidden_size``, ``epochs``,
``lags``, ``ar_lags``, ``pool``, ``ensemble``, ``num_layers`` ...). The ESN's leak rate is
``--leak-rate`` (``--lr`` never means it: ``lr`` is a learning rate everywhere in seqlab).

Each command parses its options and calls one function of :mod:`seqlab.series.experiments`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from seqlab.cli.errors import user_errors
from seqlab.cli.settings import cli_settings

__all__ = ["series"]

# default validation grids for --tune (kept small: each point is a full fit)
FORECAST_GRID = {
    "spectral_radius": [0.9, 1.1],
    "leak_rate": [0.1, 0.3, 1.0],
    "ridge": [1e-6, 1e-2, 1.0],
    "input_scaling": [0.1, 0.5],
}
CLASSIFY_GRID = {
    "bidirectional": [False, True],
    "leak_rate": [0.1, 0.3],
    "ridge": [1e-2, 1e-1, 1.0],
}

_ESN_OPTIONS: list[tuple[str, str, type, str]] = [
    ("--units", "units", int, "Reservoir size."),
    ("--spectral-radius", "spectral_radius", float, "Spectral radius of the recurrent matrix."),
    ("--leak-rate", "leak_rate", float, "Leak rate in (0, 1] (1 = no leak)."),
    ("--input-scaling", "input_scaling", float, "Scale of the input weights."),
    ("--bias-scaling", "bias_scaling", float, "Scale of the reservoir bias (0 = none)."),
    ("--rc-connectivity", "rc_connectivity", float, "Density of the recurrent matrix."),
    ("--input-connectivity", "input_connectivity", float, "Density of the input matrix."),
    ("--ridge", "ridge", float, "Ridge regularisation of the readout."),
    ("--activation", "activation", str, "tanh, sigmoid, relu or identity."),
]


def _esn_options(func: Callable[..., Any]) -> Callable[..., Any]:
    # --sr: the old short name, hidden; it still works (see _esn_kwargs)
    func = click.option("--sr", "sr_alias", type=float, default=None, hidden=True)(func)
    for flag, name, typ, help_text in reversed(_ESN_OPTIONS):
        func = click.option(flag, name, type=typ, default=None, help=help_text)(func)
    return func


def _learning_rate_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--lr",
        "learning_rate",
        type=float,
        default=None,
        help="Learning rate of the neural models (the ESN has none; see --leak-rate).",
    )(func)


def _refuse_lr(ctx: click.Context, param: click.Parameter, value: float | None) -> None:
    if value is not None:
        raise click.BadParameter(
            f"--lr {value:g}: this command fits an ESN, which has no learning rate, and --lr "
            f"no longer means the leak rate; use --leak-rate {value:g}",
            ctx=ctx,
            param=param,
        )


def _no_lr_option(func: Callable[..., Any]) -> Callable[..., Any]:
    # The old --lr (leak rate) of an ESN-only command, hidden: it answers with the new flag.
    return click.option(
        "--lr", type=float, default=None, hidden=True, expose_value=False, callback=_refuse_lr
    )(func)


def _common_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option(
        "--set",
        "overrides",
        multiple=True,
        metavar="KEY=VALUE",
        help="Any other model argument, typed after the model's parameters, e.g. --set "
        "lags=32 (repeatable).",
    )(func)
    func = click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")(func)
    func = click.option(
        "--data-dir",
        type=click.Path(path_type=str),
        default=None,
        help="Folder holding timeseries/ (default: $SEQLAB_DATA).",
    )(func)
    func = click.option(
        "--out", type=click.Path(path_type=str), default=None, help="Folder for JSON and PNGs."
    )(func)
    return func


def _device_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--device",
        default="auto",
        show_default=True,
        help="Neural models only: auto (CUDA when present, else the CPU), cpu, cuda or cuda:N.",
    )(func)


def _esn_opts(opts: dict[str, Any]) -> dict[str, Any]:
    """The ESN options with the hidden old ``--sr`` folded into ``spectral_radius``."""
    opts = dict(opts)
    sr = opts.pop("sr_alias", None)
    if sr is not None:
        if opts.get("spectral_radius") is not None:
            raise click.UsageError(
                "--sr and --spectral-radius were both given; --sr is the old name of "
                "--spectral-radius: give only --spectral-radius"
            )
        click.echo("warning: --sr is deprecated; use --spectral-radius", err=True)
        opts["spectral_radius"] = sr
    return opts


def _kwargs(
    model: str,
    task: str,
    seed: int,
    overrides: tuple[str, ...],
    device: str | None = None,
    learning_rate: float | None = None,
    **opts: Any,
) -> dict[str, Any]:
    """The model's keyword arguments from the options of a command (``opts``: ESN ones)."""
    from seqlab.series.forecast import NEURAL_MODELS

    neural = ", ".join(NEURAL_MODELS)
    opts = _esn_opts(opts)
    if model not in NEURAL_MODELS:
        if device not in (None, "auto"):
            raise click.UsageError(
                f"--device applies to the neural models ({neural}), but --model is {model!r}"
            )
        if learning_rate is not None:
            raise click.UsageError(
                f"--lr is the learning rate of the neural models ({neural}), but --model is "
                f"{model!r}" + ("; the ESN's leak rate is --leak-rate" if model == "esn" else "")
            )
    kwargs: dict[str, Any] = {}
    if model in NEURAL_MODELS:
        kwargs["seed"] = seed
        if device is not None:
            kwargs["device"] = device
        if learning_rate is not None:
            kwargs["lr"] = learning_rate
    if model == "esn":
        kwargs = {k: v for k, v in opts.items() if v is not None}
        kwargs["seed"] = seed
    elif any(v is not None for v in opts.values()):
        given = sorted(k for k, v in opts.items() if v is not None)
        raise click.UsageError(
            f"options {given} are ESN options but --model is {model!r}; pass that model's "
            "arguments with --set KEY=VALUE"
        )
    if model == "esn":
        for item in overrides:
            old, _, value = item.partition("=")
            flag = {"lr": "--leak-rate", "sr": "--spectral-radius"}.get(old.strip())
            if flag:
                raise click.BadParameter(
                    f"{item}: the ESN takes {flag} (or --set "
                    f"{flag[2:].replace('-', '_')}={value}); lr is a learning rate in seqlab",
                    param_hint="'--set'",
                )
    kwargs.update(cli_settings(overrides, _set_target(model, task), exclude=("model",)))
    return kwargs


def _set_target(model: str, task: str) -> Any:
    """What ``--set`` keys of ``model`` are typed after (``task``: forecast or classify)."""
    from seqlab.series.forecast import NEURAL_MODELS

    if model in NEURAL_MODELS:
        from seqlab.series import neural

        return neural.NeuralForecaster if task == "forecast" else neural.NeuralSequenceClassifier
    if model == "esn":
        from seqlab.models.esn import ESN, ESNClassifier

        return (ESN, {"warmup": int}) if task == "forecast" else ESNClassifier
    from seqlab.series.forecast import _FORECASTERS

    # an unknown name: untyped values; the library refuses the name with the valid ones
    return _FORECASTERS.get(model, lambda **kwargs: None)


def _grid(tune: bool, model: str, default: dict[str, list[Any]], kwargs: dict[str, Any]) -> Any:
    """The default ``--tune`` grid, less the parameters the command line fixed."""
    if not tune:
        return None
    if model != "esn":
        raise click.UsageError("--tune has a default grid for --model esn only")
    return {k: v for k, v in default.items() if k not in kwargs}


@click.group("series")
def series() -> None:
    """Numeric series: ESN forecasting against baselines, closed-loop forecasts, classification."""


@series.command("evaluate")
@click.option("--data", required=True, help="mackey-glass, sine, laser, sunspots or a CSV path.")
@click.option(
    "--model",
    default="esn",
    show_default=True,
    help="A registered forecaster: esn, persistence, linear-ar, lstm, gru, rnn, tdnn, cnn.",
)
@_esn_options
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
@click.option("--n-timesteps", type=int, default=None, help="Length to generate / keep.")
@click.option(
    "--scale/--no-scale",
    default=True,
    show_default=True,
    help="Standardise with train mean/std before fitting (scores stay in series units).",
)
@click.option("--tune", is_flag=True, help="Choose ESN hyper-parameters on validation first.")
@_learning_rate_option
@_device_option
@_common_options
@user_errors
def evaluate_command(
    data: str,
    model: str,
    device: str | None,
    learning_rate: float | None,
    warmup: int | None,
    input_to_readout: bool | None,
    horizon: int,
    lags: tuple[int, ...],
    val: float,
    test: float,
    n_timesteps: int | None,
    scale: bool,
    tune: bool,
    out: str | None,
    data_dir: str | None,
    seed: int,
    overrides: tuple[str, ...],
    **esn: Any,
) -> None:
    """One-step (or --horizon) forecast of a series: the model next to persistence and linear-AR."""
    from seqlab.series.experiments import run_evaluate

    kwargs = _kwargs(
        model,
        "forecast",
        seed,
        overrides,
        device,
        learning_rate,
        **esn,
        warmup=warmup,
        input_to_readout=input_to_readout,
    )
    if model == "esn":
        kwargs.setdefault("warmup", 100)
    grid = _grid(tune, model, FORECAST_GRID, kwargs)
    result = run_evaluate(
        data,
        model,
        kwargs,
        grid=grid,
        data_dir=data_dir,
        n_timesteps=n_timesteps,
        horizon=horizon,
        lags=list(lags) or [1, 2, 5, 10, 20, 50, 100],
        val=val,
        test=test,
        scale=scale,
        out=out,
    )
    click.echo(f"{result['data']}: {result['n_timesteps']} steps, horizon {horizon}")
    click.echo(f"model: {model} {json.dumps(result['config']['model_kwargs'])}")
    click.echo(f"linear-ar lags: {result['config'].get('ar_lags')}")
    click.echo(_table(result["metrics"]))
    if out:
        click.echo(f"wrote {out}/metrics.json and {result['plot']}")


def _table(metrics: dict[str, dict[str, dict[str, float]]]) -> str:
    lines = [f"{'model':<14} {'split':<5} {'RMSE':>12} {'NRMSE':>9} {'R2':>9}"]
    for name, parts in metrics.items():
        for part, m in parts.items():
            lines.append(
                f"{name:<14} {part:<5} {m['rmse']:>12.6g} {m['nrmse']:>9.5f} {m['r2']:>9.5f}"
            )
    return "\n".join(lines)


@series.command("fit")
@click.option("--data", required=True, help="mackey-glass, sine, laser, sunspots or a CSV path.")
@_esn_options
@click.option("--warmup", type=int, default=100, show_default=True, help="Warm-up steps.")
@click.option("--input-to-readout", is_flag=True, default=None, help="Feed u[t] to the readout.")
@click.option("--val", type=float, default=0.1, show_default=True, help="Validation fraction.")
@click.option("--test", type=float, default=0.2, show_default=True, help="Test fraction.")
@click.option("--n-timesteps", type=int, default=None, help="Length to generate / keep.")
@click.option("--scale/--no-scale", default=True, show_default=True, help="Standardise first.")
@_no_lr_option
@_common_options
@user_errors
def fit_command(
    data: str,
    warmup: int,
    input_to_readout: bool | None,
    val: float,
    test: float,
    n_timesteps: int | None,
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
    kwargs = _kwargs("esn", "forecast", seed, overrides, **esn, input_to_readout=input_to_readout)
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
@click.option("--data", default="japanese-vowels", show_default=True, help="Sequence dataset.")
@click.option(
    "--model",
    default="esn",
    show_default=True,
    help="A registered classifier: esn, lstm, gru, rnn, tdnn, cnn.",
)
@_esn_options
@click.option(
    "--readout-state",
    type=click.Choice(["last", "mean", "mean+last", "concat"]),
    default=None,
    help="How each sequence's states are summarised (ESN).",
)
@click.option("--bidirectional", is_flag=True, default=None, help="Also read sequences reversed.")
@click.option(
    "--val-split",
    "--val-fraction",  # the old name, kept working
    "val_split",
    type=click.FloatRange(0.0, 1.0, min_open=True, max_open=True),
    default=0.2,
    show_default=True,
    help="Share of the training sequences held out to choose hyper-parameters (--tune).",
)
@click.option("--tune", is_flag=True, help="Choose hyper-parameters on a validation split.")
@_learning_rate_option
@_device_option
@_common_options
@user_errors
def classify_command(
    data: str,
    model: str,
    device: str | None,
    learning_rate: float | None,
    readout_state: str | None,
    bidirectional: bool | None,
    val_split: float,
    tune: bool,
    out: str | None,
    data_dir: str | None,
    seed: int,
    overrides: tuple[str, ...],
    **esn: Any,
) -> None:
    """Classify variable-length sequences (e.g. Japanese Vowels); print the test accuracy."""
    from seqlab.series.experiments import run_classify

    kwargs = _kwargs(
        model,
        "classify",
        seed,
        overrides,
        device,
        learning_rate,
        **esn,
        readout_state=readout_state,
        bidirectional=bidirectional,
    )
    grid = _grid(tune, model, CLASSIFY_GRID, kwargs)
    result = run_classify(
        data,
        model,
        kwargs,
        grid=grid,
        data_dir=data_dir,
        val_split=val_split,
        seed=seed,
        out=out,
    )
    click.echo(f"{data}: {result['n_train']} train / {result['n_test']} test sequences")
    click.echo(f"model: {model} {json.dumps(result['kwargs'])}")
    click.echo(f"test accuracy: {result['test_accuracy']:.4f}")
    if out:
        click.echo(f"wrote {out}/metrics.json and {result['plot']}")
