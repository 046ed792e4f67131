"""Saving and loading echo state networks: ``config.json`` next to ``model.safetensors``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from seqlab._utils import PathLike, atomic_write_bytes, atomic_write_json, read_json


def save_folder(path: PathLike, kind: str, config: dict, extra: dict, tensors: dict) -> Path:
    from safetensors.numpy import save as st_save

    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(folder / "model.safetensors", st_save(tensors))
    atomic_write_json(folder / "config.json", {"class": kind, "config": config, **extra})
    return folder


def load_folder(path: PathLike, kind: str) -> tuple[dict, dict[str, np.ndarray]]:
    from safetensors.numpy import load as st_load

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
    return meta, st_load((folder / "model.safetensors").read_bytes())
