"""A trained language model with its vocabulary: generate, stream, evaluate, save, load.

A run folder holds ``config.json`` (``{"task": "lm", "model": {"name", "config"}, "train":
{...}, "vocab_level", "seqlab_version"}``), ``vocab.json``, ``model.safetensors`` and, after
training, ``history.json``, ``metrics.json`` and ``curves.png``. Loading it needs no pickle.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypedDict, Unpack

import numpy as np
import safetensors.torch
import torch
import torch.nn.functional as F
from torch import nn

import seqlab
from seqlab._checks import check_choice
from seqlab._options import given_options, spelled_out
from seqlab._utils import PathLike, json_bytes, load_weights, read_json, resolve_device
from seqlab.generation.sampling import stop_at, stream_tokens
from seqlab.lm.data import (
    Vocab,
    batchify,
    build_windows,
    chunk_starts,
    get_chunk,
    vocabulary_from_dict,
)
from seqlab.models import registry
from seqlab.models.lm import detach_state
from seqlab.runs import read_config

__all__ = [
    "EVAL_MODES",
    "GENERATION_DEFAULTS",
    "GenerationOptions",
    "LanguageModel",
    "chunks_loss",
    "load",
    "load_model_bytes",
    "load_model_tensors",
    "loss_metrics",
    "model_tensors",
    "model_to_bytes",
    "stream_loss",
    "window_loss",
]

EVAL_MODES = ("auto", "stream", "window")


class GenerationOptions(TypedDict, total=False):
    """The keyword options of :meth:`LanguageModel.generate` and :meth:`LanguageModel.stream`
    (described in ``generate``); :data:`GENERATION_DEFAULTS` gives their defaults."""

    top_k: int | None
    top_p: float | None
    seed: int | None
    stop: str | Sequence[str] | None
    loop: str


#: The defaults of :class:`GenerationOptions`.
GENERATION_DEFAULTS: GenerationOptions = {
    "top_k": None,
    "top_p": None,
    "seed": 0,
    "stop": None,
    "loop": "state",
}


class LanguageModel:
    """A language model (recurrent, :mod:`seqlab.models.lm`, or transformer,
    :mod:`seqlab.models.gpt`) plus the vocabulary it reads and writes.

    ``train`` is the training configuration (a dict, see :class:`seqlab.lm.LMConfig`); its
    ``recipe`` decides how :meth:`evaluate` reads text ("lecture" models were trained on
    windows of ``maxlen`` tokens, so they are scored on windows too).

    >>> from seqlab.lm.data import CharVocabulary
    >>> from seqlab.models.lm import LSTMLanguageModel
    >>> vocab = CharVocabulary.fit("abc ")
    >>> lm = LanguageModel(LSTMLanguageModel(len(vocab), 8, 16, 1), vocab)
    >>> len(lm.generate("ab", length=5, seed=0))
    5
    """

    def __init__(
        self,
        model: nn.Module,
        vocab: Vocab,
        train: dict[str, Any] | None = None,
        history: list[dict[str, Any]] | None = None,
        metrics: dict[str, Any] | None = None,
        path: PathLike | None = None,
    ) -> None:
        if getattr(model, "vocab_size", len(vocab)) != len(vocab):
            raise ValueError(
                f"the model predicts {model.vocab_size} tokens but the vocabulary has "
                f"{len(vocab)}; build the model with vocab_size=len(vocab)"
            )
        self.model = model
        self.vocab = vocab
        self.train_config: dict[str, Any] = dict(train or {})
        self.history: list[dict[str, Any]] = list(history or [])
        self.metrics: dict[str, Any] = dict(metrics or {})
        self.path = None if path is None else Path(path)

    # ------------------------------------------------------------------ properties

    @property
    def level(self) -> str:
        """``"char"`` or ``"word"``."""
        return self.vocab.level

    @property
    def recipe(self) -> str:
        """``"default"`` (contiguous chunks) or ``"lecture"`` (windows)."""
        return str(self.train_config.get("recipe", "default"))

    @property
    def maxlen(self) -> int:
        """The window ``loop="window"`` and ``evaluate(mode="window")`` re-read: a
        transformer's context ``block_size`` (nanoGPT's crop), else the lecture recipe's
        ``maxlen``."""
        block = getattr(self.model, "block_size", None)
        return int(block) if block is not None else int(self.train_config.get("maxlen", 40))

    @property
    def device(self) -> torch.device:
        """Where the model's weights are."""
        return next(self.model.parameters()).device

    def to(self, device: str | torch.device) -> LanguageModel:
        """Move the model to ``device`` (``"auto"``, ``"cpu"``, ``"cuda"``); returns self."""
        self.model.to(resolve_device(device))
        return self

    def __repr__(self) -> str:
        name = getattr(self.model, "registry_name", type(self.model).__name__)
        return (
            f"LanguageModel({name}, level={self.level!r}, vocab={len(self.vocab)}, "
            f"recipe={self.recipe!r})"
        )

    # ------------------------------------------------------------------ generation

    @spelled_out(GenerationOptions, GENERATION_DEFAULTS)
    def stream(
        self,
        prompt: str,
        length: int = 400,
        temperature: float = 1.0,
        **options: Unpack[GenerationOptions],
    ) -> Iterator[str]:
        """Yield the generated text piece by piece (a character, or a word with its leading
        space), ``length`` tokens at most, ending early before any ``stop`` string.

        The prompt is lower-cased when the vocabulary is; characters it has never seen are
        refused (word level maps unknown words to ``[UNK]``). ``"".join(stream(...))`` equals
        :meth:`generate` with the same arguments. See :mod:`seqlab.generation.sampling` for
        ``temperature``, ``top_k``, ``top_p`` and ``loop`` (``"state"``, ``"window"`` or
        ``"full"``).
        """
        opts = given_options("LanguageModel.stream()", options, GENERATION_DEFAULTS)
        ids = self.vocab.encode(prompt)
        if len(ids) == 0:
            raise ValueError(
                f"prompt={prompt!r} has no token the model knows; give at least one "
                f"{'character' if self.level == 'char' else 'word'}"
            )
        tokens = stream_tokens(
            self.model,
            ids.tolist(),
            length,
            temperature=temperature,
            top_k=opts["top_k"],
            top_p=opts["top_p"],
            seed=opts["seed"],
            banned=self.vocab.special_ids,
            loop=opts["loop"],
            maxlen=self.maxlen,
        )
        return stop_at(self._pieces(int(ids[-1]), tokens), opts["stop"])

    def _pieces(self, previous: int, tokens: Iterator[int]) -> Iterator[str]:
        for tok in tokens:
            yield self.vocab.piece(previous, tok)
            previous = tok

    @spelled_out(GenerationOptions, GENERATION_DEFAULTS)
    def generate(
        self,
        prompt: str,
        length: int = 400,
        temperature: float = 1.0,
        **options: Unpack[GenerationOptions],
    ) -> str:
        """The text generated after ``prompt`` (the continuation only, without the prompt).

        ``temperature`` > 0 (the lecture's reweighting; below 1e-6 it is the argmax),
        ``top_k``/``top_p`` filters, ``seed`` (same seed, same text; ``None`` = fresh),
        ``stop`` strings (the text ends before the first one), ``loop="state"`` (carry the
        state: the recurrent state, or a transformer's key/value cache; fast), ``"window"``
        (re-read the last ``maxlen`` tokens at every step: the lecture's loop, nanoGPT's for
        a transformer) or ``"full"`` (re-read the whole text at every step: the reference
        ``"state"`` equals, see :mod:`seqlab.generation.sampling`).

        >>> lm.generate("the will to truth", length=400, temperature=0.5, seed=0)  # doctest: +SKIP
        """
        opts = given_options("LanguageModel.generate()", options, GENERATION_DEFAULTS)
        return "".join(self.stream(prompt, length, temperature, **opts))

    # ------------------------------------------------------------------ evaluation

    def evaluate(
        self, text: str, max_tokens: int | None = None, mode: str = "auto", batch_size: int = 16
    ) -> dict[str, Any]:
        """Held-out loss of the model on ``text``.

        Returns ``{"loss", "nats_per_token", "bits_per_token", "perplexity", "tokens",
        "mode", ...}``, plus ``"bits_per_char"`` at character level; ``loss`` is the mean
        cross-entropy in nats per predicted token.

        ``mode="stream"`` reads ``text`` as ``batch_size`` contiguous streams and predicts
        every token from all the text before it in its stream (the default recipe);
        ``"window"`` predicts each token from the ``maxlen`` tokens before it, read from a
        zero state (how the lecture's model was trained); ``"auto"`` picks by recipe.
        ``max_tokens`` limits the number of predictions (evenly spread for windows).
        Characters the vocabulary lacks are dropped and counted in ``"unknown_chars"``.
        """
        check_choice("mode", mode, EVAL_MODES)
        if mode == "auto":
            mode = "window" if self.recipe == "lecture" else "stream"
        std = self.vocab.standardize(text)
        ids = self.vocab.encode(text, errors="ignore")
        unknown = len(std) - len(ids) if self.level == "char" else 0
        if mode == "stream":
            nats, n = stream_loss(self.model, ids, batch_size=batch_size, max_tokens=max_tokens)
        else:
            nats, n = window_loss(self.model, ids, self.maxlen, max_tokens=max_tokens)
        metrics = loss_metrics(nats / n, self.level)
        metrics.update({"tokens": n, "mode": mode})
        if self.level == "char":
            metrics["unknown_chars"] = unknown
        return metrics

    # ------------------------------------------------------------------ persistence

    def files(self) -> dict[str, bytes]:
        """The run folder's files as bytes: ``config.json``, ``vocab.json``,
        ``model.safetensors`` (and ``history.json`` / ``metrics.json`` when there are any)."""
        name = getattr(self.model, "registry_name", None)
        if name is None:
            raise TypeError(
                f"{type(self.model).__name__} is not a registered model; register it with "
                "seqlab.models.register(name) so that it can be rebuilt"
            )
        config = {
            "task": "lm",
            "format": 1,
            "model": {"name": name, "config": dict(self.model.config)},
            "train": self.train_config,
            "vocab_level": self.level,
            "seqlab_version": seqlab.__version__,
        }
        files = {
            "config.json": json_bytes(config),
            "vocab.json": json_bytes(self.vocab.to_dict()),
            "model.safetensors": model_to_bytes(self.model),
        }
        if self.history:
            from seqlab.training.loop import history_dict

            files["history.json"] = json_bytes(history_dict(self.history))
        if self.metrics:
            files["metrics.json"] = json_bytes(self.metrics)
        return files

    def save(self, path: PathLike) -> Path:
        """Write the run folder ``path`` (a run already there is replaced, all files at once,
        see :mod:`seqlab.runfolder`); returns it."""
        from seqlab.runfolder import RunFolder

        path = Path(path)
        with RunFolder(path, overwrite=True) as folder:
            folder.commit(self.files())
        self.path = path
        return path

    @classmethod
    def load(cls, path: PathLike, device: str | torch.device = "auto") -> LanguageModel:
        """Rebuild a model saved with :meth:`save` (or by :func:`seqlab.lm.train`)."""
        path = Path(path)
        if not path.is_dir():
            raise FileNotFoundError(f"{path}: no such run folder (expected config.json inside)")
        config = read_config(path)
        if config.get("task") != "lm":
            raise ValueError(
                f"{path} holds a {config.get('task')!r} run, not a language model ('lm'); "
                "use seqlab.load for classifier runs (seqlab classify predict / evaluate)"
            )
        try:
            vocab = vocabulary_from_dict(read_json(path / "vocab.json"))
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(
                f"{path / 'vocab.json'} does not describe a vocabulary ({type(exc).__name__}: "
                f"{exc}); the file is damaged: restore it, or train the run again"
            ) from None
        model = registry.rebuild(config["model"]["name"], config["model"]["config"])
        file = path / "model.safetensors"
        _check_fit(model, *load_weights(model, file, strict=False), f"the weights in {file}")
        model.to(resolve_device(device))
        model.eval()
        from seqlab.training.loop import history_rows

        history = (
            history_rows(read_json(path / "history.json"))
            if (path / "history.json").is_file()
            else []
        )
        metrics = read_json(path / "metrics.json") if (path / "metrics.json").is_file() else {}
        return cls(model, vocab, config.get("train"), history, metrics, path=path)


