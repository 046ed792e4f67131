"""Using a trained language model on text: its held-out loss, and prompts drawn from its
corpus (as the lecture picks its seed text)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from seqlab._utils import PathLike
from seqlab.lm.data import detokenize_words, load_corpus, split_text
from seqlab.lm.model import LanguageModel

__all__ = ["corpus_prompt", "evaluate"]


def evaluate(
    run: PathLike | LanguageModel,
    corpus: PathLike | None = None,
    text: str | None = None,
    max_tokens: int | None = None,
    device: str | torch.device = "auto",
) -> dict[str, Any]:
    """Score a trained model: on its own held-out text (no ``corpus``/``text``: the corpus it
    was trained on is re-read and its last ``val_split`` used) or on the whole of
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
        _, text = split_text(_own_corpus(lm, source), _val_split(lm))
        if not text:
            raise ValueError("the run held out no text (val_split=0); pass corpus= or text=")
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
    train_text, val_text = split_text(_own_corpus(lm, source), _val_split(lm))
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


def _own_corpus(lm: LanguageModel, source: str) -> str:
    """The corpus the run was trained on (a dataset corpus from where it was found then)."""
    data_dir = lm.train_config.get("data_dir")
    return load_corpus(source, data_dir=data_dir) if data_dir else load_corpus(source)


def _val_split(lm: LanguageModel) -> float:
    """The held-out share of a run's corpus (``val_fraction`` in runs before the rename)."""
    cfg = lm.train_config or {}
    return float(cfg.get("val_split", cfg.get("val_fraction", 0.1)))
