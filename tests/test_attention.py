"""seqlab.attention and `seqlab classify attention`: a transformer run's attention on a text."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import seqlab.attention as attention_module
from _toy_reviews import toy_reviews
from seqlab.attention import CLS_TOKEN, attention_map, attention_png
from seqlab.cli.main import cli
from seqlab.explain import explain as explain_ids
from seqlab.training.classify import train_classifier

pytestmark = pytest.mark.usefixtures("one_thread")

COMMON = dict(epochs=3, lr=0.01, batch_size=8, progress=False, device="cpu", truncate=12)
TEXT = "the acting was boring and the plot was dull"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A 2-layer transformer (mean pooling), a [CLS] one with learned positions read at a
    fixed length of 10 (padding in front), and an LSTM: tiny runs on toy reviews."""
    root = tmp_path_factory.mktemp("attention")
    data = toy_reviews(60, seed=0)
    model = dict(model="transformer", embedding_dim=16, num_layers=2, dropout=0.0)
    return {
        "mean": train_classifier(data, **model, model_options={"num_heads": 4},
                                 out=root / "mean", **COMMON),
        "cls": train_classifier(data, **{**model, "num_layers": 1}, pooling="first",
                                fixed_maxlen=10, out=root / "cls",
                                model_options={"num_heads": 2, "positions": "learned",
                                               "max_length": 10}, **COMMON),
        "lstm": train_classifier(data, model="lstm", embedding_dim=8, hidden_size=8,
                                 out=root / "lstm", **{**COMMON, "epochs": 1, "max_steps": 2}),
    }  # fmt: skip


def _weights(run, text: str) -> list[torch.Tensor]:
    ids = torch.as_tensor(np.asarray(run.encode([text])[0]))[None]
    with torch.no_grad():
        return run.model.eval().attention_weights(tokens=ids, lengths=torch.tensor([ids.shape[1]]))


def test_attention_map_is_the_models_weights_of_the_runs_tokens(runs) -> None:
    run = runs["mean"]
    result = attention_map(run, TEXT)
    assert result.tokens == run.tokens(TEXT) == TEXT.split()
    weights = _weights(run, TEXT)
    np.testing.assert_allclose(result.matrix, weights[-1][0].mean(0).numpy(), atol=1e-7)
    np.testing.assert_allclose(result.matrix.sum(axis=1), 1.0, atol=1e-6)
    assert (result.layer, result.head, result.layers, result.heads) == (1, None, 2, 4)
    assert result.label == run.predict([TEXT])[0]
    assert result.describe() == "layer 1 (last), mean of 4 heads"
    one = attention_map(run, TEXT, layer=0, head=3)
    np.testing.assert_allclose(one.matrix, weights[0][0, 3].numpy(), atol=1e-7)
    assert one.describe() == "layer 0, head 3"
    same = attention_map(run, TEXT, layer=-2, head=3)  # -2: the first of two layers
    np.testing.assert_array_equal(same.matrix, one.matrix)


def test_attention_map_cls_row_and_fixed_length_padding(runs) -> None:
    run = runs["cls"]
    text = "a superb film"
    ids = np.asarray(run.encode([text])[0])
    assert len(ids) == 10 and (ids[:7] == 0).all()  # fixed length: padding in front
    result = attention_map(run, text)
    assert result.tokens == [CLS_TOKEN, "a", "superb", "film"]
    full = _weights(run, text)[0][0].mean(0).numpy()  # (11, 11): [CLS] + 10 steps
    keep = [0, 8, 9, 10]  # the padding steps are read by the model but are not tokens
    np.testing.assert_allclose(result.matrix, full[np.ix_(keep, keep)], atol=1e-7)
    assert result.matrix.shape == (4, 4) and (result.matrix.sum(axis=1) < 1).all()


def test_attention_png_labels_both_axes_and_notes_a_cut(runs, monkeypatch) -> None:
    seen = {}

    def capture(fig, title=""):
        seen["title"], seen["axes"] = title, fig.axes[0]
        return b"\x89PNG"

    monkeypatch.setattr(attention_module, "figure_png", capture)
    result = attention_map(runs["mean"], TEXT)
    attention_png(result)
    ax = seen["axes"]
    assert [t.get_text() for t in ax.get_xticklabels()] == result.tokens
    assert [t.get_text() for t in ax.get_yticklabels()] == result.tokens
    assert (
        seen["title"] == f"Attention, layer 1 (last), mean of 4 heads (predicted {result.label!r})"
    )
    attention_png(result, max_shown=4)
    assert [t.get_text() for t in seen["axes"].get_xticklabels()] == result.tokens[:4]
    assert seen["title"].endswith("; first 4 of 9 tokens shown")
    monkeypatch.undo()
    assert attention_png(result)[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="max_shown must be an integer >= 1, got 0"):
        attention_png(result, max_shown=0)


