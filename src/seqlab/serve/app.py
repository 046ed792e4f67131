"""The HTTP API and web page of ``seqlab serve``: classify, generate, explore embeddings.

:func:`create_app` loads the given run folders and vector files once and returns a FastAPI
application (no global state: two apps can live side by side in one process)::

    GET  /v1/models     the loaded models, their kind and metadata, and the limits
    POST /v1/classify   {"texts": [...], "model"?, "explain"?, "method"?} -> labels,
                        probabilities and per-token scores
    POST /v1/generate   {"prompt", "model"?, "length"?, "temperature"?, "top_k"?, "top_p"?,
                        "seed"?, "stop"?} -> server-sent events: start, token..., done
    GET  /v1/neighbors  ?word=&topn=&model= -> nearest words (cosine)
    POST /v1/project    {"words": [...], "model"?} -> 2-D PCA coordinates of the words
    GET  /              the web page (static/index.html); OpenAPI docs at /docs

``model`` may be left out when exactly one model of the needed kind is loaded. Requests
never name a file: only what was loaded at start can be read.

Errors are JSON: ``{"status", "error", "field", "value", "fix"}``, where ``error`` is one
sentence naming the field, the value received and the fix. 422: a malformed body or a value
out of range; 404: an unknown model (or word); 413: a body over ``max_body_bytes``; 504: a
request over ``timeout_s``; 500: a failure inside a model (the server keeps running).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import secrets
import time
from collections.abc import Awaitable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from seqlab._utils import PathLike
from seqlab.serve.batching import MicroBatcher

__all__ = ["ApiError", "Limits", "ServedModel", "create_app", "load_models"]

STATIC = Path(__file__).resolve().parent / "static"
KINDS = ("classifier", "lm", "embeddings")
_VECTOR_SUFFIXES = (".safetensors", ".txt", ".vec", ".bin", ".gz", ".bz2", ".xz", ".zip")
T = TypeVar("T")


# --------------------------------------------------------------------------- limits


@dataclass(frozen=True)
class Limits:
    """What one request may ask for; every limit is enforced with a clear 4xx error.

    ``max_text_chars``: characters per text or prompt; ``max_texts``: texts per classify
    request; ``max_length``: generated tokens; ``max_body_bytes``: request body size (413);
    ``timeout_s``: seconds per request (504; a stream ends with an ``error`` event);
    ``max_topn``: neighbours per query; ``max_words``: words per projection.

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

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            if not ok or not value > 0 or (isinstance(value, float) and math.isinf(value)):
                raise ValueError(f"Limits.{name} must be a finite number > 0, got {value!r}")


# --------------------------------------------------------------------------- errors


