"""Token explanations of a trained run: `Run.explain` and `seqlab classify explain`."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from _toy_reviews import toy_reviews
from seqlab.cli.main import cli
from seqlab.data.base import TextDataset
from seqlab.explain import explain as explain_ids
from seqlab.training.classify import train_classifier

pytestmark = pytest.mark.usefixtures("one_thread")


def _data(n: int = 60, seed: int = 0) -> TextDataset:
    return toy_reviews(n, seed)


@pytest.fixture(scope="module")
def seq_run(tmp_path_factory):
    """A small LSTM that has learned which words carry the sentiment; saved to disk.

    (A model may get away with learning only one side, e.g. "no negative word means pos",
    so the tests below check the words of the class they explain.)"""
    out = tmp_path_factory.mktemp("explain") / "lstm"
    return train_classifier(
        _data(), model="lstm", embedding_dim=16, hidden_size=16, pooling="max", truncate=12,
        epochs=15, lr=0.02, batch_size=8, progress=False, device="cpu", out=out,
    )  # fmt: skip


@pytest.fixture(scope="module")
def bag_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("explain") / "bow"
    return train_classifier(
        _data(), ngram_range=(1, 2), epochs=10, lr=0.05, batch_size=8, progress=False,
        device="cpu", out=out,
    )  # fmt: skip


def test_explain_cli_sequence_scores_are_explain_of_the_encoded_text(seq_run) -> None:
    text = "the acting was boring"
    for method in ("occlusion", "grad_x_input"):
        pairs = seq_run.explain(text, method=method)
        assert [tok for tok, _ in pairs] == ["the", "acting", "was", "boring"]
        expected = explain_ids(seq_run.model, seq_run.encode([text])[0], method)
        np.testing.assert_allclose([s for _, s in pairs], expected)
    scores = dict(seq_run.explain(text))
    assert max(scores, key=scores.get) == "boring" and scores["boring"] > 0.05


def test_explain_cli_target_by_name_flips_binary_scores(seq_run) -> None:
    text = "a boring story"
    pos = np.array([s for _, s in seq_run.explain(text, target="pos")])
    neg = np.array([s for _, s in seq_run.explain(text, target=0)])
    np.testing.assert_allclose(neg, -pos, atol=1e-6)  # p(neg) = 1 - p(pos)
    assert seq_run.predict([text]) == ["neg"] and dict(seq_run.explain(text))["boring"] > 0
    with pytest.raises(ValueError, match="not a label of this run"):
        seq_run.explain(text, target="meh")


def test_explain_cli_long_text_is_explained_after_truncation(seq_run) -> None:
    words = ["the", "film", "was", "a", "story"] * 3 + ["great"]  # 16 tokens, truncate=12
    tokens = [tok for tok, _ in seq_run.explain(" ".join(words))]
    assert tokens == words[-12:]  # truncating="pre" keeps the end, as the model saw it


def test_explain_cli_bag_run_uses_occlusion_of_words(bag_run) -> None:
    text = "the plot was Boring!"
    pairs = bag_run.explain(text)
    assert [w for w, _ in pairs] == ["the", "plot", "was", "boring"]
    proba = bag_run.predict_proba([text, "plot was boring", "the was boring", "the plot boring",
                                   "the plot was"])  # fmt: skip
    assert proba[0].argmax() == 0
    expected = proba[0, 0] - proba[1:, 0]  # the predicted class: neg
    np.testing.assert_allclose([s for _, s in pairs], expected, atol=1e-6)
    assert max(dict(pairs), key=dict(pairs).get) == "boring"
    with pytest.raises(ValueError, match="explained by occlusion"):
        bag_run.explain(text, method="grad_x_input")


def test_explain_cli_refuses_bad_input(seq_run) -> None:
    with pytest.raises(ValueError, match="has no tokens"):
        seq_run.explain("  ,, ")
    with pytest.raises(TypeError, match="one str"):
        seq_run.explain(["a", "b"])
    with pytest.raises(ValueError, match="method must be one of"):
        seq_run.explain("a film", method="lime")


def test_explain_cli_text_output(seq_run) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["classify", "explain", str(seq_run.path), "the plot was boring"])
    assert result.exit_code == 0, result.output
    head, body = result.output.strip().split("\n")
    assert head.startswith("neg ") and "explaining 'neg' by occlusion" in head
    assert body.split()[-1].startswith("boring[+") and "\x1b[" not in body

    result = runner.invoke(
        cli, ["classify", "explain", str(seq_run.path), "the plot was boring", "--color"]
    )
    body = result.output.strip().split("\n")[1]
    assert "\x1b[30;48;5;83mboring\x1b[0m" in body  # strongest support: the darkest green


def test_explain_cli_json_output(seq_run) -> None:
    texts = ["the plot was superb", "an awful film"]
    result = CliRunner().invoke(
        cli,
        ["classify", "explain", str(seq_run.path), *texts, "--json", "--method", "grad_x_input"],
    )
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.output.strip().split("\n")]
    assert [r["text"] for r in records] == texts
    assert [r["label"] for r in records] == seq_run.predict(texts)
    first = records[0]
    assert first["method"] == "grad_x_input" and first["target"] == first["label"]
    assert [t["token"] for t in first["tokens"]] == ["the", "plot", "was", "superb"]
    expected = [s for _, s in seq_run.explain(texts[0], method="grad_x_input")]
    np.testing.assert_allclose([t["score"] for t in first["tokens"]], expected, rtol=1e-5)


def test_explain_cli_errors(seq_run, bag_run) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["classify", "explain", str(seq_run.path), "a", "--target", "x"])
    assert result.exit_code != 0 and "not a label of this run: neg, pos" in result.output
    result = runner.invoke(
        cli, ["classify", "explain", str(bag_run.path), "a dull film", "--method", "grad_x_input"]
    )
    assert result.exit_code != 0 and "use --method occlusion\n" in result.output
    result = runner.invoke(cli, ["classify", "explain", str(seq_run.path)])
    assert result.exit_code != 0 and "Missing argument" in result.output
