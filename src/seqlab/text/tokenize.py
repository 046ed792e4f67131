"""Tokenizers: text standardisation, words, characters and n-grams.

Two word standardisations are offered, each matching a library users know:

* ``"keras"`` -- the Keras ``Tokenizer`` / ``text_to_word_sequence`` rule: lowercase, replace
  every character of ``!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\\t\\n`` by a space, split on whitespace.
  The apostrophe is kept, so ``"don't"`` stays one token. (Keras splits on ``" "`` only; we
  split on any whitespace, which differs only for ``\\r``, ``\\f``, ``\\v`` and Unicode spaces.)
  This is not Keras 3's ``TextVectorization``, which deletes punctuation, the apostrophe too
  (``"dont"``): that rule is ``TextVectorizer(compat="keras")``, see
  :mod:`seqlab.text.keras_compat`.
* ``"regex"`` -- the scikit-learn ``CountVectorizer`` rule: lowercase, then keep every match
  of ``token_pattern`` (default ``(?u)\\b\\w\\w+\\b``: words of two or more word characters).

``"lower"`` (lowercase, split on whitespace) and ``None`` (split on whitespace) keep
punctuation. HTML line breaks (``<br />``, ``<br/>``, ``<br>``, as in the IMDB reviews) can be
replaced by a space first.

N-grams follow scikit-learn: word n-grams are joined by a single space, character n-grams are
substrings of the standardised text, and all n-grams of the smallest order come first.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

from seqlab._checks import check_choice

__all__ = [
    "DEFAULT_TOKEN_PATTERN",
    "KERAS_FILTERS",
    "LEVEL_CHOICES",
    "LM_WORD_PATTERN",
    "STANDARDIZE_CHOICES",
    "char_ngrams",
    "char_standardizer",
    "check_ngram_range",
    "check_standardize",
    "ngrams_of_orders",
    "strip_html_breaks",
    "tokenize_chars",
    "tokenize_words",
    "word_ngrams",
    "word_tokenizer",
]

KERAS_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'
DEFAULT_TOKEN_PATTERN = r"(?u)\b\w\w+\b"
# A word-level language model's tokens (seqlab.lm.tokenize_words): words, numbers and
# contractions whole, every other non-space character and every newline a token of its own.
# As a TextVectorizer ``token_pattern`` (standardize="regex") it gives a classifier the same
# tokens, which is how a classifier started from a language model reads its ids.
LM_WORD_PATTERN = r"\w+(?:['’]\w+)*|[^\w\s]|\n"
STANDARDIZE_CHOICES = ("keras", "regex", "lower", None)
LEVEL_CHOICES = ("word", "char")

_HTML_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_KERAS_TABLE = str.maketrans(dict.fromkeys(KERAS_FILTERS, " "))


def strip_html_breaks(text: str) -> str:
    """Replace the HTML line breaks ``<br />``, ``<br/>`` and ``<br>`` by a space.

    >>> strip_html_breaks("Great.<br /><br />Loved it")
    'Great.  Loved it'
    """
    return _HTML_BREAK.sub(" ", text)


def check_standardize(standardize: str | None, token_pattern: str | None = None) -> None:
    """Raise a clear error for an unknown ``standardize`` or a misplaced ``token_pattern``."""
    check_choice(
        "standardize",
        standardize,
        STANDARDIZE_CHOICES,
        fix="'keras' turns the Keras Tokenizer's filters into spaces, 'regex' keeps "
        "token_pattern matches",
    )
    if token_pattern is not None:
        if standardize != "regex":
            raise ValueError(
                f"token_pattern={token_pattern!r} is only used with standardize='regex', "
                f"got standardize={standardize!r}; pass standardize='regex' or drop token_pattern"
            )
        if not isinstance(token_pattern, str):
            raise TypeError(f"token_pattern must be a str, got {type(token_pattern).__name__}")
        if re.compile(token_pattern).groups > 1:
            raise ValueError(
                f"token_pattern={token_pattern!r} has more than one capturing group; "
                "use at most one (the group is the token), e.g. (?:...) for the others"
            )


def word_tokenizer(
    standardize: str | None = "keras",
    token_pattern: str | None = None,
    strip_html: bool = False,
) -> Callable[[str], list[str]]:
    """A function ``text -> list of word tokens`` for the chosen standardisation.

    >>> word_tokenizer("keras")("Hello, World! Don't")
    ['hello', 'world', "don't"]
    >>> word_tokenizer("regex")("Hello, World! I don't")
    ['hello', 'world', 'don']
    """
    check_standardize(standardize, token_pattern)
    if standardize == "keras":

        def tokens(text: str) -> list[str]:
            return text.lower().translate(_KERAS_TABLE).split()

    elif standardize == "regex":
        findall = re.compile(token_pattern or DEFAULT_TOKEN_PATTERN).findall

        def tokens(text: str) -> list[str]:
            return findall(text.lower())

    elif standardize == "lower":

        def tokens(text: str) -> list[str]:
            return text.lower().split()

    else:

        def tokens(text: str) -> list[str]:
            return text.split()

    if not strip_html:
        return tokens
    sub = _HTML_BREAK.sub
    return lambda text: tokens(sub(" ", text))


def char_standardizer(
    standardize: str | None = None,
    token_pattern: str | None = None,
    strip_html: bool = False,
) -> Callable[[str], str]:
    """A function ``text -> standardised text`` whose characters are the char-level tokens.

    For ``"keras"`` and ``"regex"`` the text is the word tokens joined by single spaces (so
    punctuation is gone and whitespace runs collapse); ``"lower"`` only lowercases and
    ``None`` keeps the text as it is (newlines included, as a character language model wants).

    >>> char_standardizer("keras")("Hi,  there!")
    'hi there'
    >>> char_standardizer(None)("Hi,\\nthere!")
    'Hi,\\nthere!'
    """
    check_standardize(standardize, token_pattern)
    if standardize in ("keras", "regex"):
        words = word_tokenizer(standardize, token_pattern, strip_html)
        return lambda text: " ".join(words(text))
    if standardize == "lower":
        base: Callable[[str], str] = str.lower
    else:

        def base(text: str) -> str:
            return text

    if not strip_html:
        return base
    sub = _HTML_BREAK.sub
    return lambda text: base(sub(" ", text))


def tokenize_words(
    text: str,
    standardize: str | None = "keras",
    token_pattern: str | None = None,
    strip_html: bool = False,
) -> list[str]:
    """Split ``text`` into word tokens (see the module docstring for the rules).

    >>> tokenize_words("Great film!<br />A must-see.", strip_html=True)
    ['great', 'film', 'a', 'must', 'see']
    """
    _check_text(text)
    return word_tokenizer(standardize, token_pattern, strip_html)(text)


def tokenize_chars(
    text: str,
    standardize: str | None = None,
    token_pattern: str | None = None,
    strip_html: bool = False,
) -> list[str]:
    """Split ``text`` into characters of its standardised form (see :func:`char_standardizer`).

    >>> tokenize_chars("Ab c", standardize="lower")
    ['a', 'b', ' ', 'c']
    """
    _check_text(text)
    return list(char_standardizer(standardize, token_pattern, strip_html)(text))


def check_ngram_range(ngram_range: Sequence[int]) -> tuple[int, int]:
    """Validate ``ngram_range`` and return it as a tuple ``(min_n, max_n)``."""
    ok = (
        isinstance(ngram_range, list | tuple)
        and len(ngram_range) == 2
        and all(isinstance(n, int) and not isinstance(n, bool) for n in ngram_range)
    )
    if not ok or not 1 <= ngram_range[0] <= ngram_range[1]:
        raise ValueError(
            f"ngram_range must be a pair (min_n, max_n) of ints with 1 <= min_n <= max_n, "
            f"got {ngram_range!r}; e.g. (1, 2) for unigrams and bigrams"
        )
    return int(ngram_range[0]), int(ngram_range[1])


def word_ngrams(tokens: Sequence[str], ngram_range: Sequence[int] = (1, 1)) -> list[str]:
    """All word n-grams of ``tokens`` for ``min_n <= n <= max_n``, joined by single spaces.

    Order as in scikit-learn: every n-gram of order ``min_n`` left to right, then order
    ``min_n + 1``, and so on. A document shorter than ``n`` has no n-grams of order ``n``.

    >>> word_ngrams(["a", "b", "c"], (1, 2))
    ['a', 'b', 'c', 'a b', 'b c']
    """
    return _ngrams(list(tokens), ngram_range, " ")


def char_ngrams(text: str | Sequence[str], ngram_range: Sequence[int] = (1, 1)) -> list[str]:
    """All character n-grams of ``text`` (a string or a list of characters), shortest first.

    >>> char_ngrams("abc", (2, 3))
    ['ab', 'bc', 'abc']
    """
    chars = text if isinstance(text, str) else "".join(text)
    min_n, max_n = check_ngram_range(ngram_range)
    out: list[str] = []
    for n in range(min_n, min(max_n, len(chars)) + 1):
        out.extend(chars[i : i + n] for i in range(len(chars) - n + 1))
    return out


def _ngrams(tokens: list[str], ngram_range: Sequence[int], joiner: str) -> list[str]:
    min_n, max_n = check_ngram_range(ngram_range)
    return ngrams_of_orders(tokens, range(min_n, max_n + 1), joiner)


def ngrams_of_orders(tokens: list[str], orders: Iterable[int], joiner: str = " ") -> list[str]:
    """The n-grams of ``tokens`` for each order in ``orders``, order by order as listed
    (Keras's ``ngrams=(1, 3)`` is ``orders=(1, 3)``; scikit-learn's ``ngram_range=(1, 3)`` is
    ``orders=range(1, 4)``). A document shorter than ``n`` has no n-grams of order ``n``.

    >>> ngrams_of_orders(["a", "b", "c"], (1, 3))
    ['a', 'b', 'c', 'a b c']
    """
    orders = tuple(orders)
    if orders == (1,):
        return tokens
    out: list[str] = []
    for n in orders:
        if n == 1:
            out.extend(tokens)
        else:
            out.extend(joiner.join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    return out


def _check_text(text: object) -> None:
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}; decode bytes first")
