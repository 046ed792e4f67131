"""``seqlab lm train|generate|evaluate``: language models from the command line.

Each command parses its options and calls one library function (:func:`seqlab.lm.train`,
:meth:`seqlab.lm.LanguageModel.stream`, :func:`seqlab.lm.evaluate`); torch is imported only
when a command runs.
"""

from __future__ import annotations

import json
from typing import Any

import click

from seqlab._utils import is_number
from seqlab.cli.errors import user_errors
from seqlab.cli.options import (
    LEARNING_RATE,
    budget,
    choice_option,
    data_dir_option,
    device_option,
    init_option,
    max_tokens_option,
    optimizer_option,
    seed_option,
    set_option,
    size_options,
    training_options,
)
from seqlab.cli.settings import cli_settings
from seqlab.defaults import OPTIMIZERS

__all__ = ["lm"]


class _ManyValuesCommand(click.Command):
    """Lets ``--temperature 0.2 0.5 1.0`` take several values (click options take one each):
    numbers that follow the option are rewritten as repeated ``--temperature`` options."""

    many = ("--temperature", "-t")

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        out: list[str] = []
        expect_value = greedy = False
        for i, arg in enumerate(args):
            if arg == "--":
                out.extend(args[i:])
                break
            if expect_value:
                out.append(arg)
                expect_value, greedy = False, True
                continue
            if greedy and is_number(arg):
                out.extend([self.many[0], arg])
                continue
            greedy = False
            if arg in self.many:
                expect_value = True
            elif arg.startswith(self.many[0] + "="):
                greedy = True
            out.append(arg)
        return super().parse_args(ctx, out)


# LMConfig fields set by the command's own flags, not by --set
FLAG_FIELDS = ("level", "recipe", "corpus", "seed", "epochs", "steps", "minutes", "data_dir")


@click.group("lm")
def lm() -> None:
    """Train, sample from and evaluate character- or word-level language models.

    \b
    seqlab lm train --corpus nietzsche --level char --minutes 10 --out runs/nz
    seqlab lm train --corpus tinyshakespeare --model transformer --minutes 10 --out runs/gpt
    seqlab lm train --corpus imdb --level word --max-tokens 30000 --minutes 25 --out runs/imdb-lm
    seqlab lm generate runs/nz --prompt "the will to truth" --temperature 0.2 0.5 1.0 1.2
    seqlab lm evaluate runs/nz
    """


@lm.command("train")
@click.option(
    "--corpus",
    required=True,
    help="Bundled corpus (nietzsche, tinyshakespeare), imdb (IMDB's training and unlabelled "
    "reviews, one per line, never the test ones; with --data-dir) or a text file.",
)
@data_dir_option("--corpus imdb: the folder holding the IMDB data (default: $SEQLAB_DATA).")
@choice_option("--level", ["char", "word"])
@choice_option(
    "--recipe",
    ["default", "lecture"],
    "default: contiguous chunks, truncated BPTT; lecture: the Keras example's "
    "windows (maxlen 40, step 3, LSTM 128, RMSprop 0.01).",
)
@click.option(
    "--model",
    type=click.Choice(["lstm", "gru", "transformer"]),
    default=None,
    help="lstm / gru: recurrent, truncated BPTT; transformer: GPT-style, rotary positions, "
    "a sliding attention window of --block-size tokens (default recipe).  [default: lstm]",
)
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Run folder.")
@seed_option()
@training_options(epochs=None, epochs_type=click.FloatRange(min=0, min_open=True))
@click.option("--lower/--no-lower", default=None, help="Lower-case the corpus (recipe default).")
@size_options(
    hidden_size="Recurrent units per layer.",
    num_layers="Layers (recurrent or transformer blocks).",
    d_model="Transformer: width of every block.",
    num_heads="Transformer: heads.",
    embedding_dim="Width of the token embeddings.",
    dropout="Dropout [default: the recipe's].",
    batch_size="Chunks (or windows) per batch.",
    maxlen="Window length (lecture recipe).",
)
@click.option(
    "--block-size",
    type=int,
    default=None,
    help="Transformer: context length (each token attends to this many) and training window.",
)
@click.option(
    "--seq-len",
    type=int,
    default=None,
    help="Chunk length (default recipe, recurrent models; a transformer reads --block-size).",
)
@click.option("--lr", type=LEARNING_RATE, default=None, help="Learning rate.")
@optimizer_option(OPTIMIZERS, None)
@init_option
@max_tokens_option("Word vocabulary size (with pad, OOV).")
@set_option(
    "settings", "Any other training setting, e.g. --set schedule=step --set clip_grad_norm=0.5."
)
@click.option(
    "--stream",
    is_flag=True,
    default=None,
    help="Read the corpus file as it trains instead of into memory, for files larger than "
    "memory (default recipe; the same batches).",
)
@user_errors
def train_command(
    corpus: str,
    level: str,
    recipe: str,
    out: str,
    seed: int,
    settings: tuple[str, ...],
    **flags: Any,
) -> None:
    """Train a language model on a corpus and save it in a run folder. The model's layers,
    output shapes and parameter counts are printed first (as Keras's model.summary(); not
    with --quiet).

    The same flags work under torchrun (--batch-size is the global batch; rank 0 writes
    the run folder and prints):

    \b
    torchrun --nproc-per-node 2 -m seqlab.cli.main lm train --corpus nietzsche \\
        --minutes 10 --device cpu --out runs/nz-ddp

    --stream trains from a text file larger than memory (each rank reads only its streams):

    \b
    seqlab lm train --corpus big.txt --level word --stream --minutes 60 --out runs/big
    """
    import seqlab.lm
    from seqlab.training import distributed

    run = budget(flags, steps_name="steps")
    resume = run.pop("resume")
    model = seqlab.lm.train(
        corpus,
        # On resume the stored run decides; only values given explicitly are checked.
        level=None if resume else level,
        recipe=None if resume else recipe,
        out=out,
        seed=None if resume else seed,
        resume=resume,
        **run,
        **_overrides(settings, flags),
    )
    if distributed.is_main():
        click.echo(_saved_line(model, out))


