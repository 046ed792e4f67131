"""``seqlab classify train|evaluate|predict|explain``: text classifiers from the command line.

Each command parses its options and calls one library function
(:func:`seqlab.training.classify.train_classifier`, :meth:`seqlab.runs.Run.evaluate`,
:meth:`seqlab.runs.Run.predict_proba`, :meth:`seqlab.runs.Run.explain`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from seqlab.cli import _classify_train as _train
from seqlab.cli.errors import user_errors
from seqlab.cli.options import (
    LEARNING_RATE,
    choice_option,
    columns_options,
    data_dir_option,
    device_option,
    init_option,
    max_tokens_option,
    optimizer_option,
    run_argument,
    seed_option,
    set_option,
    size_options,
    stop_words_option,
    training_options,
)
from seqlab.defaults import HEADS, OPTIMIZERS

__all__ = ["classify"]

BAG_MODES = ("multi_hot", "count", "freq", "tf_idf")


@click.group("classify")
def classify() -> None:
    """Train, evaluate and use text classifiers.

    \b
    seqlab classify train --data snippets --ngrams 1 2 --nbsvm --out runs/snippets
    seqlab classify evaluate runs/snippets --data snippets --split test
    seqlab classify predict runs/snippets "a wonderful, moving film"
    seqlab classify explain runs/snippets "a wonderful, moving film"
    seqlab classify attention runs/transformer "a wonderful, moving film" --out attn.png
    seqlab classify summary runs/snippets
    """


MODEL_NAMES = "bow-mlp, embedding-dense, cnn, kim-cnn, rnn, lstm, gru, tdnn, transformer, fasttext"


@classify.command("train")
@click.option("--data", required=True, help="Dataset name (imdb, snippets, bbc) or a path.")
@data_dir_option("Where the named dataset's files are (default: $SEQLAB_DATA).")
@columns_options("Text column of a table.", "Label column of a table.")
@click.option(
    "--model",
    default=None,
    help=f"One of {MODEL_NAMES}  [default: bow-mlp; with --encoder, the LM's: lstm or gru].",
)
@click.option(
    "--encoder",
    metavar="RUN",
    type=click.Path(file_okay=False),
    default=None,
    help="Start from a word-level language model's run folder (seqlab lm train --level word; "
    "ULMFiT): its kind (lm-lstm -> lstm, lm-gru -> gru), sizes, tokens, vocabulary, embedding "
    "and recurrent layers. Unless given: --schedule slanted, --layer-lr-decay 2.6, "
    "--gradual-unfreezing, --pooling concat, --dropout 0.3, --lr 4e-3, --epochs 5.",
)
@choice_option("--mode", BAG_MODES, "Bag-of-words vector mode (bag models).")
@click.option("--ngrams", type=int, nargs=2, default=None, help="n-gram range, e.g. --ngrams 1 2.")
@click.option("--ngram-range", default=None, help="n-gram range as LOW,HIGH, e.g. 1,2.")
@max_tokens_option(
    "Vocabulary size, padding and OOV included; 0 = no limit "
    "[default: 20000 for sequence models, no limit for bag models and fasttext]."
)
@click.option("--min-count", type=int, default=1, show_default=True)
@stop_words_option
@click.option(
    "--truncate",
    type=int,
    default=None,
    help="Sequence models: cut each text to N tokens (0 = whole texts); batches are padded "
    "to their longest text  [default: 500; fasttext: whole texts].",
)
@choice_option(
    "--truncating",
    ["pre", "post"],
    "Which tokens a cut drops: pre keeps the end (Keras), post keeps the start.",
)
@click.option(
    "--fixed-maxlen",
    type=int,
    default=None,
    help="The lecture's setting: pad (in front) or cut every text to exactly N tokens and "
    "feed the padding to the model.",
)
@click.option("--no-bucket", is_flag=True, help="Shuffle batches freely (no length buckets).")
@click.option("--nbsvm", is_flag=True, help="Scale features by NB log-count ratios (NBSVM).")
@click.option(
    "--hidden",
    multiple=True,
    metavar="N[,N...]",
    help="Hidden Dense layer sizes (relu) of bow-mlp and embedding-dense, e.g. --hidden 32 "
    "(repeatable, or a comma list: --hidden 64,32).",
)
@size_options(
    embedding_dim="Width of the token embeddings.",
    hidden_size="rnn/lstm/gru units per direction.",
    num_layers="rnn/lstm/gru/transformer layers.",
)
@click.option("--bidirectional", is_flag=True, default=None, help="rnn/lstm/gru: read both ways.")
@click.option("--residual", is_flag=True, default=None, help="rnn/lstm/gru: skips between layers.")
@click.option(
    "--pooling",
    type=click.Choice(["last", "max", "mean", "concat", "first"]),
    default=None,
    help="rnn/lstm/gru: last state, max or mean over steps, or concat: all three side by side "
    "(ULMFiT); tdnn: mean or max; transformer: mean, max or first (a learned [CLS] vector).",
)
@click.option(
    "--kernel-sizes", default=None, help="Convolution widths, e.g. 3,4,5 (kim-cnn, tdnn, cnn)."
)
@click.option(
    "--num-filters",
    type=int,
    default=None,
    help="Filters per width (cnn, kim-cnn); tdnn: units per layer.",
)
@size_options(
    maxlen="embedding-dense: steps it flattens.", dropout="Dropout [default: the model's]."
)
@init_option
@click.option(
    "--head",
    type=click.Choice(HEADS),
    default=None,
    help="Output layer: softmax (one unit per class) or sigmoid (one unit for two classes: "
    "Keras's Dense(1, activation='sigmoid') with binary cross-entropy)  [default: softmax]",
)
@set_option("set_", "Any other model argument, e.g. --set dilations=[1,2,4] (repeatable).")
@click.option(
    "--pretrained",
    metavar="FILE",
    default=None,
    help="Word vectors (GloVe / word2vec / fastText) to initialise the embeddings.",
)
@click.option(
    "--freeze/--fine-tune",
    default=None,
    help="Keep the pretrained vectors fixed, or train them [default: --freeze].",
)
@choice_option("--oov", ["zeros", "random"], "Vectors for words missing from --pretrained.")
@size_options(batch_size="Texts per batch  [default: the model's: 128 for fasttext, else 32].")
@click.option(
    "--lr",
    type=LEARNING_RATE,
    default=None,
    help="Learning rate  [default: the model's: 0.08 for fasttext, else 1e-3].",
)
@optimizer_option(OPTIMIZERS, None)
@click.option(
    "--schedule",
    type=click.Choice(["constant", "linear", "cosine", "step", "slanted"]),
    default=None,
    help="Learning rate over the budget; linear decays it to 0 (fastText's); slanted rises "
    "from lr/32 to lr over --warmup (0.1) then falls back (ULMFiT's)  [default: the model's: "
    "linear for fasttext, else constant; slanted with --encoder].",
)
@click.option(
    "--warmup",
    type=click.FloatRange(0, 1, max_open=True),
    default=0.0,
    show_default=True,
    help="Share of the budget the rate rises over: cosine's warm-up, slanted's cut_frac (0: 0.1).",
)
@click.option(
    "--layer-lr-decay",
    type=float,
    default=None,
    help="Discriminative rates: the k-th layer group from the top (head, layers, embedding) "
    "learns at lr / DECAY**k  [default: 1, one rate; 2.6 with --encoder].",
)
@click.option(
    "--gradual-unfreezing/--no-gradual-unfreezing",
    default=None,
    help="Epoch 1 trains only the head, each later epoch one more layer group below it "
    "[default: off; on with --encoder].",
)
@click.option("--weight-decay", type=float, default=0.0, show_default=True)
@click.option("--clip-grad-norm", type=float, default=None, help="Clip gradients to this norm.")
@click.option("--val-split", type=float, default=0.2, show_default=True)
@click.option("--patience", type=int, default=None, help="Early stopping patience (epochs).")
@click.option(
    "--monitor",
    type=click.Choice(["val_loss", "val_accuracy", "loss", "accuracy"]),
    default=None,
    help="Metric that picks the best epoch [default: val_loss].",
)
@seed_option()
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default=None,
    help="Run folder [default: runs/<model>].",
)
@training_options(epochs=None)
@click.option(
    "--stream",
    is_flag=True,
    help="Read --data (a JSONL or TSV file) a window of lines at a time: for files larger "
    "than memory.",
)
@click.option(
    "--workers",
    type=int,
    default=0,
    show_default=True,
    help="With --stream: DataLoader processes that read and vectorize batches.",
)
@user_errors
def train(**opts) -> None:
    """Train a classifier and write its run folder.

    \b
    seqlab classify train --data imdb --model lstm --hidden-size 64 --bidirectional \\
        --pooling max --epochs 5 --patience 2 --out runs/bilstm
    seqlab classify train --data imdb --model fasttext --set buckets=1000000 --out runs/ft
    seqlab classify train --data imdb --model kim-cnn --pretrained glove.6B.50d.txt.gz \\
        --fine-tune --out runs/kim-glove
    seqlab classify train --data imdb --encoder runs/imdb-lm --patience 2 \\
        --monitor val_accuracy --out runs/ulmfit
    seqlab classify train --data bbc --model kim-cnn --out runs/bbc
    seqlab classify train --data big.jsonl --stream --workers 2 --out runs/big
    seqlab classify train --data imdb --model embedding-dense --fixed-maxlen 100 \\
        --max-tokens 10000 --pretrained glove.6B.100d.txt --hidden 32 --head sigmoid \\
        --init keras --optimizer rmsprop --out runs/glove

    The model's layers, output shapes and parameter counts are printed first (as Keras's
    model.summary(); not with --quiet).

    Unless given, --epochs, --batch-size, --optimizer, --lr and --schedule are the model's
    recommended ones: 1 epoch of adam at lr 0.08 decayed linearly, batches of 128 for
    fasttext; 10 epochs of adam at lr 1e-3, batches of 32 for the others.

    --encoder RUN starts an lstm or gru from a word-level language model (ULMFiT; a
    transformer or character-level one is refused): the classifier reads the LM's tokens
    and ids, its embedding and recurrent layers start as the LM's, and it fine-tunes with
    ULMFiT's practice unless told otherwise (5 epochs, slanted rates up to lr 4e-3, each
    layer group 2.6 times slower than the one above, gradual unfreezing, concat pooling,
    dropout 0.3). The run folder does not need RUN afterwards. With a weakly pretrained
    LM, --layer-lr-decay 1 --no-gradual-unfreezing can do better: compare on validation.

    The same flags work under torchrun (one process per CPU share or GPU; --batch-size is
    the global batch; rank 0 writes the run folder and prints):

    \b
    torchrun --nproc-per-node 2 -m seqlab.cli.main classify train --data imdb \\
        --model lstm --batch-size 64 --device cpu --out runs/lstm-ddp
    """
    from seqlab.training import distributed
    from seqlab.training.classify import train_classifier

    config = _train.config(opts)
    try:
        run = train_classifier(
            opts["data"], config, echo=click.echo if distributed.is_main() else None
        )
    except ValueError as exc:
        if not str(exc).startswith("num_classes must be >= 2") or config.stream:
            raise
        raise click.BadParameter(
            _train.one_label(opts["data"], config), param_hint="'--data'"
        ) from None
    if not distributed.is_main():
        return
    m = run.metrics
    best = m["best_epoch"]  # fractional when a step budget stopped training inside an epoch
    best = f"{best:.2f}" if isinstance(best, float) else best
    out = config.out
    line = f"run folder: {out}  (epochs run: {m['epochs_run']}, best epoch: {best}"
    click.echo(line + f", stopped: {m['stopped']})")
    for part in ("train", "val"):
        if m.get(part):
            click.echo(f"{part:5s} " + "  ".join(f"{k} {v:.4f}" for k, v in m[part].items()))


@classify.command("summary")
@run_argument
@user_errors
def summary(run_dir) -> None:
    """Print the layers of the run RUN's model, their output shapes and parameter counts, as
    Keras's model.summary() does (recurrent biases counted as Keras counts them)."""
    from seqlab.loading import load_classifier as load

    click.echo(load(run_dir).summary())


