"""IMDB load time: the first (cold) load that streams the archive and builds the cache, vs.
the second (cached) load, for all three splits (train, test, unsup).

    python benchmarks/bench_imdb_load.py                 # the real archive -> results/imdb_load.json
    python benchmarks/bench_imdb_load.py --quick         # synthetic archive -> imdb_load.quick.json
    python benchmarks/bench_imdb_load.py --data-dir DIR  # another copy of aclImdb_v1.tar.gz

The cache goes to a fresh temporary ``SEQLAB_CACHE`` so the first load really is cold; the
user's own cache is not touched.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from _common import DATA, RESULTS, environment, write_json

DEFAULT_DATA = DATA / "imdb"

WORDS = (
    "the a film movie was is great terrible plot acting i loved hated it and of to this "
    "story director scenes music boring brilliant <br /><br /> characters ending"
).split()


def synthetic_archive(folder: Path, per_class: int, seed: int = 0) -> Path:
    """Write a small ``aclImdb_v1.tar.gz`` with the official layout and random reviews."""
    gen = random.Random(seed)
    path = folder / "aclImdb_v1.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for split, classes in (("train", ("neg", "pos", "unsup")), ("test", ("neg", "pos"))):
            for cls in classes:
                count = per_class * (2 if cls == "unsup" else 1)
                for i in range(count):
                    rating = {"neg": gen.randint(1, 4), "pos": gen.randint(7, 10)}.get(cls, 0)
                    words = gen.choices(WORDS, k=gen.randint(20, 400))
                    data = " ".join(words).encode("utf-8")
                    info = tarfile.TarInfo(f"aclImdb/{split}/{cls}/{i}_{rating}.txt")
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
    return path


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small synthetic archive: a smoke run")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA, help="folder or archive")
    parser.add_argument("--out", type=Path, default=None, help="JSON result file")
    parser.add_argument("--repeats", type=int, default=3, help="cached loads to time (min is kept)")
    args = parser.parse_args()
    name = "imdb_load.quick.json" if args.quick else "imdb_load.json"
    out = args.out or RESULTS / name

    with tempfile.TemporaryDirectory(prefix="seqlab-bench-imdb-") as tmp:
        os.environ["SEQLAB_CACHE"] = str(Path(tmp) / "cache")
        # Imported after SEQLAB_CACHE is set, so nothing can have cached the old value.
        from seqlab.data.download import sha256_file
        from seqlab.data.imdb import IMDB_SPLITS, imdb, imdb_path

        if args.quick:
            source = synthetic_archive(Path(tmp), per_class=200)
        else:
            try:
                source = imdb_path(args.data_dir)
            except FileNotFoundError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2

        start = time.perf_counter()
        parts = imdb(IMDB_SPLITS, data_dir=source, progress=False)
        cold = time.perf_counter() - start
        warm = []
        for _ in range(max(args.repeats, 1)):
            start = time.perf_counter()
            again = imdb(IMDB_SPLITS, data_dir=source, progress=False)
            warm.append(time.perf_counter() - start)
            assert [len(p) for p in again] == [len(p) for p in parts]
        cache = Path(parts[0].meta["cache"])
        cache_bytes = sum(f.stat().st_size for f in cache.rglob("*") if f.is_file())

        result = {
            "benchmark": "imdb_load",
            "what": "seqlab.datasets.imdb(('train','test','unsup')): first load (stream the "
            "archive, parse, write the cache) vs. a cached load",
            "quick": args.quick,
            "source": str(source) if not args.quick else "synthetic archive (--quick)",
            "source_bytes": source.stat().st_size,
            "source_sha256": sha256_file(source),
            "counts": {name: len(p) for name, p in zip(IMDB_SPLITS, parts)},
            "cold_seconds": round(cold, 3),
            "cached_seconds": round(min(warm), 3),
            "cached_seconds_all": [round(w, 3) for w in warm],
            "speedup": round(cold / min(warm), 1),
            "cache_bytes": cache_bytes,
            **environment(),
        }
    print(json.dumps(result, indent=2))
    write_json(out, result)
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
