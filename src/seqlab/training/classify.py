"""One call from a dataset name to a trained run folder: what ``seqlab classify train`` and
``seqlab demo`` both use."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqlab._checks import check_choice
from seqlab._utils import PathLike
from seqlab.data.base import TextDataset
from seqlab.defaults import HEADS
from seqlab.models.initializers import check_init
from seqlab.models.layer_summary import summary
from seqlab.runfolder import RunFolder
from seqlab.runs import Run
from seqlab.text.fixed import FixedLengthVectorizer
from seqlab.training import distributed
from seqlab.training._classify_data import load_dataset
from seqlab.training._classify_data import training_data as _training_data  # tests patch it
from seqlab.training._classify_model import AUTO_MAX_TOKENS, BAG_MODES, DEFAULT_TRUNCATE
from seqlab.training._classify_model import NOT_OPTIONS as NOT_OPTIONS  # for the CLI's --set
from seqlab.training._classify_model import build as _build
from seqlab.training._encoder import ENCODER_DEFAULTS, Encoder, read_encoder, with_encoder
from seqlab.training.ema import check_ema
from seqlab.training.optim import SCHEDULES

__all__ = [
    "AUTO_MAX_TOKENS",
    "BAG_MODES",
    "ClassifyConfig",
    "DEFAULT_TRUNCATE",
    "ENCODER_DEFAULTS",
    "FixedLengthVectorizer",
    "load_dataset",
    "train_classifier",
]

# train_classifier's settings that go to seqlab.fit under the same name
_FIT_SETTINGS = (
    "val_split",
    "epochs",
    "batch_size",
    "optimizer",
    "lr",
    "schedule",
    "weight_decay",
    "patience",
    "monitor",
    "warmup",
    "layer_lr_decay",
    "gradual_unfreezing",
    "out",
    "seed",
    "device",
    "resume",
    "overwrite",
    "progress",
    "max_steps",
    "minutes",
    "clip_grad_norm",
    "checkpoint_every",
    "threads",
    "precision",
    "ema",
    "tensorboard",
)


@dataclass
class ClassifyConfig:
    """Every setting of :func:`train_classifier` but the data: what ``seqlab classify train``
    fills from its flags. ``None`` leaves a model option at the model's default.

    Vocabulary: ``max_tokens`` ids at most (padding and OOV included); ``"auto"`` means
    the model's ``train_defaults`` (fasttext: no limit), else 20,000 for sequence models (a
    larger table mostly holds words seen once or twice) and no limit for bag models;
    ``None`` means no limit.

    Bag models (``bow-mlp``) get a vectorizer with ``output_mode=mode``; ``nbsvm=True`` turns
    on ``nb_scaling`` (NBSVM-style log-count-ratio features), ``hidden_sizes`` adds hidden
    layers.

    Sequence models get token ids. Two ways to feed them:

    * default: each text is cut to ``truncate`` tokens (``"auto"``: the model's
      ``train_defaults``, else 500, the lecture's ``maxlen``; ``None`` keeps whole texts;
      fasttext reads whole texts), keeping the last ones with ``truncating="pre"`` (Keras's
      default) or the first ones with ``"post"``; batches group texts of similar length
      (``bucket=True``) and are padded to the longest text of the batch, which the models
      mask (a recurrent layer never reads padding);
    * ``fixed_maxlen=N``: the lecture's setting — every text padded (in front, Keras's
      ``pad_sequences`` default) or truncated (``truncating``) to exactly ``N`` ids, and the
      padding is read as input like any token (zero vectors). Slower; for comparisons.

    Model options: ``embedding_dim``, ``hidden_size``, ``num_layers``, ``bidirectional``,
    ``residual``, ``pooling``, ``kernel_sizes`` (kim-cnn, tdnn; one value for cnn's
    ``kernel_size``), ``num_filters`` (cnn, kim-cnn; tdnn's channels per layer), ``maxlen`` (embedding-dense: the number of steps it flattens),
    ``dropout``, ``init`` (``"torch"`` or ``"keras"``: whose initialisers draw the weights),
    ``head`` (``"sigmoid"``: one output unit for two classes, Keras's ``Dense(1,
    activation="sigmoid")``); ``hidden_sizes`` gives bow-mlp and embedding-dense hidden
    Dense layers. ``model_options`` passes any other constructor argument (e.g.
    ``{"dilations": [1, 2, 4]}``); a name the model does not take is a ValueError listing
    the ones it does. ``vectorizer_options`` go to TextVectorizer.

    ``pretrained``: a word-vector file (GloVe / word2vec / fastText) or a loaded
    ``KeyedVectors``; the embedding matrix is built for the fitted vocabulary (missing words
    get zeros, or a random draw with ``oov="random"``) and its coverage is stored in
    ``config.json``. ``freeze`` (default True with ``pretrained``) keeps it fixed;
    ``freeze=False`` fine-tunes it. The model's weights are drawn with ``seed``.

    Budgets, run folder and checkpoints are :func:`seqlab.fit`'s: ``epochs``, ``max_steps``,
    ``minutes``; ``out``, ``resume``, ``overwrite``, ``checkpoint_every``, ``threads``, ``precision``,
    ``ema`` (a moving average of the weights, evaluated and returned: :mod:`seqlab.training.ema`);
    ``tensorboard`` (a folder for TensorBoard logs of the history, see
    :mod:`seqlab.training.tensorboard`).
    ``epochs``, ``batch_size``, ``optimizer``, ``lr`` and ``schedule`` left at None are the
    model's recommended ones (its ``train_defaults``: fasttext's one epoch of Adam at lr 0.08
    with a linear decay, batches of 128), else 10 epochs of Adam at lr 1e-3, batches of 32,
    a constant rate (``seqlab.training.trainer.FIT_DEFAULTS``).

    ``stream=True`` trains from a JSONL or TSV file larger than memory (read by
    :class:`seqlab.data.streaming.TextStream`; ``num_workers`` DataLoader processes).

    ``encoder``: the run folder of a word-level language model (``seqlab lm train --level
    word``; ULMFiT). The classifier is the recurrent one it starts (``lm-lstm`` -> ``lstm``,
    ``lm-gru`` -> ``gru``; ``model`` may be left out, another one is refused) with its sizes,
    its embedding and recurrent layers copied in, and a vectorizer that reads the language
    model's tokens and ids (:mod:`seqlab.training._encoder`). Settings left at None take
    ULMFiT's fine-tuning practice (``ENCODER_DEFAULTS``): ``schedule="slanted"``,
    ``layer_lr_decay=2.6``, ``gradual_unfreezing=True``, ``pooling="concat"``, ``dropout=0.3``,
    ``lr=4e-3``, ``epochs=5``. ``layer_lr_decay`` and ``gradual_unfreezing`` work for any
    sequence classifier (its layer groups: embedding, layers, head); without an encoder they
    default to off. ``warmup`` is the share of the budget the rate rises over (cosine's
    warm-up, slanted's ``cut_frac``).

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
    truncate: int | str | None = "auto"  # sequence models: tokens kept per text
    truncating: str = "pre"  # "pre" keeps the end (Keras), "post" the start
    fixed_maxlen: int | None = None  # pad or cut every text to exactly N ids
    bucket: bool = True  # batches of texts of similar length
    vectorizer_options: dict[str, Any] | None = None
    # model
    model: str | None = None  # None: "bow-mlp", or the classifier the encoder starts
    encoder: str | Path | None = None  # a word-level language model's run folder (ULMFiT)
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
    # training (see seqlab.fit; None: the model's train_defaults, else seqlab.fit's)
    epochs: int | None = None
    max_steps: int | None = None
    minutes: float | None = None
    batch_size: int | None = None
    optimizer: str | None = None
    lr: float | None = None
    schedule: str | None = None  # "constant" | "linear" | "cosine" | "step" | "slanted"
    warmup: float = 0.0  # cosine's warm-up share; slanted's cut_frac (0: 0.1)
    layer_lr_decay: float | None = None  # group k from the top: lr / decay**k (None: 1, or 2.6)
    gradual_unfreezing: bool | None = None  # epoch e trains the top e + 1 groups (None: off/on)
    weight_decay: float = 0.0
    clip_grad_norm: float | None = None
    val_split: float = 0.2
    patience: int | None = None
    monitor: str | None = None
    seed: int = 0
    device: str = "auto"
    threads: int | str | None = "auto"  # torch threads ("auto": fewer when busy; None: torch's)
    precision: str = "fp32"  # "bf16": forward passes in bfloat16 (TrainConfig.precision)
    ema: float | None = None  # a moving average of the weights (TrainConfig.ema)
    tensorboard: str | Path | None = None  # a folder for TensorBoard logs
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
        check_choice("truncating", self.truncating, ("pre", "post"))
        check_choice("oov", self.oov, ("zeros", "random"))
        if self.init is not None:
            check_init(self.init)
        check_ema(self.ema)
        check_choice("head", self.head, HEADS, allow_none=True)
        if not (isinstance(self.warmup, int | float) and 0 <= self.warmup < 1):
            raise ValueError(
                f"warmup must be in [0, 1) (a share of the budget), got {self.warmup!r}"
            )
        if self.encoder is not None and not Path(str(self.encoder)).expanduser().is_dir():
            raise FileNotFoundError(
                f"encoder={str(self.encoder)!r}: no such run folder; give the --out folder of "
                "`seqlab lm train --level word`"
            )
        check_choice(
            "schedule", self.schedule, SCHEDULES, allow_none=True, fix="None uses the model's own"
        )
        for name in ("truncate", "fixed_maxlen"):
            value = getattr(self, name)
            if name == "truncate" and value == "auto":
                continue
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise ValueError(
                    f"{name} must be None or an int >= 1"
                    + (" (or 'auto')" if name == "truncate" else "")
                    + f", got {value!r}"
                )
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
    it with :func:`seqlab.fit`; ``config`` (a :class:`ClassifyConfig`: its docstring says
    what each setting does) or keyword ``settings`` (its field names, applied on top of
    ``config``) say how.

    ``data`` is read by :func:`load_dataset` (its ``"train"`` split; for snippets and bbc the
    seeded 80% part, so ``--split test`` of ``classify evaluate`` is never trained on). Any
    number of classes works (bbc has 5).

    ``echo`` receives the lines meant for the user: the coverage of ``pretrained`` vectors
    and, with ``progress``, the model's layers, output shapes and parameter counts.

    >>> run = train_classifier("snippets", ngram_range=(1, 2), nbsvm=True,
    ...                        out="runs/snippets")  # doctest: +SKIP
    >>> cfg = ClassifyConfig(model="lstm", hidden_size=64, bidirectional=True, epochs=4)
    >>> run = train_classifier("imdb", cfg, out="runs/bilstm")  # doctest: +SKIP
    """
    cfg = _config(config, settings).validate()
    cfg, encoder = _resolve_model(cfg)
    say = echo or (lambda line: None)
    if cfg.out is not None and distributed.is_main():
        # Before the data is read and vectorized: an unwritable --out, a folder another
        # training holds, or a finished run without --overwrite fails now, not minutes later.
        RunFolder(cfg.out, overwrite=cfg.overwrite, resume=cfg.resume).open().close()
    train = _training_data(data, cfg)
    net, vectorizer, meta = _build(data, train, cfg, say, encoder)
    if cfg.progress:
        say(summary(net, input_length=cfg.fixed_maxlen))
    from seqlab.training.trainer import fit

    return fit(
        net,
        vectorizer,
        train,
        bucket=cfg.bucket and cfg.fixed_maxlen is None,
        meta=meta,
        **{name: getattr(cfg, name) for name in _FIT_SETTINGS},
    )


def _resolve_model(cfg: ClassifyConfig) -> tuple[ClassifyConfig, Encoder | None]:
    """``cfg`` with its model decided (the encoder's, or bow-mlp) and the fine-tuning
    settings left at None filled (ULMFiT's with an encoder, off without); the encoder."""
    encoder = None
    if cfg.encoder is not None:
        encoder = read_encoder(cfg.encoder)
        cfg = with_encoder(cfg, encoder)
    return dataclasses.replace(
        cfg,
        model=cfg.model or "bow-mlp",
        layer_lr_decay=1.0 if cfg.layer_lr_decay is None else cfg.layer_lr_decay,
        gradual_unfreezing=bool(cfg.gradual_unfreezing),
    ), encoder


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
