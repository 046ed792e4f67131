"""Ensembles of trained runs (seqlab.ensemble, `seqlab classify ensemble`): the combined
probabilities, the validation-only fit, the run folder and every command that reads it."""

from __future__ import annotations

import hashlib
import json
import re
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

import seqlab
from _toy_reviews import toy_reviews
from seqlab import _stacking
from seqlab.cli.main import cli
from seqlab.data.batching import stratified_split
from seqlab.ensemble import Ensemble, build_ensemble
from seqlab.runs import Run
from seqlab.training.classify import train_classifier

pytestmark = pytest.mark.usefixtures("one_thread")

TEXTS = ["the film was superb and great", "an awful boring plot", "the cast"]
COMMON = {"epochs": 3, "batch_size": 8, "lr": 0.05, "val_split": 0.25, "seed": 0}
COMMON.update(device="cpu", progress=False)


def _table(path, dataset) -> None:
    rows = "".join(
        f"{t}\t{dataset.label_names[y]}\n" for t, y in zip(dataset.texts, dataset.labels)
    )
    path.write_text("text\tlabel\n" + rows, encoding="utf-8")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A bag-of-bigrams NBSVM and a tiny Kim CNN trained on the same toy table with the same
    25% validation split (seed 0); a bag run held out with seed 1; one with other labels."""
    root = tmp_path_factory.mktemp("ensemble")
    data = toy_reviews(80, seed=3)
    table = root / "toy.tsv"
    _table(table, data)
    bag = {"model": "bow-mlp", "nbsvm": True, "ngram_range": (1, 2), "mode": "multi_hot"}
    cnn = {"model": "kim-cnn", "embedding_dim": 8, "num_filters": 4, "kernel_sizes": (2, 3)}
    other = root / "other.tsv"
    data.label_names = ["bad", "good"]
    _table(other, data)
    for name, source, settings in [
        ("nbsvm", table, {**bag, **COMMON}),
        ("cnn", table, {**cnn, **COMMON, "lr": 0.02}),
        ("seed1", table, {**bag, **COMMON, "seed": 1}),
        ("other", other, {**bag, **COMMON, "epochs": 1}),
    ]:  # trained in memory and saved without curves: a plot costs more than the training
        train_classifier(str(source), **settings).save(root / name, curves=False)
    return {"root": root, "table": table, **{n: root / n for n in ("nbsvm", "cnn", "seed1")}}


def _val_texts(runs) -> list[str]:
    table = seqlab.training.classify.load_dataset(str(runs["table"]))
    _, val_idx = stratified_split(table.labels, 0.25, seed=0)
    return [table.texts[i] for i in val_idx]


def _invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_ensemble_mean_is_the_average_of_the_members_probabilities(runs):
    ens = build_ensemble([runs["nbsvm"], runs["cnn"]])
    p1 = seqlab.load(runs["nbsvm"]).predict_proba(TEXTS).astype(np.float64)
    p2 = seqlab.load(runs["cnn"]).predict_proba(TEXTS).astype(np.float64)
    assert np.array_equal(ens.predict_proba(TEXTS), ((p1 + p2) / 2).astype(np.float32))
    assert ens.names == ["nbsvm", "cnn"] and ens.weights.tolist() == [0.5, 0.5]
    weighted = build_ensemble([runs["nbsvm"], runs["cnn"]], weights=[1, 3])
    expected = (0.25 * p1 + 0.75 * p2).astype(np.float32)
    assert np.array_equal(weighted.predict_proba(TEXTS), expected)
    assert ens.predict(TEXTS) == [ens.labels[k] for k in ((p1 + p2) / 2).argmax(axis=1)]


def test_ensemble_stack_weights_are_fitted_on_the_validation_texts_only(runs, monkeypatch):
    seen: list[list[str]] = []
    original = Run.predict_proba

    def spy(self, texts, batch_size=256):
        if not isinstance(self, Ensemble):
            seen.append(list(texts))
        return original(self, texts, batch_size)

    monkeypatch.setattr(Run, "predict_proba", spy)
    ens = build_ensemble([runs["nbsvm"], runs["cnn"]], "stack", data=str(runs["table"]))
    val_texts = _val_texts(runs)
    assert len(seen) == 2 and all(texts == val_texts for texts in seen)  # one pass per member
    digest = hashlib.sha256(b"".join(t.encode() + b"\0" for t in val_texts)).hexdigest()
    assert ens.fitted_on["texts_sha256"] == digest and ens.fitted_on["n"] == len(val_texts) == 20
    assert (ens.fitted_on["val_split"], ens.fitted_on["seed"], ens.fitted_on["forced"]) == (
        0.25,
        0,
        False,
    )
    monkeypatch.undo()
    # The weights maximise the validation likelihood: at the optimum every member with a
    # positive weight has mean(q_k / mix) = 1 and the others at most 1 (KKT).
    P = ens.member_proba(val_texts)
    y = np.array([ens.labels.index(lab) for lab in _val_labels(runs)])
    q = P[:, np.arange(len(y)), y]
    grad = (q / (ens.weights @ q)).mean(axis=1)
    assert abs(ens.weights.sum() - 1) < 1e-12 and (ens.weights >= 0).all()
    assert np.all(np.abs(grad[ens.weights > 1e-6] - 1) < 1e-4) and np.all(grad < 1 + 1e-4)
    assert ens.metrics["val"]["n"] == 20 and set(ens.metrics["members_val"]) == {"nbsvm", "cnn"}


def _val_labels(runs) -> list[str]:
    table = seqlab.training.classify.load_dataset(str(runs["table"]))
    _, val_idx = stratified_split(table.labels, 0.25, seed=0)
    return [table.label_names[table.labels[i]] for i in val_idx]


def test_ensemble_logistic_stacker_is_softmax_of_member_log_probabilities(runs, tmp_path):
    out = tmp_path / "ens"
    ens = build_ensemble(
        [runs["nbsvm"], runs["cnn"]], "stack", stacker="logistic", data=runs["table"], out=out
    )
    coef, intercept = ens.logistic["coef"], ens.logistic["intercept"]
    assert coef.shape == (2, 4) and intercept.shape == (2,)
    P = ens.member_proba(TEXTS)
    features = np.log(np.maximum(P, _stacking.FLOOR)).transpose(1, 0, 2).reshape(3, 4)
    z = features @ coef.T + intercept
    expected = np.exp(z - z.max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    assert np.allclose(ens.predict_proba(TEXTS), expected, atol=1e-6)
    again = seqlab.load(out)
    assert again.logistic is not None and again.weights is None
    assert np.array_equal(again.predict_proba(TEXTS), ens.predict_proba(TEXTS))


def test_ensemble_refuses_members_that_trained_on_the_validation_texts(runs):
    with pytest.raises(ValueError, match=r"member 'seed1' held out 0.25 .* seed 1, not 0.25"):
        build_ensemble([runs["nbsvm"], runs["seed1"]], "stack", data=runs["table"])
    forced = build_ensemble([runs["nbsvm"], runs["seed1"]], "stack", data=runs["table"], force=True)
    assert forced.fitted_on["forced"] is True and forced.fitted_on["seed"] == 0
    smaller = toy_reviews(40, seed=3)  # other data: the member's held-out part is not this
    with pytest.raises(ValueError, match="was trained on 80 texts .* not this data's 40"):
        build_ensemble([runs["nbsvm"], runs["cnn"]], "stack", data=smaller)


def test_ensemble_folder_reloads_predicts_evaluates_and_explains(runs, tmp_path):
    ens = build_ensemble(
        [runs["nbsvm"], runs["cnn"]], "stack", data=runs["table"], out=tmp_path / "e"
    )
    loaded = seqlab.load(tmp_path / "e")
    assert isinstance(loaded, Ensemble) and isinstance(loaded, Run)
    assert np.array_equal(loaded.weights, ens.weights)
    assert np.array_equal(loaded.predict_proba(TEXTS), ens.predict_proba(TEXTS))
    test = seqlab.training.classify.load_dataset(str(runs["table"]))
    metrics = loaded.evaluate(test)
    assert metrics["n"] == 80 and np.array(metrics["confusion_matrix"]).sum() == 80
    pairs = loaded.explain("the film was superb")
    assert [w for w, _ in pairs] == ["the", "film", "was", "superb"]
    p = loaded.predict_proba(["the film was superb", "the film was"])
    k = int(p[0].argmax())
    assert pairs[3][1] == pytest.approx(float(p[0, k] - p[1, k]), abs=1e-7)
    with pytest.raises(ValueError, match="grad_x_input.* cannot explain an ensemble"):
        loaded.explain("the film", method="grad_x_input")


def test_ensemble_folder_still_loads_after_members_and_folder_move(runs, tmp_path):
    members = [shutil.copytree(runs[n], tmp_path / "copies" / n) for n in ("nbsvm", "cnn")]
    ens = build_ensemble(members, out=tmp_path / "a" / "ens")
    config = json.loads((tmp_path / "a" / "ens" / "config.json").read_text())
    assert [m["source"] for m in config["members"]] == ["../../copies/nbsvm", "../../copies/cnn"]
    before = ens.predict_proba(TEXTS)
    shutil.rmtree(tmp_path / "copies")
    moved = shutil.move(tmp_path / "a" / "ens", tmp_path / "elsewhere")
    assert np.array_equal(seqlab.load(moved).predict_proba(TEXTS), before)


def test_ensemble_bad_inputs_are_one_line_errors(runs, tmp_path):
    with pytest.raises(ValueError, match=r"member 'other' has the classes \['bad', 'good'\]"):
        build_ensemble([runs["nbsvm"], runs["root"] / "other"])
    with pytest.raises(ValueError, match="at least two member runs, got 1"):
        build_ensemble([runs["nbsvm"]])
    with pytest.raises(ValueError, match="given twice"):
        build_ensemble([runs["nbsvm"], runs["nbsvm"]])
    with pytest.raises(ValueError, match="weights must be 2 finite numbers"):
        build_ensemble([runs["nbsvm"], runs["cnn"]], weights=[1, 2, 3])
    with pytest.raises(ValueError, match="method='stack' fits its weights .* pass data="):
        build_ensemble([runs["nbsvm"], runs["cnn"]], "stack")
    build_ensemble([runs["nbsvm"], runs["cnn"]], out=tmp_path / "ens")
    with pytest.raises(ValueError, match="itself an ensemble"):
        build_ensemble([runs["nbsvm"], tmp_path / "ens"])
    with pytest.raises(ValueError, match="already holds a finished run"):
        build_ensemble([runs["nbsvm"], runs["cnn"]], out=tmp_path / "ens")


def test_ensemble_cli_builds_a_folder_that_every_classify_command_reads(runs, tmp_path):
    out = tmp_path / "ens"
    result = _invoke("classify", "ensemble", runs["nbsvm"], runs["cnn"], "--out", out,
                     "--method", "stack", "--data", runs["table"], "--device", "cpu")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"run folder: {out}" in result.output and "ensemble validation accuracy" in result.output
    ens = seqlab.load(out)
    result = _invoke("classify", "predict", out, TEXTS[0], "--device", "cpu")
    label, prob, text = result.output.strip().split("\t")
    p = ens.predict_proba([TEXTS[0]])[0]
    assert (label, text) == (ens.labels[int(p.argmax())], TEXTS[0])
    assert float(prob) == pytest.approx(float(p.max()), abs=1e-4)
    result = _invoke("classify", "evaluate", out, "--data", runs["table"], "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["n"] == 80
    result = _invoke("classify", "explain", out, "the film was superb", "--json")
    assert result.exit_code == 0, result.output
    tokens = json.loads(result.output)["tokens"]
    assert [t["token"] for t in tokens] == ["the", "film", "was", "superb"]
    result = _invoke("classify", "summary", out)
    assert result.exit_code == 0 and "member 1: cnn (kim-cnn" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--weights", "1,2,3"], "weights must be 2 finite numbers"),
        (["--method", "stack"], "--method stack fits its weights .* pass --data"),
        (["--weights", "a,b"], "expected numbers separated by commas"),
    ],
)
def test_ensemble_cli_bad_input_is_one_line(runs, tmp_path, args, message):
    result = _invoke("classify", "ensemble", runs["nbsvm"], runs["cnn"], "--out", tmp_path / "e",
                     *args)  # fmt: skip
    assert result.exit_code == 2 and re.search(message, result.output), result.output
    assert "Traceback" not in result.output


def test_ensemble_cli_refusals_name_the_member_and_the_fix(runs, tmp_path):
    result = _invoke("classify", "ensemble", runs["nbsvm"], runs["seed1"], "--out", tmp_path / "e",
                     "--method", "stack", "--data", runs["table"])  # fmt: skip
    assert result.exit_code == 2 and result.output.count("\n") == 1, result.output
    assert "member 'seed1'" in result.output and "pass --force to fit anyway" in result.output
    build_ensemble([runs["nbsvm"], runs["cnn"]], out=tmp_path / "ens")
    result = _invoke("classify", "explain", tmp_path / "ens", "a superb film", "--method",
                     "grad_x_input")  # fmt: skip
    assert result.exit_code == 2 and "use --method occlusion" in result.output
    assert result.output.count("\n") == 1


def test_ensemble_is_served_like_any_classifier(runs, tmp_path):
    pytest.importorskip("fastapi")
    pytest.importorskip("httpx")
    from fastapi.testclient import TestClient

    from seqlab.serve import create_app

    ens = build_ensemble(
        [runs["nbsvm"], runs["cnn"]], "stack", data=runs["table"], out=tmp_path / "ens"
    )
    app = create_app([tmp_path / "ens"], batch=False)
    with TestClient(app, base_url="http://localhost") as client:
        info = client.get("/v1/models").json()["models"][0]
        assert info["kind"] == "classifier" and info["explain_methods"] == ["occlusion"]
        assert info["model"] == "ensemble(stack weights: bow-mlp, kim-cnn)"
        assert info["val_accuracy"] == ens.metrics["val"]["accuracy"]
        body = {"texts": TEXTS[:2], "explain": True}
        response = client.post("/v1/classify", json=body)
        assert response.status_code == 200, response.text
        results = response.json()["results"]
        p = ens.predict_proba(TEXTS[:2])
        assert [r["probabilities"]["pos"] for r in results] == pytest.approx(p[:, 1], abs=1e-6)
        assert [t["token"] for t in results[1]["tokens"]] == ["an", "awful", "boring", "plot"]
        body["method"] = "grad_x_input"
        assert client.post("/v1/classify", json=body).status_code == 422
