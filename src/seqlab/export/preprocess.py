"""What an exported model's ``predict.py`` needs to turn texts into its inputs, as JSON: the
vocabulary and every preprocessing setting, with the rules' constants (filters, patterns)
written out so that the script applies exactly what seqlab applied.

A classifier's ``preprocessing.json`` holds ``text`` (standardisation, tokenisation, stop
words, n-gram orders), then ``sequence`` (``maxlen``, ``padding``, ``truncating``, a fixed
length) or ``bag`` (the bag mode, Keras's column layout, the idf, the L2 normalisation);
a language model's holds its tokenizer (characters, or the word pattern) and lower-casing.

Every :class:`~seqlab.text.TextVectorizer` setting has an exact pure-Python reproduction in
``predict.py``; a vectorizer of another kind, or a setting this version does not know, is
refused with a one-line ValueError rather than exported to give other numbers.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from seqlab.lm.data import _NO_SPACE_AFTER, _NO_SPACE_BEFORE, _WORD_RE, CharVocabulary
from seqlab.text._params import check_params
from seqlab.text.fixed import FixedLengthVectorizer
from seqlab.text.keras_compat import _NOT_ASCII_SPACE, KERAS_PUNCTUATION
from seqlab.text.stop_words import stop_word_set
from seqlab.text.tokenize import _HTML_BREAK, DEFAULT_TOKEN_PATTERN, KERAS_FILTERS
from seqlab.text.vectorize import TextVectorizer

__all__ = ["REPRODUCED", "classifier_settings", "lm_settings"]

#: The TextVectorizer settings that predict.py reproduces (all of them, in this version).
REPRODUCED = frozenset(
    {
        "max_tokens",  # only decides the vocabulary, which is exported
        "min_count",  # idem
        "output_mode",
        "maxlen",
        "ngram_range",
        "level",
        "standardize",
        "token_pattern",
        "strip_html",
        "dtype",
        "padding",
        "truncating",
        "stop_words",
        "compat",
        "ngrams",
    }
)


def classifier_settings(
    vectorizer: Any, input_kind: str, fixed_maxlen: int | None
) -> tuple[dict[str, Any], list[str]]:
    """``(preprocessing settings, vocabulary)`` of a classifier run's vectorizer: the
    vocabulary is every term in id order (``""`` and ``"[UNK]"`` first).

    >>> vec = TextVectorizer(output_mode="tf_idf").fit(["a b", "b c"])
    >>> settings, vocab = classifier_settings(vec, "bag", None)
    >>> settings["bag"]["mode"], settings["bag"]["l2_normalize"], vocab
    ('tf_idf', True, ['', '[UNK]', 'b', 'a', 'c'])
    """
    inner = vectorizer.vectorizer if isinstance(vectorizer, FixedLengthVectorizer) else vectorizer
    if type(inner) is not TextVectorizer:
        raise ValueError(
            f"the run's vectorizer is a {type(inner).__name__}, not a seqlab TextVectorizer, so "
            "the exported predict.py cannot reproduce it; train the run with a TextVectorizer"
        )
    vec: TextVectorizer = inner
    defaults = {f.name: f.default for f in dataclasses.fields(TextVectorizer)}
    for name, value in vec.get_params().items():
        if name not in REPRODUCED and value != defaults.get(name):
            raise ValueError(
                f"the vectorizer setting {name}={value!r} has no pure-Python reproduction in "
                f"the exported predict.py (export would give other numbers than seqlab); train "
                f"with the default {name}={defaults.get(name)!r} to export the run"
            )
    check_params(vec)
    keras = vec.compat == "keras"
    settings: dict[str, Any] = {"text": _text_settings(vec)}
    if input_kind == "bag":
        mode = vec.output_mode
        settings["bag"] = {
            "mode": mode,
            "keras_layout": keras,  # no padding column: OOV counted in column 0
            "idf": None if vec.idf_ is None else [float(x) for x in vec.idf_],
            "l2_normalize": mode == "tf_idf" and not keras,
            "dtype": str(vec.dtype),
        }
    else:
        settings["sequence"] = {
            "maxlen": vec.maxlen,
            "padding": vec.padding,
            "truncating": vec.truncating,
            # rows padded to a rectangle, then stripped of id 0 (seqlab.data.batching)
            "strip_zeros": vec.maxlen is not None or keras,
            "fixed_length": fixed_maxlen,
        }
    return settings, list(vec.vocabulary_.itos)


def _text_settings(vec: TextVectorizer) -> dict[str, Any]:
    """How a text becomes the tokens whose ids make up its encoding."""
    keras = vec.compat == "keras"
    if vec.level == "char":
        strip = True if vec.strip_html is None else bool(vec.strip_html)
    else:
        strip = (not keras) if vec.strip_html is None else bool(vec.strip_html)
    pattern = vec.token_pattern
    if vec.standardize == "regex" and pattern is None:
        pattern = DEFAULT_TOKEN_PATTERN
    return {
        "level": vec.level,
        "compat": vec.compat,
        "standardize": vec.standardize,
        "token_pattern": pattern,
        "strip_html": strip,
        "html_break": _HTML_BREAK.pattern,  # matched ignoring case
        "keras_filters": KERAS_FILTERS,  # default mode's "keras": each becomes a space
        "keras_punctuation": KERAS_PUNCTUATION,  # compat="keras": each is deleted
        "keras_split": _NOT_ASCII_SPACE.pattern,  # compat="keras": runs of ASCII whitespace
        "stop_words": sorted(stop_word_set(vec.stop_words)),
        "orders": list(vec._orders()),
        "joiner": "" if vec.level == "char" else " ",
    }


def lm_settings(vocab: Any) -> tuple[dict[str, Any], list[str]]:
    """``(preprocessing settings, vocabulary)`` of a language model's vocabulary
    (:class:`~seqlab.lm.data.CharVocabulary` or :class:`~seqlab.lm.data.WordVocabulary`).

    >>> settings, itos = lm_settings(CharVocabulary.fit("abca"))
    >>> settings["level"], settings["unknown"], itos
    ('char', 'error', ['a', 'b', 'c'])
    """
    char = isinstance(vocab, CharVocabulary)
    settings = {
        "level": "char" if char else "word",
        "lower": bool(vocab.lower),
        # characters outside the vocabulary are refused; unknown words read as [UNK] (id 1)
        "unknown": "error" if char else 1,
        "word_pattern": None if char else _WORD_RE.pattern,
        "banned_ids": [int(i) for i in vocab.special_ids],  # never generated
        # word level: how generated tokens are joined (seqlab.lm.data.detokenize_words)
        "no_space_before": sorted(_NO_SPACE_BEFORE),
        "no_space_after": sorted(_NO_SPACE_AFTER),
    }
    return settings, list(vocab.itos)
