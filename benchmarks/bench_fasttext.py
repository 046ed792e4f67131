"""IMDB sentiment, fast: the fastText library (word bigrams) vs seqlab's ``fasttext`` model.

    python benchmarks/bench_fasttext.py              # 25k train / 25k test -> results/fasttext.json
    python benchmarks/bench_fasttext.py --rounds 5   # 5 alternating timing rounds (default 3)
    python benchmarks/bench_fasttext.py --select     # seqlab's settings on a validation split
                                                     # of train -> results/fasttext.select.json
    python benchmarks/bench_fasttext.py --quick      # 2k / 2k subsample: a smoke run

Both sides get the same text: seqlab's ``TextVectorizer`` word standardisation (lowercase,
``<br />`` and punctuation removed, the apostrophe kept), on the official 25,000 / 25,000
IMDB split read by ``seqlab.datasets.imdb``.

* **fastText** (``fasttext`` from the package index, a bench-only dependency):
  ``train_supervised(input=FILE, wordNgrams=2, epoch=5, dim=50, lr=0.5, thread=THREADS)``
  (its defaults otherwise: 2,000,000 buckets, softmax loss), where FILE holds the training
  reviews, one ``__label__neg|pos word word ...`` line each, in an order shuffled with the
  seed. Timed: writing the file (tokenising the texts, shuffling, writing) and, separately,
  ``train_supervised`` (which reads the file and builds its dictionary itself).
* **seqlab**: ``FastTextClassifier`` with its defaults and ``seqlab.fit`` with the model's
  ``train_defaults`` (no argument given but the data), on all 25,000 reviews (``val_split=0``,
  as fastText trains on all of them), ``threads=THREADS``, no run folder (as fastText writes
  nothing). Timed: vectorising (``TextVectorizer(output_mode="int").fit_transform``: tokenise
  once, learn the vocabulary, token ids) plus training (building the model, whose table is
  drawn at random, and ``seqlab.fit`` on the token ids).
  Imports are not timed on either side (torch loads ``torch._dynamo`` when a process first
  steps an optimizer; ``warm_up`` does that before the first round).

The two sides run alternately ``--rounds`` times (fastText, seqlab, fastText, ...) through
``_common.paired_timing``: the ratio is fastText's ``train_supervised`` seconds over seqlab's
vectorise + train seconds, per round (above 1: seqlab faster); the file writing is reported
beside it. Every round's test accuracy is kept (fastText's Hogwild threads make its result
vary from run to run; seqlab's is fixed by the seed).

Cross-domain: every model trained on IMDB reviews (long) is also scored on the movie-review
snippets in ``../shared/data/sentiment`` (single sentences from Rotten Tomatoes; label pos
when the human score is > 0, neg when < 0; the 37 zeros are dropped: 10,568 sentences).

``--select`` chooses seqlab's settings without the test set: the training reviews are split
80/20 (stratified, seed 0); fastText (the settings above) and a small grid of seqlab settings
around the model's defaults train on the 80% and are scored on the 20%. The defaults of
``FastTextClassifier`` come from that run (``results/fasttext.select.json``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from _common import DATA, RESULTS, environment, paired_timing, write_json

FASTTEXT = {"wordNgrams": 2, "epoch": 5, "dim": 50, "lr": 0.5}
# --select: one setting changed at a time around the model's defaults
GRID: list[dict[str, Any]] = [
    {},
    {"buckets": 200_000},
    {"buckets": 1_000_000},
    {"buckets": 2_000_000},
    {"embedding_dim": 10},
    {"embedding_dim": 50},
    {"lr": 0.03},
    {"lr": 0.15},
    {"batch_size": 64},
    {"batch_size": 256},
    {"ngrams": [2, 3]},
    {"epochs": 2},
    {"epochs": 2, "embedding_dim": 50, "batch_size": 256, "lr": 0.03},
]
MODEL_KEYS = ("buckets", "embedding_dim", "ngrams")


def words_of(vectorizer: Any, texts: list[str]) -> list[str]:
    """Each text as the vectorizer's words joined by spaces: what fastText reads."""
    return [" ".join(vectorizer.words(t)) for t in texts]


def write_fasttext_file(path: Path, vectorizer, texts, labels, names, seed: int) -> None:
    order = np.random.default_rng(seed).permutation(len(texts))
    lines = words_of(vectorizer, [texts[i] for i in order])
    with open(path, "w", encoding="utf-8") as f:
        for i, line in zip(order, lines):
            f.write(f"__label__{names[labels[i]]} {line}\n")


