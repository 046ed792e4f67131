"""Errors of ``seqlab serve``, always JSON: ``{"status", "error", "field", "value", "fix"}``.

``error`` is one sentence naming the field, the value received and the fix. FastAPI's own
validation errors, unknown paths and crashes inside a model are answered the same way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

__all__ = ["ApiError", "add_error_handlers", "json_error", "short"]


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
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.value = value
        self.fix = fix
        self.headers = headers

    def body(self) -> dict[str, Any]:
        """The JSON body of the response."""
        text = self.message if not self.fix else f"{self.message}; {self.fix}"
        return {
            "status": self.status,
            "error": text,
            "field": self.field,
            "value": short(self.value),
            "fix": self.fix,
        }


def short(value: Any, limit: int = 200) -> Any:
    # Echo what was received, but not a megabyte of it, and only what JSON can carry: NaN
    # and infinity become strings, a lone surrogate its escape ("\\ud800").
    if isinstance(value, str):
        value = value.encode("utf-8", "backslashreplace").decode("utf-8")
        return value[:limit] + f"... ({len(value)} characters)" if len(value) > limit else value
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 256:
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    if isinstance(value, list) and len(value) > 20:
        return [short(v) for v in value[:20]] + [f"... ({len(value)} items)"]
    if isinstance(value, int | float | bool | type(None)):
        return value
    if isinstance(value, list):
        return [short(v) for v in value]
    if isinstance(value, dict):
        return {str(k): short(v) for k, v in list(value.items())[:20]}
    return short(repr(value))


def json_error(error: ApiError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


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


def add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return json_error(exc)

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
                    message += f" (got {short(value, 60)!r})"
            fix = _FIXES.get(kind, "see /docs for the request schema")
            errors.append(ApiError(422, message, field=name, value=value, fix=fix).body())
        if not errors:
            errors.append(ApiError(422, "invalid request", field="body").body())
        body = dict(errors[0])
        body["errors"] = errors
        return JSONResponse(body, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        fix = (
            "the API is under /v1 (GET /v1/models), the page at /, the docs at /docs"
            if exc.status_code in (404, 405)
            else "check the request (see /docs)"
        )
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
        return json_error(error)