def _overrides(settings: tuple[str, ...], flags: dict[str, Any]) -> dict[str, Any]:
    """The LMConfig fields that ``--set`` and the flags named after them (``--hidden-size``,
    ``--stream``...) give; a flag wins over ``--set``, an absent one (None) leaves the
    recipe's (or on resume, the stored) value."""
    from seqlab.lm import LMConfig

    # fields with their own flag (or fixed by the command) are not --set keys
    overrides = cli_settings(settings, LMConfig, exclude=FLAG_FIELDS)
    flags = {**flags, "stream": flags["stream"] or None}
    overrides.update({name: value for name, value in flags.items() if value is not None})
    return overrides


def _saved_line(model: Any, out: str) -> str:
    """What ``lm train`` prints at the end: the run folder, the steps, the held-out loss."""
    summary = f"saved {out}: {model.metrics['steps']} steps"
    val = model.metrics.get("val")
    if val:
        summary += f", held-out loss {val['loss']:.4f} nats/token"
        summary += f", perplexity {val['perplexity']:.2f}"
    return summary


@lm.command("generate", cls=_ManyValuesCommand)
@click.argument("run", type=click.Path(exists=True, file_okay=False))
@click.option(
    "--prompt",
    "--seed-text",
    "prompt",
    default=None,
    help="Text to continue (default: a random window of the held-out text, as in the lecture).",
)
@click.option(
    "--temperature",
    "-t",
    type=float,
    multiple=True,
    help="One or more temperatures (> 0); one sample each.  [default: 0.2 0.5 1.0 1.2]",
)
@click.option("--length", type=int, default=400, show_default=True, help="Tokens per sample.")
@seed_option()
@click.option("--top-k", type=int, default=None, help="Keep the k most likely tokens.")
@click.option("--top-p", type=float, default=None, help="Nucleus sampling threshold.")
@click.option("--stop", multiple=True, help="End a sample before this string (repeatable).")
@choice_option(
    "--loop",
    ["state", "window", "full"],
    "state: carry the state (an RNN's, a transformer's key/value cache; fast); window: "
    "re-read the last maxlen (transformer: block_size) tokens each step (the lecture's, "
    "nanoGPT's loop); full: re-read everything each step (the reference state equals).",
)
@device_option
@user_errors
def generate_command(
    run: str,
    prompt: str | None,
    temperature: tuple[float, ...],
    length: int,
    seed: int,
    top_k: int | None,
    top_p: float | None,
    stop: tuple[str, ...],
    loop: str,
    device: str,
) -> None:
    """Continue a prompt, one sample per temperature, streamed to the terminal."""
    import seqlab.lm

    model = seqlab.lm.load(run, device=device)
    if prompt is None:
        prompt = seqlab.lm.corpus_prompt(model, seed=seed)
    for t in temperature or (0.2, 0.5, 1.0, 1.2):
        click.echo(f"----- temperature {t}")
        click.echo(prompt, nl=False)
        pieces = model.stream(
            prompt, length, t, top_k=top_k, top_p=top_p, seed=seed, stop=list(stop), loop=loop
        )
        for piece in pieces:
            click.echo(piece, nl=False)
        click.echo()


@lm.command("evaluate")
@click.argument("run", type=click.Path(exists=True, file_okay=False))
@click.option(
    "--corpus", default=None, help="Score this whole corpus (default: the run's own held-out text)."
)
@click.option(
    "--eval-tokens",
    type=click.IntRange(min=1),
    default=None,
    help="Score at most this many tokens [default: all].",
)
# the old name of --eval-tokens, hidden: --max-tokens means the vocabulary size everywhere
@click.option("--max-tokens", "old_max_tokens", type=click.IntRange(min=1), hidden=True)
@device_option
@user_errors
def evaluate_command(
    run: str,
    corpus: str | None,
    eval_tokens: int | None,
    old_max_tokens: int | None,
    device: str,
) -> None:
    """Print held-out loss (nats/token, bits, perplexity) of a run as JSON."""
    import seqlab.lm

    if old_max_tokens is not None:
        if eval_tokens is not None:
            raise click.UsageError(
                "--max-tokens and --eval-tokens were both given; give only --eval-tokens "
                "(--max-tokens means the vocabulary size)"
            )
        click.echo(
            f"warning: --max-tokens of lm evaluate is deprecated (--max-tokens means the "
            f"vocabulary size); use --eval-tokens {old_max_tokens}",
            err=True,
        )
        eval_tokens = old_max_tokens
    # the library's keyword is still max_tokens (LanguageModel.evaluate)
    metrics = seqlab.lm.evaluate(run, corpus=corpus, max_tokens=eval_tokens, device=device)
    click.echo(json.dumps(metrics, indent=2))
