"""The ``seqlab`` command run as a process of its own per call, without paying for torch's
import at every call: one interpreter imports ``seqlab.cli.main`` and the libraries its
commands import when they run (torch, seqlab's training, embeddings, language models, series
and run loading) once, then forks a child for each call.

The child is a process like ``python -m seqlab.cli.main ARGS``: its own working folder and
environment, standard input from /dev/null, its own standard output and error, and its own
exit status; it ends the way an interpreter does (``sys.exit``, or an uncaught exception whose
traceback goes to its standard error, status 1), atexit handlers included. What it shares
with the others is those modules, already imported (with OMP_NUM_THREADS=1 in the
environment torch starts no OpenMP threads before the fork). Where ``os.fork`` is missing,
every call starts a fresh interpreter instead.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
from pathlib import Path

# What the commands import when they run; the command line itself imports little.
PRELOAD = ("torch", "seqlab.training", "seqlab.embeddings", "seqlab.lm", "seqlab.series",
           "seqlab.loading")  # fmt: skip

_SERVER = r"""
import importlib, json, os, sys
from seqlab.cli.main import main
for name in sys.argv[1:]:
    importlib.import_module(name)


def child(job):
    for fd, path in ((0, os.devnull), (1, job["stdout"]), (2, job["stderr"])):
        flags = os.O_RDONLY if fd == 0 else os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        opened = os.open(path, flags)
        os.dup2(opened, fd)
        os.close(opened)
    os.chdir(job["cwd"])
    os.environ.update(job["env"])
    sys.argv = ["seqlab", *job["args"]]
    main()
    sys.exit(0)


for line in sys.stdin:
    job = json.loads(line)
    pid = os.fork()
    if pid == 0:
        child(job)  # never returns: SystemExit or an uncaught exception ends the child
    print(pid, flush=True)
    print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), flush=True)
"""


class ForkedCli:
    """``cli(*args, cwd=..., env=..., timeout=...)`` -> the ``CompletedProcess`` of
    ``seqlab ARGS`` run in ``cwd``; ``env`` is added to the environment given here."""

    def __init__(self, env: dict[str, str], scratch: Path) -> None:
        self.env = env
        self.scratch = scratch
        self.calls = 0
        self.server: subprocess.Popen[bytes] | None = None
        if hasattr(os, "fork"):
            self.server = subprocess.Popen(
                [sys.executable, "-c", _SERVER, *PRELOAD],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=env,
            )
            self._pending = b""

    def __call__(
        self, *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        command = ["seqlab", *args]
        if self.server is None:  # no fork: a fresh interpreter per call
            return subprocess.run(
                [sys.executable, "-m", "seqlab.cli.main", *args], cwd=cwd,
                env={**self.env, **(env or {})}, capture_output=True, text=True, timeout=timeout,
            )  # fmt: skip
        self.calls += 1
        out, err = (self.scratch / f"{self.calls}.{name}" for name in ("stdout", "stderr"))
        job = {"args": list(args), "cwd": str(cwd), "env": env or {}}
        job |= {"stdout": str(out), "stderr": str(err)}
        assert self.server.stdin is not None
        self.server.stdin.write(json.dumps(job).encode() + b"\n")
        self.server.stdin.flush()
        pid = int(self._line(timeout))  # the first call also waits for the imports
        try:
            status = int(self._line(timeout))
        except subprocess.TimeoutExpired:
            os.kill(pid, signal.SIGKILL)
            self._line(30)  # the server reaps the child
            raise subprocess.TimeoutExpired(command, timeout) from None
        return subprocess.CompletedProcess(
            command, status, out.read_text(encoding="utf-8"), err.read_text(encoding="utf-8")
        )

    def _line(self, timeout: float) -> str:
        """The server's next line, waiting at most ``timeout`` seconds."""
        assert self.server is not None and self.server.stdout is not None
        fd = self.server.stdout.fileno()
        while b"\n" not in self._pending:
            if not select.select([fd], [], [], timeout)[0]:
                raise subprocess.TimeoutExpired("seqlab", timeout)
            chunk = os.read(fd, 4096)
            if not chunk:
                raise RuntimeError(f"the seqlab fork server exited ({self.server.wait()})")
            self._pending += chunk
        line, self._pending = self._pending.split(b"\n", 1)
        return line.decode()

    def close(self) -> None:
        if self.server is not None:
            assert self.server.stdin is not None
            self.server.stdin.close()
            self.server.wait(timeout=30)
