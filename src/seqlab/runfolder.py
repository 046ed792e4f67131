"""Write a run folder safely: one writer at a time, and final files that appear together.

Every training command (classifier, language model, series) writes its ``--out`` folder
through a :class:`RunFolder`::

    with RunFolder("runs/x", overwrite=args.overwrite, resume=args.resume) as folder:
        ...  # train; checkpoints go to folder.checkpoint_dir
        folder.commit({"config.json": ..., "model.safetensors": ..., "vocab.json": ...})

:meth:`RunFolder.open` checks, before any training starts, that the folder is writable
(:func:`check_writable`), takes the folder's lock, cleans up after killed writers and
checks the folder's state against ``overwrite`` / ``resume``.

Lock. ``<folder>/.lock`` is created with ``O_CREAT | O_EXCL`` and holds
``{"pid", "host", "started"}``. A lock whose PID is alive on this host (or that comes from
another host, whose PIDs cannot be checked) refuses the second writer; a lock whose PID is
dead is stale and taken over. Taking over is serialised between writers by an advisory
``flock`` on the folder itself (released by the kernel when its holder dies), so two
writers that find the same stale lock cannot both take it. A dead writer's PID reused by an
unrelated process makes the lock look alive: the error names the PID so that it can be
checked.

Commit protocol (the final files appear together; a kill at any moment leaves the old run,
the new run, or a folder that ``seqlab.load`` refuses, never a mix):

1. Stage: write and fsync every file in ``<folder>/.commit-<pid>/``, then write and fsync
   the marker ``.commit-<pid>/.complete`` (the list of new file names; written aside and
   renamed, so that it never exists half-written).
2. Commit point: delete the old ``config.json``. A folder without ``config.json`` is not a
   finished run, so readers refuse it from here on.
3. Delete the old run's files that the new run does not have (named by the old
   ``.run-files.json`` manifest, or the standard run file names for older runs).
4. Move every staged file but ``config.json`` into place with ``os.replace`` (the new
   ``.run-files.json`` manifest among them), then ``config.json`` last; remove the staging.
5. Recovery in :meth:`RunFolder.open`: a staging folder with ``.complete`` is rolled
   forward (steps 2-4 again, skipping what was done); one without it is deleted (the old
   run was never touched).

Files are created with mode ``0o666`` and the process umask applies, as for ``open()``.

>>> import tempfile
>>> out = os.path.join(tempfile.mkdtemp(), "run")
>>> with RunFolder(out) as folder:
...     folder.commit({"config.json": b"{}", "model.safetensors": b"weights"})
>>> sorted(os.listdir(out))
['.run-files.json', 'config.json', 'model.safetensors']
>>> RunFolder(out).open()
Traceback (most recent call last):
...
seqlab.runfolder.RunFolderError: ... already holds a finished run; pass --overwrite ...
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import tempfile
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path

from seqlab._runfiles import (
    CHECKPOINT_NAME,
    COMPLETE_NAME,
    MANIFEST_NAME,
    OLD_CHECKPOINT_PREFIX,
    PENDING_NAME,
    STAGING_PREFIX,
    clean,
    find_state,
    folder_guard,
    fsync_dir,
    roll_forward,
)
from seqlab._runfiles import write_new_file as _write_new_file  # the crash tests patch it
from seqlab._utils import PathLike, pid_alive

__all__ = ["NoCheckpointError", "RunFolder", "RunFolderError", "check_writable", "pid_alive"]

LOCK_NAME = ".lock"
# Lock files this process holds, so that its own PID in a lock left by another process
# (a restarted container often gets the same PID) is told apart from a second open().
_HELD: set[str] = set()


class NoCheckpointError(FileNotFoundError):
    """``--resume`` in a folder that holds no checkpoint (also a :class:`RunFolderError`)."""


class RunFolderError(ValueError):
    """A run folder cannot be used as asked; the message names the flag and the fix."""


class _NoCheckpoint(RunFolderError, NoCheckpointError):
    """Both a RunFolderError (a ValueError) and a FileNotFoundError."""


def _describe(exc: OSError) -> str:
    detail = exc.strerror or str(exc) or "error"
    return f"{type(exc).__name__}: {detail}".replace("\n", " ")


def check_writable(path: PathLike, what: str, *, fix: str = "choose another folder") -> Path:
    """Create the folder ``path`` (parents too) and write and remove a probe file in it.

    ``what`` names the folder in the error (a flag such as ``"--out"`` or a setting such as
    ``"cache folder"``); ``fix`` ends it. Returns ``path`` as a :class:`~pathlib.Path`.

    >>> import tempfile
    >>> check_writable(os.path.join(tempfile.mkdtemp(), "a", "b"), "--out").is_dir()
    True
    >>> check_writable("/proc/seqlab", "cache folder")
    Traceback (most recent call last):
    ...
    seqlab.runfolder.RunFolderError: cache folder /proc/seqlab is not writable (...); choose another folder
    """
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        # Named like atomic_write_bytes' temporaries, so a probe left by a kill is cleaned.
        fd, probe = tempfile.mkstemp(dir=path, prefix=".write-probe.", suffix=".tmp")
        try:
            os.write(fd, b"seqlab")
        finally:
            os.close(fd)
            with contextlib.suppress(FileNotFoundError):  # a lock holder's cleanup was first
                os.unlink(probe)
    except OSError as exc:
        raise RunFolderError(f"{what} {path} is not writable ({_describe(exc)}); {fix}") from exc
    return path


class RunFolder:
    """A run folder being written by one training process.

    ``overwrite=True`` lets a new run replace a finished or unfinished one (the old run
    stays loadable until :meth:`commit`; its checkpoint is removed at :meth:`open`);
    ``resume=True`` continues from the folder's ``checkpoint/``. ``pid`` (default: this
    process) is written to the lock, and ``is_alive(pid)`` (default: :func:`pid_alive`)
    decides whether another lock's writer still runs; both are for tests and launchers.

    >>> import tempfile
    >>> with RunFolder(os.path.join(tempfile.mkdtemp(), "run")) as folder:
    ...     folder.state, folder.checkpoint_dir.name
    ('empty', 'checkpoint')
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        overwrite: bool = False,
        resume: bool = False,
        pid: int | None = None,
        is_alive: Callable[[int], bool] | None = None,
    ) -> None:
        if overwrite and resume:
            raise RunFolderError(
                f"--overwrite and --resume were both given for {path}; pass --resume "
                "(resume=True) to continue the run or --overwrite (overwrite=True) to start over"
            )
        self.path = Path(path)
        self.overwrite = bool(overwrite)
        self.resume = bool(resume)
        self.pid = os.getpid() if pid is None else int(pid)
        self.is_alive = pid_alive if is_alive is None else is_alive
        self._state: str | None = None
        self._lock: dict | None = None

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r}, state={self._state!r})"

    def __enter__(self) -> RunFolder:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ open

    def open(self) -> RunFolder:
        """Check the folder is writable, lock it, clean up after killed writers, and check
        its state against ``overwrite`` / ``resume``; returns ``self``.

        >>> import tempfile
        >>> RunFolder(tempfile.mkdtemp(), resume=True).open()
        Traceback (most recent call last):
        ...
        seqlab.runfolder.RunFolderError: --resume: ... has no checkpoint to resume from; train without --resume (resume=False) first
        """
        if self._lock is not None:
            raise RunFolderError(
                f"{self.path} is already open in this RunFolder; call close() first"
            )
        check_writable(self.path, "--out", fix="choose another folder (--out, or out= in Python)")
        self._acquire_lock()
        try:
            clean(self.path)
            self._state = find_state(self.path)
            self._check_state()
            if self.overwrite:
                self.remove_checkpoint()
        except BaseException:
            self.close()
            raise
        return self

    def _lock_path(self) -> Path:
        return self.path / LOCK_NAME

    def _acquire_lock(self) -> None:
        lock = self._lock_path()
        key = str(lock.resolve())
        info = {
            "pid": self.pid,
            "host": socket.gethostname(),
            "started": datetime.now(UTC).isoformat(timespec="microseconds"),
        }
        with folder_guard(self.path):
            try:
                self._create_lock(lock, info)
            except FileExistsError:
                self._check_old_lock(lock, key, info["host"])
                lock.unlink(missing_ok=True)  # stale: its writer is gone
                try:
                    self._create_lock(lock, info)
                except FileExistsError:  # a writer that takes no guard got there first
                    raise RunFolderError(
                        f"{self.path} is being locked by another training right now; "
                        "wait for it to finish or choose another --out"
                    ) from None
        self._lock = info
        _HELD.add(key)

    @staticmethod
    def _create_lock(lock: Path, info: dict) -> None:
        _write_new_file(lock, (json.dumps(info) + "\n").encode())

    def _check_old_lock(self, lock: Path, key: str, host: str) -> None:
        """Raise unless the existing lock is stale (its writer is dead on this host)."""
        try:
            old = json.loads(lock.read_text(encoding="utf-8"))
            pid, old_host, started = int(old["pid"]), str(old["host"]), str(old["started"])
        except FileNotFoundError:
            return  # released meanwhile
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise RunFolderError(
                f"{lock} cannot be read ({type(exc).__name__}); another training may be "
                f"starting in {self.path}: wait, or if none is, delete {lock}"
            ) from exc
        if old_host != host:
            raise RunFolderError(
                f"{self.path} is being written by a training on host {old_host} (PID {pid}, "
                f"started {started}); wait for it to finish or choose another --out "
                f"(if none runs there, delete {lock})"
            )
        if pid == self.pid and key not in _HELD:
            return  # our PID, but not our lock: left by an earlier process with this PID
        if pid == self.pid or self.is_alive(pid):
            raise RunFolderError(
                f"{self.path} is being written by another training (PID {pid}, started "
                f"{started}); wait for it to finish or choose another --out"
            )

    def _check_state(self) -> None:
        state, where = self._state, self.path
        if self.resume:
            if not self.checkpoint_dir.is_dir():
                raise _NoCheckpoint(
                    f"--resume: {where} has no checkpoint to resume from; train without "
                    "--resume (resume=False) first"
                )
            return
        if self.overwrite:
            return
        if state == "finished":
            raise RunFolderError(
                f"{where} already holds a finished run; pass --overwrite (overwrite=True) to "
                "replace it, or choose another --out"
            )
        if state == "unfinished":
            raise RunFolderError(
                f"{where} holds an unfinished run (checkpoint/); pass --resume (resume=True) "
                "to continue it or --overwrite (overwrite=True) to start over"
            )

    # ------------------------------------------------------------------ properties

    @property
    def state(self) -> str:
        """What :meth:`open` found: ``"empty"``, ``"finished"`` (``config.json`` and
        ``model.safetensors``) or ``"unfinished"`` (``checkpoint/`` without those)."""
        if self._state is None:
            raise RunFolderError(f"{self.path} is not open; call open() first")
        return self._state

    @property
    def checkpoint_dir(self) -> Path:
        """``<path>/checkpoint``: where the training loop keeps its resume state."""
        return self.path / CHECKPOINT_NAME

    # ------------------------------------------------------------------ writing

    def remove_checkpoint(self) -> None:
        """Remove ``checkpoint/`` so that it cannot be resumed later. It is first renamed
        away in one step, so a kill never leaves half a checkpoint to resume from."""
        self._require_lock("remove_checkpoint()")
        ckpt = self.checkpoint_dir
        if not ckpt.exists():
            return
        gone = self.path / f"{OLD_CHECKPOINT_PREFIX}{self.pid}"
        if gone.exists():
            shutil.rmtree(gone)
        os.replace(ckpt, gone)
        fsync_dir(self.path)
        shutil.rmtree(gone)

    def commit(self, files: Mapping[str, bytes]) -> None:
        """Put the run's final ``files`` (name -> bytes; ``config.json`` required) in place
        together, replacing the old run's files (see the module docstring).

        >>> import tempfile
        >>> with RunFolder(tempfile.mkdtemp()) as folder:
        ...     folder.commit({"model.safetensors": b"w"})
        Traceback (most recent call last):
        ...
        seqlab.runfolder.RunFolderError: commit(files=...) needs 'config.json' ...
        """
        self._require_lock("commit()")
        self._check_files(files)
        staging = self.path / f"{STAGING_PREFIX}{self.pid}"
        if staging.exists():
            shutil.rmtree(staging)
        staging.mkdir()
        try:
            for name, data in files.items():
                _write_new_file(staging / name, bytes(data))
            names = sorted(files) + [MANIFEST_NAME]
            _write_new_file(staging / MANIFEST_NAME, (json.dumps(sorted(files)) + "\n").encode())
            fsync_dir(staging)
            # the marker appears whole or not at all: written aside, then renamed
            _write_new_file(staging / PENDING_NAME, (json.dumps(names) + "\n").encode())
            os.replace(staging / PENDING_NAME, staging / COMPLETE_NAME)
            fsync_dir(staging)
        except Exception:
            shutil.rmtree(staging, ignore_errors=True)  # the old run was never touched
            raise
        # From here a failure leaves a complete staging that the next open() rolls forward.
        roll_forward(self.path, staging)
        self._state = "finished"

    def _check_files(self, files: Mapping[str, bytes]) -> None:
        if not isinstance(files, Mapping):
            raise TypeError(
                f"commit(files=...) takes a mapping of file name -> bytes, got {type(files).__name__}"
            )
        if "config.json" not in files:
            raise RunFolderError(
                f"commit(files=...) needs 'config.json' (the file that marks a run finished); "
                f"got {sorted(files)}"
            )
        for name, data in files.items():
            if (
                not isinstance(name, str)
                or not name
                or name != os.path.basename(name)
                or name.startswith(".")
                or name == CHECKPOINT_NAME
                or "/" in name
                or "\\" in name
            ):
                raise RunFolderError(
                    f"commit(files=...) got the file name {name!r}; use a plain name such as "
                    "'model.safetensors' (no folders, no leading '.', not 'checkpoint')"
                )
            if not isinstance(data, bytes | bytearray | memoryview):
                raise TypeError(
                    f"commit(files=...): {name!r} must be bytes, got {type(data).__name__}; "
                    "encode text first (e.g. json.dumps(obj).encode())"
                )

    # ------------------------------------------------------------------ closing

    def _require_lock(self, what: str) -> None:
        if self._lock is None:
            raise RunFolderError(
                f"{what} needs the folder open: call open() first, or use "
                f"`with RunFolder({str(self.path)!r}) as folder:`"
            )
        try:
            held = json.loads(self._lock_path().read_text(encoding="utf-8"))
        except (OSError, ValueError):
            held = None
        if held != self._lock:
            raise RunFolderError(
                f"{what}: {self._lock_path()} is no longer this process's lock (it was removed "
                "or taken over); stop this training, or choose another --out"
            )

    def close(self) -> None:
        """Release the lock (remove ``.lock`` if it is still ours); safe to call twice."""
        if self._lock is None:
            return
        lock = self._lock_path()
        _HELD.discard(str(lock.resolve()))
        try:
            if json.loads(lock.read_text(encoding="utf-8")) == self._lock:
                lock.unlink()
        except (OSError, ValueError):
            pass  # gone or replaced: not ours to remove
        self._lock = None
