"""``POST /v1/generate``: text from a language model, streamed as server-sent events."""

from __future__ import annotations

import json
import math
import secrets
import time
import weakref
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.responses import StreamingResponse

from seqlab.generation.sampling import stop_at
from seqlab.serve.errors import ApiError
from seqlab.serve.limits import Limits, check_chars
from seqlab.serve.registry import ServedModel, pick
from seqlab.serve.schemas import GenerateRequest
from seqlab.serve.work import Clock, Deadline

__all__ = ["add_routes", "cut_at_stop"]


def add_routes(app: FastAPI, models: dict[str, ServedModel], limits: Limits, clock: Clock) -> None:
    """Add ``POST /v1/generate`` to ``app``."""

    @app.post("/v1/generate", response_class=StreamingResponse)
    async def generate(body: GenerateRequest) -> StreamingResponse:
        """Stream generated text as server-sent events: ``start`` (the settings, with the
        seed used), ``token`` events (``{"text": ...}``, one per generated token; with
        ``stop`` strings, text that could begin one is held back until it cannot), then
        ``done`` (``tokens``: how many the model generated, ``stopped``: whether a stop
        string ended the text); an ``error`` event ends a stream that fails or runs past the
        time limit."""
        served = pick(models, body.model, "lm")
        _check_request(body, served, limits)
        # A missing seed gets a fresh one that the start event reports, so any text the page
        # shows can be generated again.
        seed = secrets.randbelow(2**31) if body.seed is None else body.seed
        try:
            stop_at([], body.stop or None)  # checks the stop strings
            pieces = served.obj.stream(
                body.prompt,
                length=body.length,
                temperature=body.temperature,
                top_k=body.top_k,
                top_p=body.top_p,
                seed=seed,
            )  # one piece per token: the stop strings are cut here, so tokens can be counted
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
        release = served.queue.enter()
        deadline = Deadline(limits.timeout_s, clock)
        stream = _sse_stream(pieces, settings, deadline, body.stop or [], release)
        # The place in the queue is given back when the stream ends, or when a stream that
        # never started (the client left at once) is collected.
        weakref.finalize(stream, release)
        return StreamingResponse(
            stream,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )


def _check_request(body: GenerateRequest, served: ServedModel, limits: Limits) -> None:
    """Refuse (422) a request whose settings are out of range, naming the field and the fix."""
    check_chars("prompt", body.prompt, limits)
    top_k, top_p, seed = body.top_k, body.top_p, body.seed
    checks = [
        (
            bool(body.prompt),
            "prompt",
            "prompt is empty",
            "give at least one character for the model to continue",
        ),
        (
            1 <= body.length <= limits.max_length,
            "length",
            f"length={body.length} is outside [1, max_length={limits.max_length}]",
            f"ask for 1 to {limits.max_length} tokens",
        ),
        (
            math.isfinite(body.temperature) and body.temperature > 0,
            "temperature",
            f"temperature={body.temperature} must be a finite number > 0",
            "use e.g. 0.2 (careful) to 1.5 (adventurous); 0.01 is nearly greedy",
        ),
        (
            top_k is None or top_k >= 1,
            "top_k",
            f"top_k={top_k} must be >= 1",
            "give a positive integer, or leave top_k out (null) for no filter",
        ),
        (
            top_p is None or 0 < top_p <= 1,
            "top_p",
            f"top_p={top_p} must be in (0, 1]",
            "give e.g. 0.9, or leave top_p out (null) for no filter",
        ),
        (
            seed is None or 0 <= seed < 2**63,
            "seed",
            f"seed={seed} must be in [0, 2**63)",
            "give a non-negative integer, or leave seed out for a fresh one",
        ),
    ]
    for ok, name, message, fix in checks:
        if not ok:
            raise ApiError(422, message, field=name, value=getattr(body, name), fix=fix)
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


def _sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _sse_stream(
    pieces: Iterator[str],
    settings: dict[str, Any],
    deadline: Deadline,
    stops: list[str],
    release: Callable[[], None],
) -> Iterator[str]:
    # A plain generator: Starlette runs each step in a worker thread, so the event loop
    # stays free while the model samples, and it stops pulling when the client goes away.
    start = time.monotonic()
    count = 0
    held = ""  # text that may be the start of a stop string
    stopped = False
    try:
        yield _sse("start", settings)
        while not stopped:
            if deadline.expired():  # checked before each token: the work stops here
                error = ApiError(
                    504,
                    f"generation took longer than the limit of timeout_s={deadline.seconds:g} "
                    f"seconds after {count} tokens",
                    field="timeout_s",
                    value=deadline.seconds,
                    fix="ask for a smaller length, or start the server with a larger --timeout",
                )
                yield _sse("error", error.body())
                return
            piece = next(pieces, None)
            if piece is None:
                break
            count += 1
            text, held, stopped = cut_at_stop(held + piece, stops)
            if text:
                yield _sse("token", {"text": text})
        if held and not stopped:
            yield _sse("token", {"text": held})
    except Exception as exc:  # the headers are sent: report the failure in the stream
        error = ApiError(500, f"generation failed: {type(exc).__name__}: {exc}")
        yield _sse("error", error.body())
        return
    finally:
        release()
    done = {"tokens": count, "stopped": stopped, "seconds": round(time.monotonic() - start, 3)}
    yield _sse("done", done)


def cut_at_stop(text: str, stops: list[str]) -> tuple[str, str, bool]:
    """``(text to send, text to hold back, whether a stop string was reached)``: the text
    before the first stop string; otherwise all but the longest end of ``text`` that begins
    a stop string.

    >>> cut_at_stop("the end.", ["\\n\\n"]), cut_at_stop("the end.\\n", ["\\n\\n"])
    (('the end.', '', False), ('the end.', '\\n', False))
    >>> cut_at_stop("a. b", [". "])
    ('a', '', True)
    """
    hits = [i for i in (text.find(s) for s in stops) if i >= 0]
    if hits:
        return text[: min(hits)], "", True
    keep = 0
    for s in stops:
        for k in range(min(len(s) - 1, len(text)), keep, -1):
            if text.endswith(s[:k]):
                keep = k
                break
    return text[: len(text) - keep], text[len(text) - keep :], False
