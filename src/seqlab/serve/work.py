"""Bounded work: a request's deadline, the model calls that honour it, and a queue per model.

Three rules keep one heavy client from stalling the others:

* **A deadline per request** (:class:`Deadline`, ``--timeout``). Work is cut into units
  (a chunk of texts to classify, one text to explain, one generated token) and the deadline
  is checked between them; inside a unit, every forward pass of a module checks it too
  (:func:`make_cancellable` adds a pre-hook that reads the deadline of the calling thread,
  set by :func:`bounded`), so an explanation stops between two occlusion batches.
* **Predictions before explanations** (:class:`Gate`). A thread that explains waits,
  between forward passes, while classify batches are waiting or running (at most
  ``max_wait_s`` per pass, so an explanation still moves under constant load).
* **A bounded queue per model** (:class:`ModelQueue`, ``--max-queue``). Past it a request
  is refused at once with 503 and ``Retry-After`` instead of piling up.

>>> d = Deadline(2.0, clock=iter([0.0, 1.0, 3.0]).__next__)
>>> d.expired(), d.expired()
(False, True)
"""

from __future__ import annotations

import asyncio
import ctypes
import functools
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, TypeVar

from seqlab.serve.errors import ApiError

__all__ = [
    "Deadline",
    "DeadlineExceeded",
    "Gate",
    "ModelQueue",
    "bounded",
    "make_cancellable",
    "trim_heap",
    "until",
    "within",
]

T = TypeVar("T")
Clock = Callable[[], float]


class DeadlineExceeded(ApiError):
    """The 504 of a request whose work ran past its deadline."""

    def __init__(self, seconds: float, doing: str) -> None:
        super().__init__(
            504,
            f"{doing} took longer than the limit of timeout_s={seconds:g} seconds",
            field="timeout_s",
            value=seconds,
            fix="send fewer or shorter texts, or start the server with a larger --timeout",
        )


class Deadline:
    """``seconds`` from now on ``clock`` (``time.monotonic`` unless a test injects one).

    >>> Deadline(5.0, clock=lambda: 100.0).remaining()
    5.0
    """

    def __init__(self, seconds: float, clock: Clock = time.monotonic) -> None:
        self.seconds = float(seconds)
        self.clock = clock
        self.at = clock() + self.seconds

    def remaining(self) -> float:
        """Seconds left (negative once past)."""
        return self.at - self.clock()

    def expired(self) -> bool:
        """Whether the deadline has passed."""
        return self.remaining() <= 0

    def check(self, doing: str) -> None:
        """Raise :class:`DeadlineExceeded` (504) if the deadline has passed."""
        if self.expired():
            raise DeadlineExceeded(self.seconds, doing)


class Gate:
    """Predictions first: counts the classify batches waiting or running for one model, and
    lets an explaining thread wait until there are none (``max_wait_s`` at most per call).

    >>> gate = Gate()
    >>> with gate.busy():
    ...     gate.pending
    1
    """

    def __init__(self, max_wait_s: float = 0.1) -> None:
        self.max_wait_s = max_wait_s
        self.pending = 0
        self._cond = threading.Condition()

    @contextmanager
    def busy(self) -> Iterator[None]:
        """Mark prediction work as waiting or running while the block runs."""
        with self._cond:
            self.pending += 1
        try:
            yield
        finally:
            with self._cond:
                self.pending -= 1
                self._cond.notify_all()

    def yield_to_predictions(self) -> None:
        """Wait (in a worker thread) until no prediction is pending, or ``max_wait_s``."""
        with self._cond:
            self._cond.wait_for(lambda: self.pending == 0, timeout=self.max_wait_s)


