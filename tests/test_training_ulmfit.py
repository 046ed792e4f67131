"""ULMFiT's fine-tuning in the one loop: slanted triangular rates, discriminative rates per
layer group, gradual unfreezing, and exact resume with them."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

import seqlab
from _toy_reviews import ROWS, toy_reviews
from seqlab.cli.main import cli
from seqlab.models.dense import BagOfWordsMLP
from seqlab.models.rnn import LSTMClassifier
from seqlab.text import TextVectorizer
from seqlab.training.optim import build_optimizers, layer_groups, lr_at, unfreeze_for_epoch
from seqlab.training.protocol import TrainConfig
from test_training_trainer import _Kill  # the kill-at-a-batch callback, one definition

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def data():
    ds = toy_reviews(96)
    return ds, TextVectorizer(output_mode="int").fit(ds.texts)


def lstm(vec, seed: int = 0) -> LSTMClassifier:
    return LSTMClassifier(vocab_size=vec.vocab_size, embedding_dim=8, hidden_size=8,
                          num_layers=2, pooling="concat", dropout=0.2, seed=seed)  # fmt: skip


def test_ulmfit_slanted_schedule_values() -> None:
    lr = 0.01
    # Howard & Ruder: cut_frac 0.1, ratio 32: lr/32 at both ends, lr at the cut
    assert lr_at(0.0, lr, "slanted") == pytest.approx(lr / 32)
    assert lr_at(0.1, lr, "slanted") == pytest.approx(lr)
    assert lr_at(1.0, lr, "slanted") == pytest.approx(lr / 32)
    assert lr_at(0.05, lr, "slanted") == pytest.approx(lr * (1 + 0.5 * 31) / 32)
    assert lr_at(0.4, lr, "slanted") == pytest.approx(lr * (1 + (1 - 0.3 / 0.9) * 31) / 32)
    # warmup is the cut_frac when given
    assert lr_at(0.3, lr, "slanted", warmup=0.3) == pytest.approx(lr)
    assert lr_at(0.15, lr, "slanted", warmup=0.3) == pytest.approx(lr * 16.5 / 32)
    rates = [lr_at(f / 100, lr, "slanted") for f in range(101)]
    assert rates.index(max(rates)) == 10
    assert TrainConfig(epochs=1, schedule="slanted").validate().schedule == "slanted"


def test_ulmfit_layer_groups_and_bad_settings(data) -> None:
    _, vec = data
    model = lstm(vec)
    groups = layer_groups(model)
    assert [len(g) for g in groups] == [1, 4, 4, 2]  # embedding, layer 1, layer 2, head
    assert groups[0][0] is model.embedding.weight and groups[-1][0] is model.head.weight
    with pytest.raises(ValueError, match="BagOfWordsMLP does not divide its parameters"):
        build_optimizers(BagOfWordsMLP(vec.vocab_size), "adam", lr=1e-3, layer_lr_decay=2.6)
    for bad in (0, -1.0, float("nan"), "2"):
        with pytest.raises(ValueError, match="layer_lr_decay must be a finite number > 0"):
            TrainConfig(epochs=1, layer_lr_decay=bad).validate()
    with pytest.raises(TypeError, match="gradual_unfreezing must be True or False"):
        TrainConfig(epochs=1, gradual_unfreezing="yes").validate()


def test_ulmfit_discriminative_rates_follow_the_schedule(data, monkeypatch) -> None:
    ds, vec = data
    seen: list[list[float]] = []
    step = torch.optim.Adam.step

    def recording_step(self, *args, **kwargs):
        seen.append([group["lr"] for group in self.param_groups])
        return step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", recording_step)
    lr = 0.02
    seqlab.fit(lstm(vec), vec, ds, epochs=2, batch_size=16, lr=lr, schedule="slanted",
               layer_lr_decay=2.6, progress=False)  # fmt: skip
    assert len(seen) == 2 * 5  # 77 training reviews in batches of 16
    for k, rates in enumerate(seen):
        scheduled = lr_at(k / len(seen), lr, "slanted")
        # bottom to top: embedding, layer 1, layer 2, head; each 2.6 times the one below
        expected = [scheduled / 2.6**3, scheduled / 2.6**2, scheduled / 2.6, scheduled]
        assert rates == pytest.approx(expected, rel=1e-12)
    assert seen[0][-1] / seen[0][0] == pytest.approx(2.6**3)


def test_ulmfit_frozen_groups_get_no_update_and_no_adam_state(data) -> None:
    _, vec = data
    model = lstm(vec)
    (opt,) = build_optimizers(model, "adam", lr=0.1, weight_decay=0.01, layered=True)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    tokens, lengths = torch.tensor([[3, 4, 5, 6], [7, 8, 0, 0]]), torch.tensor([4, 2])
    for epoch, trained in ((0, ["head."]), (1, ["head.", "layers.1."])):
        assert unfreeze_for_epoch([opt], epoch) == epoch + 1
        opt.zero_grad(set_to_none=True)
        model(tokens=tokens, lengths=lengths).sum().backward()
        opt.step()
        for name, param in model.named_parameters():
            moves = any(name.startswith(prefix) for prefix in trained)
            assert param.requires_grad == moves
            assert torch.equal(param, before[name]) != moves, name
            assert (param in opt.state) == moves, name  # no Adam moments for frozen ones
        before = {k: v.clone() for k, v in model.state_dict().items()}
    assert unfreeze_for_epoch([opt], None) == 4
    assert all(p.requires_grad for p in model.parameters())


def test_ulmfit_fit_unfreezes_one_group_per_epoch(data) -> None:
    ds, vec = data
    model = lstm(vec)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    seqlab.fit(model, vec, ds, epochs=2, batch_size=16, lr=0.02, gradual_unfreezing=True,
               restore_best=False, progress=False)  # fmt: skip
    moved = {k for k, v in model.state_dict().items() if not torch.equal(v, start[k])}
    # epoch 1: the head; epoch 2: the head and the top layer; never layer 1 or the embedding
    assert moved == {k for k in start if k.startswith(("head.", "layers.1."))}
    assert all(p.requires_grad for p in model.parameters())  # all trainable again after


def test_ulmfit_resume_after_kill_equals_uninterrupted_run(data, tmp_path) -> None:
    ds, vec = data
    kw = dict(epochs=4, batch_size=16, lr=0.02, schedule="slanted", warmup=0.2, seed=3,
              layer_lr_decay=2.6, gradual_unfreezing=True, progress=False)  # fmt: skip
    whole = seqlab.fit(lstm(vec), vec, ds, out=tmp_path / "whole", **kw)
    with pytest.raises(KeyboardInterrupt):  # in epoch 2 (the top layer unfrozen), mid-epoch
        seqlab.fit(lstm(vec), vec, ds, out=tmp_path / "cut", callbacks=[_Kill(1, 2)], **kw)
    state = json.loads((tmp_path / "cut" / "checkpoint" / "state.json").read_text())
    assert (state["epoch"], state["batch_index"]) == (1, 3)
    resumed = seqlab.fit(lstm(vec, seed=99), vec, ds, out=tmp_path / "cut", resume=True, **kw)
    for key, value in whole.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key
    for key in ("loss", "val_loss", "val_accuracy", "lr"):
        assert resumed.history[key] == whole.history[key]
    assert resumed.train_config["layer_lr_decay"] == 2.6
    with pytest.raises(ValueError, match="made with layer_lr_decay=2.6 but this call has"):
        seqlab.fit(lstm(vec), vec, ds, out=tmp_path / "cut", resume=True,
                   **{**kw, "layer_lr_decay": 2.0})  # fmt: skip


def test_ulmfit_cli_flags_reach_the_run(tmp_path) -> None:
    table = tmp_path / "rows.tsv"
    table.write_text("text\tlabel\n" + "".join(f"{t}\t{y}\n" for t, y in ROWS), encoding="utf-8")
    out = tmp_path / "run"
    args = ["classify", "train", "--data", str(table), "--model", "lstm", "--num-layers", "2",
            "--hidden-size", "8", "--embedding-dim", "8", "--pooling", "concat", "--schedule",
            "slanted", "--warmup", "0.2", "--layer-lr-decay", "2", "--gradual-unfreezing",
            "--epochs", "2", "--device", "cpu", "--quiet", "--out", str(out)]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    tc = json.loads((out / "config.json").read_text())["train"]
    assert (tc["schedule"], tc["warmup"], tc["layer_lr_decay"]) == ("slanted", 0.2, 2.0)
    assert tc["gradual_unfreezing"] is True
    bag = ["classify", "train", "--data", str(table), "--layer-lr-decay", "2", "--epochs", "1",
           "--device", "cpu", "--quiet", "--out", str(tmp_path / "x")]  # fmt: skip
    result = CliRunner().invoke(cli, bag)
    assert result.exit_code == 2 and result.output.count("\n") == 1, result.output
    assert "BagOfWordsMLP does not divide its parameters into layer groups" in result.output
