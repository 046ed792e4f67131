"""``seqlab classify train|evaluate|predict``: text classifiers from the command line.

Each command parses its options and calls one library function
(:func:`seqlab.training.classify.train_classifier`, :meth:`seqlab.runs.Run.evaluate`,
:meth:`seqlab.runs.Run.predict_proba`).
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

BAG_MODES = ("multi_hot", "count", "freq", "tf_idf")


def _user_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Show the library's ValueError / FileNotFoundError messages as a one-line CLI error."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (ValueError, FileNotFoundError) as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper


def _ngram_range(ngrams: tuple[int, int] | None, ngram_range: str | None) -> tuple[int, int]:
    if ngrams and ngram_range:
        raise click.BadParameter("give --ngrams 1 2 or --ngram-range 1,2, not both")
    if ngram_range:
        try:
            low, high = (int(x) for x in ngram_range.split(","))
        except ValueError:
            raise click.BadParameter(
                f"expected two integers like 1,2, got {ngram_range!r}", param_hint="--ngram-range"
            ) from None
        return (low, high)
    return tuple(ngrams) if ngrams else (1, 1)  # type: ignore[return-value]


@click.group("classify")
def classify() -> None:
    """Train, evaluate and use text classifiers.

    \b
    seqlab classify train --data snippets --ngrams 1 2 --nbsvm --out runs/snippets
    seqlab classify evaluate runs/snippets --data snippets --split test
    seqlab classify predict runs/snippets "a wonderful, moving film"
    """


@classify.command("train")
@click.option("--data", required=True, help="Dataset name (imdb, snippets, bbc) or a path.")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Where the named dataset's files are (default: $SEQLAB_DATA).",
)
@click.option("--text-column", default="text", show_default=True, help="Text column of a table.")
@click.option("--label-column", default="label", show_default=True, help="Label column of a table.")
@click.option("--model", default="bow-mlp", show_default=True, help="Registered model name.")
@click.option(
    "--mode",
    type=click.Choice(BAG_MODES),
    default="multi_hot",
    show_default=True,
    help="Bag-of-words vector mode (bag models).",
)
@click.option("--ngrams", type=int, nargs=2, default=None, help="n-gram range, e.g. --ngrams 1 2.")
@click.option("--ngram-range", default=None, help="n-gram range as LOW,HIGH, e.g. 1,2.")
@click.option("--max-tokens", type=int, default=None, help="Keep the most frequent N tokens.")
@click.option("--min-count", type=int, default=1, show_default=True)
@click.option("--maxlen", type=int, default=None, help="Truncate sequences (sequence models).")
@click.option("--nbsvm", is_flag=True, help="Scale features by NB log-count ratios (NBSVM).")
@click.option("--hidden", type=int, multiple=True, help="Hidden layer size (repeatable).")
@click.option("--dropout", type=float, default=0.0, show_default=True)
@click.option("--epochs", type=int, default=10, show_default=True)
@click.option("--batch-size", type=int, default=32, show_default=True)
@click.option("--lr", type=float, default=1e-3, show_default=True)
@click.option(
    "--optimizer", type=click.Choice(["adam", "rmsprop", "sgd"]), default="adam", show_default=True
)
@click.option("--weight-decay", type=float, default=0.0, show_default=True)
@click.option("--val-split", type=float, default=0.2, show_default=True)
@click.option("--patience", type=int, default=None, help="Early stopping patience (epochs).")
@click.option(
    "--monitor",
    type=click.Choice(["val_loss", "val_accuracy", "loss", "accuracy"]),
    default=None,
    help="Metric that picks the best epoch [default: val_loss].",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda.")
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default=None,
    help="Run folder [default: runs/<model>].",
)
@click.option("--resume", is_flag=True, help="Continue from the checkpoint in --out.")
@click.option("--max-steps", type=int, default=None, help="Stop after N optimizer steps.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@_user_errors
def train(**opts) -> None:
    """Train a classifier and write its run folder."""
    from seqlab.training.classify import train_classifier

    out = opts["out"] or str(Path("runs") / opts["model"])
    run = train_classifier(
        opts["data"],
        data_dir=opts["data_dir"],
        text_column=opts["text_column"],
        label_column=opts["label_column"],
        model=opts["model"],
        mode=opts["mode"],
        ngram_range=_ngram_range(opts["ngrams"], opts["ngram_range"]),
        max_tokens=opts["max_tokens"],
        min_count=opts["min_count"],
        maxlen=opts["maxlen"],
        nbsvm=opts["nbsvm"],
        hidden_sizes=opts["hidden"],
        dropout=opts["dropout"],
        epochs=opts["epochs"],
        batch_size=opts["batch_size"],
        optimizer=opts["optimizer"],
        lr=opts["lr"],
        weight_decay=opts["weight_decay"],
        val_split=opts["val_split"],
        patience=opts["patience"],
        monitor=opts["monitor"],
        seed=opts["seed"],
        device=opts["device"],
        out=out,
        resume=opts["resume"],
        progress=not opts["quiet"],
        max_steps=opts["max_steps"],
    )
    m = run.metrics
    line = f"run folder: {out}  (epochs run: {m['epochs_run']}, best epoch: {m['best_epoch']}"
    click.echo(line + f", stopped: {m['stopped']})")
    for part in ("train", "val"):
        if m.get(part):
            click.echo(f"{part:5s} " + "  ".join(f"{k} {v:.4f}" for k, v in m[part].items()))


@classify.command("evaluate")
@click.argument("run_dir", metavar="RUN", type=click.Path())
@click.option("--data", required=True, help="Dataset name (imdb, snippets, bbc) or a path.")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None)
@click.option(
    "--split", type=click.Choice(["train", "test", "all"]), default="test", show_default=True
)
@click.option("--text-column", default="text", show_default=True)
@click.option("--label-column", default="label", show_default=True)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Seed of the 80/20 split for datasets without a test split.",
)
@click.option("--batch-size", type=int, default=256, show_default=True)
@click.option("--device", default="cpu", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
@_user_errors
def evaluate(
    run_dir, data, data_dir, split, text_column, label_column, seed, batch_size, device, as_json
) -> None:
    """Evaluate the run RUN on a labelled dataset (a path is read whole)."""
    from seqlab.runs import load
    from seqlab.training.classify import load_dataset

    run = load(run_dir, device=device)
    dataset = load_dataset(
        data,
        split=split,
        data_dir=data_dir,
        seed=seed,
        text_column=text_column,
        label_column=label_column,
    )
    metrics = run.evaluate(dataset, batch_size=batch_size)
    if as_json:
        click.echo(json.dumps(metrics))
        return
    part = "whole file" if Path(data).exists() else split
    click.echo(f"{data} [{part}]: {metrics['n']} texts")
    for key in ("accuracy", "loss", "f1_macro"):
        if key in metrics:
            click.echo(f"{key:9s} {metrics[key]:.4f}")
    click.echo("confusion matrix (rows: true, columns: predicted): " + ", ".join(run.labels))
    for name, row in zip(run.labels, metrics["confusion_matrix"]):
        click.echo(f"  {name:>12s} " + " ".join(f"{v:7d}" for v in row))


@classify.command("predict")
@click.argument("run_dir", metavar="RUN", type=click.Path())
@click.argument("texts", nargs=-1)
@click.option(
    "--file",
    "file_",
    type=click.File("r", encoding="utf-8"),
    default=None,
    help="A file with one text per line ('-' for standard input).",
)
@click.option("--device", default="cpu", show_default=True)
@_user_errors
def predict(run_dir, texts, file_, device) -> None:
    """Print "label<TAB>probability<TAB>text" for each TEXT (or each line of --file or of
    standard input)."""
    from seqlab.runs import load

    items = list(texts)
    if file_ is not None:
        items += [line.rstrip("\n") for line in file_ if line.strip()]
    elif not items and not sys.stdin.isatty():
        items = [line.rstrip("\n") for line in sys.stdin if line.strip()]
    if not items:
        raise click.UsageError(
            "no texts to classify: give TEXT arguments, --file FILE, or pipe lines to stdin"
        )
    run = load(run_dir, device=device)
    proba = run.predict_proba(items)
    for text, p in zip(items, proba):
        k = int(p.argmax())
        click.echo(f"{run.labels[k]}\t{p[k]:.4f}\t{text}")
