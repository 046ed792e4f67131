"""Idle OpenMP threads sleep instead of spinning: ``OMP_WAIT_POLICY=PASSIVE`` by default.

PyTorch's CPU wheels run their intra-op thread pool, MKL and seqlab's LSTM kernel
(:mod:`seqlab.models._lstm_cpu`) on GNU OpenMP (``torch/lib/libgomp.so.1``). After each
parallel region libgomp's idle threads busy-wait ``GOMP_SPINCOUNT`` times (300,000 when
neither ``OMP_WAIT_POLICY`` nor ``GOMP_SPINCOUNT`` is set) before they sleep on a futex;
300,000 ``pause`` spins last about 10 ms on the AMD EPYC this was measured on. A training
step runs hundreds of small regions, so on a machine whose cores are shared with other work
the spinners take the core from the thread that has work (or from the other process): the
default character LM did 19 steps in 62 s with torch's 2 threads and 1,050 with one (the
issue "One training core"; ``benchmarks/bench_busy.py`` measures the busy and quiet cases
with and without this default). With ``OMP_WAIT_POLICY=PASSIVE`` libgomp's spin count is 0:
an idle thread sleeps at once, and a shared core costs at most the share taken. Measured on
2 cores already shared with other work (``bench_busy.py --quick``, 10-s legs): the default
LM on 2 threads did 1.1 steps/s spinning and 9.5 sleeping (5.8 with one more core burnt);
the LSTM kernel's forward and backward (batch 128 x 221 steps, hidden 32, 2 threads)
4.7-6.1 passes/s spinning, 12.5-20.5 sleeping.

libgomp reads these variables once, when it is loaded, which is when torch is imported. So
``import seqlab`` (which every seqlab entry point, the ``seqlab`` command included, runs
before torch) sets the default in ``os.environ`` only when torch is not imported yet and the
user has set neither ``OMP_WAIT_POLICY`` nor ``GOMP_SPINCOUNT``: a value of your own always
wins (``GOMP_SPINCOUNT=300000`` restores libgomp's default). Where torch was imported
first, import seqlab first or set ``OMP_WAIT_POLICY=PASSIVE`` in the shell. Child processes
(``torchrun`` workers, the data-parallel tests) inherit the setting.

>>> env = {}
>>> prefer_passive_wait(env, modules={})
True
>>> env
{'OMP_WAIT_POLICY': 'PASSIVE'}
>>> prefer_passive_wait({"OMP_WAIT_POLICY": "ACTIVE"}, modules={})
False
"""

from __future__ import annotations

import os
import sys
from collections.abc import Container, MutableMapping

__all__ = ["USER_VARIABLES", "prefer_passive_wait"]

# Either of these, set by the user, means the user has chosen how OpenMP threads wait.
USER_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")


def prefer_passive_wait(
    environ: MutableMapping[str, str] | None = None, modules: Container[str] | None = None
) -> bool:
    """Set ``OMP_WAIT_POLICY=PASSIVE`` in ``environ`` (``os.environ``) unless torch is in
    ``modules`` (``sys.modules``: libgomp has read the environment already) or the user set
    one of :data:`USER_VARIABLES`. Returns whether it set the variable."""
    environ = os.environ if environ is None else environ
    modules = sys.modules if modules is None else modules
    if "torch" in modules or any(name in environ for name in USER_VARIABLES):
        return False
    environ["OMP_WAIT_POLICY"] = "PASSIVE"
    return True
