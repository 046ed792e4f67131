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
