"""Options shared by the commands, so that a flag has one name and one meaning everywhere.

Every training command takes :func:`training_options`: the budgets ``--epochs``,
``--steps`` and ``--minutes`` (training stops at the first one reached), ``--device``
(default ``auto``), ``--threads``, the run folder flags ``--resume``, ``--overwrite`` and
``--checkpoint-every``, ``--tensorboard DIR`` and ``--quiet``. :func:`budget` turns them
into the keyword arguments of the library's training functions. :func:`choice_option` is
a flag that takes one of a few words, :func:`set_option` the ``--set KEY=VALUE`` flag of a
command, :func:`data_dir_option` the folder of a named dataset, :func:`columns_options` the
columns of a table of texts, :func:`max_tokens_option` the vocabulary size, :func:`png_option`
the picture a command draws, :func:`seed_option` the seed, :func:`run_argument` the run
folder a command reads, and :func:`comma_list` reads a flag's ``3,4,5``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from seqlab.defaults import DEFAULT_INIT, INITS

__all__ = [
    "LEARNING_RATE",
    "LearningRate",
    "StopWordsType",
    "budget",
    "choice_option",
    "columns_options",
    "comma_list",
    "data_dir_option",
    "device_option",
    "ema_option",
    "init_option",
    "max_tokens_option",
    "optimizer_option",
    "png_option",
    "precision_option",
    "quiet_option",
    "run_argument",
    "seed_option",
    "set_option",
    "size_options",
    "stop_words_option",
    "training_options",
]

F = TypeVar("F", bound=Callable[..., Any])

DEVICE_HELP = "auto (CUDA when present, else the CPU), cpu, cuda or cuda:N."


FLOAT32_MAX = 3.4028234663852886e38  # a learning rate above it overflows the optimizer


class LearningRate(click.ParamType):
    """A learning rate: a finite number > 0 that a float32 optimizer step can hold."""

    name = "float"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        try:
            lr = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number; give a learning rate such as 1e-3", param, ctx)
        if not (math.isfinite(lr) and 0 < lr <= FLOAT32_MAX):
            self.fail(
                f"{value!r} is not a usable learning rate: give a finite number > 0 (at most "
                "3.4e38, the float32 limit), such as 1e-3",
                param,
                ctx,
            )
        return lr


LEARNING_RATE = LearningRate()


def device_option(func: F) -> F:
    """``--device``, default ``auto``: every command that runs a model."""
    return click.option("--device", default="auto", show_default=True, help=DEVICE_HELP)(func)


def data_dir_option(help: str | None = None) -> Callable[[F], F]:
    """``--data-dir DIR``: the folder that holds a named dataset's files (the library reads
    ``$SEQLAB_DATA`` when it is not given); ``help`` says which dataset, in the command's
    words."""
    return click.option("--data-dir", type=click.Path(file_okay=False), default=None, help=help)


def columns_options(
    text_help: str | None = None, label_help: str | None = None
) -> Callable[[F], F]:
    """``--text-column`` and ``--label-column``: the columns of a table (CSV, TSV, JSONL) that
    hold the texts and the labels, ``text`` and ``label`` unless told otherwise."""

    def decorate(func: F) -> F:
        func = click.option("--label-column", default="label", show_default=True, help=label_help)(
            func
        )
        return click.option("--text-column", default="text", show_default=True, help=text_help)(
            func
        )

    return decorate


def seed_option(help: str | None = None, *, default: int | None = 0) -> Callable[[F], F]:
    """``--seed N``: the seed of a command's random choices (``default=None``: the command
    takes it from elsewhere, and ``help`` says where)."""
    return click.option(
        "--seed", type=int, default=default, show_default=default is not None, help=help
    )


def run_argument(func: F) -> F:
    """``RUN``: the run folder a command reads (given as ``run_dir``)."""
    return click.argument("run_dir", metavar="RUN", type=click.Path())(func)


def max_tokens_option(help: str) -> Callable[[F], F]:
    """``--max-tokens N``: the vocabulary size, the one meaning of ``max_tokens`` in seqlab
    (``help`` gives what the command counts and its default)."""
    return click.option("--max-tokens", type=int, default=None, help=help)


def png_option(help: str | None = None, *, default: str | None = None) -> Callable[[F], F]:
    """``--out FILE``: where a command writes the picture it draws (PNG); with a ``default``
    the picture is always written (and the help shows where)."""
    return click.option(
        "--out",
        type=click.Path(dir_okay=False),
        default=default,
        show_default=default is not None,
        help=help,
    )


def comma_list(value: str | None, option: str, kind: type[int] | type[float]) -> list | None:
    """The numbers of a flag written ``3,4,5`` (empty items skipped), as ``kind``; ``None``
    (the flag not given) stays ``None``; anything else is a usage error naming ``option``.

    >>> comma_list("3,4,5", "--kernel-sizes", int), comma_list(None, "--weights", float)
    ([3, 4, 5], None)
    """
    if value is None:
        return None
    try:
        return [kind(x) for x in value.split(",") if x.strip()]
    except ValueError:
        numbers = "integers" if kind is int else "numbers"
        example = "3,4,5" if kind is int else "0.5,0.3,0.2"
        raise click.BadParameter(
            f"expected {numbers} separated by commas like {example}, got {value!r}",
            param_hint=option,
        ) from None


def init_option(func: F) -> F:
    """``--init keras|torch``: how every training command's model draws its first weights."""
    return click.option(
        "--init",
        type=click.Choice(INITS),
        default=None,
        help="Initial weights: keras (Glorot-uniform kernels, orthogonal recurrent kernels, "
        "zero biases, LSTM forget bias 1, embeddings U(-0.05, 0.05)) or torch (PyTorch's "
        f"layer defaults); pretrained vectors are kept  [default: {DEFAULT_INIT}]",
    )(func)


