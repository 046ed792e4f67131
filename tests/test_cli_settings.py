"""The one ``--set KEY=VALUE`` parser (``seqlab.cli.settings``) and the shared error path
of the commands (``seqlab.cli.errors``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import click
import pytest
from click.testing import CliRunner

from seqlab.cli.errors import user_errors
from seqlab.cli.settings import SettingError, parse_settings


@dataclass
class _Config:
    hidden_size: int = 32
    lr: float = 1e-3
    dropout: float | None = None
    bidirectional: bool = False
    pooling: Literal["last", "max", "mean"] = "last"
    dilations: tuple[int, ...] = (1,)
    ngram_range: tuple[int, int] = (1, 1)
    sizes: list[int] | None = None
    max_tokens: int | str | None = "auto"
    name: str = "x"
    extra: dict[str, Any] | None = None


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ("hidden_size=64", {"hidden_size": 64}),
        ("hidden-size=64", {"hidden_size": 64}),
        ("lr=2e-3", {"lr": 0.002}),
        ("dropout=none", {"dropout": None}),
        ("dropout=0.5", {"dropout": 0.5}),
        ("bidirectional=yes", {"bidirectional": True}),
        ("bidirectional=False", {"bidirectional": False}),
        ("pooling=max", {"pooling": "max"}),
        ("dilations=[1,2,4]", {"dilations": (1, 2, 4)}),
        ("dilations=1,2", {"dilations": (1, 2)}),
        ("ngram_range=(1,2)", {"ngram_range": (1, 2)}),
        ("sizes=[8, 16]", {"sizes": [8, 16]}),
        ("max_tokens=500", {"max_tokens": 500}),
        ("max_tokens=auto", {"max_tokens": "auto"}),
        ("max_tokens=null", {"max_tokens": None}),
        ('name="a b"', {"name": "a b"}),
        ('extra={"k": 1}', {"extra": {"k": 1}}),
    ],
)
def test_cli_settings_values_are_typed_after_the_target(item, expected) -> None:
    assert parse_settings([item], _Config) == expected


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("hidden_size=abc", "hidden_size=abc: expected an integer (int), got 'abc'"),
        ("hidden_size=3.5", "hidden_size=3.5: expected an integer (int), got '3.5'"),
        ("lr=inf", "lr=inf: expected a finite number"),
        ("lr=nan", "lr=nan: expected a finite number"),
        ("dropout=-inf", "expected a finite number"),
        ("bidirectional=maybe", "expected true or false"),
        ("pooling=min", "expected one of 'last', 'max', 'mean', got 'min'"),
        ("dilations=[1,x]", "dilations=[1,x]: expected an integer"),
        ("ngram_range=1,2,3", "expected 2 values"),
        ("colour=3", "unknown setting 'colour'"),
        ("hidden_size", "expected KEY=VALUE"),
        ("=3", "expected KEY=VALUE"),
    ],
)
def test_cli_settings_bad_items_are_refused_with_key_and_value(item, message) -> None:
    with pytest.raises(SettingError) as info:
        parse_settings([item], _Config)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_cli_settings_unknown_key_lists_the_valid_ones_and_repeats_are_refused() -> None:
    with pytest.raises(SettingError, match="valid keys: bidirectional, dilations, dropout"):
        parse_settings(["hiden_size=3"], _Config)
    with pytest.raises(SettingError, match="given twice"):
        parse_settings(["lr=0.1", "lr=0.2"], _Config)


def test_cli_settings_function_signatures_and_kwargs() -> None:
    def model(vocab_size: int, num_layers: int = 1, **rest: Any) -> None: ...

    assert parse_settings(["num_layers=2", "other=[1,2]"], model) == {
        "num_layers": 2,
        "other": [1, 2],
    }
    with pytest.raises(SettingError, match="num_layers=two"):
        parse_settings(["num_layers=two"], model)
    with pytest.raises(SettingError, match="finite"):
        parse_settings(["other=NaN"], model)
    strict = parse_settings  # a class without **kwargs: unknown keys refused, `exclude` hidden

    class Net:
        def __init__(self, vocab_size: int, hidden_size: int = 8) -> None: ...

    with pytest.raises(SettingError, match="valid keys: hidden_size$"):
        strict(["vocab_size=3"], Net, exclude=("vocab_size",))


def _command(exc: BaseException) -> click.Command:
    @click.command()
    @user_errors
    def cmd() -> None:
        raise exc

    return cmd


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (ValueError("lr must be > 0, got -1; give a positive --lr"), 2),
        (FileNotFoundError("data='x.tsv': no such file"), 2),
    ],
)
def test_cli_errors_are_one_line_without_traceback(exc, code) -> None:
    result = CliRunner().invoke(_command(exc), [])
    assert result.exit_code == code
    assert result.output == f"Error: {exc}\n"


def test_cli_errors_divergence_and_run_folder_errors() -> None:
    from seqlab.runfolder import RunFolderError
    from seqlab.training.loop import TrainingDiverged

    result = CliRunner().invoke(_command(TrainingDiverged("loss is nan; lower --lr")), [])
    assert (result.exit_code, result.output) == (1, "Error: loss is nan; lower --lr\n")
    result = CliRunner().invoke(_command(RunFolderError("runs/x holds a run; --overwrite")), [])
    assert result.exit_code == 2 and result.output.startswith("Error: runs/x holds a run")


def test_cli_errors_interrupt_prints_the_resume_message_and_exits_130() -> None:
    from seqlab.training.loop import TrainingInterrupted

    message = "interrupted at step 3; checkpoint written to r/checkpoint; continue with --resume"
    result = CliRunner().invoke(_command(TrainingInterrupted(message)), [])
    assert result.exit_code == 130 and message in result.output
    assert "Aborted" not in result.output
    result = CliRunner().invoke(_command(KeyboardInterrupt()), [])
    assert result.exit_code == 130 and "no checkpoint was written" in result.output


def test_cli_every_command_that_runs_a_model_defaults_to_device_auto() -> None:
    from seqlab.cli.main import cli

    def commands(group: click.Group, path: str):
        for name, cmd in group.commands.items():
            if isinstance(cmd, click.Group):
                yield from commands(cmd, f"{path} {name}")
            else:
                yield f"{path} {name}".strip(), cmd

    defaults = {
        name: p.default for name, cmd in commands(cli, "") for p in cmd.params if p.name == "device"
    }
    assert {"classify train", "classify predict", "lm generate", "embed train"} <= set(defaults)
    assert set(defaults.values()) == {"auto"}, defaults


def test_python_api_device_defaults_to_auto_as_the_cli_does() -> None:
    import inspect

    import seqlab as sl
    from seqlab.embeddings.word2vec import Word2Vec
    from seqlab.ensemble import build_ensemble
    from seqlab.lm.evaluate import evaluate
    from seqlab.lm.model import LanguageModel
    from seqlab.runs import load as load_run
    from seqlab.series.neural_classify import NeuralSequenceClassifier
    from seqlab.series.neural_forecast import NeuralForecaster

    takes_device = [
        sl.load, sl.fit, load_run, LanguageModel.load, evaluate, build_ensemble, Word2Vec,
        NeuralForecaster, NeuralSequenceClassifier, NeuralForecaster.load,
    ]  # fmt: skip
    defaults = {
        f.__qualname__: inspect.signature(f).parameters["device"].default for f in takes_device
    }
    assert set(defaults.values()) == {"auto"}, defaults


def test_cli_a_flag_shared_by_commands_is_spelled_and_typed_the_same() -> None:
    """One name per concept: an option that two commands both take (same destination) has the
    same flags and type in both (the model-size flags come from options.size_options)."""
    from seqlab.cli.main import cli

    seen: dict[str, dict[str, tuple]] = {}
    for group in ("classify", "lm"):
        train = cli.commands[group].commands["train"]
        seen[group] = {p.name: (tuple(p.opts), p.type.name) for p in train.params}
    shared = set(seen["classify"]) & set(seen["lm"])
    assert {"hidden_size", "num_layers", "embedding_dim", "dropout", "batch_size"} <= shared
    # --epochs: a language model reads fractions of an epoch; --model: other model families
    for name in shared:
        flags_and_type = seen["classify"][name], seen["lm"][name]
        if name in ("epochs", "model"):
            flags_and_type = tuple(f for f, _ in flags_and_type)
        assert flags_and_type[0] == flags_and_type[1], name
