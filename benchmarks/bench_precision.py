"""Training-step speed of seqlab's two transformers on the CPU: float32 against bfloat16,
the attention kernels, and dropout on the attention weights.

    python benchmarks/bench_precision.py                 # -> results/precision.json
    python benchmarks/bench_precision.py --threads 2     # torch threads (default 1)
    python benchmarks/bench_precision.py --steps 2       # steps a side per round (default 5)

Each comparison times whole training steps (forward, loss, backward, clipping, Adam) of the
same model on the same batch, the two sides alternately (``_common.paired_timing``: A B A
B ..., at least 3 rounds, until the ratios settle), and reports the median ratio ``A / B``
(above 1: B is faster):

* ``lm``: the character recipe of ``seqlab lm train --model transformer`` (4 blocks of 128,
  4 heads, 16 windows of 128 characters) with dropout 0.1: A float32, B
  ``precision="bf16"`` (autocast; attention through :func:`seqlab.models.sdpa.attend`).
* ``lm-bf16-kernel``: the same without dropout, both bfloat16; A the kernel torch picks
  (the fused "flash" one), B the math kernel that :func:`~seqlab.models.sdpa.attend` picks.
* ``classify-attention-dropout``: the IMDB transformer row (2 blocks of 100, 4 heads,
  feed-forward 256, dropout 0.2, mean pooling, 20,000 words), 64 texts of 128-256 tokens,
  float32: A ``attention_dropout`` 0.2 (as ``dropout``), B ``attention_dropout=0``.
* ``classify-bf16``: the same with ``attention_dropout=0``: A float32, B bfloat16 (with the
  padding mask, :func:`~seqlab.models.sdpa.attend` leaves the kernel to torch).

bfloat16 pays only on CPUs with bfloat16 instructions (AVX512-BF16, AMX); the CPU model is
recorded with the results.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from _common import RESULTS, paired_timing, write_results


def _step_fn(
    model: torch.nn.Module,
    loss_of: Callable[[], torch.Tensor],
    precision: str,
    steps: int,
    kernel: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
) -> Callable[[], None]:
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def run() -> None:
        for _ in range(steps):
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
                with kernel():
                    loss = loss_of()
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()

    run()  # warm-up
    return run


def _lm(seed: int, dropout: float) -> tuple[torch.nn.Module, Callable[[], torch.Tensor]]:
    from seqlab.models.gpt import TransformerLanguageModel

    torch.manual_seed(seed)
    vocab, batch, block = 65, 16, 128
    model = TransformerLanguageModel(vocab, block_size=block, d_model=128, num_layers=4,
                                     num_heads=4, dropout=dropout)  # fmt: skip
    model.train()
    x = torch.randint(0, vocab, (batch, block))
    y = torch.randint(0, vocab, (batch, block))

    def loss() -> torch.Tensor:
        logits = model(x)[0]
        return F.cross_entropy(logits.float().reshape(-1, vocab), y.reshape(-1))

    return model, loss


def _classifier(seed: int, attention_dropout: float) -> tuple[torch.nn.Module, Callable]:
    from seqlab.models.transformer import TransformerClassifier

    torch.manual_seed(seed)
    model = TransformerClassifier(
        vocab_size=20_000, embedding_dim=100, num_layers=2, num_heads=4, dim_feedforward=256,
        dropout=0.2, attention_dropout=attention_dropout, pooling="mean", seed=seed,
    )  # fmt: skip
    model.train()
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(128, 257, (64,), generator=g)
    lengths[0] = 256
    tokens = torch.randint(1, 20_000, (64, 256), generator=g)
    tokens[torch.arange(256)[None, :] >= lengths[:, None]] = 0
    y = torch.randint(0, 2, (64,), generator=g)

    def loss() -> torch.Tensor:
        return F.cross_entropy(model(tokens=tokens, lengths=lengths).float(), y)

    return model, loss


@contextlib.contextmanager
def _torch_kernel_choice() -> Any:
    """Attention through torch's own kernel choice, not seqlab's ``attend``."""
    import seqlab.models.gpt as gpt

    saved = gpt.attend
    gpt.attend = F.scaled_dot_product_attention
    try:
        yield
    finally:
        gpt.attend = saved


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--steps", type=int, default=5, help="training steps a side a round")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(RESULTS / "precision.json"))
    args = parser.parse_args()
    if args.threads < 1 or args.steps < 1:
        parser.error(f"--threads and --steps must be >= 1, got {args.threads}, {args.steps}")
    torch.set_num_threads(args.threads)
    steps, results = args.steps, {}

    def compare(name: str, a: Callable[[], None], b: Callable[[], None], what: str) -> None:
        r = paired_timing(a, b, label=name)
        r.pop("last", None)
        r["compared"] = what
        r["seconds_per_step_median"] = {
            "A": r["baseline_median_seconds"] / steps,
            "B": r["seqlab_median_seconds"] / steps,
        }
        results[name] = r
        print(f"{name}: A/B = {r['ratio_median']:.2f} ({what})", flush=True)

    model, loss = _lm(args.seed, 0.1)
    compare("lm", _step_fn(model, loss, "fp32", steps), _step_fn(model, loss, "bf16", steps),
            "dropout 0.1: A float32, B bfloat16 (attend: math kernel)")  # fmt: skip
    model, loss = _lm(args.seed, 0.0)
    compare(
        "lm-bf16-kernel",
        _step_fn(model, loss, "bf16", steps, _torch_kernel_choice),
        _step_fn(model, loss, "bf16", steps),
        "both bfloat16: A torch's kernel choice, B the math kernel (attend)",
    )
    with_p, loss_p = _classifier(args.seed, 0.2)
    without, loss_0 = _classifier(args.seed, 0.0)
    compare(
        "classify-attention-dropout",
        _step_fn(with_p, loss_p, "fp32", steps),
        _step_fn(without, loss_0, "fp32", steps),
        "float32: A attention_dropout 0.2, B attention_dropout 0",
    )
    compare(
        "classify-bf16",
        _step_fn(without, loss_0, "fp32", steps),
        _step_fn(without, loss_0, "bf16", steps),
        "attention_dropout 0: A float32, B bfloat16",
    )
    write_results(
        args.out,
        "precision",
        results,
        command=" ".join(["python benchmarks/bench_precision.py", *sys.argv[1:]]),
        steps_per_round=steps,
        torch_threads=args.threads,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
