"""Intrinsic evaluation of word vectors: word analogies and word-pair similarity.

Both follow gensim's ``KeyedVectors.evaluate_word_analogies`` / ``evaluate_word_pairs``
rule for rule, so the numbers can be compared with published gensim results:

- words are compared upper-cased (``case_insensitive=True``); when several case variants
  exist the first (most frequent) one is used;
- only the first ``restrict_vocab`` words count; a question with a word outside them is
  skipped (or counted wrong with ``dummy4unknown=True``);
- an analogy ``a b c d`` is answered by 3CosAdd over those words, leaving out a, b and c;
  the "Total accuracy" section sums all sections.

>>> r = evaluate_analogies(kv, "questions-words.txt")            # doctest: +SKIP
>>> round(100 * r["accuracy"], 1), r["sections"][-1]["section"]  # doctest: +SKIP
(49.7, 'Total accuracy')
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from seqlab._utils import PathLike
from seqlab.embeddings.keyed import KeyedVectors

__all__ = ["evaluate_analogies", "evaluate_word_pairs"]


def _ok_vocab(kv: KeyedVectors, restrict_vocab: int, case_insensitive: bool) -> dict[str, int]:
    keys = kv.index_to_key[: int(restrict_vocab)]
    if case_insensitive:
        # reversed: the first occurrence of a case variant wins
        return {k.upper(): i for i, k in reversed(list(enumerate(keys)))}
    return {k: i for i, k in reversed(list(enumerate(keys)))}


def _open_text(path: PathLike) -> list[str]:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"path={os.fspath(path)!r}: no such evaluation file")
    return p.read_text(encoding="utf-8", errors="replace").split("\n")


def evaluate_analogies(
    kv: KeyedVectors,
    path: PathLike,
    restrict_vocab: int = 30_000,
    case_insensitive: bool = True,
    dummy4unknown: bool = False,
    batch_size: int = 512,
) -> dict[str, Any]:
    """Accuracy on an analogy file (``: section`` lines, then ``a b c d`` questions).

    Returns ``{"accuracy", "correct", "incorrect", "questions", "oov", "oov_ratio",
    "restrict_vocab", "sections"}``; ``sections`` lists ``{"section", "correct",
    "incorrect", "accuracy"}`` per section and ends with the "Total accuracy" one.
    ``accuracy`` is over the questions answered (those without out-of-vocabulary words).

    >>> r = evaluate_analogies(kv, "../shared/data/eval/questions-words.txt")  # doctest: +SKIP
    """
    if restrict_vocab < 1:
        raise ValueError(f"restrict_vocab must be >= 1, got {restrict_vocab}")
    ok_vocab = _ok_vocab(kv, restrict_vocab, case_insensitive)
    sections, questions, n_quads, oov = _read_questions(
        path, ok_vocab, case_insensitive, dummy4unknown
    )
    if questions:
        _answer(kv, questions, sections, ok_vocab, restrict_vocab, case_insensitive, batch_size)
    for s in sections:
        answered = s["correct"] + s["incorrect"]
        s["accuracy"] = s["correct"] / answered if answered else 0.0
    correct = sum(s["correct"] for s in sections)
    incorrect = sum(s["incorrect"] for s in sections)
    answered = correct + incorrect
    total = {
        "section": "Total accuracy",
        "correct": correct,
        "incorrect": incorrect,
        "accuracy": correct / answered if answered else 0.0,
    }
    return {
        "accuracy": total["accuracy"],
        "correct": correct,
        "incorrect": incorrect,
        "questions": n_quads,
        "oov": oov,
        "oov_ratio": oov / n_quads if n_quads else 0.0,
        "restrict_vocab": int(restrict_vocab),
        "sections": sections + [total],
    }


def _read_questions(
    path: PathLike, ok_vocab: dict[str, int], case_insensitive: bool, dummy4unknown: bool
) -> tuple[list[dict[str, Any]], list[tuple[int, str, str, str, str]], int, int]:
    """``(sections, questions (section, a, b, c, expected), questions read, out of
    vocabulary)``; an out-of-vocabulary question counts wrong with ``dummy4unknown``."""
    sections: list[dict[str, Any]] = []
    section: dict[str, Any] | None = None
    questions: list[tuple[int, str, str, str, str]] = []
    n_quads = oov = 0
    for line_no, line in enumerate(_open_text(path)):
        if line.startswith(": "):
            section = {"section": line.lstrip(": ").strip(), "correct": 0, "incorrect": 0}
            sections.append(section)
            continue
        if section is None:
            raise ValueError(f"Missing section header before line #{line_no} in {path}")
        words = line.split()
        if len(words) != 4:
            continue  # gensim skips invalid lines without counting them
        if case_insensitive:
            words = [w.upper() for w in words]
        n_quads += 1
        if any(w not in ok_vocab for w in words):
            oov += 1
            if dummy4unknown:
                section["incorrect"] += 1
            continue
        questions.append((len(sections) - 1, *words))  # type: ignore[arg-type]
    return sections, questions, n_quads, oov


def _answer(
    kv: KeyedVectors,
    questions: list[tuple[int, str, str, str, str]],
    sections: list[dict[str, Any]],
    ok_vocab: dict[str, int],
    restrict_vocab: int,
    case_insensitive: bool,
    batch_size: int,
) -> None:
    """Answer the questions by 3CosAdd, ``batch_size`` at a time, and count each answer as
    correct or incorrect in its section."""
    end = min(int(restrict_vocab), len(kv))
    matrix = np.asarray(kv.vectors[:end])
    norms = kv.norms[:end]
    safe = np.where(norms > 0, norms, 1).astype(np.float32)
    unit = matrix / safe[:, None]
    for lo in range(0, len(questions), batch_size):
        batch = questions[lo : lo + batch_size]
        ia = np.array([ok_vocab[q[1]] for q in batch])
        ib = np.array([ok_vocab[q[2]] for q in batch])
        ic = np.array([ok_vocab[q[3]] for q in batch])
        # gensim: mean of the unit vectors in float32, divided by 3 in float64, normalised
        mean = (unit[ib] + unit[ic]) - unit[ia]
        mean = mean.astype(np.float64) / 3.0
        mean /= np.sqrt(np.einsum("ij,ij->i", mean, mean))[:, None]
        dists = (mean.astype(np.float32) @ matrix.T) / safe  # (B, end)
        k = min(8, end)
        top = np.argpartition(-dists, k - 1, axis=1)[:, :k] if k < end else None
        for j, q in enumerate(batch):
            cand = top[j] if top is not None else np.arange(end)
            cand = cand[np.argsort(-dists[j, cand], kind="stable")]
            exclude = {int(ia[j]), int(ib[j]), int(ic[j])}
            ignore = {q[1], q[2], q[3]}
            shortlist = [int(i) for i in cand if int(i) not in exclude][:5]
            predicted = None
            for i in shortlist:
                predicted = kv.index_to_key[i]
                if case_insensitive:
                    predicted = predicted.upper()
                if predicted in ok_vocab and predicted not in ignore:
                    break
            key = "correct" if predicted == q[4] else "incorrect"
            sections[q[0]][key] += 1


def evaluate_word_pairs(
    kv: KeyedVectors,
    path: PathLike,
    delimiter: str = "\t",
    restrict_vocab: int = 300_000,
    case_insensitive: bool = True,
    dummy4unknown: bool = False,
) -> dict[str, Any]:
    """Pearson and Spearman correlation between human similarity scores (``word1 word2
    score`` lines, ``#`` comments) and the cosine similarity of the vectors.

    Returns ``{"pearson", "pearson_pvalue", "spearman", "spearman_pvalue", "pairs",
    "oov", "oov_ratio"}``; ``oov_ratio`` is the share of pairs with an unknown word
    (gensim reports the same number in percent).

    >>> r = evaluate_word_pairs(kv, "../shared/data/eval/wordsim353.tsv")  # doctest: +SKIP
    >>> round(r["spearman"], 3)                                           # doctest: +SKIP
    0.503
    """
    from scipy import stats

    ok_vocab = _ok_vocab(kv, restrict_vocab, case_insensitive)
    gold: list[float] = []
    model: list[float] = []
    oov = 0
    for line in _open_text(path):
        if not line or line.startswith("#"):
            continue
        try:
            a, b, score = line.split(delimiter)
            sim = float(score)
        except ValueError:
            continue
        if case_insensitive:
            a, b = a.upper(), b.upper()
        if a not in ok_vocab or b not in ok_vocab:
            oov += 1
            if dummy4unknown:
                gold.append(sim)
                model.append(0.0)
            continue
        va = np.asarray(kv.vectors[ok_vocab[a]], dtype=np.float64)
        vb = np.asarray(kv.vectors[ok_vocab[b]], dtype=np.float64)
        ua = (va / np.linalg.norm(va)).astype(np.float32)
        ub = (vb / np.linalg.norm(vb)).astype(np.float32)
        gold.append(sim)
        model.append(float(np.dot(ua, ub)))
    if not gold:
        raise ValueError(
            f"no usable word pairs in {path}: either the format is not 'word1{delimiter!r}"
            f"word2{delimiter!r}score' or every word is out of the vocabulary"
        )
    pearson = stats.pearsonr(gold, model)
    spearman = stats.spearmanr(gold, model)
    denominator = len(gold) if dummy4unknown else len(gold) + oov
    return {
        "pearson": float(pearson[0]),
        "pearson_pvalue": float(pearson[1]),
        "spearman": float(spearman[0]),
        "spearman_pvalue": float(spearman[1]),
        "pairs": len(gold),
        "oov": oov,
        "oov_ratio": oov / denominator if denominator else 0.0,
    }