# The model-size flags of the training commands, defined once (flags, type); each command
# says what the flag means for its models. Every one defaults to None: the model's (or the
# recipe's) own value.
SIZE_FLAGS: dict[str, tuple[tuple[str, ...], type]] = {
    "embedding_dim": (("--embedding-dim",), int),
    "hidden_size": (("--hidden-size",), int),
    "num_layers": (("--num-layers", "--layers"), int),
    "d_model": (("--d-model",), int),
    "num_heads": (("--num-heads", "--heads"), int),
    "maxlen": (("--maxlen",), int),
    "dropout": (("--dropout",), float),
    "batch_size": (("--batch-size",), int),
}


def size_options(**helps: str) -> Callable[[F], F]:
    """The model-size options named by ``helps`` (keys of ``SIZE_FLAGS``), in that order, each
    with its help text: ``size_options(hidden_size="Recurrent units per layer.")``."""

    def decorate(func: F) -> F:
        for name, help in reversed(helps.items()):
            flags, kind = SIZE_FLAGS[name]
            func = click.option(*flags, name, type=kind, default=None, help=help)(func)
        return func

    return decorate


OPTIMIZER_HELP = {
    "adam": "adam (PyTorch's Adam)",
    "adamw": "adamw (Adam with decoupled weight decay on weight matrices and tables; "
    "give the decay: it is 0 unless set, not torch's 0.01)",
    "rmsprop": "rmsprop (Keras's RMSprop: rho 0.9, epsilon 1e-7, as in the lecture; "
    "PyTorch's own defaults differ)",
    "sgd": "sgd (no momentum, as in Keras)",
}


def optimizer_option(choices: tuple[str, ...], default: str | None) -> Callable[[F], F]:
    """``--optimizer``, with the same meaning everywhere (``rmsprop`` is Keras's);
    ``default=None``: the command's recipe decides."""
    text = "; ".join(OPTIMIZER_HELP[c] for c in choices) + "."
    return click.option(
        "--optimizer",
        type=click.Choice(choices),
        default=default,
        show_default=default is not None,
        help=text if default is not None else text + "  [default: the recipe's]",
    )


def quiet_option(func: F) -> F:
    """``--quiet``: every long-running command."""
    return click.option("--quiet", is_flag=True, help="No progress bars or progress lines.")(func)


def stop_words_option(func: F) -> F:
    """``--stop-words english|FILE``: every command that builds a vectorizer."""
    return click.option(
        "--stop-words",
        type=StopWordsType(),
        default=None,
        help="Drop these words after standardisation, before n-grams: 'english' "
        "(scikit-learn's list of 318 words) or a file with one word per line.",
    )(func)


def choice_option(
    flag: str, choices: Sequence[str], help: str | None = None, *, default: str | None = None
) -> Callable[[F], F]:
    """``flag`` takes one of ``choices``; its default (shown in the help) is ``default``,
    else the first choice.

    >>> @choice_option("--loop", ["state", "window"], "How to sample.")
    ... def command(loop): ...
    """
    return click.option(
        flag,
        type=click.Choice(list(choices)),
        default=choices[0] if default is None else default,
        show_default=True,
        help=help,
    )


def set_option(dest: str, help: str) -> Callable[[F], F]:
    """``--set KEY=VALUE`` (repeatable), into the parameter ``dest``; the command reads the
    items with :func:`seqlab.cli.settings.cli_settings`."""
    return click.option("--set", dest, multiple=True, metavar="KEY=VALUE", help=help)


precision_option = click.option(
    "--precision",
    type=click.Choice(["fp32", "bf16"]),
    default="fp32",
    show_default=True,
    help="bf16: forward passes in bfloat16 under autocast (float32 weights); fast on GPUs and "
    "CPUs with bfloat16 instructions, slower on others.",
)
ema_option = click.option(
    "--ema",
    type=click.FloatRange(min=0, max=1, min_open=True, max_open=True),
    default=None,
    metavar="DECAY",
    help="Keep a moving average of the weights (e.g. 0.999: about the last 1,000 steps); "
    "evaluation, model selection and the saved weights use it.",
)


