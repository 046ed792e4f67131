"""``seqlab series ...`` end to end on small data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from seqlab.cli.main import COMMANDS
from seqlab.cli.series import series


def _invoke(*args: str) -> str:
    result = CliRunner().invoke(series, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_series_cli_is_registered() -> None:
    assert ("seqlab.cli.series", "series") in COMMANDS


def test_series_cli_evaluate_prints_model_and_both_baselines(tmp_path: Path) -> None:
    out = tmp_path / "mg"
    text = _invoke(
        "evaluate", "--data", "mackey-glass", "--n-timesteps", "800", "--model", "esn",
        "--units", "50", "--spectral-radius", "1.25", "--leak-rate", "0.3", "--ridge", "1e-6",
        "--lags", "5", "--lags", "10", "--seed", "1", "--out", str(out),
    )  # fmt: skip
    for name in ("esn", "persistence", "linear-ar"):
        assert f"\n{name} " in text
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["metrics"]) == {"esn", "persistence", "linear-ar"}
    assert metrics["config"]["model_kwargs"]["seed"] == 1
    assert metrics["config"]["model_kwargs"]["units"] == 50
    assert (out / "forecast.png").read_bytes()[:4] == b"\x89PNG"


def test_series_cli_evaluate_other_model_and_errors(tmp_path: Path) -> None:
    text = _invoke(
        "evaluate", "--data", "sine", "--n-timesteps", "400", "--model", "linear-ar",
        "--set", "lags=3",
    )  # fmt: skip
    assert 'model: linear-ar {"lags": 3}' in text
    bad = CliRunner().invoke(series, ["evaluate", "--data", "nowhere", "--units", "10"])
    assert bad.exit_code != 0 and "unknown series 'nowhere'" in bad.output
    bad = CliRunner().invoke(
        series, ["evaluate", "--data", "sine", "--model", "linear-ar", "--units", "5"]
    )
    assert bad.exit_code != 0 and "ESN options" in bad.output


def test_series_cli_missing_data_dir_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SEQLAB_DATA", raising=False)
    bad = CliRunner().invoke(series, ["evaluate", "--data", "laser"])
    assert bad.exit_code != 0
    assert "SEQLAB_DATA" in bad.output and "--data-dir" in bad.output


def test_series_cli_fit_then_closed_loop_forecast(tmp_path: Path) -> None:
    run = tmp_path / "run"
    text = _invoke(
        "fit", "--data", "mackey-glass", "--n-timesteps", "1000", "--units", "80",
        "--spectral-radius", "1.25", "--leak-rate", "0.3", "--ridge", "1e-7",
        "--input-connectivity", "1.0", "--input-scaling", "0.3", "--out", str(run),
    )  # fmt: skip
    assert "validation RMSE" in text
    assert (run / "model" / "model.safetensors").is_file()
    info = json.loads((run / "series.json").read_text())
    assert info["split"] == {"n": 1000, "train_end": 700, "val_end": 800}
    text = _invoke("forecast", str(run), "--steps", "50")
    assert "50-step closed-loop forecast from step 800" in text
    result = json.loads((run / "forecast.json").read_text())
    assert result["metrics"]["nrmse"] < 0.5
    assert (run / "generation.png").is_file()
    bad = CliRunner().invoke(series, ["forecast", str(run), "--steps", "500"])
    assert bad.exit_code != 0 and "n_steps must be in [1, 200]" in bad.output


def test_series_cli_classify_japanese_vowels(shared_data: Path, tmp_path: Path) -> None:
    text = _invoke(
        "classify", "--data", "japanese-vowels", "--data-dir", str(shared_data),
        "--units", "200", "--out", str(tmp_path / "jv"),
    )  # fmt: skip
    acc = float(text.split("test accuracy: ")[1].split()[0])
    assert acc >= 0.95
    metrics = json.loads((tmp_path / "jv" / "metrics.json").read_text())
    assert metrics["n_train"] == 270 and metrics["n_test"] == 370
    assert (tmp_path / "jv" / "confusion.png").is_file()


def test_series_cli_lr_is_a_learning_rate_never_the_leak_rate(tmp_path: Path) -> None:
    # the ESN: --lr is refused and the message names --leak-rate
    for command in (["evaluate", "--data", "sine"], ["classify"]):
        bad = CliRunner().invoke(series, [*command, "--model", "esn", "--lr", "0.3"])
        assert bad.exit_code != 0
        assert "learning rate of the neural models" in bad.output and "--leak-rate" in bad.output
    bad = CliRunner().invoke(series, ["fit", "--data", "sine", "--lr", "0.3", "--out", "x"])
    assert bad.exit_code != 0 and "use --leak-rate 0.3" in bad.output
    assert "--lr" not in CliRunner().invoke(series, ["fit", "--help"]).output  # hidden
    bad = CliRunner().invoke(series, ["evaluate", "--data", "sine", "--set", "lr=0.3"])
    assert bad.exit_code != 0 and "--leak-rate" in bad.output
    # a neural model: --lr is its learning rate
    out = tmp_path / "lstm"
    _invoke(
        "evaluate", "--data", "sine", "--n-timesteps", "300", "--model", "lstm", "--lr", "0.01",
        "--set", "epochs=1", "--set", "hidden_size=4", "--set", "lags=5", "--lags", "5",
        "--out", str(out),
    )  # fmt: skip
    kwargs = json.loads((out / "metrics.json").read_text())["config"]["model_kwargs"]
    assert kwargs["lr"] == 0.01 and "leak_rate" not in kwargs


def test_series_cli_old_sr_flag_still_sets_the_spectral_radius(tmp_path: Path) -> None:
    out = tmp_path / "sine"
    text = _invoke(
        "evaluate", "--data", "sine", "--n-timesteps", "400", "--units", "20", "--sr", "0.7",
        "--warmup", "20", "--lags", "5", "--out", str(out),
    )  # fmt: skip
    assert "--sr is deprecated; use --spectral-radius" in text
    kwargs = json.loads((out / "metrics.json").read_text())["config"]["model_kwargs"]
    assert kwargs["spectral_radius"] == 0.7 and "sr" not in kwargs
    bad = CliRunner().invoke(
        series, ["evaluate", "--data", "sine", "--sr", "0.7", "--spectral-radius", "0.9"]
    )
    assert bad.exit_code != 0 and "give only --spectral-radius" in bad.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "units=abc"], "units=abc: expected an integer (int), got 'abc'"),
        (["--set", "units=3.5"], "units=3.5: expected an integer"),
        (["--set", "ridge=inf"], "ridge=inf: expected a finite number"),
        (["--set", "colour=red"], "unknown setting 'colour'"),
        (["--model", "lstm", "--set", "hidden_size=x"], "hidden_size=x: expected an integer"),
        (["--model", "lstm", "--set", "lr=nan"], "lr=nan: expected a finite number"),
    ],
)
def test_series_cli_set_values_are_typed(args, message):
    result = CliRunner().invoke(series, ["evaluate", "--data", "sine", *args])
    assert result.exit_code == 2 and message in result.output, result.output
    assert "Traceback" not in result.output


def test_series_cli_set_classifier_keys_and_device_default():
    result = CliRunner().invoke(
        series, ["classify", "--set", "readout_state=mean", "--set", "n_points=x"]
    )
    assert result.exit_code == 2 and "n_points=x: expected an integer" in result.output
    help_text = CliRunner().invoke(series, ["classify", "--help"]).output
    assert "[default: auto]" in " ".join(help_text.split())
