"""Analogy and word-pair evaluation, matching gensim's semantics."""

from __future__ import annotations

import numpy as np
import pytest

from seqlab.embeddings import KeyedVectors, evaluate_analogies, evaluate_word_pairs

WORDS = [
    "king",
    "queen",
    "man",
    "woman",
    "paris",
    "france",
    "rome",
    "italy",
    "berlin",
    "Germany",
    "germany",
    "tokyo",
]
# axes: royalty, France, Italy, Germany, capital (+) / country (-), gender
VECTORS = np.array(
    [
        [5, 0, 0, 0, 0, 1],
        [5, 0, 0, 0, 0, -1],
        [1, 0, 0, 0, 0, 1],
        [1, 0, 0, 0, 0, -1],
        [0, 5, 0, 0, 1, 0],
        [0, 5, 0, 0, -1, 0],
        [0, 0, 5, 0, 1, 0],
        [0, 0, 5, 0, -1, 0],
        [0, 0, 0, 5, 1, 0],
        [0, 0, 0, 5, -1, 0],
        [-9, -9, -9, -9, 9, 9],  # "germany": a later, unrelated case variant of "Germany"
        [0, 0, 0, 0, 1, 0],
    ],
    dtype=np.float32,
)
QUESTIONS = """: family
man king woman queen
king man queen woman
man woman king prince
: capital-common-countries
paris france rome italy
paris france berlin germany
germany berlin france paris
rome italy tokyo japan
not a question
"""


@pytest.fixture
def files(tmp_path):
    q = tmp_path / "questions.txt"
    q.write_text(QUESTIONS)
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text(
        "# comment\nWord 1\tWord 2\tHuman (mean)\nking\tqueen\t8.0\n"
        "king\tman\t5.0\nparis\tfrance\t9.0\nking\tparis\t1.0\nman\tunicorn\t3\n"
    )
    return q, pairs


@pytest.fixture
def kv() -> KeyedVectors:
    return KeyedVectors(WORDS, VECTORS)


def test_embeddings_analogies_tiny_file(kv, files):
    r = evaluate_analogies(kv, files[0], restrict_vocab=30_000)
    names = [s["section"] for s in r["sections"]]
    assert names == ["family", "capital-common-countries", "Total accuracy"]
    family, capitals, total = r["sections"]
    assert (family["correct"], family["incorrect"]) == (2, 0)  # "prince" is unknown: skipped
    # upper-cased lookups take the first case variant, "Germany" (row 9), not "germany"
    assert (capitals["correct"], capitals["incorrect"]) == (3, 0)
    assert r["questions"] == 7 and r["oov"] == 2 and r["oov_ratio"] == pytest.approx(2 / 7)
    assert total["correct"] == 5 and r["accuracy"] == 1.0


def test_embeddings_analogies_restrict_vocab_and_dummy(kv, files):
    r = evaluate_analogies(kv, files[0], restrict_vocab=4)
    assert r["correct"] == 2 and r["oov"] == 5
    r = evaluate_analogies(kv, files[0], restrict_vocab=4, dummy4unknown=True)
    assert r["incorrect"] == 5 and r["accuracy"] == pytest.approx(2 / 7)


def test_embeddings_analogies_need_a_section(kv, tmp_path):
    path = tmp_path / "q.txt"
    path.write_text("man king woman queen\n")
    with pytest.raises(ValueError, match="Missing section header"):
        evaluate_analogies(kv, path)
    with pytest.raises(FileNotFoundError):
        evaluate_analogies(kv, tmp_path / "none.txt")


def test_embeddings_word_pairs_tiny_file(kv, files):
    r = evaluate_word_pairs(kv, files[1])
    assert r["pairs"] == 4 and r["oov"] == 1 and r["oov_ratio"] == pytest.approx(0.2)
    model = [
        kv.similarity("king", "queen"),
        kv.similarity("king", "man"),
        kv.similarity("paris", "france"),
        kv.similarity("king", "paris"),
    ]
    from scipy import stats

    assert r["spearman"] == pytest.approx(stats.spearmanr([8, 5, 9, 1], model)[0])
    assert r["pearson"] == pytest.approx(stats.pearsonr([8, 5, 9, 1], model)[0], rel=1e-5)


def test_embeddings_evaluation_equals_gensim_on_tiny_files(kv, files):
    gensim = pytest.importorskip("gensim")
    g = gensim.models.KeyedVectors(vector_size=6)
    g.add_vectors(WORDS, VECTORS)
    score, sections = g.evaluate_word_analogies(str(files[0]), restrict_vocab=30_000)
    ours = evaluate_analogies(kv, files[0])
    assert ours["accuracy"] == pytest.approx(score)
    assert [(s["section"], len(s["correct"]), len(s["incorrect"])) for s in sections] == [
        (s["section"], s["correct"], s["incorrect"]) for s in ours["sections"]
    ]
    pearson, spearman, oov = g.evaluate_word_pairs(str(files[1]))
    mine = evaluate_word_pairs(kv, files[1])
    assert mine["spearman"] == pytest.approx(spearman[0])
    assert mine["pearson"] == pytest.approx(pearson[0], rel=1e-5)
    assert 100 * mine["oov_ratio"] == pytest.approx(oov)


@pytest.mark.slow
def test_embeddings_glove50_matches_gensim_numbers(shared_data, tmp_path, monkeypatch):
    """GloVe 6B 50d: gensim gives 49.7% on the covered analogies and Spearman 0.503."""
    monkeypatch.setenv("SEQLAB_CACHE", str(tmp_path))
    from seqlab.embeddings import load

    kv = load(shared_data / "embeddings" / "glove.6B.50d.txt.gz")
    assert len(kv) == 400_000 and kv.vector_size == 50
    r = evaluate_analogies(kv, shared_data / "eval" / "questions-words.txt")
    assert abs(100 * r["accuracy"] - 49.69) < 0.5
    assert r["correct"] + r["incorrect"] == 14877
    p = evaluate_word_pairs(kv, shared_data / "eval" / "wordsim353.tsv")
    assert abs(p["spearman"] - 0.5033) < 0.005 and p["oov"] == 0
