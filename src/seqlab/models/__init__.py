"""Neural network models, each registered by name (see :mod:`seqlab.models.registry`)."""

from seqlab.models.registry import available, build, get, register

__all__ = ["available", "build", "get", "register"]
