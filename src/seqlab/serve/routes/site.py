"""``GET /v1/models``, the web page at ``/`` and its static files."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from seqlab.serve.limits import Limits
from seqlab.serve.registry import ServedModel

__all__ = ["add_routes"]

STATIC = Path(__file__).resolve().parent.parent / "static"


def add_routes(app: FastAPI, models: dict[str, ServedModel], limits: Limits, batch: bool) -> None:
    """Add ``GET /v1/models``, ``GET /`` and ``/static`` to ``app``."""

    @app.get("/v1/models")
    async def list_models() -> dict[str, Any]:
        """The loaded models (name, kind, metadata, queue), the limits, and whether batching
        is on."""
        return {
            "models": [m.describe() for m in models.values()],
            "limits": asdict(limits),
            "batching": batch,
        }

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
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
