"""Process-level settings of a training run: signals, thread count, progress lines."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import torch

__all__ = ["auto_threads", "eprint", "sigterm_as_interrupt", "torch_threads"]


def eprint(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM stops training like Ctrl-C (a checkpoint is written) in the main thread."""

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = None
    with contextlib.suppress(ValueError):  # not the main thread: leave signals alone
        if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
            previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def auto_threads(
    default: int | None = None,
    cpus: int | None = None,
    running: Callable[[], int] | None = None,
    samples: int = 5,
) -> int:
    """Torch threads for a run on a machine that may be shared: ``default`` (torch's thread
    count) less the cores other work is using now, at least 1.

    Other work is the number of runnable tasks on the machine (the 4th field of
    ``/proc/loadavg``, ``running/total``) less this one, the smallest of ``samples`` readings
    10 ms apart (a thread of ours still spinning after its last parallel region counts as
    running for a moment). Measured with ``benchmarks/bench_busy.py`` (the default character
    LM on 2 cores): 2 threads do 19.6 steps/s on a quiet machine but 6.1 with a second
    process burning one core, 1 thread 11 either way; "auto" picks 2 and 1.

    >>> auto_threads(default=2, cpus=2, running=lambda: 1)  # quiet: only this process
    2
    >>> auto_threads(default=2, cpus=2, running=lambda: 2)  # one other runnable task
    1
    """
    default = default or torch.get_num_threads()
    if cpus is None:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    read = running or _running_tasks
    counts = []
    for i in range(max(1, samples)):
        counts.append(read())
        if i + 1 < samples:
            time.sleep(0.01)
    others = max(0, min(counts) - 1)
    return max(1, min(int(default), int(cpus or 1) - others))


def _running_tasks() -> int:
    try:
        with open("/proc/loadavg", encoding="ascii") as f:
            return int(f.read().split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):
        return 1  # not Linux: nothing known about other work


@contextlib.contextmanager
def torch_threads(n: int | str | None) -> Iterator[None]:
    """Run the block with ``n`` torch threads (``"auto"``: :func:`auto_threads`; None: as
    they are), then restore the count."""
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(auto_threads(before) if n == "auto" else int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)
