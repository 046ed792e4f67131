"""Micro-batching: concurrent requests for one model are run as one forward pass.

A web server answers many small requests at once; a model answers one batch of 64 texts
in little more time than one text, because most of a small forward pass is fixed cost
(Python calls, vectorizing, kernel launches). :class:`MicroBatcher` runs the model once on
the texts of all waiting requests (up to ``max_batch`` texts) in a worker thread and hands
each request back its own rows.

While a batch runs, new requests queue up and form the next batch, so under load the
batches grow by themselves. When the batch before held more than one request (a sign of
concurrent clients), the worker also waits up to ``max_wait_ms`` for ``max_batch`` texts
before it starts; a lone client never waits.

If a batch fails (one text that the model cannot read, say), each request of that batch is
run again on its own, so that only the faulty request gets the error.

>>> import asyncio, numpy as np
>>> batcher = MicroBatcher(lambda texts: np.array([[len(t)] for t in texts]), max_wait_ms=1)
>>> async def two_requests():
...     return await asyncio.gather(batcher.submit(["ab"]), batcher.submit(["abc", "d"]))
>>> [r.tolist() for r in asyncio.run(two_requests())]
[[[2]], [[3], [1]]]
>>> batcher.stats()["batches"], batcher.stats()["texts"]
(1, 3)
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["MicroBatcher"]


@dataclass
class _Pending:
    texts: list[str]
    future: asyncio.Future = field(repr=False)


class MicroBatcher:
    """Gather concurrent calls of ``fn(texts) -> array (len(texts), ...)`` into one call.

    ``max_batch``: the most texts in one call (a single request with more texts still runs,
    alone). ``max_wait_ms``: under concurrent load, how long a batch waits for more texts.
    Call :meth:`submit` from the event loop; ``fn`` runs in a worker thread, one batch at a
    time per batcher.

    >>> import numpy as np
    >>> batcher = MicroBatcher(lambda texts: np.zeros((len(texts), 2)), max_batch=32)
    >>> batcher.max_batch, batcher.max_wait_ms
    (32, 5.0)
    """

    def __init__(
        self,
        fn: Callable[[list[str]], np.ndarray],
        *,
        max_batch: int = 64,
        max_wait_ms: float = 5.0,
    ) -> None:
        if isinstance(max_batch, bool) or not isinstance(max_batch, int) or max_batch < 1:
            raise ValueError(f"max_batch must be an integer >= 1, got {max_batch!r}")
        if not isinstance(max_wait_ms, int | float) or not 0 <= max_wait_ms <= 1000:
            raise ValueError(
                f"max_wait_ms must be a number of milliseconds in [0, 1000], got {max_wait_ms!r}"
            )
        self.fn = fn
        self.max_batch = int(max_batch)
        self.max_wait_ms = float(max_wait_ms)
        self._pending: list[_Pending] = []
        self._worker: asyncio.Task | None = None
        self._arrived: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()  # guards the counters, read from other threads
        self._batches = 0
        self._texts = 0
        self._largest = 0
        self._last_requests = 0  # requests in the batch before: a sign of concurrent load

    async def submit(self, texts: Sequence[str]) -> np.ndarray:
        """The rows of ``fn(all gathered texts)`` that belong to ``texts``, in order."""
        texts = list(texts)
        if not texts:
            return np.asarray(self.fn([]))
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            # A new event loop (a test client, a restarted server): the old loop's queue
            # and worker cannot be awaited from this one.
            self._loop, self._pending, self._worker = loop, [], None
            self._arrived = asyncio.Event()
        item = _Pending(texts, loop.create_future())
        self._pending.append(item)
        assert self._arrived is not None
        self._arrived.set()
        if self._worker is None or self._worker.done():
            self._worker = loop.create_task(self._work())
        return await item.future

    def stats(self) -> dict[str, Any]:
        """How many batches ran, how many texts they held, the mean and the largest batch."""
        with self._lock:
            return {
                "batches": self._batches,
                "texts": self._texts,
                "mean_batch": round(self._texts / self._batches, 3) if self._batches else 0.0,
                "largest_batch": self._largest,
                "max_batch": self.max_batch,
                "max_wait_ms": self.max_wait_ms,
            }

    async def _work(self) -> None:
        # Runs while requests are waiting, then ends; the next submit starts a new one, so
        # no task outlives its work (or its event loop).
        assert self._arrived is not None
        while self._pending:
            await self._gather()
            batch = self._take()
            if batch:
                await self._run(batch)

    async def _gather(self) -> None:
        assert self._arrived is not None
        await asyncio.sleep(0)  # requests submitted in this same loop turn join at no cost
        if self._last_requests <= 1 and len(self._pending) <= 1:
            # No sign of concurrent load: a lone client should not pay the wait.
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.max_wait_ms / 1000
        while self._waiting_texts() < self.max_batch:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:
                break

    def _waiting_texts(self) -> int:
        return sum(len(p.texts) for p in self._pending if not p.future.done())

    def _take(self) -> list[_Pending]:
        # Requests whose caller gave up (a timeout cancels the future) are dropped here.
        self._pending = [p for p in self._pending if not p.future.done()]
        batch: list[_Pending] = []
        size = 0
        while self._pending and (not batch or size + len(self._pending[0].texts) <= self.max_batch):
            item = self._pending.pop(0)
            batch.append(item)
            size += len(item.texts)
        return batch

    async def _run(self, batch: list[_Pending]) -> None:
        texts = [t for item in batch for t in item.texts]
        self._last_requests = len(batch)
        try:
            rows = await asyncio.to_thread(self._call, texts)
        except Exception as exc:
            if len(batch) == 1:
                if not batch[0].future.done():
                    batch[0].future.set_exception(exc)
                return
            for item in batch:  # find the request that fails; the others still get answers
                await self._run_alone(item)
            return
        start = 0
        for item in batch:
            end = start + len(item.texts)
            if not item.future.done():
                item.future.set_result(rows[start:end])
            start = end

    async def _run_alone(self, item: _Pending) -> None:
        try:
            rows = await asyncio.to_thread(self._call, item.texts)
        except Exception as exc:
            if not item.future.done():
                item.future.set_exception(exc)
            return
        if not item.future.done():
            item.future.set_result(rows)

    def _call(self, texts: list[str]) -> np.ndarray:
        rows = np.asarray(self.fn(texts))
        if rows.shape[0] != len(texts):
            raise ValueError(
                f"the batched function returned {rows.shape[0]} rows for {len(texts)} texts; "
                "it must return one row per text"
            )
        with self._lock:
            self._batches += 1
            self._texts += len(texts)
            self._largest = max(self._largest, len(texts))
        return rows
