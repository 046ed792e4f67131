"""Request bodies of the ``seqlab serve`` API (unknown fields are refused)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

__all__ = [
    "ERROR_RESPONSES",
    "AttentionRequest",
    "ClassifyRequest",
    "ErrorBody",
    "GenerateRequest",
    "ProjectRequest",
]


class ClassifyRequest(BaseModel):
    """Body of ``POST /v1/classify``."""

    model_config = ConfigDict(extra="forbid")
    texts: list[str]
    model: str | None = None
    explain: bool = True
    method: Literal["occlusion", "grad_x_input"] = "occlusion"


class AttentionRequest(BaseModel):
    """Body of ``POST /v1/attention``: one text, the layer (from 0; negative from the end),
    one head or ``None`` for the mean of the heads, and how many tokens to return at most."""

    model_config = ConfigDict(extra="forbid")
    text: str
    model: str | None = None
    layer: int = -1
    head: int | None = None
    max_shown: int = 60


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


class ErrorBody(BaseModel):
    """Every error answer: ``error`` names the field, the value received and the fix;
    ``errors`` lists each problem of a malformed body (422)."""

    status: int
    error: str
    field: str | None
    value: Any = None
    fix: str | None
    errors: list[dict[str, Any]] | None = None


_ERRORS = {
    404: "an unknown model, word or path",
    408: "the body did not arrive within --read-timeout",
    413: "the body is larger than --max-body-bytes",
    421: "the Host header does not name this server",
    422: "a malformed body or a value out of range",
    500: "a failure inside the model (the server keeps running)",
    503: "the model's queue is full (--max-queue); see Retry-After",
    504: "the work ran past --timeout",
}
# The error answers every endpoint documents in /openapi.json.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text} for code, text in _ERRORS.items()
}
