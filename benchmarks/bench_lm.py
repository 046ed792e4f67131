"""Character language models: generation speed of the two loops, and three training recipes
on the same wall-clock budget.

    python benchmarks/bench_lm.py                  # full: 10 min per run -> results/lm.json, lm.png
    python benchmarks/bench_lm.py --minutes 3      # a shorter budget per run
    python benchmarks/bench_lm.py --quick          # seconds and tiny models, prints only
    python benchmarks/bench_lm.py --skip-training  # only the generation loops

1. Generation: characters per second of the lecture's loop (every step re-reads the last
   ``maxlen`` = 40 characters from a zero state) and of seqlab's loop (prompt read once,
   then one character per step with the recurrent state carried), on the same model: the
   lecture's LSTM(128) and seqlab's default 2 x LSTM(256), weights as trained in part 2 when
   available (speed does not depend on them). Target: the stateful loop >= 10x faster.
   Both loops draw with the same sampler (seqlab's NumPy inverse-CDF draw); the state loop
   steps the model in NumPy (``NumpyStepper``), the window loop calls the PyTorch model on
   the window, as the lecture's loop calls ``model.predict``.
2. Training, the same budget each (training time, evaluations excluded), on lower-cased
   Nietzsche and on tinyshakespeare as it is, the last 10 % held out:
   * ``lecture``: the Keras example (windows of 40 every 3, one-hot, LSTM(128), RMSprop 0.01,
     batch 128);
   * ``baseline``: a plain 2-layer LSTM(256) language model on contiguous chunks (embedding
     64, 32 streams x 100 characters, Adam 1e-3 constant, no dropout, no clipping);
   * ``default``: seqlab's default recipe (see ``seqlab.lm.train``).
   Held-out loss is reported in nats/char as each recipe is scored (windows for the lecture
   recipe, contiguous streams otherwise); the lecture model's stream score is added too.
   The plot shows validation loss against training time, one panel per corpus.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import RESULTS, environment

RECIPES: dict[str, dict[str, Any]] = {
    "lecture": {"recipe": "lecture"},
    "baseline": {
        "recipe": "default",
        # every setting spelled out, so that changes to seqlab's defaults leave it alone
        "batch_size": 32,
        "seq_len": 100,
        "hidden_size": 256,
        "num_layers": 2,
        "embedding_dim": 64,
        "dropout": 0.0,
        "lr": 1e-3,
        "schedule": "constant",
        "warmup": 0.0,
        "clip_grad_norm": None,
    },
    "default": {"recipe": "default"},
}
QUICK_SIZES = {"hidden_size": 32, "num_layers": 1, "batch_size": 16}


def generation_speed(model: Any, length: int, maxlen: int, prompt: str) -> dict[str, Any]:
    """Characters per second of both loops on ``model`` (a LanguageModel)."""
    out: dict[str, Any] = {}
    for loop in ("window", "state"):
        model.generate(prompt, length=5, loop=loop, seed=0)  # warm-up
        # The state loop is fast enough that `length` characters take a few milliseconds:
        # it writes 10x as many, so that both timings last long enough to be measured.
        n = length * (10 if loop == "state" else 1)
        start = time.perf_counter()
        text = model.generate(prompt, length=n, temperature=1.0, loop=loop, seed=0)
        seconds = time.perf_counter() - start
        out[loop] = {"chars": len(text), "seconds": seconds, "chars_per_s": len(text) / seconds}
    out["speedup"] = out["state"]["chars_per_s"] / out["window"]["chars_per_s"]
    out["maxlen"] = maxlen
    return out


def train_all(
    args: argparse.Namespace,
    work: Path,
    results: dict[str, Any] | None = None,
    on_update: Any = None,
) -> dict[str, Any]:
    """Train every recipe on every corpus; ``results`` (corpus -> recipe -> entry) is updated
    in place and ``on_update()`` called after each run, so an interrupted benchmark keeps the
    runs it finished and later calls can add corpora or recipes."""
    import seqlab.lm

    results = {} if results is None else results
    for corpus in args.corpora:
        text = seqlab.lm.load_corpus(corpus)
        if args.quick:
            text = text[:60_000]
        lower = corpus == "nietzsche"  # the lecture's setting; Shakespeare stays as it is
        results.setdefault(corpus, {})
        for name in args.recipes:
            settings = dict(RECIPES[name])
            if args.quick:
                settings.update(QUICK_SIZES)
            print(f"== {corpus} / {name}: {args.minutes:g} min", flush=True)
            lm = seqlab.lm.train(
                text=text,
                lower=lower,
                minutes=args.minutes,
                seed=args.seed,
                device=args.device,
                out=work / f"{corpus}-{name}",
                overwrite=True,  # --runs-dir may hold an earlier run of the benchmark
                eval_seconds=max(2.0, args.minutes * 60 / 20),
                progress=not args.quiet,
                **settings,
            )
            entry: dict[str, Any] = {
                "settings": settings,
                "metrics": lm.metrics,
                # train_loss: the training loss since the previous row ("loss" in the history)
                "history": [
                    {
                        "step": h["step"],
                        "time_s": h["time_s"],
                        "tokens": h.get("tokens"),
                        "train_loss": h.get("loss"),
                        "val_loss": h.get("val_loss"),
                    }
                    for h in lm.history
                ],
                "parameters": sum(p.numel() for p in lm.model.parameters()),
            }
            if name == "lecture":
                _, val = seqlab.lm.split_text(text, 0.1)
                entry["val_stream"] = lm.evaluate(val, mode="stream")
            results[corpus][name] = entry
            sample = lm.generate(
                "the will to truth " if lower else "ROMEO:\n", 200, temperature=0.5, seed=0
            )
            entry["sample_t0.5"] = sample
            print(
                f"   held-out {lm.metrics['val']['loss']:.4f} nats/char after "
                f"{lm.metrics['steps']} steps; sample: {sample[:80]!r}",
                flush=True,
            )
            if on_update is not None:
                on_update()
    return results


def plot(results: dict[str, Any], path: Path, minutes: float) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6 * len(results), 4.5), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(results), squeeze=False)[0]
    for ax, (corpus, runs) in zip(axes, results.items()):
        for name, entry in runs.items():
            points = [(h["time_s"] / 60, h["val_loss"]) for h in entry["history"]]
            xs, ys = zip(*[(x, y) for x, y in points if y is not None])
            final = entry["metrics"]["val"]["loss"]
            ax.plot(xs, ys, "-o", markersize=3, label=f"{name} (final {final:.3f})")
        ax.axhline(1.30, color="grey", lw=0.8, ls=":", label="target 1.30")
        ax.set_title(f"{corpus}: held-out loss, {minutes:g} min each")
        ax.set_xlabel("training time (min)")
        ax.set_ylabel("nats / char")
        ax.set_ylim(top=min(4.5, ax.get_ylim()[1]))
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="seconds and tiny models; no files")
    parser.add_argument("--minutes", type=float, default=None, help="budget per run (10)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (2)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--corpora", nargs="+", default=["nietzsche", "tinyshakespeare"])
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    parser.add_argument("--gen-length", type=int, default=None, help="characters (400)")
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--runs-dir",
        type=Path,
        default=None,
        help="keep the run folders here (default: a temporary folder)",
    )
    args = parser.parse_args()
    if args.minutes is None:
        args.minutes = 4 / 60 if args.quick else 10.0
    gen_length = args.gen_length or (60 if args.quick else 400)

    import torch

    torch.set_num_threads(args.threads)  # a benchmark setting, never done in the library
    import seqlab.lm

    report: dict[str, Any] = {
        "benchmark": "lm",
        "date": (machine := environment(threads=args.threads))["date"],
        "machine": machine,
        "quick": args.quick,
        "minutes_per_run": args.minutes,
    }
    from seqlab._utils import atomic_write_json, read_json

    result_file = args.out / "lm.json"
    previous = read_json(result_file) if result_file.is_file() and not args.quick else {}
    if previous.get("minutes_per_run") == args.minutes and "training" in previous:
        report["training"] = previous["training"]  # merge: keep corpora/recipes run before
    if "generation" in previous:
        report["generation"] = previous["generation"]

    def save() -> None:
        if not args.quick:
            args.out.mkdir(parents=True, exist_ok=True)
            atomic_write_json(result_file, report)

    with tempfile.TemporaryDirectory() as tmp:
        work = args.runs_dir or Path(tmp)
        if not args.skip_training:
            report["training"] = train_all(args, work, report.get("training"), save)

        # Generation speed on the same two models, trained ones when part 2 ran.
        text = seqlab.lm.load_corpus("nietzsche")
        report["generation"] = {}
        for name in ("lecture", "default"):
            folder = work / f"nietzsche-{name}"
            if (folder / "model.safetensors").is_file():
                lm = seqlab.lm.load(folder, device=args.device)
            else:
                settings = dict(RECIPES[name], **(QUICK_SIZES if args.quick else {}))
                lm = seqlab.lm.train(text=text[:20_000], lower=True, steps=1, seed=args.seed,
                                     device=args.device, progress=False, **settings)  # fmt: skip
            speed = generation_speed(lm, gen_length, lm.maxlen, "the will to truth is the ")
            report["generation"][name] = speed
            print(
                f"== generation, {name} model: window loop {speed['window']['chars_per_s']:.0f} "
                f"chars/s, state loop {speed['state']['chars_per_s']:.0f} chars/s, "
                f"speed-up {speed['speedup']:.1f}x",
                flush=True,
            )

    if args.quick:
        print(json.dumps({k: v for k, v in report.items() if k != "training"}, indent=2))
        return 0
    save()
    if "training" in report:
        plot(report["training"], args.out / "lm.png", args.minutes)
    print(f"wrote {args.out / 'lm.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
