"""LSTM(32) on IMDB: seqlab (length-bucketed batches, packed) vs the lecture's fixed-length setup.

    python benchmarks/bench_lstm_speed.py               # 20k train / 5k val / 25k test, 10 epochs
    python benchmarks/bench_lstm_speed.py --quick       # 2k / 2k, 1 epoch: a smoke run
    python benchmarks/bench_lstm_speed.py --threads 1   # pin torch's CPU threads (all variants)

The model is the lecture's (Chollet 6.2): a 10,000-id vocabulary, 32-d embeddings, LSTM(32),
its last state into a dense layer. Every variant uses the same vectorizer (fitted on the
20,000 training reviews: the seeded 80% of IMDB's train split, as Keras's validation_split
leaves), the same 500-token cut (the last 500 tokens: Keras's truncating="pre"), the same
batch size, optimizer, learning rate, number of epochs (the lecture's 10) and seed. After
every epoch each variant scores the 5,000 held-out training reviews (the validation part,
outside the timed pass); the weights of its best validation epoch are scored once on all
25,000 test reviews, so accuracy is compared between trained models, not at an arbitrary
epoch. Variants:

  seqlab          seqlab.fit on LSTMClassifier: batches of similar-length reviews, each padded
                  to its longest review; the recurrence runs in seqlab's compiled CPU kernel
                  (each review stops at its length), the first layer's input product on the
                  embedding table ((E W_ih^T + b)[tokens]). SEQLAB_LSTM_KERNEL=torch runs the
                  same model through nn.LSTM instead
  keras-style     plain PyTorch: every review pre-padded / truncated to 500 ids up front (one
                  (N, 500) tensor, as pad_sequences gives), nn.LSTM over all 500 steps, last
                  state; the embedding learns a vector for the padding id, as Keras's does
  bucketed-padded plain PyTorch, seqlab's length buckets but no packing: each batch
                  post-padded to its longest review, nn.LSTM over the padded batch, the output
                  at each review's last true step (exact for a one-directional LSTM, since a
                  step never sees later ones). A reference for where packing's cost goes.

Each variant runs in its own child process, one after the other, so that its peak memory is
its own: "peak_rss_mb" is the child's maximum resident set size (getrusage ru_maxrss, data
loading included) and "train_rss_increase_mb" the peak RSS sampled every 10 ms by psutil
during training minus the RSS just before it. Epoch times cover the training passes only
(batching included; vectorizing and evaluation excluded). "padding_fraction" is the share
of padding positions in the tensors the LSTM reads (for keras-style, the (N, 500) tensor).

Writes benchmarks/results/lstm_speed.json (lstm_speed.quick.json with --quick), atomically.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from _common import DATA, RESULTS, environment, write_json

DEFAULT_DATA = DATA / "imdb"
VARIANTS = ("seqlab", "keras-style", "bucketed-padded")
TARGET_SPEEDUP = 3.0
# The issue's baseline (the lecture's Keras model, 20k reviews, maxlen 500): 18.9 s per epoch.
ISSUE_BASELINE_EPOCH_S = 18.9

FULL = {"train": 20_000, "test": None, "epochs": 10}
QUICK = {"train": 2_000, "test": 2_000, "epochs": 1}
SETUP = {
    "max_tokens": 10_000,
    "maxlen": 500,
    "truncating": "pre",
    "embedding_dim": 32,
    "hidden_size": 32,
}


# ---------------------------------------------------------------------------- data


def load_data(data_dir: Path, sizes: dict, seed: int):
    from seqlab.data.batching import stratified_split
    from seqlab.data.datasets import imdb
    from seqlab.text import TextVectorizer

    train, test = imdb(("train", "test"), data_dir=data_dir)
    # 20,000 of the 25,000 training reviews: Keras's validation_split=0.2 trains on 80%.
    keep, held = stratified_split(train.labels, 1 - sizes["train"] / len(train), seed=seed)
    n_val = sizes["train"] // 4  # full: the other 5,000; --quick: 500 of the other 23,000
    if len(held) > n_val:
        held = np.random.default_rng(seed).choice(held, n_val, replace=False)
    train, val = train.subset(np.sort(keep)), train.subset(np.sort(held))
    if sizes["test"]:
        _, held = stratified_split(test.labels, sizes["test"] / len(test), seed=seed)
        test = test.subset(held)
    vec = TextVectorizer(
        max_tokens=SETUP["max_tokens"],
        maxlen=SETUP["maxlen"],
        padding="pre",
        truncating=SETUP["truncating"],
    ).fit(train.texts)
    return train, val, test, vec


class RssSampler:
    """Peak resident set size of this process while the block runs, sampled every 10 ms."""

    def __init__(self) -> None:
        import psutil

        self.process = psutil.Process()
        self.start = self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)

    @property
    def increase_mb(self) -> float:
        return round((self.peak - self.start) / 2**20, 1)


# ---------------------------------------------------------------------------- variants


def run_seqlab(train, val, test, vec, cfg: dict) -> dict:
    import torch

    import seqlab
    from seqlab.data.batching import bucket_batches, encode, sequence_lengths
    from seqlab.models import _lstm_cpu
    from seqlab.models.rnn import LSTMClassifier

    kernel = _lstm_cpu.available()  # compiles on a first run: outside the timed epochs

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg["seed"])
        model = LSTMClassifier(
            vocab_size=vec.vocab_size,
            embedding_dim=SETUP["embedding_dim"],
            hidden_size=SETUP["hidden_size"],
            seed=cfg["seed"],
        )
    lengths = sequence_lengths(encode(vec, train.texts, "sequence"))
    batches = bucket_batches(lengths, cfg["batch_size"], seed=cfg["seed"], epoch=0)
    padded = sum(len(b) * int(lengths[b].max()) for b in batches)
    with RssSampler() as rss:
        run = seqlab.fit(
            model,
            vec,
            train,
            val=val,
            monitor="val_accuracy",
            restore_best=True,
            epochs=cfg["epochs"],
            batch_size=cfg["batch_size"],
            optimizer=cfg["optimizer"],
            lr=cfg["lr"],
            clip_grad_norm=cfg["clip"],
            seed=cfg["seed"],
            device="cpu",
            progress=False,
        )
    t0 = time.perf_counter()
    accuracy = run.evaluate(test)["accuracy"]
    val_acc = [round(float(a), 4) for a in run.history["val_accuracy"]]
    return {
        # the training passes alone: the trainer times its validation separately
        "epoch_s": [round(float(t), 2) for t in run.history["train_time_s"]],
        "train_loss": [round(float(x), 4) for x in run.history["loss"]],
        "val_accuracy": val_acc,
        "best_epoch": int(np.argmax(val_acc)) + 1,
        "test_accuracy": float(accuracy),
        "eval_s": round(time.perf_counter() - t0, 2),
        "padding_fraction": round(1 - int(lengths.sum()) / padded, 4),
        "mean_steps_per_batch": round(padded / len(lengths), 1),
        "train_rss_increase_mb": rss.increase_mb,
        "lstm_recurrence": "seqlab C kernel" if kernel else "nn.LSTM",
    }


def plain_lstm(vocab_size: int, padding_idx: int | None):
    """The lecture's model in plain PyTorch: Embedding -> LSTM -> last state -> Dense."""
    import torch
    from torch import nn

    class PlainLSTM(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            dim, hidden = SETUP["embedding_dim"], SETUP["hidden_size"]
            self.embedding = nn.Embedding(vocab_size, dim, padding_idx=padding_idx)
            self.lstm = nn.LSTM(dim, hidden, batch_first=True)
            self.head = nn.Linear(hidden, 2)

        def forward(self, tokens, lengths=None):
            out, (h, _) = self.lstm(self.embedding(tokens))  # out: (B, T, H)
            if lengths is None:
                return self.head(h[-1])  # the state after step T (pre-padded input)
            rows = torch.arange(out.shape[0])
            return self.head(out[rows, lengths - 1])  # the last true step (post-padded)

    return PlainLSTM()


def _optimizer(model, cfg: dict):
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    if cfg["optimizer"] == "rmsprop":
        return torch.optim.RMSprop(params, lr=cfg["lr"])
    if cfg["optimizer"] == "sgd":
        return torch.optim.SGD(params, lr=cfg["lr"])
    return torch.optim.Adam(params, lr=cfg["lr"])


def _train_plain(model, cfg: dict, n: int, make_batches, get_batch, score_val) -> dict:
    """Train for cfg["epochs"]; after each (untimed) score the validation part and keep the
    best epoch's weights in ``model``."""
    import copy

    import torch.nn.functional as F
    from torch import nn

    opt = _optimizer(model, cfg)
    epoch_s, losses, val_acc = [], [], []
    best_state = None
    for epoch in range(cfg["epochs"]):
        model.train()
        t0 = time.perf_counter()
        total = 0.0
        for rows in make_batches(epoch):
            inputs, target = get_batch(rows)
            loss = F.cross_entropy(model(**inputs), target)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg["clip"] is not None:  # as seqlab.fit's clip_grad_norm
                nn.utils.clip_grad_norm_(model.parameters(), cfg["clip"])
            opt.step()
            total += float(loss.detach()) * len(rows)
        epoch_s.append(round(time.perf_counter() - t0, 2))
        losses.append(round(total / n, 4))
        model.eval()
        val_acc.append(round(score_val(), 4))
        if best_state is None or val_acc[-1] > max(val_acc[:-1]):  # the first best, as argmax
            best_state = copy.deepcopy(model.state_dict())
        print(f"    epoch {epoch + 1}: {epoch_s[-1]} s, loss {losses[-1]}, "
              f"val accuracy {val_acc[-1]}", flush=True)  # fmt: skip
    model.load_state_dict(best_state)
    model.eval()
    return {
        "epoch_s": epoch_s,
        "train_loss": losses,
        "val_accuracy": val_acc,
        "best_epoch": int(np.argmax(val_acc)) + 1,
    }


def run_keras_style(train, val, test, vec, cfg: dict) -> dict:
    import torch

    x = torch.from_numpy(np.asarray(vec.transform(train.texts)))  # (N, 500), pre-padded
    y = torch.from_numpy(train.labels.astype(np.int64))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg["seed"])
        model = plain_lstm(vec.vocab_size, padding_idx=None)
    rng = np.random.default_rng(cfg["seed"])

    def batches(epoch: int):
        order = rng.permutation(len(y))
        return [order[i : i + cfg["batch_size"]] for i in range(0, len(y), cfg["batch_size"])]

    def get(rows):
        index = torch.from_numpy(rows)
        return {"tokens": x[index]}, y[index]

    def encoded(ds):
        return torch.from_numpy(np.asarray(vec.transform(ds.texts)))

    def accuracy(xs, labels) -> float:
        correct = 0
        with torch.no_grad():
            for i in range(0, len(xs), 256):
                pred = model(tokens=xs[i : i + 256]).argmax(1).numpy()
                correct += int((pred == labels[i : i + 256]).sum())
        return correct / len(labels)

    x_val = encoded(val)  # once, not every epoch
    with RssSampler() as rss:
        trained = _train_plain(
            model, cfg, len(y), batches, get, lambda: accuracy(x_val, val.labels)
        )
    t0 = time.perf_counter()
    test_accuracy = accuracy(encoded(test), test.labels)
    return {
        **trained,
        "test_accuracy": test_accuracy,
        "eval_s": round(time.perf_counter() - t0, 2),
        "padding_fraction": round(float((x == 0).float().mean()), 4),
        "mean_steps_per_batch": float(x.shape[1]),
        "train_rss_increase_mb": rss.increase_mb,
    }


