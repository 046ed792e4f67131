"""The models ``seqlab serve`` holds: loading run folders and vector files, picking one by name."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seqlab._utils import PathLike
from seqlab.serve.batching import MicroBatcher
from seqlab.serve.errors import ApiError
from seqlab.serve.work import ModelQueue

__all__ = ["KINDS", "ServedModel", "load_models", "pick"]

KINDS = ("classifier", "lm", "embeddings")
_VECTOR_SUFFIXES = (".safetensors", ".txt", ".vec", ".bin", ".gz", ".bz2", ".xz", ".zip")


@dataclass
class ServedModel:
    """One loaded model: its ``name`` in requests, its ``kind`` (``"classifier"``, ``"lm"``
    or ``"embeddings"``), the object itself (a :class:`seqlab.Run`, a
    :class:`seqlab.lm.LanguageModel` or a :class:`seqlab.embeddings.KeyedVectors`), the file
    or folder name it came from, and facts shown by ``GET /v1/models``.

    >>> ServedModel("demo", "classifier", None, "demo").kind
    'classifier'
    """

    name: str
    kind: str
    obj: Any
    source: str
    info: dict[str, Any] = field(default_factory=dict)
    batcher: MicroBatcher | None = None
    queue: ModelQueue = field(init=False)

    def __post_init__(self) -> None:
        self.queue = ModelQueue(self.name, max_queue=64)  # create_app sets the server's limit

    def describe(self) -> dict[str, Any]:
        """The entry of ``GET /v1/models``."""
        out = {"name": self.name, "kind": self.kind, "source": self.source, **self.info}
        if self.batcher is not None:
            out["batching"] = self.batcher.stats()
        out["queue"] = self.queue.stats()
        return out


def load_models(
    paths: Sequence[PathLike | tuple[str, PathLike]] | Mapping[str, PathLike],
    *,
    device: str = "auto",
    embeddings_limit: int | None = None,
) -> dict[str, ServedModel]:
    """Load run folders and vector files, keyed by name.

    Each path is one of: a classifier or language-model run folder (``config.json`` inside:
    ``seqlab classify train``, ``seqlab lm train``, ``seqlab.fit``); a folder of such run
    folders (``seqlab demo``'s ``--out``: each sub-folder becomes a model); a word-vector
    file (``.safetensors`` from ``seqlab embed train``, or GloVe / word2vec / fastText text
    or binary files, also ``archive.zip::member.txt``, read with ``embeddings_limit`` words
    at most). A model is named after
    its folder or file (``runs/lstm`` -> ``lstm``, ``glove.6B.50d.txt.gz`` ->
    ``glove.6B.50d``) unless it is given as a ``(name, path)`` pair or ``paths`` is a
    mapping ``{name: path}`` (a named folder of runs prefixes its models: ``name/lstm``).

    >>> models = load_models(["runs/demo", "vectors.safetensors"])  # doctest: +SKIP
    >>> sorted(models)  # doctest: +SKIP
    ['bow-nbsvm', 'lstm', 'vectors']
    """
    if isinstance(paths, str | os.PathLike):
        raise TypeError(
            f"paths must be a list of paths (or a dict name -> path), got one path {paths!r}; "
            "wrap it in a list"
        )
    named: list[tuple[str | None, Path]] = (
        [(str(k), Path(v)) for k, v in paths.items()]
        if isinstance(paths, Mapping)
        else [(str(p[0]), Path(p[1])) if isinstance(p, tuple) else (None, Path(p)) for p in paths]
    )
    if not named:
        raise ValueError("paths is empty; give at least one run folder or vectors file")
    models: dict[str, ServedModel] = {}
    origin: dict[str, Path] = {}
    for name, path in named:
        for model_name, model_path in _expand(name, path):
            if model_name in models:
                raise ValueError(
                    f"two models are named {model_name!r} ({origin[model_name]} and "
                    f"{model_path}); name them apart with NAME=PATH on the command line "
                    "(or a dict {name: path})"
                )
            if not model_name or any(c.isspace() for c in model_name):
                raise ValueError(
                    f"model name {model_name!r} (from {model_path}) must be non-empty and "
                    "without spaces; give another with NAME=PATH"
                )
            models[model_name] = _load_one(model_name, model_path, device, embeddings_limit)
            origin[model_name] = model_path
    return models


def _expand(name: str | None, path: Path) -> list[tuple[str, Path]]:
    if path.is_file():
        return [(name or _file_stem(path), path)]
    archive, sep, member = str(path).partition("::")
    if sep and Path(archive).is_file():  # a member of a zip: glove.6B.zip::glove.6B.50d.txt
        return [(name or _file_stem(Path(member)), path)]
    if not path.is_dir():
        raise FileNotFoundError(
            f"path {str(path)!r} does not exist; give a run folder (with config.json) or a "
            "vectors file (.safetensors, GloVe / word2vec .txt/.vec/.bin)"
        )
    if (path / "config.json").is_file():
        return [(name or path.name, path)]
    runs = sorted(p for p in path.iterdir() if p.is_dir() and (p / "config.json").is_file())
    if not runs:
        raise FileNotFoundError(
            f"{path} holds no config.json and no run folders; give the --out folder of "
            "seqlab classify train / lm train / demo, or a vectors file"
        )
    prefix = f"{name}/" if name else ""
    return [(prefix + p.name, p) for p in runs]


def _file_stem(path: Path) -> str:
    name = path.name
    changed = True
    while changed:  # glove.6B.50d.txt.gz -> glove.6B.50d
        changed = False
        for suffix in _VECTOR_SUFFIXES:
            if name.lower().endswith(suffix) and len(name) > len(suffix):
                name, changed = name[: -len(suffix)], True
    return name


def _load_one(name: str, path: Path, device: str, limit: int | None) -> ServedModel:
    if path.is_file() or "::" in str(path):
        from seqlab import embeddings

        if path.suffix.lower() == ".safetensors":
            kv = embeddings.KeyedVectors.load(path)
        else:
            kv = embeddings.load(path, limit=limit)
        info = {
            "words": len(kv),
            "dim": kv.vector_size,
            "format": kv.meta.get("format", "safetensors"),
            "examples": list(kv.index_to_key[:12]),
        }
        return ServedModel(name, "embeddings", kv, path.name, info)

    import seqlab

    obj = seqlab.load(path, device=device)
    if isinstance(obj, seqlab.Run):  # an ensemble of runs too (input "text")
        val = obj.metrics.get("val") or {}
        info = {
            "labels": obj.labels,
            "model": obj.model_name,
            "input": obj.input_kind,
            "explain_methods": list(obj.explain_methods),
            "attention": hasattr(
                getattr(obj, "model", None), "attention_weights"
            ),  # POST /v1/attention
            "val_accuracy": val.get("accuracy"),
        }
        return ServedModel(name, "classifier", obj, path.name, info)
    val = obj.metrics.get("val") or {}
    info = {
        "model": getattr(obj.model, "registry_name", type(obj.model).__name__),
        "level": obj.level,
        "vocab_size": len(obj.vocab),
        "lower": bool(getattr(obj.vocab, "lower", False)),
        "val_perplexity": val.get("perplexity"),
    }
    return ServedModel(name, "lm", obj, path.name, info)


def pick(models: dict[str, ServedModel], name: str | None, kind: str) -> ServedModel:
    of_kind = [m.name for m in models.values() if m.kind == kind]
    what = {"classifier": "a classifier", "lm": "a language model", "embeddings": "word vectors"}
    if name is None:
        if len(of_kind) == 1:
            return models[of_kind[0]]
        if not of_kind:
            raise ApiError(
                404,
                f"no {kind} model is loaded (loaded: {sorted(models)})",
                field="model",
                value=None,
                fix=f"start seqlab serve with {what[kind]} run or file",
            )
        raise ApiError(
            422,
            f"{len(of_kind)} {kind} models are loaded and the request names none",
            field="model",
            value=None,
            fix=f'add "model": one of {of_kind}',
        )
    if name not in models:
        raise ApiError(
            404,
            f"no model named {name!r}",
            field="model",
            value=name,
            fix=f"use one of {of_kind or sorted(models)} (GET /v1/models lists them)",
        )
    served = models[name]
    if served.kind != kind:
        raise ApiError(
            422,
            f"model {name!r} is a {served.kind} model, but this endpoint needs {what[kind]}",
            field="model",
            value=name,
            fix=f"use one of {of_kind}" if of_kind else f"start the server with {what[kind]}",
        )
    return served
