"""The lecture's IMDB listings (Chollet, Deep Learning with Python, chapter 6) run in seqlab.

    python benchmarks/bench_lecture.py                      # every listing -> results/lecture.json
    python benchmarks/bench_lecture.py --listings lstm,rnn  # a selection (merged into the file)
    python benchmarks/bench_lecture.py --init torch         # PyTorch's initialisation instead
    python benchmarks/bench_lecture.py --quick              # 2,000 reviews, 2 epochs: smoke run

Each listing is built as the lecture wrote it: the same layers and sizes (one sigmoid output,
``head="sigmoid"``), Keras's initialisation (``init="keras"``), RMSprop as Keras defines it
(rho 0.9, epsilon 1e-7; learning rate 1e-3, or 1e-4 where the listing sets it), the
listing's batch size and 10 epochs, and the lecture's data:

* ``embedding-flatten`` (6.1.2), ``simple-rnn`` (6.2.1), ``lstm`` (6.2.3), ``conv1d``
  (6.4.3): ``imdb.load_data(num_words=10000)`` (seqlab.datasets.imdb_keras: Keras's own
  ``imdb.npz`` when it is in the data folder or ``~/.keras/datasets``, else the offline
  rebuild from the raw reviews, see its docstring; the JSON says which), ``pad_sequences``
  to 20 or 500 steps, and Keras's ``validation_split=0.2``: the last 20% of the training
  arrays are the validation set (not shuffled first; ``load_data`` has shuffled them with
  seed 113).
* ``glove`` (6.1.3): the raw training reviews, a 10,000-word vocabulary, 100 words per
  review, 200 training and 10,000 validation reviews drawn at random (seeded here; the
  lecture's shuffle has no seed), Embedding + Flatten + Dense(32, relu) + Dense(1) with the
  GloVe vectors frozen in the embedding. The lecture uses ``glove.6B.100d``; the data folder
  has only ``glove.6B.50d``, so this run uses 50-d vectors (660,065 parameters, 500,000
  frozen, instead of the lecture's 1,320,065 and 1,000,000; the 100-d count is checked in
  tests/test_models_summary.py with 100-d vectors written by the test).

Padding: seqlab's models read each review's true length, so the zeros that
``pad_sequences`` puts in front of a short review are not fed to the network (Keras's
listings feed them, as token 0). The conv1d listing ends in ``Dense(1)`` without an
activation but trains with binary cross-entropy on it (a slip in the lecture: Keras then
treats the raw output as a probability); seqlab uses the sigmoid output the loss assumes.

Per listing the JSON records the parameter count (seqlab.models.summary, Keras's way of
counting), the validation accuracy after every epoch, the best one, the lecture's printed
figure and the difference. Nothing here is timed against a baseline; ``train_s`` is
recorded for information.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from _common import DATA, RESULTS, environment, read_json, write_json

# What the lecture prints for each listing (validation accuracy; None: no figure printed).
LISTINGS: dict[str, dict[str, Any]] = {
    "embedding-flatten": {
        "section": "6.1.2, listings 6.5-6.7",
        "model": "embedding-dense",
        "kwargs": {"embedding_dim": 8, "maxlen": 20},
        "maxlen": 20,
        "batch_size": 32,
        "lr": 1e-3,
        "keras_params": 80_161,
        "lecture_val_accuracy": 0.76,
        "lecture_says": "a validation accuracy of ~76%",
    },
    "glove": {
        "section": "6.1.3, listings 6.8-6.14",
        "model": "embedding-dense",
        "kwargs": {"maxlen": 100, "hidden_sizes": (32,), "freeze": True},
        "maxlen": 100,
        "batch_size": 32,
        "lr": 1e-3,
        "keras_params": 1_320_065,  # with 100-d vectors
        "keras_params_here": 660_065,  # the same model with the 50-d vectors used here
        "lecture_val_accuracy": 0.56,
        "lecture_says": "validation accuracy in the high 50s (test: 56%), from 200 samples",
    },
    "simple-rnn": {
        "section": "6.2.1, listing 6.22",
        "model": "rnn",
        "kwargs": {"embedding_dim": 32, "hidden_size": 32},
        "maxlen": 500,
        "batch_size": 128,
        "lr": 1e-3,
        "keras_params": 322_113,
        "lecture_val_accuracy": 0.85,
        "lecture_says": "only 85% validation accuracy",
    },
    "lstm": {
        "section": "6.2.3, listing 6.27",
        "model": "lstm",
        "kwargs": {"embedding_dim": 32, "hidden_size": 32},
        "maxlen": 500,
        "batch_size": 128,
        "lr": 1e-3,
        "keras_params": 328_353,
        "lecture_val_accuracy": 0.89,
        "lecture_says": "up to 89% validation accuracy",
    },
    "conv1d": {
        "section": "6.4.3, listing 6.46",
        "model": "cnn",
        "kwargs": {"embedding_dim": 128, "num_filters": 32, "kernel_size": 7, "pool_size": 5},
        "maxlen": 500,
        "batch_size": 128,
        "lr": 1e-4,
        "keras_params": 1_315_937,
        "lecture_val_accuracy": None,
        "lecture_says": "somewhat less than the LSTM's (no figure printed; figure 6.28)",
    },
}
NUM_WORDS = 10_000
EPOCHS = 10


def keras_arrays(maxlen: int, data_dir: Path, quick: bool) -> tuple[Any, ...]:
    """``load_data(num_words=10000)`` + ``pad_sequences(maxlen)`` + the last 20% as validation."""
    from seqlab.datasets import imdb_keras
    from seqlab.text import pad_sequences

    try:  # Keras's own files when they are there, else the rebuild from the raw reviews
        (x, y), _ = imdb_keras.load_data(num_words=NUM_WORDS, data_dir=data_dir, source="keras")
        source = "keras imdb.npz"
    except FileNotFoundError:
        (x, y), _ = imdb_keras.load_data(num_words=NUM_WORDS, data_dir=data_dir, source="raw")
        source = "rebuilt from the raw reviews (Keras's imdb.npz is not in the data folder)"
    if quick:
        x, y = x[:2500], y[:2500]
    x = pad_sequences(list(x), maxlen=maxlen)
    n_val = int(0.2 * len(x))  # Keras: split_at = int(n * (1 - 0.2)), the tail validates
    split = len(x) - n_val
    return (x[:split], y[:split]), (x[split:], y[split:]), source


def glove_arrays(data_dir: Path, quick: bool, seed: int) -> tuple[Any, ...]:
    """The GloVe listing's data: raw training reviews, 10,000 words, 100 steps, 200 / 10,000."""
    from seqlab.data.datasets import imdb
    from seqlab.embeddings import build_embedding_matrix, load_glove
    from seqlab.text import TextVectorizer, pad_sequences

    train = imdb("train", data_dir=data_dir / "imdb")
    vec = TextVectorizer(max_tokens=NUM_WORDS, output_mode="int").fit(train.texts)
    x = pad_sequences(vec.transform(train.texts), maxlen=100)
    y = np.asarray(train.labels)
    order = np.random.default_rng(seed).permutation(len(y))
    n_train, n_val = (200, 2_000) if quick else (200, 10_000)
    fit_rows, val_rows = order[:n_train], order[n_train : n_train + n_val]
    kv = load_glove(data_dir / "embeddings" / "glove.6B.50d.txt.gz")
    matrix, report = build_embedding_matrix(vec.vocabulary_, kv)
    return (
        (x[fit_rows], y[fit_rows]),
        (x[val_rows], y[val_rows]),
        {"pretrained": matrix, "coverage": report["coverage"]},
    )


