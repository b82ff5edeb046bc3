"""Fixtures of the ByteDance plugin's tests: a gateway on an emulator whose clock they drive."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from bytedance_support import BASE_URL, FAST_RETRY, INSTANCE, JOB_SECONDS, KEY, KEY_ENV, Clock

import reelgate_bytedance
from reelgate.config import Config, InstanceConfig
from reelgate.gateway import Gateway
from reelgate.http import emulator_transport, make_client
from reelgate.plugins import Plugins
from reelgate.store import MemoryJobIndex
from reelgate_bytedance.emulator import BytedanceEmulator, create_app


@pytest.fixture(name="clock")
def _clock() -> Clock:
    return Clock()


@pytest.fixture(name="emulator")
def _emulator(clock: Clock) -> BytedanceEmulator:
    return create_app(job_seconds=JOB_SECONDS, clock=clock)


@pytest.fixture(name="gateway")
async def _gateway(
    emulator: BytedanceEmulator, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Gateway]:
    monkeypatch.setenv(KEY_ENV, KEY)
    client = make_client(transport=emulator_transport(emulator))
    plugins = Plugins()
    plugins.register(reelgate_bytedance, name="bytedance")
    settings = {"base_url": BASE_URL, "poll_interval": 0.01, "retry": dict(FAST_RETRY)}
    config = Config(
        instances=(
            InstanceConfig(name=INSTANCE, type="bytedance", key_env=(KEY_ENV,), settings=settings),
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
