"""The IMDB ensemble benchmark's choice between ensembles: out-of-fold accuracy on the
validation reviews (benchmarks/bench_imdb_ensemble.py's ``out_of_fold``)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
bench = pytest.importorskip("bench_imdb_ensemble")


def _members(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two members on ``n`` two-class items: a good one (right 90% of the time, confident)
    and a coin (0.5 / 0.5 everywhere)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    right = rng.random(n) < 0.9
    pred = np.where(right, y, 1 - y)
    good = np.full((n, 2), 0.1)
    good[np.arange(n), pred] = 0.9
    coin = np.full((n, 2), 0.5)
    return np.stack([good, coin]), y


def test_out_of_fold_scores_each_method_on_held_out_items() -> None:
    P, y = _members()
    cv = bench.out_of_fold(P, y, l2=1e-3, folds=5, seed=0)
    assert set(cv) == {"mean", "stack-weights", "stack-logistic"}
    good_accuracy = float((P[0].argmax(axis=1) == y).mean())
    # the mean is fitted on nothing: its out-of-fold score is its plain score; the coin
    # cannot change which class wins, so it is the good member's accuracy
    assert cv["mean"]["cv_accuracy"] == pytest.approx(good_accuracy)
    # the fitted weights give the coin (almost) nothing: the good member's accuracy again,
    # and a lower loss than the equal-weight mean, which the coin's 0.5 pulls towards
    assert cv["stack-weights"]["cv_accuracy"] == pytest.approx(good_accuracy)
    assert cv["stack-weights"]["cv_loss"] < cv["mean"]["cv_loss"]
    for row in cv.values():
        assert 0.0 <= row["cv_accuracy"] <= 1.0 and row["cv_loss"] > 0


def test_out_of_fold_is_seeded_and_not_fooled_by_noise() -> None:
    P, y = _members(seed=1)
    a = bench.out_of_fold(P, y, l2=1e-3, seed=3)
    b = bench.out_of_fold(P, y, l2=1e-3, seed=3)
    assert a == b
    # a logistic stacker that sees a label-leaking feature in-sample still has to predict
    # items it was not fitted on: with a member that is pure noise, out-of-fold accuracy
    # stays near chance
    rng = np.random.default_rng(0)
    noise = rng.dirichlet([1.0, 1.0], size=(2, len(y)))
    cv = bench.out_of_fold(noise, y, l2=1e-3, seed=0)
    assert cv["stack-logistic"]["cv_accuracy"] < 0.62
