"""``seqlab.datasets``: every dataset by name, the generic loaders, and dataset statistics.

The public face of :mod:`seqlab.data.datasets` (where the code lives), shaped like
``keras.datasets``: ``seqlab.datasets.imdb(...)`` gives raw texts and labels, and
``seqlab.datasets.imdb_keras.load_data(...)`` Keras's encoded IMDB.

>>> import seqlab as sl
>>> sl.datasets.names()
['bbc', 'imdb', 'nietzsche', 'snippets', 'tinyshakespeare']
>>> from seqlab.datasets.imdb_keras import load_data
>>> load_data is sl.datasets.imdb_keras.load_data
True
"""

from __future__ import annotations

import importlib

from seqlab._utils import public_dir

# The public names of seqlab.data.datasets, re-exported as they are ...
from seqlab.data.datasets import *  # noqa: F403
from seqlab.data.datasets import __all__

# ... except `imdb_keras`: here it is this package's own submodule, not the star import's
# seqlab.data.imdb_keras (a `from` import would find that one bound and keep it).
imdb_keras = importlib.import_module("seqlab.datasets.imdb_keras")

__dir__ = public_dir(__all__)
