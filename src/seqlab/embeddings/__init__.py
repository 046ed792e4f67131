"""Word embeddings: load GloVe / word2vec / fastText vectors, query them, evaluate them,
train word2vec, and build an embedding matrix for a vocabulary.

>>> import seqlab as sl
>>> kv = sl.embeddings.load("../shared/data/embeddings/glove.6B.50d.txt.gz")  # doctest: +SKIP
>>> kv.most_similar("king", topn=3)                                           # doctest: +SKIP
[('prince', 0.824), ('queen', 0.784), ('ii', 0.775)]
"""

from __future__ import annotations

from seqlab._utils import public_dir
from seqlab.embeddings.evaluate import evaluate_analogies, evaluate_word_pairs
from seqlab.embeddings.io import (
    clear_cache,
    load,
    load_fasttext,
    load_glove,
    load_word2vec,
    save_glove,
    save_word2vec_format,
)
from seqlab.embeddings.keyed import KeyedVectors, WordNotFound
from seqlab.embeddings.matrix import build_embedding_matrix
from seqlab.embeddings.plots import pca_2d, plot_words
from seqlab.embeddings.word2vec import Word2Vec

__all__ = [
    "KeyedVectors",
    "Word2Vec",
    "WordNotFound",
    "build_embedding_matrix",
    "clear_cache",
    "evaluate_analogies",
    "evaluate_word_pairs",
    "load",
    "load_fasttext",
    "load_glove",
    "load_word2vec",
    "pca_2d",
    "plot_words",
    "save_glove",
    "save_word2vec_format",
]

__dir__ = public_dir(__all__)
