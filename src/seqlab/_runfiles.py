"""The file steps under :mod:`seqlab.runfolder`: files created whole and fsync'd, the
roll-forward of a staged commit (steps 2-4 of the commit protocol in :mod:`seqlab.runfolder`),
the clean-up after killed writers and the state a folder is in (whether a writer is alive:
``seqlab._utils.pid_alive``)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

MANIFEST_NAME = ".run-files.json"
CHECKPOINT_NAME = "checkpoint"
COMPLETE_NAME = ".complete"
PENDING_NAME = ".complete.pending"
STAGING_PREFIX = ".commit-"
OLD_CHECKPOINT_PREFIX = ".checkpoint-removed-"
# What older runs (written before the manifest) hold: removed at commit unless replaced.
STANDARD_RUN_FILES = (
    "config.json",
    "vocab.json",
    "model.safetensors",
    "history.json",
    "metrics.json",
    "curves.png",
)
# atomic_write_bytes' temporaries: ".<name>.<random>.tmp"
_TEMP_PATTERN = re.compile(r"^\..+\..+\.tmp$")


def fsync_dir(path: Path) -> None:
    """Flush the folder's entries (creations, renames) to disk."""
    if os.name == "nt":  # directories cannot be opened for fsync on Windows
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_new_file(path: Path, data: bytes) -> None:
    """Create ``path`` (mode 0o666 less the umask), write ``data`` and fsync it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def folder_guard(path: Path) -> Iterator[None]:
    """A short exclusive section among RunFolders of ``path`` (flock on the folder; the
    kernel drops it if the holder dies). Where flock is missing, no guard."""
    try:
        import fcntl
    except ImportError:  # Windows
        yield
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:  # a filesystem without flock: the O_EXCL lock still holds
            pass
        yield
    finally:
        os.close(fd)  # closing drops the flock


def clean(path: Path) -> None:
    """Remove killed atomic writes' temporaries and removed checkpoints; roll a complete
    commit forward and delete an incomplete one."""
    for folder in (path, path / CHECKPOINT_NAME):
        if not folder.is_dir():
            continue
        for entry in folder.iterdir():
            if _TEMP_PATTERN.match(entry.name) and entry.is_file():
                entry.unlink(missing_ok=True)
    for entry in sorted(path.iterdir()):
        if not entry.is_dir():
            continue
        if entry.name.startswith(OLD_CHECKPOINT_PREFIX):
            shutil.rmtree(entry, ignore_errors=True)
        elif entry.name.startswith(STAGING_PREFIX):
            if (entry / COMPLETE_NAME).is_file():
                roll_forward(path, entry)
            else:
                shutil.rmtree(entry)


def find_state(path: Path) -> str:
    """``"finished"``, ``"unfinished"`` or ``"empty"`` (see :attr:`RunFolder.state`)."""
    if (path / "config.json").is_file() and (path / "model.safetensors").is_file():
        return "finished"
    if (path / CHECKPOINT_NAME).is_dir():
        return "unfinished"
    return "empty"


def roll_forward(path: Path, staging: Path) -> None:
    """Steps 2-4 of the commit protocol for a complete ``staging``; idempotent, so a
    kill at any point can be followed by another call."""
    names = json.loads((staging / COMPLETE_NAME).read_text(encoding="utf-8"))
    new = set(names)
    config_staged = (staging / "config.json").is_file()
    if config_staged:
        # 2. commit point: the old config goes first (a no-op when it already went)
        (path / "config.json").unlink(missing_ok=True)
        # 3. the old run's files that the new run lacks (the manifest is still the old
        #    one: it moves in step 4)
        for name in _old_run_files(path) - new:
            (path / name).unlink(missing_ok=True)
        # 4. everything but config.json, then config.json
        for name in names:
            if name != "config.json" and (staging / name).is_file():
                os.replace(staging / name, path / name)
        fsync_dir(path)
        os.replace(staging / "config.json", path / "config.json")
        fsync_dir(path)
    shutil.rmtree(staging)


def _old_run_files(path: Path) -> set[str]:
    old = set(STANDARD_RUN_FILES)
    manifest = path / MANIFEST_NAME
    try:
        listed = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return old
    if isinstance(listed, list):
        # only plain names: a damaged manifest must not send us outside the folder
        old |= {n for n in listed if isinstance(n, str) and n and n == os.path.basename(n)}
    old.discard(CHECKPOINT_NAME)
    return {n for n in old if not n.startswith(".")}
