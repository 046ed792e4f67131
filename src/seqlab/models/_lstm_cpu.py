"""A faster one-directional LSTM layer for the CPU: a small C kernel, compiled on first use.

PyTorch's CPU LSTM runs each time step as a batched matrix product plus several separate
element-wise kernels, forward and backward; for small layers (up to 64 units, a batch of
128) that per-step overhead, not arithmetic, sets the pace. Here the
large products (the input projection for all steps at once, every weight gradient) stay
with PyTorch's BLAS, and only the recurrence runs in ``_lstm_cpu.c``: each sequence of the
batch walks its own ``length`` steps with the recurrent weights in cache, fusing the gate
activations and the cell update, and the rows are split between threads. Steps past a
sequence's length are skipped (outputs zero), so padding costs nothing and changes nothing.

The kernel is compiled with the system C compiler (``cc -O3 -march=native -fopenmp``) into
the cache folder the first time it is needed (about a second), keyed by the source, the
flags, the compiler and the CPU, and written atomically. Without a compiler, or with ``SEQLAB_LSTM_KERNEL=torch``, :func:`available`
is False and callers use ``nn.LSTM``; ``SEQLAB_LSTM_KERNEL=c`` makes a missing compiler an
error instead of a fallback.

>>> lstm_module = torch.nn.LSTM(3, 4, batch_first=True)
>>> x, lengths = torch.randn(2, 5, 3), torch.tensor([5, 2])
>>> weights = [getattr(lstm_module, n) for n in lstm_module._flat_weights_names]
>>> out = lstm(x, lengths, *weights) if available() else lstm_module(x)[0]
>>> out.shape
torch.Size([2, 5, 4])
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import torch
import torch.nn.functional as F

from seqlab._utils import cache_dir

__all__ = ["MAX_HIDDEN", "available", "disabled", "lstm", "usable"]

_SOURCE = Path(__file__).with_name("_lstm_cpu.c")
# No -ffast-math: GCC 12 would link crtfastmath.o, which flushes denormals to zero for the
# whole process (PyTorch included) as soon as the library loads.
_FLAGS = ["-O3", "-march=native", "-fno-math-errno", "-fno-trapping-math", "-ffp-contract=fast"]
_FLAGS += ["-fopenmp", "-fPIC", "-shared", "-std=c99"]
_ENV = "SEQLAB_LSTM_KERNEL"
_lock = threading.Lock()
_lib: ctypes.CDLL | None = None
_tried = False

_p = ctypes.c_void_p
_i = ctypes.c_int


def _cpu_key() -> str:
    """What -march=native depends on: the CPU's model and flags (Linux), else the machine."""
    try:
        text = Path("/proc/cpuinfo").read_text()
        lines = [ln for ln in text.splitlines() if ln.startswith(("model name", "flags"))]
        return "\n".join(sorted(set(lines)))
    except OSError:
        import platform

        return platform.processor() + platform.machine()


