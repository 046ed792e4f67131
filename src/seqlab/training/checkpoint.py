"""Checkpoint files of the training loop: one safetensors file that holds every tensor (the
weights, the best weights so far, the optimizer state, the random-number state, a task's
carried state) and, as its metadata, the loop's JSON state; ``state.json`` beside it is a
readable copy. The safetensors file is replaced atomically, so a kill at any moment leaves
either the previous checkpoint or the new one.
"""

from __future__ import annotations

import dataclasses
import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load as load_safetensors

from seqlab._utils import atomic_write_bytes, atomic_write_json
from seqlab.runs import state_dict_to_bytes
from seqlab.training.protocol import BUDGETS

__all__ = [
    "STATE_FILE",
    "restore_loop",
    "save_loop",
    "optimizer_state",
    "read_checkpoint",
    "restore_optimizer",
    "write_checkpoint",
]

STATE_FILE = "state.safetensors"


def write_checkpoint(folder: Path, tensors: dict[str, torch.Tensor], state: dict[str, Any]) -> None:
    """Write ``folder/state.safetensors`` (tensors + JSON state) and ``folder/state.json``."""
    folder.mkdir(parents=True, exist_ok=True)
    blob = state_dict_to_bytes(tensors, metadata={"state": json.dumps(state)})
    atomic_write_bytes(folder / STATE_FILE, blob)
    atomic_write_json(folder / "state.json", state)


def read_checkpoint(blob: bytes) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(tensors, JSON state) from the bytes of a ``state.safetensors`` file."""
    tensors = load_safetensors(blob)
    (header_size,) = struct.unpack("<Q", blob[:8])
    state = json.loads(json.loads(blob[8 : 8 + header_size])["__metadata__"]["state"])
    return tensors, state


def optimizer_state(
    optimizers: list[torch.optim.Optimizer],
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The optimizers' per-parameter state as tensors (``optim{i}.{pid}.{name}``) and the
    non-tensor entries (step counts of some optimizers) as JSON scalars."""
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, Any] = {}
    for i, opt in enumerate(optimizers):
        for pid, pstate in opt.state_dict()["state"].items():
            for name, value in pstate.items():
                key = f"optim{i}.{pid}.{name}"
                if isinstance(value, torch.Tensor):
                    tensors[key] = value.to_dense() if value.is_sparse else value
                else:
                    scalars[key] = value
    return tensors, scalars


def restore_optimizer(
    optimizers: list[torch.optim.Optimizer],
    tensors: dict[str, torch.Tensor],
    scalars: dict[str, Any],
) -> None:
    """Put back what :func:`optimizer_state` saved (the param groups are the current ones)."""
    for i, opt in enumerate(optimizers):
        prefix = f"optim{i}."
        per_param: dict[int, dict[str, Any]] = {}
        items = [*tensors.items(), *scalars.items()]
        for key, value in items:
            if key.startswith(prefix):
                pid, name = key[len(prefix) :].split(".", 1)
                per_param.setdefault(int(pid), {})[name] = value
        current = opt.state_dict()
        opt.load_state_dict({"state": per_param, "param_groups": current["param_groups"]})


# The loop's own state in a checkpoint's JSON (the tensors are saved beside it).
_STATE = (
    "step",
    "epoch",
    "batch_index",
    "train_time",
    "history",
    "sums",
    "totals",
    "best_score",
    "best_row",
    "bad_evals",
    "lr_scale",
    "stopped",
    "last_row_time",
)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: np.asarray(v).tolist() if isinstance(v, np.ndarray) else v for k, v in value.items()
        }
    return value


def save_loop(self: Any, rng: torch.Tensor | None = None) -> None:
    """Write the checkpoint of a training loop (``seqlab.training.loop._Loop``): every rank
    takes part (a task may gather its carried state); rank 0 writes."""
    assert self.checkpoint_dir is not None
    task_state = getattr(self.task, "state", None)
    task_tensors, task_json = task_state() if task_state is not None else ({}, {})
    self.last_checkpoint_wall = self.clock()
    if not self.main:
        return
    tensors = {f"model.{k}": v for k, v in self.model.state_dict().items()}
    if self.best_state is not None:
        tensors.update({f"best.{k}": v for k, v in self.best_state.items()})
    if self.ema is not None:
        tensors.update({f"ema.{k}": v for k, v in self.ema.shadow.items()})
    opt_tensors, opt_scalars = optimizer_state(self.optimizers)
    tensors.update(opt_tensors)
    tensors.update({f"task.{k}": v for k, v in task_tensors.items()})
    tensors["rng.torch"] = torch.get_rng_state() if rng is None else rng
    if self.device.type == "cuda":
        tensors["rng.cuda"] = torch.cuda.get_rng_state(self.device)
    state = {name: _jsonable(getattr(self, name)) for name in _STATE}
    state.update(
        format=1,
        kind=self.task.kind,
        optimizer_scalars=opt_scalars,
        identity=self.identity,
        config=dataclasses.asdict(self.cfg),
        task=task_json,
        extra=self.extra_state,
    )
    if self.ema is not None:
        state["ema_updates"] = self.ema.updates
    write_checkpoint(self.checkpoint_dir, tensors, state)


def restore_loop(self: Any, blob: bytes) -> None:
    """Put a training loop back where :func:`save_loop` left it; the run's ``identity``
    (settings and data) must match the checkpoint's."""
    tensors, state = read_checkpoint(blob)
    old = state.get("identity", {})
    for key in sorted(set(old) | set(self.identity)):
        if old.get(key) != self.identity.get(key):
            raise ValueError(
                f"resume=True found a checkpoint in {self.checkpoint_dir} made with {key}="
                f"{old.get(key)!r} but this call has {key}={self.identity.get(key)!r}; pass "
                "the same arguments (and data) to continue, or resume=False to start over"
            )

    def group(prefix: str) -> dict[str, torch.Tensor]:
        return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}

    self.model.load_state_dict(group("model."))
    best = group("best.")
    self.best_state = {k: v.to(self.device) for k, v in best.items()} if best else None
    if self.ema is not None:
        average = group("ema.")
        if not average:
            raise ValueError(
                f"resume=True found a checkpoint in {self.checkpoint_dir} trained without a "
                "weight average, but this call has ema set; resume without ema, or start "
                "over (resume=False)"
            )
        self.ema.load(average, state.get("ema_updates", 0))
    restore_optimizer(self.optimizers, tensors, state["optimizer_scalars"])
    load_task = getattr(self.task, "load_state", None)
    if load_task is not None:
        load_task(group("task."), state.get("task", {}))
    torch.set_rng_state(tensors["rng.torch"])
    if self.device.type == "cuda" and "rng.cuda" in tensors:
        torch.cuda.set_rng_state(tensors["rng.cuda"], self.device)
    for name in _STATE:
        value = state[name]
        if name in ("sums", "totals"):
            value = {k: np.asarray(v) if isinstance(v, list) else v for k, v in value.items()}
        setattr(self, name, value)
    if self.stopped in BUDGETS:  # a larger budget now: continue
        self.stopped = None
