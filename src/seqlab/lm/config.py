"""Settings of a language-model run: :class:`LMConfig`, and the two recipes it starts from.

Recipes (:data:`RECIPES`; every field can still be overridden):

* ``"lecture"`` — the Keras character-generation example, faithfully: lower-cased text,
  windows of ``maxlen=40`` characters every ``step=3``, each predicting the one next
  character; one-hot input, one LSTM(128), softmax; RMSprop(lr=0.01, rho=0.9, eps=1e-7),
  batch 128, windows shuffled each epoch, constant learning rate, no clipping.
* ``"default"`` — truncated BPTT: the training text cut into ``batch_size`` contiguous
  streams read ``seq_len`` tokens at a time; every position predicts its successor and the
  hidden state is carried from chunk to chunk (detached at the boundary), so the model
  learns from contexts far longer than a window and every character is a target once per
  epoch instead of being read ``maxlen / step`` times. Character defaults: embedding 64,
  2-layer LSTM(256), dropout 0.1, batches of 8 streams x 100 characters, Adam lr 2e-3 with
  a 2 % warm-up and a cosine decay to 10 %, gradient-norm clipping at 1.0. (Word level:
  batches of 32, see :data:`RECIPES`.)

  Why these sizes (the target: <= 1.30 nats/char on held-out Nietzsche in 10 minutes on two
  CPU cores): training costs ~6 FLOPs per parameter per character, and two cores sustain a
  few tens of GFLOP/s, so 10 minutes buy ~1e13 FLOPs. Compute-optimal scaling (Hoffmann et
  al. 2022: ~20 tokens per parameter) then points to a model under a million parameters
  seeing a few million characters: the 2 x 256 LSTM has 0.87 M parameters; a 512-unit or
  3-layer stack is several times slower per character. What decides the result in so short
  a run is the number of updates, and on a CPU the cost of a step grows far more slowly than
  the batch at these sizes (2 threads: 4.5 steps/s with 32 streams, 7.7 with 16, 11.3 with 8:
  a quarter of the batch buys 2.5x the updates). Trial runs of 10 minutes on one thread (one
  seed, held-out loss): 32 streams lr 3e-3 1.419 (1,438 steps), 16 streams lr 3e-3 1.329,
  lr 2e-3 1.337 (3,250 steps), 8 streams lr 2e-3 1.317 (5,179 steps); on two threads the
  8-stream default reaches 1.287 (7,517 steps). Light dropout is enough for so few epochs.

``model="transformer"`` (:mod:`seqlab.models.gpt`, default recipe only) starts from
:data:`MODEL_RECIPES` on top of the recipe: the same contiguous streams, read in windows of
``block_size`` tokens with no state carried between batches (``seq_len`` is not used).
Character defaults: 4 pre-norm blocks of d_model 128 with 4 heads (0.8 M parameters, the
LSTM default's size), a context of 128 characters, 16 windows a step, no dropout, Adam lr
2e-3 with a 2 % warm-up and a cosine decay to 10 %, clipping at 1.0. Why (a 10-minute,
two-core CPU budget on tinyshakespeare): the same compute argument as above keeps the model
under a million parameters; a transformer step is matrix products over all the positions
at once, so on a CPU its cost grows about linearly with the tokens of a batch from a
thousand or so on (the LSTM's does not, it walks the time axis), and 16 x 128 = 2,048
tokens keep the products large enough to run at speed while still giving a few thousand
updates; a short warm-up lets lr 2e-3 (higher than nanoGPT's 1e-3 for a model this small,
as pre-norm blocks with tied embeddings tolerate) move fast from the start; dropout only
slows learning when the run sees the text a few times; a context of 128 costs little
(attention is ~15 % of a block's work at d_model 128) and every held-out character is
scored with all 127 before it (the cache makes that exact). bf16 autocast is left off: it
only pays on CPUs with bfloat16 instructions (AVX512-BF16, AMX) and slows the others. On
such a CPU give ``precision="bf16", dropout=0.1``: a step takes 0.6x the time, and the
extra passes over the text overfit without dropout (docs/transformer-lm.md, session 12).
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass
from typing import Any

from seqlab._checks import check_choice
from seqlab.defaults import DEFAULT_INIT, INITS, OPTIMIZERS
from seqlab.lm.data import LEVELS
from seqlab.models._checks import check_dropout
from seqlab.models.gpt import check_transformer
from seqlab.models.lm import LM_MODELS
from seqlab.training.ema import check_ema

__all__ = [
    "BUDGET_FIELDS",
    "LMConfig",
    "MODEL_RECIPES",
    "RECIPES",
    "RECIPE_NAMES",
    "RENAMED",
    "RESUMABLE_FIELDS",
    "make_config",
    "rename_settings",
    "upgrade_config",
]

RECIPE_NAMES = ("default", "lecture")
SCHEDULES = ("cosine", "step", "constant")
BUDGET_FIELDS = ("epochs", "steps", "minutes")
# Fields that may change when a run is resumed (everything else must match the checkpoint).
# Old names of renamed fields -> the names every seqlab task uses.
RENAMED = {
    "clip": "clip_grad_norm",
    "val_fraction": "val_split",
    "checkpoint_seconds": "checkpoint_every",
}
RESUMABLE_FIELDS = (
    *BUDGET_FIELDS,
    "eval_every",
    "eval_seconds",
    "eval_tokens",
    "checkpoint_every",
    "threads",
    "precision",  # a resumed run may change it
    "progress",
    "stream",  # a streamed run takes the same batches as one read into memory
    "stream_block",
    "data_dir",  # where a dataset corpus is found (its hash is checked on resume)
)


@dataclass
class LMConfig:
    """Every setting of a language-model training run (the ``"train"`` part of config.json).

    Build one with :func:`make_config`, which starts from a recipe and applies overrides.

    >>> make_config("lecture").hidden_size, make_config("default").hidden_size
    (128, 256)
    """

    level: str = "char"  # "char" | "word"
    recipe: str = "default"  # "default" (contiguous TBPTT) | "lecture" (windows)
    model: str = "lstm"  # "lstm" | "gru" | "transformer"
    lower: bool = False  # lower-case the corpus (and prompts)
    max_tokens: int | None = 10_000  # word level: vocabulary size incl. padding and [UNK]
    val_split: float = 0.1  # the last part of the corpus, held out
    # model
    input_encoding: str = "embedding"  # "embedding" | "one_hot"
    embedding_dim: int = 64
    hidden_size: int = 256
    num_layers: int = 2
    dropout: float = 0.1
    tie_weights: bool = False
    init: str = DEFAULT_INIT  # "torch" | "keras": whose initialisers draw the weights
    # transformer (model="transformer"; it shares num_layers, dropout and tie_weights)
    block_size: int = 128  # context: each token attends to this many (itself included)
    d_model: int = 128  # width of the embedding and of every block
    num_heads: int = 4  # attention heads (d_model / num_heads features each)
    attention_dropout: float | None = None  # on the attention weights (None: as dropout)
    # batches
    batch_size: int = 32
    seq_len: int = 100  # default recipe: tokens per chunk
    maxlen: int = 40  # lecture recipe: window length
    step: int = 3  # lecture recipe: distance between windows
    # optimisation
    optimizer: str = "adam"  # one of seqlab.defaults.OPTIMIZERS
    lr: float = 3e-3
    weight_decay: float = 0.0
    schedule: str = "cosine"  # "cosine" | "step" | "constant"
    warmup: float = 0.02  # fraction of the budget with a linear warm-up
    min_lr: float = 0.1  # cosine floor, as a fraction of lr
    clip_grad_norm: float | None = 1.0  # max gradient norm; 0 or None: no clipping
    # budget: training stops at the first one reached
    epochs: float | None = None
    steps: int | None = None
    minutes: float | None = None
    # monitoring
    eval_every: int | None = None  # steps between evaluations (None: by time only)
    eval_seconds: float = 30.0  # training seconds between evaluations
    eval_tokens: int | None = 20_000  # predictions per periodic evaluation (None: all)
    checkpoint_every: float = 60.0  # seconds between checkpoints (and at every epoch end)
    threads: int | str | None = "auto"  # torch threads ("auto": fewer when busy; None: torch's)
    precision: str = "fp32"  # "bf16": forward passes in bfloat16 (TrainConfig.precision)
    ema: float | None = None  # a moving average of the weights, evaluated and kept (0.999)
    seed: int = 0
    corpus: str | None = None  # bundled name or file path (recorded for `evaluate`)
    data_dir: str | None = None  # where a corpus built from a dataset ("imdb") was found
    # default recipe: read the corpus file as streams instead of into memory (same batches)
    stream: bool = False
    stream_block: int = 1 << 16  # bytes read at a time per stream (see seqlab.lm.stream)

    def validate(self) -> LMConfig:
        """Raise ValueError naming the first bad field; returns self."""
        choices = {
            "level": LEVELS,
            "recipe": RECIPE_NAMES,
            "model": LM_MODELS,
            "input_encoding": ("embedding", "one_hot"),
            "init": INITS,
            "optimizer": OPTIMIZERS,
            "schedule": SCHEDULES,
        }
        for name, allowed in choices.items():
            check_choice(name, getattr(self, name), allowed)
        for name in ("hidden_size", "num_layers", "batch_size", "seq_len", "maxlen", "step",
                     "block_size", "d_model", "num_heads"):  # fmt: skip
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        if self.model == "transformer":
            self._validate_transformer()
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr!r}")
        if not 0 <= self.warmup < 1 or not 0 <= self.min_lr <= 1:
            raise ValueError(
                f"warmup must be in [0, 1) and min_lr in [0, 1], got {self.warmup!r}, "
                f"{self.min_lr!r}"
            )
        if self.clip_grad_norm is not None and not self.clip_grad_norm >= 0:
            raise ValueError(
                f"clip_grad_norm must be >= 0 (0 or None: no clipping), got {self.clip_grad_norm!r}"
            )
        if not 0.0 <= self.val_split < 1.0:
            raise ValueError(f"val_split must be in [0, 1), got {self.val_split!r}")
        check_ema(self.ema)
        for name in BUDGET_FIELDS:
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be > 0 or None, got {value!r}")
        if self.stream and self.recipe != "default":
            raise ValueError(
                f"stream=True reads the corpus as contiguous streams, which the {self.recipe!r} "
                "recipe (shuffled windows over the whole text) cannot do; use recipe='default' "
                "(--recipe default) or drop stream=True (--stream)"
            )
        if isinstance(self.stream_block, bool) or int(self.stream_block) < 1:
            raise ValueError(f"stream_block must be >= 1 (bytes), got {self.stream_block!r}")
        if all(getattr(self, name) is None for name in BUDGET_FIELDS):
            raise ValueError(
                "no training budget: give epochs=, steps= or minutes= (training stops at the "
                "first one reached)"
            )
        return self

    def _validate_transformer(self) -> None:
        if self.recipe != "default":
            raise ValueError(
                f"model='transformer' trains with recipe='default' (contiguous windows of "
                f"block_size tokens), got recipe={self.recipe!r}; the lecture recipe is the "
                "Keras LSTM example: use --recipe default (recipe='default') or --model lstm"
            )
        if self.input_encoding != "embedding":
            raise ValueError(
                f"model='transformer' reads an embedding of its tokens, got input_encoding="
                f"{self.input_encoding!r}; drop input_encoding (or set it to 'embedding')"
            )
        check_transformer(
            self.block_size, self.d_model, self.num_layers, self.num_heads, self.dropout
        )
        if self.attention_dropout is not None:
            check_dropout(self.attention_dropout, "attention_dropout")


RECIPES: dict[tuple[str, str], dict[str, Any]] = {
    # Small batches: on two CPU cores a step with 8 streams costs 40% of one with 32, so the
    # same 10 minutes buy 2.5x the updates (see the module docstring).
    ("default", "char"): {"batch_size": 8, "lr": 2e-3},
    ("default", "word"): {
        "lower": True,
        "embedding_dim": 256,
        "hidden_size": 256,
        "tie_weights": True,
        "dropout": 0.3,
        "seq_len": 64,
        "lr": 2e-3,
    },
    ("lecture", "char"): {
        "lower": True,
        "input_encoding": "one_hot",
        "hidden_size": 128,
        "num_layers": 1,
        "dropout": 0.0,
        "batch_size": 128,
        "maxlen": 40,
        "step": 3,
        "optimizer": "rmsprop",
        "lr": 0.01,
        "schedule": "constant",
        "warmup": 0.0,
        "clip_grad_norm": None,
    },
    # Not in the lecture (which is character-level): the same recipe on words, with an
    # embedding because a one-hot input over 10,000 words would dominate the cost.
    ("lecture", "word"): {
        "lower": True,
        "embedding_dim": 128,
        "hidden_size": 128,
        "num_layers": 1,
        "dropout": 0.0,
        "batch_size": 128,
        "maxlen": 20,
        "step": 1,
        "optimizer": "rmsprop",
        "lr": 0.01,
        "schedule": "constant",
        "warmup": 0.0,
        "clip_grad_norm": None,
    },
}


# Settings a model brings on top of the recipe's, by (recipe, model, level); see the module
# docstring for why these.
MODEL_RECIPES: dict[tuple[str, str, str], dict[str, Any]] = {
    ("default", "transformer", "char"): {
        "block_size": 128,
        "d_model": 128,
        "num_layers": 4,
        "num_heads": 4,
        "dropout": 0.0,
        "tie_weights": True,
        "batch_size": 16,
        "lr": 2e-3,
        "warmup": 0.02,
        "min_lr": 0.1,
        "schedule": "cosine",
        "clip_grad_norm": 1.0,
    },
    # Words: a larger vocabulary and fewer, more informative tokens; dropout as the word
    # LSTM's recipe uses it, a shorter context of words.
    ("default", "transformer", "word"): {
        "block_size": 64,
        "d_model": 256,
        "num_layers": 4,
        "num_heads": 4,
        "dropout": 0.2,
        "tie_weights": True,
        "batch_size": 32,
        "lr": 1e-3,
        "warmup": 0.02,
        "min_lr": 0.1,
        "schedule": "cosine",
        "clip_grad_norm": 1.0,
    },
}


def make_config(recipe: str = "default", level: str = "char", **overrides: Any) -> LMConfig:
    """The recipe's configuration with ``overrides`` applied (``None`` values are ignored,
    i.e. keep the recipe's value); ``model="transformer"`` adds :data:`MODEL_RECIPES` on top
    of the recipe, before the overrides. Unknown names are refused.

    >>> cfg = make_config("lecture", steps=10, maxlen=60)
    >>> cfg.maxlen, cfg.optimizer, cfg.lr
    (60, 'rmsprop', 0.01)
    >>> cfg = make_config(model="transformer", steps=10, num_heads=8)
    >>> cfg.block_size, cfg.num_layers, cfg.num_heads
    (128, 4, 8)
    """
    check_choice("recipe", recipe, RECIPE_NAMES)
    check_choice("level", level, LEVELS)
    overrides = rename_settings(overrides)
    names = {f.name for f in dataclasses.fields(LMConfig)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise TypeError(
            f"unknown training setting(s) {unknown}; valid names: {', '.join(sorted(names))}"
        )
    values: dict[str, Any] = {"recipe": recipe, "level": level, **RECIPES[(recipe, level)]}
    values.update(MODEL_RECIPES.get((recipe, overrides.get("model") or "lstm", level), {}))
    values.update({k: v for k, v in overrides.items() if v is not None})
    return LMConfig(**values)


def rename_settings(settings: dict[str, Any], *, warn: bool = True) -> dict[str, Any]:
    """``settings`` with the old names of renamed fields replaced by the new ones (one name
    per concept across seqlab: ``clip_grad_norm``, ``val_split``, ``checkpoint_every``); a
    DeprecationWarning names each old one used.

    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     rename_settings({"clip": 0.5})
    {'clip_grad_norm': 0.5}
    """
    out = dict(settings)
    for old, new in RENAMED.items():
        if old not in out:
            continue
        if new in out:
            raise TypeError(f"{old}= is the old name of {new}=; pass only {new}=")
        if warn:
            warnings.warn(
                f"the LM setting {old!r} is now called {new!r}; {old!r} will be removed",
                DeprecationWarning,
                stacklevel=3,
            )
        out[new] = out.pop(old)
    return out


# ---------------------------------------------------------------------- public API


def upgrade_config(stored: dict[str, Any]) -> dict[str, Any]:
    """A stored LMConfig dict (a run folder's or a checkpoint's) with renamed fields brought
    up to date, silently, and fields added since filled with the value that run used."""
    out = rename_settings(stored, warn=False)
    if "clip_grad_norm" in out and out["clip_grad_norm"] == 0:
        out["clip_grad_norm"] = None
    out.setdefault("init", "torch")  # a run from before init= was drawn PyTorch's way
    return out
