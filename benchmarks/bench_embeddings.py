"""Word embeddings: seqlab against the lecture's loop and gensim, in one run.

    python benchmarks/bench_embeddings.py                # everything -> results/embeddings.json
    python benchmarks/bench_embeddings.py --quick        # small inputs -> embeddings.quick.json
    python benchmarks/bench_embeddings.py --part glove   # one part: glove | eval | w2v

(a) ``glove``: parsing ``glove.6B.50d.txt.gz`` (400,000 words) with the lecture's
    line-by-line loop, gensim ``KeyedVectors.load_word2vec_format(no_header=True)``,
    seqlab's first parse (which also writes the cache) and seqlab's cached load. The loop
    and the first parse are timed alternately (loop, seqlab, loop, seqlab, ...), at least
    ``--min-rounds`` rounds and more, up to ``--max-rounds``, until the per-round ratios
    settle; ``speedup_first_parse_vs_lecture`` is the median paired ratio and
    ``paired_first_parse_vs_lecture`` holds every round, the spread and the CPU model.
(b) ``eval``: Google analogies (first 30,000 words, as gensim) and WordSim-353 on GloVe 50d,
    gensim and seqlab side by side.
(c) ``w2v``: skip-gram on all 100,000 IMDB reviews (dim 100, window 5, negative 5,
    min_count 5, sample 1e-3, 3 epochs): gensim with workers=2 against seqlab, throughput
    (raw corpus words per second of training), analogy accuracy and WordSim-353.

``--quick`` uses the first 20,000 GloVe words and 2,000 reviews for one epoch. The cache goes
to a fresh temporary ``SEQLAB_CACHE``, so the "first parse" really parses. Results of
earlier parts in the JSON file are kept when only one part runs. Gensim is a bench-only
dependency (``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import argparse
import gzip
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from _common import DATA, RESULTS, environment, paired_timing, read_json, timed, write_json

GLOVE = DATA / "embeddings" / "glove.6B.50d.txt.gz"
QUESTIONS = DATA / "eval" / "questions-words.txt"
WORDSIM = DATA / "eval" / "wordsim353.tsv"
IMDB = DATA / "imdb"


def lecture_loop(path: Path) -> dict[str, np.ndarray]:
    """The lecture's loader, verbatim apart from opening the .gz file."""
    embeddings_index = {}
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            values = line.split()
            word = values[0]
            coefs = np.asarray(values[1:], dtype="float32")
            embeddings_index[word] = coefs
    return embeddings_index


