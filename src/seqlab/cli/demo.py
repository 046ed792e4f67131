"""``seqlab demo``: the guided tour on bundled data (see :mod:`seqlab.demo`)."""

from __future__ import annotations

import click

from seqlab.cli.options import device_option, seed_option

__all__ = ["demo"]


@click.command("demo")
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default="runs/demo",
    show_default=True,
    help="Folder for the run folders and summary.json.",
)
@seed_option()
@device_option
@click.option("--progress", is_flag=True, help="Show progress bars while training.")
@click.option(
    "--lm-seconds",
    type=click.FloatRange(min=0),
    default=60.0,
    show_default=True,
    help="Seconds of character-LM training on Nietzsche (0 skips it).",
)
@click.option(
    "--lm-steps",
    type=click.IntRange(min=1),
    default=None,
    help="Train the character LM for this many steps instead of --lm-seconds (the same "
    "result on any machine).",
)
def demo(
    out: str, seed: int, device: str, progress: bool, lm_seconds: float, lm_steps: int | None
) -> None:
    """Watch text become vectors and a classifier learn, on bundled movie-review snippets."""
    from seqlab.demo import run_demo

    try:
        run_demo(
            out,
            seed=seed,
            device=device,
            progress=progress,
            lm_seconds=lm_seconds,
            lm_steps=lm_steps,
            echo=click.echo,
        )
    except (ValueError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from exc
