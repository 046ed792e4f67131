"""One call from a dataset name to a trained run folder: what ``seqlab classify train`` and
``seqlab demo`` both use."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seqlab._utils import PathLike
from seqlab.data.base import TextDataset
from seqlab.defaults import HEADS
from seqlab.models.initializers import check_init
from seqlab.models.layer_summary import summary
from seqlab.runfolder import RunFolder
from seqlab.runs import Run
from seqlab.text.fixed import FixedLengthVectorizer
from seqlab.training import distributed

__all__ = [
    "AUTO_MAX_TOKENS",
    "BAG_MODES",
    "ClassifyConfig",
    "DEFAULT_TRUNCATE",
    "FixedLengthVectorizer",
    "load_dataset",
    "train_classifier",
]

BAG_MODES = ("multi_hot", "count", "freq", "tf_idf")
SPLITS = ("train", "test", "all")
# Datasets without an official test split get a seeded stratified one of this size, so that
# `classify train` and `classify evaluate --split test` agree on it without sharing state.
TEST_FRACTION = 0.2
# Sequence models: texts are cut to this many tokens unless told otherwise (the lecture's
# maxlen=500; 90% of IMDB reviews are shorter, and the cut bounds the cost of the rest).
DEFAULT_TRUNCATE = 500
# Vocabulary of sequence models with max_tokens="auto": the 20,000 most frequent ids cover
# about 97% of IMDB's running words; the rarer ones are mostly seen too seldom to learn.
AUTO_MAX_TOKENS = 20_000
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


def load_dataset(
    data: str | PathLike | TextDataset,
    *,
    split: str = "train",
    data_dir: PathLike | None = None,
    seed: int = 0,
    text_column: str | int = "text",
    label_column: str | int = "label",
) -> TextDataset:
    """A labelled dataset from a name (``imdb``, ``snippets``, ``bbc``), a path or a dataset.

    A path is read whole and ``split`` is ignored: a folder (or ``.tar.gz``) with one
    sub-folder per label via ``seqlab.datasets.from_folder``, or a CSV/TSV/JSONL table via
    ``seqlab.datasets.from_table`` with the columns ``text_column`` and ``label_column``. A
    named dataset with an official train/test split (IMDB) gives that split; one without
    (snippets, bbc) is split 80/20 by ``seqlab.datasets.train_test_split`` (stratified,
    ``seed``) into ``"train"`` and ``"test"``. ``split="all"`` gives everything.

    >>> train, test = load_dataset("snippets"), load_dataset("snippets", split="test")
    >>> len(train) + len(test), round(len(test) / (len(train) + len(test)), 2)
    (10568, 0.2)
    """
    if isinstance(data, TextDataset):
        return data
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    import seqlab.data.datasets as datasets

    path = Path(data).expanduser()
    if path.is_dir() or (path.is_file() and path.name.endswith((".tar", ".tar.gz", ".tgz"))):
        return datasets.from_folder(path)
    if path.is_file():
        return datasets.from_table(path, text_column=text_column, label_column=label_column)
    name = str(data)
    if name not in datasets.names() or datasets.describe(name)["kind"] != "classification":
        choices = [n for n in datasets.names() if datasets.describe(n)["kind"] == "classification"]
        raise FileNotFoundError(
            f"data={name!r} is neither an existing file or folder nor a labelled dataset name; "
            f"use one of {', '.join(choices)} or the path of a CSV/TSV/JSONL table or a "
            "folder with one sub-folder per label"
        )
    if name == "imdb":
        if split == "all":
            return _concat(datasets.imdb(("train", "test"), data_dir=data_dir))
        return datasets.imdb(split, data_dir=data_dir)
    full = datasets.load(name, data_dir=data_dir)
    if split == "all":
        return full
    train, test = datasets.train_test_split(full, test_size=TEST_FRACTION, seed=seed)
    return train if split == "train" else test


def _concat(parts: Sequence[TextDataset]) -> TextDataset:
    first = parts[0]
    return TextDataset(
        texts=[t for p in parts for t in p.texts],
        labels=np.concatenate([p.labels for p in parts]),
        label_names=list(first.label_names),
        name=first.name,
    )


@dataclass
class ClassifyConfig:
    """Every setting of :func:`train_classifier` but the data: what ``seqlab classify train``
    fills from its flags. ``None`` leaves a model option at the model's default.

    >>> cfg = ClassifyConfig(model="lstm", hidden_size=64, epochs=4).validate()
    >>> cfg.model, cfg.hidden_size, cfg.checkpoint_every
    ('lstm', 64, 60.0)
    """

    # data
    data_dir: str | Path | None = None
    text_column: str | int = "text"
    label_column: str | int = "label"
    stream: bool = False  # read a JSONL/TSV file a window of lines at a time
    num_workers: int = 0  # with stream: DataLoader processes
    # vectorizer
    mode: str = "multi_hot"  # bag models: one of BAG_MODES
    ngram_range: tuple[int, int] = (1, 1)
    max_tokens: int | str | None = "auto"  # vocabulary size; "auto": 20,000 / no limit
    min_count: int = 1
    stop_words: str | list[str] | None = None  # "english" or a list of words
    truncate: int | None = DEFAULT_TRUNCATE  # sequence models: tokens kept per text
    truncating: str = "pre"  # "pre" keeps the end (Keras), "post" the start
    fixed_maxlen: int | None = None  # pad or cut every text to exactly N ids
    bucket: bool = True  # batches of texts of similar length
    vectorizer_options: dict[str, Any] | None = None
    # model
    model: str = "bow-mlp"
    nbsvm: bool = False
    hidden_sizes: tuple[int, ...] = ()  # bow-mlp, embedding-dense: hidden Dense layers (relu)
    embedding_dim: int | None = None
    hidden_size: int | None = None
    num_layers: int | None = None
    bidirectional: bool | None = None
    residual: bool | None = None
    pooling: str | None = None
    kernel_sizes: tuple[int, ...] | None = None
    num_filters: int | None = None
    maxlen: int | None = None
    dropout: float | None = None
    init: str | None = None  # "keras" | "torch" (None: seqlab.defaults.DEFAULT_INIT)
    head: str | None = None  # "softmax" | "sigmoid" (one output unit, two classes)
    model_options: dict[str, Any] | None = None  # any other constructor argument
    pretrained: str | Path | Any | None = None  # a vector file or a KeyedVectors
    freeze: bool | None = None  # default True with pretrained
    oov: str = "zeros"  # "zeros" | "random": vectors of words missing from pretrained
    # training (see seqlab.fit)
    epochs: int = 10
    max_steps: int | None = None
    minutes: float | None = None
    batch_size: int = 32
    optimizer: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    clip_grad_norm: float | None = None
    val_split: float = 0.2
    patience: int | None = None
    monitor: str | None = None
    seed: int = 0
    device: str = "auto"
    threads: int | str | None = None  # torch threads for the run ("auto": fewer when busy)
    # run folder
    out: str | Path | None = None
    resume: bool = False
    overwrite: bool = False
    checkpoint_every: float = 60.0  # seconds between checkpoints
    progress: bool = True

    def validate(self) -> ClassifyConfig:
        """Raise ValueError (or FileNotFoundError for ``pretrained``) naming the first bad
        field, its value and the fix; returns self. Checks that need the model class
        (options it takes) happen when training starts."""
        if self.truncating not in ("pre", "post"):
            raise ValueError(f"truncating must be 'pre' or 'post', got {self.truncating!r}")
        if self.oov not in ("zeros", "random"):
            raise ValueError(f"oov must be 'zeros' or 'random', got {self.oov!r}")
        if self.init is not None:
            check_init(self.init)
        if self.head not in (None, *HEADS):
            raise ValueError(f"head must be one of {HEADS} or None, got {self.head!r}")
        for name in ("truncate", "fixed_maxlen"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise ValueError(f"{name} must be None or an int >= 1, got {value!r}")
        if isinstance(self.max_tokens, str) and self.max_tokens != "auto":
            raise ValueError(
                f"max_tokens must be an int, None (no limit) or 'auto', got {self.max_tokens!r}"
            )
        if self.freeze and self.pretrained is None:
            raise ValueError(
                "freeze=True keeps pretrained vectors fixed, but no pretrained vectors were "
                "given; pass pretrained=PATH (--pretrained) or drop freeze"
            )
        for name in ("minutes", "checkpoint_every"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, int | float) and value > 0):
                raise ValueError(f"{name} must be a number > 0, got {value!r}")
        if (
            self.threads is not None
            and self.threads != "auto"
            and (isinstance(self.threads, bool | str) or self.threads < 1)
        ):
            raise ValueError(f"threads must be None, 'auto' or an int >= 1, got {self.threads!r}")
        if isinstance(self.pretrained, str | Path):  # before the (possibly long) data loading
            archive = Path(str(self.pretrained).split("::", 1)[0]).expanduser()  # a.zip::m.txt
            if not archive.is_file():
                raise FileNotFoundError(
                    f"pretrained={str(self.pretrained)!r}: no such file; give a GloVe / "
                    "word2vec / fastText vector file, e.g. glove.6B.50d.txt.gz"
                )
        return self


def train_classifier(
    data: str | PathLike | TextDataset,
    config: ClassifyConfig | None = None,
    *,
    echo: Callable[[str], None] | None = None,
    **settings: Any,
) -> Run:
    """Load ``data``, fit a TextVectorizer on its training texts, build the model and train
    it with :func:`seqlab.fit`; ``config`` (a :class:`ClassifyConfig`) or keyword
    ``settings`` (its field names, applied on top of ``config``) say how.

    ``data`` is read by :func:`load_dataset` (its ``"train"`` split; for snippets and bbc the
    seeded 80% part, so ``--split test`` of ``classify evaluate`` is never trained on). Any
    number of classes works (bbc has 5).

    Vocabulary: ``max_tokens`` ids at most (padding and OOV included); ``"auto"`` means
    20,000 for sequence models (a larger table mostly holds words seen once or twice) and no
    limit for bag models; ``None`` means no limit.

    Bag models (``bow-mlp``) get a vectorizer with ``output_mode=mode``; ``nbsvm=True`` turns
    on ``nb_scaling`` (NBSVM-style log-count-ratio features), ``hidden_sizes`` adds hidden
    layers.

    Sequence models get token ids. Two ways to feed them:

    * default: each text is cut to ``truncate`` tokens (500, the lecture's ``maxlen``;
      ``None`` keeps whole texts), keeping the last ones with ``truncating="pre"`` (Keras's
      default) or the first ones with ``"post"``; batches group texts of similar length
      (``bucket=True``) and are padded to the longest text of the batch, which the models
      mask (a recurrent layer never reads padding);
    * ``fixed_maxlen=N``: the lecture's setting — every text padded (in front, Keras's
      ``pad_sequences`` default) or truncated (``truncating``) to exactly ``N`` ids, and the
      padding is read as input like any token (zero vectors). Slower; for comparisons.

    Model options (``None`` leaves the model's default): ``embedding_dim``, ``hidden_size``,
    ``num_layers``, ``bidirectional``, ``residual``, ``pooling``, ``kernel_sizes`` (kim-cnn,
    tdnn; one value for cnn's ``kernel_size``), ``num_filters`` (cnn, kim-cnn; tdnn's
    channels per layer), ``maxlen`` (embedding-dense: the number of steps it flattens),
    ``dropout``, ``init`` (``"torch"`` or ``"keras"``: whose initialisers draw the weights),
    ``head`` (``"sigmoid"``: one output unit for two classes, Keras's ``Dense(1,
    activation="sigmoid")``); ``hidden_sizes`` gives bow-mlp and embedding-dense hidden
    Dense layers. ``model_options`` passes any other constructor argument (e.g.
    ``{"dilations": [1, 2, 4]}``); a name the model does not take is a ValueError listing
    the ones it does. ``vectorizer_options`` go to TextVectorizer.

    ``pretrained``: a word-vector file (GloVe / word2vec / fastText) or a loaded
    ``KeyedVectors``; the embedding matrix is built for the fitted vocabulary (missing words
    get zeros, or a random draw with ``oov="random"``) and its coverage is reported through
    ``echo`` and stored in ``config.json``. ``freeze`` (default True with ``pretrained``)
    keeps it fixed; ``freeze=False`` fine-tunes it. The model's weights are drawn with
    ``seed``.

    Budgets, run folder and checkpoints are :func:`seqlab.fit`'s: ``epochs``, ``max_steps``,
    ``minutes``; ``out``, ``resume``, ``overwrite``, ``checkpoint_every``, ``threads``.

    ``stream=True`` trains from a JSONL or TSV file larger than memory (read by
    :class:`seqlab.data.streaming.TextStream`; ``num_workers`` DataLoader processes).

    >>> run = train_classifier("snippets", ngram_range=(1, 2), nbsvm=True,
    ...                        out="runs/snippets")  # doctest: +SKIP
    >>> cfg = ClassifyConfig(model="lstm", hidden_size=64, bidirectional=True, epochs=4)
    >>> run = train_classifier("imdb", cfg, out="runs/bilstm")  # doctest: +SKIP
    """
    cfg = _config(config, settings).validate()
    say = echo or (lambda line: None)
    if cfg.out is not None and distributed.is_main():
        # Before the data is read and vectorized: an unwritable --out, a folder another
        # training holds, or a finished run without --overwrite fails now, not minutes later.
        RunFolder(cfg.out, overwrite=cfg.overwrite, resume=cfg.resume).open().close()
    train = _training_data(data, cfg)
    net, vectorizer, meta = _build(data, train, cfg, say)
    if cfg.progress:
        say(summary(net, input_length=cfg.fixed_maxlen))
    from seqlab.training.trainer import fit

    return fit(
        net,
        vectorizer,
        train,
        val_split=cfg.val_split,
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        optimizer=cfg.optimizer,
        lr=cfg.lr,
        weight_decay=cfg.weight_decay,
        patience=cfg.patience,
        monitor=cfg.monitor,
        out=cfg.out,
        seed=cfg.seed,
        device=cfg.device,
        resume=cfg.resume,
        overwrite=cfg.overwrite,
        progress=cfg.progress,
        bucket=cfg.bucket and cfg.fixed_maxlen is None,
        max_steps=cfg.max_steps,
        minutes=cfg.minutes,
        clip_grad_norm=cfg.clip_grad_norm,
        checkpoint_every=cfg.checkpoint_every,
        threads=cfg.threads,
        meta=meta,
    )


def _config(config: ClassifyConfig | None, settings: dict[str, Any]) -> ClassifyConfig:
    names = {f.name for f in dataclasses.fields(ClassifyConfig)}
    unknown = sorted(set(settings) - names)
    if unknown:
        raise TypeError(
            f"train_classifier() got unknown setting(s) {', '.join(unknown)}; valid names: "
            + ", ".join(sorted(names))
        )
    if "hidden_sizes" in settings:
        settings = {**settings, "hidden_sizes": tuple(settings["hidden_sizes"] or ())}
    if settings.get("kernel_sizes") is not None:
        settings = {**settings, "kernel_sizes": tuple(settings["kernel_sizes"])}
    return dataclasses.replace(config or ClassifyConfig(), **settings)


def _training_data(data: str | PathLike | TextDataset, cfg: ClassifyConfig) -> Any:
    if not cfg.stream:
        return load_dataset(
            data,
            split="train",
            data_dir=cfg.data_dir,
            seed=cfg.seed,
            text_column=cfg.text_column,
            label_column=cfg.label_column,
        )
    from seqlab.data.streaming import TextStream

    if isinstance(data, TextDataset) or not Path(data).expanduser().is_file():
        raise ValueError(
            f"stream=True reads a JSONL or TSV file, got data={data!r}; give the path of "
            "one (named datasets and folders are loaded in memory: drop stream)"
        )
    return TextStream(
        data,
        text_column=cfg.text_column,
        label_column=cfg.label_column,
        num_workers=cfg.num_workers,
    )


def _build(
    data: Any, train: Any, cfg: ClassifyConfig, say: Callable[[str], None]
) -> tuple[torch.nn.Module, Any, dict[str, Any]]:
    """The model (seeded weights), the fitted vectorizer and the run's metadata."""
    from seqlab.models import get

    cls = get(cfg.model)
    accepted = inspect.signature(cls.__init__).parameters
    sequence = getattr(cls, "input_kind", None) != "bag"
    if not sequence:
        _check_bag_model(cfg)
    kwargs = _model_kwargs(cfg, accepted)
    truncate = cfg.truncate
    if cfg.fixed_maxlen is not None and "maxlen" in accepted and "maxlen" not in kwargs:
        kwargs["maxlen"] = cfg.fixed_maxlen  # embedding-dense flattens exactly the fixed length
    if "maxlen" in accepted and cfg.fixed_maxlen is None:
        # A position-tied model only ever reads `maxlen` steps: cut the texts there, so the
        # vectorizer's `truncating` decides which words those are.
        steps = int(kwargs.get("maxlen", accepted["maxlen"].default))
        truncate = steps if truncate is None else min(truncate, steps)
    vectorizer, vec_kwargs = _vectorizer(cfg, train, sequence, truncate)
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
    return net, vectorizer, meta


def _check_bag_model(cfg: ClassifyConfig) -> None:
    model = cfg.model
    if cfg.mode not in BAG_MODES:
        raise ValueError(f"mode must be one of {BAG_MODES} for model {model!r}, got {cfg.mode!r}")
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
    cfg: ClassifyConfig, train: Any, sequence: bool, truncate: int | None
) -> tuple[Any, dict[str, Any]]:
    from seqlab.text import TextVectorizer

    max_tokens = cfg.max_tokens
    if max_tokens == "auto":
        max_tokens = AUTO_MAX_TOKENS if sequence else None
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
    if cfg.stream:
        from seqlab.data.streaming import fit_vocabulary

        vectorizer: Any = fit_vocabulary(TextVectorizer(**vec_kwargs), train)  # + label names
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
