"""Run folders written safely: lock, cleanup, state rules, commit (seqlab.runfolder)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import seqlab.runfolder as rf
from seqlab.runfolder import RunFolder, RunFolderError, check_writable

SRC = str(Path(rf.__file__).resolve().parent.parent)
DEAD_PID = 4_000_000  # above Linux's pid_max; the tests also inject is_alive where it matters

OLD = {
    "config.json": b'{"version": "old"}',
    "vocab.json": b"old vocab",
    "model.safetensors": b"old weights",
    "history.json": b"old history",
    "curves.png": b"old curves",
}
NEW = {
    "config.json": b'{"version": "new"}',
    "vocab.json": b"new vocab",
    "model.safetensors": b"new weights",
    "metrics.json": b"new metrics",
}


def run_files(path: Path) -> dict[str, bytes]:
    """The visible (non-hidden) files of a run folder and their bytes."""
    return {
        p.name: p.read_bytes()
        for p in path.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.name != "notes.txt"
    }


def write_lock(path: Path, pid: int, host: str | None = None) -> None:
    path.mkdir(parents=True, exist_ok=True)
    info = {"pid": pid, "host": host or socket.gethostname(), "started": "2026-12-01T10:00:00"}
    (path / ".lock").write_text(json.dumps(info))


def finished_run(path: Path, files: dict[str, bytes] = OLD) -> Path:
    with RunFolder(path) as folder:
        folder.commit(files)
    return path


def python(code: str, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": SRC}
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


# ---------------------------------------------------------------------- open: states


def test_runfolder_empty_folder_commits_and_releases_lock(tmp_path):
    out = tmp_path / "runs" / "x"  # parents are created
    with RunFolder(out) as folder:
        assert folder.state == "empty"
        assert folder.checkpoint_dir == out / "checkpoint"
        assert json.loads((out / ".lock").read_text())["pid"] == os.getpid()
        folder.commit(NEW)
        assert folder.state == "finished"
    assert run_files(out) == NEW
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == [".run-files.json"]
    assert json.loads((out / ".run-files.json").read_text()) == sorted(NEW)


def test_runfolder_finished_run_is_refused_without_overwrite(tmp_path):
    out = finished_run(tmp_path / "x")
    with pytest.raises(RunFolderError) as err:
        RunFolder(out).open()
    assert str(err.value) == (
        f"{out} already holds a finished run; pass --overwrite (overwrite=True) to replace it, "
        "or choose another --out"
    )
    assert not (out / ".lock").exists()  # a refused open releases its lock


def test_runfolder_unfinished_run_is_refused_without_resume_or_overwrite(tmp_path):
    out = tmp_path / "x"
    (out / "checkpoint").mkdir(parents=True)
    with pytest.raises(RunFolderError) as err:
        RunFolder(out).open()
    assert str(err.value) == (
        f"{out} holds an unfinished run (checkpoint/); pass --resume (resume=True) to continue "
        "it or --overwrite (overwrite=True) to start over"
    )


def test_runfolder_resume_without_checkpoint_is_refused(tmp_path):
    for out in (tmp_path / "empty", finished_run(tmp_path / "done")):
        with pytest.raises(RunFolderError) as err:
            RunFolder(out, resume=True).open()
        assert str(err.value) == (
            f"--resume: {out} has no checkpoint to resume from; train without --resume (resume=False) first"
        )


def test_runfolder_overwrite_and_resume_together_are_refused(tmp_path):
    with pytest.raises(RunFolderError, match=r"--overwrite and --resume .* pass --resume"):
        RunFolder(tmp_path, overwrite=True, resume=True)


def test_runfolder_resume_keeps_the_checkpoint(tmp_path):
    out = tmp_path / "x"
    (out / "checkpoint").mkdir(parents=True)
    (out / "checkpoint" / "state.json").write_text("{}")
    with RunFolder(out, resume=True) as folder:
        assert folder.state == "unfinished"
        assert (folder.checkpoint_dir / "state.json").is_file()
    # a finished run with its checkpoint may be resumed too (more epochs)
    finished_run(tmp_path / "done")
    (tmp_path / "done" / "checkpoint").mkdir()
    with RunFolder(tmp_path / "done", resume=True) as folder:
        assert folder.state == "finished"
        assert folder.checkpoint_dir.is_dir()


def test_runfolder_overwrite_keeps_old_run_until_commit_but_drops_its_checkpoint(tmp_path):
    out = finished_run(tmp_path / "x")
    (out / "checkpoint").mkdir()
    (out / "checkpoint" / "state.json").write_text("{}")
    with RunFolder(out, overwrite=True) as folder:
        assert folder.state == "finished"
        assert not folder.checkpoint_dir.exists()  # cannot be resumed later
        assert run_files(out) == OLD  # still loadable while the new run trains
        folder.checkpoint_dir.mkdir()
        folder.commit(NEW)
    assert run_files(out) == NEW
    # an unfinished run: --overwrite starts over
    out2 = tmp_path / "y"
    (out2 / "checkpoint").mkdir(parents=True)
    with RunFolder(out2, overwrite=True) as folder:
        assert folder.state == "unfinished"
        assert not folder.checkpoint_dir.exists()
    with RunFolder(out2) as folder:
        assert folder.state == "empty"


# ---------------------------------------------------------------------- writable


def test_runfolder_path_under_a_file_is_not_writable(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(RunFolderError) as err:
        RunFolder(blocker / "sub").open()
    message = str(err.value)
    assert message.startswith(f"--out {blocker / 'sub'} is not writable (")
    assert "Error: " in message and message.endswith(
        "; choose another folder (--out, or out= in Python)"
    )
    assert "\n" not in message
    with pytest.raises(RunFolderError, match=r"^cache folder .* is not writable \(.*\); choose"):
        check_writable(blocker / "cache", "cache folder")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores modes")
def test_runfolder_read_only_parent_is_not_writable(tmp_path):
    parent = tmp_path / "ro"
    parent.mkdir()
    (parent / "x").mkdir()
    parent.chmod(0o500)
    (parent / "x").chmod(0o500)
    try:
        for out in (parent / "new", parent / "x"):  # cannot create / cannot write inside
            with pytest.raises(
                RunFolderError, match=r"^--out .* is not writable \(PermissionError"
            ):
                RunFolder(out).open()
    finally:
        (parent / "x").chmod(0o700)
        parent.chmod(0o700)


def test_runfolder_check_writable_creates_the_folder_and_leaves_no_probe(tmp_path):
    assert check_writable(tmp_path / "a" / "b", "--cache") == tmp_path / "a" / "b"
    assert list((tmp_path / "a" / "b").iterdir()) == []


# ---------------------------------------------------------------------- lock


def test_runfolder_lock_held_by_live_process_refuses_with_its_pid(tmp_path):
    out = tmp_path / "x"
    holder = python(
        """
        import sys
        from seqlab.runfolder import RunFolder
        folder = RunFolder(sys.argv[1]).open()
        print("locked", flush=True)
        sys.stdin.read()  # hold the lock until the test closes stdin or kills us
        folder.close()
        """,
        str(out),
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunFolderError) as err:
            RunFolder(out).open()
        assert str(err.value).startswith(
            f"{out} is being written by another training (PID {holder.pid}, started "
        )
        assert str(err.value).endswith("; wait for it to finish or choose another --out")
        holder.kill()  # SIGKILL: no cleanup, the lock stays behind
        holder.wait()
        assert json.loads((out / ".lock").read_text())["pid"] == holder.pid
        with RunFolder(out) as folder:  # its PID is dead: the stale lock is taken over
            assert json.loads((out / ".lock").read_text())["pid"] == os.getpid()
            assert folder.state == "empty"
    finally:
        holder.kill()
        holder.wait()


def test_runfolder_lock_liveness_is_injected(tmp_path):
    out = tmp_path / "x"
    write_lock(out, 1234)
    with pytest.raises(RunFolderError, match=r"another training \(PID 1234, started 2026-12-01"):
        RunFolder(out, is_alive=lambda pid: True).open()
    seen = []
    with RunFolder(out, is_alive=lambda pid: seen.append(pid) or False):
        assert json.loads((out / ".lock").read_text())["pid"] == os.getpid()
    assert seen == [1234]
    assert not (out / ".lock").exists()


def test_runfolder_lock_from_another_host_is_refused(tmp_path):
    out = tmp_path / "x"
    write_lock(out, 1234, host="other-machine")
    with pytest.raises(RunFolderError, match=r"on host other-machine \(PID 1234.*delete .*\.lock"):
        RunFolder(out, is_alive=lambda pid: False).open()


def test_runfolder_same_process_cannot_open_twice_but_own_pid_left_over_is_stale(tmp_path):
    out = tmp_path / "x"
    with RunFolder(out):
        with pytest.raises(RunFolderError, match=rf"\(PID {os.getpid()}, started"):
            RunFolder(out).open()
    # a lock with this PID that this process does not hold: left by an earlier process
    # that had the same PID (a restarted container), so it is stale
    write_lock(out, os.getpid())
    with RunFolder(out):
        pass


def test_runfolder_unreadable_lock_is_refused(tmp_path):
    out = tmp_path / "x"
    out.mkdir()
    (out / ".lock").write_text("")
    with pytest.raises(RunFolderError, match=r"\.lock cannot be read .* delete "):
        RunFolder(out).open()


def test_runfolder_close_removes_only_its_own_lock_and_commit_checks_it(tmp_path):
    out = tmp_path / "x"
    folder = RunFolder(out).open()
    write_lock(out, 99)  # someone broke our lock and took the folder
    with pytest.raises(RunFolderError, match=r"commit\(\): .*\.lock is no longer this process"):
        folder.commit(NEW)
    folder.close()
    assert json.loads((out / ".lock").read_text())["pid"] == 99
    folder.close()  # twice is fine
    with pytest.raises(RunFolderError, match=r"commit\(\) needs the folder open: call open\(\)"):
        folder.commit(NEW)


# ---------------------------------------------------------------------- cleanup


def test_runfolder_stale_temporaries_are_removed(tmp_path):
    out = tmp_path / "x"
    (out / "checkpoint").mkdir(parents=True)
    stale = [
        out / ".config.json.abc123.tmp",
        out / ".model.safetensors.k9_x.tmp",
        out / "checkpoint" / ".state.safetensors.q1w2.tmp",
    ]
    kept = [out / "notes.tmp", out / ".hidden", out / "checkpoint" / "state.json"]
    for p in stale + kept:
        p.write_text("x")
    (out / ".commit-123").mkdir()  # incomplete staging of a killed commit
    (out / ".commit-123" / "config.json").write_text("{}")
    with RunFolder(out, resume=True):
        pass
    assert [p for p in stale if p.exists()] == []
    assert all(p.exists() for p in kept)
    assert not (out / ".commit-123").exists()


# ---------------------------------------------------------------------- commit


def test_runfolder_commit_replaces_old_run_wholly(tmp_path):
    out = finished_run(tmp_path / "x", {**OLD, "tokenizer.json": b"old tok"})
    (out / "notes.txt").write_text("mine")  # not a run file: kept
    with RunFolder(out, overwrite=True) as folder:
        folder.commit(NEW)
    assert run_files(out) == NEW  # old curves.png, history.json, tokenizer.json are gone
    assert (out / "notes.txt").read_text() == "mine"
    # a folder written before manifests: the standard run files are replaced
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    for name, data in OLD.items():
        (legacy / name).write_bytes(data)
    with RunFolder(legacy, overwrite=True) as folder:
        folder.commit(NEW)
    assert run_files(legacy) == NEW


def test_runfolder_commit_refuses_bad_files(tmp_path):
    with RunFolder(tmp_path / "x") as folder:
        with pytest.raises(RunFolderError, match=r"needs 'config.json'"):
            folder.commit({"model.safetensors": b"w"})
        for name in ("../evil", ".run-files.json", "checkpoint", "a/b", ""):
            with pytest.raises(RunFolderError, match=r"got the file name .*; use a plain name"):
                folder.commit({"config.json": b"{}", name: b"x"})
        with pytest.raises(TypeError, match=r"'config.json' must be bytes, got str"):
            folder.commit({"config.json": "{}"})
    assert run_files(tmp_path / "x") == {}


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o002])
def test_runfolder_file_modes_follow_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        with RunFolder(tmp_path / "x") as folder:
            folder.commit(NEW)
    finally:
        os.umask(old)
    for name in NEW:
        assert (tmp_path / "x" / name).stat().st_mode & 0o777 == 0o666 & ~umask, name


class Killed(BaseException):
    """A simulated kill: a BaseException, so no `except Exception` cleanup runs."""


STEPS = ("os.replace", "os.unlink", "os.fsync", "os.write", "shutil.rmtree")


def kill_after(monkeypatch: pytest.MonkeyPatch, k: int | None) -> list[str]:
    """Count filesystem steps; the k-th (from 0) raises Killed instead of running."""
    done: list[str] = []
    for dotted in STEPS:
        module_name, name = dotted.split(".")
        module = {"os": os, "shutil": shutil}[module_name]
        real = getattr(module, name)

        def step(*args, _real=real, _name=dotted, **kwargs):
            if k is not None and len(done) == k:
                raise Killed(_name)
            done.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(module, name, step)
    return done


def test_runfolder_kill_at_every_step_of_commit_leaves_old_or_new(tmp_path, monkeypatch):
    # the number of steps of a whole commit
    finished_run(tmp_path / "count")
    with RunFolder(tmp_path / "count", overwrite=True) as folder:
        steps = kill_after(monkeypatch, None)
        folder.commit(NEW)
        total = len(steps)
        monkeypatch.undo()
    # every file, the manifest, and the marker (renamed into place)
    assert steps.count("os.replace") == len(NEW) + 2

    outcomes = []
    for k in range(total + 1):
        out = finished_run(tmp_path / f"k{k}")
        (out / "notes.txt").write_text("mine")
        folder = RunFolder(out, overwrite=True, pid=DEAD_PID + k).open()
        kill_after(monkeypatch, k)
        try:
            folder.commit(NEW)
        except Killed:
            pass
        finally:
            monkeypatch.undo()
        # no close(): the writer is dead, its lock stays. What a reader sees now:
        visible = run_files(out)
        if "config.json" in visible:
            assert visible in (OLD, NEW), (k, sorted(visible))
        staging = out / f".commit-{DEAD_PID + k}"
        complete = (staging / ".complete").is_file() or visible == NEW
        # the next writer finds the dead lock, then rolls forward or back
        with RunFolder(out, overwrite=True, is_alive=lambda pid: False) as again:
            assert again.state == "finished"
        outcome = run_files(out)
        assert outcome == (NEW if complete else OLD), k
        assert (out / "notes.txt").read_text() == "mine"
        assert [p.name for p in out.iterdir() if p.name.startswith(".commit-")] == []
        assert json.loads((out / ".run-files.json").read_text()) == sorted(outcome)
        outcomes.append("new" if outcome == NEW else "old")
    # old up to the marker, new after it (the last k is a commit that was never killed)
    first_new = outcomes.index("new")
    assert outcomes == ["old"] * first_new + ["new"] * (total + 1 - first_new)
    assert 0 < first_new < total


def test_runfolder_commit_error_before_marker_cleans_staging(tmp_path, monkeypatch):
    out = finished_run(tmp_path / "x")
    with RunFolder(out, overwrite=True) as folder:
        real = os.fsync
        monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(28, "full")))
        with pytest.raises(OSError, match="full"):
            folder.commit(NEW)
        monkeypatch.setattr(os, "fsync", real)
        assert [p.name for p in out.iterdir() if p.name.startswith(".commit-")] == []
    assert run_files(out) == OLD


KILLER = """
import os, sys
import seqlab.runfolder as rf
out, k, where = sys.argv[1], int(sys.argv[2]), sys.argv[3]
folder = rf.RunFolder(out, overwrite=True).open()
moves = []
real_replace, real_write = os.replace, rf._write_new_file
def replace(src, dst):
    if len(moves) == k:
        os._exit(9)
    moves.append(dst)
    real_replace(src, dst)
