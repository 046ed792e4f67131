"""``seqlab runs compare`` / seqlab.compare: the settings that differ, the final and best
metrics as the run folders record them, one plot, and one task at a time."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import seqlab as sl
from _toy_reviews import toy_reviews
from seqlab.cli.main import cli
from seqlab.compare import compare_runs

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two bag-of-words classifiers that differ in lr and hidden layers, and two character
    language models that differ in their cell."""
    root = tmp_path_factory.mktemp("compare")
    data = toy_reviews(40)
    vec = sl.text.TextVectorizer(output_mode="multi_hot").fit(data.texts)
    common = {"epochs": 3, "batch_size": 8, "val_split": 0.25, "progress": False, "device": "cpu"}
    for name, lr, hidden in (("small", 1e-3, ()), ("wide", 1e-2, (8,))):
        model = sl.models.build("bow-mlp", vocab_size=vec.vocab_size, hidden_sizes=hidden)
        sl.fit(model, vec, data, lr=lr, out=root / name, **common)
    text = "the will to truth, the will to power. " * 30
    for cell in ("lstm", "gru"):
        sl.lm.train(text=text, model=cell, steps=4, eval_every=2, hidden_size=8, embedding_dim=4,
                    num_layers=1, batch_size=2, seq_len=8, device="cpu", progress=False, seed=0,
                    out=root / f"lm-{cell}")  # fmt: skip
    return root


def test_compare_classifiers_table_shows_differences_and_recorded_metrics(runs):
    comparison = compare_runs([runs / "small", runs / "wide"])
    assert comparison.metric == "val_accuracy"  # the default for classifiers
    rows = dict(comparison.rows())
    assert rows["model"] == ["bow-mlp", "bow-mlp"]
    assert rows["model.hidden_sizes"] == [[], [8]] and rows["train.lr"] == [1e-3, 1e-2]
    assert "train.batch_size" not in rows and "train.epochs" not in rows  # the same in both
    for i, name in enumerate(("small", "wide")):
        metrics = json.loads((runs / name / "metrics.json").read_text())
        history = json.loads((runs / name / "history.json").read_text())
        assert rows["val_accuracy"][i] == metrics["val"]["accuracy"]
        assert rows["loss"][i] == metrics["train"]["loss"]
        assert rows["epochs"][i] == 3 and rows["steps"][i] == metrics["steps"]
        assert rows["time_s"][i] == metrics["train_time_s"]
        best = max(history["val_accuracy"])
        assert rows["best val_accuracy"][i] == best
        assert (
            rows["best val_accuracy at epoch"][i]
            == history["epoch"][history["val_accuracy"].index(best)]
        )
        model = sl.load(runs / name).model
        assert rows["params"][i] == sum(t.numel() for t in model.state_dict().values())
    table = comparison.table().splitlines()
    assert table[0].split() == ["run", "small", "wide"]
    assert table[1].split() == ["model", "bow-mlp", "bow-mlp"]


def test_compare_language_models_and_the_plot(runs, tmp_path):
    comparison = compare_runs([runs / "lm-lstm", runs / "lm-gru"], metric="val_loss")
    rows = dict(comparison.rows())
    assert rows["model"] == ["lm-lstm", "lm-gru"] and rows["train.model"] == ["lstm", "gru"]
    metrics = json.loads((runs / "lm-gru" / "metrics.json").read_text())
    assert rows["val_perplexity"][1] == metrics["val"]["perplexity"]
    history = json.loads((runs / "lm-gru" / "history.json").read_text())
    assert rows["best val_loss"][1] == min(history["val_loss"])
    for x in ("epoch", "step", "time_s"):
        png = comparison.plot(tmp_path / f"{x}.png", x=x).read_bytes()
        assert png[:4] == b"\x89PNG" and len(png) > 10_000


def test_compare_refuses_mixed_tasks_unknown_metrics_and_one_run(runs):
    with pytest.raises(ValueError) as info:
        compare_runs([runs / "small", runs / "lm-gru"])
    assert str(info.value) == (
        "runs compare compares runs of one task (their losses are in different units); got "
        f"classify: {runs / 'small'}; lm: {runs / 'lm-gru'}: compare each task's runs separately"
    )
    with pytest.raises(ValueError, match=r"^metric='val_bleu' is not in the history of .*small"):
        compare_runs([runs / "small", runs / "wide"], metric="val_bleu")
    with pytest.raises(ValueError, match=r"needs at least two run folders"):
        compare_runs([runs / "small"])


def test_compare_cli_prints_the_table_and_writes_the_plot(runs, tmp_path):
    out = tmp_path / "curves.png"
    args = ["runs", "compare", str(runs / "small"), str(runs / "wide"), "--out", str(out),
            "--metric", "val_loss", "--x", "step"]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["run", "small", "wide"]
    assert lines[-1] == f"curves of val_loss: {out}" and out.read_bytes()[:4] == b"\x89PNG"
    data = json.loads(CliRunner().invoke(cli, [*args, "--json"]).output)
    assert data["metric"] == "val_loss" and data["rows"]["train.lr"] == [1e-3, 1e-2]
    mixed = CliRunner().invoke(cli, ["runs", "compare", str(runs / "small"), str(runs / "lm-gru")])
    assert mixed.exit_code == 2 and mixed.output.startswith("Error: runs compare compares runs")
    assert len(mixed.output.splitlines()) == 1
