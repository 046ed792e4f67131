"""Models by name, so that a run folder or the command line can rebuild one.

Every model class registers itself with ``@register("name")`` and stores the keyword
arguments it was built with in ``self.config`` (a JSON-able dict); ``build(name, **config)``
rebuilds it, which is how :func:`seqlab.load` restores a run without pickle.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from torch import nn

__all__ = ["available", "build", "get", "rebuild", "register"]

_MODELS: dict[str, type[nn.Module]] = {}
T = TypeVar("T", bound=type[nn.Module])


def register(name: str) -> Callable[[T], T]:
    """Class decorator: make the model available as ``name``.

    >>> @register("my-model")  # doctest: +SKIP
    ... class MyModel(nn.Module): ...
    """

    def deco(cls: T) -> T:
        if name in _MODELS and _MODELS[name] is not cls:
            raise ValueError(f"model name {name!r} is already registered by {_MODELS[name]}")
        _MODELS[name] = cls
        cls.registry_name = name  # type: ignore[attr-defined]
        return cls

    return deco


def available() -> list[str]:
    """Names of every registered model, sorted."""
    _import_all()
    return sorted(_MODELS)


def get(name: str) -> type[nn.Module]:
    """The class registered as ``name``; a clear error lists the choices otherwise."""
    _import_all()
    if name not in _MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(sorted(_MODELS))}")
    return _MODELS[name]


def build(name: str, **config: Any) -> nn.Module:
    """Instantiate the model registered as ``name`` with ``config``."""
    return get(name)(**config)


def rebuild(name: str, config: dict[str, Any]) -> nn.Module:
    """:func:`build` from a config read back from a run folder: an argument seqlab gained
    after the run was written gets the value that run was trained with (``init="torch"``,
    and ``head="softmax"`` for a classifier, i.e. a config with ``num_classes``), whatever
    today's default.

    >>> rebuild("lstm", {"vocab_size": 20, "hidden_size": 4}).config["init"]
    'torch'
    """
    config = {"init": "torch", **config}
    if "num_classes" in config:
        config.setdefault("head", "softmax")
    return build(name, **config)


def _import_all() -> None:
    # Importing the modules runs their @register decorators.
    # The folder is listed directly (not through `seqlab.models`), so the registry needs no
    # import of the package above it.
    import importlib
    import pkgutil
    from pathlib import Path

    for mod in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if mod.name != "registry" and not mod.name.startswith("_"):
            importlib.import_module(f"seqlab.models.{mod.name}")