def write(path, data):
    if path.name.startswith(".complete"):
        os._exit(9)
    real_write(path, data)
if where == "move":
    os.replace = replace
else:
    rf._write_new_file = write
folder.commit({"config.json": b'{"version": "new"}', "vocab.json": b"new vocab",
               "model.safetensors": b"new weights", "metrics.json": b"new metrics"})
"""


@pytest.mark.parametrize("k, where", [(0, "marker")] + [(k, "move") for k in range(len(NEW) + 2)])
def test_runfolder_real_kill_during_commit_is_recovered(tmp_path, k, where):
    out = finished_run(tmp_path / "x")
    proc = python(KILLER, str(out), str(k), where)
    proc.communicate()
    assert proc.returncode == 9
    visible = run_files(out)
    assert "config.json" not in visible or visible in (OLD, NEW)
    assert json.loads((out / ".lock").read_text())["pid"] == proc.pid
    with RunFolder(out, overwrite=True) as folder:  # default liveness check: the PID is dead
        assert folder.state == "finished"
    # the first os.replace renames the marker into place: a kill before it is rolled back
    assert run_files(out) == (OLD if where == "marker" or k == 0 else NEW)


# ---------------------------------------------------------------------- seqlab.load


def test_runfolder_load_refuses_unfinished_run_naming_resume(tmp_path):
    from seqlab.runs import load

    out = tmp_path / "x"
    (out / "checkpoint").mkdir(parents=True)
    (out / "model.safetensors").write_bytes(b"old weights")
    with pytest.raises(FileNotFoundError) as err:
        load(out)
    assert "--resume" in str(err.value) and "\n" not in str(err.value)
    assert str(out) in str(err.value)
