"""``seqlab.datasets`` is :mod:`seqlab.data.datasets`: this file only makes the import work.

With it, ``import seqlab.datasets``, ``from seqlab.datasets import imdb_keras`` and
``from seqlab.datasets.imdb_keras import load_data`` all give the one real module (the same
object as ``seqlab.datasets`` reached as an attribute), like ``keras.datasets.imdb``.

>>> from seqlab.datasets import imdb_keras
>>> imdb_keras.__name__
'seqlab.data.imdb_keras'
"""

from __future__ import annotations

import sys

from seqlab.data import datasets as _datasets

# Replacing our own entry is the documented way for a module to stand in for another.
sys.modules[__name__] = _datasets
