"""seqlab's CPU LSTM kernel against nn.LSTM: forward + backward of one layer, several widths.

    python benchmarks/bench_lstm_kernel.py            # hidden 32, 64, 128, 256; 2 threads
    python benchmarks/bench_lstm_kernel.py --quick    # hidden 32 and 64, fewer repeats

One batch shaped like the IMDB benchmark's (128 sequences of 221 steps, every sequence at full
length, so both sides do the same work), inputs of 32 features for hidden 32 and of 100
otherwise (the classifiers' embedding widths). Timed: the layer's forward and a backward pass
from a loss on the last step, gradients for the input and all weights. The two sides are
timed alternately, ``--repeats`` calls each after two warm-up calls, in one process; reported:
median times, and the median (and range) of the per-pair ratios. This is the
measurement behind ``seqlab.models._lstm_cpu.MAX_HIDDEN`` (the widest layer that uses the
kernel). Writes benchmarks/results/lstm_kernel.json (lstm_kernel.quick.json with --quick).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from _common import RESULTS, environment, paired_timing, write_json


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="hidden 32 and 64, 3 repeats")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    parser.add_argument("--repeats", type=int, default=None, help="timed calls per side [9]")
    parser.add_argument("--out", type=Path, default=None, help="JSON result file")
    args = parser.parse_args()

    import torch

    from seqlab.models import _lstm_cpu

    if args.threads:
        torch.set_num_threads(args.threads)  # benchmark setting, never library code
    if not _lstm_cpu.available():
        print("error: the kernel is unavailable (no C compiler?)", file=sys.stderr)
        return 1
    repeats = args.repeats or (3 if args.quick else 9)
    widths = [32, 64] if args.quick else [32, 64, 128, 256]
    batch, steps = 128, 221
    rows = []
    for hidden in widths:
        inputs = 32 if hidden == 32 else 100
        torch.manual_seed(0)
        layer = torch.nn.LSTM(inputs, hidden, batch_first=True)
        x = torch.randn(batch, steps, inputs, requires_grad=True)
        lengths = torch.full((batch,), steps)
        weights = [getattr(layer, n) for n in layer._flat_weights_names]

        def kernel_step() -> None:
            out = _lstm_cpu.lstm(x, lengths, *weights)  # noqa: B023
            out[:, -1].sum().backward()  # noqa: B023

        def torch_step() -> None:
            out, _ = layer(x)  # noqa: B023
            out[:, -1].sum().backward()

        for step in (torch_step, kernel_step, torch_step, kernel_step):  # warm-up
            step()
        paired = paired_timing(torch_step, kernel_step, min_rounds=repeats, max_rounds=repeats)
        paired.pop("last")
        kernel_t, torch_t = paired["seqlab_seconds"], paired["baseline_seconds"]
        ratios = sorted(paired["ratios"])
        row = {
            "hidden_size": hidden,
            "input_size": inputs,
            "kernel_ms": round(statistics.median(kernel_t) * 1e3, 2),
            "nn_lstm_ms": round(statistics.median(torch_t) * 1e3, 2),
            "speedup": round(statistics.median(ratios), 2),
            "speedup_range": [round(ratios[0], 2), round(ratios[-1], 2)],
            "paired": paired,
        }
        rows.append(row)
        print(f"hidden {hidden:4d}: kernel {row['kernel_ms']:8.2f} ms, nn.LSTM "
              f"{row['nn_lstm_ms']:8.2f} ms, {row['speedup']:.2f}x "
              f"({ratios[0]:.2f}-{ratios[-1]:.2f})", flush=True)  # fmt: skip

    out = args.out or RESULTS / ("lstm_kernel.quick.json" if args.quick else "lstm_kernel.json")
    env = environment()
    write_json(
        out,
        {
            "benchmark": "lstm_kernel",
            "quick": args.quick,
            "date": env["date"],
            "setup": {
                "batch": batch,
                "steps": steps,
                "what": "one LSTM layer, forward + backward from the last step's output",
                "repeats": repeats,
                "timing": "alternating calls; medians; speedup = median of per-pair ratios",
                "torch_threads": torch.get_num_threads(),
                "max_hidden_using_the_kernel": _lstm_cpu.MAX_HIDDEN,
            },
            "results": rows,
            "environment": env,
        },
    )
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
