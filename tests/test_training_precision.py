"""precision="bf16": the loop's forward passes run under autocast, the weights stay float32."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from seqlab.training.loop import TrainConfig, run


class _Regression:
    """y = x @ w on 64 rows; records the dtype the model's output had in loss and evaluate."""

    has_validation = True

    def __init__(self) -> None:
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(64, 8, generator=g)
        self.y = self.x @ torch.randn(8, 1, generator=g)
        self.seen: dict[str, torch.dtype] = {}

    def batches(self, split: str, epoch: int):
        return [(self.x[i : i + 16], self.y[i : i + 16]) for i in range(0, 64, 16)]

    def loss(self, model: nn.Module, batch):
        x, y = batch
        out = model(x)
        self.seen["train"] = out.dtype
        loss = nn.functional.mse_loss(out.float(), y)
        return loss, {"loss": float(loss.detach()) * len(y), "n": len(y)}

    def train_metrics(self, sums):
        return {"loss": sums["loss"] / sums["n"]}

    def evaluate(self, model: nn.Module, split: str):
        with torch.no_grad():
            out = model(self.x)
        self.seen["val"] = out.dtype
        return {"loss": float(nn.functional.mse_loss(out.float(), self.y))}


@pytest.mark.parametrize("precision, dtype", [("fp32", torch.float32), ("bf16", torch.bfloat16)])
def test_precision_sets_the_forward_dtype_and_keeps_float32_weights(precision, dtype):
    torch.manual_seed(0)
    model = nn.Linear(8, 1)
    task = _Regression()
    cfg = TrainConfig(epochs=30, lr=0.05, precision=precision)
    result = run(model, task, cfg, device=torch.device("cpu"), progress=False)
    assert task.seen == {"train": dtype, "val": dtype}
    assert all(p.dtype == torch.float32 for p in model.parameters())
    losses = [row["val_loss"] for row in result.history]
    assert losses[-1] < 0.05 * losses[0]  # it learns in bfloat16 too


def test_precision_refuses_unknown_values():
    with pytest.raises(
        ValueError,
        match=r"^precision must be one of 'fp32', 'bf16'; got 'fp16'; use 'fp32' \(the default\)",
    ):
        TrainConfig(epochs=1, precision="fp16").validate()