class ModelQueue:
    """At most ``max_queue`` requests waiting or running for one model; the next one gets
    503 with ``Retry-After`` at once. Explanations also take one of ``explain_slots``.

    >>> ModelQueue("lstm", max_queue=4).max_queue
    4
    """

    def __init__(self, name: str, max_queue: int, explain_slots: int = 1) -> None:
        self.name = name
        self.max_queue = int(max_queue)
        self.explain_slots = int(explain_slots)
        self.gate = Gate()
        self.in_flight = 0
        self.refused = 0
        # Re-entrant: a place is given back by weakref.finalize when a stream is collected,
        # and the collector runs finalizers wherever it fires, also in this thread while it
        # holds the lock (a plain Lock deadlocked there under load).
        self._lock = threading.RLock()
        self._explaining: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def enter(self) -> Callable[[], None]:
        """Take a place in the queue, or raise 503 (with ``Retry-After``) when it is full.
        Returns the function that gives the place back (from any thread; once, however
        often it is called)."""
        release = self._releaser()  # made before the lock: making it may run the collector
        with self._lock:
            if self.in_flight < self.max_queue:
                self.in_flight += 1
                return release
            self.refused += 1
            waiting = self.in_flight
        raise ApiError(
            503,
            f"model {self.name!r} has {waiting} requests waiting or running, the most its "
            f"queue holds (max_queue={self.max_queue})",
            field="model",
            value=self.name,
            fix="retry after the seconds in the Retry-After header, or start the server with "
            "a larger --max-queue",
            headers={"Retry-After": "1"},
        )

    def _releaser(self) -> Callable[[], None]:
        done = False

        def release() -> None:
            nonlocal done
            with self._lock:
                if not done:
                    done = True
                    self.in_flight -= 1

        return release

    @asynccontextmanager
    async def admit(self) -> AsyncIterator[None]:
        """Hold a place in the queue for the block (see :meth:`enter`)."""
        release = self.enter()
        try:
            yield
        finally:
            release()

    @asynccontextmanager
    async def explaining(self, deadline: Deadline) -> AsyncIterator[None]:
        """One of ``explain_slots`` explanations of this model at a time; waiting for a slot
        counts against ``deadline``."""
        loop = asyncio.get_running_loop()
        if self._explaining is None or loop is not self._loop:
            self._explaining, self._loop = asyncio.Semaphore(self.explain_slots), loop
        slots = self._explaining
        await until(slots.acquire(), deadline, "waiting to explain")
        try:
            yield
        finally:
            slots.release()
            if slots._value == self.explain_slots:  # the last explanation: give memory back
                await loop.run_in_executor(None, trim_heap)

    def stats(self) -> dict[str, Any]:
        """The queue's size, limit, and how many requests it refused."""
        with self._lock:
            return {
                "in_flight": self.in_flight,
                "max_queue": self.max_queue,
                "refused": self.refused,
            }


# ------------------------------------------------------------------ cancellable model calls

_local = threading.local()


@contextmanager
def bounded(deadline: Deadline, doing: str, gate: Gate | None = None) -> Iterator[None]:
    """Within the block, every forward pass of a :func:`make_cancellable` model on this
    thread checks ``deadline`` (and first yields to ``gate``'s predictions, when given)."""
    before = getattr(_local, "work", None)
    _local.work = (deadline, doing, gate)
    try:
        yield
    finally:
        _local.work = before


def _before_forward(module: Any, args: Any) -> None:
    work = getattr(_local, "work", None)
    if work is None:
        return
    deadline, doing, gate = work
    if gate is not None:
        gate.yield_to_predictions()
    deadline.check(doing)


def make_cancellable(model: Any) -> None:
    """Add the deadline check of :func:`bounded` before the forward pass of every module of
    ``model`` (a ``torch.nn.Module``); outside :func:`bounded` it costs one attribute read."""
    for module in model.modules():
        module.register_forward_pre_hook(_before_forward)


async def until(work: Awaitable[T], deadline: Deadline, doing: str) -> T:
    """Await ``work``, cancelled with a 504 when ``deadline`` passes."""
    if deadline.expired() and asyncio.iscoroutine(work):
        work.close()  # never started: no "never awaited" warning
    deadline.check(doing)
    try:
        return await asyncio.wait_for(work, max(deadline.remaining(), 0.0))
    except TimeoutError:
        raise DeadlineExceeded(deadline.seconds, doing) from None


async def within(
    work: Callable[[], T], deadline: Deadline, doing: str, gate: Gate | None = None
) -> T:
    """Run ``work()`` in a worker thread under ``deadline`` (see :func:`bounded`): 504 when
    it passes, and the thread stops at its next forward pass instead of computing on."""

    def run() -> T:
        with bounded(deadline, doing, gate):
            return work()

    return await until(asyncio.to_thread(run), deadline, doing)


def trim_heap() -> bool:
    """Hand the C heap's free pages back to the system (glibc's ``malloc_trim``), so that the
    server's memory returns after a burst of explanations (their many mid-sized tensors
    otherwise stay in the heap); False where there is no glibc."""
    libc = _libc()
    return libc is not None and bool(libc.malloc_trim(0))


@functools.cache
def _libc() -> Any:
    """glibc, loaded once (None where there is none)."""
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None
