"""KeyedVectors: a light, gensim-like map from words to vectors with cosine queries.

>>> import numpy as np
>>> kv = KeyedVectors(["king", "queen", "man", "woman"],
...                   np.array([[1, 1], [1, -1], [2, 1], [2, -1]], dtype=np.float32))
>>> kv.analogy("man", "king", "woman")  # man : king :: woman : ?
'queen'
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from seqlab._utils import PathLike, atomic_write_bytes

__all__ = ["KeyedVectors", "WordNotFound"]

_FORMAT = "seqlab.KeyedVectors"
Query = str | np.ndarray | tuple[str | np.ndarray, float]


class WordNotFound(KeyError):
    """A word that is not in the vocabulary; the message suggests close spellings."""

    def __init__(self, word: str, suggestions: Sequence[str] = ()) -> None:
        super().__init__(word)
        self.word = word
        self.suggestions = list(suggestions)

    def __str__(self) -> str:
        hint = (
            f"; did you mean {', '.join(repr(s) for s in self.suggestions)}?"
            if self.suggestions
            else "; check the spelling (vocabularies are often lowercase)"
        )
        return f"word {self.word!r} is not in the vocabulary{hint}"


class KeyedVectors:
    """Word vectors with gensim-like queries (cosine similarity).

    ``vectors`` is an (N, D) float32 array (possibly a read-only memory map),
    ``index_to_key`` the N words in row order and ``key_to_index`` the reverse map.
    ``meta`` holds facts about where the vectors came from (format, skipped lines, ...).

    >>> import numpy as np
    >>> kv = KeyedVectors(["a", "b"], np.eye(2, dtype=np.float32))
    >>> kv["b"].tolist(), "a" in kv, len(kv), kv.vector_size
    ([0.0, 1.0], True, 2, 2)
    """

    def __init__(
        self,
        index_to_key: Sequence[str],
        vectors: np.ndarray,
        *,
        counts: np.ndarray | None = None,
    ) -> None:
        if isinstance(index_to_key, str):
            raise TypeError("index_to_key must be a list of words, got a single str")
        if not isinstance(vectors, np.ndarray):  # keeps a np.memmap as it is
            vectors = np.asarray(vectors)
        if vectors.dtype != np.float32:
            vectors = vectors.astype(np.float32)
        if vectors.ndim != 2:
            raise ValueError(f"vectors must be 2-D (N, D), got shape {vectors.shape}")
        keys = list(index_to_key)
        if len(keys) != vectors.shape[0]:
            raise ValueError(
                f"index_to_key has {len(keys)} words but vectors has {vectors.shape[0]} rows; "
                "give one vector per word"
            )
        _check_finite(keys, vectors)
        self.index_to_key: list[str] = keys
        self._key_to_index: dict[str, int] | None = None
        self.vectors: np.ndarray = vectors
        self.counts = None if counts is None else np.asarray(counts, dtype=np.int64)
        self.meta: dict[str, Any] = {}
        self._norms: np.ndarray | None = None

    # ------------------------------------------------------------------ basics

    @property
    def key_to_index(self) -> dict[str, int]:
        """word -> row. Built on first use: for 400,000 words a Python dict takes a good part
        of a second, which a cached load should not pay before the first lookup."""
        if self._key_to_index is None:
            index = dict(zip(self.index_to_key, range(len(self.index_to_key))))
            if len(index) != len(self.index_to_key):
                # the first occurrence of a repeated word wins (as in gensim)
                index = {k: i for i, k in reversed(list(enumerate(self.index_to_key)))}
            self._key_to_index = index
        return self._key_to_index

    def __len__(self) -> int:
        return len(self.index_to_key)

    def __contains__(self, key: object) -> bool:
        return key in self.key_to_index

    def __iter__(self) -> Iterator[str]:
        return iter(self.index_to_key)

    def __repr__(self) -> str:
        return f"KeyedVectors({len(self)} words, dim {self.vector_size})"

    @property
    def vector_size(self) -> int:
        """The dimension D of the vectors."""
        return int(self.vectors.shape[1])

    def __getitem__(self, key: str | Sequence[str]) -> np.ndarray:
        """The vector of a word (D,), or a (K, D) array for a list of words."""
        if isinstance(key, str):
            return np.asarray(self.vectors[self.get_index(key)])
        return np.asarray(self.vectors[[self.get_index(k) for k in key]])

    def get_index(self, key: str) -> int:
        """The row of ``key``; a :class:`WordNotFound` (a KeyError) suggests close spellings."""
        try:
            return self.key_to_index[key]
        except KeyError:
            raise WordNotFound(key, self.suggest(key)) from None
        except TypeError:
            raise TypeError(f"a key must be a str, got {type(key).__name__}: {key!r}") from None

    def get_vector(self, key: str, norm: bool = False) -> np.ndarray:
        """The vector of ``key``; ``norm=True`` scales it to unit length."""
        i = self.get_index(key)
        vector = np.asarray(self.vectors[i])
        return vector / self.norms[i] if norm else vector

    def suggest(self, word: str, n: int = 3) -> list[str]:
        """Words in the vocabulary spelled like ``word``: case variants, then words one edit
        away (a letter deleted, swapped, changed or added; most frequent first), then
        difflib's close matches among words with the same first letter and a similar length
        in the 200,000 first words, which keeps this fast on large vocabularies.

        >>> import numpy as np
        >>> KeyedVectors(["king", "kind", "queen"], np.ones((3, 2))).suggest("kign")
        ['king', 'kind']
        """
        if not isinstance(word, str) or not word:
            return []
        index = self.key_to_index
        found = [
            v
            for v in dict.fromkeys([word.lower(), word.capitalize(), word.upper()])
            if v != word and v in index
        ]
        low = word.lower()
        if len(found) < n:
            near = [w for w in _edits1(low) if w in index and w != word]
            found += sorted(near, key=index.__getitem__)
        if len(found) < n:
            first = low[0]
            pool = [
                k
                for k in self.index_to_key[:200_000]
                if k[:1].lower() == first and abs(len(k) - len(word)) <= 2
            ]
            found += difflib.get_close_matches(low, pool, n=n + len(found), cutoff=0.6)
        return list(dict.fromkeys(found))[:n]

    @property
    def norms(self) -> np.ndarray:
        """The L2 norm of every row (computed once)."""
        if self._norms is None:
            self._norms = np.linalg.norm(self.vectors, axis=1).astype(np.float32)
        return self._norms

    def unit_vectors(self) -> np.ndarray:
        """A new (N, D) array of the vectors scaled to unit length (zero rows stay zero)."""
        norms = self.norms
        return np.asarray(self.vectors) / np.where(norms > 0, norms, 1)[:, None]

    # ------------------------------------------------------------------ queries

    def similarity(self, w1: str, w2: str) -> float:
        """Cosine similarity of two words.

        >>> import numpy as np
        >>> kv = KeyedVectors(["a", "b"], np.array([[1, 0], [1, 1]], dtype=np.float32))
        >>> round(kv.similarity("a", "b"), 4)
        0.7071
        """
        return float(np.dot(_unit(self[w1]), _unit(self[w2])))

    def _weighted(
        self, positive: Query | Sequence[Query] | None, negative: Query | Sequence[Query] | None
    ) -> tuple[list[tuple[np.ndarray, float]], set[int]]:
        items: list[tuple[np.ndarray, float]] = []
        used: set[int] = set()
        for group, sign in ((positive, 1.0), (negative, -1.0)):
            for item in _as_list(group):
                weight = sign
                if isinstance(item, tuple):
                    item, weight = item[0], float(item[1])
                if isinstance(item, str):
                    i = self.get_index(item)
                    used.add(i)
                    items.append((np.asarray(self.vectors[i]) / self.norms[i], weight))
                else:
                    vector = np.asarray(item, dtype=np.float32)
                    if vector.shape != (self.vector_size,):
                        raise ValueError(
                            f"a query vector must have shape ({self.vector_size},), "
                            f"got {vector.shape}"
                        )
                    items.append((vector, weight))
        if not items:
            raise ValueError("most_similar needs at least one positive or negative word")
        return items, used

    def _cosines(self, unit: np.ndarray, restrict_vocab: int | None) -> np.ndarray:
        """Cosine similarity of the unit vector ``unit`` to each of the first
        ``restrict_vocab`` words (all words for None)."""
        end = len(self) if restrict_vocab is None else min(int(restrict_vocab), len(self))
        norms = self.norms[:end]
        return (np.asarray(self.vectors[:end]) @ unit) / np.where(norms > 0, norms, 1)

    def _top(
        self, dists: np.ndarray, topn: int | None, exclude: set[int]
    ) -> list[tuple[str, float]] | np.ndarray:
        """The ``topn`` best words of ``dists`` but ``exclude``; ``dists`` itself for None."""
        if topn is None:
            return dists
        topn = int(topn)
        k = min(topn + len(exclude), dists.size)
        if k <= 0:
            return []
        best = np.argpartition(-dists, k - 1)[:k] if k < dists.size else np.arange(dists.size)
        best = best[np.argsort(-dists[best], kind="stable")]
        out = [(self.index_to_key[i], float(dists[i])) for i in best if i not in exclude]
        return out[:topn]

    def most_similar(
        self,
        positive: Query | Sequence[Query] | None = None,
        negative: Query | Sequence[Query] | None = None,
        topn: int | None = 10,
        restrict_vocab: int | None = None,
    ) -> list[tuple[str, float]] | np.ndarray:
        """The ``topn`` words closest (cosine) to the mean of the unit vectors of ``positive``
        minus those of ``negative`` (gensim's 3CosAdd); the query words are left out.

        Words, vectors and ``(word, weight)`` pairs are accepted. ``restrict_vocab=N`` only
        searches the N first (usually most frequent) words. ``topn=None`` returns the
        similarity to every word as an array.

        >>> import numpy as np
        >>> kv = KeyedVectors(["cat", "dog", "car"],
        ...                   np.array([[1, 0.1], [1, 0.2], [0, 1]], dtype=np.float32))
        >>> kv.most_similar("cat", topn=1)[0][0]
        'dog'
        """
        items, used = self._weighted(positive, negative)
        mean = np.zeros(self.vector_size, dtype=np.float32)
        total = 0.0
        for vector, weight in items:
            mean += weight * vector
            total += abs(weight)
        mean = _unit(mean.astype(np.float64) / total)
        return self._top(self._cosines(mean, restrict_vocab), topn, used)

    def most_similar_cosmul(
        self,
        positive: Query | Sequence[Query] | None = None,
        negative: Query | Sequence[Query] | None = None,
        topn: int | None = 10,
        restrict_vocab: int | None = None,
    ) -> list[tuple[str, float]] | np.ndarray:
        """Levy & Goldberg's 3CosMul: the product of the shifted cosines ``(1 + cos) / 2`` to
        the positive words divided by those to the negative words (+1e-6), as in gensim.

        >>> import numpy as np
        >>> kv = KeyedVectors(["king", "queen", "man", "woman"],
        ...                   np.array([[1, 1], [1, -1], [2, 1], [2, -1]], dtype=np.float32))
        >>> kv.most_similar_cosmul(positive=["woman", "king"], negative=["man"], topn=1)[0][0]
        'queen'
        """
        items, used = self._weighted(positive, negative)
        pos = [(1 + self._cosines(_unit(v), restrict_vocab)) / 2 for v, w in items if w > 0]
        neg = [(1 + self._cosines(_unit(v), restrict_vocab)) / 2 for v, w in items if w < 0]
        if not pos:
            raise ValueError("most_similar_cosmul needs at least one positive word")
        dists = np.prod(pos, axis=0) / (np.prod(neg, axis=0) + 1e-6 if neg else 1 + 1e-6)
        return self._top(dists, topn, used)

    def doesnt_match(self, words: Sequence[str]) -> str:
        """The word farthest from the mean of the unit vectors of ``words``.

        >>> import numpy as np
        >>> kv = KeyedVectors(["tea", "coffee", "car"],
        ...                   np.array([[1, 0.1], [1, 0.2], [0, 1]], dtype=np.float32))
        >>> kv.doesnt_match(["tea", "coffee", "car"])
        'car'
        """
        if isinstance(words, str) or len(words) == 0:
            raise ValueError(f"words must be a non-empty list of words, got {words!r}")
        unit = np.stack([self.get_vector(w, norm=True) for w in words])
        mean = _unit(unit.mean(axis=0))
        return list(words)[int(np.argmin(unit @ mean))]

    def analogy(self, a: str, b: str, c: str, restrict_vocab: int | None = None) -> str:
        """Solve ``a : b :: c : ?`` with 3CosAdd (``b - a + c``), leaving out a, b and c.

        >>> import numpy as np
        >>> kv = KeyedVectors(["paris", "france", "rome", "italy"],
        ...                   np.array([[1, 0, 1], [1, 0, 0], [0, 1, 1], [0, 1, 0]], np.float32))
        >>> kv.analogy("paris", "france", "rome")
        'italy'
        """
        result = self.most_similar(
            positive=[b, c], negative=[a], topn=1, restrict_vocab=restrict_vocab
        )
        if not result:
            raise ValueError("the vocabulary has no word besides the three query words")
        return result[0][0]  # type: ignore[index]

    # ------------------------------------------------------------------ persistence

    def save(self, path: PathLike) -> Path:
        """Write the words and vectors to one safetensors file (atomically, no pickle).

        >>> kv.save("vectors.safetensors")  # doctest: +SKIP
        PosixPath('vectors.safetensors')
        """
        from safetensors.numpy import save as st_save

        tensors = {"vectors": np.ascontiguousarray(self.vectors, dtype=np.float32)}
        if self.counts is not None:
            tensors["counts"] = np.ascontiguousarray(self.counts, dtype=np.int64)
        metadata = {
            "format": _FORMAT,
            "version": "1",
            "index_to_key": json.dumps(self.index_to_key, ensure_ascii=False),
            "meta": json.dumps(_jsonable(self.meta)),
        }
        return atomic_write_bytes(path, st_save(tensors, metadata=metadata))

    @classmethod
    def load(cls, path: PathLike) -> KeyedVectors:
        """Read a file written by :meth:`save`.

        >>> kv = KeyedVectors.load("vectors.safetensors")  # doctest: +SKIP
        """
        from safetensors import safe_open

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"path={os.fspath(path)!r}: no such file")
        with safe_open(str(path), framework="numpy") as f:
            metadata = f.metadata() or {}
            if metadata.get("format") != _FORMAT:
                raise ValueError(
                    f"{path} is not a seqlab KeyedVectors file (format="
                    f"{metadata.get('format')!r}); for GloVe/word2vec files use "
                    "seqlab.embeddings.load"
                )
            vectors = f.get_tensor("vectors")
            counts = f.get_tensor("counts") if "counts" in f.keys() else None
        kv = cls(json.loads(metadata["index_to_key"]), vectors, counts=counts)
        kv.meta.update(json.loads(metadata.get("meta", "{}")))
        return kv


def _edits1(word: str) -> set[str]:
    """Strings one edit away from ``word`` (Norvig's spelling corrector)."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = [a + b[1:] for a, b in splits if b]
    swaps = [a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1]
    changes = [a + c + b[1:] for a, b in splits if b for c in letters]
    inserts = [a + c + b for a, b in splits for c in letters]
    return set(deletes + swaps + changes + inserts)


def _unit(vector: np.ndarray) -> np.ndarray:
    """``vector`` scaled to unit length in float64, returned as float32 (like gensim)."""
    v = np.asarray(vector, dtype=np.float64)
    length = float(np.sqrt(np.dot(v, v)))
    return (v / length if length > 0 else v).astype(np.float32)


def _as_list(items: Any) -> list[Any]:
    if items is None:
        return []
    if isinstance(items, (str, np.ndarray, tuple)):
        return [items]
    if isinstance(items, Iterable):
        return list(items)
    raise TypeError(f"expected a word, a vector or a list of them, got {type(items).__name__}")


def _jsonable(obj: Any) -> Any:
    try:
        json.dumps(obj)
        return obj
    except TypeError:
        return {k: str(v) for k, v in obj.items()} if isinstance(obj, dict) else str(obj)


def _check_finite(words: Sequence[str], vectors: np.ndarray, block: int = 65_536) -> None:
    # NaN or infinity in one vector turns its similarities into NaN and breaks PCA for every
    # query that touches it: refuse such vectors when they are built, naming the words.
    # Read in blocks, so a memory-mapped file is not copied whole.
    bad: list[int] = []
    for start in range(0, vectors.shape[0], block):
        rows = np.isfinite(vectors[start : start + block]).all(axis=1)
        bad.extend((start + np.flatnonzero(~rows)).tolist())
    if bad:
        shown = ", ".join(repr(words[i]) for i in bad[:5])
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        raise ValueError(
            f"the vectors of {len(bad)} word(s) hold NaN or infinity: {shown}{more}; "
            "fix or remove those lines of the vectors file"
        )
