"""Training a recurrent language model, with two recipes, time/step/epoch budgets, a
learning-rate schedule, atomic checkpoints and resume.

The recipes and every setting are in :mod:`seqlab.lm.config`; the loop that runs them is
:mod:`seqlab.training.loop`, with the language-model task of :mod:`seqlab.lm.task`; one run
(data, model, loop, run folder) is put together in :mod:`seqlab.lm._run`.

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
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from seqlab._utils import PathLike
from seqlab.lm._run import run, text_sha256
from seqlab.lm.config import (
    BUDGET_FIELDS,
    RECIPE_NAMES,
    RECIPES,
    RESUMABLE_FIELDS,
    LMConfig,
    make_config,
    rename_settings,
    upgrade_config,
)
from seqlab.lm.curves import curves_png, plot_curves, read_history
from seqlab.lm.data import load_corpus
from seqlab.lm.evaluate import corpus_prompt, evaluate
from seqlab.lm.model import LanguageModel
from seqlab.training import distributed
from seqlab.training.callbacks import Callback
from seqlab.training.checkpoint import read_checkpoint
from seqlab.training.tensorboard import TensorBoardLogger

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
    callbacks: Sequence[Callback] = (),
    tensorboard: PathLike | None = None,
    **overrides: Any,
) -> LanguageModel:
    """Train a character- or word-level language model and return it, ready to generate.

    ``corpus`` is a bundled name (``"nietzsche"``, ``"tinyshakespeare"``), a corpus built
    from a dataset (``"imdb"``: IMDB's training and unlabelled reviews, never the test ones,
    one per line, found in ``data_dir=`` or ``$SEQLAB_DATA``; see
    :mod:`seqlab.data.imdb_corpus`) or a text file; ``text`` gives the text directly instead. The last ``val_split`` (10 %) is held out.
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

    ``callbacks`` see the loop (:class:`~seqlab.training.callbacks.Callback`); ``tensorboard=
    DIR`` adds a :class:`~seqlab.training.tensorboard.TensorBoardLogger` writing to ``DIR``.

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
    logger = [TensorBoardLogger(tensorboard)] if tensorboard is not None else []
    hooks = {"clock": clock, "callbacks": [*callbacks, *logger]}
    if resume:
        if out is None:
            raise ValueError("resume=True needs out= (the run folder holding checkpoint/)")
        return _resume(out, corpus, text, level, recipe, seed, budget, overrides, device, progress,
                       hooks)  # fmt: skip
    cfg = make_config(recipe or "default", level or "char", seed=seed, **budget, **overrides)
    cfg.validate()
    index = None
    if text is None:
        if corpus is None:
            raise ValueError("give corpus= (a bundled name or a file) or text=")
        text, index = _read_corpus(cfg, corpus)
    elif corpus is not None:
        raise ValueError("give corpus= or text=, not both")
    elif cfg.stream:
        raise ValueError(
            "stream=True reads a corpus file as it trains, but text= was given; write the text "
            "to a file and pass corpus=PATH, or drop stream=True"
        )
    return run(cfg, text, device, out, progress, index=index, overwrite=overwrite, **hooks)


def _read_corpus(cfg: LMConfig, corpus: PathLike) -> tuple[str | None, Any]:
    """(the text, None), or (None, its scan) with ``stream``; records the corpus in ``cfg``
    (and where a dataset corpus was found) for `evaluate` and resume."""
    cfg.corpus = _corpus_label(corpus)
    if cfg.data_dir is not None:
        cfg.data_dir = str(Path(cfg.data_dir).expanduser().resolve())
    if cfg.stream:
        return None, _scan(cfg, corpus)
    return load_corpus(corpus, data_dir=cfg.data_dir), None


def _scan(cfg: LMConfig, corpus: PathLike) -> Any:
    """The :class:`seqlab.lm.stream.CorpusIndex` of the corpus file: scanned by rank 0 and
    sent to the other ranks (each then reads its own streams from the same path)."""
    from seqlab.lm.stream import CorpusIndex, scan_corpus, stream_path

    path = stream_path(corpus, cfg.data_dir)  # every rank checks it: a bad one fails everywhere

    def scan() -> CorpusIndex:
        return scan_corpus(
            path, cfg.level, cfg.lower, cfg.max_tokens, cfg.val_split, int(cfg.stream_block)
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
    hooks: dict[str, Any],
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
    stored = upgrade_config(dict(extra["config"]))
    given = {"level": level, "recipe": recipe, "seed": seed, **rename_settings(overrides)}
    cfg = _resumed_config(stored, given, budget)
    index = None
    if text is None:
        source = corpus if corpus is not None else cfg.corpus
        if source is None:
            raise ValueError("the run was trained on text=...; pass the same text= to resume")
        if cfg.stream:  # scanned again (the file is never read into memory)
            index = _scan(cfg, source)
        else:
            text = load_corpus(source, data_dir=cfg.data_dir)
    elif cfg.stream:
        raise ValueError(
            "stream=True reads a corpus file, but text= was given; resume with corpus=PATH "
            "or stream=False"
        )
    sha = index.sha256 if index is not None else text_sha256(text or "")
    if sha != extra["corpus_sha256"]:
        raise ValueError(
            "the corpus differs from the one the checkpoint was trained on; resume with the "
            "same text"
        )
    return run(
        cfg,
        text,
        device,
        out,
        progress,
        vocab_dict=extra["vocab"],
        index=index,
        resume=True,
        **hooks,
    )


def _resumed_config(
    stored: dict[str, Any], given: dict[str, Any], budget: dict[str, Any]
) -> LMConfig:
    """The checkpoint's config with the ``given`` settings that may change on resume (a
    budget, threads, ...); any other given setting must equal the stored one."""
    names = {f.name for f in dataclasses.fields(LMConfig)}
    unknown = sorted(set(given) - names)
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
    return LMConfig(**stored).validate()


def demo_step(
    out_dir: PathLike | None = None,
    seconds: float = 60.0,
    seed: int = 0,
    prompt: str = "the will to truth",
    steps: int | None = None,
    length: int = 200,
    temperatures: tuple[float, ...] = (0.2, 0.5, 1.0, 1.2),
    echo: Callable[[str], None] = print,
) -> LanguageModel:
    """Train for ``seconds`` (or ``steps`` optimizer steps, which do not depend on the
    machine's speed) on the bundled, lower-cased Nietzsche and print one sample per
    temperature, as the lecture does. A smaller model than the default recipe (one LSTM
    layer of 256, chunks of 64 characters) so that a minute is enough to see words form.

    >>> lm = demo_step("runs/demo-lm", seconds=60)  # doctest: +SKIP
    """
    budget = f"{steps} steps" if steps else f"{seconds:g} s"
    echo(f"Training a character LSTM on Nietzsche for {budget} ...")
    lm = train(
        "nietzsche",
        level="char",
        lower=True,
        minutes=None if steps else seconds / 60.0,
        steps=steps,
        out=out_dir,
        overwrite=True,  # the demo is re-run into the same folder
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


def _corpus_label(corpus: PathLike) -> str:
    """A bundled name as it is; a path made absolute so that `evaluate` finds it later."""
    s = str(corpus)
    path = Path(s).expanduser()
    return str(path.resolve()) if path.exists() else s
