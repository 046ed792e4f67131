"""ema=: the loop's moving average of the weights (seqlab.training.ema): the arithmetic,
that evaluation, selection and the returned weights use it, exact resume, the settings."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner
from torch import nn

import seqlab
from _toy_reviews import ROWS, toy_reviews
from seqlab.cli.main import cli
from seqlab.models.rnn import LSTMClassifier
from seqlab.text import TextVectorizer
from seqlab.training.ema import WeightAverage
from seqlab.training.loop import TrainConfig, run
from test_training_trainer import _Kill

pytestmark = pytest.mark.usefixtures("one_thread")


def test_average_follows_the_formula_with_the_warm_up() -> None:
    model = nn.Linear(2, 1)
    avg = WeightAverage(model, decay=0.9)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    expected = {k: v.clone() for k, v in start.items()}
    for n, value in enumerate([1.0, -2.0, 3.0, 0.5] * 25):
        with torch.no_grad():
            for p in model.parameters():
                p.fill_(value)
        d = min(0.9, (1 + n) / (10 + n))
        assert avg.rate() == pytest.approx(d)
        avg.update(model)
        for k in expected:
            expected[k] = d * expected[k] + (1 - d) * value
            assert torch.allclose(avg.shadow[k], expected[k], atol=1e-6), (n, k)
    assert avg.updates == 100
    assert avg.rate() == 0.9  # the warm-up is over: (1 + 100) / 110 > 0.9


def test_applied_swaps_the_average_in_and_the_weights_back() -> None:
    model = nn.Linear(3, 2)
    avg = WeightAverage(model, decay=0.5)
    with torch.no_grad():
        model.weight.add_(1.0)
    own = model.weight.detach().clone()
    avg.update(model)
    with avg.applied(model):
        assert torch.equal(model.weight, avg.shadow["weight"])
        assert not torch.equal(model.weight, own)
    assert torch.equal(model.weight, own)


class _Line:
    """y = 3x + noise: a loop task whose evaluation records the weight it saw."""

    has_validation = True

    def __init__(self) -> None:
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(64, 1, generator=g)
        self.y = 3 * self.x + 0.5 * torch.randn(64, 1, generator=g)
        self.seen: list[float] = []

    def batches(self, split: str, epoch: int):
        return [(self.x[i : i + 8], self.y[i : i + 8]) for i in range(0, 64, 8)]

    def loss(self, model: nn.Module, batch):
        x, y = batch
        loss = nn.functional.mse_loss(model(x), y)
        return loss, {"loss": float(loss.detach()) * len(y), "n": len(y)}

    def train_metrics(self, sums):
        return {"loss": sums["loss"] / sums["n"]}

    def evaluate(self, model: nn.Module, split: str):
        self.seen.append(float(model.weight.detach()))
        with torch.no_grad():
            return {"loss": float(nn.functional.mse_loss(model(self.x), self.y))}


class _Shadow:
    """A callback-free way to read the loop's average: wrap WeightAverage.update."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.after: list[float] = []
        original = WeightAverage.update

        def update(avg: WeightAverage, model: nn.Module) -> None:
            original(avg, model)
            self.after.append(float(avg.shadow["weight"]))

        monkeypatch.setattr(WeightAverage, "update", update)


@pytest.mark.parametrize("restore_best", [True, False])
def test_loop_evaluates_selects_and_returns_the_average(monkeypatch, restore_best) -> None:
    shadow = _Shadow(monkeypatch)
    torch.manual_seed(0)
    model = nn.Linear(1, 1, bias=False)
    task = _Line()
    cfg = TrainConfig(epochs=5, lr=0.1, optimizer="sgd", ema=0.8, restore_best=restore_best)
    result = run(model, task, cfg, device=torch.device("cpu"), progress=False)
    # each epoch's evaluation saw the average after that epoch's 8 steps, not the weights
    assert task.seen == [shadow.after[8 * e + 7] for e in range(5)]
    best = min(range(5), key=lambda e: result.history[e]["val_loss"])
    returned = float(model.weight.detach())
    assert returned == task.seen[best if restore_best else -1]


def test_average_smooths_a_noisy_fit() -> None:
    """Plain SGD at a high rate jumps around the least-squares slope; its average lies
    closer to it, so the validation loss of the average is lower (the point of ema)."""
    losses = {}
    for ema in (None, 0.95):
        torch.manual_seed(0)
        model = nn.Linear(1, 1, bias=False)
        cfg = TrainConfig(epochs=20, lr=0.6, optimizer="sgd", ema=ema, restore_best=False)
        result = run(model, _Line(), cfg, device=torch.device("cpu"), progress=False)
        losses[ema] = result.history[-1]["val_loss"]
    assert losses[0.95] < losses[None]


@pytest.fixture(scope="module")
def data():
    ds = toy_reviews(96)
    return ds, TextVectorizer(output_mode="int").fit(ds.texts)


def lstm(vec, seed: int = 0) -> LSTMClassifier:
    return LSTMClassifier(vocab_size=vec.vocab_size, embedding_dim=8, hidden_size=8, seed=seed)


