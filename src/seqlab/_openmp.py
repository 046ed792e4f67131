"""Idle OpenMP threads: spin (libgomp's default) unless ``SEQLAB_PASSIVE_WAIT=1`` asks them
to sleep (``OMP_WAIT_POLICY=PASSIVE``).

PyTorch's CPU wheels run their intra-op thread pool, MKL and seqlab's LSTM kernel
(:mod:`seqlab.models._lstm_cpu`) on GNU OpenMP (``torch/lib/libgomp.so.1``). After each
parallel region libgomp's idle threads busy-wait ``GOMP_SPINCOUNT`` times (300,000 when
neither ``OMP_WAIT_POLICY`` nor ``GOMP_SPINCOUNT`` is set; about 10 ms on the AMD EPYC this
was measured on) before they sleep on a futex. ``OMP_WAIT_POLICY=PASSIVE`` makes the spin
count 0.

Measured with ``benchmarks/bench_busy.py`` (the default character LM, 2 torch threads, a
quiet 2-core machine, then with a second process burning one core; steps/s):

===========================  =========  ==============
idle threads                 quiet      one core taken
===========================  =========  ==============
spin 300,000 (default)       17.2-19.6  5.2-6.1
spin 30,000 / 3,000          19.7 / 16  2.0 / 3.8
sleep (PASSIVE, spin 0)      7.6-8.7    9.2-9.4
1 thread (either)            11.1       10.4-10.8
===========================  =========  ==============

Sleeping at once costs more than half the speed of a quiet machine (each of the hundreds of
parallel regions of a step starts with a futex wake-up), so seqlab does not make it the
default. On a shared machine, fewer threads do better than sleeping threads: ``--threads
auto`` (:func:`seqlab.training.runtime.auto_threads`) takes torch's count less the cores
other work uses when training starts, and ``--threads 1`` keeps 0.96 of its quiet speed
when a core is taken. ``SEQLAB_PASSIVE_WAIT=1`` still sets ``OMP_WAIT_POLICY=PASSIVE`` for
those who prefer it.

libgomp reads these variables once, when torch is imported, so ``import seqlab`` (which every
seqlab entry point runs before torch) sets the variable only when torch is not imported yet
and the user has set neither ``OMP_WAIT_POLICY`` nor ``GOMP_SPINCOUNT``: a value of your own
always wins.

>>> env = {"SEQLAB_PASSIVE_WAIT": "1"}
>>> prefer_passive_wait(env, modules={})
True
>>> env["OMP_WAIT_POLICY"]
'PASSIVE'
>>> prefer_passive_wait({}, modules={})
False
"""

from __future__ import annotations

import os
import sys
from collections.abc import Container, MutableMapping

__all__ = ["OPT_IN", "USER_VARIABLES", "prefer_passive_wait"]

OPT_IN = "SEQLAB_PASSIVE_WAIT"  # set to 1 to make idle OpenMP threads sleep

# Either of these, set by the user, means the user has chosen how OpenMP threads wait.
USER_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")


def prefer_passive_wait(
    environ: MutableMapping[str, str] | None = None, modules: Container[str] | None = None
) -> bool:
    """Set ``OMP_WAIT_POLICY=PASSIVE`` in ``environ`` (``os.environ``) when it holds
    ``SEQLAB_PASSIVE_WAIT=1``, unless torch is in ``modules`` (``sys.modules``: libgomp has
    read the environment already) or the user set one of :data:`USER_VARIABLES`. Returns
    whether it set the variable."""
    environ = os.environ if environ is None else environ
    modules = sys.modules if modules is None else modules
    if environ.get(OPT_IN) != "1":
        return False
    if "torch" in modules or any(name in environ for name in USER_VARIABLES):
        return False
    environ["OMP_WAIT_POLICY"] = "PASSIVE"
    return True
