"""Uni+bigram count vectorisation of the 50,000 labelled IMDB reviews: scikit-learn's
``CountVectorizer(ngram_range=(1, 2))`` vs seqlab's ``TextVectorizer(output_mode="count",
ngram_range=(1, 2), standardize="regex", strip_html=False)``, which must give the same
vocabulary (same feature strings) and the same counts.

    python benchmarks/bench_vectorize.py                 # all 50,000 -> results/vectorize.json
    python benchmarks/bench_vectorize.py --quick         # 2,000 reviews -> vectorize.quick.json
    python benchmarks/bench_vectorize.py --limit 10000   # another subset (evenly spaced)

Each library runs ``fit_transform`` in its own forked child process (one after the other,
never in parallel), so that neither inherits the other's freed-but-kept memory; the two
alternate (sklearn, seqlab, sklearn, seqlab, ...) for at least ``--min-rounds`` rounds and
more, up to ``--max-rounds``, until the per-round ratios settle. ``speedup_wall`` is the median
of the paired ratios (``paired`` holds every round, the spread and the CPU model); the
per-library figures are medians over the rounds. Measured per library and round: wall time and CPU time of ``fit_transform`` alone (texts already in memory), and the
peak resident memory (RSS) the call added: Linux ``VmHWM`` after resetting it through
``/proc/self/clear_refs``, minus the RSS just before the call (where that reset is not
possible, a psutil thread samples the RSS every 5 ms instead). The texts are read straight
from ``aclImdb_v1.tar.gz`` with ``tarfile`` (train and test, pos and neg; unsup is skipped).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from _common import DATA, RESULTS, cpu_model, environment, paired_timing, write_json

DEFAULT_DATA = DATA / "imdb"

_MEMBER = re.compile(r"aclImdb/(train|test)/(pos|neg)/(\d+)_(\d+)\.txt$")


def load_imdb_texts(data: Path) -> list[str]:
    """The 50,000 labelled reviews, ordered by (split, label, id) so that runs are comparable."""
    archive = data / "aclImdb_v1.tar.gz" if data.is_dir() else data
    if not archive.is_file():
        raise FileNotFoundError(f"{archive}: no IMDB archive; pass --data-dir")
    items = []
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            m = _MEMBER.match(member.name)
            if m and member.isfile():
                text = tar.extractfile(member).read().decode("utf-8")  # type: ignore[union-attr]
                items.append(((m[1], m[2], int(m[3])), text))
    items.sort(key=lambda item: item[0])
    return [text for _, text in items]


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakRSS:
    """Peak RSS added while the ``with`` block runs, in bytes (see the module docstring)."""

    def __enter__(self) -> PeakRSS:
        self.method = "linux VmHWM reset via /proc/self/clear_refs"
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")  # resets the high-water mark to the current RSS
            self.start = _rss_bytes()
            self._thread = None
        except OSError:
            import psutil

            self.method = "psutil RSS sampled every 5 ms"
            proc = psutil.Process()
            self.start = proc.memory_info().rss
            self._peak = self.start
            self._stop = threading.Event()

            def sample() -> None:
                while not self._stop.wait(0.005):
                    self._peak = max(self._peak, proc.memory_info().rss)

            self._thread = threading.Thread(target=sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._thread is None:
            with open("/proc/self/status") as f:
                hwm = next(line for line in f if line.startswith("VmHWM:"))
            peak = int(hwm.split()[1]) * 1024
        else:
            self._stop.set()
            self._thread.join()
            peak = self._peak
        self.added = max(peak - self.start, 0)


def _sklearn(texts: list[str]) -> tuple[Any, list[str]]:
    from sklearn.feature_extraction.text import CountVectorizer

    vec = CountVectorizer(ngram_range=(1, 2))
    X = vec.fit_transform(texts)
    return X, vec.get_feature_names_out().tolist()


def _seqlab(texts: list[str]) -> tuple[Any, list[str]]:
    from seqlab.text import TextVectorizer

    vec = TextVectorizer(
        output_mode="count", ngram_range=(1, 2), standardize="regex", strip_html=False
    )
    X = vec.fit_transform(texts)
    return X[:, 2:], vec.get_feature_names_out()[2:]  # drop the padding / OOV columns


RUNNERS: dict[str, Callable[[list[str]], tuple[Any, list[str]]]] = {
    "sklearn": _sklearn,
    "seqlab": _seqlab,
}


def _measure(name: str, texts: list[str], folder: Path) -> None:
    """Child process: time one library, then save its vocabulary and column sums by term."""
    if name == "sklearn":
        import sklearn.feature_extraction.text  # noqa: F401  (import outside the timing)
    else:
        import seqlab.text  # noqa: F401
    with PeakRSS() as mem:
        cpu, wall = time.process_time(), time.perf_counter()
        X, names = RUNNERS[name](texts)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    order = np.argsort(np.asarray(names, dtype=object))
    column_sums = np.asarray(X.sum(axis=0, dtype=np.float64)).ravel()[order].astype(np.int64)
    np.save(folder / f"{name}.sums.npy", column_sums, allow_pickle=False)
    (folder / f"{name}.vocab.txt").write_text("\n".join(sorted(names)), encoding="utf-8")
    result = {
        "seconds": wall,
        "cpu_seconds": cpu,
        "peak_rss_added_mb": mem.added / 2**20,
        "memory_method": mem.method,
        "vocabulary_size": len(names),
        "nnz": int(X.nnz),
        "shape": list(X.shape),
    }
    (folder / f"{name}.json").write_text(json.dumps(result), encoding="utf-8")


def run_isolated(name: str, texts: list[str], folder: Path) -> dict[str, Any]:
    """Run :func:`_measure` in a forked child (texts are shared, not copied) and read back."""
    import multiprocessing as mp

    if "fork" in mp.get_all_start_methods():
        child = mp.get_context("fork").Process(target=_measure, args=(name, texts, folder))
        child.start()
        child.join()
        if child.exitcode != 0:
            raise RuntimeError(f"the {name} run failed (exit code {child.exitcode})")
    else:  # no fork: measure in this process
        _measure(name, texts, folder)
    return json.loads((folder / f"{name}.json").read_text(encoding="utf-8"))


def versions() -> dict[str, str]:
    out = {}
    for pkg in ("numpy", "scipy", "scikit-learn", "torch", "seqlab"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run of median wall time (its memory and sizes), with the medians of every
    round's wall and CPU seconds and all of them."""
    ordered = sorted(runs, key=lambda r: r["seconds"])
    out = dict(ordered[(len(ordered) - 1) // 2])
    out["seconds"] = float(np.median([r["seconds"] for r in runs]))
    out["cpu_seconds"] = float(np.median([r["cpu_seconds"] for r in runs]))
    out["peak_rss_added_mb"] = float(np.median([r["peak_rss_added_mb"] for r in runs]))
    out["seconds_each_round"] = [r["seconds"] for r in runs]
    out["cpu_seconds_each_round"] = [r["cpu_seconds"] for r in runs]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="2,000 reviews: a smoke run")
    parser.add_argument("--limit", type=int, default=None, help="use N evenly spaced reviews")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA, help="folder or archive")
    parser.add_argument("--out", type=Path, default=None, help="JSON result file")
    parser.add_argument("--min-rounds", type=int, default=3, help="paired rounds at least [3]")
    parser.add_argument(
        "--max-rounds", type=int, default=7, help="paired rounds at most, if not settled [7]"
    )
    args = parser.parse_args()
    limit = args.limit or (2000 if args.quick else None)
    out = args.out or RESULTS / ("vectorize.quick.json" if args.quick else "vectorize.json")

    start = time.perf_counter()
    try:
        texts = load_imdb_texts(args.data_dir)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    load_seconds = time.perf_counter() - start
    if limit is not None and limit < len(texts):
        texts = [texts[i] for i in np.linspace(0, len(texts) - 1, limit).astype(int)]
    print(
        f"{len(texts)} reviews, {sum(map(len, texts)):,} characters ({load_seconds:.1f} s to read)"
    )

    with tempfile.TemporaryDirectory(prefix="seqlab-bench-vectorize-") as tmp:
        folder = Path(tmp)
        runs: dict[str, list[dict[str, Any]]] = {"sklearn": [], "seqlab": []}

        def side(name: str) -> Callable[[], float]:
            def run() -> float:
                r = run_isolated(name, texts, folder)
                runs[name].append(r)
                print(
                    f"{name:8s} {r['seconds']:7.2f} s wall  {r['cpu_seconds']:7.2f} s CPU  "
                    f"peak +{r['peak_rss_added_mb']:7.1f} MB  {r['vocabulary_size']:,} terms",
                    flush=True,
                )
                return r["seconds"]

            return run

        # sklearn, seqlab, sklearn, seqlab, ... until the paired wall-time ratios settle
        paired = paired_timing(
            side("sklearn"),
            side("seqlab"),
            min_rounds=args.min_rounds,
            max_rounds=max(args.max_rounds, args.min_rounds),
            self_timed=True,
        )
        paired.pop("last")
        cpu_ratios = [
            a["cpu_seconds"] / b["cpu_seconds"]
            for a, b in zip(runs["sklearn"], runs["seqlab"], strict=True)
        ]
        results = {n: _median_run(r) for n, r in runs.items()}
        vocab = {n: (folder / f"{n}.vocab.txt").read_text(encoding="utf-8") for n in results}
        same_vocabulary = vocab["sklearn"] == vocab["seqlab"]
        sums = {n: np.load(folder / f"{n}.sums.npy", allow_pickle=False) for n in results}
        same_counts = same_vocabulary and bool(np.array_equal(sums["sklearn"], sums["seqlab"]))
        if not same_vocabulary:
            a, b = (set(vocab[n].split("\n")) for n in ("sklearn", "seqlab"))
            print(
                f"vocabularies differ: only sklearn {sorted(a - b)[:10]}, only seqlab {sorted(b - a)[:10]}"
            )

    sk, sl = results["sklearn"], results["seqlab"]
    paired["cpu_ratios"] = cpu_ratios
    paired["cpu_ratio_median"] = float(np.median(cpu_ratios))
    report = {
        "benchmark": "vectorize",
        "task": "CountVectorizer(ngram_range=(1, 2)).fit_transform on IMDB labelled reviews",
        "documents": len(texts),
        "characters": sum(map(len, texts)),
        "quick": bool(args.quick),
        "sklearn": sk,
        "seqlab": sl,
        "speedup_wall": paired["ratio_median"],  # median of the paired per-round ratios
        "speedup_wall_range": [paired["ratio_min"], paired["ratio_max"]],
        "speedup_cpu": paired["cpu_ratio_median"],
        "paired": paired,
        "vocabulary_size": sl["vocabulary_size"],
        "same_vocabulary": same_vocabulary,
        "same_counts": same_counts and sk["nnz"] == sl["nnz"],
        "seqlab_settings": {
            "output_mode": "count",
            "ngram_range": [1, 2],
            "standardize": "regex",
            "token_pattern": r"(?u)\b\w\w+\b",
            "strip_html": False,
        },
        "machine": (machine := environment(processor=cpu_model(), **versions())),
        "date": machine["date"],
        "note": "wall times depend on machine load; cpu_seconds are less sensitive to it",
    }
    write_json(out, report)
    print(
        f"speed-up {report['speedup_wall']:.2f}x wall (median of {paired['rounds']} paired "
        f"rounds, range {paired['ratio_min']:.2f}-{paired['ratio_max']:.2f}, settled: "
        f"{paired['settled']}, {paired['cpu_model']}), {report['speedup_cpu']:.2f}x CPU; "
        f"same vocabulary: {same_vocabulary}; same counts: {report['same_counts']} -> {out}"
    )
    return 0 if report["same_counts"] else 1


if __name__ == "__main__":
    sys.exit(main())
