"""``POST /v1/classify``: labels, probabilities and per-token explanations."""

from __future__ import annotations

import time
from collections.abc import Iterator
from functools import partial
from typing import Any

import numpy as np
from fastapi import FastAPI

from seqlab.serve.errors import ApiError
from seqlab.serve.limits import Limits, check_chars
from seqlab.serve.registry import ServedModel, pick
from seqlab.serve.schemas import ClassifyRequest
from seqlab.serve.work import Clock, Deadline, until, within

__all__ = ["CHUNK_CHARS", "add_routes"]

# A request's texts are classified in chunks of about this many characters, the deadline
# checked between them: other requests' batches get their turn in between.
CHUNK_CHARS = 20_000


def add_routes(app: FastAPI, models: dict[str, ServedModel], limits: Limits, clock: Clock) -> None:
    """Add ``POST /v1/classify`` to ``app``."""

    @app.post("/v1/classify")
    async def classify(body: ClassifyRequest) -> dict[str, Any]:
        """Label, probabilities and (with ``explain``) per-token scores for each text."""
        served = pick(models, body.model, "classifier")
        run = served.obj
        texts = body.texts
        _check_request(body, served, limits)
        start = time.perf_counter()
        async with served.queue.admit():
            deadline = Deadline(limits.timeout_s, clock)
            proba = await _predict(served, texts, deadline)
            tokens = None
            if body.explain:
                targets = [int(k) for k in proba.argmax(axis=1)]
                async with served.queue.explaining(deadline):
                    tokens = await _explain(served, texts, targets, body.method, deadline)
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


def _check_request(body: ClassifyRequest, served: ServedModel, limits: Limits) -> None:
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
        check_chars(f"texts[{i}]", text, limits)
    if not body.explain:
        return
    if body.method not in served.info["explain_methods"]:
        raise ApiError(
            422,
            f"method={body.method!r} cannot explain the model {served.name!r} (a bag-of-words "
            "model or an ensemble)",
            field="method",
            value=body.method,
            fix="use method='occlusion' (each word removed in turn)",
        )
    if body.method == "occlusion":
        # Occlusion costs one forward pass per token: bound it per request, up front.
        count = sum(_token_count(served.obj, t) for t in texts)
        if count > limits.max_explain_tokens:
            cheaper = (
                " or method='grad_x_input',"
                if "grad_x_input" in served.info["explain_methods"]
                else ""
            )
            raise ApiError(
                422,
                f"explaining these texts by occlusion means {count} tokens, more than "
                f"max_explain_tokens={limits.max_explain_tokens}",
                field="explain",
                value=True,
                fix=f"send fewer or shorter texts, use explain=false{cheaper} or start the "
                "server with a larger --max-explain-tokens",
            )


def _token_count(run: Any, text: str) -> int:
    try:
        return len(run.vectorizer.words(text) if run.input_kind == "bag" else run.tokens(text))
    except ValueError:  # a text without tokens: nothing to explain
        return 0


def _chunks(texts: list[str], max_texts: int) -> Iterator[list[str]]:
    chunk: list[str] = []
    size = 0
    for text in texts:
        if chunk and (size + len(text) > CHUNK_CHARS or len(chunk) >= max_texts):
            yield chunk
            chunk, size = [], 0
        chunk.append(text)
        size += len(text)
    if chunk:
        yield chunk


async def _predict(served: ServedModel, texts: list[str], deadline: Deadline) -> np.ndarray:
    rows = []
    max_texts = served.batcher.max_batch if served.batcher is not None else len(texts)
    for chunk in _chunks(texts, max_texts):
        with served.queue.gate.busy():
            if served.batcher is not None:
                part = await until(served.batcher.submit(chunk), deadline, "classifying")
            else:
                predict = partial(served.obj.predict_proba, chunk)
                part = await within(predict, deadline, "classifying")
        rows.append(np.asarray(part))
    return np.concatenate(rows)


async def _explain(
    served: ServedModel, texts: list[str], targets: list[int], method: str, deadline: Deadline
) -> list[list[tuple[str, float]]]:
    def work() -> list[list[tuple[str, float]]]:
        out = []
        for text, target in zip(texts, targets):
            deadline.check("explaining")
            try:
                out.append(served.obj.explain(text, method, target=target))
            except ValueError as exc:
                if "no tokens" not in str(exc):  # an empty text has nothing to colour
                    raise
                out.append([])
        return out

    # Each forward pass checks the deadline, and first lets waiting predictions run.
    return await within(work, deadline, "explaining", served.queue.gate)