def training_options(*, epochs: float | None = None, epochs_type: Any = int) -> Callable[[F], F]:
    """The flags of every training command (see the module docstring); ``epochs`` is the
    command's default ``--epochs``."""

    def decorate(func: F) -> F:
        options = [
            click.option(
                "--epochs",
                type=epochs_type,
                default=epochs,
                show_default=epochs is not None,
                help="Stop after this many passes over the training data.",
            ),
            click.option(
                "--steps",
                type=click.IntRange(min=1),
                default=None,
                help="Stop after this many optimizer steps.",
            ),
            # the old name of --steps (classify train), hidden; it still works with a warning
            click.option("--max-steps", "max_steps_alias", type=int, default=None, hidden=True),
            click.option(
                "--minutes",
                type=click.FloatRange(min=0, min_open=True),
                default=None,
                help="Stop after this much training time.",
            ),
            device_option,
            click.option(
                "--threads",
                type=ThreadsType(),
                default="auto",
                show_default=True,
                help="Torch CPU threads for the run, or 'auto': torch's count less the cores "
                "other work is using when training starts (on a shared machine).",
            ),
            precision_option,
            ema_option,
            click.option(
                "--resume", is_flag=True, help="Continue the run in --out from its checkpoint."
            ),
            click.option(
                "--overwrite",
                is_flag=True,
                help="Train into an --out that already holds a finished or unfinished run, "
                "replacing it.",
            ),
            click.option(
                "--checkpoint-every",
                type=click.FloatRange(min=0, min_open=True),
                default=60.0,
                show_default=True,
                metavar="SECONDS",
                help="Seconds between checkpoints (one is also written at every epoch end).",
            ),
            click.option(
                "--tensorboard",
                type=click.Path(file_okay=False),
                default=None,
                metavar="DIR",
                help="Also write the training curves, the learning rate and (for a model with "
                "an embedding) a projector file to DIR for TensorBoard; history.json stays "
                "the record.",
            ),
            quiet_option,
        ]
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


def budget(opts: dict[str, Any], *, steps_name: str = "max_steps") -> dict[str, Any]:
    """Pop the :func:`training_options` values from a command's ``opts`` and return them as
    the library's keyword arguments (``steps_name``: what the library calls ``--steps``)."""
    steps, alias = opts.pop("steps"), opts.pop("max_steps_alias")
    if alias is not None:
        if steps is not None:
            raise click.UsageError(
                "--max-steps and --steps were both given; --max-steps is the old name of "
                "--steps: give only --steps"
            )
        if alias < 1:
            raise click.BadParameter(f"{alias} is not >= 1", param_hint="'--steps'")
        click.echo(f"warning: --max-steps is deprecated; use --steps {alias}", err=True)
        steps = alias
    if opts["resume"] and opts["overwrite"]:
        raise click.UsageError(
            "--resume continues the run in --out and --overwrite replaces it: give one"
        )
    ema = opts.pop("ema")  # only when given: a resumed run keeps its stored setting
    return {
        **({} if ema is None else {"ema": ema}),
        "epochs": opts.pop("epochs"),
        steps_name: steps,
        "minutes": opts.pop("minutes"),
        "device": opts.pop("device"),
        "threads": opts.pop("threads"),
        "precision": opts.pop("precision"),
        "resume": opts.pop("resume"),
        "overwrite": opts.pop("overwrite"),
        "checkpoint_every": opts.pop("checkpoint_every"),
        "tensorboard": opts.pop("tensorboard"),
        "progress": not opts.pop("quiet"),
    }


class ThreadsType(click.ParamType):
    """``--threads``: an int >= 1 or ``auto``."""

    name = "N|auto"

    def convert(self, value: Any, param: Any, ctx: Any) -> int | str:
        if value == "auto" or isinstance(value, int):
            return value
        try:
            n = int(value)
        except (TypeError, ValueError):
            n = 0
        if n < 1:
            self.fail(f"{value!r} is not a thread count; give an int >= 1 or 'auto'", param, ctx)
        return n


class StopWordsType(click.ParamType):
    """``--stop-words``: ``english`` (kept as the name) or a file read into its list of words."""

    name = "english|FILE"

    def convert(self, value: Any, param: Any, ctx: Any) -> str | list[str]:
        from seqlab.text.stop_words import STOP_WORD_LISTS, read_stop_words

        if not isinstance(value, str) or value in STOP_WORD_LISTS:
            return value
        try:
            return read_stop_words(value)
        except (FileNotFoundError, ValueError) as exc:
            self.fail(str(exc), param, ctx)
