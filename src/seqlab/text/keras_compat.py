"""Keras 3 ``TextVectorization`` rules: what ``TextVectorizer(compat="keras")`` follows.

Read from Keras 3's ``keras/src/layers/preprocessing/text_vectorization.py`` and
``index_lookup.py`` (and TensorFlow's string ops they call), and checked against cases
ported from Keras's own tests (``tests/test_text_keras_compat.py``):

* **standardize** ``"lower_and_strip_punctuation"`` (Keras's default; ``standardize="keras"``,
  TextVectorizer's default, means it in this mode): ``tf.strings.lower`` (ASCII letters only:
  ``"É"`` stays ``"É"``), then every match of :data:`KERAS_PUNCTUATION_REGEX` is deleted (the
  apostrophe too: ``"don't"`` becomes ``"dont"``); also ``"lower"``, ``"strip_punctuation"``
  and ``None``.
* **split** on runs of ASCII whitespace (space, ``\\t``, ``\\n``, ``\\v``, ``\\f``, ``\\r``),
  as ``tf.strings.split`` does; other Unicode spaces stay inside tokens.
* **ngrams**: ``None`` = words only, an int ``N`` = orders ``1..N``, a tuple = exactly those
  orders (``(1, 3)``: words and trigrams, no bigrams), in the order given.
* **vocabulary**: terms by total count, descending; ties by the term itself, descending
  (``np.lexsort((tokens, counts))[::-1]``); ``max_tokens`` counts ``[UNK]`` and, in
  ``int`` mode, the mask ``""``; literal ``""`` / ``"[UNK]"`` tokens are never terms.
* **int**: 0 = mask (padding), 1 = ``[UNK]``, terms from 2. With ``output_sequence_length``
  (``maxlen``) rows are cut at the end and padded with 0 at the end; without it a batch is
  padded at the end to its longest row.
* **multi_hot / count / tf_idf**: no padding column: 0 = ``[UNK]`` (out-of-vocabulary
  tokens are counted there), terms from 1. ``tf_idf`` is ``count * idf`` with
  ``idf = ln(1 + N / (1 + df))`` (``N`` documents, ``df`` documents containing the term) and
  the mean idf of the terms for ``[UNK]``; rows are not normalised.

Beyond Keras, and off unless asked for: ``min_count``, ``stop_words``, ``padding`` /
``truncating="pre"``, ``strip_html=True``. An empty vocabulary is an error here (Keras
keeps one with no terms).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from seqlab._checks import check_choice
from seqlab.text.tokenize import strip_html_breaks
from seqlab.text.vocab import OOV, PAD

__all__ = [
    "KERAS_OUTPUT_MODES",
    "KERAS_PUNCTUATION",
    "KERAS_PUNCTUATION_REGEX",
    "KERAS_STANDARDIZE",
    "check_keras_params",
    "keras_idf",
    "keras_ngram_orders",
    "keras_split",
    "keras_standardizer",
    "keras_word_tokenizer",
    "select_by_count_then_token",
]

# Verbatim from TextVectorization._preprocess (a character class of ASCII characters only).
KERAS_PUNCTUATION_REGEX = r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']'
KERAS_PUNCTUATION = "".join(c for c in map(chr, range(128)) if re.match(KERAS_PUNCTUATION_REGEX, c))
KERAS_STANDARDIZE = ("lower_and_strip_punctuation", "lower", "strip_punctuation", None)
KERAS_OUTPUT_MODES = ("int", "multi_hot", "count", "tf_idf")

_DELETE_PUNCTUATION = str.maketrans("", "", KERAS_PUNCTUATION)
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_ASCII_LOWER_AND_STRIP = str.maketrans(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz", KERAS_PUNCTUATION
)
_NOT_ASCII_SPACE = re.compile(r"[^ \t\n\v\f\r]+")


def keras_standardizer(standardize: str | None) -> Callable[[str], str]:
    """Keras's standardisation ``text -> text`` (``"keras"`` is ``"lower_and_strip_punctuation"``).

    >>> keras_standardizer("keras")("Don't STOP, Élan!")
    'dont stop Élan'
    """
    check_choice(
        "standardize",
        standardize,
        (*KERAS_STANDARDIZE, "keras"),
        fix="compat='keras' takes Keras's names ('keras' is 'lower_and_strip_punctuation')",
    )
    if standardize is None:
        return lambda text: text
    if standardize == "lower":
        table = _ASCII_LOWER
    elif standardize == "strip_punctuation":
        table = _DELETE_PUNCTUATION
    else:  # "keras" or "lower_and_strip_punctuation"
        table = _ASCII_LOWER_AND_STRIP
    return lambda text: text.translate(table)


def keras_split(text: str) -> list[str]:
    """Split on runs of ASCII whitespace, as ``tf.strings.split(text)``.

    >>> keras_split(" a\\tb\\u00a0c ")
    ['a', 'b\\xa0c']
    """
    return _NOT_ASCII_SPACE.findall(text)


def keras_word_tokenizer(
    standardize: str | None, strip_html: bool = False
) -> Callable[[str], list[str]]:
    """``text -> words``: :func:`keras_standardizer`, then :func:`keras_split`; with
    ``strip_html`` the ``<br />`` line breaks are replaced by a space first (not Keras).

    >>> keras_word_tokenizer("keras")("Hello, World!. This is just a nice test!")
    ['hello', 'world', 'this', 'is', 'just', 'a', 'nice', 'test']
    """
    std = keras_standardizer(standardize)
    findall = _NOT_ASCII_SPACE.findall
    if strip_html:
        return lambda text: findall(std(strip_html_breaks(text)))
    return lambda text: findall(std(text))


def keras_ngram_orders(ngrams: int | Sequence[int] | None) -> tuple[int, ...]:
    """The n-gram orders of Keras's ``ngrams`` argument.

    >>> keras_ngram_orders(None), keras_ngram_orders(2), keras_ngram_orders((1, 3))
    ((1,), (1, 2), (1, 3))
    """
    if ngrams is None:
        return (1,)
    if isinstance(ngrams, int) and not isinstance(ngrams, bool):
        if ngrams < 1:
            raise ValueError(f"ngrams must be None, an int >= 1 or a tuple of ints, got {ngrams!r}")
        return tuple(range(1, ngrams + 1))
    ok = (
        isinstance(ngrams, list | tuple)
        and len(ngrams) > 0
        and all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in ngrams)
    )
    if not ok or len(set(ngrams)) != len(ngrams):  # type: ignore[arg-type]
        raise ValueError(
            f"ngrams must be None, an int N >= 1 (orders 1..N) or a tuple of distinct orders "
            f">= 1 such as (1, 3), got {ngrams!r}"
        )
    return tuple(int(n) for n in ngrams)  # type: ignore[union-attr]


def check_keras_params(vec: Any) -> None:
    """Refuse the TextVectorizer parameters that Keras's mode does not take (one-line errors
    naming the parameter, the value and the fix)."""
    check_choice(
        "output_mode",
        vec.output_mode,
        KERAS_OUTPUT_MODES,
        fix="compat='keras' takes Keras's modes only; drop compat='keras' for 'one_hot' or 'freq'",
    )
    if vec.level != "word":
        raise ValueError(
            f"level={vec.level!r} is not available with compat='keras' (it splits words on "
            "whitespace); drop compat='keras' for characters"
        )
    if vec.token_pattern is not None:
        raise ValueError(
            f"token_pattern={vec.token_pattern!r} is not used with compat='keras'; drop it"
        )
    if tuple(vec.ngram_range) != (1, 1):
        raise ValueError(
            f"compat='keras' takes Keras's ngrams= (an int N for orders 1..N, or a tuple of "
            f"orders), not ngram_range={tuple(vec.ngram_range)!r}; e.g. ngrams=2"
        )
    keras_ngram_orders(vec.ngrams)
    keras_standardizer(vec.standardize)
    m = vec.max_tokens
    if m is not None and (not isinstance(m, int) or isinstance(m, bool) or m < 2):
        raise ValueError(
            f"max_tokens must be None or an int >= 2 with compat='keras' (it counts [UNK], "
            f"and the padding '' in int mode), got {m!r}"
        )


def select_by_count_then_token(
    counts: np.ndarray,
    strings_of: Callable[[np.ndarray], list[str]],
    limit: int | None,
    min_count: int = 1,
) -> tuple[np.ndarray, list[str]]:
    """Indices and strings of the kept candidates in Keras's order: count descending, then
    the term descending; at most ``limit``, each counted at least ``min_count`` times.

    Only the candidates that can make the cut are turned into strings: at most two are
    reserved (``""``, ``"[UNK]"``), so those counted at least as often as the
    ``limit + 2``-th most frequent one suffice.
    """
    eligible = np.flatnonzero(counts >= min_count)
    if limit is not None and len(eligible) > limit + 2:
        c = counts[eligible]
        cut = -np.partition(-c, limit + 1)[limit + 1]
        eligible = eligible[c >= cut]
    strings = strings_of(eligible)
    ranked = sorted(
        (
            (int(n), s, int(i))
            for n, s, i in zip(counts[eligible].tolist(), strings, eligible.tolist())
            if s not in (PAD, OOV)
        ),
        reverse=True,
    )[:limit]
    chosen = np.array([i for _, _, i in ranked], dtype=np.int64)
    return chosen, [s for _, s, _ in ranked]


def keras_idf(df: np.ndarray, num_documents: int) -> np.ndarray:
    """Keras's idf for Keras's bag layout: ``[mean, idf(term 1), ...]`` with
    ``idf = ln(1 + N / (1 + df))``.

    >>> keras_idf(np.array([3, 2, 1]), 6).round(4).tolist()
    [1.1337, 0.9163, 1.0986, 1.3863]
    """
    idf = np.log(1.0 + num_documents / (1.0 + np.asarray(df, dtype=np.float64)))
    return np.concatenate([[idf.mean() if len(idf) else 0.0], idf])
