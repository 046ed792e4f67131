"""Data-parallel throughput: the LSTM classifier on 1 vs 2 processes (torchrun, gloo, CPU).

    python benchmarks/bench_ddp.py            # IMDB (../shared/data/imdb), 25,000 reviews, 2 epochs
    python benchmarks/bench_ddp.py --quick    # bundled snippets, 1 epoch: a smoke run

Both runs are the same command, ``seqlab classify train --model lstm`` (10,000-id
vocabulary, 500-token cut, embedding 32, LSTM(32), batch 64 = the GLOBAL batch, Adam, no
validation split, seed 0), started by ``torchrun --nproc-per-node 1`` and ``2`` with one
torch thread per process (``OMP_NUM_THREADS=1``). With 2 processes each trains on 32 rows of
every batch and DDP all-reduces the gradients over gloo (loopback).

Figures: the epoch time is the trainer's ``time_s`` (the training pass only: no data loading,
vectorizing or validation), the best of the epochs; samples/s = training texts per epoch /
that time; words/s = samples/s x the mean number of tokens a training text feeds the LSTM
(after the 500-token cut). ``wall_s`` is the whole job (start-up, loading, vectorizing
included). On a 2-core machine the speed-up is bounded by 2 and anything else running on the
machine eats into it; the gradient all-reduce and the ranks waiting for each other (their
shards have different lengths) cost the rest.

Writes benchmarks/results/ddp.json (ddp.quick.json with --quick), atomically.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import DATA, RESULTS, environment, write_json

DEFAULT_DATA = DATA / "imdb"

FULL = {"data": "imdb", "epochs": 2, "max_steps": None}
QUICK = {"data": "snippets", "epochs": 1, "max_steps": None}
MODEL_FLAGS = [
    "--model",
    "lstm",
    "--embedding-dim",
    "32",
    "--hidden-size",
    "32",
    "--max-tokens",
    "10000",
    "--truncate",
    "500",
    "--batch-size",
    "64",
    "--val-split",
    "0",
    "--seed",
    "0",
    "--device",
    "cpu",
    "--quiet",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_job(nproc: int, data: str, data_dir: str | None, epochs: int, out: Path) -> dict:
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        f"--nproc-per-node={nproc}",
        "--master-addr=127.0.0.1",
        f"--master-port={free_port()}",
        "-m",
        "seqlab.cli.main",
        "classify",
        "train",
        "--data",
        data,
        "--epochs",
        str(epochs),
        "--out",
        str(out),
        "--overwrite",  # each setting is timed twice into the same folder
        *MODEL_FLAGS,
    ]
    if data_dir:
        cmd += ["--data-dir", data_dir]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    print(f"== {nproc} process(es): {' '.join(cmd)}", flush=True)
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        raise SystemExit(f"the {nproc}-process job failed (exit {proc.returncode})")
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    history = json.loads((out / "history.json").read_text(encoding="utf-8"))
    return {"wall_s": round(wall, 2), "config": config, "history": history}


def mean_tokens(run_dir: Path, data: str, data_dir: str | None) -> float:
    """Mean ids a training text feeds the LSTM (after the cut), with the run's vectorizer."""
    import seqlab
    from seqlab.training.classify import load_dataset

    run = seqlab.load(run_dir)
    train = load_dataset(data, split="train", data_dir=data_dir)
    lengths = [len(x) for x in run.encode(train.texts)]
    return float(np.mean(lengths))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="bundled snippets, 1 epoch")
    parser.add_argument("--data-dir", default=None, help=f"IMDB folder (default {DEFAULT_DATA})")
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    data_dir = None
    if sizes["data"] == "imdb":
        data_dir = str(Path(args.data_dir) if args.data_dir else DEFAULT_DATA)
        if not Path(data_dir).exists():
            raise SystemExit(f"IMDB not found at {data_dir}; pass --data-dir or use --quick")
    runs: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench-ddp-") as tmp:
        for nproc in (1, 2):
            out = Path(tmp) / f"n{nproc}"
            job = run_job(nproc, sizes["data"], data_dir, sizes["epochs"], out)
            train_size = int(job["config"]["train"]["train_size"])
            epoch_s = [float(t) for t in job["history"]["time_s"]]
            best = min(epoch_s)
            runs[str(nproc)] = {
                "processes": nproc,
                "threads_per_process": 1,
                "epoch_s": epoch_s,
                "best_epoch_s": best,
                "samples_per_s": round(train_size / best, 1),
                "wall_s": job["wall_s"],
                "train_size": train_size,
                "final_loss": job["history"]["loss"][-1],
            }
            if nproc == 1:
                tokens = mean_tokens(out, sizes["data"], data_dir)
        for run in runs.values():
            run["words_per_s"] = round(run["samples_per_s"] * tokens, 0)
    speedup = runs["2"]["samples_per_s"] / runs["1"]["samples_per_s"]
    result = {
        "benchmark": "ddp",
        "date": (machine := environment(cpus=os.cpu_count()))["date"],
        "quick": args.quick,
        "machine": machine,
        "setup": {
            "data": sizes["data"],
            "epochs": sizes["epochs"],
            "flags": MODEL_FLAGS,
            "global_batch": 64,
            "mean_tokens_per_text": round(tokens, 1),
            "launcher": "torchrun --nproc-per-node {1,2}, gloo, OMP_NUM_THREADS=1",
        },
        "runs": runs,
        "speedup_2_vs_1": round(speedup, 3),
        "parallel_efficiency": round(speedup / 2, 3),
        "note": (
            "2 processes on a 2-core machine: the speed-up is bounded by 2 (by the cores), "
            "and the gradient all-reduce, ranks waiting for each other and other load on "
            "the machine take the rest"
        ),
    }
    name = "ddp.quick.json" if args.quick else "ddp.json"
    path = write_json(RESULTS / name, result)
    print(json.dumps({k: result[k] for k in ("runs", "speedup_2_vs_1")}, indent=2))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
