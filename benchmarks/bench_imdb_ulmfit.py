"""IMDB sentiment by ULMFiT from IMDB data alone: a word-level language model pretrained on
the training and unlabelled reviews, then fine-tuned as a classifier.

    python benchmarks/bench_imdb_ulmfit.py                 # full -> results/imdb_ulmfit.json
    python benchmarks/bench_imdb_ulmfit.py --lm-minutes 40 # a longer pretraining budget
    python benchmarks/bench_imdb_ulmfit.py --lm-run DIR    # reuse a pretrained LM (skip stage 1)
    python benchmarks/bench_imdb_ulmfit.py --lm-run DIR --set gradual_unfreezing=false --set lr=1e-2
                                                           # another fine-tuning (compare them
                                                           # on validation accuracy)
    python benchmarks/bench_imdb_ulmfit.py --lm-set hidden_size=256 --lm-set embedding_dim=256
    python benchmarks/bench_imdb_ulmfit.py --keep-runs runs/imdb
                                                           # also keep DIR/ulmfit-lm, DIR/ulmfit
    python benchmarks/bench_imdb_ulmfit.py --quick         # smoke run, about a minute
                                                           # -> results/imdb_ulmfit.quick.json
    python benchmarks/bench_imdb_ulmfit.py --measure       # tokens/s of candidate sizes
                                                           # -> results/imdb_ulmfit.measure.json

Protocol (the test set is never used for a choice):

1. **Pretraining** (``seqlab lm train --corpus imdb --level word``): the corpus is IMDB's
   25,000 training and 50,000 unlabelled reviews, never a test review, one per line, HTML
   breaks removed, shuffled with seed 0 (``seqlab.data.imdb_corpus``; ~98 M characters, ~20 M
   word-level tokens with punctuation); its last 10 % is the language model's held-out
   part. Settings in ``LM``; budget ``--lm-minutes`` (training time; the corpus is read and
   tokenised first, ~20 s, and that is counted in the stage's wall time).
2. **Fine-tuning** (``seqlab classify train --data imdb --encoder LM``): the classifier
   starts from the language model's embedding and recurrent layers and reads its tokens and
   ids; it trains on the 25,000 training reviews less the standard validation split
   (``val_split`` 0.2, stratified, seed 0: the split of bench_imdb_seq.py and
   bench_imdb_ensemble.py), with ULMFiT's practice (slanted triangular rates, each layer
   group 2.6 times slower than the one above, gradual unfreezing, concat pooling; the
   defaults of ``seqlab.training._encoder.ENCODER_DEFAULTS`` unless ``CLASSIFIER`` says
   otherwise); the epoch with the best validation accuracy is kept (early stopping,
   ``patience``). Settings in ``CLASSIFIER``.
3. **Scoring**, once: accuracy on the 25,000 test reviews and on the 10,568 movie-review
   snippets (short Rotten Tomatoes sentences, neutral ones left out; a shift of domain).

Each stage's wall time and the total are recorded (the goal of issue 20: the whole pipeline,
pretraining included, within about 60 minutes on the 2-core machine; test accuracy >= 92.5 %
for the best seqlab pipeline). ``--keep-runs DIR`` writes the classifier to ``DIR/ulmfit``
(an ensemble member for bench_imdb_ensemble.py: it holds out the same validation reviews)
and the language model to ``DIR/ulmfit-lm``. The language model saw the validation reviews'
*text* (never their labels), as ULMFiT's does.

Sizes for 2 cores (``--measure``; rough figures from a shared machine, other work running,
so only their ratios mean much). The language model's cost per token is dominated by the
full softmax over the vocabulary (``hidden_size x max_tokens`` multiply-adds forward, about
three times that with the backward pass), so the vocabulary and the width that feeds the
decoder decide the speed far more than the number of layers:

    language model (batch 32 x 64 tokens, 15 steps)   training tokens/s   parameters
    1 x LSTM 256, tied, vocabulary 30k                    ~340              8.2 M
    2 x LSTM 256, tied, 30k                               ~320              8.8 M
    2 x LSTM 384, tied, 30k                               ~250             13.9 M
    2 x LSTM 256, untied (embedding 128), 30k             ~250             12.5 M
    2 x LSTM 256, tied, 15k                               ~560              4.9 M
    2 x LSTM 128, tied, 20k (the default, LM)             ~560              2.8 M
    classifier (2 layers, concat pooling, batch 64, 640 reviews cut at 400 tokens, 1 epoch)
    2 x LSTM 128                                        ~10,700
    2 x LSTM 256                                         ~1,100

(2026-12-07, AMD EPYC, torch on 2 threads, load average about 4 on the 2 cores all along:
another benchmark and other sessions shared them, so on an idle machine expect a few times
more, and trust the ratios rather than the numbers.) Halving the vocabulary nearly doubles
the speed, a second layer costs little, a wider layer or an untied table costs a lot. At
these speeds one pass over the ~18 M training tokens is out of reach in 25 minutes on two
cores with any candidate (even ten times faster it would take an hour), so the language
model sees a part of the corpus (``tokens`` in the result): the default (``LM``) is the
fastest candidate that keeps two recurrent layers (gradual unfreezing has groups to
unfreeze) and a 20,000-word vocabulary, and the narrow 128-unit layers also keep the
classifier's fine-tuning (about 5 M tokens per epoch) within minutes per epoch. A softmax
that does not score every word at every position (adaptive or sampled) would change this
picture; seqlab's language models do not have one yet.

Fine-tuning choices (validation accuracy, never test; a one-off small-scale trial on the
same shared machine): a 2 x LSTM(64) language model with 8,000 words trained 3 minutes on
20,000 unlabelled reviews (480,000 tokens, held-out perplexity ~460), classifiers on 4,000
training reviews (3,200 fitting, 800 validation), cut at 200 tokens, 5 epochs, batches of
32, slanted rates, concat pooling; best validation accuracy over the epochs:

    from the LM, ULMFiT's defaults (lr 4e-3, decay 2.6, gradual unfreezing)   0.599
      the same at lr 1e-2 / 2e-2                                              0.601 / 0.659
      decay 2.6, nothing frozen, lr 4e-3 / 1e-2                                0.613 / 0.671
      one rate, nothing frozen, lr 4e-3 / 1e-2                                 0.765 / 0.789
    random initial weights, the LM's tokens (its tokenizer, own 8k vocabulary), lr 4e-3   0.814
    random initial weights, Keras-style tokens, lr 4e-3 / 1e-2                 0.769 / 0.806

So with a language model this weak, starting from it did not beat random weights, and
ULMFiT's slow lower layers (decay 2.6) and frozen epochs cost the most; ``CLASSIFIER`` takes
the best encoder row (one rate, nothing frozen, lr 1e-2). A language model trained longer
(``--lm-minutes``) is what ULMFiT's gains rest on; whether 25 minutes on two cores are
enough is what the full run measures.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import DATA, RESULTS, environment, write_json

# Stage 1: the language model (seqlab.lm.train settings on top of the word recipe's).
LM: dict[str, Any] = {
    "level": "word",
    "model": "lstm",
    "max_tokens": 20_000,
    "embedding_dim": 128,
    "hidden_size": 128,
    "num_layers": 2,
    "tie_weights": True,
    "dropout": 0.1,
    "batch_size": 32,
    "seq_len": 64,
    "lr": 3e-3,
    "schedule": "cosine",
    "warmup": 0.02,
    "eval_seconds": 120.0,
    "eval_tokens": 20_000,
    # The held-out tail: 1 % of the corpus (~200,000 tokens). The final evaluation reads all
    # of it through the full softmax, which on two cores takes a minute or two; the default
    # 10 % would take the better part of the budget again.
    "val_split": 0.01,
}
# Stage 2: the classifier (train_classifier settings; the encoder gives the model, sizes,
# tokens and vocabulary, ENCODER_DEFAULTS the rest unless given here).
# Fine-tuning: ULMFiT's slanted rates, concat pooling and dropout 0.3 (the encoder's
# defaults), but one rate for every layer and nothing frozen, at lr 1e-2: on validation at a
# small scale (see the module docstring, "Fine-tuning choices") ULMFiT's discriminative
# rates and gradual unfreezing cost 15 points with a language model this weak. Re-check at
# full size with --lm-run DIR --set layer_lr_decay=2.6 --set gradual_unfreezing=true.
CLASSIFIER: dict[str, Any] = {
    "truncate": 400,
    "truncating": "pre",
    "batch_size": 64,
    # ~5 M tokens an epoch (20,000 reviews, ~235 tokens each after the cut): ~8 minutes an
    # epoch at the measured ~10,700 tokens/s, so 4 epochs keep the pipeline near an hour
    "epochs": 4,
    "lr": 1e-2,
    "layer_lr_decay": 1.0,
    "gradual_unfreezing": False,
    "val_split": 0.2,
    "monitor": "val_accuracy",
    "patience": 2,
    "clip_grad_norm": 1.0,
}
# --measure: candidate language models (one setting changed at a time) and classifiers.
LM_CANDIDATES: dict[str, dict[str, Any]] = {
    "1x256 tied, 30k": {"num_layers": 1, "embedding_dim": 256, "hidden_size": 256,
                        "max_tokens": 30_000},
    "2x256 tied, 30k": {"embedding_dim": 256, "hidden_size": 256, "max_tokens": 30_000},
    "2x384 tied, 30k": {"embedding_dim": 384, "hidden_size": 384, "max_tokens": 30_000},
    "2x256 untied (emb 128), 30k": {"embedding_dim": 128, "hidden_size": 256,
                                    "tie_weights": False, "max_tokens": 30_000},
    "2x256 tied, 15k": {"embedding_dim": 256, "hidden_size": 256, "max_tokens": 15_000},
    "2x128 tied, 20k": {"embedding_dim": 128, "hidden_size": 128, "max_tokens": 20_000},
}  # fmt: skip
CLASSIFIER_CANDIDATES: dict[str, dict[str, Any]] = {
    "2x128": {"embedding_dim": 128, "hidden_size": 128},
    "2x256": {"embedding_dim": 256, "hidden_size": 256},
}
QUICK = {
    "train": 2000,  # the quick subsample of bench_imdb_ensemble.py (same reviews)
    "test": 2000,
    "lm": {"embedding_dim": 32, "hidden_size": 32, "max_tokens": 5000, "eval_seconds": 5.0},
    "lm_minutes": 0.25,
    "classifier": {"truncate": 150, "epochs": 4, "patience": 2},
}


def subsample(ds, n: int, seed: int = 0):
    """``n`` reviews, stratified, as bench_imdb_ensemble.py's ``--quick`` draws them."""
    from seqlab.data.batching import stratified_split

    _, keep = stratified_split(ds.labels, n / len(ds), seed=seed)
    return ds.subset(keep)


