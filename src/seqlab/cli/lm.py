"""``seqlab lm train|generate|evaluate``: language models from the command line.

Each command parses its options and calls one library function (:func:`seqlab.lm.train`,
:meth:`seqlab.lm.LanguageModel.stream`, :func:`seqlab.lm.evaluate`); torch is imported only
when a command runs.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable
from typing import Any

import click

__all__ = ["lm"]


def _user_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Show the library's ValueError / TypeError / FileNotFoundError as a one-line error."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (ValueError, TypeError, FileNotFoundError) as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


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
            if greedy and _is_number(arg):
                out.extend([self.many[0], arg])
                continue
            greedy = False
            if arg in self.many:
                expect_value = True
            elif arg.startswith(self.many[0] + "="):
                greedy = True
            out.append(arg)
        return super().parse_args(ctx, out)


def _parse_setting(item: str) -> tuple[str, Any]:
    """``KEY=VALUE`` -> (key, value typed after the :class:`seqlab.lm.LMConfig` field)."""
    from seqlab.lm import LMConfig

    if "=" not in item:
        raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--set")
    key, value = (s.strip() for s in item.split("=", 1))
    key = key.replace("-", "_")
    fields = {f.name: str(f.type) for f in dataclasses.fields(LMConfig)}
    if key not in fields:
        raise click.BadParameter(
            f"unknown setting {key!r}; choose from: {', '.join(sorted(fields))}",
            param_hint="--set",
        )
    kind = fields[key]
    if value.lower() in ("none", "null") and "None" in kind:
        return key, None
    try:
        if kind.startswith("bool"):
            if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(value)
            return key, value.lower() in ("true", "1", "yes")
        if kind.startswith("int"):
            return key, int(value)
        if kind.startswith("float"):
            return key, float(value)
    except ValueError:
        raise click.BadParameter(
            f"{key} expects a value of type {kind}, got {value!r}", param_hint="--set"
        ) from None
    return key, value


@click.group("lm")
def lm() -> None:
    """Train, sample from and evaluate character- or word-level language models.

    \b
    seqlab lm train --corpus nietzsche --level char --minutes 10 --out runs/nz
    seqlab lm generate runs/nz --prompt "the will to truth" --temperature 0.2 0.5 1.0 1.2
    seqlab lm evaluate runs/nz
    """


@lm.command("train")
@click.option(
    "--corpus", required=True, help="Bundled corpus (nietzsche, tinyshakespeare) or a text file."
)
@click.option("--level", type=click.Choice(["char", "word"]), default="char", show_default=True)
@click.option(
    "--recipe",
    type=click.Choice(["default", "lecture"]),
    default="default",
    show_default=True,
    help="default: contiguous chunks, truncated BPTT; lecture: the Keras example's "
    "windows (maxlen 40, step 3, LSTM 128, RMSprop 0.01).",
)
@click.option("--model", type=click.Choice(["lstm", "gru"]), default=None, help="Recurrent cell.")
@click.option("--minutes", type=float, default=None, help="Stop after this much training time.")
@click.option("--steps", type=int, default=None, help="Stop after this many updates.")
@click.option("--epochs", type=float, default=None, help="Stop after this many passes.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Run folder.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--lower/--no-lower", default=None, help="Lower-case the corpus (recipe default).")
@click.option("--hidden-size", type=int, default=None)
@click.option("--num-layers", type=int, default=None)
@click.option("--embedding-dim", type=int, default=None)
@click.option("--dropout", type=float, default=None)
@click.option("--batch-size", type=int, default=None)
@click.option("--seq-len", type=int, default=None, help="Chunk length (default recipe).")
@click.option("--maxlen", type=int, default=None, help="Window length (lecture recipe).")
@click.option("--lr", type=float, default=None, help="Learning rate.")
@click.option("--max-tokens", type=int, default=None, help="Word vocabulary size (with pad, OOV).")
@click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="KEY=VALUE",
    help="Any other training setting, e.g. --set schedule=step --set clip=0.5.",
)
@click.option(
    "--stream",
    is_flag=True,
    default=None,
    help="Read the corpus file as it trains instead of into memory, for files larger than "
    "memory (default recipe; the same batches).",
)
@click.option("--resume", is_flag=True, help="Continue the run in --out from its checkpoint.")
@click.option("--quiet", is_flag=True, help="No progress lines.")
@_user_errors
def train_command(
    corpus: str,
    level: str,
    recipe: str,
    model: str | None,
    minutes: float | None,
    steps: int | None,
    epochs: float | None,
    out: str,
    seed: int,
    device: str,
    lower: bool | None,
    hidden_size: int | None,
    num_layers: int | None,
    embedding_dim: int | None,
    dropout: float | None,
    batch_size: int | None,
    seq_len: int | None,
    maxlen: int | None,
    lr: float | None,
    max_tokens: int | None,
    settings: tuple[str, ...],
    stream: bool | None,
    resume: bool,
    quiet: bool,
) -> None:
    """Train a language model on a corpus and save it in a run folder.

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

    overrides = dict(_parse_setting(s) for s in settings)
    options = {
        "model": model,
        "lower": lower,
        "hidden_size": hidden_size,
        "num_layers": num_layers,
        "embedding_dim": embedding_dim,
        "dropout": dropout,
        "batch_size": batch_size,
        "seq_len": seq_len,
        "maxlen": maxlen,
        "lr": lr,
        "max_tokens": max_tokens,
        "stream": stream or None,  # absent: the recipe's (or on resume, the stored) value
    }
    overrides.update({k: v for k, v in options.items() if v is not None})
    model_ = seqlab.lm.train(
        corpus,
        # On resume the stored run decides; only values given explicitly are checked.
        level=None if resume else level,
        recipe=None if resume else recipe,
        out=out,
        minutes=minutes,
        steps=steps,
        epochs=epochs,
        seed=None if resume else seed,
        device=device,
        resume=resume,
        progress=not quiet,
        **overrides,
    )
    if not distributed.is_main():
        return
    val = model_.metrics.get("val")
    summary = f"saved {out}: {model_.metrics['steps']} steps"
    if val:
        summary += f", held-out loss {val['loss']:.4f} nats/token"
        summary += f", perplexity {val['perplexity']:.2f}"
    click.echo(summary)


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
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--top-k", type=int, default=None, help="Keep the k most likely tokens.")
@click.option("--top-p", type=float, default=None, help="Nucleus sampling threshold.")
@click.option("--stop", multiple=True, help="End a sample before this string (repeatable).")
@click.option(
    "--loop",
    type=click.Choice(["state", "window"]),
    default="state",
    show_default=True,
    help="state: carry the RNN state (fast); window: re-read the "
    "last maxlen tokens each step (the lecture's loop).",
)
@click.option("--device", default="cpu", show_default=True)
@_user_errors
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
@click.option("--max-tokens", type=int, default=None, help="Score at most this many tokens.")
@click.option("--device", default="cpu", show_default=True)
@_user_errors
def evaluate_command(run: str, corpus: str | None, max_tokens: int | None, device: str) -> None:
    """Print held-out loss (nats/token, bits, perplexity) of a run as JSON."""
    import seqlab.lm

    metrics = seqlab.lm.evaluate(run, corpus=corpus, max_tokens=max_tokens, device=device)
    click.echo(json.dumps(metrics, indent=2))
