"""``seqlab text encode``: watch texts become tokens, ids and vectors."""

from __future__ import annotations

from pathlib import Path

import click

from seqlab.cli.errors import user_errors
from seqlab.cli.options import data_dir_option, max_tokens_option, stop_words_option
from seqlab.text.vectorize import OUTPUT_MODES

__all__ = ["text"]

MODE_HELP = "The vector printed (int, one_hot: one entry per token) [default: multi_hot]."


@click.group("text")
def text() -> None:
    """Look at how texts become tokens, ids and vectors.

    \b
    seqlab text encode "The cat sat." "The dog sat down."
    seqlab text encode "a wonderful, moving film" --fit-on snippets --ngrams 1 2
    seqlab text encode "Don't stop" --keras --mode count
    """


@text.command("encode")
@click.argument("texts", nargs=-1, required=True)
@click.option("--mode", type=click.Choice(OUTPUT_MODES), default="multi_hot", help=MODE_HELP)
@click.option(
    "--ngrams",
    type=int,
    nargs=2,
    default=None,
    metavar="MIN MAX",
    help="Tokens are the n-grams of every order from MIN to MAX, e.g. --ngrams 1 2 "
    "[default: words only].",
)
@max_tokens_option("Vocabulary size, reserved ids included [default: no limit].")
@click.option(
    "--fit-on",
    default=None,
    metavar="FILE|DATASET",
    help="Fit the vocabulary on this file's lines (one text per line) or on a dataset's "
    "training texts (snippets, imdb, bbc) [default: on the TEXTS themselves].",
)
@data_dir_option("Where --fit-on's dataset is (default: $SEQLAB_DATA).")
@click.option(
    "--keras",
    is_flag=True,
    help="Keras 3 TextVectorization's rules (compat='keras'): punctuation and apostrophes "
    "deleted, ties by token, bag index 0 = [UNK] (counted), tf_idf without normalisation.",
)
@stop_words_option
@user_errors
def encode(texts, mode, ngrams, max_tokens, fit_on, data_dir, keras, stop_words) -> None:
    """Print the tokens, ids and vector of each TEXT.

    The vocabulary is fitted on the TEXTS given (so every token is known), or on --fit-on's
    texts (unknown tokens then get the [UNK] id). Ids are indices in that vocabulary.
    """
    from seqlab.text import TextVectorizer
    from seqlab.text.report import describe_vocabulary, encoding_report

    kwargs: dict = {"output_mode": mode, "max_tokens": max_tokens, "stop_words": stop_words}
    if ngrams:
        low, high = ngrams
        if not 1 <= low <= high:
            raise click.BadParameter(
                f"expected 1 <= MIN <= MAX, got {low} {high}", param_hint="'--ngrams'"
            )
        orders = tuple(range(low, high + 1))
        kwargs.update({"ngrams": orders} if keras else {"ngram_range": (low, high)})
    if keras:
        kwargs["compat"] = "keras"
    docs, source = _fit_texts(list(texts), fit_on, data_dir)
    vec = TextVectorizer(**kwargs).fit(docs)
    click.echo(f"vocabulary: {describe_vocabulary(vec)}, fitted on {source}")
    for doc in texts:
        click.echo("")
        for line in encoding_report(vec, doc):
            click.echo(line)


def _fit_texts(texts: list[str], fit_on: str | None, data_dir: str | None) -> tuple[list, str]:
    """The texts to fit the vocabulary on, and a phrase saying which they are."""
    if fit_on is None:
        return texts, f"the {len(texts)} text{'s' * (len(texts) != 1)} given"
    path = Path(fit_on).expanduser()
    if path.is_file():
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        return lines, f"the {len(lines)} lines of {fit_on}"
    import seqlab.data.datasets as datasets

    labelled = [n for n in datasets.names() if datasets.describe(n)["kind"] == "classification"]
    if fit_on not in labelled:
        raise click.BadParameter(
            f"{fit_on!r} is neither a file nor a labelled dataset ({', '.join(labelled)})",
            param_hint="'--fit-on'",
        )
    from seqlab.training.classify import load_dataset

    data = load_dataset(fit_on, split="train", data_dir=data_dir)
    return list(data.texts), f"the {len(data)} training texts of {fit_on}"
