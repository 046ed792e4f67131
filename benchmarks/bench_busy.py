"""Training on a busy machine: the default character LM, quiet and with one core taken.

    python benchmarks/bench_busy.py            # 60-s legs, 3 to 5 rounds -> results/busy.json
    python benchmarks/bench_busy.py --quick    # 10-s legs, 1 round -> results/busy.quick.json

The full run takes 30 to 50 minutes (6 settings x 3 to 5 rounds x 2 legs of 60 s of
training, plus start-up and a held-out evaluation per leg); --quick about 5.

The issue "One training core": with other work on a 2-core machine, the default character LM
did 19 steps in 62 s on torch's 2 threads and 1,050 on one, because idle OpenMP threads
spin (libgomp: 300,000 spins, about 10 ms, after every parallel region) on cores another
process needs. This script measures (the figures and the choice they led to: see
``seqlab._openmp``), for torch threads 1, 2 and torch's default, and
for each wait policy, training steps per second of
``seqlab.lm.train("nietzsche", level="char")`` (the default recipe) while the machine is
quiet and while a second process burns one core (a pure-Python busy loop, started before the
leg and stopped after it, bounded in time).

Wait policies, each in its own worker process (libgomp reads the variables when torch loads
it, so a policy is fixed per process; each worker imports seqlab before torch):

* ``passive``: ``OMP_WAIT_POLICY=PASSIVE`` (what ``SEQLAB_PASSIVE_WAIT=1`` sets);
* ``spin``: ``GOMP_SPINCOUNT=300000``, libgomp's own default (seqlab's and torch's);
* ``--spin-counts N ...`` compares those spin counts instead; ``--threads auto`` measures
  ``threads="auto"`` (fewer threads when other work runs when training starts).

Each worker reports the spin count libgomp actually read (``OMP_DISPLAY_ENV=VERBOSE``). For
each (policy, threads) the quiet and busy legs alternate (quiet, busy, quiet, busy, ...;
``_common.paired_timing`` on the seconds per step), and the result is the median ratio
``busy steps/s / quiet steps/s``: the share of its quiet throughput that training keeps
with one core taken. The goal: at least ~0.5 on 2 cores (sharing costs at most the share
taken). It also reports quiet steps/s passive over spin: what sleeping costs when nothing
else runs. Throughput is training steps over training time (``metrics["steps"]`` and
``metrics["train_time_s"]`` of the run: evaluations and start-up excluded). Run it on an
otherwise quiet machine: other load makes the "quiet" legs busy too.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import RESULTS, environment, paired_timing, write_json

HERE = Path(__file__).resolve().parent
WAIT_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
POLICIES: dict[str, dict[str, str]] = {
    "passive": {"OMP_WAIT_POLICY": "PASSIVE"},  # idle threads sleep (SEQLAB_PASSIVE_WAIT=1)
    "spin": {"GOMP_SPINCOUNT": "300000"},  # libgomp's default (seqlab's too), set explicitly
}
THREADS: tuple[int | None, ...] = (1, 2, None)  # None: torch's default
# A core-burning loop that stops by itself after argv[1] seconds, if nobody stops it first.
BURN = "import sys, time\nend = time.monotonic() + float(sys.argv[1])\nwhile time.monotonic() < end:\n    pass\n"
TRAIN = {"level": "char", "progress": False, "seed": 0, "eval_tokens": 2000}


# ---- the worker: one process per wait policy, legs on request -------------------------------
def worker() -> int:
    """Read one JSON request per line (``{"threads": T, "seconds": S}``), train the default
    character LM for S seconds of training time on T threads, answer one JSON line."""
    import seqlab  # before torch: sets the wait policy unless the environment chose one

    seqlab.lm.train("nietzsche", steps=3, **TRAIN)  # warm-up: lazy initialisation, caches
    import torch

    print(json.dumps({"ready": True, "torch_threads": torch.get_num_threads()}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        lm = seqlab.lm.train(
            "nietzsche",
            minutes=request["seconds"] / 60,
            threads=request["threads"],
            eval_seconds=10 * request["seconds"] + 60,  # no evaluation inside the leg
            **TRAIN,
        )
        steps, seconds = lm.metrics["steps"], lm.metrics["train_time_s"]
        print(json.dumps({"steps": steps, "train_time_s": seconds}), flush=True)
    return 0


class Worker:
    """A worker process with the environment of one wait policy."""

    def __init__(self, policy: str, policy_env: dict[str, str]) -> None:
        env = {k: v for k, v in os.environ.items() if k not in WAIT_VARIABLES}
        env.update(policy_env)
        env["OMP_DISPLAY_ENV"] = "VERBOSE"  # libgomp prints what it read, on stderr
        self.stderr = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            env=env,
            text=True,
            cwd=HERE,
        )
        ready = self._reply()
        self.torch_threads = ready["torch_threads"]
        self.stderr.seek(0)
        display = self.stderr.read()
        found = re.search(r"GOMP_SPINCOUNT = '(\d+)'", display)
        policy_line = re.search(r"OMP_WAIT_POLICY = '(\w+)'", display)
        self.spin_count = int(found.group(1)) if found else None
        self.wait_policy_shown = policy_line.group(1) if policy_line else None
        self.env = {k: env.get(k) for k in WAIT_VARIABLES}

    def _reply(self) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.stderr.seek(0)
            raise RuntimeError(f"the worker stopped:\n{self.stderr.read()[-3000:]}")
        return json.loads(line)

    def leg(self, threads: int | None, seconds: float) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"threads": threads, "seconds": seconds}) + "\n")
        self.proc.stdin.flush()
        return self._reply()

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.stderr.close()


def leg(w: Worker, threads: int | None, seconds: float, busy: bool, log: list) -> float:
    """One leg; returns seconds per training step (for paired_timing's self_timed mode)."""
    burner = None
    if busy:
        # bounded: it stops by itself well after the leg (start-up and evaluation included)
        limit = 10 * seconds + 300
        burner = subprocess.Popen([sys.executable, "-c", BURN, str(limit)])
        time.sleep(0.5)  # let it take its core before training starts
    try:
        out = w.leg(threads, seconds)
    finally:
        if burner is not None:
            burner.terminate()
            burner.wait()
    rate = out["steps"] / out["train_time_s"]
    log.append({"busy": busy, **out, "steps_per_s": rate, "load_average": os.getloadavg()})
    print(
        f"  {'busy ' if busy else 'quiet'}: {out['steps']} steps in {out['train_time_s']:.1f} s "
        f"= {rate:.2f} steps/s",
        flush=True,
    )
    return out["train_time_s"] / max(out["steps"], 1)


def measure(w: Worker, threads: int | None, args: argparse.Namespace) -> dict[str, Any]:
    log: list[dict[str, Any]] = []
    timing = paired_timing(
        lambda: leg(w, threads, args.seconds, False, log),
        lambda: leg(w, threads, args.seconds, True, log),
        min_rounds=args.rounds,
        max_rounds=args.max_rounds,
        tolerance=0.1,
        self_timed=True,
    )
    timing.pop("last")
    quiet = [r["steps_per_s"] for r in log if not r["busy"]]
    busy = [r["steps_per_s"] for r in log if r["busy"]]
    return {
        "threads": threads,
        "quiet_steps_per_s": statistics.median(quiet),
        "busy_steps_per_s": statistics.median(busy),
        # quiet s/step over busy s/step, per round: the share of throughput kept when busy
        "busy_over_quiet": timing["ratio_median"],
        "busy_over_quiet_range": [timing["ratio_min"], timing["ratio_max"]],
        "rounds": timing["rounds"],
        "settled": timing["settled"],
        "legs": log,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="10-s legs, 1 round (a check)")
    parser.add_argument("--seconds", type=float, default=None, help="training s per leg [60]")
    parser.add_argument("--rounds", type=int, default=None, help="min quiet/busy rounds [3]")
    parser.add_argument("--max-rounds", type=int, default=None, help="max rounds [5]")
    parser.add_argument("--out", type=Path, default=None, help="JSON result file")
    parser.add_argument(
        "--spin-counts",
        type=int,
        nargs="+",
        default=None,
        help="compare these GOMP_SPINCOUNT values instead of the two policies (-> busy.spin.json)",
    )
    parser.add_argument(
        "--threads",
        nargs="+",
        default=None,
        help="torch threads to measure: ints, 'auto' [1 2 default]",
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker()
    args.seconds = args.seconds or (10.0 if args.quick else 60.0)
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.max_rounds = max(args.rounds, args.max_rounds or (1 if args.quick else 5))
    policies = POLICIES
    if args.spin_counts:
        policies = {f"spin{n}": {"GOMP_SPINCOUNT": str(n)} for n in args.spin_counts}
    threads_list: tuple[int | str | None, ...] = THREADS
    if args.threads:
        threads_list = tuple(t if t == "auto" else int(t) for t in args.threads)
    name = "busy.spin" if args.spin_counts else "busy"
    out = args.out or RESULTS / (f"{name}.quick.json" if args.quick else f"{name}.json")

    workers = {name: Worker(name, env) for name, env in policies.items()}
    results: dict[str, Any] = {}
    try:
        for name, w in workers.items():
            print(
                f"policy {name}: {w.env}, libgomp read spin count {w.spin_count}, "
                f"torch threads {w.torch_threads}",
                flush=True,
            )
        for threads in threads_list:
            for name, w in workers.items():
                print(f"[{name}, threads {threads or 'default'}]", flush=True)
                r = measure(w, threads, args)
                results.setdefault(name, {})[str(threads or "default")] = r
                print(
                    f"  -> quiet {r['quiet_steps_per_s']:.2f}, busy {r['busy_steps_per_s']:.2f} "
                    f"steps/s: busy keeps {r['busy_over_quiet']:.2f} of quiet",
                    flush=True,
                )
    finally:
        for w in workers.values():
            w.close()

    print("\nshare of quiet throughput kept with one core burnt (goal >= ~0.5):")
    print(f"{'threads':>8} " + " ".join(f"{n:>16}" for n in policies))
    for threads in threads_list:
        key = str(threads or "default")
        cells = []
        for n in policies:
            r = results[n][key]
            cells.append(f"{r['busy_over_quiet']:5.2f} ({r['busy_steps_per_s']:5.2f}/s)")
        print(f"{key:>8} " + " ".join(f"{c:>16}" for c in cells))
    # The price of sleeping on a quiet machine (a sleeping thread takes a futex wake-up to
    # start the next region): quiet steps/s passive over spin. Medians of legs run in
    # different processes one after the other, so not paired like the ratios above.
    quiet_cost = {}
    if "passive" in results and "spin" in results:
        quiet_cost = {
            str(t or "default"): results["passive"][str(t or "default")]["quiet_steps_per_s"]
            / results["spin"][str(t or "default")]["quiet_steps_per_s"]
            for t in threads_list
        }
        print(
            "quiet steps/s, passive over spin (unpaired): "
            + ", ".join(f"threads {k} {v:.2f}" for k, v in quiet_cost.items())
        )
    record = {
        "what": "default character LM (seqlab.lm.train nietzsche, level char): training "
        "steps/s quiet and with a second process burning one core; busy_over_quiet = median "
        "per-round ratio busy/quiet throughput (goal >= ~0.5)",
        "environment": environment(
            seconds_per_leg=args.seconds,
            policies={
                n: {"env": w.env, "libgomp_spin_count": w.spin_count} for n, w in workers.items()
            },
            worker_torch_threads=next(iter(workers.values())).torch_threads,
            quick=args.quick,
        ),
        "results": results,
        "quiet_passive_over_spin": quiet_cost,
    }
    write_json(out, record)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