def run_listing(name: str, spec: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    import seqlab
    from seqlab.models import build, summarize

    extra: dict[str, Any] = {}
    if name == "glove":
        train, val, info = glove_arrays(args.data_dir, args.quick, args.seed)
        extra["pretrained"] = info["pretrained"]
        source = f"raw reviews; glove.6B.50d, coverage {info['coverage']:.3f}"
    else:
        train, val, source = keras_arrays(spec["maxlen"], args.data_dir, args.quick)
    model = build(
        spec["model"],
        vocab_size=NUM_WORDS,
        head="sigmoid",
        init=args.init,
        seed=args.seed,
        **spec["kwargs"],
        **extra,
    )
    table = summarize(model, input_length=spec["maxlen"])
    print(table, flush=True)
    t0 = time.perf_counter()
    run = seqlab.fit(
        model,
        None,
        train,
        val=val,
        epochs=2 if args.quick else EPOCHS,
        batch_size=spec["batch_size"],
        optimizer="rmsprop",
        lr=spec["lr"],
        restore_best=False,
        seed=args.seed,
        progress=not args.quiet,
    )
    train_s = time.perf_counter() - t0
    val_acc = [round(float(a), 4) for a in run.history["val_accuracy"]]
    best = max(val_acc)
    printed = spec["lecture_val_accuracy"]
    return {
        "section": spec["section"],
        "model": spec["model"],
        "settings": {
            **spec["kwargs"],
            "maxlen": spec["maxlen"],
            "batch_size": spec["batch_size"],
            "optimizer": "rmsprop",
            "lr": spec["lr"],
            "init": args.init,
        },  # fmt: skip
        "data": source,
        "train_size": len(train[1]),
        "val_size": len(val[1]),
        "params": table.total,
        "trainable_params": table.trainable,
        "non_trainable_params": table.non_trainable,
        "keras_params": spec["keras_params"],
        "keras_params_here": spec.get("keras_params_here", spec["keras_params"]),
        "val_accuracy": val_acc,
        "train_accuracy": [round(float(a), 4) for a in run.history["accuracy"]],
        "best_val_accuracy": best,
        "best_epoch": val_acc.index(best) + 1,
        "lecture_val_accuracy": printed,
        "lecture_says": spec["lecture_says"],
        "points_vs_lecture": None if printed is None else round(100 * (best - printed), 2),
        "train_s": round(train_s, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--listings", default=",".join(LISTINGS), help="comma-separated")
    parser.add_argument("--init", default="keras", choices=["keras", "torch"])
    parser.add_argument("--data-dir", type=Path, default=DATA)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="2,500 reviews, 2 epochs")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    names = [n.strip() for n in args.listings.split(",") if n.strip()]
    unknown = [n for n in names if n not in LISTINGS]
    if unknown:
        parser.error(f"unknown listing(s) {unknown}; choose from {', '.join(LISTINGS)}")
    suffix = ("" if args.init == "keras" else f".{args.init}") + (".quick" if args.quick else "")
    out = args.out or RESULTS / f"lecture{suffix}.json"
    previous = read_json(out) if out.is_file() else {}
    results = dict(previous.get("results", {}))
    for name in names:
        print(f"== {name}", flush=True)
        results[name] = r = run_listing(name, LISTINGS[name], args)
        print(
            f"   params {r['params']:,} (Keras {r['keras_params_here']:,}); val accuracy "
            f"{r['val_accuracy']}; best {r['best_val_accuracy']:.4f} vs lecture "
            f"{r['lecture_val_accuracy']}",
            flush=True,
        )
        write_json(
            out,
            {
                "benchmark": "lecture",
                "quick": args.quick,
                "init": args.init,
                "seed": args.seed,
                "epochs": 2 if args.quick else EPOCHS,
                "results": results,
                "environment": environment(),
            },
        )
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
