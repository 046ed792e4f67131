"""Saving and loading echo state networks: ``config.json`` next to ``model.safetensors``.

``config.json`` holds ``{"class", "config", ...extra}``; ``model.safetensors`` the reservoir
matrices (prefixed ``reservoir.``), ``W_out`` and whatever fitted arrays the model keeps.
Configs written before ``lr`` / ``sr`` were renamed load as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from seqlab._utils import PathLike, atomic_write_bytes, atomic_write_json, read_json
from seqlab.models.esn._names import rename_old_keys


def save_model(model: Any, path: PathLike, extra: dict[str, Any], arrays: Sequence[str]) -> Path:
    """Write ``model`` (its reservoir, ``W_out`` and the ``arrays`` attributes that are set)."""
    from safetensors.numpy import save as st_save

    kind = type(model).__name__
    tensors = model.reservoir.tensors("reservoir.")
    for name in ("W_out", *arrays):
        value = getattr(model, name)
        if value is not None:
            tensors[name] = np.ascontiguousarray(value)
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(folder / "model.safetensors", st_save(tensors))
    task = "esn" if kind == "ESN" else "esn-classifier"
    meta = {"task": task, "format": 1, "class": kind, "config": model.config, **extra}
    atomic_write_json(folder / "config.json", meta)
    return folder


def load_model(cls: type, path: PathLike, arrays: Sequence[str]) -> tuple[Any, dict[str, Any]]:
    """``(model, meta)``: a ``cls`` rebuilt from a folder written by :func:`save_model`."""
    from safetensors.numpy import load as st_load

    kind = cls.__name__
    folder = Path(path)
    if not (folder / "config.json").is_file() or not (folder / "model.safetensors").is_file():
        raise FileNotFoundError(
            f"{folder} is not a saved {kind}: expected config.json and model.safetensors in it "
            f"(written by {kind}.save)"
        )
    meta = read_json(folder / "config.json")
    if meta.get("class") != kind:
        raise ValueError(
            f"{folder} holds a {meta.get('class')!r}, not a {kind}; use {meta.get('class')}.load"
        )
    tensors = st_load((folder / "model.safetensors").read_bytes())
    model = cls(**rename_old_keys(meta["config"], kind))
    model.reservoir.load_tensors(tensors, "reservoir.")
    model.W_out = tensors["W_out"]
    for name in arrays:
        setattr(model, name, tensors.get(name))
    return model, meta
