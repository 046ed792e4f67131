"""Neural network models, each registered by name (see :mod:`seqlab.models.registry`)."""

from seqlab.models.registry import available, build, get, register

__all__ = ["available", "build", "get", "register"]


def __dir__() -> list[str]:
    # PEP 562: dir() shows the public names, not the helpers this module imports.
    return list(__all__)
