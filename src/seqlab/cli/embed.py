"""``seqlab embed``: train, query, evaluate, plot and convert word vectors.

Each command parses its arguments and calls one function of :mod:`seqlab.embeddings`.

    seqlab embed neighbors glove.6B.50d.txt.gz king --topn 5
    seqlab embed analogy glove.6B.50d.txt.gz man king woman
    seqlab embed train corpus.txt --out vectors.safetensors --epochs 5
    seqlab embed evaluate vectors.safetensors --analogies questions-words.txt
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from seqlab.cli.errors import user_errors
from seqlab.cli.options import choice_option, device_option, png_option, seed_option

__all__ = ["embed"]

VECTORS = click.argument("vectors", type=click.Path(dir_okay=False))
_LIMIT = click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=None,
    help="Read only the first N words of a text/binary vector file.",
)
_SKIP_BAD_LINES = click.option(
    "--skip-bad-lines",
    is_flag=True,
    expose_value=False,
    callback=lambda ctx, _param, value: ctx.meta.__setitem__("skip_bad_lines", value),
    help="Leave out the lines of a text vector file that cannot be read (with a warning).",
)


def LIMIT(func: Any) -> Any:  # noqa: N802 (used as a decorator like the options)
    """``--limit`` and ``--skip-bad-lines``: how to read a vectors file."""
    return _LIMIT(_SKIP_BAD_LINES(func))


JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")


def _load(path: str, limit: int | None = None) -> Any:
    from seqlab import embeddings

    if path.endswith(".safetensors"):
        return embeddings.KeyedVectors.load(path)
    skip = click.get_current_context().meta.get("skip_bad_lines", False)
    return embeddings.load(path, limit=limit, on_bad_lines="skip" if skip else "error")


def _print_pairs(pairs: list[tuple[str, float]], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps([{"word": w, "similarity": round(s, 6)} for w, s in pairs]))
        return
    for word, score in pairs:
        click.echo(f"{word}\t{score:.4f}")


@click.group("embed")
def embed() -> None:
    """Word vectors: train word2vec, query, evaluate, plot, convert."""


@embed.command("train")
@user_errors
@click.argument("corpus", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False),
    help="Output: .safetensors, .bin (word2vec binary), or a text file (word2vec).",
)
@click.option("--vector-size", default=100, show_default=True, help="Width of the word vectors.")
@click.option("--dim", type=int, default=None, hidden=True, help="Deprecated: --vector-size.")
@click.option("--window", default=5, show_default=True)
@click.option("--cbow", is_flag=True, help="CBOW instead of skip-gram.")
@click.option("--negative", default=5, show_default=True)
@click.option("--min-count", default=5, show_default=True)
@click.option("--sample", default=1e-3, show_default=True)
@click.option("--alpha", default=0.025, show_default=True)
@click.option("--min-alpha", default=1e-4, show_default=True)
@click.option("--epochs", default=5, show_default=True)
@seed_option()
@choice_option(
    "--standardize", ["none", "keras"], "keras: lowercase, drop HTML tags and punctuation."
)
@device_option
@click.option("--quiet", is_flag=True, help="No progress bar.")
def train(
    corpus: str,
    out: str,
    vector_size: int,
    dim: int | None,
    window: int,
    cbow: bool,
    negative: int,
    min_count: int,
    sample: float,
    alpha: float,
    min_alpha: float,
    epochs: int,
    seed: int,
    standardize: str,
    device: str,
    quiet: bool,
) -> None:
    """Train word2vec on CORPUS (one sentence or document per line) and save the vectors."""
    from seqlab import embeddings

    if dim is not None:
        click.echo(f"warning: --dim is deprecated; use --vector-size {dim}", err=True)
        vector_size = dim
    model = embeddings.Word2Vec(
        vector_size=vector_size,
        window=window,
        sg=not cbow,
        negative=negative,
        min_count=min_count,
        sample=sample,
        alpha=alpha,
        min_alpha=min_alpha,
        epochs=epochs,
        seed=seed,
        standardize=None if standardize == "none" else standardize,
        device=device,
        progress=not quiet,
    ).fit(corpus)
    _save(model.wv, out)
    click.echo(
        f"{len(model.wv)} words x {vector_size} dims, {model.corpus_words_ * epochs:,} words in "
        f"{model.train_seconds_:.1f}s ({model.words_per_second_:,.0f} words/s) -> {out}"
    )


def _save(kv: Any, out: str, to: str | None = None) -> None:
    from seqlab import embeddings

    kind = to or (
        "safetensors"
        if out.endswith(".safetensors")
        else "word2vec-binary"
        if out.removesuffix(".gz").endswith(".bin")
        else "word2vec"
    )
    if kind == "safetensors":
        kv.save(out)
    elif kind == "glove":
        embeddings.save_glove(kv, out)
    else:
        embeddings.save_word2vec_format(kv, out, binary=kind == "word2vec-binary")


@embed.command("neighbors")
@user_errors
@VECTORS
@click.argument("words", nargs=-1, required=True)
@click.option("--topn", type=click.IntRange(min=1), default=10, show_default=True)
@click.option(
    "--restrict-vocab",
    type=int,
    default=None,
    help="Search only the N first (most frequent) words.",
)
@LIMIT
@JSON
def neighbors(
    vectors: str,
    words: tuple[str, ...],
    topn: int,
    restrict_vocab: int | None,
    limit: int | None,
    as_json: bool,
) -> None:
    """The nearest neighbours (cosine) of the mean of WORDS."""
    kv = _load(vectors, limit)
    pairs = kv.most_similar(list(words), topn=topn, restrict_vocab=restrict_vocab)
    _print_pairs(pairs, as_json)


@embed.command("analogy")
@user_errors
@VECTORS
@click.argument("a")
@click.argument("b")
@click.argument("c")
@click.option("--topn", type=click.IntRange(min=1), default=5, show_default=True)
@click.option("--cosmul", is_flag=True, help="3CosMul instead of 3CosAdd.")
@LIMIT
@JSON
def analogy(
    vectors: str, a: str, b: str, c: str, topn: int, cosmul: bool, limit: int | None, as_json: bool
) -> None:
    """Solve A : B :: C : ? (e.g. man king woman -> queen)."""
    kv = _load(vectors, limit)
    query = kv.most_similar_cosmul if cosmul else kv.most_similar
    pairs = query(positive=[b, c], negative=[a], topn=topn)
    _print_pairs(pairs, as_json)


@embed.command("similarity")
@user_errors
@VECTORS
@click.argument("word1")
@click.argument("word2")
@LIMIT
def similarity(vectors: str, word1: str, word2: str, limit: int | None) -> None:
    """Cosine similarity of WORD1 and WORD2."""
    kv = _load(vectors, limit)
    click.echo(f"{kv.similarity(word1, word2):.4f}")


@embed.command("evaluate")
@user_errors
@VECTORS
@click.option(
    "--analogies",
    type=click.Path(exists=True, dir_okay=False),
    help="Analogy questions (e.g. questions-words.txt).",
)
@click.option(
    "--pairs",
    type=click.Path(exists=True, dir_okay=False),
    help="Word pairs with human scores (e.g. wordsim353.tsv).",
)
@click.option(
    "--restrict-vocab",
    default=30_000,
    show_default=True,
    help="Analogies: only the N first words count (as gensim).",
)
@LIMIT
@JSON
def evaluate(
    vectors: str,
    analogies: str | None,
    pairs: str | None,
    restrict_vocab: int,
    limit: int | None,
    as_json: bool,
) -> None:
    """Analogy accuracy and/or word-pair correlation, computed as gensim does."""
    from seqlab import embeddings

    if not analogies and not pairs:
        raise click.UsageError("give --analogies PATH and/or --pairs PATH")
    kv = _load(vectors, limit)
    result: dict[str, Any] = {}
    if analogies:
        result["analogies"] = embeddings.evaluate_analogies(
            kv, analogies, restrict_vocab=restrict_vocab
        )
    if pairs:
        result["pairs"] = embeddings.evaluate_word_pairs(kv, pairs)
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    if "analogies" in result:
        for s in result["analogies"]["sections"]:
            answered = s["correct"] + s["incorrect"]
            click.echo(
                f"{s['section']:<32} {100 * s['accuracy']:5.1f}%  ({s['correct']}/{answered})"
            )
        click.echo(f"questions skipped (out of vocabulary): {result['analogies']['oov']}")
    if "pairs" in result:
        r = result["pairs"]
        click.echo(
            f"pearson {r['pearson']:.4f}  spearman {r['spearman']:.4f}  "
            f"oov {100 * r['oov_ratio']:.1f}%"
        )


@embed.command("plot")
@user_errors
@VECTORS
@click.argument("words", nargs=-1, required=True)
@png_option(default="words.png")
@click.option("--title", default=None)
@LIMIT
def plot(
    vectors: str, words: tuple[str, ...], out: str, title: str | None, limit: int | None
) -> None:
    """A 2-D PCA picture of WORDS saved as a PNG."""
    from seqlab import embeddings

    kv = _load(vectors, limit)
    path = embeddings.plot_words(kv, list(words), out, title=title)
    click.echo(str(Path(path)))


@embed.command("convert")
@user_errors
@click.argument("source", type=click.Path(dir_okay=False))
@click.argument("dest", type=click.Path(dir_okay=False))
@click.option(
    "--to",
    "to",
    type=click.Choice(["word2vec", "word2vec-binary", "glove", "safetensors"]),
    default=None,
    help="Output format (default: from DEST's suffix).",
)
@LIMIT
def convert(source: str, dest: str, to: str | None, limit: int | None) -> None:
    """Convert vectors between GloVe, word2vec text/binary and safetensors."""
    kv = _load(source, limit)
    _save(kv, dest, to)
    click.echo(f"{len(kv)} words x {kv.vector_size} dims -> {dest}")
