"""What seqlab.export refuses, each with one line: runs it cannot read texts for, folders it
would clobber, a model ONNX cannot express (pointing to TorchScript, which works), a model
whose trace would not hold; and ``seqlab export`` on the command line."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import seqlab as sl
from _toy_reviews import toy_reviews
from seqlab.cli.main import cli
from seqlab.export import export
from seqlab.models import registry
from seqlab.models.embedding import SequenceClassifier
from seqlab.text import TextVectorizer

pytestmark = pytest.mark.usefixtures("one_thread")

TEXTS = ["superb", "the film was great and the cast was superb", ""]


class _RunningMax(SequenceClassifier):
    """Embedding -> running maximum over time (``torch.cummax``, which ONNX opset 17 lacks)
    -> the value at the last step -> dense."""

    def __init__(self, vocab_size=None, num_classes=2, embedding_dim=8, seed=0, **_):
        super().__init__()
        options = {"vocab_size": vocab_size, "num_classes": num_classes, "seed": seed}
        with self._building(0.0, {}, {**options, "embedding_dim": embedding_dim}) as add_head:
            add_head(self.feature_size)

    def forward_embedded(self, x, lengths):
        running = torch.cummax(x, dim=1)[0]  # (B, T, D)
        return self._logits(running[torch.arange(x.shape[0]), lengths - 1])


class _LengthBranch(_RunningMax):
    """Mean over time, doubled when the batch holds a text longer than 4 tokens: a Python
    branch on the data, which a trace records one side of."""

    def forward_embedded(self, x, lengths):
        pooled = x.sum(1) / lengths[:, None]
        if int(lengths.max()) > 4:
            pooled = pooled * 2
        return self._logits(pooled)


@pytest.fixture
def registered():
    """Register the test models for one test (so that runs of them save and load)."""
    names = {"test-running-max": _RunningMax, "test-length-branch": _LengthBranch}
    for name, cls in names.items():
        registry.register(name)(cls)
    yield names
    for name in names:
        registry._MODELS.pop(name)


def _train(name: str, out=None):
    data = toy_reviews(24)
    vec = TextVectorizer().fit(data.texts)
    model = registry.build(name, vocab_size=vec.vocab_size, num_classes=2)
    return sl.fit(model, vec, data, epochs=1, batch_size=8, val_split=0, progress=False,
                  device="cpu", out=out)  # fmt: skip


def test_export_onnx_refusal_points_to_torchscript_which_holds(registered, tmp_path):
    run = _train("test-running-max")
    with pytest.raises(ValueError) as info:
        export(run, tmp_path / "onnx")
    message = str(info.value)
    assert message.startswith(
        "model 'test-running-max' cannot be expressed in ONNX opset 17 "
        "(UnsupportedOperatorError: Exporting the operator 'aten::cummax' to ONNX"
    )
    assert message.endswith("; export it as TorchScript instead: format='torchscript'")
    assert "\n" not in message and not (tmp_path / "onnx").exists()
    folder = export(run, tmp_path / "ts", "torchscript")
    module = torch.jit.load(str(folder / "model.pt"))
    tokens = torch.tensor([[5, 6, 7, 0], [8, 0, 0, 0]])
    with torch.no_grad():
        got = module(tokens, torch.tensor([3, 1]))
        want = torch.softmax(run.model(tokens=tokens, lengths=torch.tensor([3, 1])), -1)
    torch.testing.assert_close(got, want, atol=1e-6, rtol=0)


def test_export_refuses_a_model_whose_trace_depends_on_the_data(registered, tmp_path):
    run = _train("test-length-branch")
    for fmt in ("onnx", "torchscript"):
        with pytest.raises(ValueError, match=r"^model 'test-length-branch' exported to "):
            export(run, tmp_path / fmt, fmt)
        assert not (tmp_path / fmt).exists()
    with pytest.raises(ValueError) as info:
        export(run, tmp_path / "x", "torchscript")
    assert "on probe batches of texts of different lengths (tolerance 0.0001)" in str(info.value)
    assert str(info.value).endswith("which a trace cannot record, so it cannot be exported")


def test_export_refuses_runs_without_texts_and_other_tasks(tmp_path):
    x = [np.array([2, 3, 4]), np.array([5, 6])] * 6
    model = sl.models.build("lstm", vocab_size=10, embedding_dim=4, hidden_size=4)
    run = sl.fit(model, None, (x, np.array([0, 1] * 6)), epochs=1, val_split=0, progress=False,
                 device="cpu")  # fmt: skip
    with pytest.raises(ValueError, match=r"^the run was trained on \(x, y\) arrays and has no "):
        export(run, tmp_path / "a")
    esn = tmp_path / "esn"
    esn.mkdir()
    (esn / "config.json").write_text(json.dumps({"task": "esn", "format": 1}))
    with pytest.raises(ValueError) as info:
        export(esn, tmp_path / "b")
    assert str(info.value) == (
        f"{esn} holds a 'esn' run; export reads classifier ('classify') and language-model "
        "('lm') runs, which read texts"
    )
    with pytest.raises(ValueError, match=r"^format must be one of 'onnx', 'torchscript'; got 'tf'"):
        export(esn, tmp_path / "c", "tf")


def test_export_folder_rules(tmp_path):
    run = _train("kim-cnn")
    out = export(run, tmp_path / "out")
    with pytest.raises(ValueError, match=r"already holds an exported model; pass overwrite=True"):
        export(run, out, "torchscript")
    export(run, out, "torchscript", overwrite=True)  # the ONNX file of the first export goes
    assert sorted(p.name for p in out.iterdir()) == [
        "model.pt",
        "predict.py",
        "preprocessing.json",
        "vocabulary.json",
    ]
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match=r"holds other files \(notes.txt\); export into an empty"):
        export(run, tmp_path / "busy", overwrite=True)
    assert (tmp_path / "busy" / "notes.txt").read_text() == "mine"


def test_export_cli_writes_the_folder_and_errors_in_one_line(registered, tmp_path):
    run_dir = tmp_path / "run"
    _train("lstm", out=run_dir)
    out = tmp_path / "exported"
    runner = CliRunner()
    result = runner.invoke(cli, ["export", str(run_dir), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == f"exported {run_dir} as onnx to {out}"
    settings = json.loads((out / "preprocessing.json").read_text())
    assert settings["model"] == "lstm" and settings["runtime"] == "onnx"
    again = runner.invoke(cli, ["export", str(run_dir), "--out", str(out)])
    assert again.exit_code == 2
    assert again.output == (
        f"Error: --out {out} already holds an exported model; pass --overwrite to replace it, "
        "or choose another folder\n"
    )
    cummax_dir = tmp_path / "cummax"
    _train("test-running-max", out=cummax_dir)
    refused = runner.invoke(cli, ["export", str(cummax_dir), "--out", str(tmp_path / "c")])
    assert refused.exit_code == 2 and len(refused.output.splitlines()) == 1
    assert refused.output.endswith("; export it as TorchScript instead: --format torchscript\n")
    fallback = ["export", str(cummax_dir), "--out", str(tmp_path / "c"), "--format", "torchscript"]
    assert runner.invoke(cli, fallback).exit_code == 0
    assert (tmp_path / "c" / "model.pt").is_file()
