"""``POST /v1/classify``: labels, probabilities and per-token explanations."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np
from fastapi import FastAPI

from seqlab.serve.errors import ApiError
from seqlab.serve.limits import Limits, check_chars, with_timeout
from seqlab.serve.registry import ServedModel, pick
from seqlab.serve.schemas import ClassifyRequest

__all__ = ["add_routes"]


def add_routes(app: FastAPI, models: dict[str, ServedModel], limits: Limits) -> None:
    """Add ``POST /v1/classify`` to ``app``."""

    @app.post("/v1/classify")
    async def classify(body: ClassifyRequest) -> dict[str, Any]:
        """Label, probabilities and (with ``explain``) per-token scores for each text."""
        served = pick(models, body.model, "classifier")
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
            check_chars(f"texts[{i}]", text, limits)
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
        proba, tokens = await with_timeout(work(), limits, "classifying")
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
