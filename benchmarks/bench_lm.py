"""Character language models: generation speed of the two loops, and training recipes (three
LSTM ones, seqlab's transformer, nanoGPT's CPU recipe) on the same wall-clock budget.

    python benchmarks/bench_lm.py                  # full: 10 min per run -> results/lm.json, lm.png
    python benchmarks/bench_lm.py --minutes 3      # a shorter budget per run
    python benchmarks/bench_lm.py --quick          # seconds and tiny models, prints only
    python benchmarks/bench_lm.py --skip-training  # only the generation loops
    python benchmarks/bench_lm.py --corpora tinyshakespeare --recipes transformer nanogpt-time
    python benchmarks/bench_lm.py --validation     # choose recipes here: -> lm.validation.json
    python benchmarks/bench_lm.py --validation --recipes transformer --set dropout=0.1 \
        --tag t-drop  # a variant of seqlab's recipes -> lm.validation.t-drop.json

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
   * ``default``: seqlab's default recipe (see ``seqlab.lm.train``);
   * ``transformer``: seqlab's transformer recipe (``model="transformer"``, the defaults of
     ``seqlab.lm.config.MODEL_RECIPES``: 4 x 128-d blocks, 4 heads, context 128, 16 windows a
     step, Adam 2e-3, 2 % warm-up, cosine to 10 %, no dropout; goal on tinyshakespeare:
     <= 1.40 nats/char in 10 minutes);
   * ``nanogpt``: nanoGPT's recommended CPU recipe for tinyshakespeare, re-implemented in
     ``_nanogpt.py`` (4 layers, 4 heads, 128-d, context 64, batch 12, AdamW 1e-3, learned
     absolute positions, tied embeddings, warm-up 100 then cosine to 1e-4 at 2,000
     iterations, no dropout): it stops at 2,000 iterations (or the budget, if sooner);
   * ``nanogpt-time``: the same recipe with its cosine stretched over the time budget, so
     that it uses the same minutes as the others ("nanoGPT at equal time").
   Held-out loss is reported in nats/char on the same last 10 % of each corpus, every
   character predicted once: the recurrent models and seqlab's transformer read the text as
   contiguous streams with their state carried (for the transformer, its key/value cache:
   each character gets the block_size - 1 before it, exactly), the lecture model on its
   windows (its stream score is added too), nanoGPT's model on windows of its context 64
   moved ``--nanogpt-stride`` (8) characters at a time, each scoring its last 8 (so 56 to 63
   characters of context; ``val_nanogpt_windows`` adds nanoGPT's own kind of estimate,
   non-overlapping windows). Nothing is chosen on that held-out part: the runs end with
   their last weights, and recipes are compared for choosing with ``--validation``, which
   trains on the first 90 % of each corpus and holds out its last ninth (81-90 % of the
   corpus), never the reported text. The plot shows validation loss against training time,
   one panel per corpus.
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
from _nanogpt import NanoRecipe, sample, sliding_loss, train_nanogpt

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
    "transformer": {"recipe": "default", "model": "transformer"},
}
NANOGPT = {"nanogpt": False, "nanogpt-time": True}  # name -> schedule stretched to the budget
QUICK_SIZES = {"hidden_size": 32, "num_layers": 1, "batch_size": 16, "d_model": 32,
               "num_heads": 2, "block_size": 32}  # fmt: skip
QUICK_NANO = {"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 32, "max_iters": 30,
              "lr_decay_iters": 30, "warmup_iters": 5}  # fmt: skip
TARGETS = {"nietzsche": 1.30, "tinyshakespeare": 1.40}  # nats/char, the issues' goals


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
        if args.validation:  # the reported held-out part is left out altogether
            text, _ = seqlab.lm.split_text(text, 0.1)
        if args.quick:
            text = text[:60_000]
        lower = corpus == "nietzsche"  # the lecture's setting; Shakespeare stays as it is
        results.setdefault(corpus, {})
        for name in args.recipes:
            key = name if name in NANOGPT or not args.overrides else f"{name}{_suffix(args)}"
            print(f"== {corpus} / {key}: {args.minutes:g} min", flush=True)
            if name in NANOGPT:
                entry = run_nanogpt(args, text, lower, stretch=NANOGPT[name])
            else:
                entry = run_seqlab(args, text, lower, name, work / f"{corpus}-{name}")
            results[corpus][key] = entry
            print(
                f"   held-out {entry['metrics']['val']['loss']:.4f} nats/char after "
                f"{entry['metrics']['steps']} steps; sample: {entry['sample_t0.5'][:80]!r}",
                flush=True,
            )
            if on_update is not None:
                on_update()
    return results


def _suffix(args: argparse.Namespace) -> str:
    """The ``--set`` overrides as a recipe-name suffix, e.g. ``[dropout=0.1]``."""
    return "[" + ",".join(f"{k}={v}" for k, v in args.overrides.items()) + "]"


def _overrides(pairs: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs; each value read as JSON when it parses (numbers, null, true)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"--set takes KEY=VALUE, got {pair!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def _prompt(lower: bool) -> str:
    return "the will to truth " if lower else "ROMEO:\n"


def run_seqlab(args: argparse.Namespace, text: str, lower: bool, name: str, out: Path) -> dict:
    """One seqlab recipe: train with the budget, score the held-out part, sample."""
    import seqlab.lm

    settings = {**RECIPES[name], **args.overrides}
    if args.quick:
        settings.update(QUICK_SIZES)
    lm = seqlab.lm.train(
        text=text,
        lower=lower,
        minutes=args.minutes,
        seed=args.seed,
        device=args.device,
        out=out,
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
    _, val = seqlab.lm.split_text(text, 0.1)
    if name == "lecture":
        entry["val_stream"] = lm.evaluate(val, mode="stream")
    if getattr(lm.model, "block_size", None):  # nanoGPT's kind of estimate, for reference
        ids = lm.vocab.encode(val, errors="ignore")
        block = lm.model.block_size
        nats, n = sliding_loss(lambda x: lm.model(x)[0], ids, block, block)
        entry["val_nanogpt_windows"] = {"loss": nats / n, "tokens": n}
    entry["sample_t0.5"] = lm.generate(_prompt(lower), 200, temperature=0.5, seed=0)
    return entry


def run_nanogpt(args: argparse.Namespace, text: str, lower: bool, stretch: bool) -> dict:
    """nanoGPT's recipe (``_nanogpt.py``) on the same split and characters as seqlab's."""
    import seqlab.lm

    vocab = seqlab.lm.CharVocabulary.fit(text, lower=lower)  # the whole corpus's characters
    train_text, val_text = seqlab.lm.split_text(text, 0.1)
    recipe = NanoRecipe(bias=args.nanogpt_bias, **(QUICK_NANO if args.quick else {}))
    stride = min(args.nanogpt_stride, recipe.block_size)
    model, entry = train_nanogpt(
        vocab.encode(train_text),
        vocab.encode(val_text),
        len(vocab),
        recipe,
        minutes=args.minutes,
        stretch=stretch,
        eval_seconds=max(2.0, args.minutes * 60 / 20),
        eval_tokens=20_000,
        eval_stride=stride,
        say=(lambda line: None) if args.quiet else print,
    )
    ids = sample(model, vocab.encode(_prompt(lower)).tolist(), 200, temperature=0.5, seed=0)
    entry["sample_t0.5"] = vocab.decode(ids)
    return entry


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
        target = TARGETS.get(corpus)
        if target is not None:
            ax.axhline(target, color="grey", lw=0.8, ls=":", label=f"target {target:.2f}")
        ax.set_title(f"{corpus}: held-out loss, {minutes:g} min each")
        ax.set_xlabel("training time (min)")
        ax.set_ylabel("nats / char")
        ax.set_ylim(top=min(4.5, ax.get_ylim()[1]))
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="seconds and tiny models; no files")
    parser.add_argument("--minutes", type=float, default=None, help="budget per run (10)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (2)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--corpora", nargs="+", default=["nietzsche", "tinyshakespeare"])
    choices = [*RECIPES, *NANOGPT]
    parser.add_argument("--recipes", nargs="+", default=choices, choices=choices)
    parser.add_argument(
        "--validation",
        action="store_true",
        help="train on the first 90%% of each corpus and score its last ninth (for choosing "
        "recipes); results go to lm.validation.json",
    )
    parser.add_argument(
        "--nanogpt-stride", type=int, default=8, help="nanoGPT scoring windows' step (8)"
    )
    parser.add_argument(
        "--nanogpt-bias", action="store_true", help="biases in nanoGPT's layers (GPT-2's)"
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a setting of seqlab.lm.train on top of every seqlab recipe (repeatable); the "
        "entry is named e.g. transformer[dropout=0.1]",
    )
    parser.add_argument("--tag", default=None, help="results to lm[.validation].TAG.json")
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
    args.overrides = _overrides(args.overrides)
    return args


def main() -> int:
    args = parse_args()
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
        "held_out": "last 10 % of the first 90 %" if args.validation else "last 10 %",
    }
    from seqlab._utils import atomic_write_json, read_json

    stem = "lm.validation" if args.validation else "lm"
    result_file = args.out / (f"{stem}.{args.tag}.json" if args.tag else f"{stem}.json")
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
        plot(report["training"], result_file.with_suffix(".png"), args.minutes)
    print(f"wrote {result_file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
