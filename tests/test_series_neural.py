"""Neural networks (LSTM, GRU, TDNN, CNN) on numeric series: forecasting and classification."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from seqlab.cli.series import series
from seqlab.series import (
    evaluate_classifier,
    evaluate_forecast,
    forecasters,
    make_forecaster,
    sequence_classifiers,
    sine_mixture,
)
from seqlab.series.data import SequenceDataset
from seqlab.series.neural import NeuralForecaster, NeuralSequenceClassifier

TINY = {"hidden_size": 8, "lags": 12, "epochs": 4, "batch_size": 32}


pytestmark = pytest.mark.usefixtures("one_thread")


def _sine(n: int = 500) -> np.ndarray:
    return sine_mixture(n, periods=(11.0, 23.0), noise=0.02, seed=0)


def _updown(n: int, seed: int) -> SequenceDataset:
    """Two classes of 2-channel sequences of 4..20 steps: channel 0 rises (1) or falls (0).

    The per-step noise is larger than the per-step trend, so one step cannot tell the class:
    the network has to read the sequence.
    """
    rng = np.random.default_rng(seed)
    seqs, labels = [], []
    for i in range(n):
        label = i % 2
        t = int(rng.integers(4, 21))
        slope = (1.0 if label else -1.0) * rng.uniform(0.2, 0.4)
        ramp = slope * np.arange(t) + rng.normal(0.0, 0.3, t)
        seqs.append(np.stack([ramp + rng.normal(), rng.normal(size=t)], axis=1))
        labels.append(label)
    return SequenceDataset(seqs, np.array(labels), ["down", "up"])


# --------------------------------------------------------------------------------------
# Forecasting
# --------------------------------------------------------------------------------------


def test_series_neural_lstm_beats_persistence_on_a_sine() -> None:
    kwargs = {"hidden_size": 16, "lags": 16, "epochs": 10, "lr": 1e-2, "batch_size": 32, "seed": 0}
    rep = evaluate_forecast(_sine(300), "lstm", kwargs, lags=[5])
    for part in ("val", "test"):
        lstm = rep.metrics["lstm"][part]["nrmse"]
        assert lstm < 0.4 * rep.metrics["persistence"][part]["nrmse"], rep.table()
    assert rep.config["model_kwargs"]["seed"] == 0


def test_series_neural_same_seed_same_predictions_and_global_rng_untouched() -> None:
    u = _sine(300)
    state = torch.get_rng_state()
    a = NeuralForecaster("gru", seed=3, **TINY).fit(u[:-1], u[1:]).predict(u[:-1])
    assert torch.equal(torch.get_rng_state(), state)  # training forks the RNG
    b = NeuralForecaster("gru", seed=3, **TINY).fit(u[:-1], u[1:]).predict(u[:-1])
    c = NeuralForecaster("gru", seed=4, **TINY).fit(u[:-1], u[1:]).predict(u[:-1])
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)
    assert a.shape == (299, 1)


@pytest.mark.parametrize("model", ["lstm", "tdnn", "cnn", "rnn"])
def test_series_neural_every_network_forecasts_causally(model: str) -> None:
    u = _sine(200)
    fc = NeuralForecaster(model, **TINY).fit(u[:-1], u[1:])
    full = fc.predict(u[:-1])
    # a prediction uses only the inputs up to its step: truncating the future changes nothing
    np.testing.assert_allclose(fc.predict(u[:120])[:120], full[:120], rtol=1e-5, atol=1e-6)
    assert fc.history_[0]["epoch"] == 0 and "val_loss" in fc.history_[0]  # before training
    assert 0 <= fc.best_epoch_ <= fc.history_[-1]["epoch"] <= 4
    assert fc.config["model"] == model and fc.config["lags"] == 12


def test_series_neural_early_stopping_keeps_the_best_epoch() -> None:
    u = _sine(300)
    fc = NeuralForecaster(
        "lstm", hidden_size=8, lags=8, epochs=200, lr=0.03, patience=2, lr_decay=1.0, seed=0
    )
    fc.fit(u[:-1], u[1:])
    losses = [row["val_loss"] for row in fc.history_]
    assert len(losses) < 200  # stopped early
    assert fc.best_epoch_ == int(np.argmin(losses))  # row i is epoch i (0: untrained)
    assert len(fc.history_) - 1 - fc.best_epoch_ == 2  # patience epochs after the best


def test_series_neural_residual_highway_and_multivariate_inputs() -> None:
    u = np.concatenate([_sine(300), np.cos(np.arange(300) / 3.0)[:, None]], axis=1)
    fc = NeuralForecaster("lstm", residual=True, ar_lags=4, **TINY).fit(u[:-1], u[1:, :1])
    assert fc.predict(u[:-1]).shape == (299, 1)
    assert fc.network_.ar_weight.shape == (4 * 2, 1)  # the linear part reads 4 steps x 2
    with pytest.raises(ValueError, match="fitted on 2"):
        fc.predict(u[:, :1])


def test_series_neural_pool_reads_block_means_of_the_window() -> None:
    u = _sine(200)
    fc = NeuralForecaster("lstm", pool=4, **TINY).fit(u[:-1], u[1:])
    net = fc.network_
    # the network reads lags / pool = 3 steps, each the mean of 4 consecutive window steps
    window = torch.randn(5, 12, 1)
    lengths = torch.full((5,), 12)
    means = window.reshape(5, 3, 4, 1).mean(dim=2)  # newest block = the last 4 steps
    with torch.no_grad():
        got = net(values=window, lengths=lengths)
        want = net.network(values=means, lengths=torch.full((5,), 3))
    torch.testing.assert_close(got, want)
    np.testing.assert_allclose(fc.predict(u[:120])[:120], fc.predict(u[:-1])[:120], atol=1e-6)
    with pytest.raises(ValueError, match="lags=12 is not a multiple of pool=5.*use lags=10"):
        NeuralForecaster(lags=12, pool=5)


def test_series_neural_pooled_hybrid_starts_as_the_linear_model() -> None:
    u = _sine(300)
    kwargs = {**TINY, "ar_lags": 6, "pool": 3, "epochs": 1, "lr": 1e-9, "seed": 0}
    hybrid = NeuralForecaster("lstm", **kwargs).fit(u[:-1], u[1:])
    assert hybrid.network_.network.network.head.weight.abs().max() < 1e-6  # head starts at 0
    # with a negligible learning rate the hybrid predicts what its linear part predicts
    z = hybrid._padded(u[:-1])
    steps = torch.arange(len(u) - 1)
    with torch.no_grad():
        recent = hybrid._windows(z, steps)[:, -6:].flatten(1)
        linear = (recent @ hybrid.network_.ar_weight + hybrid.network_.ar_bias).double().numpy()
    linear = linear * hybrid.target_scale_ + hybrid.target_mean_
    np.testing.assert_allclose(hybrid.predict(u[:-1]), linear, atol=1e-4)


def test_series_neural_ensemble_is_the_mean_of_its_seeds() -> None:
    u = _sine(300)
    kwargs = {**TINY, "val_split": 0.0}
    both = NeuralForecaster("gru", seed=3, ensemble=2, **kwargs).fit(u[:-1], u[1:])
    one = NeuralForecaster("gru", seed=3, **kwargs).fit(u[:-1], u[1:]).predict(u[:-1])
    two = NeuralForecaster("gru", seed=4, **kwargs).fit(u[:-1], u[1:]).predict(u[:-1])
    np.testing.assert_allclose(both.predict(u[:-1]), (one + two) / 2, rtol=1e-5, atol=1e-6)
    assert len(both.networks_) == 2 and both.network_ is both.networks_[0]
    # val_split=0: nothing held out, exactly `epochs` epochs, the last one kept
    assert [row["epoch"] for row in both.history_] == [1, 2, 3, 4] and both.best_epoch_ == 4
    assert both.config["ensemble"] == 2
    with pytest.raises(ValueError, match="ensemble must be an integer >= 1, got 0"):
        NeuralForecaster(ensemble=0)


def test_series_neural_forecaster_errors_name_the_parameter() -> None:
    u = _sine(100)
    with pytest.raises(
        ValueError, match="model must be one of 'lstm', 'gru', 'rnn', 'tdnn', 'cnn'; got 'esn'"
    ):
        NeuralForecaster("esn")
    with pytest.raises(ValueError, match="hidden_size must be an integer >= 1, got 0"):
        NeuralForecaster(hidden_size=0)
    with pytest.raises(TypeError, match="epochs must be an integer"):
        NeuralForecaster(epochs=2.5)
    with pytest.raises(ValueError, match=r"lr must be in \(0.0, inf\), got -1"):
        NeuralForecaster(lr=-1.0)
    with pytest.raises(ValueError, match=r"lr_decay must be in \(0, 1\]"):
        NeuralForecaster(lr_decay=2.0)
    with pytest.raises(ValueError, match=r"unknown argument\(s\) \['units'\] for model 'lstm'"):
        NeuralForecaster("lstm", units=10)
    with pytest.raises(ValueError, match="ar_lags=9 exceeds lags=8"):
        NeuralForecaster(lags=8, ar_lags=9)
    with pytest.raises(ValueError, match=r"\['input_size'\] are set from the data"):
        NeuralForecaster("tdnn", input_size=3)
    with pytest.raises(ValueError, match="not fitted yet"):
        NeuralForecaster().predict(u)
    with pytest.raises(ValueError, match="too few for lags=150"):
        NeuralForecaster(lags=150).fit(u[:-1], u[1:])
    with pytest.raises(ValueError, match="one target per input step"):
        NeuralForecaster(**TINY).fit(u[:-1], u[2:])
    with pytest.raises(ValueError, match="residual=True"):
        NeuralForecaster(residual=True, **TINY).fit(u[:-1], np.hstack([u[1:], u[1:]]))
    with pytest.raises(ValueError, match="NaN"):
        NeuralForecaster(**TINY).fit(np.full((50, 1), np.nan), np.zeros((50, 1)))


def test_series_neural_models_are_registered_without_importing_torch_eagerly() -> None:
    for name in ("lstm", "gru", "tdnn", "cnn"):
        assert name in forecasters() and name in sequence_classifiers()
    fc = make_forecaster("tdnn", hidden_size=4, lags=16)
    assert isinstance(fc, NeuralForecaster) and fc.config["model"] == "tdnn"
    with pytest.raises(ValueError, match="model='gru' was passed to the 'lstm' forecaster"):
        make_forecaster("lstm", model="gru")
    code = "import sys, seqlab.series; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --------------------------------------------------------------------------------------
# Sequence classification
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["lstm", "tdnn"])
def test_series_neural_classifies_variable_length_sequences(model: str) -> None:
    train, test = _updown(200, seed=0), _updown(100, seed=1)
    extra = {"kernel_sizes": [3, 3], "dilations": [1, 2]} if model == "tdnn" else {}
    rep = evaluate_classifier(
        train, test, model, {"hidden_size": 16, "epochs": 40, "patience": 8, **extra}
    )
    assert rep.test_accuracy >= 0.9, rep.to_dict()
    assert rep.confusion.sum() == 100 and rep.model == model


def test_series_neural_classifier_labels_probabilities_and_scaling() -> None:
    ds = _updown(60, seed=2)
    names = np.array(ds.label_names)[ds.labels]  # string labels work too
    clf = NeuralSequenceClassifier("gru", hidden_size=8, epochs=3, seed=0)
    clf.fit(ds.sequences, names)
    assert clf.classes_ == ["down", "up"]
    proba = clf.predict_proba(ds.sequences[:5])
    assert proba.shape == (5, 2) and np.allclose(proba.sum(axis=1), 1.0)
    assert set(clf.predict(ds.sequences)) <= {"down", "up"}
    # channels are standardised with the statistics of the training sequences
    np.testing.assert_allclose(clf.channel_mean_, np.concatenate(ds.sequences).mean(axis=0))
    again = NeuralSequenceClassifier("gru", hidden_size=8, epochs=3, seed=0)
    np.testing.assert_array_equal(
        again.fit(ds.sequences, names).predict_proba(ds.sequences), clf.predict_proba(ds.sequences)
    )


def test_series_neural_classifier_errors() -> None:
    ds = _updown(20, seed=3)
    clf = NeuralSequenceClassifier(hidden_size=4, epochs=1)
    with pytest.raises(ValueError, match="at least 2 classes"):
        clf.fit(ds.sequences, [0] * 20)
    with pytest.raises(ValueError, match="one label per sequence"):
        clf.fit(ds.sequences, [0, 1])
    with pytest.raises(ValueError, match=r"sequences\[1\] has 3 features but sequences\[0\] has 2"):
        clf.fit([np.zeros((4, 2)), np.zeros((4, 3))], [0, 1])
    with pytest.raises(TypeError, match="list of \\(time, features\\) arrays"):
        clf.fit("abc", [0, 1, 0])
    with pytest.raises(ValueError, match="not fitted yet"):
        clf.predict(ds.sequences)
    with pytest.raises(ValueError, match=r"val_split must be in \[0.0, 1.0\)"):
        NeuralSequenceClassifier(val_split=1.0)
    # the old names still work, with a warning that names the new one
    with pytest.warns(DeprecationWarning) as caught:
        old = NeuralSequenceClassifier(val_fraction=0.3, grad_clip=2.0)
    assert sorted(str(w.message).split(")")[0] for w in caught) == [
        "NeuralSequenceClassifier(grad_clip=...",
        "NeuralSequenceClassifier(val_fraction=...",
    ]
    assert (old.val_split, old.clip_grad_norm) == (0.3, 2.0)
    assert "val_fraction" not in old.model_kwargs and "grad_clip" not in old.model_kwargs


# --------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------


def test_series_neural_cli_evaluate_lstm(tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = CliRunner().invoke(
        series,
        ["evaluate", "--data", "sine", "--n-timesteps", "300", "--model", "lstm",
         "--set", "epochs=2", "--set", "hidden_size=4", "--set", "lags=8", "--lags", "5",
         "--seed", "7", "--device", "cpu", "--out", str(out)],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    for name in ("lstm", "persistence", "linear-ar"):
        assert f"\n{name} " in result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["config"]["model_kwargs"] == {
        "seed": 7, "device": "cpu", "epochs": 2, "hidden_size": 4, "lags": 8,
    }  # fmt: skip
    assert (out / "forecast.png").is_file()


def test_series_neural_cli_errors() -> None:
    bad = CliRunner().invoke(
        series, ["evaluate", "--data", "sine", "--model", "lstm", "--units", "5"]
    )
    assert bad.exit_code != 0 and "ESN options" in bad.output
    bad = CliRunner().invoke(series, ["evaluate", "--data", "sine", "--device", "cpu"])
    assert bad.exit_code != 0 and "--device applies to the neural models" in bad.output
    bad = CliRunner().invoke(
        series, ["evaluate", "--data", "sine", "--model", "lstm", "--set", "lags=0"]
    )
    assert bad.exit_code != 0 and "lags must be an integer >= 1, got 0" in bad.output
    bad = CliRunner().invoke(
        series, ["evaluate", "--data", "sine", "--model", "lstm", "--set", "units=3"]
    )
    assert bad.exit_code != 0 and "unknown argument(s) ['units'] for model 'lstm'" in bad.output


@pytest.mark.parametrize("model", ["lstm", "tdnn"])
def test_series_neural_cli_classify_japanese_vowels(
    model: str, shared_data: Path, tmp_path: Path
) -> None:
    result = CliRunner().invoke(
        series,
        ["classify", "--data", "japanese-vowels", "--data-dir", str(shared_data),
         "--model", model, "--set", "epochs=2", "--set", "hidden_size=8",
         "--out", str(tmp_path)],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "270 train / 370 test sequences" in result.output
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["model"] == model and len(metrics["confusion"]) == 9
    assert metrics["test_accuracy"] > 1 / 9  # two epochs already beat chance
