"""The model and the vectorizer of :func:`seqlab.training.classify.train_classifier`: the
model class from the registry, its constructor arguments from the config (checked against
what it takes), the fitted vectorizer, and the pretrained embedding matrix."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from seqlab._checks import check_choice
from seqlab.data.base import TextDataset
from seqlab.text.fixed import FixedLengthVectorizer
from seqlab.text.vectorize import BAG_MODES
from seqlab.training._encoder import (
    TOKENIZER,
    Encoder,
    copy_encoder_weights,
    encoder_vectorizer,
)

if TYPE_CHECKING:
    from seqlab.training.classify import ClassifyConfig

# Vocabulary of sequence models with max_tokens="auto": the 20,000 most frequent ids cover
# about 97% of IMDB's running words; the rarer ones are mostly seen too seldom to learn.
AUTO_MAX_TOKENS = 20_000
# Sequence models: texts are cut to this many tokens unless told otherwise (the lecture's
# maxlen=500; 90% of IMDB reviews are shorter, and the cut bounds the cost of the rest).
DEFAULT_TRUNCATE = 500
# Model options with a config field of the same name (None: the model's default).
MODEL_FIELDS = (
    "embedding_dim",
    "hidden_size",
    "num_layers",
    "bidirectional",
    "residual",
    "pooling",
    "maxlen",
    "dropout",
    "init",
    "head",
)
# Constructor arguments filled from the data, not options a user gives.
NOT_OPTIONS = ("self", "vocab_size", "num_classes", "pretrained")


def build(
    data: Any,
    train: Any,
    cfg: ClassifyConfig,
    say: Callable[[str], None],
    encoder: Encoder | None = None,
) -> tuple[torch.nn.Module, Any, dict[str, Any]]:
    """The model (seeded weights), the fitted vectorizer and the run's metadata; with an
    ``encoder`` (``cfg`` already :func:`~seqlab.training._encoder.with_encoder`'s), the
    vectorizer reads its tokens and ids and the model starts from its weights."""
    from seqlab.models import get

    cls = get(cfg.model)
    accepted = inspect.signature(cls.__init__).parameters
    sequence = getattr(cls, "input_kind", None) != "bag"
    if not sequence:
        _check_bag_model(cfg)
    _check_model_inputs(cfg, accepted)
    recipe = getattr(cls, "train_defaults", None) or {}
    kwargs = _model_kwargs(cfg, accepted)
    truncate = cfg.truncate
    if truncate == "auto":
        truncate = recipe.get("truncate", DEFAULT_TRUNCATE) if sequence else None
    max_tokens = cfg.max_tokens
    if max_tokens == "auto":
        max_tokens = recipe.get("max_tokens", AUTO_MAX_TOKENS if sequence else None)
    if cfg.fixed_maxlen is not None and "maxlen" in accepted and "maxlen" not in kwargs:
        kwargs["maxlen"] = cfg.fixed_maxlen  # embedding-dense flattens exactly the fixed length
    if "maxlen" in accepted and cfg.fixed_maxlen is None:
        # A position-tied model only ever reads `maxlen` steps: cut the texts there, so the
        # vectorizer's `truncating` decides which words those are.
        steps = int(kwargs.get("maxlen", accepted["maxlen"].default))
        truncate = steps if truncate is None else min(truncate, steps)
    vectorizer, vec_kwargs = _vectorizer(cfg, train, sequence, truncate, max_tokens, encoder)
    meta: dict[str, Any] = {
        "data": str(data) if not isinstance(data, TextDataset) else (data.name or "dataset"),
        "vectorizer": {k: list(v) if isinstance(v, tuple) else v for k, v in vec_kwargs.items()},
        "fixed_maxlen": cfg.fixed_maxlen,
    }
    if cfg.pretrained is not None:
        matrix, report = _pretrained_matrix(
            cfg.pretrained, vectorizer, kwargs, oov=cfg.oov, seed=cfg.seed
        )
        kwargs["pretrained"] = matrix
        kwargs.setdefault("freeze", True if cfg.freeze is None else cfg.freeze)
        meta["pretrained"] = report
        say(_coverage_line(report, kwargs["freeze"]))
    elif cfg.freeze is not None and "freeze" in accepted:
        kwargs["freeze"] = cfg.freeze
    kwargs.update(vocab_size=vectorizer.vocab_size, num_classes=len(train.label_names or ()))
    if "seed" in accepted:
        kwargs.setdefault("seed", cfg.seed)  # models that seed their own initial weights
    with torch.random.fork_rng(devices=[]):  # seeded initial weights, global RNG untouched
        torch.manual_seed(cfg.seed)
        net = cls(**kwargs)
    _check_max_length(net, cfg, truncate)
    if encoder is not None:
        copied = copy_encoder_weights(net, encoder)
        meta["encoder"] = {**encoder.record(), "copied": copied}
        say(
            f"encoder {encoder.path} ({encoder.name}): embedding and {len(net.layers)} "
            f"recurrent layer(s) copied, vocabulary of {len(encoder.itos):,} tokens"
        )
    return net, vectorizer, meta


def _check_max_length(net: torch.nn.Module, cfg: ClassifyConfig, truncate: int | None) -> None:
    """A model that reads at most ``max_length`` steps (a learned position table) against the
    length the texts are cut to, before training starts rather than at the first long text."""
    longest = getattr(net, "max_length", None)
    if longest is None:
        return
    name, cut = ("fixed_maxlen", cfg.fixed_maxlen) if cfg.fixed_maxlen else ("truncate", truncate)
    if cut is not None and cut <= longest:
        return
    given = "whole texts are kept" if cut is None else f"{name}={cut} cuts texts to {cut} tokens"
    raise ValueError(
        f"model {cfg.model!r} reads at most max_length={longest} tokens (positions='learned'), "
        f"but {given}; use truncate={longest} or less, raise max_length, or use "
        "positions='sinusoidal'"
    )


def _check_bag_model(cfg: ClassifyConfig) -> None:
    model = cfg.model
    check_choice("mode", cfg.mode, BAG_MODES, fix=f"model {model!r} reads bags of words")
    if cfg.fixed_maxlen is not None:
        raise ValueError(
            f"fixed_maxlen={cfg.fixed_maxlen} applies to sequence models only; {model!r} reads "
            "bags of words (whole texts): drop fixed_maxlen or pick a sequence model"
        )
    if cfg.pretrained is not None:
        raise ValueError(
            f"pretrained word vectors need a model with an embedding layer; {model!r} "
            "reads bags of words: use e.g. model='lstm' or 'kim-cnn', or drop pretrained"
        )


def _check_model_inputs(cfg: ClassifyConfig, accepted: Any) -> None:
    """Refuse inputs the model cannot read: pretrained vectors for a model without a
    ``pretrained`` argument, vectorizer n-grams for one that forms its own."""
    if cfg.pretrained is not None and "pretrained" not in accepted:
        raise ValueError(
            f"model {cfg.model!r} does not take pretrained word vectors (pretrained="
            f"{str(cfg.pretrained)!r}); drop pretrained or pick e.g. model='lstm' or 'kim-cnn'"
        )
    if "ngrams" in accepted and tuple(cfg.ngram_range) != (1, 1):
        raise ValueError(
            f"model {cfg.model!r} hashes its own word n-grams from the token ids, so "
            f"ngram_range={tuple(cfg.ngram_range)} would feed it n-gram ids as words; keep "
            "ngram_range=(1, 1) and give the orders as model_options={'ngrams': [2, 3]} "
            "(--set ngrams=[2,3])"
        )


def _model_kwargs(cfg: ClassifyConfig, accepted: Any) -> dict[str, Any]:
    """The model's constructor arguments from the config (``None``: the model's default)."""
    kwargs: dict[str, Any] = {}
    if cfg.hidden_sizes:
        kwargs["hidden_sizes"] = tuple(cfg.hidden_sizes)
    if cfg.nbsvm:
        kwargs["nb_scaling"] = True
    for name in MODEL_FIELDS:
        if getattr(cfg, name) is not None:
            kwargs[name] = getattr(cfg, name)
    if cfg.kernel_sizes is not None:
        sizes = [int(k) for k in cfg.kernel_sizes]
        if "kernel_sizes" not in accepted and "kernel_size" in accepted:
            if len(sizes) != 1:
                raise ValueError(
                    f"model {cfg.model!r} has one convolution width (kernel_size); got "
                    f"kernel_sizes={sizes}: give a single value"
                )
            kwargs["kernel_size"] = sizes[0]
        else:
            kwargs["kernel_sizes"] = sizes
    if cfg.num_filters is not None:
        if "num_filters" not in accepted and "channels" in accepted:
            layers = len(kwargs.get("kernel_sizes") or accepted["channels"].default)
            kwargs["channels"] = [int(cfg.num_filters)] * layers
        else:
            kwargs["num_filters"] = cfg.num_filters
    for key, value in (cfg.model_options or {}).items():
        if key in kwargs and kwargs[key] != value:
            raise ValueError(
                f"model option {key!r} was given twice ({kwargs[key]!r} and {value!r} in "
                "model_options / --set); give it once"
            )
        kwargs[key] = value
    unknown = sorted(k for k in kwargs if k not in accepted)
    if unknown:
        hint = ""
        if "maxlen" in unknown:
            hint = (
                "; maxlen is the number of steps embedding-dense flattens — to cut texts "
                "for other models use truncate=N (--truncate) or fixed_maxlen=N (--fixed-maxlen)"
            )
        takes = ", ".join(p for p in accepted if p not in NOT_OPTIONS)
        raise ValueError(
            f"model {cfg.model!r} does not take {', '.join(unknown)}; it takes {takes}" + hint
        )
    return kwargs


def _vectorizer(
    cfg: ClassifyConfig,
    train: Any,
    sequence: bool,
    truncate: int | None,
    max_tokens: int | None,
    encoder: Encoder | None = None,
) -> tuple[Any, dict[str, Any]]:
    from seqlab.text import TextVectorizer

    vec_kwargs: dict[str, Any] = {
        "max_tokens": max_tokens,
        "min_count": cfg.min_count,
        "ngram_range": tuple(cfg.ngram_range),
        "output_mode": "int" if sequence else cfg.mode,
    }
    if cfg.stop_words is not None:
        vec_kwargs["stop_words"] = cfg.stop_words
    if sequence:
        cut = cfg.fixed_maxlen if cfg.fixed_maxlen is not None else truncate
        vec_kwargs.update(maxlen=cut, padding="pre", truncating=cfg.truncating)
    vec_kwargs.update(cfg.vectorizer_options or {})
    vectorizer: Any
    if encoder is not None:  # the language model's tokens and ids, nothing fitted
        vectorizer = encoder_vectorizer(encoder, vec_kwargs)
        vec_kwargs = {**vec_kwargs, **TOKENIZER, "max_tokens": None}
    elif cfg.stream:
        from seqlab.data.streaming import fit_vocabulary

        vectorizer = fit_vocabulary(TextVectorizer(**vec_kwargs), train)  # + label names
    else:
        vectorizer = TextVectorizer(**vec_kwargs).fit(train.texts)
    if cfg.fixed_maxlen is not None:
        vectorizer = FixedLengthVectorizer(vectorizer)
    return vectorizer, vec_kwargs


def _pretrained_matrix(
    pretrained: Any, vectorizer: Any, kwargs: dict[str, Any], *, oov: str, seed: int
) -> tuple[np.ndarray, dict[str, Any]]:
    try:
        from seqlab.embeddings import build_embedding_matrix, load
    except ImportError as exc:  # pragma: no cover - the embeddings package ships with seqlab
        raise ValueError(f"pretrained vectors need seqlab.embeddings ({exc})") from exc

    if isinstance(pretrained, str | Path):
        path = Path(pretrained).expanduser()
        kv = load(path)
        source = str(path)
    else:
        kv, source = pretrained, type(pretrained).__name__
    dim = int(kv.vector_size)
    if kwargs.get("embedding_dim") not in (None, dim):
        raise ValueError(
            f"embedding_dim={kwargs['embedding_dim']} but the pretrained vectors are {dim}-d; "
            "drop embedding_dim (it is read from the vectors) or use vectors of that width"
        )
    matrix, report = build_embedding_matrix(vectorizer.vocabulary_, kv, oov=oov, seed=seed)
    return matrix, {"source": source, "words": len(kv), "dim": dim, **report}


def _coverage_line(report: dict[str, Any], freeze: bool) -> str:
    missing = ", ".join(report["missing_examples"][:8])
    return (
        f"pretrained vectors {report['source']} ({report['words']:,} words, {report['dim']}-d): "
        f"{report['found']:,} of {report['total']:,} vocabulary words found "
        f"({100 * report['coverage']:.1f}%, {report['found_lowercase']:,} lowercased); "
        f"{'frozen' if freeze else 'fine-tuned'}" + (f"; missing e.g. {missing}" if missing else "")
    )
