"""IMDB sentiment from bags of n-grams: scikit-learn LR and NBSVM vs seqlab's bow-mlp.

    python benchmarks/bench_imdb_bow.py                 # 25k train / 25k test -> results/imdb_bow.json
    python benchmarks/bench_imdb_bow.py --quick         # 2k / 2k subsample -> imdb_bow.quick.json
    python benchmarks/bench_imdb_bow.py --data-dir DIR  # another copy of aclImdb_v1.tar.gz
    python benchmarks/bench_imdb_bow.py --paired 3      # NBSVM: sklearn and seqlab timed
                                                        # alternately, 3 rounds -> imdb_bow.paired.json
    python benchmarks/bench_imdb_bow.py --methods seqlab-nbsvm-trigram --keep-runs runs/imdb
                                                        # the trigram row, its run folder kept

Protocol (the test set is never used for a choice): the official train set is split 80/20
(stratified, seed 0) into a fitting part and a validation part. Each method picks its
hyperparameters on the validation part only (scikit-learn: the inverse regularisation ``C``;
seqlab: ``weight_decay`` and, by early stopping on validation loss, the number of epochs), is
refit on the whole train set with that choice, and is scored once on the official test set
(and on the bundled movie-review snippets, a shift of domain: ``snippets_accuracy``).

Methods, all on binary (presence) features of uni+bigrams (the last one: up to trigrams):
  sklearn-lr      LogisticRegression on CountVectorizer(binary=True, ngram_range=(1, 2))
  sklearn-nbsvm   the same on features scaled by NB log-count ratios (Wang & Manning 2012)
  seqlab-lr       bow-mlp, hidden_sizes=(), TextVectorizer(output_mode="multi_hot", (1, 2)),
                  the texts vectorized once and the rows given to seqlab.fit as arrays
  seqlab-nbsvm    the same with nb_scaling=True
  seqlab-nbsvm-trigram
                  seqlab-nbsvm on uni+bi+trigrams (91.87% in Mesnil et al. 2014); the
                  count pruning (min_count, TRIGRAM_MIN_COUNT) is chosen on validation too.
                  On the 25,000 training reviews: 5,197,041 distinct uni+bi+trigrams
                  (88,075 + 1,439,346 + 3,669,620), 946,132 of them occurring at least twice;
                  TextVectorizer.fit_transform of the 25,000 reviews peaked at 1.1 GB resident
                  memory with min_count=1 and 0.7 GB with 2, and `seqlab classify train
                  --data imdb --ngrams 1 3 --nbsvm --epochs 1` at 2.2 GB and 1.4 GB (one
                  thread, /usr/bin/time -v, December 2026).
Wall time covers vectorizing, the selection runs and the refit. With ``--paired N`` the two
NBSVM methods run alternately (sklearn, seqlab, sklearn, ...) N rounds through
``_common.paired_timing``; the result is the median of the per-round ratios
sklearn seconds / seqlab seconds (above 1: seqlab faster) with its spread.

``--keep-runs DIR`` writes, for each seqlab method, the selection run of the chosen setting
to ``DIR/<method>`` (trained on the 80% fitting part, its validation part held out: the
split bench_imdb_seq.py's models hold out too) with its vectorizer, so that it reads texts:
a member for bench_imdb_ensemble.py. The refit on all of train, which the table scores,
has seen the validation reviews and is not kept.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

from _common import DATA, RESULTS, environment, paired_timing, write_json

DEFAULT_DATA = DATA / "imdb"

FULL = {
    "C": [0.1, 1.0],
    "weight_decay": [0.0, 1e-6],
    "max_epochs": 6,
    "subsample": None,
}
QUICK = {"C": [0.1, 1.0], "weight_decay": [0.0, 1e-5], "max_epochs": 3, "subsample": 2000}
# Settings shared by both seqlab methods, chosen once on the validation part of train (NBSVM:
# validation accuracy 0.925 at epoch 3 with batch 64 / lr 3e-3; batch 256 / lr 1e-2 peaks at
# epoch 1 with 0.924). min_count=2 keeps 450k of 1.5M uni+bigrams with the same accuracy.
SEQLAB = {"batch_size": 64, "lr": 3e-3, "optimizer": "adam", "patience": 2, "min_count": 2}
# The trigram row chooses its count pruning on validation among these (1: every n-gram).
TRIGRAM_MIN_COUNT = [1, 2]


def subsample(ds, n: int, seed: int):
    from seqlab.data.batching import stratified_split

    _, keep = stratified_split(ds.labels, n / len(ds), seed=seed)
    return ds.subset(keep)


def nb_ratio(X, y, alpha: float = 1.0) -> np.ndarray:
    """Log-count ratio on binarized features, computed here with numpy for scikit-learn."""
    p = alpha + np.asarray(X[y == 1].sum(axis=0)).ravel()
    q = alpha + np.asarray(X[y == 0].sum(axis=0)).ravel()
    return np.log((p / p.sum()) / (q / q.sum()))


def run_sklearn(name, train, test, fit_idx, val_idx, grid, nbsvm: bool) -> dict:
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    t0 = time.perf_counter()
    vec = CountVectorizer(binary=True, ngram_range=(1, 2), dtype=np.float32)
    X = vec.fit_transform(train.texts)
    X_test = vec.transform(test.texts)
    y = train.labels

    def features(rows_for_ratio):
        if not nbsvm:
            return X, X_test
        r = sp.diags(nb_ratio(X[rows_for_ratio], y[rows_for_ratio]).astype(np.float32))
        return X @ r, X_test @ r

    Xs, _ = features(fit_idx)
    scores = {}
    for c in grid["C"]:
        clf = LogisticRegression(C=c, solver="liblinear", max_iter=1000)
        clf.fit(Xs[fit_idx], y[fit_idx])
        scores[c] = float(clf.score(Xs[val_idx], y[val_idx]))
        print(f"  {name} C={c}: validation accuracy {scores[c]:.4f}", flush=True)
    best = max(scores, key=scores.get)
    Xs, Xs_test = features(np.arange(len(y)))
    clf = LogisticRegression(C=best, solver="liblinear", max_iter=1000).fit(Xs, y)
    acc = float(clf.score(Xs_test, test.labels))
    snips = _snippets(train)
    X_snip = vec.transform(snips.texts)
    if nbsvm:
        X_snip = X_snip @ sp.diags(nb_ratio(X, y).astype(np.float32))
    return {
        "method": name,
        "test_accuracy": acc,
        "snippets_accuracy": float(clf.score(X_snip, snips.labels)),
        "chosen": {"C": best},
        "validation_accuracy": scores,
        "features": X.shape[1],
        "wall_s": round(time.perf_counter() - t0, 1),
    }


def run_seqlab(
    name, train, test, grid, nbsvm: bool, seed: int, trigrams: bool = False, keep=None
) -> dict:
    import torch

    from seqlab.models.dense import BagOfWordsMLP
    from seqlab.text import TextVectorizer
    from seqlab.training.trainer import fit

    t0 = time.perf_counter()
    ngram_range = (1, 3) if trigrams else (1, 2)
    min_counts = TRIGRAM_MIN_COUNT if trigrams else [SEQLAB["min_count"]]
    common = {k: SEQLAB[k] for k in ("batch_size", "lr", "optimizer")}
    y = train.labels
    trials, runs, bags = {}, {}, {}
    for mc in min_counts:
        vec = TextVectorizer(output_mode="multi_hot", ngram_range=ngram_range, min_count=mc)
        # vectorized once, as scikit-learn's side does: the fits take the rows as arrays
        X = vec.fit_transform(train.texts)
        bags[mc] = (vec, X)
        for wd in grid["weight_decay"]:
            torch.manual_seed(seed)
            run = fit(
                BagOfWordsMLP(vec.vocab_size, nb_scaling=nbsvm), None, (X, y), val_split=0.2,
                epochs=grid["max_epochs"], weight_decay=wd, patience=SEQLAB["patience"],
                seed=seed, progress=False, **common,
            )  # fmt: skip
            key = f"min_count={mc} weight_decay={wd}" if trigrams else str(wd)
            trials[key] = {
                "validation_accuracy": run.metrics["val"]["accuracy"],
                "validation_loss": run.metrics["val"]["loss"],
                "best_epoch": run.metrics["best_epoch"],
                "features": vec.vocab_size,
            }
            runs[key] = (run, mc, wd)
            print(f"  {name} {key}: {trials[key]}", flush=True)
    best = min(trials, key=lambda k: trials[k]["validation_loss"])
    run, mc, wd = runs[best]
    epochs = trials[best]["best_epoch"]
    vec, X = bags[mc]
    if keep is not None:
        keep_run(run, vec, train, ngram_range, mc, keep / name)
    del runs, bags
    torch.manual_seed(seed)
    final = fit(
        BagOfWordsMLP(vec.vocab_size, nb_scaling=nbsvm), None, (X, y), val_split=0,
        epochs=epochs, weight_decay=wd, seed=seed, progress=False, restore_best=False,
        **common,
    )  # fmt: skip
    acc = float(final.evaluate((vec.transform(test.texts), test.labels))["accuracy"])
    snips = _snippets(train)
    snip_acc = final.evaluate((vec.transform(snips.texts), snips.labels))["accuracy"]
    return {
        "method": name,
        "test_accuracy": acc,
        "snippets_accuracy": float(snip_acc),
        "chosen": {"weight_decay": wd, "epochs": epochs, **SEQLAB, "min_count": mc},
        "ngram_range": list(ngram_range),
        "validation": trials,
        "features": vec.vocab_size,
        "wall_s": round(time.perf_counter() - t0, 1),
        **({"run_folder": str(keep / name)} if keep is not None else {}),
    }


def _snippets(train):
    """The bundled movie-review snippets (the cross-domain check), labels in IMDB's order."""
    from seqlab.data.datasets import snippets

    snips = snippets()
    if list(snips.label_names) != list(train.label_names):
        raise ValueError(f"label names differ: {snips.label_names} vs {train.label_names}")
    return snips