@classify.command("evaluate")
@run_argument
@click.option("--data", required=True, help="Dataset name (imdb, snippets, bbc) or a path.")
@data_dir_option()
@choice_option("--split", ["train", "test", "all"], default="test")
@columns_options()
@seed_option("Seed of the 80/20 split for datasets without a test split.")
@click.option("--batch-size", type=int, default=256, show_default=True)
@device_option
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
@user_errors
def evaluate(
    run_dir, data, data_dir, split, text_column, label_column, seed, batch_size, device, as_json
) -> None:
    """Evaluate the run RUN on a labelled dataset (a path is read whole)."""
    from seqlab.loading import load_classifier as load
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
@run_argument
@click.argument("texts", nargs=-1)
@click.option(
    "--file",
    "file_",
    type=click.File("r", encoding="utf-8"),
    default=None,
    help="A file with one text per line ('-' for standard input).",
)
@device_option
@user_errors
def predict(run_dir, texts, file_, device) -> None:
    """Print "label<TAB>probability<TAB>text" for each TEXT (or each line of --file or of
    standard input)."""
    from seqlab.loading import load_classifier as load

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


@classify.command("explain")
@run_argument
@click.argument("texts", nargs=-1, required=True)
@choice_option(
    "--method",
    ["occlusion", "grad_x_input"],
    "occlusion: exact, one pass per token; grad_x_input: one backward pass.",
)
@click.option("--target", default=None, help="Label to explain [default: the predicted one].")
@click.option(
    "--color/--no-color",
    default=None,
    help="Colour tokens with ANSI codes [default: when standard output is a terminal].",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per text.")
@device_option
@user_errors
def explain(run_dir, texts, method, target, color, as_json, device) -> None:
    """Show which tokens of each TEXT made the run RUN decide as it did.

    Green tokens support the label, red ones speak against it (darker: stronger); without
    colour each token is followed by its score, the change in the label's probability when
    the token is hidden.

    \b
    seqlab classify explain runs/lstm "a wonderful, moving film"
    seqlab classify explain runs/lstm "not bad at all" --no-color --target pos
    """
    from seqlab.explain import format_explanation
    from seqlab.loading import load_classifier as load

    run = load(run_dir, device=device)
    if target is not None and target not in run.labels:
        raise click.BadParameter(
            f"{target!r} is not a label of this run: {', '.join(run.labels)}",
            param_hint="--target",
        )
    if color is None:
        color = sys.stdout.isatty()
    proba = run.predict_proba(list(texts))
    for text, p in zip(texts, proba):
        k = run.labels.index(target) if target is not None else int(p.argmax())
        pairs = run.explain(text, method=method, target=k)
        predicted = int(p.argmax())
        if as_json:
            record = {
                "text": text,
                "label": run.labels[predicted],
                "probability": float(p[predicted]),
                "target": run.labels[k],
                "target_probability": float(p[k]),
                "method": method,
                "tokens": [{"token": tok, "score": score} for tok, score in pairs],
            }
            click.echo(json.dumps(record))
            continue
        click.echo(
            f"{run.labels[predicted]} {p[predicted]:.3f}  (explaining {run.labels[k]!r} "
            f"by {method}; scores are changes in its probability)"
        )
        tokens = [tok for tok, _ in pairs]
        # color=True: click would otherwise strip the ANSI codes when piped (--color asked)
        click.echo(format_explanation(tokens, [s for _, s in pairs], color=color), color=color)
