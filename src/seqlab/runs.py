"""Run folders: a trained classifier with its vocabulary, history and metrics, on disk.

Layout (every file written atomically; no pickle anywhere)::

    run/
      config.json        {"task": "classify", "model": {"name", "config"}, "labels": [...],
                          "train": {...fit arguments and sizes...}, "seqlab_version"}
      vocab.json         TextVectorizer.to_dict()
      model.safetensors  the weights (and buffers such as NB ratios)
      history.json       per-epoch metrics, Keras-style {"loss": [...], "val_loss": [...], ...}
      metrics.json       best epoch and its metrics (and any later evaluation)
      curves.png         accuracy and loss, training vs validation
      checkpoint/        resume state of seqlab.fit (state.safetensors + state.json)

A run trained with ``fixed_maxlen`` (``train.fixed_maxlen`` in config.json) reads every text
padded to that length, padding included; :func:`load` restores that behaviour.

:func:`load` rebuilds the model with ``seqlab.models.rebuild(name, config)`` and the
vectorizer with ``TextVectorizer.from_dict``, so a run folder works on any machine.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from safetensors.torch import save as save_safetensors
from torch import nn

from seqlab._checks import check_choice
from seqlab._utils import PathLike, json_bytes, load_weights, read_json, resolve_device
from seqlab.curves import curves_png
from seqlab.data.arrays import as_model_inputs, is_encoded
from seqlab.data.base import TextDataset
from seqlab.data.batching import encode, epoch_batches, make_batch
from seqlab.history import History
from seqlab.metrics import classification_metrics, confusion_matrix
from seqlab.models.layer_summary import summary
from seqlab.runfolder import RunFolder
from seqlab.text.fixed import FixedLengthVectorizer

if TYPE_CHECKING:
    pass

__all__ = [
    "Run",
    "load",
    "predict_logits",
    "read_config",
    "read_vectorizer",
    "run_task",
    "state_dict_to_bytes",
]

RUN_FILES = ("config.json", "vocab.json", "model.safetensors")
FORMAT = 1  # the run-folder format version written in config.json


def state_dict_to_bytes(
    tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None
) -> bytes:
    """safetensors bytes of ``tensors`` (copied to contiguous CPU memory first, since
    safetensors refuses views and tensors that share storage).

    >>> from safetensors.torch import load
    >>> load(state_dict_to_bytes({"w": torch.ones(2, 3).t()}))["w"].shape
    torch.Size([3, 2])
    """
    clean = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}
    return save_safetensors(clean, metadata=metadata)


@torch.no_grad()
def predict_logits(
    model: nn.Module,
    inputs: Any,
    *,
    batch_size: int = 256,
    device: str | torch.device | None = None,
) -> torch.Tensor:
    """Logits ``(N, num_classes)`` of ``model`` for encoded ``inputs`` (a CSR matrix or a list
    of token-id arrays), in input order, on the CPU. The model is put in eval mode for the
    call and its previous mode restored.

    >>> from seqlab.models.dense import BagOfWordsMLP
    >>> import scipy.sparse as sp
    >>> predict_logits(BagOfWordsMLP(5), sp.csr_matrix(np.eye(3, 5, dtype=np.float32))).shape
    torch.Size([3, 2])
    """
    device = next(model.parameters()).device if device is None else resolve_device(device)
    was_training = model.training
    model.eval()
    try:
        batches = epoch_batches(inputs, batch_size, shuffle=False)
        n = sum(len(b) for b in batches)
        out: torch.Tensor | None = None
        for rows in batches:
            batch = {k: v.to(device) for k, v in make_batch(inputs, rows).items()}
            logits = model(**batch).float().cpu()
            if out is None:
                out = torch.empty((n, logits.shape[1]), dtype=torch.float32)
            out[torch.from_numpy(np.asarray(rows, dtype=np.int64))] = logits
        if out is None:
            num_classes = int(getattr(model, "config", {}).get("num_classes", 0))
            out = torch.empty((0, num_classes), dtype=torch.float32)
        return out
    finally:
        model.train(was_training)


class Run:
    """A trained classifier: model + vectorizer + label names (+ history and metrics).

    Returned by :func:`seqlab.fit` and :func:`load`.

    >>> run = seqlab.load("runs/demo")  # doctest: +SKIP
    >>> run.predict(["a wonderful, moving film"])  # doctest: +SKIP
    ['pos']
    """

    def __init__(
        self,
        model: nn.Module,
        vectorizer: Any,
        labels: Sequence[str],
        *,
        history: dict[str, list] | None = None,
        metrics: dict[str, Any] | None = None,
        train_config: dict[str, Any] | None = None,
        path: PathLike | None = None,
    ) -> None:
        self.model = model
        self.vectorizer = vectorizer
        self.labels = [str(x) for x in labels]
        # Keras-style lists per epoch; "acc" / "val_acc" find "accuracy" / "val_accuracy"
        self.history = History(history or {})
        self.metrics = metrics or {}
        self.train_config = train_config or {}
        self.path = Path(path) if path is not None else None

    def __repr__(self) -> str:
        return f"Run(model={self.model_name!r}, labels={self.labels}, path={str(self.path)!r})"

    @property
    def model_name(self) -> str:
        """The model's registry name (``"lstm"``, ``"bow-mlp"``...)."""
        return getattr(self.model, "registry_name", type(self.model).__name__)

    @property
    def input_kind(self) -> str:
        return getattr(self.model, "input_kind", "bag")

    @property
    def explain_methods(self) -> tuple[str, ...]:
        """The ``method`` values :meth:`explain` takes for this run."""
        return ("occlusion",) if self.input_kind == "bag" else ("occlusion", "grad_x_input")

    def encode(self, texts: Sequence[str] | Any) -> Any:
        """The model inputs for ``texts`` (what the vectorizer makes of them); arrays of
        numbers (token ids, rows of a bag matrix: :mod:`seqlab.data.arrays`) pass as they
        are, the only input of a run trained on arrays."""
        if self.vectorizer is None and not is_encoded(texts):
            raise ValueError(
                "this run was trained on (x, y) arrays and has no vocabulary, so it cannot "
                "read texts; give it token ids (or bag rows) encoded as its training data was"
            )
        if self.vectorizer is None or is_encoded(texts):
            vocab_size = (getattr(self.model, "config", None) or {}).get("vocab_size")
            return as_model_inputs(texts, self.input_kind, vocab_size)
        return encode(self.vectorizer, texts, self.input_kind)

    def predict_proba(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
        """Class probabilities ``(len(texts), num_classes)``; columns follow ``self.labels``.

        >>> run.predict_proba(["great fun"]).round(2)  # doctest: +SKIP
        array([[0.08, 0.92]], dtype=float32)
        """
        logits = predict_logits(self.model, self.encode(texts), batch_size=batch_size)
        return torch.softmax(logits, dim=1).numpy()

    def predict(self, texts: Sequence[str], batch_size: int = 256) -> list[str]:
        """The most probable label name for each text.

        >>> run.predict(["great fun", "a dull mess"])  # doctest: +SKIP
        ['pos', 'neg']
        """
        proba = self.predict_proba(texts, batch_size=batch_size)
        return [self.labels[i] for i in proba.argmax(axis=1)]

    def evaluate(
        self, dataset: TextDataset | tuple[Any, Any], batch_size: int = 256
    ) -> dict[str, Any]:
        """``loss``, ``accuracy`` (and ``f1_macro`` with more than two classes), the item count
        ``n`` and the ``confusion_matrix`` (rows: true label, columns: predicted) on
        ``dataset``, whose labels are matched to this run's labels by name; or on Keras-style
        ``(x, y)`` arrays, with ``y`` the label indices.

        >>> run.evaluate(sl.datasets.imdb("test"))["accuracy"]  # doctest: +SKIP
        0.912
        """
        if isinstance(dataset, tuple) and len(dataset) == 2:
            inputs, y = dataset[0], np.asarray(dataset[1])
            if (
                y.ndim != 1
                or not np.issubdtype(y.dtype, np.integer)
                or (y.size and not 0 <= y.min() <= y.max() < len(self.labels))
            ):
                raise ValueError(
                    f"y must be label indices 0..{len(self.labels) - 1} (this run's labels "
                    f"{self.labels}), got dtype {y.dtype}, shape {y.shape}"
                )
        elif isinstance(dataset, TextDataset):
            inputs, y = dataset.texts, self._labels_of(dataset)
        else:
            raise TypeError(
                f"dataset must be a seqlab TextDataset or (x, y) arrays, got "
                f"{type(dataset).__name__}"
            )
        if len(y) == 0:
            raise ValueError("dataset is empty; evaluate needs at least one labelled text")
        proba = self.predict_proba(inputs, batch_size=batch_size)
        out: dict[str, Any] = classification_metrics(y, proba, len(self.labels))
        out["n"] = len(y)
        out["confusion_matrix"] = confusion_matrix(y, proba.argmax(1), len(self.labels)).tolist()
        return out

    def explain(
        self, text: str, method: str = "occlusion", *, target: int | str | None = None
    ) -> list[tuple[str, float]]:
        """Each token of ``text`` with a score: how much it pushed up the probability of
        ``target`` (a label name or index; by default the predicted label).

        Sequence models: :func:`seqlab.explain.explain` with ``method="occlusion"`` (exact:
        the token's input vector replaced by zeros) or ``"grad_x_input"`` (gradient times
        input, one backward pass). The tokens are the vectorizer's (after truncation).

        Bag-of-words models: occlusion only — each word in turn is removed from the text,
        which is vectorized again (so its n-grams go too), and the score is the drop in
        probability.

        Scores are in units of probability; positive supports the label, negative speaks
        against it.

        >>> run.explain("a wonderful film")  # doctest: +SKIP
        [('a', 0.001), ('wonderful', 0.41), ('film', -0.02)]
        """
        from seqlab.explain import METHODS
        from seqlab.explain import explain as explain_ids

        if not isinstance(text, str):
            raise TypeError(
                f"text must be one str, got {type(text).__name__}; call explain once per text"
            )
        check_choice("method", method, METHODS)
        target_index = self._target_index(target)
        if self.input_kind == "bag":
            if method != "occlusion":
                raise ValueError(
                    f"method={method!r} needs a sequence model; a bag-of-words run is "
                    "explained by occlusion (each word removed, the text vectorized again): "
                    "use method='occlusion'"
                )
            return self._explain_bag(text, target_index)
        tokens = self.tokens(text)
        ids = self.encode([text])[0]
        scores = explain_ids(self.model, ids, method, target=target_index)
        real = np.asarray(ids) != 0  # a fixed-length run's padding is not a token of the text
        assert len(tokens) == int(real.sum()), (tokens, ids)
        return [(tok, float(s)) for tok, s in zip(tokens, scores[real])]

    def _target_index(self, target: int | str | None) -> int | None:
        if target is None:
            return None
        if isinstance(target, str):
            if target not in self.labels:
                raise ValueError(f"target {target!r} is not a label of this run: {self.labels}")
            return self.labels.index(target)
        if isinstance(target, bool) or not isinstance(target, int | np.integer):
            raise TypeError(f"target must be a label name or index, got {target!r}")
        if not 0 <= int(target) < len(self.labels):
            raise ValueError(
                f"target must be a label index in [0, {len(self.labels) - 1}], got {target!r}"
            )
        return int(target)

    def tokens(self, text: str) -> list[str]:
        """The tokens of ``text`` that a sequence model reads, one per step: the vectorizer's
        tokens, cut as its ``maxlen`` / ``truncating`` cut them. An empty list is refused.

        >>> run.tokens("A wonderful, moving film!")  # doctest: +SKIP
        ['a', 'wonderful', 'moving', 'film']
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be one str, got {type(text).__name__}")
        vec = self.vectorizer
        tokens = vec.tokenize(text)
        maxlen = getattr(vec, "maxlen", None)
        if maxlen is not None and len(tokens) > maxlen:
            pre = getattr(vec, "truncating", "post") == "pre"
            tokens = tokens[-maxlen:] if pre else tokens[:maxlen]
        if not tokens:
            raise ValueError(
                f"text {text!r} has no tokens (the vectorizer finds no word in it); give a "
                "text with at least one word"
            )
        return tokens

    def _explain_bag(self, text: str, target: int | None) -> list[tuple[str, float]]:
        vec = self.vectorizer
        if getattr(vec, "level", "word") != "word":
            raise ValueError(
                "explaining a bag-of-words run needs a word-level vectorizer (words are "
                f"removed one at a time); this run's vectorizer has level={vec.level!r}"
            )
        words = vec.words(text)  # standardised, stop words removed
        if not words:
            raise ValueError(f"text {text!r} has no tokens to explain")
        # Row 0: the text; row i + 1: the text without word i (re-joined standardized words
        # tokenize back to the same words, so only word i and its n-grams change).
        variants = [text] + [" ".join(words[:i] + words[i + 1 :]) for i in range(len(words))]
        proba = self.predict_proba(variants)
        k = int(proba[0].argmax()) if target is None else target
        return [(w, float(proba[0, k] - proba[i + 1, k])) for i, w in enumerate(words)]

    def _labels_of(self, dataset: TextDataset) -> np.ndarray:
        names = [str(x) for x in dataset.label_names]
        if names == self.labels:
            return dataset.labels
        unknown = sorted(set(names) - set(self.labels))
        if unknown:
            raise ValueError(
                f"dataset has labels {unknown} that this run never learned (its labels are "
                f"{self.labels}); evaluate on data with the same label names"
            )
        to_run = np.array([self.labels.index(n) for n in names], dtype=np.int64)
        return to_run[dataset.labels]

    def config_dict(self) -> dict[str, Any]:
        """The content of ``config.json``."""
        import seqlab

        name = getattr(self.model, "registry_name", None)
        config = getattr(self.model, "config", None)
        if name is None or not isinstance(config, dict):
            raise TypeError(
                f"{type(self.model).__name__} cannot be saved: a model must be registered with "
                "@seqlab.models.register(name) and keep its constructor kwargs in self.config"
            )
        return {
            "task": "classify",
            "format": FORMAT,
            "model": {"name": name, "config": config},
            "labels": self.labels,
            "train": self.train_config,
            "seqlab_version": seqlab.__version__,
        }

    def summary(self) -> str:
        """The model's layers, output shapes and parameter counts, like Keras's
        ``model.summary()`` (see :func:`seqlab.models.summary`), for the input length the run
        was trained on when it had a fixed one (``fixed_maxlen``, embedding-dense's
        ``maxlen``).

        >>> print(run.summary())  # doctest: +SKIP
        """
        return summary(self.model, input_length=self.train_config.get("fixed_maxlen"))

    def files(self, *, curves: bool = True, folder: PathLike | None = None) -> dict[str, bytes]:
        """The run folder's files as bytes: ``config.json``, ``vocab.json``,
        ``model.safetensors``, ``history.json``, ``metrics.json`` and ``curves.png`` (titled
        with the model's name and ``folder``'s name)."""
        files = {
            "config.json": json_bytes(self.config_dict()),
            "model.safetensors": state_dict_to_bytes(self.model.state_dict()),
            "history.json": json_bytes(self.history),
            "metrics.json": json_bytes(self.metrics),
        }
        if self.vectorizer is not None:
            files["vocab.json"] = json_bytes(self.vectorizer.to_dict())
        if curves and self.history.get("loss"):
            title = self.config_dict()["model"]["name"]
            if folder is not None:
                title += f" ({Path(folder).name})"
            files["curves.png"] = curves_png(self.history, title=title)
        return files

    def save(self, path: PathLike, *, curves: bool = True) -> Path:
        """Write the run folder at ``path`` (created if needed; a run already there is
        replaced, all files at once, see :mod:`seqlab.runfolder`) and return its Path.

        >>> run.save("runs/copy")  # doctest: +SKIP
        PosixPath('runs/copy')
        """
        path = Path(path)
        with RunFolder(path, overwrite=True) as folder:
            folder.commit(self.files(curves=curves, folder=path))
        self.path = path
        return path


def read_config(path: Path) -> dict[str, Any]:
    """The ``config.json`` of a finished run folder, with one-line errors for a missing
    folder, an unfinished run, a newer format."""
    if not path.is_dir():
        raise FileNotFoundError(
            f"run folder {str(path)!r} does not exist; pass the --out folder of a training run"
        )
    if not (path / "config.json").is_file() and (path / "checkpoint").is_dir():
        raise FileNotFoundError(
            f"{str(path)!r} holds an unfinished run (checkpoint/ but no config.json); finish "
            "it with --resume (resume=True), then load it"
        )
    config = read_json(path / "config.json")
    if not isinstance(config, dict):
        raise ValueError(f"{path / 'config.json'} is not a JSON object; the run folder is damaged")
    if int(config.get("format", 1)) > FORMAT:
        raise ValueError(
            f"{path / 'config.json'} has run-folder format {config['format']}, newer than this "
            f"seqlab reads ({FORMAT}); upgrade seqlab to load it"
        )
    return config


def run_task(config: dict[str, Any]) -> str | None:
    """The task of a run from its config.json (ESN folders before format 1 name a class)."""
    legacy = {"ESN": "esn", "ESNClassifier": "esn-classifier"}
    return config.get("task") or legacy.get(str(config.get("class")))


def load(path: PathLike, device: str | torch.device = "auto") -> Run:
    """Load a classifier run folder written by :func:`seqlab.fit` or :meth:`Run.save`.
    (:func:`seqlab.load` reads the run folder of any task.)

    >>> run = seqlab.runs.load("runs/demo")  # doctest: +SKIP
    >>> run.predict(["an instant classic"])  # doctest: +SKIP
    ['pos']
    """
    from seqlab.models import rebuild

    path = Path(path)
    config = read_config(path)
    task = run_task(config)
    if task != "classify":
        command = {"lm": "seqlab lm generate / evaluate"}.get(str(task), "the command of that task")
        raise ValueError(
            f"{path} holds a {task!r} run, not a classifier; load it with seqlab.load(path) "
            f"({command})"
        )
    arrays = config.get("train", {}).get("inputs") == "arrays"  # no vocab.json
    for name in RUN_FILES:
        if not (path / name).is_file() and not (arrays and name == "vocab.json"):
            raise FileNotFoundError(
                f"{path / name} is missing, so {str(path)!r} is not a complete run folder "
                f"(it needs {', '.join(RUN_FILES)}); was training interrupted? Finish it "
                "with resume=True (--resume)"
            )
    model = rebuild(config["model"]["name"], config["model"]["config"])
    load_weights(model, path / "model.safetensors")
    model.to(resolve_device(device))
    model.eval()
    vectorizer: Any = None if arrays else read_vectorizer(path / "vocab.json")
    if vectorizer is not None and config.get("train", {}).get("fixed_maxlen"):
        vectorizer = FixedLengthVectorizer(vectorizer)  # trained on padded rows: keep padding
    history = read_json(path / "history.json") if (path / "history.json").is_file() else {}
    metrics = read_json(path / "metrics.json") if (path / "metrics.json").is_file() else {}
    return Run(
        model,
        vectorizer,
        config["labels"],
        history=history,
        metrics=metrics,
        train_config=config.get("train", {}),
        path=path,
    )


def read_vectorizer(file: Path) -> Any:
    """The TextVectorizer saved in ``file`` (a run's ``vocab.json``), with a one-line error
    naming the file when it is damaged."""
    from seqlab.text import TextVectorizer

    data = read_json(file)
    try:
        return TextVectorizer.from_dict(data)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise ValueError(
            f"{file} does not describe a vectorizer ({type(exc).__name__}: {exc}); the file "
            "is damaged: restore it, or train the run again"
        ) from None