def keep_run(run, vec, train, ngram_range, min_count: int, folder: Path) -> None:
    """Save a run trained on the rows ``vec.transform(train.texts)`` (given as arrays) as a
    run folder that reads texts: the same model with ``vec`` as its vectorizer."""
    from seqlab.runs import Run

    config = {k: v for k, v in run.train_config.items() if k != "inputs"}
    config["data"] = train.name or "imdb-train"
    config["vectorizer"] = {
        "output_mode": "multi_hot", "ngram_range": list(ngram_range), "min_count": min_count
    }  # fmt: skip
    kept = Run(run.model, vec, train.label_names, history=dict(run.history),
               metrics=run.metrics, train_config=config)  # fmt: skip
    kept.save(folder)
    print(f"  kept {folder}", flush=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="2,000 / 2,000 reviews: a smoke run")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA, help="folder or archive")
    parser.add_argument("--out", type=Path, default=None, help="JSON result file")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--paired", type=int, default=0, metavar="N", help="time the NBSVMs alternately, N rounds"
    )
    parser.add_argument(
        "--methods",
        nargs="*",
        default=[
            "sklearn-lr",
            "sklearn-nbsvm",
            "seqlab-lr",
            "seqlab-nbsvm",
            "seqlab-nbsvm-trigram",
        ],
    )
    parser.add_argument(
        "--keep-runs",
        type=Path,
        default=None,
        metavar="DIR",
        help="keep each seqlab method's chosen selection run in DIR/<method> (ensemble members)",
    )
    return parser