class ApiError(Exception):
    """An error answered as JSON with ``status``: the message names the field, the value
    received and the fix.

    >>> ApiError(404, "no model named 'x'", field="model", value="x", fix="use 'bow'").status
    404
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        field: str | None = None,
        value: Any = None,
        fix: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.value = value
        self.fix = fix

    def body(self) -> dict[str, Any]:
        """The JSON body of the response."""
        text = self.message if not self.fix else f"{self.message}; {self.fix}"
        return {
            "status": self.status,
            "error": text,
            "field": self.field,
            "value": _short(self.value),
            "fix": self.fix,
        }


def _short(value: Any, limit: int = 200) -> Any:
    # Echo what was received, but not a megabyte of it.
    if isinstance(value, str) and len(value) > limit:
        return value[:limit] + f"... ({len(value)} characters)"
    if isinstance(value, list) and len(value) > 20:
        return [_short(v) for v in value[:20]] + [f"... ({len(value)} items)"]
    if isinstance(value, str | int | float | bool | type(None)):
        return value
    if isinstance(value, list):
        return [_short(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _short(v) for k, v in list(value.items())[:20]}
    return _short(repr(value))


def _json_error(error: ApiError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status)


# --------------------------------------------------------------------------- models


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

    def describe(self) -> dict[str, Any]:
        """The entry of ``GET /v1/models``."""
        out = {"name": self.name, "kind": self.kind, "source": self.source, **self.info}
        if self.batcher is not None:
            out["batching"] = self.batcher.stats()
        return out


def load_models(
    paths: Sequence[PathLike | tuple[str, PathLike]] | Mapping[str, PathLike],
    *,
    device: str = "cpu",
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
    if isinstance(obj, seqlab.Run):
        bag = obj.input_kind == "bag"
        val = obj.metrics.get("val") or {}
        info = {
            "labels": obj.labels,
            "model": getattr(obj.model, "registry_name", type(obj.model).__name__),
            "input": obj.input_kind,
            "explain_methods": ["occlusion"] if bag else ["occlusion", "grad_x_input"],
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


# --------------------------------------------------------------------------- requests


class ClassifyRequest(BaseModel):
    """Body of ``POST /v1/classify``."""

    model_config = ConfigDict(extra="forbid")
    texts: list[str]
    model: str | None = None
    explain: bool = True
    method: Literal["occlusion", "grad_x_input"] = "occlusion"


class GenerateRequest(BaseModel):
    """Body of ``POST /v1/generate``."""

    model_config = ConfigDict(extra="forbid")
    prompt: str
    model: str | None = None
    length: int = 200
    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    seed: int | None = None
    stop: list[str] | None = None


class ProjectRequest(BaseModel):
    """Body of ``POST /v1/project``."""

    model_config = ConfigDict(extra="forbid")
    words: list[str]
    model: str | None = None


# --------------------------------------------------------------------------- the app


def create_app(
    paths: Sequence[PathLike | tuple[str, PathLike]] | Mapping[str, PathLike],
    *,
    limits: Limits | None = None,
    batch: bool = True,
    max_batch: int = 64,
    batch_wait_ms: float = 5.0,
    device: str = "cpu",
    embeddings_limit: int | None = None,
) -> FastAPI:
    """A FastAPI app serving the models at ``paths`` (see :func:`load_models`).

    ``batch=True`` gathers concurrent classify requests for one model into one forward pass
    (:class:`seqlab.serve.batching.MicroBatcher`: up to ``max_batch`` texts; under concurrent
    load a batch waits up to ``batch_wait_ms`` for more); ``batch=False`` runs each request on
    its own, in parallel threads. Run it with
    ``uvicorn.run(app, host="127.0.0.1", port=8000)`` or ``seqlab serve``.

    >>> from fastapi.testclient import TestClient  # doctest: +SKIP
    >>> client = TestClient(create_app(["runs/demo/lstm"]))  # doctest: +SKIP
    >>> client.post("/v1/classify", json={"texts": ["a wonderful film"]}).json()  # doctest: +SKIP
    """
    limits = limits or Limits()
    models = load_models(paths, device=device, embeddings_limit=embeddings_limit)
    if batch:
        for served in models.values():
            if served.kind == "classifier":
                served.batcher = MicroBatcher(
                    served.obj.predict_proba, max_batch=max_batch, max_wait_ms=batch_wait_ms
                )

    app = FastAPI(
        title="seqlab serve",
        version=_version(),
        summary="Classify texts, generate text and explore word vectors with trained runs.",
    )
    app.state.models = models
    app.state.limits = limits
    app.state.batch = batch
    app.add_middleware(BodyLimit, max_bytes=limits.max_body_bytes)
    _add_error_handlers(app)

    @app.get("/v1/models")
    async def list_models() -> dict[str, Any]:
        """The loaded models (name, kind, metadata), the limits, and whether batching is on."""
        return {
            "models": [m.describe() for m in models.values()],
            "limits": asdict(limits),
            "batching": batch,
        }

    @app.post("/v1/classify")
    async def classify(body: ClassifyRequest) -> dict[str, Any]:
        """Label, probabilities and (with ``explain``) per-token scores for each text."""
        served = _pick(models, body.model, "classifier")
        run = served.obj
        texts = body.texts
        if not texts:
            raise ApiError(
                422, "texts is empty", field="texts", value=texts, fix="send at least one text"
            )
        if len(texts) > limits.max_texts:
            raise ApiError(
                422,
                f"texts holds {len(texts)} texts, more than max_texts={limits.max_texts}",
                field="texts",
                value=f"{len(texts)} texts",
                fix=f"send at most {limits.max_texts} texts per request",
            )
        for i, text in enumerate(texts):
            _check_chars(f"texts[{i}]", text, limits)
        if body.explain and body.method not in served.info["explain_methods"]:
            raise ApiError(
                422,
                f"method={body.method!r} cannot explain the bag-of-words model {served.name!r}",
                field="method",
                value=body.method,
                fix="use method='occlusion' (each word removed in turn)",
            )

        async def work() -> tuple[np.ndarray, list[list[tuple[str, float]]] | None]:
            if served.batcher is not None:
                proba = await served.batcher.submit(texts)
            else:
                proba = await asyncio.to_thread(run.predict_proba, texts)
            tokens = None
            if body.explain:
                targets = [int(k) for k in np.asarray(proba).argmax(axis=1)]
                tokens = await asyncio.to_thread(_explain_all, run, texts, targets, body.method)
            return np.asarray(proba), tokens

        start = time.perf_counter()
        proba, tokens = await _with_timeout(work(), limits, "classifying")
        results = []
        for i, row in enumerate(proba):
            k = int(row.argmax())
            item: dict[str, Any] = {
                "label": run.labels[k],
                "probability": float(row[k]),
                "probabilities": {lab: float(p) for lab, p in zip(run.labels, row)},
            }
            if tokens is not None:
                item["tokens"] = [{"token": t, "score": s} for t, s in tokens[i]]
            results.append(item)
        return {
            "model": served.name,
            "labels": run.labels,
            "results": results,
            "seconds": round(time.perf_counter() - start, 4),
        }

    @app.post("/v1/generate", response_class=StreamingResponse)
    async def generate(body: GenerateRequest) -> StreamingResponse:
        """Stream generated text as server-sent events: ``start`` (the settings, with the
        seed used), one ``token`` event per piece (``{"text": ...}``), then ``done``; an
        ``error`` event ends a stream that fails or runs past the time limit."""
        served = _pick(models, body.model, "lm")
        _check_chars("prompt", body.prompt, limits)
        if not body.prompt:
            raise ApiError(
                422,
                "prompt is empty",
                field="prompt",
                value=body.prompt,
                fix="give at least one character for the model to continue",
            )
        if not 1 <= body.length <= limits.max_length:
            raise ApiError(
                422,
                f"length={body.length} is outside [1, max_length={limits.max_length}]",
                field="length",
                value=body.length,
                fix=f"ask for 1 to {limits.max_length} tokens",
            )
        if not (math.isfinite(body.temperature) and body.temperature > 0):
            raise ApiError(
                422,
                f"temperature={body.temperature} must be a finite number > 0",
                field="temperature",
                value=body.temperature,
                fix="use e.g. 0.2 (careful) to 1.5 (adventurous); 0.01 is nearly greedy",
            )
        if body.top_k is not None and body.top_k < 1:
            raise ApiError(
                422,
                f"top_k={body.top_k} must be >= 1",
                field="top_k",
                value=body.top_k,
                fix="give a positive integer, or leave top_k out (null) for no filter",
            )
        if body.top_p is not None and not 0 < body.top_p <= 1:
            raise ApiError(
                422,
                f"top_p={body.top_p} must be in (0, 1]",
                field="top_p",
                value=body.top_p,
                fix="give e.g. 0.9, or leave top_p out (null) for no filter",
            )
        if body.seed is not None and not 0 <= body.seed < 2**63:
            raise ApiError(
                422,
                f"seed={body.seed} must be in [0, 2**63)",
                field="seed",
                value=body.seed,
                fix="give a non-negative integer, or leave seed out for a fresh one",
            )
        vocab = served.obj.vocab
        if served.obj.level == "char":
            unknown = sorted(set(vocab.standardize(body.prompt)) - vocab.stoi.keys())
            if unknown:
                raise ApiError(
                    422,
                    f"prompt has {len(unknown)} character(s) that {served.name!r} never saw "
                    f"in training: {''.join(unknown)[:40]!r}",
                    field="prompt",
                    value=body.prompt,
                    fix="remove or replace them",
                )
        # A missing seed gets a fresh one that the start event reports, so any text the page
        # shows can be generated again.
        seed = secrets.randbelow(2**31) if body.seed is None else body.seed
        try:
            pieces = served.obj.stream(
                body.prompt,
                length=body.length,
                temperature=body.temperature,
                top_k=body.top_k,
                top_p=body.top_p,
                seed=seed,
                stop=body.stop or None,
            )
        except (ValueError, TypeError) as exc:
            message = str(exc)
            where = "stop" if message.startswith("stop") else "prompt"
            raise ApiError(422, message, field=where, value=getattr(body, where, None)) from exc
        settings = {
            "model": served.name,
            "prompt": body.prompt,
            "length": body.length,
            "temperature": body.temperature,
            "top_k": body.top_k,
            "top_p": body.top_p,
            "seed": seed,
        }
        return StreamingResponse(
            _sse_stream(pieces, settings, limits.timeout_s),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @app.get("/v1/neighbors")
    async def neighbors(word: str, topn: int = 10, model: str | None = None) -> dict[str, Any]:
        """The ``topn`` nearest words (cosine similarity) of ``word``."""
        served = _pick(models, model, "embeddings")
        _check_word("word", word)
        if not 1 <= topn <= limits.max_topn:
            raise ApiError(
                422,
                f"topn={topn} is outside [1, max_topn={limits.max_topn}]",
                field="topn",
                value=topn,
                fix=f"ask for 1 to {limits.max_topn} neighbours",
            )
        kv = served.obj
        if word not in kv:
            suggestions = kv.suggest(word)
            hint = f"did you mean {', '.join(map(repr, suggestions))}?" if suggestions else None
            raise ApiError(
                404,
                f"word {word!r} is not in the vocabulary of {served.name!r}",
                field="word",
                value=word,
                fix=hint or "check the spelling (vectors are often lower-case)",
            )
        pairs = await _with_timeout(
            asyncio.to_thread(kv.most_similar, word, topn=topn), limits, "searching neighbours"
        )
        return {
            "model": served.name,
            "word": word,
            "neighbors": [{"word": w, "similarity": float(s)} for w, s in pairs],
        }

    @app.post("/v1/project")
    async def project(body: ProjectRequest) -> dict[str, Any]:
        """2-D coordinates (PCA of the vectors) of the known ``words``; unknown words are
        listed in ``missing``."""
        from seqlab.embeddings.plots import pca_2d

        served = _pick(models, body.model, "embeddings")
        if len(body.words) > limits.max_words:
            raise ApiError(
                422,
                f"words holds {len(body.words)} words, more than max_words={limits.max_words}",
                field="words",
                value=f"{len(body.words)} words",
                fix=f"send at most {limits.max_words} words",
            )
        for i, word in enumerate(body.words):
            _check_word(f"words[{i}]", word)
        kv = served.obj
        unique = list(dict.fromkeys(body.words))
        known = [w for w in unique if w in kv]
        missing = [w for w in unique if w not in kv]
        if len(known) < 2:
            raise ApiError(
                422,
                f"only {len(known)} of the words are in the vocabulary of {served.name!r} "
                f"(unknown: {missing})",
                field="words",
                value=body.words,
                fix="give at least 2 words that the vectors know",
            )
        points = pca_2d(kv[known])
        return {
            "model": served.name,
            "points": [
                {"word": w, "x": float(x), "y": float(y)} for w, (x, y) in zip(known, points)
            ],
            "missing": missing,
        }

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        # Everything the page needs comes from this server; nothing else may load.
        return FileResponse(
            STATIC / "index.html",
            headers={
                "Content-Security-Policy": (
                    "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'"
                ),
                "Cache-Control": "no-cache",
            },
        )

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def _version() -> str:
    import seqlab

    return seqlab.__version__


def _pick(models: dict[str, ServedModel], name: str | None, kind: str) -> ServedModel:
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


def _check_chars(name: str, text: str, limits: Limits) -> None:
    if len(text) > limits.max_text_chars:
        raise ApiError(
            422,
            f"{name} has {len(text)} characters, more than max_text_chars={limits.max_text_chars}",
            field=name,
            value=text,
            fix=f"shorten it to {limits.max_text_chars} characters (or start the server "
            "with a larger --max-text-chars)",
        )


def _check_word(name: str, word: str) -> None:
    if not word or len(word) > 200:
        raise ApiError(
            422,
            f"{name}={_short(word, 40)!r} must be a word of 1 to 200 characters",
            field=name,
            value=word,
            fix="give one word, e.g. 'king'",
        )


async def _with_timeout(work: Awaitable[T], limits: Limits, doing: str) -> T:
    try:
        return await asyncio.wait_for(work, limits.timeout_s)
    except TimeoutError:
        raise ApiError(
            504,
            f"{doing} took longer than the limit of timeout_s={limits.timeout_s:g} seconds",
            field="timeout_s",
            value=limits.timeout_s,
            fix="send fewer or shorter texts, or start the server with a larger --timeout",
        ) from None


def _explain_all(
    run: Any, texts: list[str], targets: list[int], method: str
) -> list[list[tuple[str, float]]]:
    out = []
    for text, target in zip(texts, targets):
        try:
            out.append(run.explain(text, method, target=target))
        except ValueError as exc:
            if "no tokens" not in str(exc):  # an empty text has nothing to colour
                raise
            out.append([])
    return out


def _sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _sse_stream(pieces: Iterator[str], settings: dict[str, Any], timeout_s: float) -> Iterator[str]:
    # A plain generator: Starlette runs each step in a worker thread, so the event loop
    # stays free while the model samples, and it stops pulling when the client goes away.
    start = time.monotonic()
    yield _sse("start", settings)
    count = 0
    try:
        for piece in pieces:
            if time.monotonic() - start > timeout_s:
                error = ApiError(
                    504,
                    f"generation took longer than the limit of timeout_s={timeout_s:g} seconds "
                    f"after {count} tokens",
                    field="timeout_s",
                    value=timeout_s,
                    fix="ask for a smaller length, or start the server with a larger --timeout",
                )
                yield _sse("error", error.body())
                return
            count += 1
            yield _sse("token", {"text": piece})
    except Exception as exc:  # the headers are sent: report the failure in the stream
        error = ApiError(500, f"generation failed: {type(exc).__name__}: {exc}")
        yield _sse("error", error.body())
        return
    yield _sse("done", {"tokens": count, "seconds": round(time.monotonic() - start, 3)})


# --------------------------------------------------------------------------- middleware


class BodyLimit:
    """ASGI middleware: a request body over ``max_bytes`` gets 413 before any handler reads
    it (checked on ``Content-Length`` and on the bytes actually received).

    >>> BodyLimit(app=None, max_bytes=10).max_bytes
    10
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = int(max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(send, int(declared))
            return
        if scope.get("method") not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large(send, size)
                return
            chunks.append(chunk)
            more = bool(message.get("more_body", False))
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()  # later calls wait for the disconnect, as usual

        await self.app(scope, replay, send)

    async def _too_large(self, send: Send, size: int) -> None:
        error = ApiError(
            413,
            f"the request body has {size} bytes, more than max_body_bytes={self.max_bytes}",
            field="body",
            value=f"{size} bytes",
            fix="send less text per request, or start the server with a larger --max-body-bytes",
        )
        payload = json.dumps(error.body()).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


# --------------------------------------------------------------------------- handlers

_FIXES = {
    "missing": "add the field",
    "extra_forbidden": "remove it (see /docs for the fields this endpoint takes)",
    "json_invalid": "send a valid JSON body with the header Content-Type: application/json",
    "model_attributes_type": 'send a JSON object such as {"texts": ["a fine film"]}',
    "string_type": "give a string",
    "list_type": "give a list (JSON array)",
    "int_parsing": "give an integer",
    "int_type": "give an integer",
    "int_from_float": "give a whole number",
    "float_parsing": "give a number",
    "float_type": "give a number",
    "bool_parsing": "give true or false",
    "bool_type": "give true or false",
    "literal_error": "use one of the allowed values",
}


def _field_name(loc: Sequence[Any]) -> str:
    parts = [p for p in loc if p not in ("body", "query")] or list(loc)
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "body"


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _json_error(exc)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for e in exc.errors():
            kind = e.get("type", "")
            if kind == "json_invalid":
                name, value = "body", None
                message = f"the body is not valid JSON ({e.get('msg', 'decode error')})"
            else:
                name = _field_name(e.get("loc", ()))
                value = None if kind == "missing" else e.get("input")
                message = f"{name}: {e.get('msg', 'invalid value')}"
                if kind != "missing":
                    message += f" (got {_short(value, 60)!r})"
            fix = _FIXES.get(kind, "see /docs for the request schema")
            errors.append(ApiError(422, message, field=name, value=value, fix=fix).body())
        if not errors:
            errors.append(ApiError(422, "invalid request", field="body").body())
        body = dict(errors[0])
        body["errors"] = errors
        return JSONResponse(body, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        fix = "the API is under /v1 (GET /v1/models), the page at /, the docs at /docs"
        where = f"{request.method} {request.url.path}"
        error = ApiError(exc.status_code, f"{exc.detail}: {where}", field="path", fix=fix)
        return JSONResponse(error.body(), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        # The request failed, the server did not: say what broke and carry on.
        error = ApiError(
            500,
            f"the model failed on this request: {type(exc).__name__}: {exc}",
            field=None,
            fix="the server is still running; check the input, or report the bug with it",
        )
        return _json_error(error)
