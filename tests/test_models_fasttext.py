"""The fastText-style classifier ("fasttext"): its n-gram hash, its features, training with
sparse Adam and a linear decay, and its run folders (reload, predict, evaluate, explain,
serve, the command line)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import seqlab
from _toy_reviews import toy_reviews
from seqlab.cli.main import cli
from seqlab.models import build
from seqlab.models.fasttext import (
    FastTextClassifier,
    UniqueRowsBag,
    ngram_bucket,
    ngram_buckets,
    ngram_hashes,
)
from seqlab.text import TextVectorizer
from seqlab.training.optim import SparseAdam, build_optimizers, lr_at
from seqlab.training.trainer import FIT_DEFAULTS, fit, fit_settings

pytestmark = pytest.mark.usefixtures("one_thread")

# FNV-1a over the ids, then MurmurHash3's fmix64: the definition a saved run relies on.
KNOWN = {  # ids: (64-bit hash, bucket of 1,000, bucket of 2,000,000)
    (2, 3): (0x1CA92FE38CC0B6E2, 706, 1604706),
    (3, 2): (0xA2CAA0877BE75E63, 3, 892003),
    (5, 6, 7): (0xE887BB10EAC42CF1, 857, 1039857),
    (1, 1): (0xA346AADAD0788D4E, 550, 377550),
}


def test_models_fasttext_hash_matches_known_values():
    for ids, (h, b1000, b2m) in KNOWN.items():
        got = ngram_hashes(torch.tensor(ids), len(ids)).item() & (2**64 - 1)
        assert got == h
        assert ngram_bucket(ids, 1000) == b1000 and ngram_bucket(ids, 2_000_000) == b2m
        assert ngram_buckets(torch.tensor([ids]), len(ids), 2_000_000).tolist() == [[b2m]]
    # large ids (the sign bit of int64 included) agree with the plain-Python reference
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 2**63 - 1, size=(50, 3), dtype=np.int64)
    for n in (1, 2, 3):
        got = ngram_buckets(torch.from_numpy(ids), n, 1_000_003)
        want = [[ngram_bucket(row[j : j + n], 1_000_003) for j in range(4 - n)] for row in ids]
        assert got.tolist() == want


def test_models_fasttext_hash_is_the_same_in_another_process():
    code = (
        "import torch; from seqlab.models.fasttext import ngram_buckets; "
        "print(ngram_buckets(torch.tensor([[2, 3, 4, 99, 7]]), 2, 500000).tolist())"
    )
    # a fresh interpreter with a random hash() salt computes what this one does
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "random", "PYTHONPATH": ":".join(sys.path)},
    ).stdout
    here = ngram_buckets(torch.tensor([[2, 3, 4, 99, 7]]), 2, 500000).tolist()
    assert json.loads(out) == here
    assert here == [[ngram_bucket(p, 500000) for p in ([2, 3], [3, 4], [4, 99], [99, 7])]]


def test_models_fasttext_features_of_a_known_sentence():
    vec = TextVectorizer(output_mode="int").fit(["the cat sat on the mat"])
    ids = vec.transform(["The cat sat on the mat!"])[0].tolist()
    assert ids == [2, 3, 4, 5, 2, 6]  # 'the' first (most frequent), then first occurrence
    model = FastTextClassifier(vocab_size=vec.vocab_size, buckets=1000, ngrams=(2, 3))
    orders, rows, real, count = model._features(torch.tensor([ids, [4, 2, 0, 0, 0, 0]]),
                                                torch.tensor([6, 2]))  # fmt: skip
    assert orders == [1, 2, 3]
    assert rows[0].tolist() == [ids, [4, 2, 0, 0, 0, 0]]
    bigrams = [7 + ngram_bucket(ids[i : i + 2], 1000) for i in range(5)]
    trigrams = [7 + ngram_bucket(ids[i : i + 3], 1000) for i in range(4)]
    assert rows[1][0].tolist() == bigrams and rows[2][0].tolist() == trigrams
    # the short text: one bigram, no trigram; padding positions point at row 0
    assert rows[1][1].tolist() == [7 + ngram_bucket([4, 2], 1000), 0, 0, 0, 0]
    assert rows[2][1].tolist() == [0, 0, 0, 0]
    assert count.tolist() == [6 + 5 + 4, 2 + 1]


def test_models_fasttext_logits_do_not_depend_on_batch_neighbours():
    model = FastTextClassifier(vocab_size=40, buckets=500, ngrams=(2, 3), num_classes=3)
    texts = [[5, 6, 7, 8], [9, 3], [12, 13, 14, 15, 16, 17, 18, 19, 20], [21]]
    alone = [model(tokens=torch.tensor([t]), lengths=torch.tensor([len(t)])) for t in texts]
    width = 30  # far more padding than any text needs
    batch = torch.zeros(len(texts), width, dtype=torch.long)
    for i, t in enumerate(texts):
        batch[i, : len(t)] = torch.tensor(t)
    together = model(tokens=batch, lengths=torch.tensor([len(t) for t in texts]))
    torch.testing.assert_close(together, torch.cat(alone), rtol=0, atol=1e-6)
    # the mean itself: one text's logits are the head on the mean of its 4 + 3 + 2 vectors
    w = model.bag.weight
    rows = [5, 6, 7, 8] + [40 + ngram_bucket(texts[0][i : i + 2], 500) for i in range(3)]
    rows += [40 + ngram_bucket(texts[0][i : i + 3], 500) for i in range(2)]
    torch.testing.assert_close(alone[0][0], model.head(w[rows].mean(0)), rtol=0, atol=1e-6)
    # an empty text reads nothing: its logits are the bias
    empty = model(tokens=torch.zeros(1, 3, dtype=torch.long), lengths=torch.tensor([0]))
    torch.testing.assert_close(empty[0], model.head.bias)


def test_models_fasttext_vectors_sum_to_the_fast_path():
    model = FastTextClassifier(vocab_size=30, embedding_dim=6, buckets=50, ngrams=(2, 4))
    tokens = torch.tensor([[3, 4, 5, 6, 7, 0], [8, 9, 0, 0, 0, 0]])
    lengths = torch.tensor([5, 2])
    x, lengths_used = model.embed(tokens=tokens, lengths=lengths)
    assert x.shape == (2, 5, 6)  # cut to the longest text
    assert torch.equal(x[1, 2:], torch.zeros(3, 6))  # past a text's end: zero vectors
    torch.testing.assert_close(
        model.forward_embedded(x, lengths_used), model(tokens=tokens, lengths=lengths)
    )


def test_models_fasttext_initial_weights():
    torch_init = FastTextClassifier(vocab_size=100, buckets=900, embedding_dim=20, seed=3)
    keras = FastTextClassifier(vocab_size=100, buckets=900, embedding_dim=20, seed=3, init="keras")
    table = torch_init.bag.weight.detach()
    assert table.shape == (1000, 20) and torch.equal(table[0], torch.zeros(20))
    assert 0.045 < float(table.abs().max()) <= 1 / 20  # fastText's U(-1/dim, 1/dim)
    assert 0.045 < float(keras.bag.weight.detach().abs().max()) <= 0.05  # Keras's Embedding
    assert torch.equal(keras.bag.weight[0], torch.zeros(20))
    assert float(keras.head.bias.detach().abs().sum()) == 0.0  # Keras's Dense: zero bias
    again = FastTextClassifier(vocab_size=100, buckets=900, embedding_dim=20, seed=3)
    assert all(torch.equal(a, b) for a, b in zip(torch_init.parameters(), again.parameters()))


def test_models_fasttext_unique_rows_gradient_equals_embedding_bag():
    torch.manual_seed(0)
    plain = torch.nn.EmbeddingBag(20, 3, mode="sum", sparse=True)
    ours = UniqueRowsBag(20, 3, mode="sum", sparse=True)
    ours.weight.data.copy_(plain.weight.data)
    ids = torch.tensor([4, 2, 4, 9, 2, 2, 0])
    offsets = torch.tensor([0, 3])
    weights = torch.rand(7)
    target = torch.randn(2, 3)
    for bag in (plain, ours):
        ((bag(ids, offsets, per_sample_weights=weights) - target) ** 2).sum().backward()
    assert ours.weight.grad._indices().tolist() == [[0, 2, 4, 9]]  # each row once, in order
    torch.testing.assert_close(ours.weight.grad.to_dense(), plain.weight.grad.to_dense())


def test_models_fasttext_sparse_adam_equals_torch_sparse_adam():
    torch.manual_seed(0)
    ours_w = torch.nn.Parameter(torch.randn(30, 4))
    torch_w = torch.nn.Parameter(ours_w.detach().clone())
    ours, theirs = SparseAdam([ours_w], lr=0.05), torch.optim.SparseAdam([torch_w], lr=0.05)
    for step in range(20):
        rows = torch.randint(0, 30, (12,))  # duplicates: coalesced first
        if step % 2:
            rows = torch.unique(rows)  # already one entry per row: used as it is
        values = torch.randn(len(rows), 4)
        for w in (ours_w, torch_w):
            w.grad = torch.sparse_coo_tensor(rows[None], values, (30, 4), check_invariants=True)
        ours.step()
        theirs.step()
    assert torch.equal(ours_w, torch_w)
    assert torch.equal(ours.state[ours_w]["exp_avg_sq"], theirs.state[torch_w]["exp_avg_sq"])
    model = FastTextClassifier(vocab_size=10, buckets=10)
    assert [type(o).__name__ for o in build_optimizers(model, "adam", lr=0.1)] == [
        "Adam",
        "SparseAdam",
    ]


def test_models_fasttext_linear_schedule_and_fit_defaults():
    assert [lr_at(f, 0.5, "linear") for f in (0.0, 0.5, 1.0)] == [0.5, 0.25, 0.0]
    model = FastTextClassifier(vocab_size=10, buckets=10)
    assert fit_settings(model) == {
        "epochs": 1,
        "batch_size": 128,
        "optimizer": "adam",
        "lr": 0.08,
        "schedule": "linear",
    }
    assert fit_settings(model, lr=0.1, epochs=3)["lr"] == 0.1
    assert fit_settings(build("lstm", vocab_size=10)) == FIT_DEFAULTS


def test_models_fasttext_learns_movie_review_snippets():
    train, test = seqlab.datasets.train_test_split(
        seqlab.datasets.snippets(), test_size=0.2, seed=0
    )
    vec = TextVectorizer(output_mode="int").fit(train.texts)
    model = FastTextClassifier(vocab_size=vec.vocab_size, buckets=100_000)
    run = fit(model, vec, train, val_split=0, progress=False)  # the model's train_defaults
    assert run.train_config["lr"] == 0.08 and run.train_config["schedule"] == "linear"
    assert run.history["lr"][-1] == 0.0  # decayed linearly to 0 at the end of the budget
    assert run.evaluate(test)["accuracy"] >= 0.75  # measured 0.769; chance is 0.5


def test_models_fasttext_fit_by_name():
    data = toy_reviews(40)
    vec = TextVectorizer(output_mode="int").fit(data.texts)
    run = fit("fasttext", vec, data, val_split=0, progress=False)
    assert type(run.model) is FastTextClassifier
    assert run.model.config["vocab_size"] == vec.vocab_size
    assert run.train_config["batch_size"] == 128  # the model's train_defaults
    with pytest.raises(ValueError, match="unknown model 'fastext'"):
        fit("fastext", vec, data, progress=False)
    with pytest.raises(ValueError, match="build it yourself"):
        fit("fasttext", None, (np.ones((4, 3), dtype=np.int64), [0, 1, 0, 1]), progress=False)


def _toy_run(out, **settings):
    from seqlab.training.classify import train_classifier

    return train_classifier(
        toy_reviews(80), model="fasttext", model_options={"buckets": 64}, out=out,
        progress=False, seed=0, **settings,
    )  # fmt: skip


def test_models_fasttext_run_folder_round_trip(tmp_path):
    run = _toy_run(tmp_path / "ft", epochs=20, batch_size=16, lr=0.1)
    texts = ["the plot was superb", "boring and awful acting", ""]
    loaded = seqlab.load(tmp_path / "ft")
    assert type(loaded.model) is FastTextClassifier
    assert loaded.model.config == run.model.config
    assert loaded.model.config["buckets"] == 64 and loaded.model.config["ngrams"] == [2]
    np.testing.assert_allclose(loaded.predict_proba(texts), run.predict_proba(texts), atol=1e-6)
    assert loaded.predict(texts[:2]) == ["pos", "neg"]
    held_out = toy_reviews(40, seed=1)
    assert loaded.evaluate(held_out) == run.evaluate(held_out)
    assert loaded.evaluate(held_out)["accuracy"] >= 0.85  # measured 0.9; chance is 0.5
    scores = dict(loaded.explain("the film was superb"))
    assert list(scores) == ["the", "film", "was", "superb"]
    assert max(scores, key=scores.get) == "superb"
    grads = loaded.explain("the film was superb", "grad_x_input")
    assert [w for w, _ in grads] == ["the", "film", "was", "superb"]
    config = json.loads((tmp_path / "ft" / "config.json").read_text())
    assert config["train"]["schedule"] == "linear"
    assert config["train"]["vectorizer"]["max_tokens"] is None  # no limit for fasttext


def test_models_fasttext_resume_repeats_the_uninterrupted_run(tmp_path):
    # a constant rate: a linear decay follows the budget, which a resume may enlarge
    same = {"batch_size": 16, "schedule": "constant"}
    full = _toy_run(tmp_path / "full", epochs=3, **same)
    _toy_run(tmp_path / "part", epochs=1, **same)
    resumed = _toy_run(tmp_path / "part", epochs=3, resume=True, **same)
    for name, value in full.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[name], value), name


def test_models_fasttext_cli_train_predict_explain_and_serve(tmp_path):
    table = tmp_path / "reviews.tsv"
    data = toy_reviews(60)
    rows = "".join(f"{t}\t{data.label_names[y]}\n" for t, y in zip(data.texts, data.labels))
    table.write_text("text\tlabel\n" + rows, encoding="utf-8")
    out = tmp_path / "run"
    runner = CliRunner()
    args = ["classify", "train", "--data", str(table), "--model", "fasttext", "--set",
            "buckets=32", "--epochs", "15", "--lr", "0.1", "--batch-size", "8", "--quiet",
            "--out", str(out)]  # fmt: skip
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["classify", "predict", str(out), "a superb story"])
    assert result.exit_code == 0 and "pos" in result.output, result.output
    result = runner.invoke(cli, ["classify", "explain", str(out), "an awful plot", "--json"])
    assert result.exit_code == 0, result.output
    tokens = json.loads(result.output.splitlines()[0])["tokens"]
    assert [t["token"] for t in tokens] == ["an", "awful", "plot"]
    pytest.importorskip("fastapi")
    pytest.importorskip("httpx")
    from fastapi.testclient import TestClient

    from seqlab.serve import create_app

    run = seqlab.load(out)
    with TestClient(create_app([out]), base_url="http://localhost") as client:
        reply = client.post("/v1/classify", json={"texts": ["a superb story", "awful"]})
    assert reply.status_code == 200, reply.text
    got = [r["probabilities"]["pos"] for r in reply.json()["results"]]
    np.testing.assert_allclose(got, run.predict_proba(["a superb story", "awful"])[:, 1], atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"buckets": 0}, "buckets must be an integer >= 1, got 0"),
        ({"buckets": 2.5}, "buckets must be an integer >= 1, got 2.5"),
        ({"ngrams": [1, 2]}, r"ngrams\[0\] must be an integer >= 2, got 1"),
        ({"ngrams": [2, 2]}, "ngrams has an order twice"),
        ({"ngrams": "2"}, "ngrams must be a list of n-gram orders >= 2"),
        ({"embedding_dim": 0}, "embedding_dim must be an integer >= 1, got 0"),
        ({"sparse": "yes"}, "sparse must be True or False"),
        ({"vocab_size": 0}, "vocab_size must be an integer >= 1, got 0"),
    ],
)
def test_models_fasttext_bad_arguments(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        FastTextClassifier(**{"vocab_size": 10, **kwargs})


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--set", "buckets=0"], "buckets must be an integer >= 1, got 0"),
        (["--set", "ngrams=[1]"], "ngrams[0] must be an integer >= 2, got 1"),
        (["--ngrams", "1", "2"], "hashes its own word n-grams"),
        (["--schedule", "wavy"], "'wavy' is not one of"),
    ],
)
def test_models_fasttext_cli_bad_input_is_one_line(tmp_path, extra, message):
    args = ["classify", "train", "--data", "snippets", "--model", "fasttext", "--epochs", "1",
            "--quiet", "--out", str(tmp_path / "run"), *extra]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code != 0
    assert message in result.output, result.output
    assert "Traceback" not in result.output