def load(path: PathLike, device: str | torch.device = "auto") -> LanguageModel:
    """Load a language-model run folder: ``seqlab.lm.load("runs/nz").generate("the ")``.

    >>> lm = load("runs/nz")  # doctest: +SKIP
    """
    return LanguageModel.load(path, device=device)


# ---------------------------------------------------------------------- weights


def model_to_bytes(model: nn.Module) -> bytes:
    """The model's weights as safetensors bytes (a tied decoder weight is stored once)."""
    return safetensors.torch.save(model_tensors(model))


def model_tensors(model: nn.Module) -> dict[str, torch.Tensor]:
    """The state dict on the CPU, contiguous, without the tied decoder copy."""
    tied = bool(getattr(model, "config", {}).get("tie_weights", False))
    return {
        k: v.detach().cpu().contiguous().clone()
        for k, v in model.state_dict().items()
        if not (tied and k == "decoder.weight")
    }


def load_model_bytes(model: nn.Module, data: bytes) -> None:
    """Load safetensors bytes written by :func:`model_to_bytes` into ``model``."""
    load_model_tensors(model, safetensors.torch.load(data))


def load_model_tensors(model: nn.Module, tensors: dict[str, torch.Tensor]) -> None:
    """Load tensors from :func:`model_tensors`; the tied decoder weight follows the embedding."""
    _check_fit(model, *model.load_state_dict(tensors, strict=False), "the weights")


