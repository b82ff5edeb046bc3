"""Fixtures of the reelgate-gemini tests: an emulator and gateways wired to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import pytest

import reelgate_gemini
from reelgate import Gateway
from reelgate.config import Config, InstanceConfig
from reelgate.http import emulator_transport, make_client
from reelgate.outbound import ALLOW_PRIVATE_ENV
from reelgate.plugins import Plugins
from reelgate.store import MemoryJobIndex
from reelgate_gemini.emulator import GoogleEmulator, create_app

KEY = "AIza-reelgate-test-key-0123456789"
OTHER_KEY = "AIza-reelgate-test-key-9876543210"

Connect = Callable[..., Awaitable[Gateway]]


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Every async test runs under asyncio and trio."""
    return str(request.param)


@pytest.fixture(name="emulator")
def _emulator() -> GoogleEmulator:
    """A fresh emulator whose jobs finish almost at once."""
    return create_app(job_seconds=0.05)


@pytest.fixture(name="connect")
async def _connect(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Connect]:
    """
    Builds a gateway with one instance (``g``) wired to an emulator app.

    The app is reached in-process, unless ``loopback`` says that the settings' base URL
    is a real server.
    """
    opened: list[tuple[Gateway, Any]] = []
    monkeypatch.setenv("REELGATE_GEMINI_TEST_KEY", KEY)
    monkeypatch.setenv("REELGATE_GEMINI_OTHER_KEY", OTHER_KEY)
    # The image host (images.test) is in-process: nothing to resolve, nothing private.
    monkeypatch.setenv(ALLOW_PRIVATE_ENV, "1")
    for name in (
        "GEMINI_API_KEY",
        "GOOGLE_API_KEY",
        "VERTEX_API_KEY",
        "GOOGLE_CLOUD_PROJECT",
        "GOOGLE_APPLICATION_CREDENTIALS",
    ):
        monkeypatch.delenv(name, raising=False)

    async def connect(
        app: Any,
        provider_type: str = "gemini",
        *,
        settings: dict[str, Any] | None = None,
        key_env: Sequence[str] = ("REELGATE_GEMINI_TEST_KEY",),
        loopback: bool = False,
    ) -> Gateway:
        client = make_client() if loopback else make_client(transport=emulator_transport(app))
        base = {"base_url": "http://emulator.test", "poll_interval": 0.01}
        if provider_type == "vertex":
            base.update(project="reelgate-test", location="us-central1")
        retry = {"attempts": 2, "wait_initial": 0.01, "wait_max": 0.02, "wait_jitter": 0.0}
        instance = InstanceConfig(
            name="g",
            type=provider_type,
            key_env=tuple(key_env),
            settings={**base, "retry": retry, **(settings or {})},
        )
        plugins = Plugins()
        plugins.register(reelgate_gemini, name="gemini")
        config = Config(instances=(instance,), default_instances=False)
        gateway = Gateway(config, plugins=plugins, index=MemoryJobIndex(), http_client=client)
        opened.append((gateway, client))
        assert not gateway.problems, gateway.problems
        return gateway

    yield connect
    for gateway, client in opened:
        await gateway.aclose()
        await client.aclose()
