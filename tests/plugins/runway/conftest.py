"""Fixtures of the Runway plugin's tests."""

from __future__ import annotations

import pytest


@pytest.fixture(name="anyio_backend", params=["asyncio", "trio"])
def _anyio_backend(request: pytest.FixtureRequest) -> str:
    """Every async test runs under asyncio and trio."""
    return str(request.param)
