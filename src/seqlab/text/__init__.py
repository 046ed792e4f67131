"""Text to numbers: tokenizers, the vocabulary, ``TextVectorizer`` and ``pad_sequences``.

>>> from seqlab.text import TextVectorizer
>>> TextVectorizer(maxlen=3).fit(["a tiny corpus"]).transform(["tiny"]).tolist()
[[3, 0, 0]]
"""

from seqlab._utils import public_dir
from seqlab.text.fixed import FixedLengthVectorizer
from seqlab.text.sequences import pad_sequences
from seqlab.text.tokenize import (
    DEFAULT_TOKEN_PATTERN,
    KERAS_FILTERS,
    char_ngrams,
    char_standardizer,
    strip_html_breaks,
    tokenize_chars,
    tokenize_words,
    word_ngrams,
    word_tokenizer,
)
from seqlab.text.vectorize import BAG_MODES, OUTPUT_MODES, NotFittedError, TextVectorizer
from seqlab.text.vocab import OOV, OOV_ID, PAD, PAD_ID, Vocabulary

__all__ = [
    "BAG_MODES",
    "DEFAULT_TOKEN_PATTERN",
    "FixedLengthVectorizer",
    "KERAS_FILTERS",
    "OOV",
    "OOV_ID",
    "OUTPUT_MODES",
    "PAD",
    "PAD_ID",
    "NotFittedError",
    "TextVectorizer",
    "Vocabulary",
    "char_ngrams",
    "char_standardizer",
    "pad_sequences",
    "strip_html_breaks",
    "tokenize_chars",
    "tokenize_words",
    "word_ngrams",
    "word_tokenizer",
]

__dir__ = public_dir(__all__)
