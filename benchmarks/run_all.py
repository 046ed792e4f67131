"""Run every benchmark one after another (never in parallel: they time wall clock).

    python benchmarks/run_all.py            # all of them, full size
    python benchmarks/run_all.py --quick    # small inputs, a smoke run
    python benchmarks/run_all.py vectorize esn   # a selection

Each script writes its own ``benchmarks/results/<name>.json``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def scripts() -> dict[str, Path]:
    return {p.stem.removeprefix("bench_"): p for p in sorted(HERE.glob("bench_*.py"))}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "names", nargs="*", help=f"benchmarks to run (default: all of {sorted(scripts())})"
    )
    parser.add_argument("--quick", action="store_true", help="small inputs: a smoke run")
    args = parser.parse_args()
    available = scripts()
    unknown = [n for n in args.names if n not in available]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {sorted(available)}")
    failed = []
    for name in args.names or sorted(available):
        cmd = [sys.executable, str(available[name])] + (["--quick"] if args.quick else [])
        print(f"== {name}: {' '.join(cmd)}", flush=True)
        start = time.perf_counter()
        rc = subprocess.call(cmd)
        print(f"== {name}: exit {rc} after {time.perf_counter() - start:.1f} s", flush=True)
        if rc:
            failed.append(name)
    if failed:
        print(f"failed: {failed}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
