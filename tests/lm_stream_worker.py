"""Run under torchrun by tests/test_lm_stream.py: the same tiny language-model run with the
corpus read into memory (OUT/memory) and streamed from the file (OUT/stream).

    torchrun --nproc-per-node 2 tests/lm_stream_worker.py OUT CORPUS
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

import seqlab.lm
from seqlab.training import distributed

SETTINGS = dict(
    level="word", lower=True, max_tokens=40, hidden_size=16, num_layers=1, embedding_dim=16,
    batch_size=4, seq_len=8, steps=5, eval_every=2, eval_tokens=200, progress=False,
    device="cpu", stream_block=64,
)  # fmt: skip


def main(argv: list[str]) -> int:
    out, corpus = Path(argv[0]), Path(argv[1])
    torch.set_num_threads(1)
    with distributed.session("cpu"):  # one process group for both runs
        seqlab.lm.train(corpus, out=out / "memory", **SETTINGS)
        seqlab.lm.train(corpus, out=out / "stream", stream=True, **SETTINGS)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