def run_bucketed_padded(train, val, test, vec, cfg: dict) -> dict:
    import torch

    from seqlab.data.batching import bucket_batches, encode, sequence_batch, sequence_lengths

    seqs = encode(vec, train.texts, "sequence")  # padding stripped
    lengths = sequence_lengths(seqs)
    y = torch.from_numpy(train.labels.astype(np.int64))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg["seed"])
        model = plain_lstm(vec.vocab_size, padding_idx=0)

    def batches(epoch: int):
        return bucket_batches(lengths, cfg["batch_size"], seed=cfg["seed"], epoch=epoch)

    def get(rows):
        b = sequence_batch(seqs, rows)
        b["lengths"] = b["lengths"].clamp(min=1)
        return b, y[torch.from_numpy(rows)]

    def accuracy(ds_seqs, labels) -> float:
        correct = 0
        with torch.no_grad():
            for rows in bucket_batches(sequence_lengths(ds_seqs), 256, shuffle=False):
                b = sequence_batch(ds_seqs, rows)
                b["lengths"] = b["lengths"].clamp(min=1)
                pred = model(**b).argmax(1).numpy()
                correct += int((pred == labels[rows]).sum())
        return correct / len(labels)

    padded = sum(len(b) * max(int(lengths[b].max()), 1) for b in batches(0))
    val_seqs = encode(vec, val.texts, "sequence")  # once, not every epoch
    with RssSampler() as rss:
        trained = _train_plain(
            model, cfg, len(y), batches, get, lambda: accuracy(val_seqs, val.labels)
        )
    t0 = time.perf_counter()
    test_accuracy = accuracy(encode(vec, test.texts, "sequence"), test.labels)
    return {
        **trained,
        "test_accuracy": test_accuracy,
        "eval_s": round(time.perf_counter() - t0, 2),
        "padding_fraction": round(1 - int(lengths.sum()) / padded, 4),
        "mean_steps_per_batch": round(padded / len(lengths), 1),
        "train_rss_increase_mb": rss.increase_mb,
    }