def test_fit_resume_after_kill_equals_uninterrupted_run_with_ema(data, tmp_path) -> None:
    ds, vec = data
    kw = dict(epochs=3, batch_size=16, lr=0.02, seed=3, ema=0.9, progress=False)
    whole = seqlab.fit(lstm(vec), vec, ds, out=tmp_path / "whole", **kw)
    with pytest.raises(KeyboardInterrupt):  # in the middle of epoch 2
        seqlab.fit(lstm(vec), vec, ds, out=tmp_path / "cut", callbacks=[_Kill(1, 2)], **kw)
    state = json.loads((tmp_path / "cut" / "checkpoint" / "state.json").read_text())
    assert state["ema_updates"] == state["step"] > 0
    resumed = seqlab.fit(lstm(vec, seed=99), vec, ds, out=tmp_path / "cut", resume=True, **kw)
    for key, value in whole.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key
    assert resumed.history["val_accuracy"] == whole.history["val_accuracy"]
    assert resumed.train_config["ema"] == 0.9
    with pytest.raises(ValueError, match="made with ema=0.9 but this call has ema=None"):
        seqlab.fit(lstm(vec), vec, ds, out=tmp_path / "cut", resume=True,
                   **{**kw, "ema": None})  # fmt: skip


def test_saved_run_holds_the_average(data, tmp_path) -> None:
    ds, vec = data
    kw = dict(epochs=2, batch_size=16, lr=0.05, seed=1, progress=False)
    plain = seqlab.fit(lstm(vec), vec, ds, **kw)
    averaged = seqlab.fit(lstm(vec), vec, ds, out=tmp_path / "run", ema=0.9, **kw)
    assert not torch.equal(plain.model.embedding.weight, averaged.model.embedding.weight)
    loaded = seqlab.load(tmp_path / "run")
    for key, value in averaged.model.state_dict().items():
        assert torch.equal(value, loaded.model.state_dict()[key]), key
    assert loaded.evaluate(ds)["accuracy"] == averaged.evaluate(ds)["accuracy"]


@pytest.mark.parametrize("bad", [0, 1, 1.5, -0.1, True, "0.9"])
def test_bad_ema_is_refused_with_the_fix(bad) -> None:
    with pytest.raises(ValueError, match=r"ema must be a decay in \(0, 1\) or None .* 0\.999"):
        TrainConfig(epochs=1, ema=bad).validate()
    with pytest.raises(ValueError, match=r"ema must be a decay in \(0, 1\)"):
        seqlab.lm.LMConfig(ema=bad, steps=1).validate()


def test_cli_ema_flag_reaches_the_run_and_bad_values_are_one_line(tmp_path) -> None:
    table = tmp_path / "rows.tsv"
    table.write_text("text\tlabel\n" + "".join(f"{t}\t{y}\n" for t, y in ROWS), encoding="utf-8")
    out = tmp_path / "run"
    args = ["classify", "train", "--data", str(table), "--model", "lstm", "--hidden-size", "8",
            "--embedding-dim", "8", "--epochs", "1", "--device", "cpu", "--quiet"]  # fmt: skip
    result = CliRunner().invoke(cli, [*args, "--ema", "0.99", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "config.json").read_text())["train"]["ema"] == 0.99
    result = CliRunner().invoke(cli, [*args, "--ema", "1", "--out", str(tmp_path / "x")])
    assert result.exit_code == 2
    assert "Invalid value for '--ema'" in result.output and "Traceback" not in result.output


def test_language_model_keeps_and_saves_the_average(tmp_path, monkeypatch) -> None:
    """lm train returns and saves the average as its last weights; the held-out loss in
    metrics.json is the average's; --ema on the command line sets it; a resumed run with
    another ema is refused."""
    from test_lm_train import TEXT, TINY

    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    last: dict[str, torch.Tensor] = {}
    original = WeightAverage.update

    def update(avg: WeightAverage, model: nn.Module) -> None:
        original(avg, model)
        last.update({k: v.clone() for k, v in avg.shadow.items()})

    monkeypatch.setattr(WeightAverage, "update", update)
    out = tmp_path / "lm"
    lm = seqlab.lm.train(corpus, steps=12, eval_every=6, ema=0.9, out=out, **TINY)
    assert lm.train_config["ema"] == 0.9
    for key, value in lm.model.state_dict().items():
        assert torch.equal(value, last[key]), key
    loaded = seqlab.load(out)
    for key, value in loaded.model.state_dict().items():
        assert torch.equal(value, last[key]), key
    assert lm.metrics["val"]["loss"] == pytest.approx(lm.history[-1]["val_loss"], rel=0.05)
    with pytest.raises(ValueError, match="ema"):
        seqlab.lm.train(corpus, steps=24, ema=0.5, out=out, resume=True, **TINY)
    args = ["lm", "train", "--corpus", str(corpus), "--steps", "3", "--set", "hidden_size=8",
            "--set", "batch_size=4", "--set", "seq_len=16", "--device", "cpu", "--quiet",
            "--ema", "0.99", "--out", str(tmp_path / "cli")]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "cli" / "config.json").read_text())["train"]["ema"] == 0.99
