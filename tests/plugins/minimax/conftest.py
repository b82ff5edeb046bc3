"""Fixtures of the MiniMax plugin's tests: a provider and a gateway on an emulator with a clock."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from minimax_support import (
    BASE_URL,
    FAST_RETRY,
    INSTANCE,
    JOB_SECONDS,
    KEY,
    KEY_ENV,
    Clock,
    provider_on,
)

import reelgate_minimax
from reelgate.config import Config, InstanceConfig
from reelgate.gateway import Gateway
from reelgate.http import emulator_transport, make_client
from reelgate.plugins import Plugins
from reelgate.store import MemoryJobIndex
from reelgate_minimax.emulator import MinimaxEmulator, create_app


@pytest.fixture(name="clock")
def _clock() -> Clock:
    return Clock()


@pytest.fixture(name="emulator")
def _emulator(clock: Clock) -> MinimaxEmulator:
    return create_app(job_seconds=JOB_SECONDS, clock=clock)


@pytest.fixture(name="provider")
def _provider(emulator: MinimaxEmulator) -> reelgate_minimax.MinimaxProvider:
    return provider_on(emulator_transport(emulator))


@pytest.fixture(name="gateway")
async def _gateway(
    emulator: MinimaxEmulator, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Gateway]:
    monkeypatch.setenv(KEY_ENV, KEY)
    client = make_client(transport=emulator_transport(emulator))
    plugins = Plugins()
    plugins.register(reelgate_minimax, name="minimax")
    settings = {"base_url": BASE_URL, "poll_interval": 0.01, "retry": dict(FAST_RETRY)}
    config = Config(
        instances=(
            InstanceConfig(name=INSTANCE, type="minimax", key_env=(KEY_ENV,), settings=settings),
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
