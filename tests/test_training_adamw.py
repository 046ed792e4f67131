"""optimizer="adamw": decoupled weight decay on matrices and tables only, on every task."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from seqlab.models.rnn import LSTMClassifier
from seqlab.training.optim import build_optimizers


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Embedding(7, 4), nn.LayerNorm(4), nn.Linear(4, 3))


def test_adamw_decays_matrices_and_tables_but_not_biases_or_norm_gains():
    model = _model()
    (opt,) = build_optimizers(model, "adamw", lr=0.1, weight_decay=0.5)
    assert isinstance(opt, torch.optim.AdamW)
    decay = {id(p): g["weight_decay"] for g in opt.param_groups for p in g["params"]}
    emb, norm, lin = model
    assert decay[id(emb.weight)] == decay[id(lin.weight)] == 0.5
    assert decay[id(norm.weight)] == decay[id(norm.bias)] == decay[id(lin.bias)] == 0.0
    assert set(decay) == {id(p) for p in model.parameters()}


def test_adamw_decay_is_decoupled_from_the_gradient():
    """With a zero gradient Adam's update is 0, so a step only shrinks the decayed weights:
    w <- w * (1 - lr * wd), exactly as torch's AdamW; the undecayed ones do not move."""
    model = _model()
    before = [p.detach().clone() for p in model.parameters()]
    (opt,) = build_optimizers(model, "adamw", lr=0.1, weight_decay=0.5)
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    for p, old in zip(model.parameters(), before, strict=True):
        expected = old * (1 - 0.1 * 0.5) if p.dim() >= 2 else old
        torch.testing.assert_close(p.detach(), expected)


def test_adamw_with_layer_rates_splits_each_layer_group():
    model = LSTMClassifier(vocab_size=9)
    (opt,) = build_optimizers(model, "adamw", lr=1.0, weight_decay=0.1, layer_lr_decay=2.0)
    seen = sorted({(g["layer"], g["lr"], g["weight_decay"]) for g in opt.param_groups})
    assert (0, 0.25, 0.1) in seen and (2, 1.0, 0.0) in seen  # the table; the head's bias
    assert sum(len(g["params"]) for g in opt.param_groups) == len(list(model.parameters()))


def test_adamw_refuses_sparse_gradients_with_the_fix():
    model = nn.Sequential(nn.Embedding(7, 4, sparse=True))
    with pytest.raises(ValueError, match=r"optimizer='adamw' does not accept sparse.*adam"):
        build_optimizers(model, "adamw", lr=1e-3)


def test_adamw_trains_a_classifier_through_the_cli_and_a_language_model(tmp_path):
    from click.testing import CliRunner

    import seqlab.lm as lm
    from seqlab.cli.main import cli

    texts = tmp_path / "t.csv"
    rows = ["text,label"] + [f"good fine nice {i},1" for i in range(20)]
    rows += [f"bad awful poor {i},0" for i in range(20)]
    texts.write_text("\n".join(rows) + "\n")
    args = ["classify", "train", "--data", str(texts), "--out", str(tmp_path / "c"), "--optimizer",
            "adamw", "--weight-decay", "0.01", "--epochs", "2", "--quiet", "--device", "cpu"]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    run = lm.train(text="abcabcabd " * 200, model="transformer", optimizer="adamw", weight_decay=0.1,
                   steps=5, d_model=16, num_heads=2, num_layers=1, block_size=8,
                   batch_size=4, progress=False, device="cpu")  # fmt: skip
    assert run.train_config["optimizer"] == "adamw" and run.metrics["steps"] == 5


def test_every_optimizer_of_the_loop_trains_a_language_model():
    """One list (seqlab.defaults.OPTIMIZERS) for the loop, the configs and both commands."""
    import seqlab.lm as lm
    from seqlab.defaults import OPTIMIZERS

    assert OPTIMIZERS == ("adam", "adamw", "rmsprop", "sgd")
    for name in OPTIMIZERS:
        run = lm.train(text="abcabcabd " * 50, optimizer=name, steps=2, hidden_size=8,
                       embedding_dim=4, num_layers=1, batch_size=4, seq_len=8,
                       progress=False, device="cpu")  # fmt: skip
        assert run.train_config["optimizer"] == name and run.metrics["steps"] == 2
