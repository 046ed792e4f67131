"""TextVectorizer's parameters: their checks (at ``fit`` / ``transform``, not in the
constructor; every error names the parameter, the value received and the fix), the
tokenizer they describe, their JSON form, and the checks of a vocabulary given to
``set_vocabulary``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from seqlab._checks import check_choice
from seqlab.text.keras_compat import KERAS_STANDARDIZE, check_keras_params, keras_word_tokenizer
from seqlab.text.stop_words import stop_word_set
from seqlab.text.tokenize import (
    LEVEL_CHOICES,
    char_standardizer,
    check_ngram_range,
    check_standardize,
    word_tokenizer,
)
from seqlab.text.vocab import OOV, PAD, check_max_tokens, check_min_count

OUTPUT_MODES = ("int", "one_hot", "multi_hot", "count", "freq", "tf_idf")
BAG_MODES = ("multi_hot", "count", "freq", "tf_idf")
COMPAT_CHOICES = (None, "keras")


def check_params(vec: Any) -> None:
    """Raise for the first bad parameter of the TextVectorizer ``vec``."""
    check_min_count(vec.min_count)
    check_choice("output_mode", vec.output_mode, OUTPUT_MODES)
    if vec.maxlen is not None:
        if not isinstance(vec.maxlen, int) or isinstance(vec.maxlen, bool) or vec.maxlen < 1:
            raise ValueError(f"maxlen must be None or an int >= 1, got {vec.maxlen!r}")
        if vec.output_mode not in ("int", "one_hot"):
            raise ValueError(
                f"maxlen={vec.maxlen} only applies to output_mode='int' or 'one_hot', "
                f"got output_mode={vec.output_mode!r}; drop maxlen for bag modes"
            )
    check_choice("level", vec.level, LEVEL_CHOICES)
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
        check_choice(name, getattr(vec, name), ("pre", "post"))
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


def word_tokenizer_of(vec: Any) -> Callable[[str], list[str]]:
    """``text -> words`` for the TextVectorizer ``vec``: its mode's standardisation and
    split, then its stop words removed."""
    keras = vec.compat == "keras"
    strip = (not keras) if vec.strip_html is None else vec.strip_html
    if keras:
        base = keras_word_tokenizer(vec.standardize, strip)
    else:
        base = word_tokenizer(vec.standardize, vec.token_pattern, strip)
    stop = stop_word_set(vec.stop_words)
    if not stop:
        return base
    return lambda text: [t for t in base(text) if t not in stop]


def char_standardizer_of(vec: Any) -> Callable[[str], str]:
    """``text -> standardised text`` (its characters are the tokens) for ``level="char"``."""
    strip = True if vec.strip_html is None else vec.strip_html
    return char_standardizer(vec.standardize, vec.token_pattern, strip)


def params_to_json(params: dict[str, Any]) -> dict[str, Any]:
    """``get_params()`` as JSON values: tuples as lists, a stop-word list sorted."""
    out = dict(params)
    out["ngram_range"] = list(params["ngram_range"])
    if isinstance(params["ngrams"], tuple | list):
        out["ngrams"] = list(params["ngrams"])
    if params["stop_words"] is not None and not isinstance(params["stop_words"], str):
        out["stop_words"] = sorted(stop_word_set(params["stop_words"]))
    return out


def params_from_json(params: Mapping[str, Any], names: set[str]) -> dict[str, Any]:
    """Constructor arguments from :func:`params_to_json` output (``names``: the valid ones;
    a parameter missing from an older file keeps its default)."""
    unknown = set(params) - names
    if unknown:
        raise ValueError(f"unknown TextVectorizer parameters {sorted(unknown)} in the file")
    out = dict(params)
    out["ngram_range"] = tuple(out.get("ngram_range", (1, 1)))
    if isinstance(out.get("ngrams"), list):
        out["ngrams"] = tuple(out["ngrams"])
    return out


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
