"""Generation with the transformer language model: its key/value cache against nanoGPT's
loop (crop the context to the last block_size tokens and re-run the model for every new
token), and the cache's exactness against re-running the whole sequence.

    python benchmarks/bench_generate.py                 # -> results/generate.json
    python benchmarks/bench_generate.py --quick         # tiny sizes, seconds, prints only
    python benchmarks/bench_generate.py --run runs/gpt  # the model of a trained run

Set-up: seqlab's transformer recipe (4 blocks of 128-d, 4 heads) with ``block_size`` 256,
trained ``--train-steps`` steps on tinyshakespeare (the speed does not depend on the
weights; some training makes the distributions sharper, closer to real use), a prompt of
256 characters of the held-out text (a full context), 1,000 generated characters at
temperature 1 with seed 0, every loop drawing with the same sampler
(:class:`seqlab.generation.sampling.TokenSampler`):

* ``cache``: ``loop="state"``, the prompt read once, then one token at a time with the
  key/value cache (the last block_size - 1 keys and values of every layer), stepped in
  NumPy with the cache in a ring buffer (:mod:`seqlab.models.gpt_stepper`);
* ``crop``: ``loop="window"`` with ``maxlen = block_size``, nanoGPT's ``sample.py`` loop;
* ``full``: ``loop="full"``, the whole sequence re-run under the banded mask at every step,
  the reference the cache must equal (slow, O(n) per token; ``--skip-full`` leaves it out).

Reported: the seconds of each (cache and crop timed alternately, A B A B ..., the medians
of the rounds), the crop / cache ratio, and whether the texts are identical. The cache's
text must equal the full re-run's (the same computation, to float rounding: the exit status
is 1 if it does not). It need not equal the crop's: past block_size, with more than one
layer, re-running a cropped window is a different computation (each token's hidden state
depends on where the crop starts), so the common prefix is reported instead.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from _common import RESULTS, environment, paired_timing, timed, write_json

QUICK = {"d_model": 32, "num_layers": 2, "num_heads": 2, "batch_size": 8}


def common_prefix(a: str, b: str) -> int:
    """Characters ``a`` and ``b`` share from the start."""
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def build(args: argparse.Namespace) -> Any:
    """The language model: a trained run's (``--run``), or the recipe's, trained a little."""
    import seqlab.lm

    if args.run:
        return seqlab.lm.load(args.run)
    text = seqlab.lm.load_corpus("tinyshakespeare")
    return seqlab.lm.train(
        text=text[:60_000] if args.quick else text,
        model="transformer",
        block_size=args.block_size,
        steps=args.train_steps,
        seed=args.seed,
        device="cpu",
        progress=False,
        eval_tokens=2_000,
        **(QUICK if args.quick else {}),
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes; prints only")
    parser.add_argument("--run", default=None, help="a trained transformer run folder")
    parser.add_argument("--block-size", type=int, default=None, help="context (256)")
    parser.add_argument("--length", type=int, default=None, help="characters (1000)")
    parser.add_argument("--train-steps", type=int, default=None, help="(200)")
    parser.add_argument("--rounds", type=int, default=5, help="most cache/crop rounds (5)")
    parser.add_argument("--skip-full", action="store_true", help="no full re-run reference")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (2)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--out", default=str(RESULTS / "generate.json"))
    args = parser.parse_args()
    args.block_size = args.block_size or (32 if args.quick else 256)
    args.length = args.length or (100 if args.quick else 1000)
    args.train_steps = args.train_steps or (3 if args.quick else 200)
    return args


def main() -> int:
    args = parse_args()
    import torch

    torch.set_num_threads(args.threads)  # a benchmark setting, never done in the library
    import seqlab.lm

    lm = build(args)
    block = lm.maxlen  # the model's block_size
    _, held_out = seqlab.lm.split_text(seqlab.lm.load_corpus("tinyshakespeare"), 0.1)
    prompt = held_out[1000 : 1000 + block]

    def generate(loop: str) -> str:
        return lm.generate(prompt, length=args.length, temperature=args.temperature,
                           seed=args.seed, loop=loop)  # fmt: skip

    lm.generate(prompt, length=5, loop="state")  # warm-up
    lm.generate(prompt, length=5, loop="window")
    rounds = 1 if args.quick else args.rounds
    timing = paired_timing(
        lambda: generate("window"),  # the baseline: nanoGPT's crop and re-run
        lambda: generate("state"),  # seqlab: the key/value cache
        min_rounds=min(3, rounds),
        max_rounds=rounds,
        label="crop vs cache",
    )
    crop_text, cache_text = timing.pop("last")
    report: dict[str, Any] = {
        "benchmark": "generate",
        "machine": environment(threads=args.threads),
        "quick": args.quick,
        "model": dict(lm.model.config),
        "parameters": sum(p.numel() for p in {id(p): p for p in lm.model.parameters()}.values()),
        "prompt_chars": len(prompt),
        "generated_chars": args.length,
        "temperature": args.temperature,
        "seed": args.seed,
        "cache_seconds": timing["seqlab_median_seconds"],
        "crop_seconds": timing["baseline_median_seconds"],
        "crop_over_cache": timing["ratio_median"],
        "timing": timing,
        "identical_to_crop": cache_text == crop_text,
        "common_prefix_with_crop": common_prefix(cache_text, crop_text),
        "sample": cache_text[:300],
    }
    print(
        f"cache {report['cache_seconds']:.2f} s, crop (nanoGPT) {report['crop_seconds']:.2f} s: "
        f"{report['crop_over_cache']:.1f}x; same text as the crop: {report['identical_to_crop']}"
        f" (first {report['common_prefix_with_crop']} characters agree)",
        flush=True,
    )
    if not args.skip_full:
        full_text, seconds = timed(lambda: generate("full"))
        report.update(full_seconds=seconds, identical_to_full=full_text == cache_text,
                      common_prefix_with_full=common_prefix(cache_text, full_text))  # fmt: skip
        print(
            f"full re-run {seconds:.2f} s; same text as the cache: {report['identical_to_full']}",
            flush=True,
        )
    if args.quick:
        print(json.dumps({k: v for k, v in report.items() if k != "timing"}, indent=2))
    else:
        os.makedirs(os.path.dirname(args.out), exist_ok=True)
        write_json(args.out, report)
        print(f"wrote {args.out}")
    if report.get("identical_to_full") is False:
        print("the cached text differs from the full re-run's", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
