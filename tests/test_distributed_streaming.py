"""Streaming corpora: sharding by rank x DataLoader worker, restart, one-pass vocabulary,
and training from a multi-MB file while holding a bounded number of lines."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest
from click.testing import CliRunner
from torch.utils.data import DataLoader

from seqlab.cli.main import cli
from seqlab.data.streaming import TextStream, fit_vocabulary
from seqlab.text import TextVectorizer
from seqlab.training.classify import train_classifier

LABELS = ["a", "b", "c"]
WORDS = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu".split()


@pytest.fixture(scope="module")
def jsonl(tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("stream") / "docs.jsonl"
    rng = np.random.default_rng(0)
    with open(path, "w", encoding="utf-8") as f:
        for i in range(103):
            text = " ".join(rng.choice(WORDS, 4)) + f" doc{i}"
            f.write(json.dumps({"text": text, "label": ["a", "b", "c"][i % 3]}) + "\n")
            if i % 17 == 0:
                f.write("\n")  # blank lines are not records
    return path


def read_all(stream: TextStream, batch_size: int, world: int, workers: int, **kw):
    """{rank: [(batch, line numbers)]} with each rank's workers' batches interleaved in the
    DataLoader's turn order."""
    out = {}
    for rank in range(world):
        per_worker = [
            list(
                stream.batches(
                    batch_size,
                    rank=rank,
                    world_size=world,
                    worker=w,
                    num_workers=workers,
                    **kw,
                )
            )
            for w in range(workers)
        ]
        merged = []
        for i in range(max(len(p) for p in per_worker)):
            merged += [(p[i].batch, p[i].index) for p in per_worker if i < len(p)]
        out[rank] = merged
    return out


@pytest.mark.parametrize(("world", "workers"), [(1, 1), (2, 1), (2, 3), (3, 2)])
def test_distributed_stream_shards_cover_every_line_once(jsonl, world, workers):
    stream = TextStream(jsonl, window=10, label_names=LABELS)
    kw = {"seed": 4, "epoch": 2, "val_split": 0.2}
    got = read_all(stream, 12, world, workers, **kw)
    reference = read_all(stream, 12, 1, 1, **kw)[0]  # one reader: the global batches
    lines = [i for rank in got.values() for _, index in rank for i in index]
    assert len(lines) == len(set(lines))  # no line twice
    val = [i for b in stream.batches(12, part="val", **kw) for i in b.index]
    assert sorted(lines + val) == list(range(103))  # train + held out = every record
    assert not set(lines) & set(val)
    # every rank sees every global batch, in order, and its rows are rows r::W of it
    for rank, batches in got.items():
        assert [b for b, _ in batches] == [b for b, _ in reference]
        for (_, mine), (_, whole) in zip(batches, reference):
            assert mine == whole[rank::world]


def test_distributed_stream_order_depends_on_seed_and_epoch_only(jsonl):
    stream = TextStream(jsonl, window=10, label_names=LABELS)

    def order(**kw):
        return [i for b in stream.batches(8, val_split=0.2, **kw) for i in b.index]

    assert order(seed=1, epoch=0) == order(seed=1, epoch=0)
    assert order(seed=1, epoch=0) != order(seed=1, epoch=1)
    assert sorted(order(seed=1, epoch=0)) == sorted(order(seed=1, epoch=1))  # same lines
    val = [
        [i for b in stream.batches(8, part="val", val_split=0.2, seed=1, epoch=e) for i in b.index]
        for e in (0, 5)
    ]
    assert val[0] == val[1] and val[0]  # the held-out lines do not move between epochs


def test_distributed_stream_restarts_at_a_batch(jsonl):
    stream = TextStream(jsonl, window=7, label_names=LABELS)
    kw = {"seed": 2, "epoch": 1, "rank": 1, "world_size": 2}
    full = [(b.batch, b.index, b.texts, b.labels) for b in stream.batches(6, **kw)]
    tail = [(b.batch, b.index, b.texts, b.labels) for b in stream.batches(6, start_batch=5, **kw)]
    assert tail == full[5:]
    assert stream.batches(6, **kw).__next__().texts[0].split()[-1].startswith("doc")


@pytest.mark.filterwarnings("ignore:This DataLoader will create")
def test_distributed_stream_dataloader_workers_keep_the_order(jsonl):
    stream = TextStream(jsonl, window=10, label_names=LABELS)
    fit_vocabulary(TextVectorizer(), stream)
    serial = [b.index for b in DataLoader(stream.reader(8, seed=3), batch_size=None)]
    loader = DataLoader(stream.reader(8, seed=3), batch_size=None, num_workers=2)
    assert [b.index for b in loader] == serial


