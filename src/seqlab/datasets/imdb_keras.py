"""``seqlab.datasets.imdb_keras``: Keras's ``imdb.load_data`` and ``get_word_index``, read
from Keras's own ``imdb.npz`` / ``imdb_word_index.json`` (found locally or downloaded) or
rebuilt from the raw IMDB reviews (the code and its documentation are in
:mod:`seqlab.data.imdb_keras`).

>>> from seqlab.datasets.imdb_keras import get_word_index, load_data
>>> load_data.__module__
'seqlab.data.imdb_keras'
"""

from __future__ import annotations

from seqlab.data.imdb_keras import (
    KERAS_FILES,
    KERAS_ORIGIN,
    SOURCES,
    get_word_index,
    keras_folders,
    load_data,
)

__all__ = ["KERAS_FILES", "KERAS_ORIGIN", "SOURCES", "get_word_index", "keras_folders", "load_data"]
