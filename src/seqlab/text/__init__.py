"""Text to numbers: tokenizers, the vocabulary, ``TextVectorizer`` and ``pad_sequences``.

>>> from seqlab.text import TextVectorizer
>>> TextVectorizer(maxlen=3).fit(["a tiny corpus"]).transform(["tiny"]).tolist()
[[3, 0, 0]]
"""

from seqlab._utils import public_dir
from seqlab.text.fixed import FixedLengthVectorizer
from seqlab.text.sequences import pad_sequences
from seqlab.text.stop_words import ENGLISH_STOP_WORDS, read_stop_words
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
from seqlab.text.vectorize import (
    BAG_MODES,
    COMPAT_CHOICES,
    OUTPUT_MODES,
    NotFittedError,
    TextVectorizer,
)
from seqlab.text.vocab import OOV, OOV_ID, PAD, PAD_ID, Vocabulary

__all__ = [
    "BAG_MODES",
    "COMPAT_CHOICES",
    "DEFAULT_TOKEN_PATTERN",
    "ENGLISH_STOP_WORDS",
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
    "read_stop_words",
    "strip_html_breaks",
    "tokenize_chars",
    "tokenize_words",
    "word_ngrams",
    "word_tokenizer",
]

__dir__ = public_dir(__all__)