def test_distributed_fit_vocabulary_matches_fit_in_one_pass(jsonl):
    stream = TextStream(jsonl)
    texts = [json.loads(line)["text"] for line in jsonl.read_text().splitlines() if line]
    for params in (
        {"max_tokens": 9},
        {"ngram_range": (1, 2), "min_count": 2},
        {"output_mode": "tf_idf", "ngram_range": (1, 2)},
    ):
        one_pass = iter(texts)  # a generator can be read only once: one pass is enough
        streamed = fit_vocabulary(TextVectorizer(**params), one_pass)
        whole = TextVectorizer(**params).fit(texts)
        assert streamed.vocabulary_.itos == whole.vocabulary_.itos
        if whole.idf_ is not None:
            np.testing.assert_allclose(streamed.idf_, whole.idf_)
    assert stream.label_names is None
    fit_vocabulary(TextVectorizer(), stream)
    assert stream.label_names == ["a", "b", "c"]


def test_distributed_stream_formats_and_errors(tmp_path):
    txt = tmp_path / "lines.txt.gz"
    with gzip.open(txt, "wt", encoding="utf-8") as f:
        f.write("one line\n\nsecond line\nthird\n")
    stream = TextStream(txt)
    assert stream.format == "text" and not stream.labelled
    assert list(stream.texts()) == ["one line", "second line", "third"]
    tsv = tmp_path / "t.tsv"
    tsv.write_text("label\ttext\npos\tgood\nneg\tbad\n")
    assert list(TextStream(tsv).records()) == [(0, "good", "pos"), (1, "bad", "neg")]
    with pytest.raises(ValueError, match="CSV cannot be streamed"):
        TextStream(tsv.rename(tmp_path / "t.csv"))
    with pytest.raises(FileNotFoundError, match="no such file"):
        TextStream(tmp_path / "missing.jsonl")
    with pytest.raises(ValueError, match="label_names are not known"):
        next(TextStream(tmp_path / "t.csv", format="tsv").batches(2))


@pytest.fixture(scope="module")
def big_tsv(tmp_path_factory: pytest.TempPathFactory):
    """A ~3 MB labelled TSV: 24,000 lines whose class shows in one of ten words."""
    path = tmp_path_factory.mktemp("big") / "big.tsv"
    rng = np.random.default_rng(1)
    cues = np.array([["dreadful", "awful"], ["splendid", "superb"]])
    filler = np.array([f"w{i}" for i in range(3000)])
    n = 24_000
    y = rng.integers(2, size=n)
    words = filler[rng.integers(3000, size=(n, 9))]
    cue = cues[y, np.arange(n) % 2]
    pad = "x" * 60
    names = np.array(["neg", "pos"])[y]
    lines = [f"{' '.join(w)} {c} {pad}\t{lab}\n" for w, c, lab in zip(words, cue, names)]
    path.write_text("text\tlabel\n" + "".join(lines), encoding="utf-8")
    assert path.stat().st_size > 2_500_000
    return path


@pytest.mark.slow
def test_distributed_trains_from_a_file_with_bounded_memory(big_tsv, tmp_path):
    stream = TextStream(big_tsv, window=2000)
    vec = fit_vocabulary(TextVectorizer(output_mode="multi_hot", max_tokens=5000), stream)
    assert stream.peak_lines == 0  # the vocabulary pass holds no lines at all
    from seqlab.models import build
    from seqlab.training.trainer import fit

    model = build("bow-mlp", vocab_size=vec.vocab_size)
    run = fit(model, vec, stream, epochs=1, batch_size=256, lr=0.01, progress=False)
    # never more than one window of lines and one batch at a time (24,000 lines in the file)
    assert 0 < stream.peak_lines <= 2000 + 256
    assert run.metrics["val"]["accuracy"] > 0.95
    assert run.train_config["train_size"] + run.train_config["val_size"] == 24_000


def test_distributed_cli_streams_a_file(jsonl, tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(
        cli,
        ["classify", "train", "--data", str(jsonl), "--stream", "--epochs", "2", "--quiet"]
        + ["--batch-size", "16", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())
    assert config["labels"] == ["a", "b", "c"]
    assert config["train"]["stream"]["format"] == "jsonl"
    assert "run folder:" in result.output
    result = CliRunner().invoke(
        cli, ["classify", "train", "--data", "snippets", "--stream", "--out", str(tmp_path / "b")]
    )
    assert result.exit_code == 2 and "--stream reads a JSONL or TSV file" in result.output
    assert "got --data snippets" in result.output and "drop --stream)" in result.output


def test_distributed_stream_rejects_nbsvm(jsonl):
    with pytest.raises(ValueError, match="nb_scaling"):
        train_classifier(jsonl, stream=True, nbsvm=True, epochs=1, progress=False)
