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

from seqlab._utils import public_dir
from seqlab.data.datasets import (
    TextDataset,
    bbc,
    corpus,
    corpus_stats,
    dataset_stats,
    describe,
    download,
    from_folder,
    from_table,
    imdb,
    imdb_path,
    info,
    iter_lines,
    load,
    names,
    snippets,
    train_test_split,
)
from seqlab.datasets import imdb_keras

__all__ = [
    "TextDataset",
    "bbc",
    "corpus",
    "corpus_stats",
    "dataset_stats",
    "describe",
    "download",
    "from_folder",
    "from_table",
    "imdb",
    "imdb_keras",
    "imdb_path",
    "info",
    "iter_lines",
    "load",
    "names",
    "snippets",
    "train_test_split",
]

__dir__ = public_dir(__all__)
