"""Training a recurrent language model, with two recipes, time/step/epoch budgets, a
learning-rate schedule, atomic checkpoints and resume.

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

Learning-rate schedules (``schedule=``): ``"cosine"`` (linear warm-up over the first
``warmup`` fraction, then a half cosine from ``lr`` down to ``min_lr * lr``), ``"step"``
(``lr``, then x0.1 after 50 % and again after 75 %) and ``"constant"``. The fraction is the
share of the budget used so far: the largest of ``step / steps``, ``epoch / epochs`` and
``time / minutes`` among the budgets given, so the schedule ends where training ends
whichever budget stops it. A time budget depends on the machine's speed, so only ``steps`` and
``epochs`` budgets are exactly reproducible from the seed.

Time (``minutes``, the ``time_s`` of the learning curves) counts training steps only, not
the periodic evaluations, so recipes compare fairly on the same budget.

Data parallel (``torchrun``, see :mod:`seqlab.training.distributed`): ``batch_size`` is the
global batch and must be a multiple of the number of ranks ``W``; rank ``r`` trains on the
streams (default recipe) or windows (lecture recipe) ``r, r + W, ...`` of every batch and
carries the hidden state of its own streams; DDP averages the gradients. Rank 0's clock is
shared every step, so time budgets, evaluations and checkpoints happen on the same step on
every rank; held-out evaluation runs on rank 0 only; a checkpoint holds the hidden state of
all the streams, so it resumes under any number of ranks. Under DDP the dropout masks come
from ``(seed, step, rank)``, and an interrupt (Ctrl-C) leaves the last periodic checkpoint
(writing one would need the other ranks).

Streaming (``stream=True``, default recipe only): the same rows are read from the corpus file
by :func:`seqlab.lm.stream.batch_streams`, each rank opening only its own streams, and the
checkpoint records where each stream resumes (``streams``: token positions).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from seqlab._utils import (
    PathLike,
    atomic_write_bytes,
    read_json,
)
from seqlab.lm.data import (
    LEVELS,
    Vocab,
    build_vocabulary,
    detokenize_words,
    load_corpus,
    split_text,
    vocabulary_from_dict,
)
from seqlab.lm.model import LanguageModel
from seqlab.lm.task import LanguageModelTask
from seqlab.models import registry
from seqlab.models.lm import model_name
from seqlab.runfolder import RunFolder
from seqlab.training import distributed, loop
from seqlab.training.checkpoint import read_checkpoint

__all__ = [
    "BUDGET_FIELDS",
    "LMConfig",
    "RECIPES",
    "RECIPE_NAMES",
    "corpus_prompt",
    "demo_step",
    "evaluate",
    "make_config",
    "curves_png",
    "plot_curves",
    "read_history",
    "train",
]

RECIPE_NAMES = ("default", "lecture")
OPTIMIZERS = ("adam", "rmsprop")
SCHEDULES = ("cosine", "step", "constant")
BUDGET_FIELDS = ("epochs", "steps", "minutes")
# Fields that may change when a run is resumed (everything else must match the checkpoint).
RESUMABLE_FIELDS = (
    *BUDGET_FIELDS,
    "eval_every",
    "eval_seconds",
    "eval_tokens",
    "checkpoint_every",
    "threads",
    "progress",
    "stream",  # a streamed run takes the same batches as one read into memory
    "stream_block",
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
    model: str = "lstm"  # "lstm" | "gru"
    lower: bool = False  # lower-case the corpus (and prompts)
    max_tokens: int | None = 10_000  # word level: vocabulary size incl. padding and [UNK]
    val_fraction: float = 0.1  # the last part of the corpus, held out
    # model
    input_encoding: str = "embedding"  # "embedding" | "one_hot"
    embedding_dim: int = 64
    hidden_size: int = 256
    num_layers: int = 2
    dropout: float = 0.1
    tie_weights: bool = False
    # batches
    batch_size: int = 32
    seq_len: int = 100  # default recipe: tokens per chunk
    maxlen: int = 40  # lecture recipe: window length
    step: int = 3  # lecture recipe: distance between windows
    # optimisation
    optimizer: str = "adam"  # "adam" | "rmsprop"
    lr: float = 3e-3
    weight_decay: float = 0.0
    schedule: str = "cosine"  # "cosine" | "step" | "constant"
    warmup: float = 0.02  # fraction of the budget with a linear warm-up
    min_lr: float = 0.1  # cosine floor, as a fraction of lr
    clip: float = 1.0  # max gradient norm; 0 = no clipping
    # budget: training stops at the first one reached
    epochs: float | None = None
    steps: int | None = None
    minutes: float | None = None
    # monitoring
    eval_every: int | None = None  # steps between evaluations (None: by time only)
    eval_seconds: float = 30.0  # training seconds between evaluations
    eval_tokens: int | None = 20_000  # predictions per periodic evaluation (None: all)
    checkpoint_every: float = 60.0  # seconds between checkpoints (and at every epoch end)
    threads: int | None = None  # torch threads for the run (None: torch's default)
    seed: int = 0
    corpus: str | None = None  # bundled name or file path (recorded for `evaluate`)
    # default recipe: read the corpus file as streams instead of into memory (same batches)
    stream: bool = False
    stream_block: int = 1 << 16  # bytes read at a time per stream (see seqlab.lm.stream)

    def validate(self) -> LMConfig:
        """Raise ValueError naming the first bad field; returns self."""
        choices = {
            "level": LEVELS,
            "recipe": RECIPE_NAMES,
            "model": ("lstm", "gru"),
            "input_encoding": ("embedding", "one_hot"),
            "optimizer": OPTIMIZERS,
            "schedule": SCHEDULES,
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        for name in ("hidden_size", "num_layers", "batch_size", "seq_len", "maxlen", "step"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr!r}")
        if not 0 <= self.warmup < 1 or not 0 <= self.min_lr <= 1:
            raise ValueError(
                f"warmup must be in [0, 1) and min_lr in [0, 1], got {self.warmup!r}, "
                f"{self.min_lr!r}"
            )
        if self.clip < 0:
            raise ValueError(f"clip must be >= 0 (0 disables clipping), got {self.clip!r}")
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
        "clip": 0.0,
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
        "clip": 0.0,
    },
}


def make_config(recipe: str = "default", level: str = "char", **overrides: Any) -> LMConfig:
    """The recipe's configuration with ``overrides`` applied (``None`` values are ignored,
    i.e. keep the recipe's value). Unknown names are refused.

    >>> cfg = make_config("lecture", steps=10, maxlen=60)
    >>> cfg.maxlen, cfg.optimizer, cfg.lr
    (60, 'rmsprop', 0.01)
    """
    if recipe not in RECIPE_NAMES:
        raise ValueError(f"recipe must be one of {RECIPE_NAMES}, got {recipe!r}")
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    names = {f.name for f in dataclasses.fields(LMConfig)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise TypeError(
            f"unknown training setting(s) {unknown}; valid names: {', '.join(sorted(names))}"
        )
    values: dict[str, Any] = {"recipe": recipe, "level": level, **RECIPES[(recipe, level)]}
    values.update({k: v for k, v in overrides.items() if v is not None})
    return LMConfig(**values)


# ---------------------------------------------------------------------- public API


@distributed.with_session
def train(
    corpus: PathLike | None = None,
    *,
    text: str | None = None,
    level: str | None = None,
    recipe: str | None = None,
    out: PathLike | None = None,
    epochs: float | None = None,
    steps: int | None = None,
    minutes: float | None = None,
    seed: int | None = None,
    device: str | torch.device = "auto",
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    clock: Callable[[], float] = time.perf_counter,
    **overrides: Any,
) -> LanguageModel:
    """Train a character- or word-level language model and return it, ready to generate.

    ``corpus`` is a bundled name (``"nietzsche"``, ``"tinyshakespeare"``) or a text file;
    ``text`` gives the text directly instead. The last ``val_fraction`` (10 %) is held out.
    ``recipe`` is ``"default"`` or ``"lecture"`` (see the module docstring); any
    :class:`LMConfig` field may be overridden by keyword (``hidden_size=512``, ``lr=1e-3``,
    ``model="gru"``, ``lower=True``, ...). Training stops at the first of ``epochs``,
    ``steps`` or ``minutes``.

    With ``out``, the run folder gets ``config.json``, ``vocab.json``, ``model.safetensors``,
    ``history.json``, ``metrics.json``, ``curves.png`` and ``checkpoint/``; a folder that
    already holds a run is refused unless ``overwrite=True`` or ``resume=True`` (see
    :mod:`seqlab.runfolder`) (written every
    ``checkpoint_every`` seconds, at every epoch end and at the end, atomically). ``resume=True`` continues from that
    checkpoint — exactly where it stopped, the same batches, the same random numbers — up to
    the budget given now (or the stored one); the other settings come from the checkpoint.

    Under ``torchrun`` ``batch_size`` is the global batch (see the module docstring) and
    ``device="auto"`` or ``"cuda"`` means this rank's GPU (``cuda:LOCAL_RANK``).

    ``stream=True`` (default recipe; ``corpus`` a UTF-8 text file) trains from a file larger
    than memory: one scan fits the vocabulary and finds where each stream starts, then every
    stream (under ``torchrun``, only this rank's) and the held-out part are read from the
    file ``stream_block`` bytes at a time (:mod:`seqlab.lm.stream`). The batches, and so the
    run, are exactly those of the in-memory path; resume scans the file again.

    >>> lm = train("nietzsche", level="char", minutes=10, out="runs/nz")  # doctest: +SKIP
    >>> lm.generate("the will to truth", length=400, temperature=0.5, seed=0)  # doctest: +SKIP
    """
    device = distributed.local_device(device)
    budget = {"epochs": epochs, "steps": steps, "minutes": minutes}
    if resume:
        if out is None:
            raise ValueError("resume=True needs out= (the run folder holding checkpoint/)")
        return _resume(
            out, corpus, text, level, recipe, seed, budget, overrides, device, progress, clock
        )
    cfg = make_config(recipe or "default", level or "char", seed=seed, **budget, **overrides)
    cfg.validate()
    index = None
    if text is None:
        if corpus is None:
            raise ValueError("give corpus= (a bundled name or a file) or text=")
        cfg.corpus = _corpus_label(corpus)
        if cfg.stream:
            index = _scan(cfg, corpus)
        else:
            text = load_corpus(corpus)
    elif corpus is not None:
        raise ValueError("give corpus= or text=, not both")
    elif cfg.stream:
        raise ValueError(
            "stream=True reads a corpus file as it trains, but text= was given; write the text "
            "to a file and pass corpus=PATH, or drop stream=True"
        )
    return _run(cfg, text, device, out, progress, index=index, clock=clock, overwrite=overwrite)


def _scan(cfg: LMConfig, corpus: PathLike) -> Any:
    """The :class:`seqlab.lm.stream.CorpusIndex` of the corpus file: scanned by rank 0 and
    sent to the other ranks (each then reads its own streams from the same path)."""
    from seqlab.lm.stream import CorpusIndex, scan_corpus, stream_path

    path = stream_path(corpus)  # every rank checks the path, so a bad one fails everywhere

    def scan() -> CorpusIndex:
        return scan_corpus(
            path, cfg.level, cfg.lower, cfg.max_tokens, cfg.val_fraction, int(cfg.stream_block)
        )

    if distributed.world_size() == 1:
        return scan()
    blob = None
    if distributed.is_main():
        try:
            blob = json.dumps(scan().to_dict()).encode()
        except (ValueError, FileNotFoundError) as exc:  # the other ranks must not wait
            distributed.broadcast_bytes(json.dumps({"error": str(exc)}).encode())
            raise
    received = distributed.broadcast_bytes(blob)
    assert received is not None
    d = json.loads(received)
    if "error" in d:
        raise ValueError(f"rank 0 could not scan {str(corpus)!r}: {d['error']}")
    index = CorpusIndex.from_dict(d)
    index.path = path.resolve()
    return index


def _resume(
    out: PathLike,
    corpus: PathLike | None,
    text: str | None,
    level: str | None,
    recipe: str | None,
    seed: int | None,
    budget: dict[str, Any],
    overrides: dict[str, Any],
    device: torch.device,
    progress: bool,
    clock: Callable[[], float],
) -> LanguageModel:
    path = Path(out) / "checkpoint" / "state.safetensors"
    # rank 0 reads the checkpoint and sends it to every rank (no shared folder needed)
    main = distributed.is_main()
    blob = distributed.broadcast_bytes(path.read_bytes() if main and path.is_file() else None)
    if blob is None:
        raise FileNotFoundError(
            f"{path}: no checkpoint to resume from; train without resume=True first"
        )
    _, state = read_checkpoint(blob)
    if "extra" not in state:
        raise ValueError(
            f"{path} was written by an older seqlab whose checkpoints this version cannot "
            "resume; the finished run in that folder still loads, or train again without "
            "--resume (--overwrite)"
        )
    extra = state["extra"]
    stored = _upgrade_config(dict(extra["config"]))
    given = {"level": level, "recipe": recipe, "seed": seed, **overrides}
    names = {f.name for f in dataclasses.fields(LMConfig)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise TypeError(f"unknown training setting(s) {unknown}")
    clashes = {
        k: (stored[k], v)
        for k, v in given.items()
        if v is not None and k not in RESUMABLE_FIELDS and stored.get(k) != v
    }
    if clashes:
        detail = ", ".join(f"{k}: checkpoint {a!r}, given {b!r}" for k, (a, b) in clashes.items())
        raise ValueError(
            f"resume=True continues the stored run, but these settings differ: {detail}; "
            "drop them, or train a new run without resume"
        )
    if any(v is not None for v in budget.values()):
        stored.update(budget)  # a new budget replaces the old one as a whole
    stored.update({k: v for k, v in given.items() if v is not None and k in RESUMABLE_FIELDS})
    cfg = LMConfig(**stored).validate()
    index = None
    if text is None:
        source = corpus if corpus is not None else cfg.corpus
        if source is None:
            raise ValueError("the run was trained on text=...; pass the same text= to resume")
        if cfg.stream:  # scanned again (the file is never read into memory)
            index = _scan(cfg, source)
        else:
            text = load_corpus(source)
    elif cfg.stream:
        raise ValueError(
            "stream=True reads a corpus file, but text= was given; resume with corpus=PATH "
            "or stream=False"
        )
    sha = index.sha256 if index is not None else _sha256(text or "")
    if sha != extra["corpus_sha256"]:
        raise ValueError(
            "the corpus differs from the one the checkpoint was trained on; resume with the "
            "same text"
        )
    return _run(
        cfg,
        text,
        device,
        out,
        progress,
        vocab_dict=extra["vocab"],
        index=index,
        resume=True,
        clock=clock,
    )


def evaluate(
    run: PathLike | LanguageModel,
    corpus: PathLike | None = None,
    text: str | None = None,
    max_tokens: int | None = None,
    device: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Score a trained model: on its own held-out text (no ``corpus``/``text``: the corpus it
    was trained on is re-read and its last ``val_fraction`` used) or on the whole of
    ``corpus`` / ``text``. See :meth:`LanguageModel.evaluate` for the keys.

    >>> evaluate("runs/nz")["bits_per_char"]  # doctest: +SKIP
    """
    lm = run if isinstance(run, LanguageModel) else LanguageModel.load(run, device=device)
    if text is None and corpus is None:
        source = lm.train_config.get("corpus")
        if source is None:
            raise ValueError(
                "this run was trained on text=... so its held-out part cannot be re-read; "
                "pass corpus= or text="
            )
        _, text = split_text(load_corpus(source), float(lm.train_config.get("val_fraction", 0.1)))
        if not text:
            raise ValueError("the run held out no text (val_fraction=0); pass corpus= or text=")
    elif text is None:
        assert corpus is not None
        text = load_corpus(corpus)
    return lm.evaluate(text, max_tokens=max_tokens)


def corpus_prompt(lm: LanguageModel, seed: int = 0, length: int | None = None) -> str:
    """A random window of the run's held-out text to start generation from, as the lecture
    picks its seed text: ``length`` tokens (default: the model's ``maxlen``, at most 20 words).

    >>> corpus_prompt(LanguageModel.load("runs/nz"), seed=0)  # doctest: +SKIP
    'ive instinct of the philosopher, and the'
    """
    source = lm.train_config.get("corpus")
    if source is None:
        raise ValueError("this run was trained on text=..., so give a prompt explicitly")
    train_text, val_text = split_text(
        load_corpus(source), float(lm.train_config.get("val_fraction", 0.1))
    )
    pool = val_text if len(val_text) > 1000 else train_text
    n = int(length or (lm.maxlen if lm.level == "char" else min(lm.maxlen, 20)))
    gen = np.random.default_rng(seed)
    if lm.level == "char":
        chars = lm.vocab.standardize(pool)
        start = int(gen.integers(0, max(1, len(chars) - n)))
        return chars[start : start + n]
    tokens = lm.vocab.tokenize(pool)
    start = int(gen.integers(0, max(1, len(tokens) - n)))
    return detokenize_words(tokens[start : start + n])


def demo_step(
    out_dir: PathLike | None = None,
    seconds: float = 60.0,
    seed: int = 0,
    prompt: str = "the will to truth",
    length: int = 200,
    temperatures: tuple[float, ...] = (0.2, 0.5, 1.0, 1.2),
    echo: Callable[[str], None] = print,
) -> LanguageModel:
    """Train for ``seconds`` on the bundled, lower-cased Nietzsche and print one sample per
    temperature, as the lecture does. A smaller model than the default recipe (one LSTM
    layer of 256, chunks of 64 characters) so that a minute is enough to see words form.

    >>> lm = demo_step("runs/demo-lm", seconds=60)  # doctest: +SKIP
    """
    echo(f"Training a character LSTM on Nietzsche for {seconds:g} s ...")
    lm = train(
        "nietzsche",
        level="char",
        lower=True,
        minutes=seconds / 60.0,
        out=out_dir,
        seed=seed,
        hidden_size=256,
        num_layers=1,
        seq_len=64,
        eval_seconds=max(5.0, seconds / 6),
        eval_tokens=10_000,
        progress=False,
    )
    val = lm.metrics.get("val", {})
    if val:
        echo(
            f"held-out loss {val['loss']:.3f} nats/char ({val['bits_per_char']:.3f} bits/char) "
            f"after {lm.metrics['steps']} steps"
        )
    for t in temperatures:
        echo(f"----- temperature {t}")
        echo(prompt + lm.generate(prompt, length=length, temperature=t, seed=seed))
    return lm


# ---------------------------------------------------------------------- the loop


def _run(
    cfg: LMConfig,
    text: str | None,
    device: torch.device,
    out: PathLike | None,
    progress: bool,
    vocab_dict: dict[str, Any] | None = None,
    index: Any = None,
    resume: bool = False,
    clock: Callable[[], float] = time.perf_counter,
    overwrite: bool = False,
) -> LanguageModel:
    """Prepare the data and the model, train on the one loop, write the run folder."""
    distributed.check_batch_size(cfg.batch_size)
    train_ids: np.ndarray | None = None
    val_ids: np.ndarray | None = None
    if index is not None:  # streamed: the scan fitted the same vocabulary
        if vocab_dict is not None:
            index.vocab = vocabulary_from_dict(vocab_dict)
        vocab = index.vocab
        sha = index.sha256
    else:
        assert text is not None
        train_text, val_text = split_text(text, cfg.val_fraction)
        if vocab_dict is not None:
            vocab = vocabulary_from_dict(vocab_dict)
        elif cfg.level == "char":
            # The character set of the whole corpus: a character seen only in the held-out
            # part would otherwise make the validation loss undefined. Words come from the
            # training part only, and unseen held-out words are [UNK].
            vocab = build_vocabulary(text, "char", lower=cfg.lower)
        else:
            vocab = build_vocabulary(train_text, "word", cfg.lower, cfg.max_tokens)
        train_ids = vocab.encode(train_text, errors="ignore")
        val_ids = vocab.encode(val_text, errors="ignore")
        sha = _sha256(text)
    torch.manual_seed(cfg.seed)
    model = registry.build(
        model_name(cfg.model),
        vocab_size=len(vocab),
        embedding_dim=cfg.embedding_dim,
        hidden_size=cfg.hidden_size,
        num_layers=cfg.num_layers,
        dropout=cfg.dropout,
        tie_weights=cfg.tie_weights,
        input_encoding=cfg.input_encoding,
    ).to(device)
    task = LanguageModelTask(cfg, device, train_ids, val_ids, index)
    task.plan(0)  # fail now, not after the first evaluation, if the text is short
    out_path = None if out is None else Path(out)
    main = distributed.is_main()
    folder = None
    if out_path is not None and main:
        folder = RunFolder(out_path, overwrite=overwrite, resume=resume).open()
    try:
        return _train_and_commit(
            cfg, vocab, model, task, sha, index, device, out_path, folder, progress, resume, clock
        )
    finally:
        if folder is not None:
            folder.close()


def _train_and_commit(
    cfg: LMConfig,
    vocab: Vocab,
    model: nn.Module,
    task: LanguageModelTask,
    sha: str,
    index: Any,
    device: torch.device,
    out_path: Path | None,
    folder: RunFolder | None,
    progress: bool,
    resume: bool,
    clock: Callable[[], float],
) -> LanguageModel:
    main = distributed.is_main()
    if progress and main:
        print(
            f"training {cfg.model.upper()} x{cfg.num_layers} ({cfg.hidden_size}) on "
            f"{task.train_tokens():,} {cfg.level} tokens, vocabulary {len(vocab)}, "
            f"recipe {cfg.recipe!r}, device {device}"
            + (f", streamed from {index.path}" if index is not None else ""),
            file=sys.stderr,
            flush=True,
        )
    loop_cfg = loop.TrainConfig(
        epochs=cfg.epochs,
        steps=cfg.steps,
        minutes=cfg.minutes,
        optimizer=cfg.optimizer,
        lr=cfg.lr,
        weight_decay=cfg.weight_decay,
        schedule=cfg.schedule,
        warmup=cfg.warmup,
        min_lr=cfg.min_lr,
        clip_grad_norm=cfg.clip or None,
        monitor="val_loss" if task.has_validation else "loss",
        restore_best=False,  # the schedule ends low: the last weights are the model
        eval_every=cfg.eval_every,
        eval_seconds=cfg.eval_seconds,
        evaluate_at_start=True,
        checkpoint_every=cfg.checkpoint_every,
        seed=cfg.seed,
        threads=cfg.threads,
    )
    fixed = {k: v for k, v in asdict(cfg).items() if k not in RESUMABLE_FIELDS}
    identity = {**fixed, "corpus_sha256": sha}
    result = loop.run(
        model,
        task,
        loop_cfg,
        device=device,
        checkpoint_dir=None if out_path is None else out_path / "checkpoint",
        resume=resume,
        progress=progress,
        identity=identity,
        clock=clock,
        extra_state={"config": asdict(cfg), "vocab": vocab.to_dict(), "corpus_sha256": sha},
    )
    val = task.held_out_loss(model, None) if main else None
    metrics: dict[str, Any] = {
        "steps": result.step,
        "epochs": round(result.epoch, 6),
        "train_time_s": round(result.train_time, 3),
        "tokens": result.history[-1].get("tokens", 0) if result.history else 0,
        "stopped": result.stopped,
        "train": result.summary["train"],
    }
    metrics["tokens_per_s"] = (
        metrics["tokens"] / result.train_time if result.train_time > 0 else None
    )
    if val is not None:
        from seqlab.lm.model import loss_metrics

        v = loss_metrics(val[0] / val[1], cfg.level)
        v["tokens"] = val[1]
        v["mode"] = "stream" if cfg.recipe == "default" else "window"
        metrics["val"] = v
        if progress and main:
            print(
                f"held-out: {v['loss']:.4f} nats/token, perplexity {v['perplexity']:.2f}"
                + (f", {v['bits_per_char']:.4f} bits/char" if "bits_per_char" in v else ""),
                file=sys.stderr,
                flush=True,
            )
    model.eval()
    lm = LanguageModel(model, vocab, asdict(cfg), result.history, metrics, path=out_path)
    if folder is not None:
        title = f"{cfg.corpus or 'text'} ({cfg.level}, {cfg.recipe} recipe, {cfg.model})"
        files = lm.files()
        files["curves.png"] = curves_png(result.history, title=title)
        folder.commit(files)
        if progress:
            print(f"run saved to {out_path}", file=sys.stderr, flush=True)
    return lm


def _upgrade_config(stored: dict[str, Any]) -> dict[str, Any]:
    """A stored LMConfig dict with renamed fields brought up to date."""
    if "checkpoint_seconds" in stored:
        stored.setdefault("checkpoint_every", stored.pop("checkpoint_seconds"))
    return stored


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _corpus_label(corpus: PathLike) -> str:
    """A bundled name as it is; a path made absolute so that `evaluate` finds it later."""
    s = str(corpus)
    path = Path(s).expanduser()
    return str(path.resolve()) if path.exists() else s


# ---------------------------------------------------------------------- curves


def plot_curves(
    history: list[dict[str, Any]], path: PathLike, title: str = "", unit: str = "nats/token"
) -> Path:
    """Learning curves as a PNG file (atomically; see :func:`curves_png`).

    >>> plot_curves([{"step": 0, "time_s": 0, "val_loss": 4.0},
    ...              {"step": 9, "time_s": 2, "val_loss": 3.0, "loss": 3.2}],
    ...             "/tmp/seqlab-curves.png").name
    'seqlab-curves.png'
    """
    return atomic_write_bytes(path, curves_png(history, title, unit))


def curves_png(history: list[dict[str, Any]], title: str = "", unit: str = "nats/token") -> bytes:
    """Learning curves as the bytes of a PNG: validation (and training) loss against training
    time and against step. Drawn with matplotlib's Agg canvas directly (no global backend
    change).

    >>> curves_png([{"step": 0, "time_s": 0, "val_loss": 4.0}])[:4]
    b'\\x89PNG'
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2, sharey=True)
    for ax, key, label in ((axes[0], "time_s", "training time (s)"), (axes[1], "step", "step")):
        for name, style in (("val_loss", "-o"), ("loss", "--")):
            points = [(h[key], h[name]) for h in history if h.get(name) is not None]
            if points:
                xs, ys = zip(*points)
                legend = "val loss" if name == "val_loss" else "train loss"
                ax.plot(xs, ys, style, markersize=3, label=legend)
        ax.set_xlabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(f"loss ({unit})")
    axes[0].legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def read_history(path: PathLike) -> list[dict[str, Any]]:
    """The ``history.json`` of a run folder, as rows (one per evaluation)."""
    return loop.history_rows(read_json(Path(path) / "history.json"))