def main() -> int:
    parser = build_parser()
    args = parser.parse_args()
    grid = QUICK if args.quick else FULL
    name = "imdb_bow" + (".paired" if args.paired else "") + (".quick" if args.quick else "")
    out = args.out or RESULTS / f"{name}.json"

    from seqlab.data.batching import stratified_split
    from seqlab.data.datasets import imdb

    try:
        train, test = imdb(("train", "test"), data_dir=args.data_dir)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if grid["subsample"]:
        train = subsample(train, grid["subsample"], args.seed)
        test = subsample(test, grid["subsample"], args.seed)
    fit_idx, val_idx = stratified_split(train.labels, 0.2, seed=args.seed)
    print(f"IMDB: {len(train)} train ({len(fit_idx)} fit / {len(val_idx)} validation), "
          f"{len(test)} test", flush=True)  # fmt: skip

    import sklearn

    results: list[dict] = []
    paired: dict = {}

    env = environment(load_average_at_start=os.getloadavg()[0], sklearn=sklearn.__version__)

    def write() -> None:
        # Written after every method, so a long run keeps what it has measured so far.
        write_json(
            out,
            {
                "benchmark": "imdb_bow",
                "quick": args.quick,
                "date": env["date"],
                "protocol": "choices on a seeded 80/20 validation split of train; refit on all "
                "of train; one score on the official test set",
                "train_size": len(train),
                "test_size": len(test),
                "seed": args.seed,
                "results": results,
                **({"paired_nbsvm": paired} if paired else {}),
                "environment": env,
            },
        )

    if args.paired:
        timing = paired_timing(
            lambda: run_sklearn("sklearn-nbsvm", train, test, fit_idx, val_idx, grid, True),
            lambda: run_seqlab("seqlab-nbsvm", train, test, grid, True, args.seed),
            min_rounds=args.paired,
            max_rounds=args.paired,
            label="nbsvm",
        )
        results.extend(timing.pop("last"))
        paired.update(timing)
        write()
        print(f"median ratio sklearn/seqlab {timing['ratio_median']:.2f} "
              f"(range {timing['ratio_min']:.2f}-{timing['ratio_max']:.2f}); wrote {out}")  # fmt: skip
        return 0
    for method in args.methods:
        print(f"== {method}", flush=True)
        if method.startswith("sklearn-"):
            r = run_sklearn(method, train, test, fit_idx, val_idx, grid, method.endswith("nbsvm"))
        elif method in ("seqlab-lr", "seqlab-nbsvm", "seqlab-nbsvm-trigram"):
            nbsvm, trigrams = "nbsvm" in method, method.endswith("trigram")
            r = run_seqlab(method, train, test, grid, nbsvm, args.seed, trigrams, args.keep_runs)
        else:
            parser.error(f"unknown method {method!r}")
        print(f"   test accuracy {r['test_accuracy']:.4f}, snippets "
              f"{r['snippets_accuracy']:.4f} ({r['wall_s']} s)", flush=True)  # fmt: skip
        results.append(r)
        write()
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