def pretrain(args, out: Path) -> dict[str, Any]:
    """Stage 1 into ``out``; its record (wall time includes reading and tokenising)."""
    import seqlab.lm

    settings = {**LM, **(QUICK["lm"] if args.quick else {}), **args.lm_settings}
    minutes = QUICK["lm_minutes"] if args.quick else args.lm_minutes
    t0 = time.perf_counter()
    lm = seqlab.lm.train(
        "imdb", data_dir=args.data_dir / "imdb", minutes=minutes, out=out, overwrite=True,
        seed=args.seed, threads=args.threads, device="cpu", progress=not args.quiet, **settings,
    )  # fmt: skip
    wall = time.perf_counter() - t0
    m = lm.metrics
    return {
        "settings": settings,
        "minutes": minutes,
        "wall_s": round(wall, 1),
        "train_s": m["train_time_s"],
        "prepare_s": round(wall - m["train_time_s"], 1),  # corpus, tokens, evaluations
        "steps": m["steps"],
        "epochs": m["epochs"],
        "tokens": m["tokens"],
        "tokens_per_s": m["tokens_per_s"],
        "val": m.get("val"),
        "vocab_size": len(lm.vocab),
        "run_folder": str(out),
    }


def fine_tune(args, train, lm_dir: Path | None, out: Path | None) -> tuple[Any, dict[str, Any]]:
    """Stage 2: the classifier from the language model in ``lm_dir``; (run, record)."""
    from seqlab.training.classify import train_classifier

    settings = {**CLASSIFIER, **(QUICK["classifier"] if args.quick else {}), **args.settings}
    keep = {} if out is None else {"out": out, "overwrite": True}
    start: dict[str, Any] = {"encoder": lm_dir}
    if lm_dir is None:  # --scratch: the same classifier, tokens and settings, random weights
        from seqlab.training._encoder import ENCODER_DEFAULTS, TOKENIZER

        lm = {**LM, **args.lm_settings}
        start = {"model": lm["model"], "max_tokens": lm["max_tokens"],
                 "vectorizer_options": TOKENIZER,
                 **{k: lm[k] for k in ("embedding_dim", "hidden_size", "num_layers")},
                 **{k: v for k, v in ENCODER_DEFAULTS.items() if k not in settings}}  # fmt: skip
    t0 = time.perf_counter()
    run = train_classifier(
        train, seed=args.seed, threads=args.threads, device="cpu",
        progress=not args.quiet, **start, **settings, **keep,
    )  # fmt: skip
    wall = time.perf_counter() - t0
    m, tc = run.metrics, run.train_config
    record = {
        "settings": settings,
        "wall_s": round(wall, 1),
        "train_s": m["train_time_s"],
        "val_accuracy": float(m["val"]["accuracy"]),
        "best_epoch": m["best_epoch"],
        "epochs_run": m["epochs_run"],
        "stopped": m["stopped"],
        "history": {
            k: [round(float(v), 4) for v in run.history[k]]
            for k in ("loss", "accuracy", "val_loss", "val_accuracy", "time_s")
            if k in run.history
        },
        "model_config": run.model.config,
        "train": {k: tc.get(k) for k in ("schedule", "lr", "warmup", "layer_lr_decay",
                                         "gradual_unfreezing", "train_size", "val_size")},
        "encoder": tc.get("encoder"),
        **({"run_folder": str(out)} if out is not None else {}),
    }  # fmt: skip
    return run, record


