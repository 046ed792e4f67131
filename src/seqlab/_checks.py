"""The package's one check of a value against a fixed set of choices, so that every layer
words the error the same way: ``"{name} must be one of 'a', 'b'; got 'x'"``, then the fix.

It imports nothing from seqlab, so text/, data/, models/, training/ and everything above may
import it without an import cycle (``tests/test_imports.py`` keeps that true).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

__all__ = ["check_choice"]


def check_choice(
    name: str,
    value: Any,
    choices: Collection[Any],
    *,
    allow_none: bool = False,
    fix: str | None = None,
) -> Any:
    """``value`` if it is one of ``choices`` (or None, with ``allow_none``); otherwise a
    ValueError that names ``name``, lists the choices, echoes ``value`` and ends with ``fix``.

    >>> check_choice("precision", "bf16", ("fp32", "bf16"))
    'bf16'
    >>> check_choice("head", None, ("linear", "mlp"), allow_none=True) is None
    True
    >>> check_choice("precision", "fp16", ("fp32", "bf16"), fix="use 'fp32' or 'bf16'")
    Traceback (most recent call last):
    ...
    ValueError: precision must be one of 'fp32', 'bf16'; got 'fp16'; use 'fp32' or 'bf16'
    """
    if allow_none and value is None:
        return value
    try:
        known = value in choices
    except (TypeError, ValueError):
        # An unhashable value (a list from a JSON config) tested against a set or dict, or a
        # numpy array whose element-wise comparison has no truth value: not a choice either.
        known = False
    if known:
        return value
    # A set has no order of its own; sorting keeps the message the same from run to run.
    shown = sorted(choices, key=repr) if isinstance(choices, set | frozenset) else choices
    listed = ", ".join(map(repr, shown)) + (" or None" if allow_none else "")
    message = f"{name} must be one of {listed}; got {value!r}"
    raise ValueError(f"{message}; {fix}" if fix else message)
