"""Shared fixtures: both async backends, and every test with its own state and config dirs."""

from __future__ import annotations

import pytest

pytest_plugins = ["reelgate.testing"]


@pytest.fixture(name="anyio_backend", params=["asyncio", "trio"])
def _anyio_backend(request: pytest.FixtureRequest) -> str:
    """Every async test runs under asyncio and under trio."""
    return str(request.param)


@pytest.fixture(autouse=True)
def _isolated_state(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keep every test away from the user's state, configuration and keys."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("REELGATE_STATE_DIR", str(home / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.chdir(home)
    for name in (
        "REELGATE_CONFIG",
        "REELGATE_PLUGINS",
        "REELGATE_DISABLE_PLUGINS",
        "REELGATE_INDEX_URL",
    ):
        monkeypatch.delenv(name, raising=False)
