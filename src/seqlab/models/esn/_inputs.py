"""Input layouts of the echo state networks: one series (T, D), a padded batch (B, T, D) with
lengths, or a ragged list of (T_i, D) arrays, all turned into one padded float64 batch.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def as_batch(
    x: Any, lengths: Any = None, name: str = "x", dim: int | None = None
) -> tuple[np.ndarray, np.ndarray, str]:
    """Return ``(X (B, T, D) float64, lengths (B,) int64, kind)``; kind says how to give back.

    kind is "single" for a (T,) or (T, D) series, "batch" for a padded (B, T, D) array and
    "list" for a list of (T_i, D) arrays.
    """
    if isinstance(x, list | tuple) and len(x) > 0 and np.ndim(x[0]) >= 1:
        seqs = [np.asarray(s, dtype=np.float64) for s in x]
        seqs = [s[:, None] if s.ndim == 1 else s for s in seqs]
        for i, s in enumerate(seqs):
            if s.ndim != 2:
                raise ValueError(
                    f"{name}[{i}] has shape {s.shape}; each sequence must be (timesteps, features)"
                )
        feats = {s.shape[1] for s in seqs}
        if len(feats) != 1:
            raise ValueError(
                f"the sequences in {name} have different feature sizes {sorted(feats)}; "
                "every sequence must have the same number of features"
            )
        if lengths is not None:
            raise ValueError(
                "lengths is only used with a padded (batch, time, features) array; "
                f"{name} is a list, whose sequences already carry their lengths"
            )
        lens = np.array([len(s) for s in seqs], dtype=np.int64)
        out = np.zeros((len(seqs), int(lens.max()), seqs[0].shape[1]))
        for i, s in enumerate(seqs):
            out[i, : len(s)] = s
        kind = "list"
    else:
        arr = np.asarray(x, dtype=np.float64)
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim == 2:
            if lengths is not None:
                raise ValueError(
                    f"lengths was given but {name} is a single series of shape {arr.shape}; "
                    "pass a (batch, time, features) array to use lengths"
                )
            out, lens, kind = arr[None], np.array([arr.shape[0]], dtype=np.int64), "single"
        elif arr.ndim == 3:
            out, kind = arr, "batch"
            if lengths is None:
                lens = np.full(arr.shape[0], arr.shape[1], dtype=np.int64)
            else:
                lens = np.asarray(lengths, dtype=np.int64).reshape(-1)
                if lens.shape[0] != arr.shape[0]:
                    raise ValueError(
                        f"lengths has {lens.shape[0]} entries but {name} has {arr.shape[0]} "
                        "sequences; give one length per sequence"
                    )
                if lens.min() < 1 or lens.max() > arr.shape[1]:
                    raise ValueError(
                        f"lengths must lie in [1, {arr.shape[1]}] (the padded time axis of {name}), "
                        f"got min {lens.min()} and max {lens.max()}"
                    )
        else:
            raise ValueError(
                f"{name} must be (time,), (time, features), (batch, time, features) or a list "
                f"of (time, features) arrays; got an array of shape {arr.shape}"
            )
    if out.shape[0] == 0 or out.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {out.shape}); give at least one timestep")
    if dim is not None and out.shape[2] != dim:
        raise ValueError(
            f"{name} has {out.shape[2]} features per timestep but the model was built for {dim}; "
            f"pass inputs with {dim} features (or build a new model)"
        )
    if not np.all(np.isfinite(out)):
        raise ValueError(f"{name} contains NaN or infinite values; clean or impute them first")
    return out, lens, kind


def give_back(out: np.ndarray, lens: np.ndarray, kind: str) -> np.ndarray | list[np.ndarray]:
    """Shape per-step outputs (B, T, O) like the input they came from."""
    if kind == "single":
        return out[0]
    if kind == "list":
        return [out[i, : lens[i]] for i in range(out.shape[0])]
    mask = np.arange(out.shape[1])[None, :] < lens[:, None]
    return np.where(mask[..., None], out, 0.0)


def valid_rows(arr: np.ndarray, lens: np.ndarray, warmup: int) -> np.ndarray:
    """Stack the rows ``arr[b, warmup:lens[b]]`` of every sequence: (N, F)."""
    return np.concatenate([arr[b, warmup : lens[b]] for b in range(arr.shape[0])], axis=0)
