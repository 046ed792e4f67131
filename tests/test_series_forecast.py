"""Forecasting setup: lags, chronological splits, train-only scaling, metrics, baselines, evaluation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from seqlab.series.data import SequenceDataset, mackey_glass, sine_mixture
from seqlab.series.experiments import evaluate_classifier, stratified_split
from seqlab.series.forecast import (
    LinearAR,
    Persistence,
    StandardScaler,
    evaluate_forecast,
    make_lags,
    nrmse,
    r2_score,
    register_forecaster,
    rmse,
    split_by_time,
    tune_forecaster,
)


def test_series_make_lags_layout_and_errors() -> None:
    s = np.c_[np.arange(5.0), 10 + np.arange(5.0)]
    X, y = make_lags(s, lags=2, horizon=2)
    # t = 1: [s[1], s[0]] -> s[3]; t = 2: [s[2], s[1]] -> s[4]
    assert X.tolist() == [[1, 11, 0, 10], [2, 12, 1, 11]]
    assert y.tolist() == [[3, 13], [4, 14]]
    with pytest.raises(ValueError, match="too short for lags=4 and horizon=2"):
        make_lags(np.arange(5.0), lags=4, horizon=2)


def test_series_split_by_time_is_chronological() -> None:
    sp = split_by_time(1000, val=0.1, test=0.2)
    assert (sp.train, sp.val, sp.test) == (slice(0, 700), slice(700, 800), slice(800, 1000))
    assert split_by_time(100, val=5, test=10).val_end == 90
    # a step belongs to the part of its target: with horizon 3 the last train step is 696
    assert sp.steps("train", 3) == slice(0, 697)
    assert sp.steps("test", 3) == slice(797, 997)
    with pytest.raises(ValueError, match="leave 0 training steps"):
        split_by_time(10, val=0.5, test=0.5)
    with pytest.raises(ValueError, match="test must be a fraction"):
        split_by_time(10, test=1.5)


def test_series_scaler_is_fitted_on_train_only() -> None:
    s = np.r_[np.zeros(70), np.full(30, 100.0)] + np.tile([1.0, -1.0], 50)
    rep = evaluate_forecast(s, "persistence", val=0.1, test=0.2, baselines=False)
    sc = StandardScaler().fit(s[:70, None])
    assert sc.mean_[0] == pytest.approx(0.0) and sc.scale_[0] == pytest.approx(1.0)
    # persistence is scale-free, so its numbers must be those of the raw series
    truth = s[81:100]
    np.testing.assert_allclose(rep.truth["test"][1:, 0], truth)
    assert rep.metrics["persistence"]["test"]["rmse"] == pytest.approx(rmse(s[80:], s[79:-1]))


def test_series_metrics_definitions() -> None:
    t = np.array([1.0, 2.0, 3.0, 4.0])
    p = np.array([1.5, 2.0, 2.5, 4.0])
    assert rmse(t, p) == pytest.approx(np.sqrt(0.5 / 4))
    assert nrmse(t, p) == pytest.approx(np.sqrt(0.5 / 4) / np.std(t))
    assert r2_score(t, p) == pytest.approx(1 - 0.5 / 5.0)
    assert nrmse(t, np.full(4, t.mean())) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="must match"):
        rmse(t, p[:3])


def test_series_linear_ar_recovers_an_ar_process() -> None:
    rng = np.random.default_rng(0)
    x = np.zeros(3000)
    for t in range(2, 3000):
        x[t] = 0.6 * x[t - 1] - 0.3 * x[t - 2] + 0.1 * rng.normal()
    ar = LinearAR(lags=2, ridge=0.0).fit(x[:-1, None], x[1:, None])
    np.testing.assert_allclose(ar.coef_[0, 1:], [0.6, -0.3], atol=0.05)
    with pytest.raises(ValueError, match="too few for lags=50"):
        LinearAR(lags=50).fit(x[:30, None], x[1:31, None])


def test_series_esn_beats_both_baselines_on_mackey_glass_10_steps_ahead() -> None:
    kwargs = {
        "units": 100,
        "spectral_radius": 0.9,
        "leak_rate": 0.5,
        "ridge": 1e-8,
        "input_scaling": 0.3,
        "input_connectivity": 1.0,
        "warmup": 100,
        "seed": 0,
    }
    rep = evaluate_forecast(mackey_glass(1500), "esn", kwargs, horizon=10, lags=[1, 5, 10, 20])
    for part in ("val", "test"):
        esn = rep.metrics["esn"][part]["nrmse"]
        assert esn < 0.2 * rep.metrics["linear-ar"][part]["nrmse"]
        assert esn < 0.05 * rep.metrics["persistence"][part]["nrmse"]
    assert rep.config["ar_lags"] in (1, 5, 10, 20)
    assert "esn" in rep.table() and rep.to_dict()["split"]["train_end"] == 1050


def test_series_esn_beats_baselines_on_laser(shared_data: Path) -> None:
    from seqlab.series.data import santafe_laser

    kwargs = {
        "units": 100,
        "spectral_radius": 0.9,
        "input_scaling": 0.5,
        "bias_scaling": 0.1,
        "input_connectivity": 1.0,
        "warmup": 100,
    }
    laser = santafe_laser(shared_data).values[:3000]
    rep = evaluate_forecast(laser, "esn", kwargs, lags=[10, 20, 50])
    esn = rep.metrics["esn"]["test"]["nrmse"]
    assert esn < 0.5 * rep.metrics["linear-ar"]["test"]["nrmse"]
    assert esn < 0.2 * rep.metrics["persistence"]["test"]["nrmse"]


class _Spy:
    """A forecaster that remembers how much of the series it was shown."""

    seen: list[tuple[str, int]] = []

    def __init__(self, tag: str = "spy") -> None:
        self.tag = tag

    def fit(self, inputs: np.ndarray, targets: np.ndarray) -> _Spy:
        _Spy.seen.append(("fit", len(inputs)))
        return self

    def predict(self, inputs: np.ndarray) -> np.ndarray:
        _Spy.seen.append(("predict", len(inputs)))
        return inputs


def test_series_any_forecaster_plugs_in_and_test_is_untouched_by_tuning() -> None:
    s = sine_mixture(200)
    _Spy.seen = []
    best, rows = tune_forecaster(s, _Spy, {"tag": ["a", "b"]})
    assert len(rows) == 2 and best["tag"] in ("a", "b")
    # train targets end at step 140, validation at 160: nothing past it is ever read
    assert max(n for _, n in _Spy.seen) == 159
    register_forecaster("spy", _Spy)
    _Spy.seen = []
    rep = evaluate_forecast(s, "spy", baselines=False)
    assert ("fit", 139) in _Spy.seen and ("fit", 159) in _Spy.seen  # refit on train + val
    assert rep.metrics["spy"]["test"] == pytest.approx(
        evaluate_forecast(s, Persistence, baselines=False).metrics["Persistence"]["test"]
    )
    with pytest.raises(TypeError, match="no fit/predict"):
        evaluate_forecast(s, lambda: object())
    with pytest.raises(ValueError, match="unknown forecaster 'nope'"):
        evaluate_forecast(s, "nope")


def test_series_evaluate_rejects_short_or_bad_series() -> None:
    with pytest.raises(ValueError, match="leave 1 training steps"):
        evaluate_forecast(np.arange(5.0), "persistence", val=2, test=2)
    with pytest.raises(ValueError, match="horizon=5 leaves no training pairs"):
        evaluate_forecast(np.arange(20.0), "persistence", horizon=5, val=0.3, test=0.4)
    with pytest.raises(ValueError, match=r"shape \(2, 3, 4\)"):
        evaluate_forecast(np.zeros((2, 3, 4)), "persistence")
    with pytest.raises(ValueError, match="NaN"):
        evaluate_forecast(np.array([1.0, np.nan, 2.0] * 10), "persistence")


def test_series_classifier_evaluation_protocol() -> None:
    tr, va = stratified_split([0] * 10 + [1] * 20, 0.2, seed=0)
    assert len(va) == 6 and len(set(tr) & set(va)) == 0
    assert np.bincount(np.array([0] * 10 + [1] * 20)[va]).tolist() == [2, 4]
    rng = np.random.default_rng(0)
    seqs = [rng.normal(size=(int(rng.integers(5, 12)), 2)) + 2 * (i % 3) for i in range(60)]
    ds = SequenceDataset(seqs, [i % 3 for i in range(60)], ["a", "b", "c"])
    rep = evaluate_classifier(
        ds.subset(range(45)),
        ds.subset(range(45, 60)),
        "esn",
        {"units": 30},
        grid={"ridge": [1e-2, 10.0]},
    )
    assert rep.test_accuracy == 1.0
    assert rep.confusion.sum() == 15 and np.trace(rep.confusion) == 15
    assert {r["kwargs"]["ridge"] for r in rep.val_results} == {1e-2, 10.0}


def test_series_japanese_vowels_accuracy_floor(shared_data: Path) -> None:
    from seqlab.models.esn import ESNClassifier
    from seqlab.series.data import japanese_vowels

    train = japanese_vowels("train", shared_data)
    test = japanese_vowels("test", shared_data)
    clf = ESNClassifier(units=300, seed=0).fit(train.sequences, train.labels)
    assert clf.score(test.sequences, test.labels) >= 0.97
