"""Ensembles: one classifier made of several trained runs, by averaging or stacking their
class probabilities.

An :class:`Ensemble` is a :class:`seqlab.Run` whose probabilities combine those of its
members (run folders trained on the same labels, each reading texts its own way: a bag of
n-grams, an LSTM, a CNN...). With ``P[k]`` the probabilities of member ``k``:

* ``method="mean"``: ``p = sum_k w_k P[k]``, equal weights unless ``weights`` are given
  (then scaled to sum to 1);
* ``method="stack"``: the combination is fitted on the validation split the members were
  trained with, and on nothing else: ``stacker="weights"`` fits the ``w_k`` of that mean
  (maximum likelihood on the simplex), ``stacker="logistic"`` a logistic regression on the
  members' log-probabilities (see :mod:`seqlab._stacking`).

A stacker fitted on texts that a member trained on would trust that member too much, so
:func:`build_ensemble` checks each member's recorded split (``val_split``, ``seed`` and the
data size in its ``config.json``): the same dataset split with the same fraction and seed
gives the same held-out texts (:func:`seqlab.data.batching.stratified_split` is
deterministic), and anything else is refused unless ``force=True``.

Run folder (``task: "classify-ensemble"``): the members are copied in, so the folder stands
alone (move it, delete the members' folders: it still loads)::

    ens/
      config.json        task, labels, method, stacker, "weights" or "logistic" (coef,
                         intercept), "members": [{name, source (where it was copied from),
                         config (its config.json), metrics}], "fitted_on" (what a fit used)
      model.safetensors  every member's weights, member k's under the prefix "k."
      vocab-<k>.json     member k's vectorizer
      metrics.json       with data: the ensemble's and each member's validation metrics

>>> ens = build_ensemble(["runs/nbsvm", "runs/lstm"], out="runs/ens")  # doctest: +SKIP
>>> seqlab.load("runs/ens").predict(["a wonderful, moving film"])  # doctest: +SKIP
['pos']
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from seqlab import _stacking
from seqlab._checks import check_choice
from seqlab._ensemble_parts import (
    check_members,
    check_weights,
    member_names,
    relative_source,
    resolve_source,
    source_of,
    validation_split,
)
from seqlab._utils import PathLike, json_bytes, load_weights, read_json, resolve_device
from seqlab.data.arrays import is_encoded
from seqlab.data.base import TextDataset
from seqlab.metrics import classification_metrics
from seqlab.runfolder import RunFolder
from seqlab.runs import FORMAT, Run, read_config, read_vectorizer, run_task, state_dict_to_bytes
from seqlab.runs import load as load_run
from seqlab.text.fixed import FixedLengthVectorizer

__all__ = [
    "METHODS",
    "STACKERS",
    "TASK",
    "Ensemble",
    "build_ensemble",
    "load",
    "validation_split",
]

TASK = "classify-ensemble"
METHODS = ("mean", "stack")
STACKERS = ("weights", "logistic")


class Ensemble(Run):
    """A classifier that combines the probabilities of trained runs (see the module
    docstring); :meth:`predict`, :meth:`evaluate`, :meth:`explain` (occlusion) and
    :meth:`save` work as for any :class:`~seqlab.runs.Run`.

    ``model`` is an ``nn.ModuleList`` of the members' models (one ``.to(device)`` moves them
    all); ``weights`` (``K``) or ``logistic`` (``{"coef": (C, K * C), "intercept": (C,),
    "l2": ...}``) say how they combine; ``fitted_on`` records the data a stacker was fitted
    on (and the split and its size, a SHA-256 of its texts).

    >>> ens = Ensemble([run_a, run_b])  # doctest: +SKIP
    >>> ens.predict_proba(["great fun"])  # the mean of run_a's and run_b's  # doctest: +SKIP
    array([[0.1, 0.9]], dtype=float32)
    """

    def __init__(
        self,
        members: Sequence[Run],
        *,
        names: Sequence[str] | None = None,
        method: str = "mean",
        stacker: str | None = None,
        weights: Sequence[float] | np.ndarray | None = None,
        logistic: dict[str, Any] | None = None,
        sources: Sequence[str | None] | None = None,
        fitted_on: dict[str, Any] | None = None,
        metrics: dict[str, Any] | None = None,
        path: PathLike | None = None,
    ) -> None:
        check_choice("method", method, METHODS)
        check_choice("stacker", stacker, STACKERS, allow_none=True)
        members = list(members)
        names = [str(n) for n in names] if names is not None else member_names(members)
        for name, m in zip(names, members):
            if isinstance(m, Ensemble):
                raise ValueError(f"member {name!r} is itself an ensemble; give its member runs")
        labels = check_members(members, names)
        super().__init__(
            nn.ModuleList([m.model for m in members]),
            None,
            labels,
            metrics=metrics,
            train_config=fitted_on,
            path=path,
        )
        self.members = members
        self.names = names
        self.method = method
        self.stacker = stacker
        self.logistic = logistic
        self.weights = None if logistic else check_weights(weights, len(members))
        self.sources = list(sources) if sources is not None else [source_of(m) for m in members]
        self.fitted_on = dict(fitted_on or {})
        # member k's column j -> this ensemble's column (members may order the labels apart)
        self._columns = [np.array([m.labels.index(lab) for lab in labels]) for m in members]

    def __repr__(self) -> str:
        return f"Ensemble({self.model_name}, labels={self.labels}, path={str(self.path)!r})"

    @property
    def model_name(self) -> str:
        """``ensemble(<method>: <member models>)``."""
        kinds = ", ".join(m.model_name for m in self.members)
        how = self.method if self.stacker is None else f"{self.method} {self.stacker}"
        return f"ensemble({how}: {kinds})"

    @property
    def input_kind(self) -> str:
        return "text"  # each member encodes the texts itself

    @property
    def explain_methods(self) -> tuple[str, ...]:
        return ("occlusion",)

    def encode(self, texts: Any) -> Any:
        raise TypeError(
            "an ensemble has no encoding of its own (each member encodes the texts its own "
            "way); pass texts to predict_proba, or encode with one of ensemble.members"
        )

    def member_proba(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
        """``(K, N, C)`` float64: every member's class probabilities for ``texts``, columns
        in this ensemble's label order."""
        if is_encoded(texts) or isinstance(texts, str):
            raise TypeError(
                "an ensemble reads texts (each member encodes them its own way); pass a list "
                f"of str, got {type(texts).__name__}"
            )
        texts = list(texts)
        return np.stack(
            [
                m.predict_proba(texts, batch_size=batch_size)[:, cols].astype(np.float64)
                for m, cols in zip(self.members, self._columns)
            ]
        )

    def combine(self, member_proba: np.ndarray) -> np.ndarray:
        """``(N, C)`` float64: the ensemble's probabilities from :meth:`member_proba`'s."""
        if self.logistic is not None:
            features = _stacking.log_features(member_proba, self.logistic["floor"])
            return _stacking.logistic_proba(
                features, self.logistic["coef"], self.logistic["intercept"]
            )
        return _stacking.weighted_mean(member_proba, self.weights)

    def predict_proba(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
        """Class probabilities ``(len(texts), num_classes)`` (float32), columns following
        ``self.labels``: the members' combined (see the module docstring).

        >>> ens.predict_proba(["great fun"]).round(2)  # doctest: +SKIP
        array([[0.08, 0.92]], dtype=float32)
        """
        return self.combine(self.member_proba(texts, batch_size)).astype(np.float32)

    def tokens(self, text: str) -> list[str]:
        """The words that :meth:`explain` removes one at a time: the first word-level
        member's words (standardised, stop words removed), whole texts (no truncation).

        >>> ens.tokens("A wonderful, moving film!")  # doctest: +SKIP
        ['a', 'wonderful', 'moving', 'film']
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be one str, got {type(text).__name__}")
        words = self._word_vectorizer().words(text)
        if not words:
            raise ValueError(
                f"text {text!r} has no tokens (the members' vectorizer finds no word in it); "
                "give a text with at least one word"
            )
        return words

    def explain(
        self, text: str, method: str = "occlusion", *, target: int | str | None = None
    ) -> list[tuple[str, float]]:
        """Each word of ``text`` with the drop in the ensemble's probability of ``target``
        (default: the predicted label) when that word is removed and the text read again by
        every member: occlusion on the text, which any member understands. Gradients have
        no common input to flow back to (each member embeds the text its own way), so
        ``method="grad_x_input"`` is refused.

        >>> ens.explain("a wonderful film")  # doctest: +SKIP
        [('a', 0.001), ('wonderful', 0.38), ('film', -0.01)]
        """
        if not isinstance(text, str):
            raise TypeError(
                f"text must be one str, got {type(text).__name__}; call explain once per text"
            )
        if method != "occlusion":
            raise ValueError(
                f"method={method!r} cannot explain an ensemble: its members read the text "
                "through different vectorizers and embeddings, so there is no common input "
                "to take gradients by; use method='occlusion' (each word removed in turn)"
            )
        target_index = self._target_index(target)
        words = self.tokens(text)
        variants = [text] + [" ".join(words[:i] + words[i + 1 :]) for i in range(len(words))]
        proba = self.predict_proba(variants)
        k = int(proba[0].argmax()) if target_index is None else target_index
        return [(w, float(proba[0, k] - proba[i + 1, k])) for i, w in enumerate(words)]

    def _word_vectorizer(self) -> Any:
        for m in self.members:
            if getattr(m.vectorizer, "level", "word") == "word":
                return m.vectorizer
        from seqlab.text import TextVectorizer

        return TextVectorizer()  # every member reads characters: split words the default way

    def summary(self) -> str:
        """Each member's name, weight and layer summary."""
        parts = [f"{self.model_name}: {len(self.members)} members, labels {self.labels}"]
        for k, (name, m) in enumerate(zip(self.names, self.members)):
            weight = "" if self.weights is None else f", weight {self.weights[k]:.4f}"
            parts.append(f"\n== member {k}: {name} ({m.model_name}{weight})\n{m.summary()}")
        return "\n".join(parts)

    def config_dict(self, folder: PathLike | None = None) -> dict[str, Any]:
        """The content of ``config.json`` (member sources relative to ``folder`` if given)."""
        import seqlab

        return {
            "task": TASK,
            "format": FORMAT,
            "labels": self.labels,
            "method": self.method,
            "stacker": self.stacker,
            "weights": None if self.weights is None else [float(w) for w in self.weights],
            "logistic": None if self.logistic is None else _logistic_json(self.logistic),
            "members": [
                {
                    "name": name,
                    "source": relative_source(source, folder),
                    "config": m.config_dict(),
                    "metrics": m.metrics,
                }
                for name, source, m in zip(self.names, self.sources, self.members)
            ],
            "fitted_on": self.fitted_on,
            "seqlab_version": seqlab.__version__,
        }

    def files(self, *, curves: bool = True, folder: PathLike | None = None) -> dict[str, bytes]:
        """The run folder's files (see the module docstring); ``curves`` is unused (an
        ensemble has no training curves)."""
        files = {
            "config.json": json_bytes(self.config_dict(folder)),
            "model.safetensors": state_dict_to_bytes(self.model.state_dict()),
            "history.json": json_bytes({}),
            "metrics.json": json_bytes(self.metrics),
        }
        for k, m in enumerate(self.members):
            files[f"vocab-{k}.json"] = json_bytes(m.vectorizer.to_dict())
        return files


def _logistic_json(logistic: dict[str, Any]) -> dict[str, Any]:
    return {
        "coef": np.asarray(logistic["coef"], dtype=np.float64).tolist(),
        "intercept": np.asarray(logistic["intercept"], dtype=np.float64).tolist(),
        "l2": float(logistic["l2"]),
        "floor": float(logistic["floor"]),
        "features": "log-probabilities of each member, member by member",
    }


def build_ensemble(
    members: Sequence[PathLike | Run],
    method: str = "mean",
    *,
    weights: Sequence[float] | None = None,
    stacker: str = "weights",
    data: str | PathLike | TextDataset | None = None,
    data_dir: PathLike | None = None,
    text_column: str | int = "text",
    label_column: str | int = "label",
    val_split: float | None = None,
    seed: int | None = None,
    force: bool = False,
    l2: float = 1e-3,
    batch_size: int = 256,
    device: str = "auto",
    out: PathLike | None = None,
    overwrite: bool = False,
) -> Ensemble:
    """Combine the runs ``members`` (run folders or loaded :class:`~seqlab.runs.Run`\\ s)
    into an :class:`Ensemble`, written to the run folder ``out`` when given (refused if it
    holds a run, unless ``overwrite=True``).

    ``method="mean"`` averages (``weights``: one per member). ``method="stack"`` fits the
    ``stacker`` (``"weights"`` or ``"logistic"``, with ``l2``) on the validation split of
    ``data``'s training part: the fraction ``val_split`` drawn with ``seed``, both by
    default the members' own (from their ``config.json``). A member that trained on any of
    those texts (other split, other seed, other data size, no validation split) is refused
    unless ``force=True``. With ``data`` and ``method="mean"`` the same split is only
    measured (``metrics.json``). ``data``, ``data_dir``, ``text_column``, ``label_column``
    are :func:`seqlab.training.classify.load_dataset`'s.

    >>> ens = build_ensemble(["runs/nbsvm", "runs/lstm"], "stack", data="imdb",
    ...                      out="runs/ens")  # doctest: +SKIP
    >>> ens.weights  # doctest: +SKIP
    array([0.62, 0.38])
    """
    check_choice("method", method, METHODS)
    check_choice("stacker", stacker, STACKERS)
    if method == "stack" and weights is not None:
        raise ValueError(
            "weights are fitted on the validation split with method='stack'; drop weights, "
            "or use method='mean' to give them yourself"
        )
    if method == "stack" and data is None:
        raise ValueError(
            "method='stack' fits its weights on the members' validation split: pass data= "
            "(the dataset the members were trained on, e.g. data='imdb')"
        )
    if not (isinstance(l2, int | float) and l2 >= 0):
        raise ValueError(f"l2 must be a number >= 0, got {l2!r}")
    if out is not None:  # an unwritable or occupied folder fails now, not after the fit
        RunFolder(out, overwrite=overwrite).open().close()
    runs = _load_members(members, device)
    ens = Ensemble(runs, weights=weights, method=method)
    if data is not None:
        records = list(zip(ens.names, (m.train_config for m in ens.members)))
        val, fitted_on = validation_split(
            records, data, data_dir=data_dir, val_split=val_split, seed=seed, force=force,
            text_column=text_column, label_column=label_column,
        )  # fmt: skip
        y = ens._labels_of(val)
        P = ens.member_proba(val.texts, batch_size)
        if method == "stack":
            _fit_stacker(ens, P, y, stacker, l2)
        ens.fitted_on = ens.train_config = fitted_on
        ens.metrics = _validation_metrics(ens, P, y)
    if out is not None:
        with RunFolder(out, overwrite=overwrite) as folder:
            folder.commit(ens.files(folder=out))
        ens.path = Path(out)
    return ens


def _fit_stacker(ens: Ensemble, P: np.ndarray, y: np.ndarray, stacker: str, l2: float) -> None:
    """Fit ``ens``'s combination on the members' validation probabilities ``P`` (K, N, C)."""
    ens.stacker = stacker
    if stacker == "weights":
        q = P[:, np.arange(len(y)), y]  # (K, N): each member's probability of the true label
        ens.weights = check_weights(_stacking.fit_mixture_weights(q), len(ens.members))
        return
    coef, intercept = _stacking.fit_logistic(_stacking.log_features(P), y, len(ens.labels), l2)
    ens.weights = None
    ens.logistic = {"coef": coef, "intercept": intercept, "l2": float(l2), "floor": _stacking.FLOOR}


def _load_members(members: Sequence[PathLike | Run], device: str) -> list[Run]:
    if isinstance(members, str | os.PathLike | Run):
        raise TypeError(
            "members must be a list of run folders (or Runs), got one; give two or more"
        )
    runs, seen = [], set()
    for item in members:
        if isinstance(item, Run):
            runs.append(item)
            continue
        path = Path(item)
        if run_task(read_config(path)) == TASK:
            raise ValueError(f"member {str(path)!r} is itself an ensemble; give its member runs")
        key = path.resolve()
        if key in seen:
            raise ValueError(f"run {str(path)!r} is given twice; give each member once")
        seen.add(key)
        runs.append(load_run(path, device=device))
    return runs


def _validation_metrics(ens: Ensemble, P: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    C = len(ens.labels)
    val = classification_metrics(y, ens.combine(P), C)
    members = {name: classification_metrics(y, P[k], C) for k, name in enumerate(ens.names)}
    return {"val": {**val, "n": len(y)}, "members_val": members}


def load(path: PathLike, device: str | torch.device = "auto") -> Ensemble:
    """Load an ensemble run folder written by :func:`build_ensemble` or
    :meth:`Ensemble.save` (``seqlab.load`` does this for any run folder).

    >>> seqlab.ensemble.load("runs/ens").predict(["an instant classic"])  # doctest: +SKIP
    ['pos']
    """
    from seqlab.models import rebuild

    path = Path(path)
    config = read_config(path)
    if run_task(config) != TASK:
        raise ValueError(
            f"{path} holds a {run_task(config)!r} run, not an ensemble; load it with "
            "seqlab.load(path)"
        )
    entries = config["members"]
    models = [
        rebuild(e["config"]["model"]["name"], e["config"]["model"]["config"]) for e in entries
    ]
    holder = nn.ModuleList(models)
    load_weights(holder, path / "model.safetensors")
    holder.to(resolve_device(device)).eval()
    members = []
    for k, (entry, model) in enumerate(zip(entries, models)):
        train = entry["config"].get("train", {})
        vectorizer = read_vectorizer(path / f"vocab-{k}.json")
        if train.get("fixed_maxlen"):
            vectorizer = FixedLengthVectorizer(vectorizer)
        labels = entry["config"]["labels"]
        members.append(
            Run(model, vectorizer, labels, metrics=entry.get("metrics"), train_config=train)
        )
    logistic = config.get("logistic")
    if logistic is not None:
        logistic = {
            **logistic,
            "coef": np.asarray(logistic["coef"]),
            "intercept": np.asarray(logistic["intercept"]),
        }
    metrics_file = path / "metrics.json"
    return Ensemble(
        members,
        names=[e["name"] for e in entries],
        method=config["method"],
        stacker=config.get("stacker"),
        weights=config.get("weights"),
        logistic=logistic,
        sources=[resolve_source(e.get("source"), path) for e in entries],
        fitted_on=config.get("fitted_on"),
        metrics=read_json(metrics_file) if metrics_file.is_file() else {},
        path=path,
    )
