"""Server-sent events of a streamed response, for the serve tests."""

from __future__ import annotations

import json


def sse_events(text: str) -> list[tuple[str, dict]]:
    """``event: NAME`` / ``data: JSON`` blocks as ``(name, data)`` pairs."""
    out = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        out.append((lines["event"], json.loads(lines["data"])))
    return out
