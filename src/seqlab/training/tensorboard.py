"""Experiment logs for TensorBoard: a callback that mirrors the run's history.

:class:`TensorBoardLogger` writes, through ``torch.utils.tensorboard``:

* every history row as it is added (one per evaluation, whatever the schedule) at its
  ``step``: the training metrics and the learning rate under ``<log_dir>/train``, the
  validation metrics (``val_loss`` as ``loss``, ...) under ``<log_dir>/validation``, so
  TensorBoard draws training and validation of a metric in one chart (Keras's layout);
* at the end, for a model with an embedding table, a projector file: the vectors of the
  ``max_words`` first ids (the most frequent words: vocabularies are ordered by count) with
  their tokens as metadata, under ``<log_dir>/train``.

``history.json`` in the run folder stays the record: the logger writes what the loop puts
there, value for value (TensorBoard keeps scalars as float32). A resumed run drops the
events written after its checkpoint (``purge_step``), so the curves do not fork.

>>> from seqlab.training.tensorboard import TensorBoardLogger
>>> run = seqlab.fit(model, vec, train, callbacks=[TensorBoardLogger("tb/lstm")])  # doctest: +SKIP
>>> # or seqlab.fit(..., tensorboard="tb/lstm"); seqlab classify train ... --tensorboard tb/lstm
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from torch import nn

from seqlab._utils import PathLike
from seqlab.training import distributed
from seqlab.training.callbacks import Callback

__all__ = ["NOT_SCALARS", "TensorBoardLogger", "embedding_table"]

#: History fields that are positions or clocks, not metrics: not written as scalars.
NOT_SCALARS = frozenset({"epoch", "step", "time_s", "train_time_s", "wall_time_s"})


class TensorBoardLogger(Callback):
    """Write the history (and an embedding projector) to ``log_dir`` for TensorBoard (see
    the module docstring); ``max_words`` caps the projector's rows. Only the main process of
    a ``torchrun`` job writes. Needs the ``tensorboard`` package.

    >>> logger = TensorBoardLogger("tb/run", max_words=1000)  # doctest: +SKIP
    """

    def __init__(self, log_dir: PathLike, max_words: int = 5000) -> None:
        if isinstance(max_words, bool) or not isinstance(max_words, int) or max_words < 1:
            raise ValueError(f"max_words must be an int >= 1, got {max_words!r}")
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as exc:
            raise ValueError(
                f"TensorBoard logs need the tensorboard package ({exc}); install it with "
                "pip install tensorboard, or drop tensorboard="
            ) from None
        self._writer_class = SummaryWriter
        self.log_dir = Path(log_dir)
        self.max_words = max_words
        self._writers: dict[str, Any] = {}
        self._last_step = 0

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        """Open the writers; a resumed run purges the events past its checkpoint."""
        if not distributed.is_main():
            return
        # A row at the checkpoint's step was written before the interruption and is kept.
        purge = int(logs.get("start_step", 0)) + 1 if logs.get("start_step") else None
        for part in ("train", "validation"):
            self._writers[part] = self._writer_class(
                str(self.log_dir / part), purge_step=purge, flush_secs=10
            )

    def on_evaluate(self, step: int, logs: dict[str, Any]) -> None:
        """Write the row's metrics and learning rate at ``step``."""
        if not self._writers:
            return
        self._last_step = step
        for key, value in logs.items():
            if key in NOT_SCALARS or isinstance(value, bool) or not isinstance(value, int | float):
                continue
            if not math.isfinite(value):
                continue
            part, tag = ("validation", key[4:]) if key.startswith("val_") else ("train", key)
            self._writers[part].add_scalar(tag, float(value), global_step=step)
        for writer in self._writers.values():
            writer.flush()  # an interrupted run keeps what it logged

    def on_train_end(self, logs: dict[str, Any]) -> None:
        """Write the projector (when the model has an embedding table) and close."""
        if not self._writers:
            return
        table = embedding_table(self.model, self.vocabulary)
        if table is not None:
            rows, labels = self._projector_rows(table.shape[0])
            self._writers["train"].add_embedding(
                table[rows].detach().float().cpu(),
                metadata=labels,
                tag="embedding",
                global_step=self._last_step,
            )
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    def _projector_rows(self, size: int) -> tuple[list[int], list[str]]:
        """The first ``max_words`` ids (padding, whose token is ``""``, left out) and their
        tokens, written so that each stays one TSV field."""
        vocab = (
            self.vocabulary
            if self.vocabulary is not None and len(self.vocabulary) == size
            else None
        )
        if vocab is None:
            rows = list(range(min(size, self.max_words)))
            return rows, [str(i) for i in rows]
        rows = [i for i, token in enumerate(vocab[: self.max_words + 1]) if token != ""]
        rows = rows[: self.max_words]
        return rows, [_tsv_field(vocab[i]) for i in rows]


def embedding_table(model: nn.Module | None, vocabulary: list[str] | None = None) -> Any:
    """The weight of the model's token embedding (an ``nn.Embedding`` or ``nn.EmbeddingBag``,
    the one with a row per vocabulary entry when there are several), or None.

    >>> from seqlab.models import build
    >>> embedding_table(build("lstm", vocab_size=30, embedding_dim=4)).shape
    torch.Size([30, 4])
    """
    if model is None:
        return None
    tables = [m.weight for m in model.modules() if isinstance(m, nn.Embedding | nn.EmbeddingBag)]
    if vocabulary is not None:
        tables = [t for t in tables if t.shape[0] == len(vocabulary)] or tables
    return tables[0] if tables else None


def _tsv_field(token: str) -> str:
    """A token as one field of the projector's metadata.tsv: control characters escaped,
    a token of spaces quoted."""
    if token.isprintable() and token.strip():
        return token
    return repr(token)
