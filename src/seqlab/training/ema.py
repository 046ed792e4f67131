"""An exponential moving average of a model's weights (Polyak averaging), kept by the
training loop when ``TrainConfig.ema`` is set.

After every optimizer step each floating-point tensor ``w`` of the model's state moves its
average ``a`` towards it, ``a <- d * a + (1 - d) * w``, with ``d = min(ema, (1 + n) / (10 + n))``
after ``n`` updates: the warm-up of TensorFlow's ``ExponentialMovingAverage(num_updates=)``,
so that the first steps do not keep the random initial weights in the average. Other
tensors (integer buffers) are copied. Training steps use the model's own weights;
evaluation, model selection and the weights a run returns use the average. The idea is
that of Keras's ``use_ema=True, ema_momentum=...`` optimizers, which overwrite the model's
weights with the average when ``fit`` ends; Keras has no warm-up (its average starts from
the weights after the first step).

With a decay ``d`` the average spans about ``1 / (1 - d)`` steps: ``ema=0.999`` averages
over about the last 1,000 steps.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

__all__ = ["WeightAverage", "check_ema"]


def check_ema(ema: float | None) -> float | None:
    """``ema`` if it is a decay in (0, 1) or None; a ValueError saying so otherwise."""
    if ema is not None and (
        isinstance(ema, bool) or not isinstance(ema, int | float) or not 0 < ema < 1
    ):
        raise ValueError(
            f"ema must be a decay in (0, 1) or None (no average), got {ema!r}; 0.999 averages "
            "over about the last 1,000 steps"
        )
    return ema


class WeightAverage:
    """The moving average of ``model``'s state (its parameters and buffers), starting from
    the model's current weights.

    >>> model = nn.Linear(1, 1, bias=False)
    >>> _ = nn.init.zeros_(model.weight)
    >>> avg = WeightAverage(model, decay=0.5)
    >>> _ = model.weight.data.fill_(1.0)
    >>> avg.update(model)  # first update: d = min(0.5, 1 / 10) = 0.1
    >>> round(float(avg.shadow["weight"]), 6)
    0.9
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = float(decay)
        self.updates = 0
        self.shadow = {k: v.detach().clone() for k, v in model.state_dict().items()}

    def rate(self) -> float:
        """The decay of the next update (the warm-up's, while it is below ``decay``)."""
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Move the average towards ``model``'s current state (after an optimizer step)."""
        weight = 1.0 - self.rate()
        state = model.state_dict()
        for key, average in self.shadow.items():
            value = state[key].detach()
            if average.is_floating_point():
                average.lerp_(value.to(average.dtype), weight)
            else:
                average.copy_(value)
        self.updates += 1

    def load(self, shadow: dict[str, torch.Tensor], updates: int) -> None:
        """Put back a saved average (a checkpoint's) and its count of updates."""
        missing = sorted(set(self.shadow) - set(shadow))
        if missing:
            raise ValueError(
                f"the checkpoint's weight average lacks {', '.join(missing[:5])}; it was "
                "written for another model: resume with the model it was trained with"
            )
        with torch.no_grad():
            for key, average in self.shadow.items():
                average.copy_(shadow[key])
        self.updates = int(updates)

    @contextlib.contextmanager
    def applied(self, model: nn.Module) -> Iterator[None]:
        """Inside the block ``model`` holds the average; its own weights come back after it
        (copied in place, so an optimizer's references to the parameters stay valid)."""
        own = {k: v.detach().clone() for k, v in model.state_dict().items()}
        model.load_state_dict(self.shadow)
        try:
            yield
        finally:
            model.load_state_dict(own)
