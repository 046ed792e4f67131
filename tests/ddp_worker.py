"""A program for the data-parallel tests, started by ``torchrun`` (not a test module).

    torchrun ... tests/ddp_worker.py train OUT TSV  seeded classifier (in memory and streamed
                                                   from TSV) and LM runs into OUT
    torchrun ... tests/ddp_worker.py cli ARGS...    ``seqlab ARGS...``; with
        $KILL_RANK_AT_STEP=r:k, rank r SIGKILLs itself after its k-th optimizer step

The tests import the data builders from here so that both sides train on the same data.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import numpy as np

POS = "good great fine wonderful superb moving".split()
NEG = "bad awful poor dull boring lifeless".split()
FILLER = "the a movie film plot actor scene story and of".split()

# Settings of the seeded runs that the equivalence tests repeat in one process.
CLF = {"batch_size": 8, "lr": 0.05, "val_split": 0.25, "seed": 3}
LM = {
    "level": "char",
    "batch_size": 4,
    "seq_len": 8,
    "hidden_size": 16,
    "embedding_dim": 8,
    "num_layers": 1,
    "dropout": 0.0,
    "lr": 0.01,
    "schedule": "constant",
    "eval_tokens": 200,
    "seed": 5,
}
# The transformer language model on the same text (out/gpt); no dropout, whose masks under
# DDP come from (seed, step, rank) and so differ from one process's.
GPT = {
    **LM,
    "model": "transformer",
    "block_size": 8,
    "d_model": 16,
    "num_heads": 2,
    "num_layers": 2,
}


def toy_texts(n: int = 47, seed: int = 0) -> tuple[list[str], list[int]]:
    """Short texts whose class shows in two of seven words (n not a multiple of the batch,
    so the last batch splits unevenly over two ranks)."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for i in range(n):
        y = i % 2
        words = list(rng.choice(FILLER, 5)) + list(rng.choice([NEG, POS][y], 2))
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append(y)
    return texts, labels


def lm_text() -> str:
    return "the cat sat on the mat and the dog ate the hat. " * 12


def classifier_parts():
    """(model, vectorizer, dataset) of the seeded classifier run."""
    import torch

    from seqlab.data.base import TextDataset
    from seqlab.models import build
    from seqlab.text import TextVectorizer

    texts, labels = toy_texts()
    ds = TextDataset(texts, np.array(labels), ["neg", "pos"])
    vec = TextVectorizer(output_mode="int").fit(ds.texts)
    torch.manual_seed(0)
    model = build("lstm", vocab_size=vec.vocab_size, embedding_dim=8, hidden_size=8, seed=0)
    return model, vec, ds


def write_tsv(path: Path, n: int = 47) -> Path:
    texts, labels = toy_texts(n)
    rows = [f"{t}\t{['neg', 'pos'][y]}" for t, y in zip(texts, labels)]
    path.write_text("text\tlabel\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def train_stream(out: Path, tsv: Path) -> None:
    """The seeded streamed classifier run (out/stream): windows of 10 lines."""
    import torch

    from seqlab.data.streaming import TextStream, fit_vocabulary
    from seqlab.models import build
    from seqlab.text import TextVectorizer
    from seqlab.training.trainer import fit

    stream = TextStream(tsv, window=10)
    vec = fit_vocabulary(TextVectorizer(output_mode="int"), stream)
    torch.manual_seed(0)
    model = build("lstm", vocab_size=vec.vocab_size, embedding_dim=8, hidden_size=8, seed=0)
    fit(model, vec, stream, epochs=2, out=out / "stream", progress=False, **CLF)


def train_both(out: Path, epochs: int = 1, steps: int = 3, resume: bool = False) -> None:
    """The seeded classifier run (out/clf) and language-model runs (out/lm: an LSTM,
    out/gpt: a transformer)."""
    import seqlab.lm
    from seqlab.training.trainer import fit

    model, vec, ds = classifier_parts()
    fit(model, vec, ds, epochs=epochs, out=out / "clf", progress=False, resume=resume, **CLF)
    for part, settings in (("lm", LM), ("gpt", GPT)):
        if resume:
            seqlab.lm.train(text=lm_text(), steps=steps, out=out / part, resume=True,
                            progress=False)  # fmt: skip
        else:
            seqlab.lm.train(text=lm_text(), steps=steps, out=out / part, progress=False, **settings)


def _install_kill() -> None:
    spec = os.environ.get("KILL_RANK_AT_STEP")
    if not spec:
        return
    rank, step = (int(x) for x in spec.split(":"))
    if int(os.environ.get("RANK", "0")) != rank:
        return
    import torch

    original = torch.optim.Adam.step
    count = [0]

    def step_then_die(self, *args, **kwargs):  # an abrupt death, as from the OOM killer
        out = original(self, *args, **kwargs)
        count[0] += 1
        if count[0] >= step:
            os.kill(os.getpid(), signal.SIGKILL)
        return out

    torch.optim.Adam.step = step_then_die


def main(argv: list[str]) -> int:
    if argv[0] == "train":
        from seqlab.training import distributed

        # One process group for both runs (the trainers leave a group they did not make).
        with distributed.session("cpu"):
            train_both(Path(argv[1]))
            train_stream(Path(argv[1]), Path(argv[2]))
        return 0
    if argv[0] == "cli":
        _install_kill()
        from seqlab.cli.main import cli

        cli.main(args=argv[1:], prog_name="seqlab")  # exits with the command's status
    raise SystemExit(f"unknown mode {argv[0]!r}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