RUNNERS = {
    "seqlab": run_seqlab,
    "keras-style": run_keras_style,
    "bucketed-padded": run_bucketed_padded,
}


def worker(variant: str, cfg: dict, out: Path) -> int:
    import torch

    if cfg["threads"]:
        torch.set_num_threads(cfg["threads"])  # benchmark setting, never library code
    t0 = time.perf_counter()
    train, val, test, vec = load_data(Path(cfg["data_dir"]), cfg["sizes"], cfg["seed"])
    prep = round(time.perf_counter() - t0, 1)
    print(f"  {variant}: {len(train)} train / {len(val)} val / {len(test)} test reviews "
          f"({prep} s to load)")  # fmt: skip
    result = RUNNERS[variant](train, val, test, vec, cfg)
    result["mean_epoch_s"] = round(float(np.mean(result["epoch_s"])), 2)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    result["torch_threads"] = torch.get_num_threads()
    result["load_and_vectorize_s"] = prep
    out.write_text(json.dumps(result), encoding="utf-8")
    return 0


# ---------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="2,000 / 2,000 reviews, 1 epoch")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA, help="folder or archive")
    parser.add_argument("--out", type=Path, default=None, help="JSON result file")
    parser.add_argument("--epochs", type=int, default=None, help="default: 10 (quick: 1)")
    parser.add_argument("--batch-size", type=int, default=128, help="the lecture's 128")
    parser.add_argument("--optimizer", choices=("adam", "rmsprop", "sgd"), default="adam")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--clip", type=float, default=None, help="gradient-norm clipping, every variant alike"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch threads per variant")
    parser.add_argument(
        "--variants", default=",".join(VARIANTS), help=f"comma-separated subset of {VARIANTS}"
    )
    parser.add_argument("--worker", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--worker-config", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--worker-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        cfg = json.loads(args.worker_config.read_text(encoding="utf-8"))
        return worker(args.worker, cfg, args.worker_out)

    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variants {unknown}; choose from {list(VARIANTS)}")
    sizes = QUICK if args.quick else FULL
    cfg = {
        "data_dir": str(args.data_dir),
        "sizes": sizes,
        "epochs": args.epochs or sizes["epochs"],
        "batch_size": args.batch_size,
        "optimizer": args.optimizer,
        "lr": args.lr,
        "seed": args.seed,
        "clip": args.clip,
        "threads": args.threads,
    }
    name = "lstm_speed.quick.json" if args.quick else "lstm_speed.json"
    out = args.out or RESULTS / name
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench-lstm-") as tmp:
        cfg_path = Path(tmp) / "config.json"
        cfg_path.write_text(json.dumps(cfg), encoding="utf-8")
        for variant in variants:
            print(f"== {variant}", flush=True)
            res_path = Path(tmp) / f"{variant}.json"
            cmd = [sys.executable, __file__, "--worker", variant, "--worker-config",
                   str(cfg_path), "--worker-out", str(res_path)]  # fmt: skip
            rc = subprocess.call(cmd)
            if rc or not res_path.is_file():
                print(f"error: variant {variant} failed (exit {rc})", file=sys.stderr)
                return 1
            results[variant] = json.loads(res_path.read_text(encoding="utf-8"))
            r = results[variant]
            print(f"   {r['mean_epoch_s']} s/epoch, best validation epoch {r['best_epoch']}, "
                  f"test accuracy {r['test_accuracy']:.4f}, "
                  f"padding {r['padding_fraction']:.1%}, peak RSS {r['peak_rss_mb']} MB",
                  flush=True)  # fmt: skip

    summary: dict[str, object] = {}
    base = results.get("keras-style")
    if base:
        for variant in ("seqlab", "bucketed-padded"):
            if variant in results:
                r = results[variant]
                summary[f"{variant}_speedup"] = round(base["mean_epoch_s"] / r["mean_epoch_s"], 2)
                summary[f"{variant}_accuracy_gain"] = round(
                    r["test_accuracy"] - base["test_accuracy"], 4
                )
        if "seqlab_speedup" in summary:
            summary["target_speedup"] = TARGET_SPEEDUP
            summary["target_met"] = bool(
                summary["seqlab_speedup"] >= TARGET_SPEEDUP and summary["seqlab_accuracy_gain"] >= 0
            )

    env = environment()
    write_json(
        out,
        {
            "benchmark": "lstm_speed",
            "quick": args.quick,
            "date": env["date"],
            "setup": {
                **SETUP,
                "train_reviews": sizes["train"],
                "val_reviews": sizes["train"] // 4,
                "test_reviews": sizes["test"] or 25_000,
                "epochs": cfg["epochs"],
                "batch_size": cfg["batch_size"],
                "optimizer": cfg["optimizer"],
                "lr": cfg["lr"],
                "clip_grad_norm": cfg["clip"],
                "seed": cfg["seed"],
            },
            "issue_baseline_epoch_s": ISSUE_BASELINE_EPOCH_S,
            "memory": "peak_rss_mb: child process ru_maxrss (data loading included); "
            "train_rss_increase_mb: psutil RSS sampled every 10 ms during training minus the "
            "RSS before it",
            "results": results,
            "summary": summary,
            "environment": env,
        },
    )
    for key, value in summary.items():
        print(f"{key}: {value}")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
