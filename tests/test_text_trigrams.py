"""Uni+bi+trigram bags pruned by count (NBSVM's trigram setting, `--ngrams 1 3 --min-count N`):
the exact vocabulary and features, and bags that stay sparse from the vectorizer to the
model."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.sparse as sp

from _toy_reviews import ROWS
from seqlab.data.batching import encode
from seqlab.text import TextVectorizer

DOCS = ["the cat sat on the mat", "the cat sat on a hat", "a dog sat on the mat"]
# Every uni-, bi- and trigram of DOCS seen at least twice, by count, then first occurrence
# (each document's stream: its unigrams, then bigrams, then trigrams).
PRUNED = [
    "the",  # 4
    "sat", "on", "sat on",  # 3
    "cat", "mat", "the cat", "cat sat", "on the", "the mat",  # 2, in document 1
    "the cat sat", "cat sat on", "sat on the", "on the mat",
    "a",  # 2, first seen in document 2
]  # fmt: skip


def test_trigrams_min_count_keeps_exactly_the_ngrams_seen_twice():
    vec = TextVectorizer(ngram_range=(1, 3), min_count=2, output_mode="multi_hot").fit(DOCS)
    assert vec.get_vocabulary() == ["", "[UNK]", *PRUNED]
    row = vec.transform(["the cat sat on a mat"])
    # "on a", "a mat", "sat on a", "on a mat" were never kept: no column, no OOV count
    kept = ["the", "cat", "sat", "on", "a", "mat", "the cat", "cat sat", "sat on"]
    kept += ["the cat sat", "cat sat on"]
    assert sorted(row.indices.tolist()) == sorted(vec.lookup(kept))
    assert row.data.tolist() == [1.0] * len(kept)


def test_trigrams_max_tokens_keeps_the_most_frequent():
    vec = TextVectorizer(ngram_range=(1, 3), max_tokens=8).fit(DOCS)
    assert vec.get_vocabulary(include_special_tokens=False) == PRUNED[:6]
    counts = TextVectorizer(ngram_range=(1, 3), output_mode="count", min_count=2).fit(DOCS)
    assert counts.transform(["the the mat"]).toarray()[0, counts.lookup(["the"])[0]] == 2.0


def test_trigram_bags_stay_sparse():
    vec = TextVectorizer(ngram_range=(1, 3), min_count=2, output_mode="multi_hot").fit(DOCS)
    bags = encode(vec, DOCS * 50, "bag")
    assert sp.isspmatrix_csr(bags) and bags.shape == (150, len(PRUNED) + 2)
    # one stored value per distinct kept n-gram of each document, never a dense row
    per_doc = [len(set(vec.lookup(vec.tokenize(d))) - {1}) for d in DOCS]
    assert bags.nnz == 50 * sum(per_doc)


@pytest.fixture(scope="module")
def trigram_run(tmp_path_factory):
    from seqlab.training.classify import train_classifier

    folder = tmp_path_factory.mktemp("trigrams")
    table = folder / "tiny.tsv"
    table.write_text("text\tlabel\n" + "".join(f"{t}\t{y}\n" for t, y in ROWS), encoding="utf-8")
    # what `classify train --ngrams 1 3 --min-count 2 --nbsvm` asks for
    run = train_classifier(
        str(table), ngram_range=(1, 3), min_count=2, nbsvm=True, epochs=1, batch_size=8,
        device="cpu", progress=False,
    )  # fmt: skip
    return run.save(folder / "run", curves=False)


def test_trigrams_nbsvm_run_records_the_pruned_bag(trigram_run):
    import seqlab

    config = json.loads((trigram_run / "config.json").read_text())
    assert config["train"]["vectorizer"]["ngram_range"] == [1, 3]
    assert config["train"]["vectorizer"]["min_count"] == 2
    run = seqlab.load(trigram_run)
    vocab = run.vectorizer.get_vocabulary(include_special_tokens=False)
    texts = [t for t, _ in ROWS]  # each row is there 5 times: every n-gram is seen >= 5 times
    expected = {g for t in texts for g in run.vectorizer.tokenize(t)}
    assert set(vocab) == expected and any(len(g.split()) == 3 for g in vocab)
    assert config["model"]["config"]["vocab_size"] == len(vocab) + 2
    ratio = run.model.nb_ratio.numpy()
    assert ratio.shape == (len(vocab) + 2,) and np.isfinite(ratio).all()
