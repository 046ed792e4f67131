"""The options of ``seqlab series`` and how they become the library's arguments: the ESN
options, ``--lr`` (a learning rate, never the leak rate), ``--set``, ``--device``,
``--overwrite`` and the columns of a CSV of tracks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from seqlab.cli.options import LEARNING_RATE, seed_option
from seqlab.cli.settings import cli_settings

__all__ = [
    "CLASSIFY_GRID",
    "FORECAST_GRID",
    "common_options",
    "echo_out",
    "esn_options",
    "model_arguments",
    "model_kwargs",
    "model_options",
    "no_lr_option",
    "track_columns",
    "track_options",
]

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


def esn_options(func: Callable[..., Any]) -> Callable[..., Any]:
    # --sr: the old short name, hidden; it still works (see _esn_kwargs)
    func = click.option("--sr", "sr_alias", type=float, default=None, hidden=True)(func)
    for flag, name, typ, help_text in reversed(_ESN_OPTIONS):
        func = click.option(flag, name, type=typ, default=None, help=help_text)(func)
    return func


def learning_rate_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--lr",
        "learning_rate",
        type=LEARNING_RATE,
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


def no_lr_option(func: Callable[..., Any]) -> Callable[..., Any]:
    # The old --lr (leak rate) of an ESN-only command, hidden: it answers with the new flag.
    return click.option(
        "--lr", type=float, default=None, hidden=True, expose_value=False, callback=_refuse_lr
    )(func)


def common_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option(
        "--set",
        "overrides",
        multiple=True,
        metavar="KEY=VALUE",
        help="Any other model argument, typed after the model's parameters, e.g. --set "
        "lags=32 (repeatable).",
    )(func)
    func = seed_option("Random seed.")(func)
    folders = [
        ("--data-dir", "Folder holding timeseries/ (default: $SEQLAB_DATA)."),
        ("--out", "Folder for the results (JSON, PNG); a neural model's run folder."),
    ]
    for flag, help_text in folders:
        func = click.option(flag, type=click.Path(path_type=str), default=None, help=help_text)(
            func
        )
    return func


def overwrite_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--overwrite",
        is_flag=True,
        help="Neural models: replace the run folder already in --out (it is refused otherwise).",
    )(func)


def track_options(func: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        ("--id-column", "Tracks CSV: the column naming each row's track."),
        ("--time-column", "Tracks CSV: the time of each row (numbers or ISO 8601 date-times)."),
        ("--feature-columns", "Tracks CSV: comma-separated numeric columns [default: all others]."),
        (
            "--label-column",
            "Tracks CSV: each track's label, the same on all its rows [default: label].",
        ),
    ]
    func = click.option(
        "--test-split",
        type=click.FloatRange(0.0, 1.0, min_open=True, max_open=True),
        default=None,
        help="Tracks CSV: share of each label's tracks held out for the test, by a stratified "
        "split drawn with --seed [default: 0.2].",
    )(func)
    for flag, help_text in reversed(options):
        func = click.option(flag, default=None, help=help_text)(func)
    return func


def device_option(func: Callable[..., Any]) -> Callable[..., Any]:
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


def model_kwargs(
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


def model_options(tune_help: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--tune`` (with ``tune_help``), ``--lr``, ``--device``, ``--overwrite`` and the
    :func:`common_options`: the options of a command that trains any registered model."""

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        func = common_options(overwrite_option(device_option(learning_rate_option(func))))
        return click.option("--tune", is_flag=True, help=tune_help)(func)

    return decorate


def model_arguments(
    model: str, task: str, default_grid: dict[str, list[Any]], seed: int, opts: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, list[Any]] | None]:
    """``(model kwargs, --tune grid)`` from a command's options (``opts``: ``--tune``,
    ``--set``, ``--device``, ``--lr`` and the ESN options, all popped)."""
    tune, overrides = opts.pop("tune"), opts.pop("overrides")
    device, learning_rate = opts.pop("device"), opts.pop("learning_rate")
    kwargs = model_kwargs(model, task, seed, overrides, device, learning_rate, **opts)
    if model == "esn" and task == "forecast":
        kwargs.setdefault("warmup", 100)
    if not tune:
        return kwargs, None
    if model != "esn":
        raise click.UsageError("--tune has a default grid for --model esn only")
    return kwargs, {k: v for k, v in default_grid.items() if k not in kwargs}


def track_columns(data: str, opts: dict[str, Any]) -> tuple[Any, float]:
    """``(TrackColumns or None, test split)`` from the --*-column options (popped)."""
    from seqlab.series.loaders import TrackColumns

    names = ("id_column", "time_column", "feature_columns", "label_column", "test_split")
    given = {k: opts.pop(k) for k in names}
    test_split = given["test_split"] if given["test_split"] is not None else 0.2
    if not data.lower().endswith(".csv"):
        flags = [f"--{k.replace('_', '-')}" for k, v in given.items() if v is not None]
        if flags:
            raise click.UsageError(
                f"{', '.join(flags)} {'apply' if len(flags) > 1 else 'applies'} to a CSV of "
                f"tracks (--data PATH.csv), but --data is {data!r}"
            )
        return None, test_split
    missing = [f"--{k.replace('_', '-')}" for k in names[:2] if not given[k]]
    if missing:
        raise click.UsageError(
            f"--data {data} is a CSV of tracks: give {' and '.join(missing)} (the columns "
            "naming each row's track and time)"
        )
    features = given["feature_columns"]
    if features is not None:
        features = [c.strip() for c in features.split(",") if c.strip()]
        if not features:
            raise click.BadParameter(
                f"{given['feature_columns']!r} names no column; give comma-separated names "
                "such as lat,lon",
                param_hint="'--feature-columns'",
            )
    columns = TrackColumns(
        given["id_column"], given["time_column"], features, given["label_column"] or "label"
    )
    return columns, test_split


def echo_out(out: str | None, model: str, result: dict[str, Any]) -> None:
    from seqlab.series.forecast import NEURAL_MODELS

    if out is None:
        return
    if model in NEURAL_MODELS:
        click.echo(f"wrote the run folder {out} ({result['plot']}; seqlab.load reads it)")
    else:
        click.echo(f"wrote {out}/metrics.json and {result['plot']}")
