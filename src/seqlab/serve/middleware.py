"""ASGI middleware of ``seqlab serve``: the checks every request passes before a route.

* :class:`HostCheck`: the ``Host`` header must name this server (DNS rebinding: a page
  from another site must not reach a loopback server through a name it controls).
* :class:`BodyGuard`: the body arrives within ``read_timeout_s`` (408), is at most
  ``max_bytes`` (413), and a JSON body is UTF-8, nested at most ``MAX_DEPTH`` deep, holds
  no number longer than ``MAX_DIGITS`` characters, no ``NaN`` / ``Infinity`` and no lone
  surrogate (422 naming the field): the JSON parser behind the routes would otherwise fail
  on them with a 400 or 500 that says nothing useful.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterable
from typing import Any

import numpy as np
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from seqlab.serve.errors import ApiError

__all__ = ["LOOPBACK_HOSTS", "MAX_DEPTH", "MAX_DIGITS", "BodyGuard", "HostCheck", "send_error"]

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
MAX_DEPTH = 32
MAX_DIGITS = 100
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_SURROGATE = re.compile("[\ud800-\udfff]")


async def send_error(send: Send, error: ApiError, close: bool = True) -> None:
    """Answer ``error`` as JSON straight from middleware (``Connection: close`` by default)."""
    payload = json.dumps(error.body()).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
    ]
    headers += [(k.lower().encode(), v.encode()) for k, v in (error.headers or {}).items()]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def _host_name(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):  # [::1]:8000
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class HostCheck:
    """ASGI middleware: a request whose ``Host`` header names none of ``allowed`` gets 421.

    Names are compared without the port; ``"*"`` allows any host. A request without a
    ``Host`` header (HTTP/1.0) passes: browsers always send one.

    >>> sorted(HostCheck(app=None, allowed=["example.org:8000", "[::1]"]).allowed)
    ['::1', 'example.org']
    """

    def __init__(self, app: ASGIApp, allowed: Iterable[str]) -> None:
        self.app = app
        self.allowed = {_host_name(h) for h in allowed}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or "*" in self.allowed:
            await self.app(scope, receive, send)
            return
        raw = dict(scope.get("headers") or []).get(b"host")
        host = raw.decode("latin-1") if raw is not None else None
        if host is None or _host_name(host) in self.allowed:
            await self.app(scope, receive, send)
            return
        error = ApiError(
            421,
            f"the Host header {host[:100]!r} does not name this server (allowed: "
            f"{', '.join(sorted(self.allowed))})",
            field="Host",
            value=host,
            fix="use one of the allowed names, or start the server with --allowed-host NAME",
        )
        await send_error(send, error)


class BodyGuard:
    """ASGI middleware: read the whole body first, within ``read_timeout_s`` seconds (408)
    and ``max_bytes`` (413, also checked on ``Content-Length``), then check a JSON body
    (see the module docstring) before any handler parses it.

    >>> BodyGuard(app=None, max_bytes=10, read_timeout_s=5).max_bytes
    10
    """

    def __init__(self, app: ASGIApp, max_bytes: int, read_timeout_s: float = 10.0) -> None:
        self.app = app
        self.max_bytes = int(max_bytes)
        self.read_timeout_s = float(read_timeout_s)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await send_error(send, self._too_large(int(declared)))
            return
        if scope.get("method") not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        try:
            body = await asyncio.wait_for(self._read(receive), self.read_timeout_s)
        except TimeoutError:
            error = ApiError(
                408,
                f"the request body did not arrive within read_timeout_s={self.read_timeout_s:g} "
                "seconds",
                field="body",
                fix="send the whole body at once (as many bytes as Content-Length says), or "
                "start the server with a larger --read-timeout",
            )
            await send_error(send, error)
            return
        except ApiError as error:
            await send_error(send, error)
            return
        if body is None:  # the client went away
            return
        content_type = headers.get(b"content-type", b"application/json").lower()
        if body and b"json" in content_type:
            error = check_json(body)
            if error is not None:
                await send_error(send, error, close=False)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # later calls wait for the disconnect, as usual

        await self.app(scope, replay, send)

    async def _read(self, receive: Receive) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                raise self._too_large(size)
            chunks.append(chunk)
            more = bool(message.get("more_body", False))
        return b"".join(chunks)

    def _too_large(self, size: int) -> ApiError:
        return ApiError(
            413,
            f"the request body has {size} bytes, more than max_body_bytes={self.max_bytes}",
            field="body",
            value=f"{size} bytes",
            fix="send less text per request, or start the server with a larger --max-body-bytes",
        )


class _Odd:
    """A JSON value that the routes must not see: a huge number or a NaN / Infinity."""

    def __init__(self, literal: str) -> None:
        self.literal = literal


def _number(literal: str) -> Any:
    if len(literal) > MAX_DIGITS:
        return _Odd(literal)
    return float(literal) if any(c in literal for c in ".eE") else int(literal)


def check_json(body: bytes) -> ApiError | None:
    """The 422 for a JSON body that the routes cannot read safely, or ``None``.

    >>> check_json(b'{"temperature": NaN}').field
    'temperature'
    >>> check_json(b'{"texts": ["ok"]}') is None
    True
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        # Decode again keeping the bad bytes as surrogates, to name the field that has them.
        text = body.decode("utf-8", "surrogateescape")
        where = f"byte {body[exc.start]:#04x} at position {exc.start}"
    else:
        where = None
    outside = _STRING.sub('""', text).encode("utf-8", "surrogateescape")
    marks = np.frombuffer(outside, dtype=np.uint8)
    steps = np.isin(marks, (ord("["), ord("{"))).astype(np.int32) - np.isin(
        marks, (ord("]"), ord("}"))
    )
    depth = int(np.cumsum(steps).max()) if len(steps) else 0
    if depth > MAX_DEPTH:
        return ApiError(
            422,
            f"the body nests arrays and objects {depth} deep, more than {MAX_DEPTH}",
            field="body",
            value=f"{depth} levels",
            fix="send the flat JSON object that /docs shows for this endpoint",
        )
    try:
        data = json.loads(text, parse_int=_number, parse_float=_number, parse_constant=_Odd)
    except (ValueError, RecursionError):
        data = None  # not JSON: the route's own parser answers 422 "not valid JSON"
    found = _find_odd(data, "") if data is not None else None
    if found is None:
        if where is None:
            return None
        found = ("body", None)
    name, value = found
    if isinstance(value, _Odd):
        literal = value.literal
        if literal in ("NaN", "Infinity", "-Infinity"):
            message, fix = f"{name} is {literal}, which JSON does not allow", "give a finite number"
        else:
            message = f"{name} is a number of {len(literal)} characters, more than {MAX_DIGITS}"
            fix = "give a number of ordinary size"
        return ApiError(422, message, field=name, value=literal[:40], fix=fix)
    what = f"bytes that are not UTF-8 ({where})" if where else "a lone surrogate (not Unicode)"
    return ApiError(
        422,
        f"{name} holds {what}",
        field=name,
        value=value,
        fix="send the JSON as UTF-8 text, without lone \\ud800-\\udfff escapes",
    )


def _find_odd(value: Any, path: str) -> tuple[str, Any] | None:
    # The first value the routes must not see, with its field name (texts[2], seed, ...).
    if isinstance(value, _Odd):
        return path or "body", value
    if isinstance(value, str):
        return (path or "body", value) if _SURROGATE.search(value) else None
    items: Iterable[tuple[str, Any]]
    if isinstance(value, dict):
        for key in value:
            if _SURROGATE.search(key):
                return (f"{path}.{key}" if path else key), key
        items = ((f"{path}.{k}" if path else k, v) for k, v in value.items())
    elif isinstance(value, list):
        items = ((f"{path}[{i}]", v) for i, v in enumerate(value))
    else:
        return None
    for name, item in items:
        found = _find_odd(item, name)
        if found is not None:
            return found
    return None
