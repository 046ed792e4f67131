"""The parts of an ensemble that are checked before it is built: its members (names,
classes, texts), its weights, and the validation split a stacker is fitted on (see
:mod:`seqlab.ensemble`)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from seqlab._utils import PathLike
from seqlab.data.base import TextDataset
from seqlab.data.batching import stratified_split
from seqlab.runs import Run
from seqlab.training._classify_data import load_dataset


def member_names(members: Sequence[Run]) -> list[str]:
    """Each member's folder name (``member-<k>`` without one), made distinct with ``-2``..."""
    names: list[str] = []
    for k, m in enumerate(members):
        base = m.path.name if m.path is not None and m.path.name else f"member-{k}"
        name, i = base, 2
        while name in names:
            name, i = f"{base}-{i}", i + 1
        names.append(name)
    return names


def source_of(run: Run) -> str | None:
    return None if run.path is None else str(Path(run.path).resolve())


def relative_source(source: str | None, folder: PathLike | None) -> str | None:
    if source is None or folder is None:
        return source
    try:
        return os.path.relpath(source, Path(folder).resolve())
    except ValueError:  # another drive (Windows): keep it absolute
        return source


def resolve_source(source: str | None, folder: Path) -> str | None:
    # config.json gives the source relative to the ensemble folder as it was written
    return None if source is None else str((folder / source).resolve())


def check_members(members: list[Run], names: list[str]) -> list[str]:
    """The ensemble's labels (the first member's order); one-line errors for members that
    cannot be combined (fewer than two, not a Run, no vectorizer, other classes)."""
    if len(members) < 2:
        raise ValueError(
            f"an ensemble needs at least two member runs, got {len(members)}; give more runs"
        )
    if len(names) != len(members) or len(set(names)) != len(names):
        raise ValueError(f"names must be {len(members)} distinct names, got {names}")
    for name, m in zip(names, members):
        if not isinstance(m, Run):
            raise TypeError(f"member {name!r} must be a seqlab Run, got {type(m).__name__}")
        if m.vectorizer is None:
            raise ValueError(
                f"member {name!r} was trained on (x, y) arrays and cannot read texts; an "
                "ensemble combines runs that read texts (trained with a vectorizer)"
            )
    first, labels = names[0], members[0].labels
    for name, m in zip(names, members):
        if sorted(m.labels) != sorted(labels) or len(m.labels) != len(labels):
            raise ValueError(
                f"member {name!r} has the classes {m.labels} but member {first!r} has "
                f"{labels}; an ensemble combines runs trained on the same classes"
            )
    return list(labels)


def check_weights(weights: Any, k: int) -> np.ndarray:
    """``weights`` (one per member, >= 0) scaled to sum to 1; equal weights for None."""
    if weights is None:
        return np.full(k, 1.0 / k)
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    if len(w) != k or not np.all(np.isfinite(w)) or np.any(w < 0) or not w.sum() > 0:
        raise ValueError(
            f"weights must be {k} finite numbers >= 0, not all 0 (one per member, in the "
            f"members' order), got {list(weights)}"
        )
    # Scaled only when needed, so that weights read back from config.json stay bit for bit.
    return w if abs(w.sum() - 1.0) <= 1e-12 else w / w.sum()


def validation_split(
    members: Sequence[tuple[str, dict[str, Any]]],
    data: str | PathLike | TextDataset,
    *,
    data_dir: PathLike | None = None,
    val_split: float | None = None,
    seed: int | None = None,
    force: bool = False,
    text_column: str | int = "text",
    label_column: str | int = "label",
) -> tuple[TextDataset, dict[str, Any]]:
    """The validation texts of ``data`` that no member trained on, and a record of them.

    The split is ``stratified_split(train.labels, val_split, seed)`` of ``data``'s training
    part, as :func:`seqlab.fit` drew it for each member; ``val_split`` / ``seed`` default to
    the members' recorded ones. Raises ValueError naming the member and the reason when one
    may have trained on those texts, unless ``force``.
    """
    records = [(name, tc or {}) for name, tc in members]
    first_name, first = records[0]
    val_split = first.get("val_split") if val_split is None else val_split
    seed = first.get("seed", 0) if seed is None else seed
    if not val_split:
        raise ValueError(
            f"member {first_name!r} records no validation split, so no texts are known to be "
            "held out from it; train the members with one (e.g. val_split=0.2), or give "
            "val_split= and force=True"
        )
    train = load_dataset(
        data, split="train", data_dir=data_dir, seed=int(seed),
        text_column=text_column, label_column=label_column,
    )  # fmt: skip
    if not force:
        for name, tc in records:
            problem = leak(tc, float(val_split), int(seed), len(train))
            if problem:
                raise ValueError(
                    f"member {name!r} {problem}, so it may have trained on the validation "
                    "texts the ensemble would be fitted on; train the members on the same data "
                    "with the same validation split and seed, or pass force=True to fit anyway"
                )
    _, val_idx = stratified_split(train.labels, float(val_split), seed=int(seed))
    val = train.subset(val_idx)
    digest = hashlib.sha256()
    for text in val.texts:
        digest.update(text.encode("utf-8", "surrogatepass") + b"\0")
    record = {
        "data": str(data) if not isinstance(data, TextDataset) else (data.name or "dataset"),
        "split": "validation",
        "val_split": float(val_split),
        "seed": int(seed),
        "train_size": len(train),
        "n": len(val),
        "texts_sha256": digest.hexdigest(),
        "forced": bool(force),
    }
    return val, record


def leak(tc: dict[str, Any], val_split: float, seed: int, n: int) -> str | None:
    """Why a member with the train config ``tc`` may have seen the split's texts, or None."""
    if tc.get("stream"):
        return "was trained on a stream (its validation lines are not recorded by index)"
    if not tc.get("val_split"):
        return "was trained on all its training texts (no validation split)"
    if float(tc["val_split"]) != val_split or int(tc.get("seed", 0)) != seed:
        return (
            f"held out {float(tc['val_split']):g} of its data drawn with seed {tc.get('seed')}, "
            f"not {val_split:g} drawn with seed {seed}"
        )
    size = (tc.get("train_size") or 0) + (tc.get("val_size") or 0)
    if size != n:
        return f"was trained on {size} texts (training + validation), not this data's {n}"
    return None
