"""Fixtures of the Runway plugin's tests: a gateway on an emulator whose clock they drive."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from runway_support import BASE_URL, INSTANCE, JOB_SECONDS, KEY, KEY_ENV, START, Clock, fast_retry

import reelgate_runway
from reelgate.config import Config, InstanceConfig
from reelgate.gateway import Gateway
from reelgate.http import emulator_transport, make_client
from reelgate.plugins import Plugins
from reelgate.store import MemoryJobIndex
from reelgate_runway.emulator import RunwayEmulator, create_app


@pytest.fixture(name="anyio_backend", params=["asyncio", "trio"])
def _anyio_backend(request: pytest.FixtureRequest) -> str:
    """Every async test runs under asyncio and trio."""
    return str(request.param)


@pytest.fixture(name="clock")
def _clock() -> Clock:
    return Clock(START)


@pytest.fixture(name="emulator")
def _emulator(clock: Clock) -> RunwayEmulator:
    return create_app(job_seconds=JOB_SECONDS, clock=clock, cancel_window=30.0, url_ttl=600.0)


@pytest.fixture(name="gateway")
async def _gateway(
    emulator: RunwayEmulator, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Gateway]:
    monkeypatch.setenv(KEY_ENV, KEY)
    client = make_client(transport=emulator_transport(emulator))
    plugins = Plugins()
    plugins.register(reelgate_runway, name="runway")
    settings = {"base_url": BASE_URL, "poll_interval": 0.01, "retry": fast_retry()}
    config = Config(
        instances=(
            InstanceConfig(name=INSTANCE, type="runway", key_env=(KEY_ENV,), settings=settings),
        ),
        default_instances=False,
    )
    gateway = Gateway(config, plugins=plugins, index=MemoryJobIndex(), http_client=client)
    assert not gateway.problems, gateway.problems
    try:
        yield gateway
    finally:
        await gateway.aclose()
        await client.aclose()


@pytest.fixture(name="provider")
def _provider(gateway: Gateway) -> reelgate_runway.RunwayProvider:
    provider = gateway.instance(INSTANCE).provider
    assert isinstance(provider, reelgate_runway.RunwayProvider)
    return provider
