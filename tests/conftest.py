"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real datasets folder `<repo>/../shared/data`; skips the test when it is absent."""
    path = (REPO.parent / "shared" / "data").resolve()
    if not path.is_dir():
        pytest.skip(f"real data not found at {path} (CI has ../shared/data beside the clone)")
    return path


@pytest.fixture(scope="session")
def real_imdb_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SEQLAB_CACHE folder shared by the slow real-IMDB tests, so the archive is parsed once."""
    return tmp_path_factory.mktemp("real-imdb-cache")
