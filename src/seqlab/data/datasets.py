"""Every dataset by name, the generic loaders, and dataset statistics (the code behind the
public package :mod:`seqlab.datasets`, which re-exports these names).

>>> import seqlab as sl
>>> sl.datasets.names()
['bbc', 'imdb', 'nietzsche', 'snippets', 'tinyshakespeare']
>>> ds = sl.datasets.load("snippets")
>>> train, test = sl.datasets.train_test_split(ds, test_size=0.2, seed=0)
>>> len(train), len(test)
(8455, 2113)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from seqlab._utils import PathLike, rng
from seqlab.data import imdb_keras
from seqlab.data.base import TextDataset
from seqlab.data.corpora import _keras_words, corpus, iter_lines
from seqlab.data.download import download
from seqlab.data.imdb import IMDB_SPLITS, imdb, imdb_path
from seqlab.data.loaders import bbc, from_folder, from_table, snippets

__all__ = [
    "TextDataset",
    "bbc",
    "corpus",
    "corpus_stats",
    "dataset_stats",
    "describe",
    "download",
    "from_folder",
    "from_table",
    "imdb",
    "imdb_keras",
    "imdb_path",
    "info",
    "iter_lines",
    "load",
    "names",
    "snippets",
    "train_test_split",
]


@dataclass(frozen=True)
class _Spec:
    kind: str  # "classification" or "corpus"
    description: str
    source: str
    load: Callable[..., Any]
    # split name -> TextDataset (or the corpus text), for info()
    parts: Callable[[PathLike | None], dict[str, Any]]


def _corpus_spec(name: str, description: str) -> _Spec:
    return _Spec(
        kind="corpus",
        description=description,
        source="bundled",
        load=lambda **kw: corpus(name, **kw),
        parts=lambda data_dir: {"all": corpus(name if data_dir is None else data_dir)},
    )


_REGISTRY: dict[str, _Spec] = {
    "imdb": _Spec(
        kind="classification",
        description="IMDB movie reviews (Maas et al. 2011): 25,000 train + 25,000 test, "
        "neg/pos, + 50,000 unlabelled",
        source="aclImdb_v1.tar.gz via data_dir / $SEQLAB_DATA / download=True",
        load=imdb,
        parts=lambda data_dir: dict(zip(IMDB_SPLITS, imdb(IMDB_SPLITS, data_dir=data_dir))),
    ),
    "snippets": _Spec(
        kind="classification",
        description="Rotten Tomatoes review sentences (Pang & Lee; Hutto & Gilbert 2014): "
        "10,568, neg/pos",
        source="bundled",
        load=snippets,
        parts=lambda data_dir: {"all": snippets(data_dir)},
    ),
    "bbc": _Spec(
        kind="classification",
        description="BBC News articles (Greene & Cunningham 2006): 2,225 in 5 topics",
        source="bbc.tar.gz via data_dir / $SEQLAB_DATA",
        load=bbc,
        parts=lambda data_dir: {"all": bbc(data_dir)},
    ),
    "nietzsche": _corpus_spec(
        "nietzsche", "Nietzsche, Beyond Good and Evil: 600,901 characters (Keras char-LM corpus)"
    ),
    "tinyshakespeare": _corpus_spec(
        "tinyshakespeare", "tiny-shakespeare: 1,115,394 characters (char-rnn / nanoGPT corpus)"
    ),
}


def names() -> list[str]:
    """The names :func:`load` and :func:`info` accept, sorted.

    >>> "imdb" in names()
    True
    """
    return sorted(_REGISTRY)


def _spec(name: str) -> _Spec:
    if name not in _REGISTRY:
        raise ValueError(
            f"unknown dataset {name!r}; choose one of {names()}, or load your own data with "
            "from_folder(path) / from_table(path, text_column, label_column) / corpus(path)"
        )
    return _REGISTRY[name]


def describe(name: str) -> dict[str, str]:
    """Name, kind, description and source of a registered dataset (no data is read).

    >>> describe("snippets")["kind"]
    'classification'
    """
    spec = _spec(name)
    return {
        "name": name,
        "kind": spec.kind,
        "description": spec.description,
        "source": spec.source,
    }


def load(name: str, **kwargs: Any) -> Any:
    """Load a dataset by name; ``kwargs`` go to its loader (e.g. ``split=``, ``data_dir=``).

    Classification sets give a :class:`TextDataset` (``imdb`` gives ``(train, test)`` unless
    ``split`` says otherwise), corpora give a ``str``. A name that is not registered but is an
    existing folder is read with :func:`from_folder`.

    >>> load("nietzsche")[:7]
    'PREFACE'
    >>> load("snippets").num_classes
    2
    """
    if name not in _REGISTRY and Path(name).expanduser().is_dir():
        return from_folder(name, **kwargs)
    return _spec(name).load(**kwargs)


def _summary(values: list[int]) -> dict[str, float]:
    a = np.asarray(values, dtype=np.float64)
    if len(a) == 0:
        return {"mean": 0.0, "median": 0.0, "p90": 0.0, "p99": 0.0, "max": 0.0}
    return {
        "mean": round(float(a.mean()), 2),
        "median": round(float(np.median(a)), 2),
        "p90": round(float(np.percentile(a, 90)), 2),
        "p99": round(float(np.percentile(a, 99)), 2),
        "max": float(a.max()),
    }


def dataset_stats(ds: TextDataset) -> dict[str, Any]:
    """Counts, label balance and document lengths (whitespace and Keras tokens) of a dataset.

    >>> s = dataset_stats(TextDataset(["a b", "Hello, world!"], [0, 1], ["x", "y"]))
    >>> s["count"], s["label_counts"], s["tokens_keras"]["mean"]
    (2, {'x': 1, 'y': 1}, 2.0)
    """
    counts = np.bincount(ds.labels[ds.labels >= 0], minlength=len(ds.label_names))
    label_counts = {n: int(c) for n, c in zip(ds.label_names, counts)}
    unlabelled = int((ds.labels < 0).sum())
    if unlabelled:
        label_counts["(unlabelled)"] = unlabelled
    return {
        "count": len(ds),
        "label_names": list(ds.label_names),
        "label_counts": label_counts,
        "label_fractions": {k: round(v / max(len(ds), 1), 4) for k, v in label_counts.items()},
        "tokens_whitespace": _summary([len(t.split()) for t in ds.texts]),
        "tokens_keras": _summary([len(_keras_words(t)) for t in ds.texts]),
        "chars": _summary([len(t) for t in ds.texts]),
    }


def corpus_stats(text: str) -> dict[str, Any]:
    """Size of a plain-text corpus: characters, lines, distinct characters, tokens.

    >>> corpus_stats("to be\\nor not")["tokens_whitespace"]
    4
    """
    return {
        "chars": len(text),
        "lines": text.count("\n") + (1 if text and not text.endswith("\n") else 0),
        "distinct_chars": len(set(text)),
        "tokens_whitespace": len(text.split()),
        "tokens_keras": len(_keras_words(text)),
    }


def info(name: str, data_dir: PathLike | None = None) -> dict[str, Any]:
    """Statistics of a registered dataset, per split (what ``seqlab data info NAME`` prints).

    For classification sets: count, label counts and fractions, and length in whitespace
    tokens, Keras tokens and characters (mean, median, 90th/99th percentile, max). For corpora:
    characters, lines, distinct characters, tokens. Reads (and for IMDB, caches) the data.

    >>> info("snippets")["splits"]["all"]["count"]
    10568
    """
    out: dict[str, Any] = describe(name)
    parts = _spec(name).parts(data_dir)
    out["splits"] = {
        split: corpus_stats(part) if isinstance(part, str) else dataset_stats(part)
        for split, part in parts.items()
    }
    return out


def train_test_split(
    dataset: TextDataset,
    test_size: float | int = 0.2,
    seed: int = 0,
    stratify: bool = True,
) -> tuple[TextDataset, TextDataset]:
    """Split a dataset in two at random, the same way for the same ``seed``.

    ``test_size`` is a fraction in (0, 1) or a number of items. With ``stratify`` every
    class is split in the same proportion (each class's test share is rounded), so label
    balance is kept. Both parts keep the original item order.

    >>> ds = TextDataset(["a", "b", "c", "d"], [0, 0, 1, 1], ["x", "y"])
    >>> train, test = train_test_split(ds, test_size=0.5, seed=0)
    >>> sorted(test.labels.tolist())
    [0, 1]
    """
    n = len(dataset)
    if isinstance(test_size, bool) or not isinstance(test_size, int | float):
        raise TypeError(f"test_size must be a float in (0, 1) or an int, got {test_size!r}")
    if isinstance(test_size, float):
        if not 0.0 < test_size < 1.0:
            raise ValueError(f"test_size must be in (0, 1) as a fraction, got {test_size!r}")
        fraction = test_size
    else:
        if not 0 < test_size < n:
            raise ValueError(
                f"test_size={test_size} items must be between 1 and {n - 1} "
                f"(the dataset has {n} items)"
            )
        fraction = test_size / n
    gen = rng(seed)
    groups = [np.flatnonzero(dataset.labels == c) for c in np.unique(dataset.labels)]
    if not stratify:
        groups = [np.arange(n)]
    test_index = []
    for group in groups:
        k = int(round(len(group) * fraction))
        test_index.append(gen.permutation(group)[:k])
    test_idx = np.sort(np.concatenate(test_index)) if test_index else np.zeros(0, np.int64)
    if len(test_idx) == 0 or len(test_idx) == n:
        raise ValueError(
            f"test_size={test_size!r} leaves an empty part for a dataset of {n} items; "
            "use a larger dataset or another test_size"
        )
    train_idx = np.setdiff1d(np.arange(n), test_idx)
    return dataset.subset(train_idx), dataset.subset(test_idx)
