"""Language models trained from a corpus file that is never read into memory: the scan, the
readers, identical batches to the in-memory path, resume, DDP shares, memory bound, errors."""

from __future__ import annotations

import gzip
import json
import os
import random
import tempfile
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.torch import load_file

import seqlab.lm
from _torchrun import torchrun
from seqlab.cli.lm import lm as lm_cli
from seqlab.lm.data import batchify, build_vocabulary, get_chunk, load_corpus, split_text
from seqlab.lm.stream import TokenReader, batch_streams, scan_corpus
from seqlab.lm.train import make_config

HERE = Path(__file__).resolve().parent

# Multi-byte characters (é, Greek, an emoji, dotted İ whose lower case is 2 characters),
# Windows line ends, apostrophes inside words, punctuation: what UTF-8 and word tokens
# across block edges can get wrong.
WORDS = "the cat sat on a mat , and Dog's dinner éclair ΣΟΦΙΑ naïve 😀 İstanbul don’t .\r\n"
TINY = dict(hidden_size=16, num_layers=1, embedding_dim=16, batch_size=4, seq_len=16,
            eval_every=2, eval_tokens=300, progress=False, device="cpu")  # fmt: skip


pytestmark = pytest.mark.usefixtures("one_thread")


def make_text(n_words: int, seed: int = 0) -> str:
    gen = random.Random(seed)
    words = WORDS.split(" ")
    return " ".join(
        gen.choice(words) + ("\n" if gen.random() < 0.1 else "") for _ in range(n_words)
    )


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "corpus.txt"
    path.write_bytes(make_text(1500).encode("utf-8"))
    return path


def in_memory(path: Path, level: str, lower: bool, max_tokens: int | None, vf: float):
    """What seqlab.lm.train computes from the file read into memory."""
    text = load_corpus(path)
    train, val = split_text(text, vf)
    vocab = build_vocabulary(text if level == "char" else train, level, lower, max_tokens)
    return vocab, vocab.encode(train, errors="ignore"), vocab.encode(val, errors="ignore")


def weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "model.safetensors"))


def assert_same_run(a: Path, b: Path) -> None:
    ha = json.loads((a / "history.json").read_text())
    hb = json.loads((b / "history.json").read_text())
    keys = ("step", "tokens", "loss", "val_loss", "lr")
    assert [ha[k] for k in keys] == [hb[k] for k in keys]
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


# ---------------------------------------------------------------------- scan and readers


@settings(max_examples=60, deadline=None)
@given(
    pieces=st.lists(
        st.sampled_from(
            [
                "ab",
                "X",
                " ",
                "  ",
                "\n",
                "\r\n",
                "\r",
                "'",
                "’",
                ".",
                "é",
                "Σ",
                "ς",
                "😀",
                "İ",
                "don't",
            ]
        ),
        min_size=1,
        max_size=80,
    ),  # fmt: skip
    level=st.sampled_from(["char", "word"]),
    lower=st.booleans(),
    block=st.sampled_from([1, 3, 8, 64]),
    val_fraction=st.sampled_from([0.0, 0.1, 0.5]),
    start=st.floats(0, 1),
)
def test_lm_stream_scan_and_readers_match_in_memory(
    pieces, level, lower, block, val_fraction, start
):
    text = "".join(pieces)
    fd, name = tempfile.mkstemp(suffix=".txt")
    os.write(fd, text.encode("utf-8"))
    os.close(fd)
    path = Path(name)
    try:
        try:
            vocab, train_ids, val_ids = in_memory(path, level, lower, 12, val_fraction)
        except ValueError:  # a vocabulary too small in memory is refused when streamed too
            with pytest.raises(ValueError):
                scan_corpus(path, level, lower, 12, val_fraction, block)
            return
        index = scan_corpus(path, level, lower, 12, val_fraction, block)
        assert index.vocab.to_dict() == vocab.to_dict()
        assert index.tokens("train") == len(train_ids) and index.tokens("val") == len(val_ids)
        for part, ids in (("train", train_ids), ("val", val_ids)):
            s = int(start * len(ids))
            reader = TokenReader(index, part, s)
            assert reader.read(len(ids) - s).tolist() == ids[s:].tolist()
    finally:
        path.unlink()


def test_lm_stream_rows_are_batchify_rows_and_the_ranks_share(corpus):
    vocab, train_ids, _ = in_memory(corpus, "word", True, 30, 0.1)
    index = scan_corpus(corpus, "word", lower=True, max_tokens=30, block=50)
    data = batchify(train_ids[5:], 6)
    for rank, world in ((0, 1), (1, 3)):
        rows = batch_streams(index, 6, offset=5, rank=rank, world=world)
        assert rows.shape == data.shape
        for start in (0, 16, 32):  # consecutive chunks: each reader carries on
            x, y = rows.chunk(start, 16)
            ex, ey = get_chunk(data, start, 16)
            assert np.array_equal(x, ex[rank::world]) and np.array_equal(y, ey[rank::world])
        assert rows.all_positions(48) == [5 + r * data.shape[1] + 48 for r in range(6)]


