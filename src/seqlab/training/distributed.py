"""Data-parallel training with PyTorch's own engine: ``torchrun`` + DistributedDataParallel.

Both trainers (:func:`seqlab.fit` and :func:`seqlab.lm.train`) call into this module; started
plainly they see a world of one process and behave exactly as they always did. Started by
``torchrun`` (which sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and
``MASTER_PORT``) they join one process group (gloo on CPU, nccl on CUDA) and:

* wrap the model in :class:`~torch.nn.parallel.DistributedDataParallel`, so gradients are
  averaged over the ranks in the backward pass;
* read their own shard of every global batch: ``batch_size`` is the GLOBAL batch, and rank
  ``r`` of ``W`` takes rows ``r, r + W, r + 2W, ...`` of it (:func:`shard_rows`);
* let only rank 0 write files and print.

The loss of a shard is scaled so that DDP's average of the ranks' gradients is exactly the
gradient of the mean loss over the global batch, even for a last batch that does not split
evenly (a rank with nothing left gets a zero-weight copy of a row, so that it still joins
the gradient all-reduce)::

    global batch rows   [a b c d e]             W = 2
    rank 0              [a c e]    weights [1 1 1]   loss_0 = W / 5 * sum(l * w)
    rank 1              [b d b]    weights [1 1 0]   loss_1 = W / 5 * sum(l * w)
    DDP: (grad loss_0 + grad loss_1) / W  ==  grad of mean(l_a .. l_e)

A process group created here is destroyed when the training call returns or fails, and
its collectives time out after ``$SEQLAB_DIST_TIMEOUT`` seconds (default 1800), so a rank
that dies cannot leave the others waiting for ever (``torchrun`` also stops the survivors
as soon as one rank fails).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from typing import Any, TypeVar

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from seqlab._utils import resolve_device

__all__ = [
    "all_gather_rows",
    "all_reduce_sum",
    "all_reduce_sums",
    "any_rank",
    "barrier",
    "broadcast_bytes",
    "broadcast_float",
    "check_batch_size",
    "is_distributed",
    "is_main",
    "launched_by_torchrun",
    "local_device",
    "local_rank",
    "rank",
    "rank_seed",
    "session",
    "shard_rows",
    "with_session",
    "world_size",
    "wrap",
]

TIMEOUT_ENV = "SEQLAB_DIST_TIMEOUT"
DEFAULT_TIMEOUT_S = 1800.0

F = TypeVar("F", bound=Callable[..., Any])


# --------------------------------------------------------------------------- who am I


def launched_by_torchrun() -> bool:
    """True when the environment of ``torchrun`` (``RANK`` and ``WORLD_SIZE``) is present.

    >>> launched_by_torchrun() in (True, False)
    True
    """
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def is_distributed() -> bool:
    """True inside a process group of more than one rank.

    >>> is_distributed()
    False
    """
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's rank: from the process group, else ``$RANK``, else 0.

    >>> rank()
    0
    """
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    return int(os.environ.get("RANK", 0))


def world_size() -> int:
    """Number of ranks training together (1 for a plain run).

    >>> world_size()
    1
    """
    return dist.get_world_size() if is_distributed() else 1


def local_rank() -> int:
    """This process's rank on its machine (``$LOCAL_RANK``; 0 for a plain run).

    >>> local_rank()
    0
    """
    return int(os.environ.get("LOCAL_RANK", 0))


def is_main() -> bool:
    """True on rank 0, the only rank that writes the run folder, logs and progress bars.

    >>> is_main()
    True
    """
    return rank() == 0


def local_device(device: str | torch.device = "auto") -> torch.device:
    """The device this rank trains on: ``"auto"`` and ``"cuda"`` become ``cuda:LOCAL_RANK``
    under ``torchrun`` (one GPU per process); anything else as :func:`resolve_device` says.

    >>> local_device("cpu")
    device(type='cpu')
    """
    dev = resolve_device(device)
    if dev.type == "cuda" and dev.index is None and launched_by_torchrun():
        dev = torch.device("cuda", local_rank())
    return dev


# --------------------------------------------------------------------------- life cycle


def _timeout() -> timedelta:
    raw = os.environ.get(TIMEOUT_ENV)
    try:
        seconds = float(raw) if raw else DEFAULT_TIMEOUT_S
    except ValueError:
        raise ValueError(
            f"${TIMEOUT_ENV}={raw!r} is not a number of seconds; set it to e.g. 600"
        ) from None
    if seconds <= 0:
        raise ValueError(f"${TIMEOUT_ENV} must be > 0 seconds, got {raw!r}")
    return timedelta(seconds=seconds)


