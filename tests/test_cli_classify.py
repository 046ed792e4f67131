"""`seqlab classify train|evaluate|predict` end to end on a tiny TSV."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from _toy_reviews import ROWS
from seqlab.cli.main import cli


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    table = folder / "tiny.tsv"
    table.write_text("text\tlabel\n" + "".join(f"{t}\t{y}\n" for t, y in ROWS), encoding="utf-8")
    out = folder / "run"
    result = CliRunner().invoke(
        cli,
        [
            "classify",
            "train",
            "--data",
            str(table),
            "--ngrams",
            "1",
            "2",
            "--nbsvm",
            "--epochs",
            "1",
            "--lr",
            "0.1",
            "--batch-size",
            "4",
            "--out",
            str(out),
            "--quiet",
            "--device",
            "cpu",
        ],
    )
    assert result.exit_code == 0, result.output
    return table, out, result


def test_cli_classify_train_writes_run_folder(trained):
    _, out, result = trained
    assert f"run folder: {out}" in result.output
    assert "val   loss" in result.output
    for name in ("config.json", "vocab.json", "model.safetensors", "curves.png"):
        assert (out / name).is_file()
    config = json.loads((out / "config.json").read_text())
    assert config["model"]["config"]["nb_scaling"] is True
    assert config["train"]["vectorizer"]["ngram_range"] == [1, 2]
    assert config["train"]["epochs"] == 1


def test_cli_classify_evaluate(trained):
    table, out, _ = trained
    result = CliRunner().invoke(cli, ["classify", "evaluate", str(out), "--data", str(table)])
    assert result.exit_code == 0, result.output
    assert f"{table} [whole file]: 30 texts" in result.output and "accuracy" in result.output
    result = CliRunner().invoke(
        cli, ["classify", "evaluate", str(out), "--data", str(table), "--json"]
    )
    metrics = json.loads(result.output)
    assert metrics["n"] == 30 and metrics["accuracy"] >= 0.9


def test_cli_classify_predict_from_args_file_and_stdin(trained, tmp_path):
    _, out, _ = trained
    runner = CliRunner()
    result = runner.invoke(
        cli, ["classify", "predict", str(out), "superb moving film", "dull poor plot"]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.strip().split("\n")
    assert [line.split("\t")[0] for line in lines] == ["pos", "neg"]
    assert all(0.5 <= float(line.split("\t")[1]) <= 1.0 for line in lines)
    assert lines[0].split("\t")[2] == "superb moving film"

    texts = tmp_path / "texts.txt"
    texts.write_text("superb moving film\n\ndull poor plot\n", encoding="utf-8")
    result = runner.invoke(cli, ["classify", "predict", str(out), "--file", str(texts)])
    assert [line.split("\t")[0] for line in result.output.strip().split("\n")] == ["pos", "neg"]

    result = runner.invoke(cli, ["classify", "predict", str(out)], input="dull poor plot\n")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("neg\t")


def test_cli_classify_errors_are_one_line_messages(trained, tmp_path):
    table, out, _ = trained
    runner = CliRunner()
    result = runner.invoke(
        cli, ["classify", "train", "--data", "no-such-data", "--out", str(tmp_path / "x")]
    )
    assert result.exit_code != 0
    assert "neither an existing file or folder nor a labelled dataset name" in result.output
    result = runner.invoke(cli, ["classify", "predict", str(tmp_path / "missing"), "text"])
    assert result.exit_code != 0 and "does not exist" in result.output
    result = runner.invoke(
        cli,
        [
            "classify",
            "train",
            "--data",
            str(table),
            "--ngrams",
            "1",
            "2",
            "--ngram-range",
            "1,2",
            "--out",
            str(tmp_path / "y"),
        ],
    )
    assert result.exit_code != 0 and "not both" in result.output
    result = runner.invoke(cli, ["classify", "predict", str(out)], input="")
    assert result.exit_code != 0 and "no texts to classify" in result.output


def _train_args(table, out, *extra):
    return ["classify", "train", "--data", str(table), "--epochs", "1", "--batch-size", "4",
            "--out", str(out), "--quiet", "--device", "cpu", *extra]  # fmt: skip


def test_cli_classify_train_overwrite_steps_and_deprecated_max_steps(trained, tmp_path):
    table, _, _ = trained
    out = tmp_path / "run"
    runner = CliRunner()
    assert runner.invoke(cli, _train_args(table, out, "--steps", "2")).exit_code == 0
    again = runner.invoke(cli, _train_args(table, out, "--steps", "2"))
    assert again.exit_code == 2 and "--overwrite" in again.output
    assert "Traceback" not in again.output and len(again.output.strip().splitlines()) == 1
    result = runner.invoke(cli, _train_args(table, out, "--max-steps", "3", "--overwrite"))
    assert result.exit_code == 0, result.output
    assert "--max-steps is deprecated; use --steps 3" in result.output
    assert json.loads((out / "metrics.json").read_text())["steps"] == 3
    both = runner.invoke(cli, _train_args(table, out, "--max-steps", "3", "--steps", "2"))
    assert both.exit_code == 2 and "give only --steps" in both.output


def test_cli_classify_train_passes_run_flags_to_fit(trained, tmp_path, monkeypatch):
    import seqlab.training.trainer as trainer

    seen = {}

    def fake_fit(*args, **kwargs):
        seen.update(kwargs)
        raise ValueError("stop here")

    monkeypatch.setattr(trainer, "fit", fake_fit)
    table, _, _ = trained
    extra = ["--threads", "1", "--checkpoint-every", "5", "--minutes", "0.5", "--overwrite"]
    result = CliRunner().invoke(cli, _train_args(table, tmp_path / "r", *extra))
    assert result.exit_code == 2 and result.output.strip() == "Error: stop here"
    assert seen["threads"] == 1 and seen["checkpoint_every"] == 5.0
    assert seen["minutes"] == 0.5 and seen["overwrite"] is True and seen["max_steps"] is None
    result = CliRunner().invoke(cli, _train_args(table, tmp_path / "r", "--threads", "auto"))
    assert result.exit_code == 2 and seen["threads"] == "auto"


def test_cli_classify_train_ctrl_c_names_resume_and_exits_130(trained, tmp_path, monkeypatch):
    import seqlab.training.trainer as trainer
    from seqlab.training.loop import TrainingInterrupted

    message = f"interrupted at step 2; checkpoint written to {tmp_path}; continue with --resume"

    def interrupted(*args, **kwargs):
        raise TrainingInterrupted(message)

    monkeypatch.setattr(trainer, "fit", interrupted)
    table, _, _ = trained
    result = CliRunner().invoke(cli, _train_args(table, tmp_path / "r"))
    assert result.exit_code == 130 and message in result.output and "Aborted" not in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "lstm", "--set", "hidden_size=abc"], "hidden_size=abc: expected an integer"),
        (["--model", "lstm", "--set", "dropout=inf"], "dropout=inf: expected a finite number"),
        (["--threads", "0"], "--threads"),
        (["--threads", "many"], "give an int >= 1 or 'auto'"),
        (["--checkpoint-every", "0"], "--checkpoint-every"),
        (["--resume", "--overwrite"], "give one"),
    ],
)
def test_cli_classify_train_bad_flags_are_usage_errors(trained, tmp_path, args, message):
    table, _, _ = trained
    result = CliRunner().invoke(cli, _train_args(table, tmp_path / "r", *args))
    assert result.exit_code == 2 and message in result.output, result.output
    assert "Traceback" not in result.output


def test_train_classifier_checks_the_run_folder_before_reading_data(tmp_path, monkeypatch):
    from seqlab.runfolder import RunFolderError
    from seqlab.training import classify

    def no_data(*args, **kwargs):
        raise AssertionError("the data was read before the run folder was checked")

    monkeypatch.setattr(classify, "_training_data", no_data)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(RunFolderError, match="is not writable"):
        classify.train_classifier("snippets", out=blocker / "run", epochs=1)


def test_cli_classify_train_precision_and_threads(trained, tmp_path):
    table = trained[0]
    args = ["classify", "train", "--data", str(table), "--model", "lstm", "--epochs", "1"]
    args += ["--quiet", "--device", "cpu", "--precision", "bf16", "--out", str(tmp_path / "r")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    assert config["train"]["precision"] == "bf16"
    result = CliRunner().invoke(cli, args[:-2] + ["--precision", "fp16"])
    assert result.exit_code == 2 and "'fp16' is not one of 'fp32', 'bf16'" in result.output
    help_text = CliRunner().invoke(cli, ["classify", "train", "--help"]).output
    assert "--threads N|AUTO" in help_text and "machine).  [default: auto]" in help_text
