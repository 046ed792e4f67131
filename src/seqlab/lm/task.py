"""The language-model task of the training loop (:mod:`seqlab.training.loop`).

Two data layouts, one per recipe (see :mod:`seqlab.lm.train`):

* ``"default"``: the training text cut into ``batch_size`` contiguous streams read
  ``seq_len`` tokens at a time; every position predicts its successor and the hidden state
  is carried from chunk to chunk (detached at the boundary), reset at each new epoch. A
  random shift per epoch moves the chunk boundaries. The carried hidden state is part of the
  checkpoint (all the streams, gathered from every rank), so a run resumes exactly.
  A model whose ``stateful`` property is False (a transformer, :mod:`seqlab.models.gpt`)
  reads the same streams in windows of its ``block_size`` tokens (plus one target) and
  carries nothing from one batch to the next: each window is a sequence of its own.
  Held-out text is scored the same way for both: read as streams, the state (a transformer's
  key/value cache) carried, so every token is predicted from all the context the model can
  use.
* ``"lecture"``: windows of ``maxlen`` tokens every ``step`` tokens, each predicting the one
  next token, shuffled every epoch (Keras's ``fit(shuffle=True)``).

Data parallel: rank ``r`` of ``W`` trains on the streams (default) or windows (lecture)
``r, r + W, ...`` of every batch; held-out evaluation runs on rank 0.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from seqlab.lm.data import batchify, build_windows, chunk_starts, get_chunk
from seqlab.lm.model import stream_loss, window_loss
from seqlab.models.lm import detach_state
from seqlab.training import distributed

__all__ = ["LanguageModelTask"]


class LanguageModelTask:
    """Next-token prediction on token ids (``train_ids`` / ``val_ids``) or on a streamed
    corpus (``index``, a :class:`seqlab.lm.stream.CorpusIndex`); ``cfg`` is an
    :class:`seqlab.lm.train.LMConfig`. ``model``'s ``stateful`` property (True when absent)
    says whether its state is carried from one training chunk to the next; a model that
    does not carry it is trained on windows of its ``block_size`` tokens."""

    kind = "lm"

    def __init__(
        self,
        cfg: Any,
        device: torch.device,
        train_ids: np.ndarray | None = None,
        val_ids: np.ndarray | None = None,
        index: Any = None,
        model: nn.Module | None = None,
    ) -> None:
        self.cfg = cfg
        self.device = device
        self.stateful = bool(getattr(model, "stateful", True))
        # tokens per training chunk (and per held-out chunk): the state carries context
        # across chunks of a recurrent model; a stateless one sees exactly its window
        window = cfg.seq_len if self.stateful else getattr(model, "block_size", None)
        if window is None:
            raise TypeError(
                f"{type(model).__name__} says stateful=False but has no block_size: a model "
                "that carries no state between training batches must say how long its "
                "training windows are"
            )
        self.seq_len = int(window)
        self.train_ids, self.val_ids, self.index = train_ids, val_ids, index
        self.world = distributed.world_size()
        self.has_validation = self._val_tokens() > (cfg.maxlen if cfg.recipe == "lecture" else 1)
        self.hidden: tuple[torch.Tensor, ...] | None = None  # carried between chunks
        self._next_hidden: tuple[torch.Tensor, ...] | None = None
        self._windows: tuple[np.ndarray, np.ndarray] | None = None
        self._plan: tuple[int, Any] | None = None
        self.position = (0, 0)  # (epoch, batch) of the next training step

    # ---- data -------------------------------------------------------------------------
    def _val_tokens(self) -> int:
        if self.index is not None:
            return int(self.index.tokens("val"))
        return 0 if self.val_ids is None else len(self.val_ids)

    def train_tokens(self) -> int:
        if self.index is not None:
            return int(self.index.tokens("train"))
        assert self.train_ids is not None
        return len(self.train_ids)

    def plan(self, epoch: int) -> Any:
        """Default: (batchified streams, chunk starts); lecture: batches of window indices."""
        if self._plan is not None and self._plan[0] == epoch:
            return self._plan[1]
        cfg = self.cfg
        gen = np.random.default_rng([cfg.seed, epoch])
        if cfg.recipe == "default":
            n_train = self.train_tokens()
            offset = int(gen.integers(self.seq_len)) if n_train > 4 * self.seq_len else 0
            if self.index is not None:  # the same rows, read from the file; only this rank's
                from seqlab.lm.stream import batch_streams

                rank = distributed.rank() if self.world > 1 else 0
                data: Any = batch_streams(self.index, cfg.batch_size, offset, rank, self.world)
            else:
                assert self.train_ids is not None
                data = batchify(self.train_ids[offset:], cfg.batch_size)
            plan: Any = (data, chunk_starts(data.shape[1], self.seq_len))
        else:
            if self._windows is None:
                self._windows = build_windows(self.train_ids, cfg.maxlen, cfg.step)
            n = len(self._windows[1])
            order = gen.permutation(n)
            plan = [order[i : i + cfg.batch_size] for i in range(0, n, cfg.batch_size)]
        self._plan = (epoch, plan)
        return plan

    def num_batches(self, epoch: int) -> int:
        plan = self.plan(epoch)
        return len(plan[1]) if self.cfg.recipe == "default" else len(plan)

    def stream_positions(self, epoch: int, batch_index: int) -> list[int]:
        """Token index (in the training part) where each stream's next chunk starts."""
        data, starts = self.plan(epoch)
        return data.all_positions(starts[batch_index])

    def batches(self, split: str, epoch: int) -> Iterator[Any]:
        if self.position[0] != epoch:
            self.position = (epoch, 0)
        plan = self.plan(epoch)
        if self.cfg.recipe == "default":
            data, starts = plan
            return (("chunk", data, int(s)) for s in starts)
        return (("windows", index, None) for index in plan)

    def _tensor(self, a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a)).to(self.device)

    # ---- loss ---------------------------------------------------------------------------
    def loss(self, model: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, Any]]:
        cfg, world = self.cfg, self.world
        kind, data, start = batch
        if kind == "chunk":
            if self.index is not None:  # read from the file: this rank's streams only
                x, y = data.chunk(start, self.seq_len)
                n = y.shape[1] * cfg.batch_size  # targets in the global batch
            else:
                x, y = get_chunk(data, start, self.seq_len)
                n = y.size  # targets in the global batch
                if world > 1:  # this rank's streams; equal shares, so the plain mean is exact
                    x, y = x[distributed.rank() :: world], y[distributed.rank() :: world]
            if self.stateful:
                logits, self._next_hidden = model(self._tensor(x), detach_state(self.hidden))
            else:  # a window of its own: nothing carried in or out
                logits, _ = model(self._tensor(x))
            loss = F.cross_entropy(logits.flatten(0, 1), self._tensor(y).flatten())  # (B*T, V)
        else:
            assert self._windows is not None
            index = data
            n = len(index)
            weights = None
            if world > 1:
                index, w = distributed.shard_rows(index)
                weights = self._tensor(w)
            logits, _ = model(self._tensor(self._windows[0][index]))
            target = self._tensor(self._windows[1][index])
            if weights is None:
                loss = F.cross_entropy(logits[:, -1], target)  # only the next token
            else:  # scaled so that DDP's mean over the ranks is the global batch mean
                per_item = F.cross_entropy(logits[:, -1], target, reduction="none")
                loss = (per_item * weights).sum() * (world / n)
        # Each rank adds its share; the sums over the ranks are the global batch's.
        return loss, {"loss_sum": float(loss.detach()) * n / world, "count": n / world}

    def after_step(self) -> None:
        """The step completed: carry its hidden state to the next chunk."""
        self.hidden = detach_state(self._next_hidden)
        self._next_hidden = None
        self.position = (self.position[0], self.position[1] + 1)

    def end_epoch(self) -> None:
        self.hidden = None  # a new epoch starts new streams
        self.position = (self.position[0] + 1, 0)

    def train_metrics(self, sums: dict[str, Any]) -> dict[str, float]:
        count = float(sums["count"])
        return {"loss": float(sums["loss_sum"]) / count} if count else {}

    def progress_fields(self, totals: dict[str, Any]) -> dict[str, Any]:
        return {"tokens": int(round(float(totals.get("count", 0.0)) * self.world))}

    # ---- evaluation ---------------------------------------------------------------------
    def held_out_loss(self, model: nn.Module, max_tokens: int | None) -> tuple[float, int] | None:
        """(summed loss, predictions) on the held-out part, or None when it is too short."""
        cfg = self.cfg
        if cfg.recipe == "default" and self.index is not None:
            from seqlab.lm.stream import streamed_loss

            if self.index.tokens("val") < 2:
                return None
            return streamed_loss(
                model, self.index, "val", seq_len=self.seq_len, max_tokens=max_tokens
            )
        if self.val_ids is None:
            return None
        if cfg.recipe == "default":
            if len(self.val_ids) < 2:
                return None
            return stream_loss(model, self.val_ids, seq_len=self.seq_len, max_tokens=max_tokens)
        if len(self.val_ids) <= cfg.maxlen:
            return None
        return window_loss(model, self.val_ids, cfg.maxlen, max_tokens=max_tokens)

    def evaluate(self, model: nn.Module, split: str) -> dict[str, float]:
        if split != "val" or not distributed.is_main():
            return {}
        val = self.held_out_loss(model, self.cfg.eval_tokens)
        return {} if val is None else {"loss": val[0] / val[1]}

    def describe(self, row: dict[str, Any], loop_cfg: Any) -> str:
        bits = "bits/char" if self.cfg.level == "char" else "bits/word"
        parts = [f"step {row['step']}", f"epoch {float(row['epoch']):.2f}", f"{row['time_s']:.0f}s"]
        if row.get("loss") is not None:
            parts.append(f"train {row['loss']:.3f}")
        if row.get("val_loss") is not None:
            v = row["val_loss"]
            parts.append(f"val {v:.3f} nats ({v / math.log(2):.3f} {bits})")
        parts.append(f"lr {row['lr']:.2e}")
        return " | ".join(parts)

    # ---- checkpoints --------------------------------------------------------------------
    def state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """The carried hidden state of all the streams (gathered from every rank)."""
        hidden = tuple(distributed.all_gather_rows(h, dim=1) for h in self.hidden or ())
        tensors = {f"hidden.{i}": h for i, h in enumerate(hidden)}
        state: dict[str, Any] = {"hidden": len(hidden), "position": list(self.position)}
        if self.index is not None:  # where each stream resumes (a token index of the file)
            epoch, batch = self.position
            if batch < self.num_batches(epoch):
                state["streams"] = self.stream_positions(epoch, batch)
        return tensors, state

    def load_state(self, tensors: dict[str, torch.Tensor], state: dict[str, Any]) -> None:
        n_hidden = int(state.get("hidden", 0))
        # this rank's streams of the full (num_layers, batch_size, hidden_size) state
        mine = slice(distributed.rank() if self.world > 1 else 0, None, self.world)
        self.hidden = (
            tuple(tensors[f"hidden.{i}"][:, mine].to(self.device) for i in range(n_hidden))
            if n_hidden
            else None
        )
        self.position = tuple(state.get("position", (0, 0)))  # type: ignore[assignment]
        if self.index is not None and "streams" in state:
            # The readers seek to these positions on the next step; they must be where this
            # epoch's plan puts them, or the corpus is not the one the run was trained on.
            epoch, batch = self.position
            if [int(p) for p in state["streams"]] != self.stream_positions(epoch, batch):
                raise ValueError(
                    "the checkpoint's stream positions do not match the corpus; resume with "
                    "the file the run was trained on, unchanged"
                )
