"""Running the app under uvicorn with the connection-level limits of ``seqlab serve``.

uvicorn closes idle keep-alive connections (``timeout_keep_alive``) and answers 503 past
``limit_concurrency`` connections, but it waits for a request's headers forever: a client
that sends half a request line holds its connection (and its memory) as long as it likes.
:class:`GuardedH11Protocol` answers 408 and closes a connection whose headers are not
complete ``read_timeout_s`` after it opened (or after its previous response), and logs
connections that a client resets in the middle of a request. The body's own timeout is
:class:`seqlab.serve.middleware.BodyGuard`'s.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from seqlab.serve.errors import ApiError

__all__ = ["GuardedH11Protocol", "protocol_class", "server_config"]

log = logging.getLogger("seqlab.serve")


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a header read timeout (408) and logged resets; the
    timeout is the class attribute ``read_timeout_s`` (see :func:`protocol_class`)."""

    read_timeout_s: float = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def handle_events(self) -> None:
        super().handle_events()
        if self.conn.their_state is not h11.IDLE:  # the headers are in
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()  # the next request's headers get the same time

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self.cycle is not None and not self.cycle.response_complete:
            who = f"{self.client[0]}:{self.client[1]}" if self.client else "a client"
            what = f"{type(exc).__name__}: {exc}" if exc is not None else "closed by the client"
            path = self.scope.get("path", "?") if self.scope else "?"
            log.warning("connection from %s lost during %s (%s)", who, path, what)
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._header_timer = self.loop.call_later(self.read_timeout_s, self._headers_late)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_late(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        error = ApiError(
            408,
            f"the request headers did not arrive within read_timeout_s={self.read_timeout_s:g} "
            "seconds",
            field="headers",
            fix="send the whole request at once, or start the server with a larger --read-timeout",
        )
        payload = json.dumps(error.body()).encode()
        head = (
            "HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
            f"content-length: {len(payload)}\r\nconnection: close\r\n\r\n"
        )
        self.transport.write(head.encode() + payload)
        self.transport.close()


def protocol_class(read_timeout_s: float) -> type[GuardedH11Protocol]:
    """A :class:`GuardedH11Protocol` subclass with ``read_timeout_s`` set."""
    return type("GuardedH11Protocol", (GuardedH11Protocol,), {"read_timeout_s": read_timeout_s})


def server_config(
    app: Any,
    host: str,
    port: int,
    *,
    read_timeout_s: float = 10.0,
    max_connections: int | None = 1000,
    keep_alive_s: int = 5,
    log_level: str = "info",
) -> uvicorn.Config:
    """The uvicorn configuration of ``seqlab serve``: ``read_timeout_s`` for headers (and,
    in the app, for bodies), at most ``max_connections`` open connections and running
    requests (503 past it), idle keep-alive connections closed after ``keep_alive_s``.

    >>> server_config(None, "127.0.0.1", 8000).limit_concurrency
    1000
    """
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=protocol_class(read_timeout_s),
        limit_concurrency=max_connections,
        timeout_keep_alive=keep_alive_s,
        log_level=log_level,
    )
