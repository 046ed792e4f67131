"""Request bodies of the ``seqlab serve`` API (unknown fields are refused)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

__all__ = ["ClassifyRequest", "GenerateRequest", "ProjectRequest"]


class ClassifyRequest(BaseModel):
    """Body of ``POST /v1/classify``."""

    model_config = ConfigDict(extra="forbid")
    texts: list[str]
    model: str | None = None
    explain: bool = True
    method: Literal["occlusion", "grad_x_input"] = "occlusion"


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
