"""TextVectorizer's checks: its parameters (at ``fit`` / ``transform``, not in the
constructor) and a vocabulary given to ``set_vocabulary``. Every error names the parameter,
the value received and the fix."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from seqlab.text.keras_compat import KERAS_STANDARDIZE, check_keras_params
from seqlab.text.stop_words import stop_word_set
from seqlab.text.tokenize import LEVEL_CHOICES, check_ngram_range, check_standardize
from seqlab.text.vocab import OOV, PAD, check_max_tokens, check_min_count

OUTPUT_MODES = ("int", "one_hot", "multi_hot", "count", "freq", "tf_idf")
BAG_MODES = ("multi_hot", "count", "freq", "tf_idf")
COMPAT_CHOICES = (None, "keras")


def check_params(vec: Any) -> None:
    """Raise for the first bad parameter of the TextVectorizer ``vec``."""
    check_min_count(vec.min_count)
    if vec.output_mode not in OUTPUT_MODES:
        raise ValueError(f"output_mode must be one of {OUTPUT_MODES}, got {vec.output_mode!r}")
    if vec.maxlen is not None:
        if not isinstance(vec.maxlen, int) or isinstance(vec.maxlen, bool) or vec.maxlen < 1:
            raise ValueError(f"maxlen must be None or an int >= 1, got {vec.maxlen!r}")
        if vec.output_mode not in ("int", "one_hot"):
            raise ValueError(
                f"maxlen={vec.maxlen} only applies to output_mode='int' or 'one_hot', "
                f"got output_mode={vec.output_mode!r}; drop maxlen for bag modes"
            )
    if vec.level not in LEVEL_CHOICES:
        raise ValueError(f"level must be one of {LEVEL_CHOICES}, got {vec.level!r}")
    if vec.strip_html not in (None, True, False):
        raise TypeError(f"strip_html must be None, True or False, got {vec.strip_html!r}")
    try:
        kind = np.dtype(vec.dtype).kind
    except TypeError:
        kind = ""
    if kind != "f":
        raise ValueError(
            f"dtype must be a float dtype such as 'float32', got {vec.dtype!r} "
            "(it sets the values of the bag and one-hot outputs)"
        )
    for name in ("padding", "truncating"):
        if getattr(vec, name) not in ("pre", "post"):
            raise ValueError(f"{name} must be 'pre' or 'post', got {getattr(vec, name)!r}")
    if stop_word_set(vec.stop_words) and vec.level != "word":
        raise ValueError(
            f"stop_words apply to words, got level={vec.level!r}; drop stop_words or use "
            "level='word'"
        )
    _check_mode_params(vec)


def _check_mode_params(vec: Any) -> None:
    if vec.compat not in COMPAT_CHOICES:
        raise ValueError(
            f"compat must be None (seqlab's default mode) or 'keras' (Keras 3 "
            f"TextVectorization), got {vec.compat!r}"
        )
    if vec.compat == "keras":
        check_keras_params(vec)
        return
    check_max_tokens(vec.max_tokens)
    check_ngram_range(vec.ngram_range)
    if vec.standardize in KERAS_STANDARDIZE and vec.standardize not in ("lower", None):
        raise ValueError(
            f"standardize={vec.standardize!r} is Keras 3 TextVectorization's; pass "
            "compat='keras' for it (the default mode offers 'keras', 'regex', 'lower', None)"
        )
    check_standardize(vec.standardize, vec.token_pattern)
    if vec.ngrams is not None:
        raise ValueError(
            f"ngrams={vec.ngrams!r} is Keras's n-gram argument (compat='keras'); use "
            "ngram_range=(1, N) for orders 1..N in the default mode"
        )


def check_given_vocabulary(
    given: list[Any], special: list[str], max_tokens: int | None
) -> tuple[list[str], bool]:
    """The terms of a vocabulary given to ``set_vocabulary`` and whether it started with the
    ``special`` tokens (Keras's rule: they may lead, in this order, and nowhere else)."""
    has_special = given[: len(special)] == special
    terms = given[len(special) :] if has_special else given
    for i, t in enumerate(terms):
        if not isinstance(t, str) or t in (PAD, OOV):
            raise ValueError(
                f"vocabulary must hold str terms, with {special} only at its start, got "
                f"{t!r} at index {i + (len(given) - len(terms))}"
            )
    if len(set(terms)) != len(terms):
        twice = sorted({t for t in terms if terms.count(t) > 1})
        raise ValueError(f"vocabulary must not repeat a term, got {twice} more than once")
    if not terms:
        raise ValueError("vocabulary holds no terms; pass at least one")
    size = len(special) + len(terms)
    if max_tokens is not None and size > max_tokens:
        raise ValueError(
            f"vocabulary has {size} entries with the special tokens but max_tokens is "
            f"{max_tokens}; pass fewer terms or a larger max_tokens"
        )
    return terms, has_special


def given_idf(
    vec: Any, idf_weights: Sequence[float] | None, length: int, has_special: bool
) -> np.ndarray | None:
    """The idf of every output column from ``idf_weights`` given to ``set_vocabulary`` (one
    per entry of a vocabulary of ``length`` entries)."""
    keras = vec.compat == "keras"
    if vec.output_mode != "tf_idf":
        if idf_weights is not None:
            raise ValueError(
                f"idf_weights only apply to output_mode='tf_idf', got "
                f"output_mode={vec.output_mode!r}; drop idf_weights"
            )
        return None
    if idf_weights is None or len(idf_weights) != length:
        got = None if idf_weights is None else f"{len(idf_weights)} weights"
        raise ValueError(
            f"output_mode='tf_idf' needs idf_weights, one per vocabulary entry ({length}), "
            f"got {got}"
        )
    idf = np.array(idf_weights, dtype=np.float64)
    if not has_special:
        # Keras gives the OOV column the mean idf; the default mode never fills it.
        idf = np.concatenate([[idf.mean()] if keras else [0.0, 0.0], idf])
    if not keras:
        idf[:2] = 0.0
    return idf