def _raise_system_exit(signum: int, frame: Any) -> None:
    # torchrun stops the surviving ranks with SIGTERM when one fails: exit through Python so
    # that `finally` blocks run (atomic writes remove their temporary files).
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def session(device: str | torch.device = "auto") -> Iterator[torch.device]:
    """Join the ``torchrun`` process group for the duration of the block; yield this rank's
    device.

    Nothing happens in a plain run, under ``torchrun --nproc-per-node 1`` (a world of one is
    trained as a plain run), or when a process group already exists (whoever made it
    destroys it). Otherwise the group is created (``nccl`` when ``device`` is a GPU, else
    ``gloo``; timeout ``$SEQLAB_DIST_TIMEOUT``) and destroyed on the way out, also when
    training fails.

    >>> with session("cpu") as dev:
    ...     dev, world_size()
    (device(type='cpu'), 1)
    """
    dev = local_device(device)
    want = launched_by_torchrun() and int(os.environ["WORLD_SIZE"]) > 1
    if not want or not dist.is_available() or dist.is_initialized():
        yield dev
        return
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    backend = "nccl" if dev.type == "cuda" else "gloo"
    kwargs: dict[str, Any] = {"backend": backend, "timeout": _timeout()}
    if dev.type == "cuda":
        kwargs["device_id"] = dev
    dist.init_process_group(**kwargs)
    previous = None
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        with contextlib.suppress(ValueError):  # not the main thread: leave signals alone
            previous = signal.signal(signal.SIGTERM, _raise_system_exit)
    finished = False
    try:
        yield dev
        finished = True
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        if finished:  # no rank tears down its connections while a peer still sends on them
            with contextlib.suppress(Exception):  # (a peer's gloo thread aborts the process)
                dist.barrier()
        with contextlib.suppress(Exception):  # a dead peer must not hide the real error
            dist.destroy_process_group()


def with_session(func: F) -> F:
    """Decorator: run ``func`` inside :func:`session`, with the device given by its
    ``device`` argument (a training entry point works the same plainly and under torchrun).

    >>> @with_session
    ... def train(device="auto"):
    ...     return world_size()
    >>> train(device="cpu")
    1
    """
    signature = inspect.signature(func)

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind_partial(*args, **kwargs)
        device = bound.arguments.get("device", signature.parameters["device"].default)
        with session(device):
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def wrap(model: nn.Module, device: torch.device) -> nn.Module:
    """``model`` in DistributedDataParallel when training on several ranks, else ``model``
    itself. DDP copies rank 0's weights to every rank when it is built, so all ranks start
    from the same model.

    >>> wrap(nn.Linear(2, 2), torch.device("cpu")).__class__.__name__
    'Linear'
    """
    if not is_distributed():
        return model
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)


# --------------------------------------------------------------------------- batches


