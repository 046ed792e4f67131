"""Neural network models, each registered by name (see :mod:`seqlab.models.registry`).

Every model class is importable from here, and buildable by its registered name; every
model takes ``init="torch" | "keras"`` (:mod:`seqlab.models.initializers`), every classifier
``head="softmax" | "sigmoid"`` (:mod:`seqlab.models.heads`), and :func:`summary` shows any of
them as Keras's ``model.summary()`` does:

>>> from seqlab.models import LSTMClassifier, build
>>> type(build("lstm", vocab_size=50, embedding_dim=8, hidden_size=8)) is LSTMClassifier
True
"""

from seqlab._utils import public_dir
from seqlab.defaults import DEFAULT_INIT, HEADS, INITS
from seqlab.models.cnn import CNNClassifier, KimCNNClassifier
from seqlab.models.dense import BagOfWordsMLP
from seqlab.models.embed_dense import EmbeddingDenseClassifier
from seqlab.models.embedding import Embedding, SequenceClassifier
from seqlab.models.esn import ESN, ESNClassifier, Reservoir
from seqlab.models.fasttext import FastTextClassifier
from seqlab.models.gpt import TransformerLanguageModel
from seqlab.models.layer_summary import LayerRow, ModelSummary, summarize, summary
from seqlab.models.lm import CharLSTM, GRULanguageModel, LSTMLanguageModel, RecurrentLanguageModel
from seqlab.models.registry import available, build, get, rebuild, register
from seqlab.models.rnn import (
    GRUClassifier,
    LSTMClassifier,
    RecurrentClassifier,
    SimpleRNNClassifier,
)
from seqlab.models.tdnn import TDNNClassifier
from seqlab.models.transformer import TransformerClassifier

__all__ = [
    "DEFAULT_INIT",
    "HEADS",
    "INITS",
    "BagOfWordsMLP",
    "CNNClassifier",
    "CharLSTM",
    "ESN",
    "ESNClassifier",
    "Embedding",
    "EmbeddingDenseClassifier",
    "FastTextClassifier",
    "GRUClassifier",
    "GRULanguageModel",
    "KimCNNClassifier",
    "LSTMClassifier",
    "LayerRow",
    "LSTMLanguageModel",
    "ModelSummary",
    "RecurrentClassifier",
    "RecurrentLanguageModel",
    "Reservoir",
    "SequenceClassifier",
    "SimpleRNNClassifier",
    "TDNNClassifier",
    "TransformerClassifier",
    "TransformerLanguageModel",
    "available",
    "build",
    "get",
    "rebuild",
    "register",
    "summarize",
    "summary",
]


__dir__ = public_dir(__all__)
