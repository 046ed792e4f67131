"""Echo state networks: reservoir construction, ridge readout, running, generation, I/O."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse

import seqlab.models.esn.linalg as esn_linalg
from seqlab.models.esn import (
    ESN,
    ESNClassifier,
    Reservoir,
    embed_tokens,
    ridge_solve,
    spectral_radius,
)
from seqlab.series.data import sine_mixture
from seqlab.series.forecast import nrmse


def _sine(n: int = 800) -> np.ndarray:
    return sine_mixture(n, periods=(20.0, 31.4))


@pytest.mark.parametrize(
    "units,radius,dense_max", [(50, 0.9, 1000), (200, 1.25, 1000), (300, 0.8, 100)]
)
def test_models_esn_spectral_radius_is_exact(
    monkeypatch: pytest.MonkeyPatch, units: int, radius: float, dense_max: int
) -> None:
    # dense_max=100 sends a 300-unit reservoir down the large-reservoir path (sparse W, ARPACK)
    monkeypatch.setattr(esn_linalg, "DENSE_MAX_UNITS", dense_max)
    res = Reservoir(units=units, spectral_radius=radius, rc_connectivity=0.05, seed=4).build(
        input_dim=1
    )
    assert scipy.sparse.issparse(res.W) == (units > dense_max)
    w = res.W.toarray() if scipy.sparse.issparse(res.W) else res.W
    measured = np.max(np.abs(np.linalg.eigvals(w)))
    assert measured == pytest.approx(radius, rel=1e-9)
    assert res.spectral_radius_ == pytest.approx(radius, rel=1e-9)
    assert np.count_nonzero(w) == round(0.05 * units * units)


def test_models_esn_spectral_radius_function_on_sparse_matrix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(esn_linalg, "DENSE_MAX_UNITS", 50)
    for seed in range(3):
        rng = np.random.default_rng(seed)
        dense = rng.normal(size=(400, 400)) * (rng.random((400, 400)) < 0.05)
        expected = np.max(np.abs(np.linalg.eigvals(dense)))
        assert spectral_radius(scipy.sparse.csr_array(dense)) == pytest.approx(expected, rel=1e-9)


def test_models_esn_same_seed_same_matrices_and_outputs() -> None:
    u = _sine(300)
    kw = dict(units=40, spectral_radius=0.9, leak_rate=0.5, bias_scaling=0.2)
    a = ESN(**kw, seed=7).fit(u[:-1], u[1:], warmup=20)
    b = ESN(**kw, seed=7).fit(u[:-1], u[1:], warmup=20)
    c = ESN(**kw, seed=8).fit(u[:-1], u[1:], warmup=20)
    np.testing.assert_array_equal(a.reservoir.W, b.reservoir.W)
    np.testing.assert_array_equal(a.reservoir.W_in, b.reservoir.W_in)
    np.testing.assert_array_equal(a.W_out, b.W_out)
    assert not np.array_equal(a.reservoir.W, c.reservoir.W)
    # W does not depend on the input size: generators are split per matrix
    r1 = Reservoir(units=30, seed=5).build(1)
    r3 = Reservoir(units=30, seed=5).build(3)
    np.testing.assert_array_equal(r1.W, r3.W)


def test_models_esn_input_matrix_connectivity_and_scaling() -> None:
    res = Reservoir(units=100, input_connectivity=0.1, input_scaling=[0.5, 2.0], seed=0).build(2)
    nz = res.W_in[res.W_in != 0]
    assert len(nz) == 20
    assert set(np.abs(res.W_in[:, 0][res.W_in[:, 0] != 0])) <= {0.5}
    assert set(np.abs(res.W_in[:, 1][res.W_in[:, 1] != 0])) <= {2.0}
    assert not np.any(res.bias)  # bias_scaling=0 means no bias, like reservoirpy


def test_models_esn_update_equation_matches_docstring() -> None:
    res = Reservoir(
        units=12,
        spectral_radius=0.8,
        leak_rate=0.3,
        bias_scaling=0.5,
        input_connectivity=1.0,
        seed=1,
    )
    u = np.random.default_rng(0).normal(size=(6, 2))
    states = res.states(u)
    x = np.zeros(12)
    for t in range(6):
        x = 0.7 * x + 0.3 * np.tanh(res.W_in @ u[t] + res.W @ x + res.bias)
        np.testing.assert_allclose(states[t], x, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("ridge", [0.0, 1e-3, 1.0])
def test_models_esn_ridge_readout_equals_lstsq(ridge: float) -> None:
    u = np.random.default_rng(1).normal(size=(400, 2))
    y = np.c_[np.sin(u[:, 0]), u[:, 1] ** 2]
    esn = ESN(units=30, spectral_radius=0.9, leak_rate=0.6, ridge=ridge, seed=0).fit(
        u, y, warmup=25
    )
    _, states = esn.run(u, reset=True, return_states=True)
    phi = np.c_[np.ones(375), states[25:]]
    # ridge as an augmented least-squares problem; the bias column is not penalised
    penalty = np.sqrt(ridge) * np.eye(31)[1:]
    a = np.vstack([phi, penalty])
    b = np.vstack([y[25:], np.zeros((30, 2))])
    expected = np.linalg.lstsq(a, b, rcond=None)[0].T
    # the fitted values are unique even when ridge=0 leaves W_out non-unique (units that no
    # input reaches stay at 0), so compare those always and the weights when ridge > 0
    np.testing.assert_allclose(phi @ esn.W_out.T, phi @ expected.T, rtol=1e-6, atol=1e-8)
    if ridge > 0:
        np.testing.assert_allclose(esn.W_out, expected, rtol=1e-5, atol=1e-7)


def test_models_esn_ridge_solve_small_exact() -> None:
    phi = np.c_[np.ones(5), np.arange(5.0)]
    w = ridge_solve(phi, (3 + 2 * np.arange(5.0))[:, None], 0.0)
    np.testing.assert_allclose(w, [[3.0, 2.0]], atol=1e-10)


def test_models_esn_sine_forecast_beats_persistence() -> None:
    u = _sine(1000)
    x, y = u[:-1], u[1:]
    esn = ESN(units=60, spectral_radius=0.9, leak_rate=0.5, ridge=1e-8, seed=0).fit(
        x[:700], y[:700], warmup=50
    )
    pred = esn.run(x[700:])  # continues from the training state
    assert nrmse(y[700:], pred) < 0.01
    assert nrmse(y[700:], pred) < 0.2 * nrmse(y[700:], x[700:])


def test_models_esn_generate_closed_loop_follows_sine() -> None:
    u = _sine(1200)
    esn = ESN(units=100, spectral_radius=0.95, leak_rate=0.5, ridge=1e-9, seed=0).fit(
        u[:999], u[1:1000], warmup=100
    )
    gen = esn.generate(50, warmup_inputs=u[:1000])
    assert gen.shape == (50, 1)
    assert nrmse(u[1000:1050], gen) < 0.1
    # continuing without warm-up inputs starts where the last fit/run stopped
    esn.run(u[:1000], reset=True)
    np.testing.assert_allclose(esn.generate(50), gen, rtol=1e-10)


def test_models_esn_variable_length_shapes_and_masking() -> None:
    rng = np.random.default_rng(0)
    seqs = [rng.normal(size=(n, 3)) for n in (5, 9, 2)]
    targets = [s[:, :2] * 2 for s in seqs]
    esn = ESN(units=20, seed=0).fit(seqs, targets)
    out = esn.run(seqs, reset=True)
    assert [o.shape for o in out] == [(5, 2), (9, 2), (2, 2)]
    # padded batch + lengths gives the same numbers, zeros past each length
    padded = np.zeros((3, 9, 3))
    for i, s in enumerate(seqs):
        padded[i, : len(s)] = s
    batch = esn.run(padded, lengths=[5, 9, 2], reset=True)
    assert batch.shape == (3, 9, 2)
    for i, o in enumerate(out):
        np.testing.assert_allclose(batch[i, : len(o)], o, rtol=1e-12)
        assert not np.any(batch[i, len(o) :])
    # each sequence alone gives the same outputs as inside the batch (padding is inert)
    np.testing.assert_allclose(esn.run(seqs[2], reset=True), out[2], rtol=1e-12)
    # fit with a padded batch equals fit with the list
    esn2 = ESN(units=20, seed=0)
    padded_y = np.zeros((3, 9, 2))
    for i, t in enumerate(targets):
        padded_y[i, : len(t)] = t
    esn2.fit(padded, padded_y, lengths=[5, 9, 2])
    np.testing.assert_allclose(esn2.W_out, esn.W_out, rtol=1e-8, atol=1e-10)


def test_models_esn_errors_name_the_problem() -> None:
    u = _sine(200)
    esn = ESN(units=10, seed=0)
    with pytest.raises(ValueError, match="not fitted"):
        esn.run(u)
    with pytest.raises(ValueError, match="warmup=300"):
        esn.fit(u[:-1], u[1:], warmup=300)
    esn.fit(u[:-1], u[1:])
    with pytest.raises(ValueError, match="3 features per timestep but the model was built for 1"):
        esn.run(np.zeros((10, 3)), reset=True)
    with pytest.raises(ValueError, match=r"shape \(2, 3, 4, 5\)"):
        esn.run(np.zeros((2, 3, 4, 5)))
    with pytest.raises(ValueError, match="lengths has 1 entries"):
        esn.run(np.zeros((2, 4, 1)), lengths=[3], reset=True)
    with pytest.raises(ValueError, match="reset=True"):
        esn.run(np.zeros((2, 4, 1)))  # state of 1 sequence, batch of 2
    with pytest.raises(ValueError, match="same sequences"):
        ESN(units=10).fit(u[:50], u[:40])
    with pytest.raises(ValueError, match="leak_rate must be in"):
        ESN(leak_rate=0.0)
    with pytest.raises(ValueError, match="units"):
        ESN(units=0)
    with pytest.raises(ValueError, match="NaN"):
        esn.run(np.full((5, 1), np.nan), reset=True)
    two_out = ESN(units=10).fit(np.zeros((30, 1)), np.zeros((30, 2)))
    with pytest.raises(ValueError, match="one-step-ahead"):
        two_out.generate(5, warmup_inputs=np.zeros((10, 1)))


def test_models_esn_rls_matches_ridge() -> None:
    u = _sine(500)
    ridge = ESN(units=30, spectral_radius=0.9, leak_rate=0.5, ridge=1e-4, seed=0).fit(
        u[:-1], u[1:], warmup=20
    )
    rls = ESN(units=30, spectral_radius=0.9, leak_rate=0.5, ridge=1e-4, readout="rls", seed=0)
    rls.fit(u[:-1], u[1:], warmup=20)
    p_ridge, states = ridge.run(u[:-1], reset=True, return_states=True)
    p_rls = rls.run(u[:-1], reset=True)
    # RLS from P = I / ridge is ridge regression that also penalises the bias, exactly
    phi = np.c_[np.ones(479), states[20:]]
    closed = np.linalg.solve(phi.T @ phi + 1e-4 * np.eye(31), phi.T @ u[1:][20:]).T
    np.testing.assert_allclose(rls.W_out, closed, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(p_rls, p_ridge, atol=1e-6)
    # online: ridge on the first half, RLS updates on the second = ridge on all of it
    online = ESN(units=30, spectral_radius=0.9, leak_rate=0.5, ridge=1e-4, seed=0)
    online.fit(u[:250], u[1:251], warmup=20).partial_fit(u[250:-1], u[251:])
    full = ESN(units=30, spectral_radius=0.9, leak_rate=0.5, ridge=1e-4, seed=0).fit(
        u[:-1], u[1:], warmup=20
    )
    np.testing.assert_allclose(
        online.run(u[:-1], reset=True), full.run(u[:-1], reset=True), atol=1e-6
    )


def test_models_esn_save_load_round_trip(tmp_path) -> None:
    u = _sine(300)
    esn = ESN(
        units=25,
        spectral_radius=1.1,
        leak_rate=0.4,
        bias_scaling=0.3,
        input_to_readout=True,
        seed=2,
    )
    esn.fit(u[:-1], u[1:], warmup=10)
    esn.save(tmp_path / "esn")
    assert sorted(p.name for p in (tmp_path / "esn").iterdir() if not p.name.startswith(".")) == [
        "config.json",
        "model.safetensors",
    ]
    back = ESN.load(tmp_path / "esn")
    assert back.config == esn.config
    np.testing.assert_array_equal(back.run(u, reset=True), esn.run(u, reset=True))
    np.testing.assert_array_equal(back.generate(10, u[:100]), esn.generate(10, u[:100]))
    big = ESN(units=1100, rc_connectivity=0.002, seed=0).fit(u[:50], u[1:51])
    big.save(tmp_path / "big")
    np.testing.assert_array_equal(
        ESN.load(tmp_path / "big").run(u[:20], reset=True), big.run(u[:20], reset=True)
    )
    with pytest.raises(FileNotFoundError, match="config.json"):
        ESN.load(tmp_path / "missing")
    with pytest.raises(ValueError, match="ESNClassifier"):
        ESNClassifier.load(tmp_path / "esn")


def _toy_classes(n: int = 60, seed: int = 0) -> tuple[list[np.ndarray], list[str]]:
    rng = np.random.default_rng(seed)
    seqs, labels = [], []
    for i in range(n):
        length = int(rng.integers(6, 20))
        t = np.arange(length)
        freq = 0.3 if i % 2 else 0.8
        seqs.append(np.c_[np.sin(freq * t), np.cos(freq * t)] + rng.normal(0, 0.1, (length, 2)))
        labels.append("slow" if i % 2 else "fast")
    return seqs, labels


@pytest.mark.parametrize("state", ["last", "mean", "mean+last", "concat"])
def test_models_esn_classifier_learns_toy_task(state: str) -> None:
    seqs, labels = _toy_classes()
    clf = ESNClassifier(units=60, readout_state=state, bidirectional=True, seed=0)
    clf.fit(seqs[:40], labels[:40])
    assert clf.classes_ == ["fast", "slow"]
    assert clf.score(seqs[40:], labels[40:]) >= 0.9
    width = {"last": 1, "mean": 1, "mean+last": 2, "concat": 5}[state] * 60 * 2
    assert clf.features(seqs[:3]).shape == (3, width)


def test_models_esn_classifier_padded_equals_list_and_round_trip(tmp_path) -> None:
    seqs, labels = _toy_classes(30)
    clf = ESNClassifier(units=40, seed=1).fit(seqs, labels)
    lens = [len(s) for s in seqs]
    padded = np.zeros((30, max(lens), 2))
    for i, s in enumerate(seqs):
        padded[i, : len(s)] = s
    np.testing.assert_allclose(
        clf.decision_function(padded, lengths=lens), clf.decision_function(seqs), rtol=1e-10
    )
    clf.save(tmp_path / "clf")
    back = ESNClassifier.load(tmp_path / "clf")
    assert back.classes_ == clf.classes_
    np.testing.assert_array_equal(back.predict(seqs), clf.predict(seqs))
    with pytest.raises(ValueError, match="one label per sequence"):
        ESNClassifier(units=10).fit(seqs, labels[:-1])


def test_models_esn_embed_tokens_for_text() -> None:
    emb = np.random.default_rng(0).normal(size=(10, 4))
    x, lens = embed_tokens(np.array([[2, 3, 0, 0], [4, 5, 6, 7]]), emb)
    assert x.shape == (2, 4, 4) and lens.tolist() == [2, 4]
    np.testing.assert_array_equal(x[0, 1], emb[3])
    assert not np.any(x[0, 2:])
    x2, lens2 = embed_tokens([[2, 3], [4, 5, 6, 7]], emb)
    np.testing.assert_array_equal(x, x2)
    # a reservoir on word vectors separates two "topics"
    docs = [[2, 3, 2, 3, 2]] * 10 + [[6, 7, 6, 7]] * 10
    xs, ls = embed_tokens(docs, emb)
    clf = ESNClassifier(units=30, seed=0).fit(xs, [0] * 10 + [1] * 10, lengths=ls)
    assert clf.score(xs, [0] * 10 + [1] * 10, lengths=ls) == 1.0
    with pytest.raises(ValueError, match=r"token ids must lie in \[0, 9\]"):
        embed_tokens([[1, 12]], emb)
    with pytest.raises(ValueError, match="no tokens"):
        embed_tokens(np.array([[0, 0], [1, 2]]), emb)


@pytest.mark.parametrize("cls", [Reservoir, ESN, ESNClassifier])
def test_models_esn_old_names_lr_sr_warn_and_mean_the_same(cls: type) -> None:
    new = cls(units=20, spectral_radius=0.7, leak_rate=0.4, seed=3)
    with pytest.warns(DeprecationWarning, match=r"lr=\.\.\.\) is deprecated; use leak_rate="):
        with pytest.warns(DeprecationWarning, match="use spectral_radius="):
            old = cls(units=20, sr=0.7, lr=0.4, seed=3)
    assert old.config == new.config
    assert old.config["leak_rate"] == 0.4 and old.config["spectral_radius"] == 0.7
    assert "lr" not in old.config and "sr" not in old.config
    with pytest.raises(TypeError, match="both lr=0.4 and leak_rate; .*pass only leak_rate"):
        cls(units=20, lr=0.4, leak_rate=0.4)
    # the new name given positionally (units, spectral_radius, ...) also clashes
    with pytest.raises(TypeError, match="both sr=0.5 and spectral_radius"):
        cls(20, 0.9, sr=0.5)


@pytest.mark.parametrize("cls", [ESN, ESNClassifier])
def test_models_esn_reservoir_options_are_spelled_out_with_the_models_defaults(cls) -> None:
    """ESN and ESNClassifier take the reservoir's arguments as keyword options; the signature
    lists them with each model's defaults, and the config records them first."""
    import inspect

    params = inspect.signature(cls).parameters
    assert list(params)[:2] == ["units", "spectral_radius"]
    assert not any(p.kind is p.VAR_KEYWORD for p in params.values())
    model = cls()
    for name in ("leak_rate", "input_scaling", "bias_scaling", "input_connectivity", "seed"):
        assert params[name].kind is inspect.Parameter.KEYWORD_ONLY
        assert params[name].default == model.config[name]
    assert list(model.config)[:2] == ["units", "spectral_radius"]
    assert (model.config["units"], model.config["leak_rate"]) == (
        (100, 1.0) if cls is ESN else (500, 0.3)
    )
    with pytest.raises(TypeError, match=rf"{cls.__name__}.__init__\(\) got an unexpected keyword"):
        cls(units=5, leak=0.3)


