"""The HTTP API and web page of ``seqlab serve``: classify, generate, explore embeddings.

:func:`create_app` loads the given run folders and vector files once and returns a FastAPI
application (no global state: two apps can live side by side in one process)::

    GET  /v1/models     the loaded models, their kind and metadata, and the limits
    POST /v1/classify   {"texts": [...], "model"?, "explain"?, "method"?} -> labels,
                        probabilities and per-token scores
    POST /v1/attention  {"text", "model"?, "layer"?, "head"?, "max_shown"?} -> a transformer
                        run's tokens and attention matrix
    POST /v1/generate   {"prompt", "model"?, "length"?, "temperature"?, "top_k"?, "top_p"?,
                        "seed"?, "stop"?} -> server-sent events: start, token..., done
    GET  /v1/neighbors  ?word=&topn=&model= -> nearest words (cosine)
    POST /v1/project    {"words": [...], "model"?} -> 2-D PCA coordinates of the words
    GET  /              the web page (static/index.html); OpenAPI docs at /docs

``model`` may be left out when exactly one model of the needed kind is loaded. Requests
never name a file: only what was loaded at start can be read.

Errors are JSON: ``{"status", "error", "field", "value", "fix"}``, where ``error`` is one
sentence naming the field, the value received and the fix. 422: a malformed body or a value
out of range; 404: an unknown model (or word); 413: a body over ``max_body_bytes``; 408: a body
that does not arrive within ``read_timeout_s``; 421: a ``Host`` header that does not name
this server (``allowed_hosts``); 503 with ``Retry-After``: a model's queue is full
(``max_queue``); 504: a request over ``timeout_s`` (its work stops there, see
:mod:`seqlab.serve.work`); 500: a failure inside a model (the server keeps running).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence

from fastapi import FastAPI

from seqlab._utils import PathLike
from seqlab.serve.batching import MicroBatcher
from seqlab.serve.errors import ApiError, add_error_handlers
from seqlab.serve.limits import Limits
from seqlab.serve.middleware import LOOPBACK_HOSTS, BodyGuard, HostCheck
from seqlab.serve.registry import ServedModel, load_models
from seqlab.serve.routes import attention, classify, generate, site, vectors
from seqlab.serve.schemas import ERROR_RESPONSES
from seqlab.serve.work import ModelQueue, make_cancellable

__all__ = ["ApiError", "Limits", "ServedModel", "create_app", "load_models"]


def create_app(
    paths: Sequence[PathLike | tuple[str, PathLike]] | Mapping[str, PathLike],
    *,
    limits: Limits | None = None,
    batch: bool = True,
    max_batch: int = 64,
    batch_wait_ms: float = 5.0,
    device: str = "auto",
    embeddings_limit: int | None = None,
    allowed_hosts: Iterable[str] = LOOPBACK_HOSTS,
    clock: Callable[[], float] = time.monotonic,
) -> FastAPI:
    """A FastAPI app serving the models at ``paths`` (see :func:`load_models`).

        ``batch=True`` gathers concurrent classify requests for one model into one forward pass
        (:class:`seqlab.serve.batching.MicroBatcher`: up to ``max_batch`` texts; under concurrent
        load a batch waits up to ``batch_wait_ms`` for more); ``batch=False`` runs each request on
        its own, in parallel threads. ``allowed_hosts``: the names a request's ``Host`` header
    may give (``"*"``: any; loopback names by default, so a test client needs
    ``base_url="http://localhost"``). ``clock``: the time source of request deadlines. Run it with
        ``uvicorn.run(app, host="127.0.0.1", port=8000)`` or ``seqlab serve``.

        >>> from fastapi.testclient import TestClient  # doctest: +SKIP
        >>> app = create_app(["runs/demo/lstm"])  # doctest: +SKIP
        >>> client = TestClient(app, base_url="http://localhost")  # doctest: +SKIP
        >>> client.post("/v1/classify", json={"texts": ["a wonderful film"]}).json()  # doctest: +SKIP
    """
    limits = limits or Limits()
    models = load_models(paths, device=device, embeddings_limit=embeddings_limit)
    for served in models.values():
        served.queue = ModelQueue(served.name, max_queue=limits.max_queue)
        if served.kind != "embeddings":
            make_cancellable(served.obj.model)  # its forward passes honour request deadlines
        if batch and served.kind == "classifier":
            served.batcher = MicroBatcher(
                served.obj.predict_proba, max_batch=max_batch, max_wait_ms=batch_wait_ms
            )

    app = FastAPI(
        title="seqlab serve",
        version=_version(),
        summary="Classify texts, generate text and explore word vectors with trained runs.",
        responses=ERROR_RESPONSES,
    )
    app.state.models = models
    app.state.limits = limits
    app.state.batch = batch
    app.add_middleware(
        BodyGuard, max_bytes=limits.max_body_bytes, read_timeout_s=limits.read_timeout_s
    )
    app.add_middleware(HostCheck, allowed=[*allowed_hosts, *LOOPBACK_HOSTS])  # runs first
    add_error_handlers(app)
    site.add_routes(app, models, limits, batch)
    classify.add_routes(app, models, limits, clock)
    attention.add_routes(app, models, limits, clock)
    generate.add_routes(app, models, limits, clock)
    vectors.add_routes(app, models, limits, clock)
    return app


def _version() -> str:
    import seqlab

    return seqlab.__version__
