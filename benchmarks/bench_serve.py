"""Load test of ``seqlab serve`` on loopback: requests/s and p50 / p99 latency of
``POST /v1/classify`` with and without micro-batching, for N concurrent clients.

    python benchmarks/bench_serve.py            # bow + lstm, 1/8/32 clients, 10 s each
    python benchmarks/bench_serve.py --quick    # bow only, 8 clients, 3 s -> serve.quick.json
    python benchmarks/bench_serve.py --runs runs/demo/bow-nbsvm runs/demo/lstm

Setup (not timed): unless ``--runs`` is given, two classifiers are trained on the bundled
movie-review snippets (a bag-of-words MLP on uni+bigrams and a small LSTM) into a temporary
folder. For each setting (``--batch`` / ``--no-batch``) the server is started as its own
process (``seqlab serve ... --host 127.0.0.1``) so that client and server do not share one
Python interpreter. Then, for each model and each client count, that many asyncio clients
(one keep-alive connection each, through a minimal HTTP/1.1 client that costs less CPU than
httpx) send one-text requests (``"explain": false``: the prediction
path, where batching applies) back to back for ``--seconds`` seconds or ``--max-requests``
requests, whichever comes first, after a short warm-up. Only 127.0.0.1 is ever contacted.

Reported per (model, clients, batching): completed requests, errors, requests/s, latency
p50 / p99 / mean (ms), and the mean batch size the server formed (from ``/v1/models``).
Results go to ``benchmarks/results/serve.json`` (``serve.quick.json`` with ``--quick``),
written atomically.

``--mixed``: one server (batching on) per model, ``--clients`` light clients (default 32;
one text, ``"explain": false``) measured first alone, then while ``--heavy-clients``
(default 4) send the largest explain requests the server accepts (texts of
``max_text_chars`` characters, as many as ``max_explain_tokens`` allows) back to back.
Reported: the light requests' p50 / p99 in both phases and their ratio (goal: p99 under
load within 3x of unloaded), the heavy requests' status counts, and the server's RSS at the
start, at its peak and ``--settle`` seconds after the run (``rss_returned``: within 10 % +
20 MB of the start). Results: ``serve.mixed.json`` (``serve.mixed.quick.json``).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from _common import REPO, RESULTS, environment, write_json

HOST = "127.0.0.1"  # loopback only, always


def train_runs(folder: Path, quick: bool) -> tuple[list[Path], list[str]]:
    """Train the benchmark's classifiers on the snippets; return their folders and the
    held-out texts the clients send."""
    import torch

    import seqlab
    import seqlab.data.datasets as ds
    from seqlab.models.dense import BagOfWordsMLP
    from seqlab.models.rnn import LSTMClassifier
    from seqlab.text import TextVectorizer

    full = ds.snippets()
    train, test = ds.train_test_split(full, test_size=0.2, seed=0)
    if quick:
        train, _ = ds.train_test_split(train, test_size=0.7, seed=0)
    common = {"seed": 0, "device": "cpu", "progress": False, "val_split": 0.1}
    vec = TextVectorizer(output_mode="multi_hot", ngram_range=(1, 2)).fit(train.texts)
    seqlab.fit(BagOfWordsMLP(vec.vocab_size), vec, train, epochs=1 if quick else 3,
               batch_size=256, lr=1e-2, out=folder / "bow", overwrite=True, **common)  # fmt: skip
    runs = [folder / "bow"]
    if not quick:
        vec = TextVectorizer(output_mode="int", max_tokens=10_000).fit(train.texts)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model = LSTMClassifier(vocab_size=vec.vocab_size, embedding_dim=32, hidden_size=32)
        seqlab.fit(model, vec, train, epochs=2, batch_size=64, lr=3e-3, out=folder / "lstm", overwrite=True,
                   **common)  # fmt: skip
        runs.append(folder / "lstm")
    return runs, list(test.texts)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def start_server(runs: list[Path], batch: bool, port: int) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "seqlab.cli.main", "serve", *map(str, runs), "--host", HOST,
           "--port", str(port), "--batch" if batch else "--no-batch", "--log-level", "warning"]  # fmt: skip
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)


def stop(proc: subprocess.Popen) -> None:
    """Stop the server process (killed if it has not ended 20 s after SIGTERM)."""
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 180.0) -> dict[str, Any]:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with code {proc.returncode} before serving")
        try:
            return httpx.get(url + "/v1/models", timeout=2.0).json()
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"the server at {url} did not answer within {timeout:.0f} s")


def batch_stats(url: str, model: str) -> dict[str, Any]:
    import httpx

    models = httpx.get(url + "/v1/models", timeout=10.0).json()["models"]
    return next(m for m in models if m["name"] == model).get("batching") or {}


class Connection:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams: on two cores, httpx's own
    cost per request would be measured as much as the server's."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int):
        self.reader, self.writer, self.port = reader, writer, port

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(HOST, port)
        return cls(reader, writer, port)

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        await self.writer.drain()
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("the server closed the connection")
        status = int(status_line.split()[1])
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


async def load(
    port: int, model: str, texts: list[str], clients: int, seconds: float, max_requests: int
) -> dict[str, Any]:
    """``clients`` concurrent clients, one request at a time each, for ``seconds`` seconds
    or ``max_requests`` requests in all; returns the latencies and the error count."""
    bodies = [json.dumps({"model": model, "texts": [t], "explain": False}).encode() for t in texts]
    latencies: list[float] = []
    errors = 0
    sent = 0
    connections = [await Connection.open(port) for _ in range(clients)]

    async def one(conn: Connection, i: int) -> float:
        start = time.perf_counter()
        status, payload = await conn.post("/v1/classify", bodies[i % len(bodies)])
        if status != 200:
            raise RuntimeError(f"HTTP {status}: {payload[:200]!r}")
        return time.perf_counter() - start

    try:
        # Warm-up: first-call costs paid, not counted.
        for _ in range(2):
            await asyncio.gather(*(one(c, k) for k, c in enumerate(connections)))
        stop_at = time.perf_counter() + seconds

        async def client(k: int) -> None:
            nonlocal errors, sent
            i = k
            while time.perf_counter() < stop_at and sent < max_requests:
                sent += 1
                try:
                    latencies.append(await one(connections[k], i))
                except Exception:
                    errors += 1
                    connections[k].close()
                    connections[k] = await Connection.open(port)
                i += clients

        start = time.perf_counter()
        await asyncio.gather(*(client(k) for k in range(clients)))
        elapsed = time.perf_counter() - start
    finally:
        for conn in connections:
            conn.close()
    lat = np.array(latencies) * 1000
    return {
        "requests": len(latencies),
        "errors": errors,
        "seconds": round(elapsed, 3),
        "requests_per_s": round(len(latencies) / elapsed, 1) if elapsed > 0 else 0.0,
        "p50_ms": round(float(np.percentile(lat, 50)), 2) if len(lat) else None,
        "p99_ms": round(float(np.percentile(lat, 99)), 2) if len(lat) else None,
        "mean_ms": round(float(lat.mean()), 2) if len(lat) else None,
    }


def rss_mb(pid: int) -> float | None:
    """Resident memory of process ``pid`` in MB (Linux /proc), or None elsewhere."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def heavy_body(model: str, texts: list[str], limits: dict[str, Any]) -> bytes:
    """The largest explain request the server accepts: texts of ``max_text_chars``
    characters, as many as ``max_explain_tokens`` allows (counting words as tokens)."""
    long_text = ""
    for t in itertools.cycle(texts):
        if len(long_text) + len(t) + 1 > limits["max_text_chars"]:
            break
        long_text += t + " "
    words = max(1, len(long_text.split()))
    count = max(1, min(limits["max_texts"], limits["max_explain_tokens"] // words))
    body = {"model": model, "texts": [long_text] * count, "explain": True}
    return json.dumps(body).encode()


async def heavy_client(port: int, body: bytes, stop: asyncio.Event, statuses: Counter) -> None:
    conn = await Connection.open(port)
    try:
        while not stop.is_set():
            try:
                status, _ = await conn.post("/v1/classify", body)
            except (ConnectionError, asyncio.IncompleteReadError):
                statuses["reset"] += 1
                conn.close()
                conn = await Connection.open(port)
                continue
            statuses[str(status)] += 1
            if status == 503:
                await asyncio.sleep(1.0)  # as Retry-After asks
    finally:
        conn.close()


async def mixed_phase(
    port: int, model: str, texts: list[str], args: argparse.Namespace, body: bytes | None
) -> tuple[dict[str, Any], dict[str, int]]:
    """Light load alone (``body=None``) or with heavy clients sending ``body``."""
    stop, statuses = asyncio.Event(), Counter()
    heavy = []
    if body is not None:
        heavy = [
            asyncio.create_task(heavy_client(port, body, stop, statuses))
            for _ in range(args.heavy_clients)
        ]
        await asyncio.sleep(min(1.0, args.seconds))  # the heavy requests are under way
    light = await load(port, model, texts, args.clients[0], args.seconds, args.max_requests)
    stop.set()
    await asyncio.gather(*heavy)
    return light, dict(statuses)


async def watch_rss(pid: int, work: Any) -> tuple[Any, float]:
    """Await ``work`` while sampling the RSS of ``pid``; returns its result and the peak."""
    samples = [0.0]

    async def watch() -> None:
        while True:
            samples.append(rss_mb(pid) or 0.0)
            await asyncio.sleep(0.2)

    watcher = asyncio.create_task(watch())
    try:
        return await work, max(samples)
    finally:
        watcher.cancel()


def run_mixed(runs: list[Path], texts: list[str], args: argparse.Namespace) -> list[dict]:
    results = []
    for run in runs:
        port = free_port()
        url = f"http://{HOST}:{port}"
        proc = start_server([run], True, port)
        try:
            limits = wait_ready(url, proc)["limits"]
            asyncio.run(load(port, run.name, texts, 2, 0.2, 50))  # warm-up, not counted
            rss_start = rss_mb(proc.pid)
            alone, _ = asyncio.run(mixed_phase(port, run.name, texts, args, None))
            body = heavy_body(run.name, texts, limits)
            loaded = mixed_phase(port, run.name, texts, args, body)
            (busy, heavy_statuses), peak = asyncio.run(watch_rss(proc.pid, loaded))
            time.sleep(args.settle)
            rss_end = rss_mb(proc.pid)
        finally:
            stop(proc)
        ratio = (
            round(busy["p99_ms"] / alone["p99_ms"], 2)
            if busy["p99_ms"] and alone["p99_ms"]
            else None
        )
        r = {
            "model": run.name,
            "light_clients": args.clients[0],
            "heavy_clients": args.heavy_clients,
            "heavy_request": {"texts": len(json.loads(body)["texts"]), "bytes": len(body)},
            "light_alone": alone,
            "light_with_heavy": busy,
            "p99_ratio": ratio,
            "p99_within_3x": ratio is not None and ratio <= 3.0,
            "heavy_statuses": heavy_statuses,
            "rss_mb": {"start": rss_start, "peak": max(peak, rss_start or 0.0), "end": rss_end},
            "rss_returned": None
            if rss_start is None or rss_end is None
            else rss_end <= rss_start * 1.1 + 20,
        }
        results.append(r)
        print(
            f"{run.name:>6} light p50/p99 alone {alone['p50_ms']}/{alone['p99_ms']} ms, with "
            f"{args.heavy_clients} heavy {busy['p50_ms']}/{busy['p99_ms']} ms (x{ratio}); "
            f"heavy {heavy_statuses}; RSS {r['rss_mb']} returned={r['rss_returned']}",
            flush=True,
        )
    return results


def mixed_report(results: list[dict], args: argparse.Namespace) -> dict[str, Any]:
    return {
        "benchmark": "serve-mixed",
        "quick": bool(args.quick),
        "date": (machine := environment(cpus=os.cpu_count()))["date"],
        "what": "light POST /v1/classify (one text, explain=false) from --clients clients, "
        "alone and while --heavy-clients send the largest explain requests accepted",
        "seconds_per_phase": args.seconds,
        "goal": "light p99 with heavy clients within 3x of light p99 alone; RSS returns",
        "machine": machine,
        "versions": versions(),
        "results": results,
    }


async def _slow_client(port: int) -> str:
    """Headers promising a 1,000-byte body, then 10 bytes and silence: what comes back."""
    reader, writer = await asyncio.open_connection(HOST, port)
    head = f"POST /v1/classify HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
    writer.write((head + "Content-Length: 1000\r\n\r\n").encode() + b'{"texts": ')
    await writer.drain()
    try:
        line = await asyncio.wait_for(reader.readline(), timeout=120)
        return line.decode("latin-1").split(" ")[1] if line else "closed"
    except (TimeoutError, ConnectionError, IndexError):
        return "no answer"
    finally:
        writer.close()


def run_slow(runs: list[Path], args: argparse.Namespace) -> dict[str, Any]:
    """``--slow N``: N connections that send a tenth of their promised body; the server's RSS
    at the start, while they hang, and ``--settle`` seconds after the read timeout cut them."""
    port = free_port()
    proc = start_server(runs[:1], True, port)
    try:
        wait_ready(f"http://{HOST}:{port}", proc)
        start = rss_mb(proc.pid)

        async def many() -> tuple[list[str], float | None]:
            tasks = [asyncio.create_task(_slow_client(port)) for _ in range(args.slow)]
            await asyncio.sleep(5.0)
            during = rss_mb(proc.pid)
            return list(await asyncio.gather(*tasks)), during

        t0 = time.perf_counter()
        answers, during = asyncio.run(many())
        cut_after = time.perf_counter() - t0
        time.sleep(args.settle)
        end = rss_mb(proc.pid)
    finally:
        stop(proc)
    counts = {a: answers.count(a) for a in sorted(set(answers))}
    returned = None if start is None or end is None else end <= start * 1.1 + 20
    print(f"slow clients {args.slow}: answers {counts} after {cut_after:.1f} s; RSS start "
          f"{start} MB, while hanging {during} MB, end {end} MB (returned={returned})")  # fmt: skip
    return {
        "benchmark": "serve.slow",
        "what": "N clients send headers promising a 1,000-byte body, then 10 bytes and "
        "nothing; the server (default --read-timeout 10 s) should answer 408 and free them",
        "clients": args.slow,
        "answers": counts,
        "all_cut_after_s": round(cut_after, 1),
        "rss_mb": {"start": start, "while_hanging": during, "end": end},
        "settle_s": args.settle,
        "rss_returned": returned,
        "environment": environment(),
    }


def versions() -> dict[str, str]:
    out = {}
    for name in ("seqlab", "torch", "fastapi", "uvicorn"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="bow only, 8 clients, 3 s: a smoke run"
    )
    parser.add_argument("--runs", nargs="+", type=Path, help="classifier run folders to serve")
    parser.add_argument("--clients", nargs="+", type=int, help="client counts [1 8 32; quick: 8]")
    parser.add_argument("--seconds", type=float, help="measured seconds per setting [10; quick: 3]")
    parser.add_argument("--max-requests", type=int, default=200_000, help="cap per setting")
    parser.add_argument("--out", type=Path, help="result file [results/serve.json]")
    parser.add_argument(
        "--mixed", action="store_true", help="light clients alone, then with heavy explain clients"
    )
    parser.add_argument("--heavy-clients", type=int, default=4, help="with --mixed [4]")
    parser.add_argument(
        "--slow", type=int, default=0, metavar="N", help="N clients that stall their bodies"
    )
    parser.add_argument(
        "--settle", type=float, default=5.0, help="with --mixed: seconds before the last RSS [5]"
    )
    args = parser.parse_args()
    clients = args.clients or ([32] if args.mixed else [8] if args.quick else [1, 8, 32])
    seconds = args.seconds or (3.0 if args.quick else 10.0)
    args.clients, args.seconds = clients, seconds
    name = "serve.slow" if args.slow else "serve.mixed" if args.mixed else "serve"
    out = args.out or RESULTS / (f"{name}.quick.json" if args.quick else f"{name}.json")
    if any(c < 1 for c in clients) or seconds <= 0:
        parser.error("--clients must be >= 1 and --seconds > 0")

    with tempfile.TemporaryDirectory(prefix="seqlab-bench-serve-") as tmp:
        if args.runs:
            import seqlab.data.datasets as ds

            runs = list(args.runs)
            texts = list(ds.train_test_split(ds.snippets(), test_size=0.2, seed=0)[1].texts)
        else:
            print("training the benchmark's classifiers (not timed) ...", flush=True)
            runs, texts = train_runs(Path(tmp), args.quick)
        if args.slow:
            write_json(out, run_slow(runs, args))
            print(f"wrote {out}")
            return 0
        if args.mixed:
            write_json(out, mixed_report(run_mixed(runs, texts, args), args))
            print(f"wrote {out}")
            return 0
        names = [r.name for r in runs]
        results = []
        for batch in (False, True):
            port = free_port()
            url = f"http://{HOST}:{port}"
            proc = start_server(runs, batch, port)
            try:
                wait_ready(url, proc)
                for model in names:
                    for n in clients:
                        before = batch_stats(url, model)
                        r = asyncio.run(load(port, model, texts, n, seconds, args.max_requests))
                        after = batch_stats(url, model)
                        if batch and after:
                            done = after["texts"] - before["texts"]
                            runs_ = after["batches"] - before["batches"]
                            r["mean_batch"] = round(done / runs_, 2) if runs_ else None
                        r.update({"model": model, "clients": n, "batching": batch})
                        results.append(r)
                        print(
                            f"{model:>6} clients {n:>3} batching {'on ' if batch else 'off'}  "
                            f"{r['requests_per_s']:>8.1f} req/s  p50 {r['p50_ms']:>7} ms  "
                            f"p99 {r['p99_ms']:>7} ms  errors {r['errors']}"
                            + (f"  mean batch {r.get('mean_batch')}" if batch else ""),
                            flush=True,
                        )
            finally:
                stop(proc)

    speedups = {}
    for r in results:
        if r["batching"]:
            base = next(
                x for x in results
                if not x["batching"] and x["model"] == r["model"] and x["clients"] == r["clients"]
            )  # fmt: skip
            if base["requests_per_s"]:
                key = f"{r['model']}@{r['clients']}"
                speedups[key] = round(r["requests_per_s"] / base["requests_per_s"], 2)
    report = {
        "benchmark": "serve",
        "quick": bool(args.quick),
        "date": (machine := environment(cpus=os.cpu_count()))["date"],
        "what": "POST /v1/classify, one text per request, explain=false, over loopback",
        "seconds_per_setting": seconds,
        "clients": clients,
        "server": {"max_batch": 64, "batch_wait_ms": 5.0, "process": "separate, uvicorn"},
        "machine": machine,
        "versions": versions(),
        "results": results,
        "throughput_ratio_batched_over_unbatched": speedups,
    }
    write_json(out, report)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
