"""Vocabulary: the token <-> id table, with Keras's reserved ids 0 (padding) and 1 (OOV).

Order of the real terms (ids 2, 3, ...): frequency descending, ties broken by first occurrence
in the corpus. That is exactly the order of the Keras ``Tokenizer`` (a stable sort of its
insertion-ordered ``word_counts``), shifted by one because Keras reserves only index 0.

``max_tokens`` counts the two reserved entries (as Keras's ``TextVectorization`` does in
``int`` mode; its bag modes have no padding entry, see :mod:`seqlab.text.keras_compat`):
``max_tokens=10`` keeps the 8 most frequent terms.
``min_count`` drops terms seen fewer than ``min_count`` times in the whole corpus (a total
count, not a document frequency like scikit-learn's ``min_df``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from seqlab._utils import PathLike, atomic_write_json, read_json

__all__ = [
    "OOV",
    "OOV_ID",
    "PAD",
    "PAD_ID",
    "Vocabulary",
    "check_max_tokens",
    "check_min_count",
    "empty_vocabulary_error",
    "select_by_count_then_first",
]

PAD = ""
OOV = "[UNK]"
PAD_ID = 0
OOV_ID = 1
_FORMAT = "seqlab.Vocabulary"


def check_max_tokens(max_tokens: int | None) -> None:
    """``max_tokens`` is None or an int >= 3 (padding + OOV + at least one term)."""
    if max_tokens is None:
        return
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 3:
        raise ValueError(
            f"max_tokens must be None or an int >= 3 (it counts the padding and OOV entries), "
            f"got {max_tokens!r}"
        )


def check_min_count(min_count: int) -> None:
    """``min_count`` is an int >= 1."""
    if not isinstance(min_count, int) or isinstance(min_count, bool) or min_count < 1:
        raise ValueError(f"min_count must be an int >= 1, got {min_count!r}")


def empty_vocabulary_error(
    min_count: int, max_tokens: int | None, num_documents: int, num_distinct: int
) -> ValueError:
    """The error raised when pruning leaves no term (echoes what was received)."""
    if num_distinct == 0:
        return ValueError(
            f"After pruning, no terms remain: the {num_documents} documents contained no tokens; "
            "pass non-empty documents or check standardize / token_pattern / level."
        )
    return ValueError(
        f"After pruning, no terms remain (min_count={min_count}, max_tokens={max_tokens}, "
        f"{num_documents} documents, {num_distinct} distinct terms before pruning). "
        "Try a lower min_count or a higher max_tokens."
    )


def select_by_count_then_first(
    counts: np.ndarray,
    first: np.ndarray,
    strings_of: Callable[[np.ndarray], list[str]],
    limit: int | None,
    min_count: int = 1,
) -> tuple[np.ndarray, list[str]]:
    """Indices and strings of the kept candidates in vocabulary order: count descending,
    then first occurrence (``first``, all distinct) ascending; at most ``limit``, each
    counted at least ``min_count`` times; the reserved ``""`` / ``"[UNK]"`` are skipped.

    >>> select_by_count_then_first(np.array([1, 2, 1]), np.arange(3), list, None)[0].tolist()
    [1, 0, 2]
    """
    eligible = np.flatnonzero(counts >= min_count)
    order = eligible[_order_by_count_then_first(counts[eligible], first[eligible])]
    limit = len(order) if limit is None else limit
    # Two spares: a literal "[UNK]" (or "") token, possible with standardize=None, is no term.
    chosen = order[: limit + 2]
    terms = strings_of(chosen)
    reserved = [i for i, t in enumerate(terms) if t in (OOV, PAD)]
    if reserved:
        keep = np.ones(len(chosen), dtype=bool)
        keep[reserved] = False
        chosen = chosen[keep]
        terms = [t for i, t in enumerate(terms) if keep[i]]
    return chosen[:limit], terms[:limit]


def _order_by_count_then_first(counts: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Indices sorting by count descending, then first occurrence ascending (all distinct)."""
    if len(counts) == 0:
        return np.zeros(0, dtype=np.int64)
    top = int(counts.max())
    span = int(first.max()) + 1
    if (top + 1) * span < 2**62:
        return np.argsort((top - counts) * span + first)
    return np.lexsort((first, -counts))