def fasttext_accuracy(model, lines: list[str], labels: np.ndarray, names: list[str]) -> float:
    predicted = [p[0].removeprefix("__label__") for p in model.predict(lines)[0]]
    return float(np.mean([p == names[y] for p, y in zip(predicted, labels)]))


def run_fasttext(train, tests: dict, threads: int, seed: int, workdir: Path) -> dict:
    """fastText on ``train``; accuracy on each of ``tests`` (name -> dataset)."""
    import fasttext

    from seqlab.text import TextVectorizer

    vec = TextVectorizer(output_mode="int")  # its word standardisation only
    path = workdir / "fasttext_train.txt"
    t0 = time.perf_counter()
    write_fasttext_file(path, vec, train.texts, train.labels, train.label_names, seed)
    write_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    model = fasttext.train_supervised(
        input=str(path), thread=threads, seed=seed, verbose=0, **FASTTEXT
    )
    train_s = time.perf_counter() - t0
    accuracy = {
        name: fasttext_accuracy(model, words_of(vec, ds.texts), ds.labels, ds.label_names)
        for name, ds in tests.items()
    }
    return {"write_s": write_s, "train_s": train_s, "accuracy": accuracy}


def run_seqlab(train, tests: dict, threads: int, seed: int, **settings: Any) -> dict:
    """seqlab's fasttext model on ``train`` (its defaults unless ``settings`` say otherwise);
    accuracy on each of ``tests``. Timed: vectorising plus training."""
    from seqlab.models.fasttext import FastTextClassifier
    from seqlab.text import TextVectorizer
    from seqlab.training.trainer import fit

    model_kw = {k: settings.pop(k) for k in MODEL_KEYS if k in settings}
    t0 = time.perf_counter()
    vec = TextVectorizer(output_mode="int")
    x = vec.fit_transform(train.texts)
    vectorize_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    model = FastTextClassifier(vocab_size=vec.vocab_size, seed=seed, **model_kw)
    run = fit(
        model, None, (x, train.labels), val_split=0, seed=seed, threads=threads,
        restore_best=False, progress=False, **settings,
    )  # fmt: skip
    train_s = time.perf_counter() - t1
    accuracy = {
        name: float(run.evaluate((vec.transform(ds.texts), ds.labels))["accuracy"])
        for name, ds in tests.items()
    }
    return {
        "vectorize_s": vectorize_s,
        "train_s": train_s,
        "total_s": vectorize_s + train_s,
        "accuracy": accuracy,
        "vocab_size": vec.vocab_size,
        "model": dict(model.config),
        "train": {k: run.train_config[k] for k in ("epochs", "batch_size", "optimizer", "lr")}
        | {"schedule": run.train_config.get("schedule"), "steps": run.metrics["steps"]},
    }


def warm_up() -> None:
    """Load what the first optimizer in a process loads (torch imports ``torch._dynamo`` the
    first time an optimizer steps: a one-off second or two), before any timing, as the
    ``fasttext`` module is imported before its side is timed."""
    import torch

    from seqlab.models.fasttext import FastTextClassifier
    from seqlab.training.optim import build_optimizers

    model = FastTextClassifier(vocab_size=4, buckets=4)
    loss = model(tokens=torch.tensor([[2, 3]]), lengths=torch.tensor([2])).sum()
    loss.backward()
    for optimizer in build_optimizers(model, "adam", lr=0.01):
        optimizer.step()


def load_data(args) -> tuple[Any, Any, Any]:
    from seqlab.data.batching import stratified_split
    from seqlab.data.datasets import imdb, snippets

    train, test = imdb(("train", "test"), data_dir=args.data_dir)
    snip = snippets(data_dir=args.snippets_dir)
    if args.quick:
        train = train.subset(stratified_split(train.labels, 2000 / len(train), seed=0)[1])
        test = test.subset(stratified_split(test.labels, 2000 / len(test), seed=0)[1])
    for ds in (test, snip):  # label ids must mean the same names as in train
        if list(ds.label_names) != list(train.label_names):
            raise SystemExit(f"label names differ: {ds.label_names} vs {train.label_names}")
    return train, test, snip


