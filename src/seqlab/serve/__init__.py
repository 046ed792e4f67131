"""Serve trained runs over HTTP, with a web page on top: ``seqlab serve RUN [RUN ...]``.

Needs the ``serve`` extra (``pip install 'seqlab[serve]'``: FastAPI and uvicorn).

>>> from seqlab.serve import create_app  # doctest: +SKIP
>>> app = create_app(["runs/demo"])  # doctest: +SKIP
>>> import uvicorn; uvicorn.run(app, host="127.0.0.1", port=8000)  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any

from seqlab.serve.batching import MicroBatcher

__all__ = ["ApiError", "Limits", "MicroBatcher", "ServedModel", "create_app", "load_models"]

INSTALL_HINT = "seqlab serve needs FastAPI and uvicorn: pip install 'seqlab[serve]'"


def __getattr__(name: str) -> Any:
    # Lazy, so that `import seqlab.serve` (and the batcher) work without FastAPI installed,
    # and a missing FastAPI is reported with the command that installs it.
    if name in {"ApiError", "Limits", "ServedModel", "create_app", "load_models"}:
        try:
            module = importlib.import_module("seqlab.serve.app")
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.split(".")[0] in {"fastapi", "starlette", "pydantic"}:
                raise ImportError(f"{INSTALL_HINT} (missing: {exc.name})") from exc
            raise
        return getattr(module, name)
    raise AttributeError(f"module 'seqlab.serve' has no attribute {name!r}")


def __dir__() -> list[str]:
    # PEP 562: dir() shows the public names, not the helpers this module imports.
    return list(__all__)
