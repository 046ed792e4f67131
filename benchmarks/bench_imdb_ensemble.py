"""IMDB sentiment by ensembles of trained runs: each member's and each ensemble's accuracy.

    K=benchmarks/runs/imdb   # ignored by git, like every runs/ folder
    python benchmarks/bench_imdb_bow.py --methods seqlab-nbsvm-trigram --keep-runs $K
    python benchmarks/bench_imdb_seq.py --models kim-cnn,lstm,bilstm --keep-runs $K
    python benchmarks/bench_imdb_ensemble.py $K/*       # -> results/imdb_ensemble.json
    python benchmarks/bench_imdb_ensemble.py            # the run folders in $K
    python benchmarks/bench_imdb_ensemble.py --quick    # trains two small members on 2,000
                                                        # reviews: a smoke run (.quick.json)

Members: run folders trained on IMDB's 25,000 training reviews with the same held-out
validation split: ``val_split`` 0.2, stratified, seed 0, as seqlab.fit draws it
(``stratified_split(train.labels, 0.2, seed=0)``). bench_imdb_seq.py's models use it
(train_classifier's ``val_split=0.2``, ``--seed``), and bench_imdb_bow.py's ``--keep-runs``
keeps its selection runs, trained on the same 80% (its validation part is the same split);
its refits on all of train are not members (they have seen the validation reviews).
``seqlab.ensemble.build_ensemble`` checks each member's recorded split and refuses a member
that trained on any validation review. Caveat: IMDB's test reviews are about other movies
than its training reviews, but the validation reviews share movies with the fitting part,
so a member that memorises names scores higher on validation than on test and a stacker
may trust it too much (compare the members' val_accuracy and test_accuracy).

Ensembles of all the members given (the test set is never used for a choice):
  mean            equal weights on the members' probabilities
  stack-weights   weights of that mean fitted on the 5,000 validation reviews (maximum
                  likelihood on the simplex)
  stack-logistic  logistic regression on the members' log-probabilities, fitted on the
                  same reviews (L2 penalty ``--l2``)
Which of the three is the one to report is chosen on the validation reviews too, by
out-of-fold accuracy: each stacker fitted on four fifths of them and scored on the fifth,
five times (``out_of_fold``; ``chosen`` in the JSON). Their in-sample validation accuracy
(``val_accuracy``) is measured on the reviews the stackers were fitted on and favours the
stacker with more parameters.
Every member and ensemble is scored on the 25,000 official test reviews and, beside it, on
the 10,568 movie-review snippets (short Rotten Tomatoes sentences, a shift of domain;
``seqlab.datasets.snippets``, 37 neutral ones left out). ``--keep-runs DIR`` also writes
the three ensembles' run folders to DIR/ens-<name>.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from _common import DATA, RESULTS, environment, write_json

DEFAULT_RUNS = Path(__file__).resolve().parent / "runs" / "imdb"
QUICK = {"train": 2000, "test": 2000}
ENSEMBLES = {
    "mean": {"method": "mean"},
    "stack-weights": {"method": "stack", "stacker": "weights"},
    "stack-logistic": {"method": "stack", "stacker": "logistic"},
}


def accuracy(proba: np.ndarray, labels: np.ndarray) -> float:
    return float((proba.argmax(axis=1) == labels).mean())


def labels_as(dataset, names: list[str]) -> np.ndarray:
    """The dataset's labels as indices into ``names`` (the ensemble's label order)."""
    to = np.array([names.index(str(n)) for n in dataset.label_names])
    return to[dataset.labels]


def out_of_fold(P: np.ndarray, y: np.ndarray, l2: float, folds: int = 5, seed: int = 0):
    """Each ensemble method's out-of-fold accuracy and loss on the validation reviews: the
    stackers are fitted on four fifths and score the fifth, five times (folds stratified,
    drawn with ``seed``). The in-sample ``val_accuracy`` of a stacker is measured on the
    reviews it was fitted on, which favours the one with more parameters (the logistic
    stacker has K * C + C, the weights K - 1); these scores compare them fairly.
    ``P``: (members, reviews, classes) probabilities; ``y``: label indices."""
    from seqlab import _stacking

    rng = np.random.default_rng(seed)
    fold = np.empty(len(y), dtype=np.int64)
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        fold[idx] = np.arange(len(idx)) % folds
    num_classes = P.shape[2]
    oof = {name: np.zeros((len(y), num_classes)) for name in ENSEMBLES}
    for f in range(folds):
        fit, held = fold != f, fold == f
        oof["mean"][held] = P[:, held].mean(axis=0)
        q = P[:, fit][:, np.arange(int(fit.sum())), y[fit]]
        w = _stacking.fit_mixture_weights(q)
        oof["stack-weights"][held] = _stacking.weighted_mean(P[:, held], w)
        coef, b = _stacking.fit_logistic(_stacking.log_features(P[:, fit]), y[fit], num_classes, l2)
        oof["stack-logistic"][held] = _stacking.logistic_proba(
            _stacking.log_features(P[:, held]), coef, b
        )
    return {
        name: {
            "cv_accuracy": accuracy(p, y),
            "cv_loss": float(-np.log(np.maximum(p[np.arange(len(y)), y], 1e-300)).mean()),
        }
        for name, p in oof.items()
    }


def subsample(ds, n: int, seed: int = 0):
    from seqlab.data.batching import stratified_split

    _, keep = stratified_split(ds.labels, n / len(ds), seed=seed)
    return ds.subset(keep)


def quick_members(train, folder: Path) -> list[Path]:
    """Two small members trained on ``train`` with the shared split (a smoke run)."""
    from seqlab.training.classify import train_classifier

    common = {"val_split": 0.2, "seed": 0, "device": "cpu", "progress": False, "overwrite": True}
    common.update(batch_size=64, patience=1)
    train_classifier(train, model="bow-mlp", nbsvm=True, ngram_range=(1, 2), min_count=2,
                     epochs=3, lr=3e-3, out=folder / "nbsvm", **common)  # fmt: skip
    train_classifier(train, model="kim-cnn", embedding_dim=32, num_filters=32, truncate=200,
                     epochs=2, out=folder / "kim-cnn", **common)  # fmt: skip
    return [folder / "nbsvm", folder / "kim-cnn"]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("runs", nargs="*", type=Path, help=f"member run folders [{DEFAULT_RUNS}/*]")
    parser.add_argument("--quick", action="store_true", help="two small members, 2k reviews")
    parser.add_argument("--data-dir", type=Path, default=DATA, help="folder with imdb/, sentiment/")
    parser.add_argument("--out", type=Path, default=None, help="JSON result file")
    parser.add_argument("--l2", type=float, default=1e-3, help="logistic stacker's L2 penalty")
    parser.add_argument("--keep-runs", type=Path, default=None, metavar="DIR")
    parser.add_argument("--batch-size", type=int, default=256)
    return parser.parse_args()


def score(built: dict[str, Any], runs: list[Path], test, snips, batch_size: int) -> tuple:
    """(member rows, ensemble rows): accuracies on IMDB test and on the snippets."""
    first = built["mean"]
    # Every ensemble has the same members in the same order: their probabilities are
    # computed once per dataset and combined by each ensemble.
    proba = {"test": first.member_proba(test.texts, batch_size)}
    proba["snippets"] = first.member_proba(snips.texts, batch_size)
    y = {"test": labels_as(test, first.labels), "snippets": labels_as(snips, first.labels)}
    members = []
    for k, (name, run) in enumerate(zip(first.names, first.members)):
        members.append({
            "name": name,
            "path": str(runs[k]),
            "model": run.model_name,
            "val_accuracy": first.metrics["members_val"][name]["accuracy"],
            "test_accuracy": accuracy(proba["test"][k], y["test"]),
            "snippets_accuracy": accuracy(proba["snippets"][k], y["snippets"]),
        })  # fmt: skip
    ensembles = []
    for name, ens in built.items():
        ensembles.append({
            "ensemble": name,
            "val_accuracy": ens.metrics["val"]["accuracy"],
            "val_loss": ens.metrics["val"]["loss"],
            "test_accuracy": accuracy(ens.combine(proba["test"]), y["test"]),
            "snippets_accuracy": accuracy(ens.combine(proba["snippets"]), y["snippets"]),
            "weights": None if ens.weights is None else dict(zip(ens.names, ens.weights.tolist())),
            **({"run_folder": str(ens.path)} if ens.path is not None else {}),
        })  # fmt: skip
    for row in members + ensembles:
        print(f"   {row.get('name') or row['ensemble']:24s} test {row['test_accuracy']:.4f}  "
              f"snippets {row['snippets_accuracy']:.4f}", flush=True)  # fmt: skip
    return members, ensembles


def main() -> int:
    args = parse_args()
    from seqlab.data.datasets import imdb, snippets
    from seqlab.ensemble import build_ensemble, validation_split

    out = args.out or RESULTS / ("imdb_ensemble.quick.json" if args.quick else "imdb_ensemble.json")
    try:
        train, test = imdb(("train", "test"), data_dir=args.data_dir / "imdb")
        snips = snippets(data_dir=args.data_dir / "sentiment")
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    if args.quick:
        train, test = subsample(train, QUICK["train"]), subsample(test, QUICK["test"])
        folder = args.keep_runs or Path(tempfile.mkdtemp(prefix="imdb-ensemble-"))
        runs = args.runs or quick_members(train, folder)
    else:
        runs = args.runs or sorted(DEFAULT_RUNS.glob("*"))
    runs = [p for p in runs if (p / "config.json").is_file() and not p.name.startswith("ens-")]
    if len(runs) < 2:
        print(f"error: give at least two member run folders (with config.json); found "
              f"{[str(p) for p in runs]}. Make them with --keep-runs (see --help)",
              file=sys.stderr)  # fmt: skip
        return 2
    built: dict[str, Any] = {}
    for name, how in ENSEMBLES.items():
        keep = {} if args.keep_runs is None else {"out": args.keep_runs / f"ens-{name}"}
        built[name] = build_ensemble(
            runs, data=train, l2=args.l2, batch_size=args.batch_size, overwrite=True,
            **how, **keep,
        )  # fmt: skip
        print(f"== {name}: validation accuracy {built[name].metrics['val']['accuracy']:.4f}",
              flush=True)  # fmt: skip
    build_s = round(time.perf_counter() - t0, 1)
    first = built["mean"]
    records = list(zip(first.names, (m.train_config for m in first.members)))
    val, _ = validation_split(records, train)
    cv = out_of_fold(first.member_proba(val.texts, args.batch_size), labels_as(val, first.labels),
                     args.l2)  # fmt: skip
    chosen = max(cv, key=lambda name: (cv[name]["cv_accuracy"], -cv[name]["cv_loss"]))
    for name, row in cv.items():
        print(f"== {name}: out-of-fold validation accuracy {row['cv_accuracy']:.4f}, "
              f"loss {row['cv_loss']:.4f}" + ("  <- chosen" if name == chosen else ""))  # fmt: skip
    select_s = round(time.perf_counter() - t0, 1)
    members, ensembles = score(built, runs, test, snips, args.batch_size)
    for row in ensembles:
        row.update(cv[row["ensemble"]])
    env = environment()
    write_json(
        out,
        {
            "benchmark": "imdb_ensemble",
            "quick": args.quick,
            "date": env["date"],
            "protocol": "members trained on the 20,000 fitting reviews of IMDB train (val_split "
            "0.2, stratified, seed 0); ensemble weights fitted on the 5,000 validation reviews "
            "only; one score on the 25,000 test reviews and on the movie-review snippets",
            "validation": built["mean"].fitted_on,
            "members": members,
            "ensembles": ensembles,
            "l2": args.l2,
            "snippets_size": len(snips),
            "test_size": len(test),
            "chosen": chosen,
            "chosen_by": "out-of-fold accuracy on the validation reviews (5 stratified folds, "
            "seed 0; ties by out-of-fold loss)",
            "build_s": build_s,
            "select_s": select_s,
            "wall_s": round(time.perf_counter() - t0, 1),
            "environment": env,
        },
    )
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
