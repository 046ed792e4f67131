"""Checkpoint files of the training loop: one safetensors file that holds every tensor (the
weights, the best weights so far, the optimizer state, the random-number state, a task's
carried state) and, as its metadata, the loop's JSON state; ``state.json`` beside it is a
readable copy. The safetensors file is replaced atomically, so a kill at any moment leaves
either the previous checkpoint or the new one.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from seqlab._utils import atomic_write_bytes, atomic_write_json

__all__ = [
    "STATE_FILE",
    "optimizer_state",
    "read_checkpoint",
    "restore_optimizer",
    "tensors_to_bytes",
    "write_checkpoint",
]

STATE_FILE = "state.safetensors"


def tensors_to_bytes(
    tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None
) -> bytes:
    """safetensors bytes of ``tensors`` (copied to contiguous CPU memory first, since
    safetensors refuses views and tensors that share storage).

    >>> len(tensors_to_bytes({"w": torch.ones(2, 3).t()})) > 0
    True
    """
    clean = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}
    return save_safetensors(clean, metadata=metadata)


def write_checkpoint(folder: Path, tensors: dict[str, torch.Tensor], state: dict[str, Any]) -> None:
    """Write ``folder/state.safetensors`` (tensors + JSON state) and ``folder/state.json``."""
    folder.mkdir(parents=True, exist_ok=True)
    blob = tensors_to_bytes(tensors, metadata={"state": json.dumps(state)})
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
