"""Fixtures of the fal plugin's tests: a gateway on an emulator whose clock they drive."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fal_support import INSTANCE, JOB_SECONDS, KEY, KEY_ENV, START, Clock

import reelgate_fal
from reelgate.config import Config, InstanceConfig
from reelgate.gateway import Gateway
from reelgate.http import emulator_transport, make_client
from reelgate.plugins import Plugins
from reelgate.store import MemoryJobIndex
from reelgate_fal.emulator import FalEmulator, create_app


@pytest.fixture(name="clock")
def _clock() -> Clock:
    return Clock(START)


@pytest.fixture(name="emulator")
def _emulator(clock: Clock) -> FalEmulator:
    return create_app(job_seconds=JOB_SECONDS, clock=clock)


@pytest.fixture(name="gateway")
async def _gateway(
    emulator: FalEmulator, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Gateway]:
    monkeypatch.setenv(KEY_ENV, KEY)
    client = make_client(transport=emulator_transport(emulator))
    plugins = Plugins()
    plugins.register(reelgate_fal, name="fal")
    retry = {"attempts": 2, "wait_initial": 0.01, "wait_max": 0.02, "wait_jitter": 0.0}
    settings = {"base_url": "http://queue.emulator.test", "poll_interval": 0.01, "retry": retry}
    config = Config(
        instances=(
            InstanceConfig(name=INSTANCE, type="fal", key_env=(KEY_ENV,), settings=settings),
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
def _provider(gateway: Gateway) -> reelgate_fal.FalProvider:
    provider = gateway.instance(INSTANCE).provider
    assert isinstance(provider, reelgate_fal.FalProvider)
    return provider
