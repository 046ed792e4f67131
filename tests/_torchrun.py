"""Launch a test worker script under torchrun (gloo over loopback), for the DDP tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

LAUNCH_TIMEOUT_S = 240  # a hung job fails the test instead of blocking the suite


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(
    script: Path, *args: str, nproc: int = 2, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run ``script ARGS`` under torchrun with ``nproc`` ranks on loopback; the process."""
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        f"--nproc-per-node={nproc}",
        "--master-addr=127.0.0.1",
        f"--master-port={free_port()}",
        "--max-restarts=0",
        str(script),
        *args,
    ]
    full_env = {
        **os.environ,
        "MASTER_ADDR": "127.0.0.1",
        "OMP_NUM_THREADS": "1",
        # A rank may wait long at a collective while its peer works alone (rank 0 writing
        # the run folder) on a 2-core machine that the other pytest worker keeps busy. (The
        # occasional "terminate called without an active exception" at a rank's exit was not
        # a timeout: see seqlab.training.distributed._released.) A hung job still fails at
        # LAUNCH_TIMEOUT_S.
        "SEQLAB_DIST_TIMEOUT": "200",
        **(env or {}),
    }
    return subprocess.run(
        cmd, env=full_env, capture_output=True, text=True, timeout=LAUNCH_TIMEOUT_S
    )
