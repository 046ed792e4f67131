"""Show a text becoming tokens, ids and a vector: what ``seqlab text encode`` and the demo's
"Text becomes vectors" step print."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

__all__ = ["describe_vocabulary", "encoding_report"]


def describe_vocabulary(vectorizer: Any) -> str:
    """One phrase on a fitted vectorizer's vocabulary: its size and its reserved ids.

    >>> from seqlab.text import TextVectorizer
    >>> describe_vocabulary(TextVectorizer().fit(["a b"]))
    "4 entries: 0 = padding '', 1 = [UNK], then 2 terms"
    >>> describe_vocabulary(TextVectorizer(compat="keras", output_mode="count").fit(["a b"]))
    '3 entries: 0 = [UNK], then 2 terms'
    """
    vocab = vectorizer.get_vocabulary()
    special = "0 = [UNK]" if vocab[0] == "[UNK]" else "0 = padding '', 1 = [UNK]"
    terms = len(vectorizer.get_vocabulary(include_special_tokens=False))
    return f"{len(vocab)} entries: {special}, then {terms} terms"


def encoding_report(vectorizer: Any, text: str, *, max_entries: int | None = None) -> list[str]:
    """Four lines: the text, its tokens, their ids (indices in ``get_vocabulary()``) and
    its vector in the vectorizer's output mode (at most ``max_entries`` non-zero entries of
    a bag vector are listed).

    >>> from seqlab.text import TextVectorizer
    >>> vec = TextVectorizer(output_mode="count").fit(["the cat sat", "the dog"])
    >>> print("\\n".join(encoding_report(vec, "The cat saw the cat")))
    text:    "The cat saw the cat"
    tokens:  ['the', 'cat', 'saw', 'the', 'cat']
    ids:     [2, 3, 1, 2, 3]
    vector:  count 1 x 6, 2 non-zero: {2: 2, 3: 2}
    """
    tokens = vectorizer.tokenize(text)
    out = vectorizer.transform([text])
    mode = vectorizer.output_mode
    if sp.issparse(out):
        row = out.getrow(0)
        order = np.argsort(row.indices, kind="stable")
        entries = [f"{int(c)}: {v:.4g}" for c, v in zip(row.indices[order], row.data[order])]
        shown = entries if max_entries is None else entries[:max_entries]
        more = ", ..." if len(shown) < len(entries) else ""
        vector = (
            f"{mode} {row.shape[0]} x {row.shape[1]}, {row.nnz} non-zero: "
            f"{{{', '.join(shown)}{more}}}"
        )
    elif mode == "one_hot":
        matrix = out[0]
        hot = [
            str(int(r.indices[0])) if r.nnz else "-"
            for r in map(matrix.getrow, range(matrix.shape[0]))
        ]
        vector = f"one_hot {matrix.shape[0]} x {matrix.shape[1]}, the 1 of each row at [{', '.join(hot)}]"
    else:
        vector = f"int {list(map(int, out[0]))}"
    return [
        f'text:    "{text}"',
        f"tokens:  {tokens}",
        f"ids:     {vectorizer.lookup(tokens)}",
        f"vector:  {vector}",
    ]