def check_batch_size(batch_size: int, name: str = "batch_size") -> None:
    """Refuse a global batch that the ranks cannot share evenly.

    >>> check_batch_size(32)
    """
    w = world_size()
    if batch_size % w:
        lower, upper = (batch_size // w) * w, (batch_size // w + 1) * w
        raise ValueError(
            f"{name}={batch_size} is the global batch and must split evenly over the "
            f"{w} ranks of this torchrun job; use a multiple of {w} such as "
            f"{lower or upper} or {upper}"
        )


def shard_rows(rows: np.ndarray | Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """This rank's rows of a global batch and their loss weights (see the module docstring).

    Rank ``r`` of ``W`` takes ``rows[r::W]``; every rank gets the same number of rows,
    padded with zero-weight copies of the batch's first row where the batch runs short.

    >>> shard_rows([7, 8, 9])
    (array([7, 8, 9]), array([1., 1., 1.], dtype=float32))
    """
    rows = np.asarray(rows)
    w, r = world_size(), rank() if is_distributed() else 0
    mine = rows[r::w]
    size = -(-len(rows) // w)  # ceil: the largest shard
    weights = np.ones(size, dtype=np.float32)
    if len(mine) < size:
        weights[len(mine) :] = 0.0
        mine = np.concatenate([mine, np.repeat(rows[:1], size - len(mine))])
    return mine, weights


def rank_seed(seed: int, *keys: int) -> int:
    """A torch seed for ``(seed, *keys, rank)``: ranks draw different dropout masks, and the
    same rank draws the same ones when a run is resumed.

    >>> rank_seed(0, 3) == rank_seed(0, 3)
    True
    """
    sequence = np.random.SeedSequence([int(seed), *(int(k) for k in keys), rank()])
    return int(sequence.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


# --------------------------------------------------------------------------- collectives


RELEASE_WAIT_S = 10.0  # how long a collective waits for gloo to let go of its tensors


def _released(
    tensors: Sequence[torch.Tensor],
    counts: Sequence[int],
    clock: Callable[[], float] = time.monotonic,
    limit_s: float = RELEASE_WAIT_S,
) -> bool:
    """Wait until each tensor's reference count is back to ``counts`` (gloo let go of it);
    False after ``limit_s`` seconds. The GIL is released while waiting."""
    start = clock()
    while any(t._use_count() > n for t, n in zip(tensors, counts)):
        waited = clock() - start
        if waited > limit_s:
            return False
        # gloo lets go within microseconds on an idle core: yield (sleep(0) releases the
        # GIL) for the first millisecond, then poll every 0.5 ms
        time.sleep(0 if waited < 1e-3 else 0.0005)
    return True


@contextlib.contextmanager
def _held(*tensors: torch.Tensor) -> Iterator[None]:
    """Run a synchronous gloo collective on ``tensors`` in the block, and return only once
    gloo's worker thread has dropped its references to them.

    The collective returns as soon as its work is complete; gloo's thread drops the work
    (and so the tensors) a moment later, and a later ``barrier`` keeps every unreleased
    work alive until it is released itself, so the last one of a run goes at exit. A tensor
    whose Python object died before that leaves the thread a Python reference to free, for
    which it needs the GIL: during interpreter shutdown the thread calls ``std::terminate``
    ("terminate called without an active exception", SIGABRT; about 1 two-rank job in 20
    on a busy 2-core machine). Held until gloo let go, the tensors leave it nothing of
    Python's to free. NCCL frees its work on its own watchdog thread; it is left alone.
    """
    counts = [t._use_count() for t in tensors]
    yield
    if dist.get_backend() == "gloo":
        _released(tensors, counts)


def _comm_device() -> torch.device:
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def barrier() -> None:
    """Wait for every rank (no-op in a plain run).

    >>> barrier()
    """
    if is_distributed():
        dist.barrier()


def all_reduce_sum(values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Element-wise sum over the ranks, as float64 (the values themselves in a plain run).

    >>> all_reduce_sum([1.5, 2]).tolist()
    [1.5, 2.0]
    """
    arr = np.asarray(values, dtype=np.float64)
    if not is_distributed():
        return arr
    t = torch.from_numpy(arr.copy()).to(_comm_device())
    with _held(t):
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t.cpu().numpy()


def all_reduce_sums(sums: dict[str, Any]) -> dict[str, Any]:
    """A dict of numbers and arrays summed over the ranks, key by key (itself in a plain
    run): the training loop's logged sums.

    >>> all_reduce_sums({"loss": 2.5, "counts": np.array([1, 2])})["counts"].tolist()
    [1, 2]
    """
    if not is_distributed() or not sums:
        return sums
    keys = sorted(sums)
    flat = np.concatenate([np.ravel(np.asarray(sums[k], dtype=np.float64)) for k in keys])
    total = all_reduce_sum(flat)
    out, i = {}, 0
    for k in keys:
        size = np.size(sums[k])
        value = total[i : i + size]
        out[k] = value.reshape(np.shape(sums[k])) if np.ndim(sums[k]) else float(value[0])
        i += size
    return out


def any_rank(flag: bool) -> bool:
    """True on every rank when ``flag`` is true on at least one (e.g. a stop request).

    >>> any_rank(False)
    False
    """
    return bool(all_reduce_sum([1.0 if flag else 0.0])[0] > 0)


def broadcast_float(value: float, src: int = 0) -> float:
    """Rank ``src``'s ``value`` on every rank (e.g. its clock, so that time budgets end on
    the same step everywhere).

    >>> broadcast_float(2.5)
    2.5
    """
    if not is_distributed():
        return float(value)
    t = torch.tensor([float(value)], dtype=torch.float64, device=_comm_device())
    with _held(t):
        dist.broadcast(t, src=src)
    return float(t.item())


def broadcast_bytes(data: bytes | None, src: int = 0) -> bytes | None:
    """Rank ``src``'s ``data`` (or None) on every rank: a checkpoint read by rank 0 reaches
    ranks on other machines without a shared folder.

    >>> broadcast_bytes(b"abc")
    b'abc'
    """
    if not is_distributed():
        return data
    device = _comm_device()
    size = torch.tensor([-1 if data is None else len(data)], dtype=torch.int64, device=device)
    with _held(size):
        dist.broadcast(size, src=src)
    n = int(size.item())
    if n < 0:
        return None
    if rank() == src:
        assert data is not None
        buffer = torch.frombuffer(bytearray(data), dtype=torch.uint8).to(device) if n else None
    else:
        buffer = torch.empty(n, dtype=torch.uint8, device=device)
    if n == 0:
        return b""
    with _held(buffer):
        dist.broadcast(buffer, src=src)
    return bytes(buffer.cpu().numpy().tobytes())


def all_gather_rows(local: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """Undo :func:`shard_rows` for equal shards: rank ``r``'s slice ``i`` along ``dim`` is
    row ``i * W + r`` of the result.

    >>> all_gather_rows(torch.arange(3)).tolist()
    [0, 1, 2]
    """
    if not is_distributed():
        return local
    device = _comm_device()
    moved = local.detach().to(device).contiguous()
    parts = [torch.empty_like(moved) for _ in range(world_size())]
    with _held(moved, *parts):
        dist.all_gather(parts, moved)
    stacked = torch.stack(parts, dim=dim + 1)  # (..., n_local, W, ...)
    shape = list(local.shape)
    shape[dim] = shape[dim] * world_size()
    return stacked.reshape(shape).to(local.device)