def _build() -> ctypes.CDLL:
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise RuntimeError(
            "no C compiler found (cc / gcc); install one (Debian: apt-get install -y gcc) "
            f"or set {_ENV}=torch to use nn.LSTM"
        )
    version = subprocess.run(
        [compiler, "--version"], capture_output=True, text=True, check=False
    ).stdout
    source = _SOURCE.read_bytes()
    key = hashlib.sha256(
        b"\0".join([source, " ".join(_FLAGS).encode(), version.encode(), _cpu_key().encode()])
    ).hexdigest()[:16]
    target = cache_dir() / "kernels" / f"lstm_cpu-{key}.so"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".lstm_cpu-", suffix=".so")
        os.close(fd)
        try:
            result = subprocess.run(
                [compiler, *_FLAGS, str(_SOURCE), "-o", tmp],
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                raise RuntimeError(f"compiling {_SOURCE.name} failed:\n{result.stderr}")
            os.replace(tmp, target)  # atomic: a concurrent process sees all or nothing
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    lib = ctypes.CDLL(str(target))
    lib.lstm_forward.argtypes = [_i, _i, _i, _i, _p, _p, _p, _p, _p, _p, _p]
    lib.lstm_forward.restype = None
    lib.lstm_backward.argtypes = [_i, _i, _i, _i, _p, _p, _p, _p, _p, _p, _p]
    lib.lstm_backward.restype = None
    return lib


def _load() -> ctypes.CDLL | None:
    global _lib, _tried
    with _lock:
        if not _tried:
            _tried = True
            try:
                _lib = _build()
            except (OSError, RuntimeError) as err:
                if os.environ.get(_ENV, "").lower() == "c":
                    raise
                warnings.warn(
                    f"seqlab's CPU LSTM kernel is unavailable, using nn.LSTM: {err}",
                    RuntimeWarning,
                    stacklevel=3,
                )
                _lib = None
    return _lib


def available() -> bool:
    """True when the compiled kernel can be used (compiling it on the first call)."""
    choice = os.environ.get(_ENV, "auto").lower()
    if choice not in ("auto", "c", "torch"):
        raise ValueError(f"{_ENV} must be auto, c or torch, got {choice!r}")
    if choice == "torch":
        return False
    lib = _load()
    if lib is None and choice == "c":  # the build failed on an earlier call
        raise RuntimeError(f"{_ENV}=c but the CPU LSTM kernel failed to build on an earlier call")
    return lib is not None


def _threads(batch: int) -> int:
    """PyTorch's CPU thread count, at most one thread per 8 rows (two groups of four).

    So ``torch.set_num_threads(1)`` (``TrainConfig.threads=1``, ``--threads 1``) makes the
    kernel single-threaded too, and a batch under 16 rows runs on the calling thread alone.
    The threads are libgomp's, which ``import seqlab`` makes wait passively
    (:mod:`seqlab._openmp`)."""
    return max(1, min(torch.get_num_threads(), batch // 8))


def _ptr(t: torch.Tensor) -> int:
    return t.data_ptr()


class _Recurrence(torch.autograd.Function):
    """h = LSTM recurrence over precomputed gate inputs ``gx`` (B, T, 4H) and ``w_hh``."""

    @staticmethod
    def forward(ctx, gx: torch.Tensor, w_hh: torch.Tensor, lengths: torch.Tensor):  # noqa: ANN001, ANN205
        lib = _lib
        assert lib is not None
        batch, steps, gates = gx.shape
        hidden = gates // 4
        gx = gx.contiguous()
        whh_t = w_hh.detach().t().contiguous()  # (H, 4H)
        h = torch.empty(batch, steps, hidden)
        act = torch.empty(batch, steps, gates)
        c = torch.empty(batch, steps, hidden)
        tc = torch.empty(batch, steps, hidden)
        lib.lstm_forward(
            batch, steps, hidden, _threads(batch), _ptr(lengths), _ptr(gx), _ptr(whh_t),
            _ptr(h), _ptr(act), _ptr(c), _ptr(tc),
        )  # fmt: skip
        ctx.save_for_backward(w_hh, lengths, h, act, c, tc)
        return h

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dh: torch.Tensor):  # noqa: ANN001, ANN205
        lib = _lib
        assert lib is not None
        w_hh, lengths, h, act, c, tc = ctx.saved_tensors
        batch, steps, hidden = h.shape
        dh = dh.contiguous()
        whh = w_hh.detach().contiguous()  # (4H, H)
        dz = torch.empty(batch, steps, 4 * hidden)
        lib.lstm_backward(
            batch, steps, hidden, _threads(batch), _ptr(lengths), _ptr(whh), _ptr(act),
            _ptr(c), _ptr(tc), _ptr(dh), _ptr(dz),
        )  # fmt: skip
        dw_hh = None
        if ctx.needs_input_grad[1]:
            h_prev = F.pad(h[:, :-1], (0, 0, 1, 0))  # (B, T, H): h[t-1], zeros at t = 0
            dw_hh = dz.reshape(-1, 4 * hidden).t() @ h_prev.reshape(-1, hidden)  # (4H, H)
        return dz, dw_hh, None


def lstm(
    x: torch.Tensor,
    lengths: torch.Tensor,
    w_ih: torch.Tensor,
    w_hh: torch.Tensor,
    b_ih: torch.Tensor | None,
    b_hh: torch.Tensor | None,
    table: torch.Tensor | None = None,
) -> torch.Tensor:
    """Outputs ``(B, T, H)`` of a one-directional LSTM layer (zero initial state) on
    ``x (B, T, D)``; row ``b`` reads its first ``lengths[b]`` steps, later outputs are 0.

    The weights are ``nn.LSTM``'s (``weight_ih_l0`` etc.); gradients flow to all of them
    and to ``x``. CPU float32 only: check :func:`available` and the tensors first.

    With ``table``, ``x`` holds token ids ``(B, T)`` and the layer reads the vectors
    ``table[x]`` (an embedding lookup, row 0 being the padding row of
    ``nn.Embedding(padding_idx=0)``), computed as ``(table W_ih^T + b)[x]``: when the table has
    fewer rows than the batch has positions, that product is the smaller one, forward and
    backward. Gradients match the lookup's: row 0 of ``table`` gets none.
    """
    bias = _bias(b_ih, b_hh)
    if table is None:
        gx = F.linear(x, w_ih, bias)  # (B, T, 4H): one matrix product for all steps
    else:
        if table.requires_grad:
            # padding_idx=0: the padding row takes part in the products but learns nothing
            table = torch.cat([table[:1].detach(), table[1:]])
        gx = F.embedding(x, F.linear(table, w_ih, bias))  # (V, 4H) rows -> (B, T, 4H)
    return _recurrence(gx, w_hh, lengths)


def _bias(b_ih: torch.Tensor | None, b_hh: torch.Tensor | None) -> torch.Tensor | None:
    if b_ih is None:
        return b_hh
    return b_ih if b_hh is None else b_ih + b_hh


def _recurrence(gx: torch.Tensor, w_hh: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    if _load() is None:
        raise RuntimeError("the CPU LSTM kernel is unavailable; check available() first")
    batch, steps, _ = gx.shape
    lengths = lengths.to(torch.int64).contiguous()
    if lengths.shape != (batch,) or (batch and (lengths.min() < 0 or lengths.max() > steps)):
        raise ValueError(
            f"lengths must be {batch} values in [0, {steps}], got shape {tuple(lengths.shape)}"
        )
    return _Recurrence.apply(gx, w_hh, lengths)


# Above this many units per direction PyTorch's batched matrix products catch up: forward +
# backward of a 128 x 221-step batch on 2 threads against nn.LSTM (benchmarks/
# bench_lstm_kernel.py, median of paired ratios): 1.37x at hidden 32, 1.25x at 64, 0.95x at
# 128, 0.84x at 256.
MAX_HIDDEN = 64


_off = threading.local()


@contextlib.contextmanager
def disabled() -> Iterator[None]:
    """In this block (and thread) :func:`usable` is False: the models run ``nn.LSTM`` as a
    module, e.g. so that the forward hooks of :func:`seqlab.models.summary` see it."""
    before = getattr(_off, "on", False)
    _off.on = True
    try:
        yield
    finally:
        _off.on = before


def usable(x: torch.Tensor, hidden_size: int, *weights: torch.Tensor) -> bool:
    """Whether :func:`lstm` applies and pays off: CPU float32 tensors, ``hidden_size`` at
    most :data:`MAX_HIDDEN`, the kernel loads, not inside :func:`disabled`, and no CPU
    autocast (``precision="bf16"``: the kernel computes in float32 only, so nn.LSTM runs),
    and not while torch traces the model (``torch.jit.trace``, ONNX export, ``torch.export``):
    a trace cannot see inside the C call, so it would record its outputs as constants."""
    if hidden_size > MAX_HIDDEN or getattr(_off, "on", False):
        return False
    if torch.jit.is_tracing() or torch.compiler.is_compiling():
        return False
    if torch.is_autocast_enabled("cpu"):
        return False
    tensors = (x, *weights)
    if any(t.device.type != "cpu" or t.dtype != torch.float32 for t in tensors):
        return False
    return available()