def test_lm_stream_reader_memory_is_bounded_by_the_block(tmp_path):
    # A 4 MB corpus, read with 4 KiB blocks: the scan and each stream hold one block of text,
    # and the whole pass allocates far less than the corpus.
    path = tmp_path / "big.txt"
    unit = make_text(4000, seed=1).encode("utf-8")
    with open(path, "wb") as f:
        while f.tell() < 4_000_000:
            f.write(unit)
    block = 4096
    tracemalloc.start()
    try:
        index = scan_corpus(path, "char", block=block)
        rows = batch_streams(index, 8)
        for start in range(0, rows.width - 1, 2000):  # every token of every row
            rows.chunk(start, 2000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert index.size >= 4_000_000 and index.max_buffer <= block
    assert all(r is not None and r.max_buffer <= block for r in rows.readers)
    assert rows.max_buffer > block // 2  # the instrument does measure something
    # 8 rows x (a piece of text and its ids, a chunk of 2,001 ids): a few hundred kB, not
    # the 4 MB of text (and 27 MB of ids) of the corpus read into memory
    assert peak < 1_000_000, peak
    assert len(index.points["train"][0]) < index.size / block * 2  # one seek point per piece


# ---------------------------------------------------------------------- training


@pytest.mark.parametrize("level", ["char", "word"])
def test_lm_stream_training_equals_in_memory(corpus, tmp_path, level):
    kw = dict(TINY, level=level, lower=True, max_tokens=14, steps=5, out=None)
    memory = seqlab.lm.train(corpus, **{**kw, "out": tmp_path / "memory"})
    streamed = seqlab.lm.train(
        corpus, stream=True, stream_block=32, **{**kw, "out": tmp_path / "s"}
    )
    assert_same_run(tmp_path / "memory", tmp_path / "s")
    assert memory.vocab.to_dict() == streamed.vocab.to_dict()
    assert memory.metrics["val"] == streamed.metrics["val"]  # the whole held-out part, streamed
    assert streamed.train_config["stream"] is True


def test_lm_stream_resume_equals_an_uninterrupted_run(tmp_path):
    # 5 batches per epoch: stopped inside the second epoch (its own random offset, so other
    # stream starts), resumed across the next epoch boundary. Dropout draws random numbers;
    # the constant schedule keeps the learning rate independent of the first leg's budget.
    path = tmp_path / "small.txt"
    path.write_bytes(make_text(70, seed=2).encode("utf-8"))
    kw = dict(TINY, level="char", stream=True, stream_block=16, num_layers=2, dropout=0.2,
              schedule="constant", seed=3)  # fmt: skip
    seqlab.lm.train(path, steps=12, out=tmp_path / "straight", **kw)
    seqlab.lm.train(path, steps=7, out=tmp_path / "resumed", **kw)
    state = json.loads((tmp_path / "resumed" / "checkpoint" / "state.json").read_text())
    assert (state["step"], state["epoch"], state["batch_index"]) == (7, 1, 2)
    # each stream's token position in the file's tokens
    assert len(state["task"]["streams"]) == 4
    lm = seqlab.lm.train(path, steps=12, out=tmp_path / "resumed", resume=True, progress=False)
    assert lm.metrics["epochs"] == pytest.approx(2.4)
    wa, wb = weights(tmp_path / "straight"), weights(tmp_path / "resumed")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    straight = json.loads((tmp_path / "straight" / "metrics.json").read_text())
    assert lm.metrics["val"] == straight["val"] and lm.metrics["tokens"] == straight["tokens"]


def test_lm_stream_resume_refuses_a_changed_file(tmp_path):
    path = tmp_path / "c.txt"
    path.write_bytes(make_text(200).encode("utf-8"))
    seqlab.lm.train(path, steps=2, out=tmp_path / "run", stream=True, **TINY)
    path.write_bytes(make_text(200, seed=9).encode("utf-8"))
    with pytest.raises(ValueError, match="corpus differs"):
        seqlab.lm.train(path, steps=4, out=tmp_path / "run", resume=True, progress=False)


def test_lm_stream_refusals_name_the_fix(corpus, tmp_path):
    with pytest.raises(ValueError, match=r"--recipe default"):
        seqlab.lm.train(corpus, recipe="lecture", stream=True, steps=1, progress=False)
    with pytest.raises(ValueError, match=r"--recipe default"):
        make_config("lecture", stream=True, steps=1).validate()
    with pytest.raises(ValueError, match="corpus=PATH"):
        seqlab.lm.train(text="abc abc", stream=True, steps=1, progress=False)
    with pytest.raises(ValueError, match="bundled corpus"):
        seqlab.lm.train("nietzsche", stream=True, steps=1, progress=False)
    gz = tmp_path / "c.txt.gz"
    gz.write_bytes(gzip.compress(b"some text"))
    with pytest.raises(ValueError, match="gunzip"):
        seqlab.lm.train(gz, stream=True, steps=1, progress=False)
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("caf\xe9 au lait ".encode("latin-1") * 10)
    with pytest.raises(ValueError, match=r"bytes 3-4 are not valid UTF-8"):
        scan_corpus(bad)
    with pytest.raises(ValueError, match="stream_block"):
        make_config(stream=True, stream_block=0, steps=1).validate()


def test_lm_stream_cli_flag(corpus, tmp_path):
    out = tmp_path / "cli"
    args = ["train", "--corpus", str(corpus), "--stream", "--steps", "2", "--hidden-size", "8",
            "--num-layers", "1", "--batch-size", "4", "--seq-len", "8", "--quiet",
            "--device", "cpu", "--out", str(out)]  # fmt: skip
    result = CliRunner().invoke(lm_cli, args)
    assert result.exit_code == 0, result.output
    assert json.loads((out / "config.json").read_text())["train"]["stream"] is True
    lecture = CliRunner().invoke(lm_cli, [*args, "--recipe", "lecture"])
    assert lecture.exit_code != 0 and "--recipe default" in lecture.output


# ---------------------------------------------------------------------- DDP


@pytest.mark.slow
def test_lm_stream_two_ranks_read_their_streams_like_memory(corpus, tmp_path):
    proc = torchrun(HERE / "lm_stream_worker.py", str(tmp_path), str(corpus))
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert_same_run(tmp_path / "memory", tmp_path / "stream")