def score(run, test, snips, batch_size: int = 256) -> dict[str, Any]:
    """Stage 3: accuracy on the test reviews and on the snippets."""
    t0 = time.perf_counter()
    test_m = run.evaluate(test, batch_size=batch_size)
    snip_m = run.evaluate(snips, batch_size=batch_size)
    return {
        "test_accuracy": float(test_m["accuracy"]),
        "test_size": test_m["n"],
        "snippets_accuracy": float(snip_m["accuracy"]),
        "snippets_size": snip_m["n"],
        "wall_s": round(time.perf_counter() - t0, 1),
    }


def measure(args) -> dict[str, Any]:
    """Tokens per second of each candidate in a short run (``--measure-steps``): language
    models on the first tenth of the corpus, classifiers on 640 training reviews."""
    import seqlab.lm
    from seqlab.data.datasets import corpus, imdb
    from seqlab.training.classify import train_classifier

    text = corpus("imdb", data_dir=args.data_dir / "imdb")
    text = text[: len(text) // 10]
    out: dict[str, Any] = {"lm": {}, "classifier": {}}
    for name, change in LM_CANDIDATES.items():
        # no held-out part: only training steps are timed (an evaluation is not a step)
        settings = {**LM, **change, "val_split": 0.0, "eval_seconds": None, "eval_every": 10**6}
        lm = seqlab.lm.train(
            text=text, steps=args.measure_steps, seed=args.seed, threads=args.threads,
            device="cpu", progress=False, **settings,
        )  # fmt: skip
        m = lm.metrics
        row = {"settings": change, "steps": m["steps"], "tokens": m["tokens"],
               "train_s": m["train_time_s"], "tokens_per_s": round(m["tokens_per_s"]),
               "parameters": sum(p.numel() for p in lm.model.parameters()),
               "load_average": os.getloadavg()[0]}  # fmt: skip
        out["lm"][name] = row
        print(f"  LM {name:30s} {row['tokens_per_s']:7,d} tokens/s", flush=True)
    train = subsample(imdb("train", data_dir=args.data_dir / "imdb", progress=False), 800)
    for name, change in CLASSIFIER_CANDIDATES.items():
        settings = {**CLASSIFIER, "epochs": 1, "gradual_unfreezing": False, "val_split": 0.2}
        run = train_classifier(
            train, model="lstm", num_layers=2, pooling="concat", max_tokens=20_000,
            seed=args.seed, threads=args.threads, device="cpu", progress=False,
            **{**settings, **change},
        )  # fmt: skip
        cut = CLASSIFIER["truncate"]
        per_review = sum(min(len(run.vectorizer.tokenize(t)), cut) for t in train.texts)
        tokens = per_review / len(train) * run.train_config["train_size"]  # about
        seconds = run.metrics["train_time_s"]
        row = {
            "settings": change,
            "train_s": seconds,
            "reviews": run.train_config["train_size"],
            "tokens_per_s": round(tokens / seconds),
            "load_average": os.getloadavg()[0],
        }
        out["classifier"][name] = row
        print(f"  classifier {name:22s} {row['tokens_per_s']:7,d} tokens/s (train)", flush=True)
    return out


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=DATA, help="folder with imdb/, sentiment/")
    parser.add_argument("--lm-minutes", type=float, default=25.0, help="pretraining budget")
    parser.add_argument("--lm-run", type=Path, default=None, help="reuse this LM run folder")
    parser.add_argument("--keep-runs", type=Path, default=None, metavar="DIR")
    parser.add_argument("--quick", action="store_true", help="smoke run (~1 minute)")
    parser.add_argument(
        "--scratch",
        action="store_true",
        help="no stage 1: the same classifier from random weights (the baseline of "
        "pretraining) -> imdb_ulmfit.scratch.json",
    )
    parser.add_argument("--measure", action="store_true", help="tokens/s of candidate sizes")
    parser.add_argument("--measure-steps", type=int, default=15)
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.add_argument("--out", type=Path, default=None, help="JSON result file")
    parser.add_argument(
        "--set",
        dest="set_",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a classifier setting (ClassifyConfig) over CLASSIFIER's",
    )
    parser.add_argument(
        "--lm-set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a language-model setting (LMConfig) over LM's",
    )
    args = parser.parse_args()
    from seqlab.cli.settings import SettingError, parse_settings
    from seqlab.lm import LMConfig
    from seqlab.training.classify import ClassifyConfig

    try:
        args.settings = parse_settings(args.set_, ClassifyConfig)
        args.lm_settings = parse_settings(args.lm_set, LMConfig, option="--lm-set")
    except SettingError as exc:
        parser.error(str(exc))
    return args