class Vocabulary:
    """An ordered token table: ``itos[0] == ""`` (padding), ``itos[1] == "[UNK]"`` (OOV).

    Build it from the real terms in order, or fit it on a corpus with :meth:`fit`.

    >>> v = Vocabulary.fit([["the", "cat"], ["the", "dog"]])
    >>> v.itos
    ['', '[UNK]', 'the', 'cat', 'dog']
    >>> v.encode(["the", "bird"]), v.decode([2, 1, 0])
    ([2, 1], ['the', '[UNK]'])
    """

    pad_id = PAD_ID
    oov_id = OOV_ID

    def __init__(self, terms: Iterable[str] = ()) -> None:
        if isinstance(terms, str):
            raise TypeError("terms must be a list of tokens, got a single str; wrap it: [term]")
        self.itos: list[str] = [PAD, OOV, *terms]
        self._stoi: dict[str, int] | None = dict(zip(self.itos, range(len(self.itos))))
        if len(self._stoi) != len(self.itos):
            self._raise_invalid()

    @classmethod
    def _from_distinct(cls, terms: list[str]) -> Vocabulary:
        # For callers that already guarantee distinct str terms: the lookup dict is built on
        # first use, which saves a large dict when only fit_transform is needed.
        vocab = cls.__new__(cls)
        vocab.itos = [PAD, OOV, *terms]
        vocab._stoi = None
        return vocab

    @property
    def stoi(self) -> dict[str, int]:
        """The token -> id dict."""
        if self._stoi is None:
            self._stoi = dict(zip(self.itos, range(len(self.itos))))
        return self._stoi

    def _raise_invalid(self) -> None:
        seen: set[str] = set()
        for t in self.itos:
            if not isinstance(t, str):
                raise TypeError(f"terms must be str, got {type(t).__name__}: {t!r}")
            if t in seen:
                raise ValueError(
                    f"terms must be distinct and must not contain {PAD!r} or {OOV!r}; "
                    f"{t!r} appears twice"
                )
            seen.add(t)

    # ------------------------------------------------------------------ building
    @classmethod
    def from_counts(
        cls,
        counts: Mapping[str, int],
        *,
        max_tokens: int | None = None,
        min_count: int = 1,
        num_documents: int | None = None,
    ) -> Vocabulary:
        """Select terms from ``counts`` (a mapping in first-occurrence order, e.g. a Counter).

        >>> Vocabulary.from_counts({"b": 1, "a": 2, "c": 1}, max_tokens=4).itos
        ['', '[UNK]', 'a', 'b']
        """
        check_max_tokens(max_tokens)
        check_min_count(min_count)
        terms = list(counts)
        _, kept = select_by_count_then_first(
            np.fromiter(counts.values(), dtype=np.int64, count=len(terms)),
            np.arange(len(terms)),
            lambda idx: [terms[i] for i in idx.tolist()],
            None if max_tokens is None else max_tokens - 2,
            min_count,
        )
        if not kept:
            raise empty_vocabulary_error(
                min_count,
                max_tokens,
                num_documents if num_documents is not None else 0,
                len(counts),
            )
        return cls(kept)

    @classmethod
    def fit(
        cls,
        corpus: Iterable[Sequence[str] | str],
        *,
        max_tokens: int | None = None,
        min_count: int = 1,
        tokenizer: Callable[[str], list[str]] | None = None,
    ) -> Vocabulary:
        """Count tokens over ``corpus`` and keep the most frequent ones.

        ``corpus`` yields token lists, or documents (str) that ``tokenizer`` splits (default:
        :func:`seqlab.text.tokenize.word_tokenizer` with the Keras ``Tokenizer`` standardisation).

        >>> Vocabulary.fit(["A cat.", "a dog, a cat"], max_tokens=4).itos
        ['', '[UNK]', 'a', 'cat']
        """
        if isinstance(corpus, str):
            raise TypeError(
                "corpus must be an iterable of documents or token lists, got a single str; "
                "wrap it in a list: [text]"
            )
        check_max_tokens(max_tokens)
        check_min_count(min_count)
        if tokenizer is None:
            from seqlab.text.tokenize import word_tokenizer

            tokenizer = word_tokenizer("keras")
        counts: Counter[str] = Counter()
        num_documents = 0
        for i, item in enumerate(corpus):
            if isinstance(item, str):
                item = tokenizer(item)
            elif not isinstance(item, Sequence) or isinstance(item, bytes):
                raise TypeError(
                    f"corpus item {i} must be a str or a list of str, got {type(item).__name__}"
                )
            counts.update(item)
            num_documents += 1
        return cls.from_counts(
            counts, max_tokens=max_tokens, min_count=min_count, num_documents=num_documents
        )

    # ------------------------------------------------------------------ lookups
    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: object) -> bool:
        return token in self.stoi

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and self.itos == other.itos

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        head = ", ".join(repr(t) for t in self.itos[2:7])
        more = ", ..." if len(self.itos) > 7 else ""
        return f"Vocabulary(size={len(self)}, terms=[{head}{more}])"

    def encode(self, tokens: Iterable[str]) -> list[int]:
        """Ids of ``tokens``; unknown tokens get ``oov_id`` (1).

        >>> Vocabulary(["hi"]).encode(["hi", "there"])
        [2, 1]
        """
        if isinstance(tokens, str):
            raise TypeError(
                "tokens must be a list of tokens, got a single str; tokenize it first "
                "(or pass list(text) for characters)"
            )
        get = self.stoi.get
        return [get(t, OOV_ID) for t in tokens]

    def decode(self, ids: Iterable[int], *, skip_padding: bool = True) -> list[str]:
        """Tokens of ``ids``; padding (0) is dropped unless ``skip_padding=False``.

        >>> Vocabulary(["hi"]).decode([0, 2, 1])
        ['hi', '[UNK]']
        """
        n = len(self.itos)
        out = []
        for i in ids:
            i = int(i)
            if not 0 <= i < n:
                raise ValueError(f"id {i} is out of range for a vocabulary of size {n}")
            if i == PAD_ID and skip_padding:
                continue
            out.append(self.itos[i])
        return out

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (``{"format", "itos"}``) that :meth:`from_dict` reads back."""
        return {"format": _FORMAT, "itos": list(self.itos)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Vocabulary:
        """Rebuild from :meth:`to_dict` output (checks the reserved entries)."""
        itos = d.get("itos") if isinstance(d, Mapping) else None
        if not isinstance(itos, list) or itos[:2] != [PAD, OOV]:
            raise ValueError(
                f"not a seqlab vocabulary: expected a dict with 'itos' starting with "
                f"[{PAD!r}, {OOV!r}], got keys {sorted(d) if isinstance(d, Mapping) else d!r}"
            )
        bad = next((t for t in itos if not isinstance(t, str)), None)
        if bad is not None:
            raise TypeError(f"vocabulary terms must be str, got {type(bad).__name__}: {bad!r}")
        return cls(itos[2:])

    def save(self, path: PathLike) -> None:
        """Write the vocabulary as JSON (atomically)."""
        atomic_write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: PathLike) -> Vocabulary:
        """Read a vocabulary written by :meth:`save`."""
        return cls.from_dict(read_json(path))