def test_models_esn_attributes_use_the_new_names() -> None:
    res = Reservoir(units=10, spectral_radius=0.8, leak_rate=0.2, seed=0).build(1)
    assert (res.spectral_radius, res.leak_rate) == (0.8, 0.2)
    assert res.spectral_radius_ == pytest.approx(0.8, rel=1e-9)
    with pytest.raises(ValueError, match="spectral_radius must be >= 0, got -1"):
        Reservoir(spectral_radius=-1)


@pytest.mark.parametrize("cls", [ESN, ESNClassifier])
def test_models_esn_config_saved_with_lr_sr_still_loads(tmp_path, cls: type) -> None:
    import json
    import warnings

    rng = np.random.default_rng(0)
    seqs = [rng.normal(size=(12, 1)) + (i % 2) for i in range(10)]
    model = cls(units=15, spectral_radius=0.8, leak_rate=0.3, seed=1)
    if cls is ESN:
        model.fit(seqs, seqs)
    else:
        model.fit(seqs, [i % 2 for i in range(10)])
    folder = model.save(tmp_path / "m")
    meta = json.loads((folder / "config.json").read_text())
    assert meta["config"]["leak_rate"] == 0.3 and "lr" not in meta["config"]
    # a file written before the rename
    cfg = meta["config"]
    cfg["lr"], cfg["sr"] = cfg.pop("leak_rate"), cfg.pop("spectral_radius")
    (folder / "config.json").write_text(json.dumps(meta))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # loading an old file is not the caller's deprecation
        back = cls.load(folder)
    assert back.config == model.config
    np.testing.assert_array_equal(back.W_out, model.W_out)
