"""The ``seqlab`` command. Each command group lives in its own module under ``seqlab.cli``
and only parses arguments before calling one library function."""

from __future__ import annotations

import importlib

import click

__all__ = ["cli", "main"]

# (module, attribute) of each command or group; each module defines a click object.
COMMANDS: tuple[tuple[str, str], ...] = (
    ("seqlab.cli.data", "data"),
    ("seqlab.cli.classify", "classify"),
    ("seqlab.cli.demo", "demo"),
    ("seqlab.cli.embed", "embed"),
    ("seqlab.cli.export", "export"),
    ("seqlab.cli.series", "series"),
    ("seqlab.cli.lm", "lm"),
    ("seqlab.cli.runs", "runs"),
    ("seqlab.cli.serve", "serve"),
    ("seqlab.cli.text", "text"),
)
# (module, attribute, group) of commands kept in a module of their own but shown in a group.
SUBCOMMANDS: tuple[tuple[str, str, str], ...] = (
    ("seqlab.cli.gradients", "gradients", "classify"),
    ("seqlab.cli.ensemble", "ensemble", "classify"),
    ("seqlab.cli.attention", "attention", "classify"),
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="seqlab")
def cli() -> None:
    """seqlab: neural networks on sequence data."""


for _module, _attr in COMMANDS:
    try:
        _mod = importlib.import_module(_module)
    except ModuleNotFoundError as exc:  # a command group not written yet
        if exc.name != _module:
            raise
        continue
    cli.add_command(getattr(_mod, _attr))
for _module, _attr, _group in SUBCOMMANDS:
    cli.commands[_group].add_command(getattr(importlib.import_module(_module), _attr))


def main() -> None:
    """Entry point of the console script."""
    cli()


if __name__ == "__main__":
    main()
