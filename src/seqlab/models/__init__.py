"""Neural network models, each registered by name (see :mod:`seqlab.models.registry`)."""

from seqlab._utils import public_dir
from seqlab.models.registry import available, build, get, register

__all__ = ["available", "build", "get", "register"]

__dir__ = public_dir(__all__)
