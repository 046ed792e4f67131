"""Character- and word-level recurrent language models: train, load, generate, evaluate.

>>> import seqlab.lm as lm  # doctest: +SKIP
>>> model = lm.train("nietzsche", level="char", minutes=10, out="runs/nz")  # doctest: +SKIP
>>> model.generate("the will to truth", length=400, temperature=0.5, seed=0)  # doctest: +SKIP
>>> lm.load("runs/nz").evaluate(open("other.txt").read())  # doctest: +SKIP
"""

from seqlab._utils import public_dir
from seqlab.lm.data import (
    CharVocabulary,
    WordVocabulary,
    batchify,
    build_windows,
    get_chunk,
    load_corpus,
    split_text,
    tokenize_words,
)
from seqlab.lm.model import LanguageModel, load
from seqlab.lm.train import (
    RECIPES,
    LMConfig,
    corpus_prompt,
    demo_step,
    evaluate,
    make_config,
    train,
)

__all__ = [
    "RECIPES",
    "CharVocabulary",
    "LMConfig",
    "LanguageModel",
    "WordVocabulary",
    "batchify",
    "build_windows",
    "corpus_prompt",
    "demo_step",
    "evaluate",
    "get_chunk",
    "load",
    "load_corpus",
    "make_config",
    "split_text",
    "tokenize_words",
    "train",
]

__dir__ = public_dir(__all__)
