"""The argument checks of the model constructors: each returns the checked value (as a plain
``int`` / ``float`` / ``list``, so that it can go into a JSON config) or raises a
``TypeError`` / ``ValueError`` that names the argument and echoes the value. The choice
check is ``seqlab._checks.check_choice``, below every layer, as text/ and data/ use it too."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["check_dropout", "check_int", "check_int_list", "check_seed"]


def check_seed(seed: Any) -> int | None:
    """``None`` or an int >= 0 (as a plain ``int``, so it can go into a JSON config)."""
    return None if seed is None else check_int("seed", seed, minimum=0)


def check_int(name: str, value: Any, *, minimum: int) -> int:
    """``value`` if it is an int >= ``minimum``; a ValueError/TypeError naming ``name`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_int_list(name: str, value: Any, *, minimum: int) -> list[int]:
    """A non-empty list of ints >= ``minimum`` from a list/tuple; clear errors otherwise."""
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) == 0:
        raise ValueError(f"{name} must be a non-empty list of integers, got {value!r}")
    return [check_int(f"{name}[{i}]", v, minimum=minimum) for i, v in enumerate(value)]


def check_dropout(value: Any, name: str = "dropout") -> float:
    """A dropout probability in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number in [0, 1), got {value!r}")
    if not 0.0 <= float(value) < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {value!r}")
    return float(value)
