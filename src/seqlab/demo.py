"""``seqlab demo``: a guided tour on the bundled movie-review snippets.

The tour is a list of steps (:data:`STEPS`); each step is a function of the shared
:class:`DemoState` that prints what it does. Steps that train a model append to
``state.results`` and write their run folder to ``<out>/<name>``; the last step writes
``<out>/summary.json``. New models join the tour by adding a step before "summary".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from seqlab._utils import PathLike, atomic_write_json
from seqlab.data.base import TextDataset

__all__ = ["STEPS", "DemoState", "run_demo"]

# Sentences of our own for the prediction step (not from the dataset).
OWN_SENTENCES = [
    "a wonderful, moving film with a terrific cast",
    "a dull, lifeless mess that goes nowhere",
]


@dataclass
class DemoState:
    """What the steps share: settings, the data splits, and the results so far."""

    out: Path
    seed: int = 0
    device: str = "auto"
    data_dir: PathLike | None = None
    progress: bool = False
    lm_seconds: float = 60.0
    lm_steps: int | None = None  # a step budget instead of seconds (reproducible)
    echo: Callable[[str], None] = print
    train: TextDataset | None = None
    test: TextDataset | None = None
    runs: dict[str, Any] = field(default_factory=dict)
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    results_lm: dict[str, Any] = field(default_factory=dict)


def step_data(s: DemoState) -> None:
    """Load the snippets and split them 80/20 (stratified, seeded) into train and test."""
    import seqlab.data.datasets as datasets

    full = datasets.snippets(data_dir=s.data_dir)
    s.train, s.test = datasets.train_test_split(full, test_size=0.2, seed=s.seed)
    counts = ", ".join(
        f"{name}: {int(np.sum(full.labels == i))}" for i, name in enumerate(full.label_names)
    )
    s.echo(f"{len(full)} movie-review sentences ({counts})")
    s.echo(
        f"split with seed {s.seed}: {len(s.train)} for training, {len(s.test)} held out for test"
    )
    s.echo(f'e.g. [{full.label_names[full.labels[0]]}] "{full.texts[0]}"')


def _bow_vectorizer(s: DemoState) -> Any:
    from seqlab.text import TextVectorizer

    vec = TextVectorizer(output_mode="multi_hot", ngram_range=(1, 2))
    return vec.fit(s.train.texts)


def step_vectors(s: DemoState) -> None:
    """Show one sentence becoming tokens, ids and a bag-of-words vector (the lines of
    ``seqlab text encode``)."""
    from seqlab.text.report import describe_vocabulary, encoding_report

    vec = _bow_vectorizer(s)
    s.runs["bow_vectorizer"] = vec
    text = min(s.train.texts[:200], key=lambda t: abs(len(t.split()) - 9))  # a short one
    for line in encoding_report(vec, text, max_entries=8):
        s.echo(line)
    s.echo(
        f"(tokens: words, then word pairs, as ngram_range=(1, 2); ids index a vocabulary of "
        f'{describe_vocabulary(vec)}; try: seqlab text encode "your sentence")'
    )


def step_bow(s: DemoState) -> None:
    """Train the NBSVM-style bag-of-words classifier (logistic regression on NB-scaled
    uni+bigram features) with a validation split of the training part."""
    import torch

    from seqlab.models.dense import BagOfWordsMLP

    vec = s.runs.get("bow_vectorizer") or _bow_vectorizer(s)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(s.seed)
        model = BagOfWordsMLP(vec.vocab_size, num_classes=2, nb_scaling=True)
    # Large batches: few optimizer steps over the 100k-column weight matrix (measured: the
    # same accuracy as batch 32 in a tenth of the time).
    _train(s, "bow-nbsvm", model, vec, epochs=6, batch_size=256, lr=1e-2, patience=2)


def step_lstm(s: DemoState) -> None:
    """Train a small LSTM on the same sentences: words become learned 32-d vectors that an
    LSTM reads in order (batches of similar-length sentences, padding never read)."""
    import torch

    from seqlab.models.rnn import LSTMClassifier
    from seqlab.text import TextVectorizer

    vec = TextVectorizer(output_mode="int", max_tokens=10_000).fit(s.train.texts)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(s.seed)
        model = LSTMClassifier(
            vocab_size=vec.vocab_size, embedding_dim=32, hidden_size=32, seed=s.seed
        )
    ids = vec.transform([s.train.texts[0]])[0]
    s.echo(f"a sentence becomes {len(ids)} token ids, e.g. {list(map(int, ids[:8]))} ...")
    s.echo(f"model: embedding {vec.vocab_size} x 32 -> LSTM(32) -> dense, 3 epochs")
    # Three epochs are where validation accuracy levels off on these short sentences.
    _train(s, "lstm", model, vec, epochs=3, batch_size=64, lr=3e-3, monitor="val_accuracy")


def _train(s: DemoState, name: str, model: Any, vec: Any, **settings: Any) -> None:
    """Train ``model`` on the demo's sentences (a fifth held out for validation) into the run
    folder ``name``, then record and print its validation and test accuracy."""
    from seqlab.training.trainer import fit

    t0 = time.perf_counter()
    run = fit(
        model,
        vec,
        s.train,
        val_split=0.2,
        seed=s.seed,
        device=s.device,
        out=s.out / name,
        overwrite=True,  # the demo is re-run into the same folder
        progress=s.progress,
        **settings,
    )
    seconds = time.perf_counter() - t0
    test = run.evaluate(s.test)
    s.runs[name] = run
    s.results[name] = {
        "val_accuracy": run.metrics["val"]["accuracy"],
        "test_accuracy": test["accuracy"],
        "best_epoch": run.metrics["best_epoch"],
        "train_seconds": round(seconds, 1),
        "run_folder": str(s.out / name),
    }
    s.echo(
        f"{name}: validation accuracy {run.metrics['val']['accuracy']:.3f} (best of "
        f"{run.metrics['epochs_run']} epochs: {run.metrics['best_epoch']}), test accuracy "
        f"{test['accuracy']:.3f}, trained in {seconds:.1f} s"
    )
    s.echo(f"run folder: {s.out / name} (learning curves in curves.png)")


def step_predict(s: DemoState) -> None:
    """A few predictions, with probabilities, from the best model so far."""
    best = max(s.results, key=lambda k: s.results[k]["val_accuracy"])
    run = s.runs[best]
    rng = np.random.default_rng(s.seed)
    picks = rng.choice(len(s.test), size=3, replace=False)
    texts = [s.test.texts[i] for i in picks] + OWN_SENTENCES
    truth = [s.test.label_names[s.test.labels[i]] for i in picks] + ["(ours)"] * 2
    proba = run.predict_proba(texts)
    s.echo(f"model: {best}")
    for text, true, p in zip(texts, truth, proba):
        k = int(p.argmax())
        short = text if len(text) <= 70 else text[:67] + "..."
        s.echo(f"  {run.labels[k]} {p[k]:.2f}  (true: {true:6s})  {short}")


def step_lm(s: DemoState) -> None:
    """Train a character-level LSTM language model on the bundled Nietzsche for
    ``s.lm_seconds`` seconds (0 skips it) and print one sample per temperature."""
    if s.lm_seconds <= 0:
        s.echo("skipped (lm_seconds = 0)")
        return
    from seqlab.lm.train import demo_step

    t0 = time.perf_counter()
    lm = demo_step(
        s.out / "lm-char", seconds=s.lm_seconds, steps=s.lm_steps, seed=s.seed, echo=s.echo
    )
    s.runs["lm-char"] = lm
    val = lm.metrics.get("val", {})
    s.results_lm = {
        "val_nats_per_char": val.get("loss"),
        "train_seconds": round(time.perf_counter() - t0, 1),
        "run_folder": str(s.out / "lm-char"),
    }
    s.echo(f"run folder: {s.out / 'lm-char'} (seqlab lm generate {s.out / 'lm-char'} --prompt ...)")


def step_summary(s: DemoState) -> None:
    """Write ``summary.json`` and say how to reuse the runs."""
    summary: dict[str, Any] = {"seed": s.seed, "models": s.results}
    if s.results_lm:
        summary["language_model"] = s.results_lm
    atomic_write_json(s.out / "summary.json", summary)
    for name, r in s.results.items():
        s.echo(f"{name:12s} val {r['val_accuracy']:.3f}  test {r['test_accuracy']:.3f}")
    first = next(iter(s.results), None)
    if first:
        folder = s.results[first]["run_folder"]
        s.echo(
            f'reuse: seqlab classify predict {folder} "your sentence"   or   '
            f'seqlab.load("{folder}")'
        )


STEPS: list[tuple[str, Callable[[DemoState], None]]] = [
    ("Data: bundled movie-review snippets", step_data),
    ("Text becomes vectors", step_vectors),
    ("Bag-of-words classifier (NBSVM-style, uni+bigrams)", step_bow),
    ("A small LSTM on the word sequence", step_lstm),
    ("Predictions", step_predict),
    ("A character-level language model on Nietzsche", step_lm),
    ("Summary", step_summary),
]


def run_demo(
    out: PathLike = "runs/demo",
    *,
    seed: int = 0,
    device: str = "auto",
    data_dir: PathLike | None = None,
    progress: bool = False,
    lm_seconds: float = 60.0,
    lm_steps: int | None = None,
    echo: Callable[[str], None] = print,
    steps: list[tuple[str, Callable[[DemoState], None]]] | None = None,
) -> DemoState:
    """Run the demo steps in order, printing through ``echo``; return the final state.

    >>> state = run_demo("runs/demo", seed=0)  # doctest: +SKIP
    >>> state.results["bow-nbsvm"]["test_accuracy"], state.results["lstm"]["test_accuracy"]  # doctest: +SKIP
    (0.79, 0.74)
    """
    s = DemoState(
        out=Path(out),
        seed=seed,
        device=device,
        data_dir=data_dir,
        progress=progress,
        lm_seconds=lm_seconds,
        lm_steps=lm_steps,
        echo=echo,
    )
    t0 = time.perf_counter()
    for i, (title, step) in enumerate(STEPS if steps is None else steps, start=1):
        echo(f"\n== {i}. {title}")
        step(s)
    echo(f"\ndone in {time.perf_counter() - t0:.1f} s")
    return s
