"""``POST /v1/attention``: a transformer run's tokens and attention matrix for one text."""

from __future__ import annotations

import time
from typing import Any

from fastapi import FastAPI

from seqlab.serve.errors import ApiError
from seqlab.serve.limits import Limits, check_chars
from seqlab.serve.registry import ServedModel, pick
from seqlab.serve.schemas import AttentionRequest
from seqlab.serve.work import Clock, Deadline, within

__all__ = ["MAX_ATTENTION_TOKENS", "add_routes"]

#: The most tokens a request may ask for: a matrix of 200 x 200 numbers, about 1 MB of JSON.
MAX_ATTENTION_TOKENS = 200


def add_routes(app: FastAPI, models: dict[str, ServedModel], limits: Limits, clock: Clock) -> None:
    """Add ``POST /v1/attention`` to ``app``."""

    @app.post("/v1/attention")
    async def attention(body: AttentionRequest) -> dict[str, Any]:
        """The tokens of ``text`` and the attention matrix of one layer of a transformer run
        (row ``i``: the weights token ``i`` gives each token; rows sum to 1 over the whole
        text). A text of more than ``max_shown`` tokens returns its first ``max_shown``
        rows and columns, with ``total_tokens`` saying how many there were. ``model`` may be
        left out when one transformer run is loaded."""
        usable = [m for m in models.values() if m.info.get("attention")]
        if body.model is None and len(usable) == 1:
            served = usable[0]  # the one transformer, even beside other classifiers
        else:
            served = pick(models, body.model, "classifier")
        _check(body, served, usable, limits)
        start = time.perf_counter()
        async with served.queue.admit():
            deadline = Deadline(limits.timeout_s, clock)
            result = await within(
                lambda: _attention(served, body), deadline, "computing attention",
                served.queue.gate,
            )  # fmt: skip
        shown = min(len(result.tokens), body.max_shown)
        return {
            "model": served.name,
            "label": result.label,
            "layer": result.layer,
            "head": result.head,
            "layers": result.layers,
            "heads": result.heads,
            "tokens": result.tokens[:shown],
            "matrix": [[round(float(w), 6) for w in row[:shown]] for row in result.matrix[:shown]],
            "total_tokens": len(result.tokens),
            "seconds": round(time.perf_counter() - start, 4),
        }


def _check(
    body: AttentionRequest, served: ServedModel, usable: list[ServedModel], limits: Limits
) -> None:
    if not served.info.get("attention"):
        names = [m.name for m in usable]
        raise ApiError(
            422,
            f"model {served.name!r} is a {served.info['model']!r} run; attention weights exist "
            "only for --model transformer runs",
            field="model",
            value=served.name,
            fix=f"use one of {names}" if names else "start the server with a transformer run",
        )
    check_chars("text", body.text, limits)
    if not 1 <= body.max_shown <= MAX_ATTENTION_TOKENS:
        raise ApiError(
            422,
            f"max_shown={body.max_shown} is outside [1, {MAX_ATTENTION_TOKENS}]",
            field="max_shown",
            value=body.max_shown,
            fix=f"ask for 1 to {MAX_ATTENTION_TOKENS} tokens",
        )


def _attention(served: ServedModel, body: AttentionRequest) -> Any:
    from seqlab.attention import attention_map

    try:
        return attention_map(served.obj, body.text, layer=body.layer, head=body.head)
    except ValueError as exc:  # a layer or head out of range, or a text without tokens
        field = next((f for f in ("layer", "head") if str(exc).startswith(f"{f}=")), "text")
        value = {"layer": body.layer, "head": body.head, "text": body.text}[field]
        message, _, fix = str(exc).partition("; ")
        raise ApiError(422, message, field=field, value=value, fix=fix or None) from None
