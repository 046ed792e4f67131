"""``seqlab.datasets.imdb_keras``: Keras's ``imdb.load_data`` and ``get_word_index``,
rebuilt from the raw IMDB reviews (the code and its documentation are in
:mod:`seqlab.data.imdb_keras`).

>>> from seqlab.datasets.imdb_keras import get_word_index, load_data
>>> load_data.__module__
'seqlab.data.imdb_keras'
"""

from __future__ import annotations

from seqlab.data.imdb_keras import get_word_index, load_data

__all__ = ["get_word_index", "load_data"]