def main() -> int:
    args = parse_args()
    name = (
        "imdb_ulmfit" + (".measure" if args.measure else "") + (".scratch" if args.scratch else "")
    )
    name += ".quick" if args.quick else ""
    out = args.out or RESULTS / f"{name}.json"
    from seqlab.data.datasets import imdb, snippets

    try:
        if args.measure:
            result = {"benchmark": "imdb_ulmfit.measure", "threads": args.threads,
                      **measure(args), "environment": environment()}  # fmt: skip
            write_json(out, result)
            print(f"wrote {out}")
            return 0
        train, test = imdb(("train", "test"), data_dir=args.data_dir / "imdb", progress=False)
        snips = snippets(data_dir=args.data_dir / "sentiment")
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.quick:
        train, test = subsample(train, QUICK["train"]), subsample(test, QUICK["test"])
    scratch = Path(tempfile.mkdtemp(prefix="imdb-ulmfit-"))
    keep = args.keep_runs
    t0 = time.perf_counter()
    try:
        if args.scratch:
            lm_dir, stage1 = None, {"skipped": "--scratch", "wall_s": 0.0}
        elif args.lm_run is not None:
            lm_dir, stage1 = args.lm_run, {"reused": str(args.lm_run), "wall_s": 0.0}
        else:
            lm_dir = (keep or scratch) / "ulmfit-lm"
            print(f"== stage 1: language model on IMDB train + unsup -> {lm_dir}", flush=True)
            stage1 = pretrain(args, lm_dir)
        print(f"== stage 2: classifier on {len(train)} training reviews", flush=True)
        member = "ulmfit-scratch" if args.scratch else "ulmfit"
        run, stage2 = fine_tune(args, train, lm_dir, None if keep is None else keep / member)
        print(f"   validation accuracy {stage2['val_accuracy']:.4f}", flush=True)
        stage3 = score(run, test, snips)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    total = time.perf_counter() - t0
    print(f"== test accuracy {stage3['test_accuracy']:.4f}, snippets "
          f"{stage3['snippets_accuracy']:.4f}; total {total / 60:.1f} min", flush=True)  # fmt: skip
    write_json(out, {
        "benchmark": "imdb_ulmfit",
        "quick": args.quick,
        "protocol": "LM pretrained on IMDB train + unsup reviews (never test); classifier "
        "fine-tuned on IMDB train less the validation split (val_split 0.2, stratified, seed "
        "0), the best validation epoch kept; one score on the test reviews and the snippets",
        "pretraining": stage1,
        "fine_tuning": stage2,
        "scores": stage3,
        "test_accuracy": stage3["test_accuracy"],
        "snippets_accuracy": stage3["snippets_accuracy"],
        "time_s": {"pretraining": stage1["wall_s"], "fine_tuning": stage2["wall_s"],
                   "scoring": stage3["wall_s"], "total": round(total, 1)},
        "threads": args.threads,
        "seed": args.seed,
        "environment": environment(),
    })  # fmt: skip
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
