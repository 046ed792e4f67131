"""What one request may ask for (:class:`Limits`), and the checks that enforce it."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from seqlab.serve.errors import ApiError, short

__all__ = ["Limits", "check_chars", "check_word"]


@dataclass(frozen=True)
class Limits:
    """What one request may ask for; every limit is enforced with a clear 4xx error.

    ``max_text_chars``: characters per text or prompt; ``max_texts``: texts per classify
    request; ``max_length``: generated tokens; ``max_body_bytes``: request body size (413);
    ``timeout_s``: seconds of work per request (504; the work stops there, and a stream ends
    with an ``error`` event); ``max_topn``: neighbours per query; ``max_words``: words per
    projection; ``max_explain_tokens``: tokens explained by occlusion per request (422
    past it); ``max_queue``: requests waiting or running per model (503 with
    ``Retry-After`` past it); ``read_timeout_s``: seconds to receive a request's headers
    and its body (408).

    >>> Limits(max_text_chars=2000).max_text_chars
    2000
    """

    max_text_chars: int = 5_000
    max_texts: int = 64
    max_length: int = 2_000
    max_body_bytes: int = 1_000_000
    timeout_s: float = 30.0
    max_topn: int = 100
    max_words: int = 200
    max_explain_tokens: int = 2_000
    max_queue: int = 64
    read_timeout_s: float = 10.0

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            if not ok or not value > 0 or (isinstance(value, float) and math.isinf(value)):
                raise ValueError(f"Limits.{name} must be a finite number > 0, got {value!r}")


def check_chars(name: str, text: str, limits: Limits) -> None:
    if len(text) > limits.max_text_chars:
        raise ApiError(
            422,
            f"{name} has {len(text)} characters, more than max_text_chars={limits.max_text_chars}",
            field=name,
            value=text,
            fix=f"shorten it to {limits.max_text_chars} characters (or start the server "
            "with a larger --max-text-chars)",
        )


def check_word(name: str, word: str) -> None:
    if not word or len(word) > 200:
        raise ApiError(
            422,
            f"{name}={short(word, 40)!r} must be a word of 1 to 200 characters",
            field=name,
            value=word,
            fix="give one word, e.g. 'king'",
        )
