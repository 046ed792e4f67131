"""``GET /v1/neighbors`` and ``POST /v1/project``: explore word vectors."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI

from seqlab.serve.errors import ApiError
from seqlab.serve.limits import Limits, check_word
from seqlab.serve.registry import ServedModel, pick
from seqlab.serve.schemas import ProjectRequest
from seqlab.serve.work import Clock, Deadline, until

__all__ = ["add_routes"]


def add_routes(app: FastAPI, models: dict[str, ServedModel], limits: Limits, clock: Clock) -> None:
    """Add ``GET /v1/neighbors`` and ``POST /v1/project`` to ``app``."""

    @app.get("/v1/neighbors")
    async def neighbors(word: str, topn: int = 10, model: str | None = None) -> dict[str, Any]:
        """The ``topn`` nearest words (cosine similarity) of ``word``."""
        served = pick(models, model, "embeddings")
        check_word("word", word)
        if not 1 <= topn <= limits.max_topn:
            raise ApiError(
                422,
                f"topn={topn} is outside [1, max_topn={limits.max_topn}]",
                field="topn",
                value=topn,
                fix=f"ask for 1 to {limits.max_topn} neighbours",
            )
        kv = served.obj
        if word not in kv:
            suggestions = kv.suggest(word)
            hint = f"did you mean {', '.join(map(repr, suggestions))}?" if suggestions else None
            raise ApiError(
                404,
                f"word {word!r} is not in the vocabulary of {served.name!r}",
                field="word",
                value=word,
                fix=hint or "check the spelling (vectors are often lower-case)",
            )
        deadline = Deadline(limits.timeout_s, clock)
        search = asyncio.to_thread(kv.most_similar, word, topn=topn)
        pairs = await until(search, deadline, "searching neighbours")
        return {
            "model": served.name,
            "word": word,
            "neighbors": [{"word": w, "similarity": float(s)} for w, s in pairs],
        }

    @app.post("/v1/project")
    async def project(body: ProjectRequest) -> dict[str, Any]:
        """2-D coordinates (PCA of the vectors) of the known ``words``; unknown words are
        listed in ``missing``."""
        from seqlab.embeddings.plots import pca_2d

        served = pick(models, body.model, "embeddings")
        if len(body.words) > limits.max_words:
            raise ApiError(
                422,
                f"words holds {len(body.words)} words, more than max_words={limits.max_words}",
                field="words",
                value=f"{len(body.words)} words",
                fix=f"send at most {limits.max_words} words",
            )
        for i, word in enumerate(body.words):
            check_word(f"words[{i}]", word)
        kv = served.obj
        unique = list(dict.fromkeys(body.words))
        known = [w for w in unique if w in kv]
        missing = [w for w in unique if w not in kv]
        if len(known) < 2:
            raise ApiError(
                422,
                f"only {len(known)} of the words are in the vocabulary of {served.name!r} "
                f"(unknown: {missing})",
                field="words",
                value=body.words,
                fix="give at least 2 words that the vectors know",
            )
        points = pca_2d(kv[known])
        return {
            "model": served.name,
            "points": [
                {"word": w, "x": float(x), "y": float(y)} for w, (x, y) in zip(known, points)
            ],
            "missing": missing,
        }
