"""How ``seqlab classify train`` turns its flags into a
:class:`~seqlab.training.classify.ClassifyConfig` (:func:`config`), and what it says when the
data has one label or ``--model`` names no classifier."""

from __future__ import annotations

from typing import Any

import click

from seqlab.cli.options import comma_list

__all__: list[str] = []


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


def one_label(data: str, config: Any) -> str:
    """What to say when the training data holds a single label (read again to name it)."""
    from seqlab.training.classify import load_dataset

    columns = {"text_column": config.text_column, "label_column": config.label_column}
    train = load_dataset(data, data_dir=config.data_dir, seed=config.seed, **columns)
    shown = ", ".join(repr(name) for name in train.label_names) or "none"
    return (
        f"{data!r}: every training text has the same label ({shown}); a classifier needs at "
        f"least two labels: check the data, or --label-column ({config.label_column!r})"
    )


def _classifier_class(name: str) -> type:
    """The registered classifier ``name`` (a model that takes ``num_classes``); a language
    model or an unknown name is a usage error that lists the classifiers only."""
    import inspect

    from seqlab.models import available, get

    names = [m for m in available() if "num_classes" in inspect.signature(get(m)).parameters]
    if name in names:
        return get(name)
    what = "a language model, not a classifier" if name in available() else "not a model"
    raise click.BadParameter(
        f"{name!r} is {what}; choose one of: {', '.join(names)}", param_hint="'--model'"
    )


def _model_name(opts: dict[str, Any]) -> str:
    """``--model``, else the classifier the ``--encoder`` starts, else bow-mlp."""
    if opts["model"] is not None:
        return opts["model"]
    if opts["encoder"] is not None:
        from pathlib import Path

        from seqlab.training._encoder import encoder_model

        if not Path(opts["encoder"]).expanduser().is_dir():
            raise click.BadParameter(
                f"{opts['encoder']!r}: no such run folder; give the --out folder of `seqlab "
                "lm train --level word`",
                param_hint="'--encoder'",
            )
        return encoder_model(opts["encoder"])
    return "bow-mlp"


def config(opts: dict[str, Any]) -> Any:
    """The :class:`~seqlab.training.classify.ClassifyConfig` the flags of ``train`` ask for
    (``--out`` defaults to ``runs/<model>``)."""
    from pathlib import Path

    from seqlab.cli.options import budget
    from seqlab.cli.settings import cli_settings
    from seqlab.training.classify import NOT_OPTIONS, ClassifyConfig

    max_tokens = opts["max_tokens"]
    max_tokens = "auto" if max_tokens is None else (None if max_tokens == 0 else max_tokens)
    kernel_sizes = comma_list(opts["kernel_sizes"], "--kernel-sizes", int)
    name = _model_name(opts)
    model_class = _classifier_class(name)
    return ClassifyConfig(
        data_dir=opts["data_dir"],
        text_column=opts["text_column"],
        label_column=opts["label_column"],
        stream=opts["stream"],
        num_workers=opts["workers"],
        mode=opts["mode"],
        ngram_range=_ngram_range(opts["ngrams"], opts["ngram_range"]),
        max_tokens=max_tokens,
        min_count=opts["min_count"],
        stop_words=opts["stop_words"],
        truncate="auto" if opts["truncate"] is None else (opts["truncate"] or None),
        truncating=opts["truncating"],
        fixed_maxlen=opts["fixed_maxlen"],
        bucket=not opts["no_bucket"],
        model=opts["model"],
        encoder=opts["encoder"],
        nbsvm=opts["nbsvm"],
        hidden_sizes=tuple(n for item in opts["hidden"] for n in comma_list(item, "--hidden", int)),
        embedding_dim=opts["embedding_dim"],
        hidden_size=opts["hidden_size"],
        num_layers=opts["num_layers"],
        bidirectional=opts["bidirectional"],
        residual=opts["residual"],
        pooling=opts["pooling"],
        kernel_sizes=None if kernel_sizes is None else tuple(kernel_sizes),
        num_filters=opts["num_filters"],
        maxlen=opts["maxlen"],
        dropout=opts["dropout"],
        init=opts["init"],
        head=opts["head"],
        model_options=cli_settings(opts["set_"], model_class, exclude=NOT_OPTIONS),
        pretrained=opts["pretrained"],
        freeze=opts["freeze"],
        oov=opts["oov"],
        batch_size=opts["batch_size"],
        optimizer=opts["optimizer"],
        lr=opts["lr"],
        schedule=opts["schedule"],
        warmup=opts["warmup"],
        layer_lr_decay=opts["layer_lr_decay"],
        gradual_unfreezing=opts["gradual_unfreezing"],
        weight_decay=opts["weight_decay"],
        clip_grad_norm=opts["clip_grad_norm"],
        val_split=opts["val_split"],
        patience=opts["patience"],
        monitor=opts["monitor"],
        seed=opts["seed"],
        out=opts["out"] or str(Path("runs") / name),
        **budget(opts),
    )