def _check_fit(model: nn.Module, missing: list, unexpected: list, what: str) -> None:
    tied = bool(getattr(model, "config", {}).get("tie_weights", False))
    missing = [k for k in missing if not (tied and k == "decoder.weight")]
    if missing or unexpected:
        raise ValueError(
            f"{what} do not fit the model: missing {missing}, unexpected {unexpected}; "
            "was the file written for another configuration?"
        )


# ---------------------------------------------------------------------- losses


def loss_metrics(nats: float, level: str) -> dict[str, Any]:
    """Nats per token -> the usual units.

    >>> loss_metrics(math.log(2), "char")["bits_per_char"]
    1.0
    """
    out: dict[str, Any] = {
        "loss": float(nats),
        "nats_per_token": float(nats),
        "bits_per_token": float(nats) / math.log(2),
        "perplexity": float(math.exp(min(float(nats), 700.0))),
    }
    if level == "char":
        out["bits_per_char"] = out["bits_per_token"]
    return out


@torch.inference_mode()
def stream_loss(
    model: nn.Module,
    ids: np.ndarray,
    batch_size: int = 16,
    seq_len: int = 256,
    max_tokens: int | None = None,
) -> tuple[float, int]:
    """Summed cross-entropy (nats) and the number of predictions over ``ids`` read as
    contiguous streams (:func:`seqlab.lm.data.batchify`), the state carried across chunks."""
    ids = np.asarray(ids, dtype=np.int64)
    if max_tokens is not None:
        ids = ids[: int(max_tokens) + int(batch_size)]
    if len(ids) < 2:
        raise ValueError(f"need at least 2 known tokens to evaluate, got {len(ids)}")
    batch_size = max(1, min(int(batch_size), len(ids) // 2))
    data = batchify(ids, batch_size)
    chunks = (get_chunk(data, start, seq_len) for start in chunk_starts(data.shape[1], seq_len))
    return chunks_loss(model, chunks)


def chunks_loss(
    model: nn.Module, chunks: Iterable[tuple[np.ndarray, np.ndarray]]
) -> tuple[float, int]:
    """Summed cross-entropy (nats) and the number of predictions over consecutive ``(x, y)``
    chunks of shape (B, T) (targets = inputs shifted by one), the recurrent state carried
    from one chunk to the next; the model is in eval mode meanwhile."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    total, count, state = 0.0, 0, None
    try:
        with torch.inference_mode():
            for x, y in chunks:
                inputs = torch.from_numpy(np.ascontiguousarray(x)).to(device)
                logits, state = model(inputs, state)
                state = detach_state(state)
                target = torch.from_numpy(np.ascontiguousarray(y)).to(device)
                total += float(
                    F.cross_entropy(logits.flatten(0, 1), target.flatten(), reduction="sum")
                )
                count += target.numel()
    finally:
        model.train(was_training)
    return total, count


@torch.inference_mode()
def window_loss(
    model: nn.Module,
    ids: np.ndarray,
    maxlen: int,
    max_tokens: int | None = None,
    batch_size: int = 256,
) -> tuple[float, int]:
    """Summed cross-entropy and the number of predictions when each token is predicted from
    the ``maxlen`` tokens before it (read from a zero state, as the lecture's model was
    trained); every position is scored, or ``max_tokens`` evenly spaced ones."""
    ids = np.asarray(ids, dtype=np.int64)
    if len(ids) <= maxlen:
        raise ValueError(
            f"need more than maxlen={maxlen} known tokens to evaluate windows, got {len(ids)}"
        )
    n = len(ids) - maxlen
    step = 1 if max_tokens is None else max(1, math.ceil(n / int(max_tokens)))
    x, y = build_windows(ids, maxlen, step)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    total = 0.0
    try:
        for i in range(0, len(y), batch_size):
            xb = torch.from_numpy(np.ascontiguousarray(x[i : i + batch_size])).to(device)
            yb = torch.from_numpy(np.ascontiguousarray(y[i : i + batch_size])).to(device)
            logits, _ = model(xb)
            total += float(F.cross_entropy(logits[:, -1], yb, reduction="sum"))
    finally:
        model.train(was_training)
    return total, len(y)