def part_glove(glove: Path, tmp: Path, rounds: tuple[int, int]) -> dict[str, Any]:
    from gensim.models import KeyedVectors as GensimKV

    from seqlab.embeddings import load

    out: dict[str, Any] = {"file": str(glove)}
    caches = iter(range(10**6))

    def first_parse() -> Any:  # a fresh cache folder each time, so that it really parses
        os.environ["SEQLAB_CACHE"] = str(tmp / f"cache-glove-{next(caches)}")
        return load(glove)

    # the loop and seqlab's first parse, alternately, until the paired ratios settle
    paired = paired_timing(
        lambda: lecture_loop(glove),
        first_parse,
        min_rounds=rounds[0],
        max_rounds=rounds[1],
        label="glove: lecture loop / seqlab first parse",
    )
    index, first = paired.pop("last")
    out["lecture_loop_s"] = paired["baseline_median_seconds"]
    out["seqlab_first_parse_s"] = paired["seqlab_median_seconds"]
    out["paired_first_parse_vs_lecture"] = paired
    g, out["gensim_s"] = timed(lambda: GensimKV.load_word2vec_format(str(glove), no_header=True))
    cached, out["seqlab_cached_load_s"] = timed(lambda: load(glove))
    assert cached.meta["from_cache"] and not first.meta["from_cache"]
    out["words"] = len(first)
    out["dim"] = first.vector_size
    # the three parsers must agree exactly
    out["equal_to_lecture"] = bool(
        len(index) == len(first)
        and all(
            np.array_equal(index[w], first[w])
            for w in first.index_to_key[:: max(1, len(first) // 2000)]
        )
    )
    out["equal_to_gensim"] = bool(
        list(g.index_to_key) == first.index_to_key and np.array_equal(g.vectors, first.vectors)
    )
    out["speedup_first_parse_vs_lecture"] = paired["ratio_median"]  # median paired ratio
    out["speedup_first_parse_vs_lecture_range"] = [paired["ratio_min"], paired["ratio_max"]]
    out["speedup_first_parse_vs_gensim"] = out["gensim_s"] / out["seqlab_first_parse_s"]
    return out


def _seqlab_eval(kv: Any) -> dict[str, Any]:
    from seqlab.embeddings import evaluate_analogies, evaluate_word_pairs

    analogies, seconds = timed(lambda: evaluate_analogies(kv, QUESTIONS, restrict_vocab=30_000))
    pairs = evaluate_word_pairs(kv, WORDSIM)
    return {
        "analogy_accuracy": analogies["accuracy"],
        "analogy_answered": analogies["correct"] + analogies["incorrect"],
        "analogy_seconds": seconds,
        "sections": {s["section"]: s["accuracy"] for s in analogies["sections"]},
        "wordsim_pearson": pairs["pearson"],
        "wordsim_spearman": pairs["spearman"],
        "wordsim_oov_ratio": pairs["oov_ratio"],
    }


def _gensim_eval(g: Any) -> dict[str, Any]:
    (score, sections), seconds = timed(
        lambda: g.evaluate_word_analogies(str(QUESTIONS), restrict_vocab=30_000)
    )
    pearson, spearman, oov = g.evaluate_word_pairs(str(WORDSIM))
    total = sections[-1]
    return {
        "analogy_accuracy": score,
        "analogy_answered": len(total["correct"]) + len(total["incorrect"]),
        "analogy_seconds": seconds,
        "wordsim_pearson": float(pearson[0]),
        "wordsim_spearman": float(spearman[0]),
        "wordsim_oov_ratio": oov / 100,
    }


def part_eval(glove: Path, tmp: Path) -> dict[str, Any]:
    from gensim.models import KeyedVectors as GensimKV

    from seqlab.embeddings import load

    os.environ["SEQLAB_CACHE"] = str(tmp / "cache-eval")
    kv = load(glove)
    g = GensimKV.load_word2vec_format(str(glove), no_header=True)
    ours, theirs = _seqlab_eval(kv), _gensim_eval(g)
    return {
        "file": str(glove),
        "seqlab": ours,
        "gensim": theirs,
        "analogy_difference_points": 100 * (ours["analogy_accuracy"] - theirs["analogy_accuracy"]),
        "spearman_difference": ours["wordsim_spearman"] - theirs["wordsim_spearman"],
    }


def imdb_texts(limit: int | None) -> list[str]:
    """All IMDB reviews (train, test, unsup), through seqlab.datasets."""
    from seqlab.data.imdb import imdb

    texts: list[str] = []
    for ds in imdb(("train", "test", "unsup"), data_dir=IMDB, progress=False):
        texts.extend(ds.texts)
    return texts[:limit] if limit else texts


def part_w2v(docs: int | None, epochs: int, tmp: Path) -> dict[str, Any]:
    from gensim.models import Word2Vec as GensimW2V

    from seqlab.embeddings import KeyedVectors, Word2Vec
    from seqlab.embeddings.word2vec import keras_standardize

    os.environ["SEQLAB_CACHE"] = str(tmp / "cache-w2v")
    texts = imdb_texts(docs)
    sentences = [keras_standardize(t) for t in texts]
    words = sum(map(len, sentences))
    params = dict(vector_size=100, window=5, negative=5, min_count=5, sample=1e-3, epochs=epochs)
    out: dict[str, Any] = {
        "reviews": len(sentences),
        "tokens": words,
        "params": {"dim": params["vector_size"], **params},  # "dim": the earlier files' name
        "tokenizer": "seqlab.embeddings.word2vec.keras_standardize",
    }

    g = GensimW2V(
        vector_size=100, window=5, sg=1, negative=5, min_count=5, sample=1e-3, workers=2, seed=0
    )
    _, vocab_s = timed(lambda: g.build_vocab(sentences))
    _, train_s = timed(lambda: g.train(sentences, total_examples=len(sentences), epochs=epochs))
    theirs = KeyedVectors(list(g.wv.index_to_key), g.wv.vectors)
    out["gensim"] = {
        "workers": 2,
        "vocab_seconds": vocab_s,
        "train_seconds": train_s,
        "raw_words_per_second": words * epochs / train_s,
        "vocab_size": len(g.wv),
        **{k: v for k, v in _seqlab_eval(theirs).items() if k != "sections"},
    }
    model = Word2Vec(sg=True, seed=0, progress=False, **params)
    _, fit_s = timed(lambda: model.fit(sentences))
    out["seqlab"] = {
        "fit_seconds": fit_s,
        "train_seconds": model.train_seconds_,
        "raw_words_per_second": model.words_per_second_,
        "vocab_size": len(model.wv),
        **{k: v for k, v in _seqlab_eval(model.wv).items() if k != "sections"},
    }
    out["throughput_ratio_seqlab_over_gensim"] = (
        out["seqlab"]["raw_words_per_second"] / out["gensim"]["raw_words_per_second"]
    )
    out["analogy_difference_points"] = 100 * (
        out["seqlab"]["analogy_accuracy"] - out["gensim"]["analogy_accuracy"]
    )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small inputs: a smoke run")
    parser.add_argument(
        "--part",
        choices=["glove", "eval", "w2v"],
        action="append",
        help="run only these parts (repeatable; default: all)",
    )
    parser.add_argument("--out", type=Path, default=None, help="JSON result file")
    parser.add_argument(
        "--min-rounds", type=int, default=3, help="paired rounds (loop, seqlab) at least [3]"
    )
    parser.add_argument(
        "--max-rounds", type=int, default=9, help="paired rounds at most, if not settled [9]"
    )
    args = parser.parse_args()
    parts = args.part or ["glove", "eval", "w2v"]
    out_path = args.out or RESULTS / ("embeddings.quick.json" if args.quick else "embeddings.json")
    missing = [p for p in (GLOVE, QUESTIONS, WORDSIM) if not p.is_file()]
    if missing:
        print(f"error: missing data {missing}; see ../shared/data/README.md", file=sys.stderr)
        return 2
    try:
        import gensim  # noqa: F401
    except ImportError:
        print("error: gensim is needed: pip install -e '.[bench]'", file=sys.stderr)
        return 2

    results: dict[str, Any] = read_json(out_path) if out_path.is_file() else {}
    results["meta"] = environment(
        quick=args.quick, cpus=os.cpu_count(), load_average_at_start=os.getloadavg()
    )
    with tempfile.TemporaryDirectory(prefix="seqlab-bench-emb-") as tmp_name:
        tmp = Path(tmp_name)
        glove = GLOVE
        if args.quick:  # the first 20,000 words, as a small GloVe file
            glove = tmp / "glove.quick.50d.txt.gz"
            with gzip.open(GLOVE, "rb") as src:
                head = b"".join(src.readline() for _ in range(20_000))
            glove.write_bytes(gzip.compress(head))
        for part in parts:
            print(f"[embeddings] {part} ...", flush=True)
            start = time.perf_counter()
            if part == "glove":
                rounds = (3, 5) if args.quick else (args.min_rounds, args.max_rounds)
                results["glove_parse"] = r = part_glove(glove, tmp, rounds)
                p = r["paired_first_parse_vs_lecture"]
                print(
                    f"[embeddings] glove first parse vs the lecture's loop: median "
                    f"{p['ratio_median']:.2f}x over {p['rounds']} paired rounds (range "
                    f"{p['ratio_min']:.2f}-{p['ratio_max']:.2f}, settled: {p['settled']}) "
                    f"on {p['cpu_model']}",
                    flush=True,
                )
            elif part == "eval":
                results["glove_eval"] = part_eval(glove, tmp)
            else:
                results["word2vec_imdb"] = part_w2v(
                    2_000 if args.quick else None, 1 if args.quick else 3, tmp
                )
            print(f"[embeddings] {part} done in {time.perf_counter() - start:.1f}s", flush=True)
    results["meta"]["load_average_at_end"] = os.getloadavg()
    write_json(out_path, results)
    print(f"wrote {out_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
