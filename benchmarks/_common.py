"""What every benchmark script shares: paths, the environment record, JSON results and a
paired timing helper.

    from _common import RESULTS, environment, paired_timing, write_json

``environment()`` records where a number was measured (CPU model from ``/proc/cpuinfo``,
cores, load, library versions, torch threads, git commit, date), so that a ratio in the README
can be traced to a machine. ``paired_timing(baseline, seqlab)`` times the two sides
alternately (A B A B ...) so that a drift of the machine's speed hits both alike, and reports
the median of the per-round ratios ``baseline / seqlab`` with its spread.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results"
DATA = REPO.parent / "shared" / "data"
if str(REPO / "src") not in sys.path:
    sys.path.insert(0, str(REPO / "src"))  # run from a checkout without installing

__all__ = [
    "DATA",
    "HERE",
    "REPO",
    "RESULTS",
    "cpu_features",
    "cpu_model",
    "environment",
    "git_commit",
    "paired_timing",
    "read_json",
    "timed",
    "write_json",
    "write_results",
]


def cpu_model() -> str:
    """The CPU's model name from ``/proc/cpuinfo`` (else what ``platform`` knows)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# The instruction sets that decide which kernels PyTorch can use (bfloat16 pays only with
# AVX512-BF16 or AMX), as /proc/cpuinfo names them.
CPU_FEATURES = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_tile")


def cpu_features() -> list[str]:
    """Which of :data:`CPU_FEATURES` the CPU has (from ``/proc/cpuinfo``; empty elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return [name for name in CPU_FEATURES if name in flags]
    except OSError:
        pass
    return []


def git_commit() -> str | None:
    """The checked-out commit, with ``+dirty`` when tracked files differ from it."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "HEAD"],
            capture_output=True, text=True, check=True, timeout=10,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, check=True, timeout=10,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "")


def _version(module: str) -> str | None:
    try:
        return __import__(module).__version__
    except ImportError:
        return None


def environment(**extra: Any) -> dict[str, Any]:
    """Where and when a benchmark ran; ``extra`` adds (or overrides) script-specific fields.

    The field names are the ones the scripts used before they shared this record
    (``python``, ``platform``, ``machine``, ``cpu_count``, ``torch``, ``torch_threads``...),
    so earlier result files stay comparable.
    """
    env: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "cpu_model": cpu_model(),
        "cpu_features": cpu_features(),
        "cpu_count": os.cpu_count(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "numpy": _version("numpy"),
        "torch": _version("torch"),
        "seqlab": _version("seqlab"),
        "blas_threads_env": {
            k: os.environ.get(k)
            for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
        },
    }
    if "torch" in sys.modules:
        env["torch_threads"] = sys.modules["torch"].get_num_threads()
    env.update(extra)
    return env


def write_json(path: Path, data: Any) -> Path:
    """Write ``data`` as indented JSON, atomically (a reader never sees half a file)."""
    from seqlab._utils import atomic_write_json

    return atomic_write_json(Path(path), data)


def write_results(path: Path | str, benchmark: str, results: Any, **fields: Any) -> Path:
    """Write ``{"benchmark", **fields, "results", "environment"}`` to ``path`` (atomically,
    :func:`write_json`) and say where; the path."""
    out = write_json(
        Path(path),
        {"benchmark": benchmark, **fields, "results": results, "environment": environment()},
    )
    print(f"wrote {out}")
    return out


def read_json(path: Path) -> Any:
    from seqlab._utils import read_json as _read

    return _read(Path(path))


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    """``(fn(), seconds)``."""
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def _quartiles(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return values[0], values[0]
    q = statistics.quantiles(values, n=4, method="inclusive")
    return q[0], q[2]


def paired_timing(
    baseline: Callable[[], Any],
    seqlab: Callable[[], Any],
    *,
    min_rounds: int = 3,
    max_rounds: int = 9,
    tolerance: float = 0.05,
    self_timed: bool = False,
    label: str = "",
) -> dict[str, Any]:
    """Time ``baseline`` and ``seqlab`` alternately (A B A B ...) until the ratios settle.

    Each round times one call of each side; its ratio is ``baseline / seqlab`` (above 1:
    seqlab is faster). After ``min_rounds`` rounds, rounds stop as soon as the interquartile
    range of the ratios is within ``tolerance`` of their median, or at ``max_rounds``.
    With ``self_timed=True`` each callable returns its own seconds (for work timed in a
    child process); otherwise each call is timed with ``time.perf_counter``.

    Returns the median ratio, its spread (min, max, quartiles), whether it settled, every
    round's times and ratio, and the CPU model; ``last`` holds the last call's return values
    ``(baseline, seqlab)`` (not JSON: pop it before writing).

    >>> r = paired_timing(lambda: sum(range(10_000)), lambda: sum(range(1_000)))  # doctest: +SKIP
    >>> r["ratio_median"] > 1  # doctest: +SKIP
    True
    """
    if not 1 <= min_rounds <= max_rounds:
        raise ValueError(
            f"min_rounds={min_rounds}, max_rounds={max_rounds}: need 1 <= min_rounds <= "
            "max_rounds; use e.g. min_rounds=3, max_rounds=9"
        )
    if tolerance < 0:
        raise ValueError(f"tolerance={tolerance!r} is negative; give a fraction such as 0.05")
    times: dict[str, list[float]] = {"baseline": [], "seqlab": []}
    last: list[Any] = [None, None]
    ratios: list[float] = []
    settled = False
    for round_ in range(max_rounds):
        for i, (side, fn) in enumerate((("baseline", baseline), ("seqlab", seqlab))):
            start = time.perf_counter()
            out = fn()
            seconds = float(out) if self_timed else time.perf_counter() - start
            times[side].append(seconds)
            last[i] = out
        ratios.append(times["baseline"][-1] / times["seqlab"][-1])
        if label:
            print(
                f"[{label}] round {round_ + 1}: baseline {times['baseline'][-1]:.3f} s, "
                f"seqlab {times['seqlab'][-1]:.3f} s, ratio {ratios[-1]:.2f}",
                flush=True,
            )
        if len(ratios) >= min_rounds:
            median = statistics.median(ratios)
            q1, q3 = _quartiles(ratios)
            if q3 - q1 <= tolerance * median:
                settled = True
                break
    median = statistics.median(ratios)
    q1, q3 = _quartiles(ratios)
    return {
        "order": "alternating: baseline, seqlab, baseline, seqlab, ...",
        "rounds": len(ratios),
        "ratio": "baseline seconds / seqlab seconds, per round (above 1: seqlab faster)",
        "ratio_median": median,
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "ratio_iqr": [q1, q3],
        "settled": settled,
        "tolerance": tolerance,
        "ratios": ratios,
        "baseline_seconds": times["baseline"],
        "seqlab_seconds": times["seqlab"],
        "baseline_median_seconds": statistics.median(times["baseline"]),
        "seqlab_median_seconds": statistics.median(times["seqlab"]),
        "cpu_model": cpu_model(),
        "last": tuple(last),
    }