def compare(args, train, test, snip, env: dict) -> dict:
    tests = {"imdb_test": test, "snippets": snip}
    rounds: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:

        def baseline() -> float:
            r = run_fasttext(train, tests, args.threads, args.seed, Path(tmp))
            rounds.append({"side": "fasttext", **r})
            print(f"  fastText: write {r['write_s']:.1f} s, train {r['train_s']:.1f} s, "
                  f"accuracy {r['accuracy']}", flush=True)  # fmt: skip
            return r["train_s"]

        def ours() -> float:
            r = run_seqlab(train, tests, args.threads, args.seed)
            rounds.append({"side": "seqlab", **r})
            print(f"  seqlab: vectorize {r['vectorize_s']:.1f} s, train {r['train_s']:.1f} s, "
                  f"accuracy {r['accuracy']}", flush=True)  # fmt: skip
            return r["total_s"]

        timing = paired_timing(
            baseline, ours, min_rounds=args.rounds, max_rounds=args.rounds,
            self_timed=True, label="fasttext",
        )  # fmt: skip
    timing.pop("last")
    ft = [r for r in rounds if r["side"] == "fasttext"]
    sq = [r for r in rounds if r["side"] == "seqlab"]

    def median(rows: list[dict], key: str) -> float:
        return float(np.median([r[key] for r in rows]))

    def accuracies(rows: list[dict], name: str) -> list[float]:
        return [r["accuracy"][name] for r in rows]

    summary = {
        "fasttext_train_s_median": median(ft, "train_s"),
        "fasttext_write_s_median": median(ft, "write_s"),
        "seqlab_vectorize_s_median": median(sq, "vectorize_s"),
        "seqlab_train_s_median": median(sq, "train_s"),
        "seqlab_total_s_median": median(sq, "total_s"),
        "ratio_median": timing["ratio_median"],
        "ratio_with_file_writing": (median(ft, "train_s") + median(ft, "write_s"))
        / median(sq, "total_s"),
        "imdb_test_accuracy": {
            "fasttext": accuracies(ft, "imdb_test"),
            "seqlab": accuracies(sq, "imdb_test"),
        },
        "snippets_accuracy": {
            "fasttext": accuracies(ft, "snippets"),
            "seqlab": accuracies(sq, "snippets"),
        },
    }
    return {
        "benchmark": "fasttext",
        "quick": args.quick,
        "threads": args.threads,
        "train_size": len(train),
        "test_size": len(test),
        "snippets_size": len(snip),
        "fasttext_settings": FASTTEXT,
        "summary": summary,
        "timing": timing,
        "rounds": rounds,
        "environment": env,
    }


def select(args, train, env: dict) -> dict:
    """Validation runs: seqlab's grid and fastText's reference on an 80/20 split of train."""
    from seqlab.data.batching import stratified_split

    fit_idx, val_idx = stratified_split(train.labels, 0.2, seed=0)
    part, val = train.subset(fit_idx), train.subset(val_idx)
    tests = {"validation": val}
    print(f"select: {len(part)} training / {len(val)} validation reviews", flush=True)
    out: dict[str, Any] = {"benchmark": "fasttext.select", "quick": args.quick, "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        ref = run_fasttext(part, tests, args.threads, args.seed, Path(tmp))
    out["fasttext"] = ref
    print(f"  fastText: {ref['accuracy']['validation']:.4f}", flush=True)
    for change in GRID:
        r = run_seqlab(part, tests, args.threads, args.seed, **dict(change))
        out["runs"].append({"change": change, **r})
        print(f"  seqlab {change or 'defaults'}: {r['accuracy']['validation']:.4f} "
              f"(vectorize {r['vectorize_s']:.1f} s, train {r['train_s']:.1f} s)", flush=True)  # fmt: skip
        write_json(args.out, {**out, "environment": env})
    return {**out, "environment": env}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=DATA / "imdb", help="IMDB folder")
    parser.add_argument("--snippets-dir", type=Path, default=DATA / "sentiment")
    parser.add_argument("--threads", type=int, default=2, help="threads of both sides")
    parser.add_argument("--rounds", type=int, default=3, help="alternating timing rounds")
    parser.add_argument("--select", action="store_true", help="validation runs, no test set")
    parser.add_argument("--quick", action="store_true", help="2,000 / 2,000 reviews")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="JSON result file")
    parser.add_argument("--note", default=None, help="a remark stored with the results")
    args = parser.parse_args()
    name = "fasttext" + (".select" if args.select else "") + (".quick" if args.quick else "")
    args.out = args.out or RESULTS / f"{name}.json"
    try:
        train, test, snip = load_data(args)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    import fasttext  # noqa: F401 - fail early when the bench extra is missing

    warm_up()
    env = environment(load_average_at_start=os.getloadavg()[0], note=args.note)
    result = select(args, train, env) if args.select else compare(args, train, test, snip, env)
    write_json(args.out, result)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
