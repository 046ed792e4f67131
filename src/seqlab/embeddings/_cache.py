"""The binary cache of parsed vector files: ``vectors.npy`` + ``words.json`` + ``meta.json``
in a folder under ``seqlab._utils.cache_dir() / "embeddings"``, keyed by the source's path,
size and mtime and by the load options; later loads memory-map it. A cache folder that
cannot be read is removed (with a warning) and built again; the temporary folders of a
writer that was killed are removed by the next load (:func:`sweep_temporaries`)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from seqlab._utils import cache_dir, current_umask, pid_alive
from seqlab.embeddings._sources import Source
from seqlab.embeddings.keyed import KeyedVectors

_CACHE_VERSION = 1
# A temporary folder ".<cache folder>.<pid>.<random>" older than this is a killed writer's.
STALE_SECONDS = 300.0


def cache_folder(source: Source, key: dict) -> Path:
    """The cache folder of ``source`` loaded with the options ``key``."""
    digest = hashlib.sha1(
        json.dumps(
            {**key, "source": source.fingerprint(), "v": _CACHE_VERSION}, sort_keys=True
        ).encode()
    ).hexdigest()[:16]
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(source.inner_name).name)[:60]
    return cache_dir() / "embeddings" / f"{stem}-{digest}"


def cache_read(folder: Path) -> KeyedVectors | None:
    """The cached vectors in ``folder``, memory-mapped; None when it cannot be read, in which
    case the damaged folder is removed (with a warning) so that the load writes it again."""
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        vectors = np.load(folder / "vectors.npy", mmap_mode="r", allow_pickle=False)
        words = json.loads((folder / "words.json").read_text(encoding="utf-8"))
        if not isinstance(words, list) or len(words) != vectors.shape[0] or vectors.ndim != 2:
            raise ValueError("words.json and vectors.npy disagree")
    except (OSError, ValueError) as exc:
        warnings.warn(
            f"the embeddings cache {folder} is damaged ({exc}); rebuilding it", stacklevel=3
        )
        _remove(folder)
        return None
    kv = KeyedVectors(words, vectors)
    kv.meta.update(meta, from_cache=True, cache=str(folder))
    return kv


def _remove(folder: Path) -> None:
    """Rename ``folder`` aside (atomic: no reader sees it half removed), then delete it."""
    aside = folder.with_name(f".{folder.name}.{os.getpid()}.removed")
    try:
        os.replace(folder, aside)
    except OSError:
        aside = folder
    shutil.rmtree(aside, ignore_errors=True)


def sweep_temporaries(root: Path, now: float | None = None) -> int:
    """Remove the temporary folders under ``root`` that a killed writer left: those whose
    owner PID is gone, or older than :data:`STALE_SECONDS`. Returns how many were removed.

    >>> sweep_temporaries(Path(tempfile.mkdtemp()))
    0
    """
    if not root.is_dir():
        return 0
    now = time.time() if now is None else now
    removed = 0
    for child in root.iterdir():
        if not (child.name.startswith(".") and child.is_dir()):
            continue
        pid = re.match(r"^\..+\.(\d+)\.[^.]+$", child.name)
        try:
            age = now - child.stat().st_mtime
        except OSError:
            continue
        owner_gone = pid is not None and not pid_alive(int(pid.group(1)))
        if owner_gone or age > STALE_SECONDS:
            shutil.rmtree(child, ignore_errors=True)
            removed += 1
    return removed


def cache_write(folder: Path, words: list[str], vectors: np.ndarray, meta: dict) -> None:
    """Write the three files into a temporary folder, then rename it into place (atomic)."""
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.{os.getpid()}."))
        tmp.chmod(0o777 & ~current_umask())  # mkdtemp makes 0o700: give mkdir's mode
    except OSError as exc:
        warnings.warn(f"could not cache embeddings under {folder.parent}: {exc}", stacklevel=3)
        return
    try:
        with open(tmp / "vectors.npy", "wb") as f:
            np.lib.format.write_array(f, np.ascontiguousarray(vectors), allow_pickle=False)
        (tmp / "words.json").write_text(json.dumps(words, ensure_ascii=False), encoding="utf-8")
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
        os.replace(tmp, folder)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if not folder.is_dir():  # else another process cached the same file first: fine
            warnings.warn(f"could not cache embeddings in {folder}: {exc}", stacklevel=3)


def clear_cache() -> int:
    """Delete every cached embedding copy; returns how many were removed.

    >>> clear_cache() >= 0
    True
    """
    root = cache_dir() / "embeddings"
    if not root.is_dir():
        return 0
    removed = 0
    for child in root.iterdir():
        if child.is_dir():
            shutil.rmtree(child, ignore_errors=True)
            removed += 1
    return removed
