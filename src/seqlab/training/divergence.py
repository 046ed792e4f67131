"""When a training loss has diverged: the loop stops on a non-finite loss, and on one that
has grown to more than :data:`DIVERGED` times the first loss of the process (and above
100), because a learning rate far too high sends a classifier's loss to millions without
ever reaching infinity.

>>> guard = DivergenceGuard()
>>> guard.check(0.69) is None, guard.check(5.0) is None
(True, True)
>>> guard.check(1e6)
'became 1e+06 (from 0.69)'
"""

from __future__ import annotations

import math

from seqlab.training import distributed

__all__ = ["DIVERGED", "DivergenceGuard"]

# The loss has diverged when it grows past this many times its first value (and above 100).
DIVERGED = 1000.0


class DivergenceGuard:
    """Remembers the first loss and says, step by step, whether training has diverged.

    ``world`` > 1 (DDP): every rank learns when one has diverged (one all-reduce of a flag
    per step), so that all stop on the same step and none is left waiting in a collective.
    """

    def __init__(self, world: int = 1) -> None:
        self.world = world
        self.first_loss: float | None = None

    def check(self, value: float) -> str | None:
        """``None`` while training is sound, else what happened to the loss (for a message)."""
        if self.first_loss is None:
            self.first_loss = value
        mine = not math.isfinite(value) or (
            value > 100 and value > DIVERGED * max(self.first_loss, 1e-12)
        )
        bad = distributed.any_rank(mine) if self.world > 1 else mine
        if not bad:
            return None
        if not mine:
            return "of another rank diverged"  # DDP: this rank's loss was still fine
        grown = "" if not math.isfinite(value) else f" (from {self.first_loss:.4g})"
        return f"became {value:.4g}{grown}"