def test_attention_map_refusals(runs) -> None:
    with pytest.raises(ValueError) as info:
        attention_map(runs["lstm"], TEXT)
    assert str(info.value) == (
        "attention weights exist only for --model transformer runs; this run is 'lstm'"
    )
    run = runs["mean"]
    with pytest.raises(ValueError) as info:
        attention_map(run, TEXT, layer=2)
    assert str(info.value) == (
        "layer=2 is out of range: the model has 2 layers; give 0 to 1 (or -1 to -2 from the end)"
    )
    with pytest.raises(ValueError, match=r"^head=-1 is out of range: .* give 0 to 3$"):
        attention_map(run, TEXT, head=-1)
    with pytest.raises(TypeError, match="layer must be an integer, got '1'"):
        attention_map(run, TEXT, layer="1")
    with pytest.raises(ValueError, match="has no tokens"):
        attention_map(run, " ,, ")
    with pytest.raises(TypeError, match="seqlab.runs.Run"):
        attention_map(run.model, TEXT)


def test_attention_run_explains_with_both_methods(runs) -> None:
    run = runs["mean"]
    for method in ("occlusion", "grad_x_input"):
        pairs = run.explain(TEXT, method=method)
        assert [tok for tok, _ in pairs] == TEXT.split()
        expected = explain_ids(run.model, run.encode([TEXT])[0], method)
        np.testing.assert_allclose([s for _, s in pairs], expected)


def _attention_cli(*args: str):
    return CliRunner().invoke(cli, ["classify", "attention", *args])


def test_attention_cli_prints_each_tokens_strongest_keys(runs) -> None:
    run = runs["mean"]
    result = _attention_cli(str(run.path), TEXT)
    assert result.exit_code == 0, result.output
    lines = result.output.strip().split("\n")
    expected = attention_map(run, TEXT)
    assert lines[0] == f"{run.path}: layer 1 (last), mean of 4 heads; predicted {expected.label!r}"
    assert len(lines) == 1 + len(expected.tokens)
    row = expected.matrix[1]
    top = np.argsort(-row, kind="stable")[:3]
    assert lines[2].split() == ["1", "acting", "->"] + [
        part for j in top for part in (expected.tokens[j], f"{row[j]:.2f}")
    ]


def test_attention_cli_json_and_heat_map(runs, tmp_path) -> None:
    run = runs["mean"]
    out = tmp_path / "attn.png"
    result = _attention_cli(str(run.path), TEXT, "--layer", "0", "--head", "1", "--json",
                            "--out", str(out))  # fmt: skip
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout.strip())
    expected = attention_map(run, TEXT, layer=0, head=1)
    assert record["tokens"] == expected.tokens and record["label"] == expected.label
    assert (record["layer"], record["head"], record["layers"], record["heads"]) == (0, 1, 2, 4)
    np.testing.assert_allclose(record["matrix"], expected.matrix, atol=1e-6)
    assert out.read_bytes()[:4] == b"\x89PNG" and f"heat map: {out}" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["lstm"], "attention weights exist only for --model transformer runs; this run is 'lstm'"),
        (["mean", "--layer", "5"], "--layer 5 is out of range: the model has 2 layers; give 0 "
         "to 1 (or -1 to -2 from the end)"),
        (["mean", "--head", "4"], "--head 4 is out of range: the model has 4 heads; give 0 to 3"),
        (["mean", "--max-shown", "0"], "Invalid value for '--max-shown'"),
    ],
)  # fmt: skip
def test_attention_cli_bad_input_is_one_line(runs, args, message) -> None:
    result = _attention_cli(str(runs[args[0]].path), TEXT, *args[1:])
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    if not message.startswith("Invalid"):
        assert result.output == f"Error: {message}\n"


def test_attention_cli_train_refuses_texts_longer_than_learned_positions(tmp_path) -> None:
    rows = "".join(f"{t}\t{y}\n" for t, y in [("a superb film", "pos"), ("a dull film", "neg")] * 4)
    table = tmp_path / "t.tsv"
    table.write_text("text\tlabel\n" + rows, encoding="utf-8")
    args = ["classify", "train", "--data", str(table), "--model", "transformer", "--set",
            "positions=learned", "--set", "max_length=100", "--embedding-dim", "8", "--quiet",
            "--out", str(tmp_path / "run")]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    assert result.output == (
        "Error: model 'transformer' reads at most max_length=100 tokens (positions='learned'), "
        "but --truncate 500 cuts texts to 500 tokens; use --truncate 100 or less, raise --set "
        "max_length=..., or use positions='sinusoidal'\n"
    )
    assert not (tmp_path / "run" / "config.json").exists()


def test_attention_cli_summary_of_transformer_runs(runs) -> None:
    result = CliRunner().invoke(cli, ["classify", "summary", str(runs["cls"].path)])
    assert result.exit_code == 0, result.output
    cells = [re.split(r"\s{2,}", line.strip()) for line in result.output.split("\n")]
    rows = {c[0]: c[1:] for c in cells if len(c) == 3}
    # probed at the run's fixed length of 10 steps; the blocks also read the [CLS] step
    assert rows["positions (LearnedPositions)"] == ["(None, 10, 16)", "160"]
    assert rows["blocks.0.attention.qkv (Linear)"] == ["(None, 11, 48)", "816"]
    assert rows["head (Linear)"] == ["(None, 2)", "34"] and rows["cls (Parameter)"] == ["-", "16"]
