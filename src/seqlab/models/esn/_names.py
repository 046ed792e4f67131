"""The old short names of the reservoir parameters, still accepted for a while.

``lr`` and ``sr`` (reservoirpy's names) became ``leak_rate`` and ``spectral_radius``:
``lr`` means the learning rate everywhere else in seqlab. The old keywords still work and
warn; saved configs that use them load without a warning (the file is not the caller's
code to change).
"""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

#: old keyword -> new keyword
RENAMED: dict[str, str] = {"lr": "leak_rate", "sr": "spectral_radius"}

F = TypeVar("F", bound=Callable[..., Any])


def rename_old_keys(
    kwargs: Mapping[str, Any], owner: str, *, given: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """``kwargs`` with ``lr`` / ``sr`` renamed; ``given`` names the new keywords passed
    elsewhere (positionally). Both names for one parameter is a ``TypeError``.

    >>> rename_old_keys({"units": 5}, "ESN")
    {'units': 5}
    """
    out = dict(kwargs)
    for old, new in RENAMED.items():
        if old not in out:
            continue
        value = out.pop(old)
        if new in out or new in given:
            raise TypeError(
                f"{owner}() got both {old}={value!r} and {new}; {old} is the deprecated name "
                f"of {new}: pass only {new}"
            )
        out[new] = value
    return out


def accepts_old_names(func: F) -> F:
    """Let ``func`` (a constructor) also take ``lr`` / ``sr``, with a ``DeprecationWarning``
    that names the new keyword.

    >>> @accepts_old_names
    ... def make(units=1, leak_rate=1.0):
    ...     return leak_rate
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     make(lr=0.3)
    0.3
    """
    params = list(inspect.signature(func).parameters)
    owner = func.__qualname__.split(".")[0]

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        old = [k for k in RENAMED if k in kwargs]
        if old:
            positional = frozenset(p for p in params[: len(args)] if p in RENAMED.values())
            kwargs = rename_old_keys(kwargs, owner, given=positional)
            for key in old:
                warnings.warn(
                    f"{owner}({key}=...) is deprecated; use {RENAMED[key]}=... instead",
                    DeprecationWarning,
                    stacklevel=2,
                )
        return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
