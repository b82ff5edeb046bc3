"""Fixtures of the Kling plugin's tests: a gateway on an emulator whose clock they drive."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from kling_support import (
    ACCESS,
    ACCESS_ENV,
    BASE_URL,
    INSTANCE,
    JOB_SECONDS,
    SECRET,
    SECRET_ENV,
    Clock,
)

import reelgate_kling
from reelgate.config import Config, InstanceConfig
from reelgate.emulation import FaultMiddleware
from reelgate.gateway import Gateway
from reelgate.http import emulator_transport, make_client
from reelgate.plugins import Plugins
from reelgate.store import MemoryJobIndex
from reelgate_kling.emulator import create_app


@pytest.fixture(name="clock")
def _clock() -> Clock:
    return Clock()


@pytest.fixture(name="emulator")
def _emulator(clock: Clock) -> FaultMiddleware:
    return create_app(job_seconds=JOB_SECONDS, clock=clock, accounts={ACCESS: SECRET})


@pytest.fixture(name="gateway")
async def _gateway(
    emulator: FaultMiddleware, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Gateway]:
    monkeypatch.setenv(ACCESS_ENV, ACCESS)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    client = make_client(transport=emulator_transport(emulator))
    plugins = Plugins()
    plugins.register(reelgate_kling, name="kling")
    retry = {"attempts": 3, "timeout": 5.0, "wait_initial": 0.01, "wait_max": 0.02}
    settings = {
        "base_url": BASE_URL,
        "poll_interval": 0.01,
        "retry": retry,
        "secret_key_env": SECRET_ENV,
    }
    config = Config(
        instances=(
            InstanceConfig(name=INSTANCE, type="kling", key_env=(ACCESS_ENV,), settings=settings),
        ),
        default_instances=False,
    )
    gateway = Gateway(config, plugins=plugins, index=MemoryJobIndex(), http_client=client)
    assert not gateway.problems, gateway.problems
    provider = gateway.instance(INSTANCE).provider
    assert isinstance(provider, reelgate_kling.KlingProvider)
    provider.auth.clock = clock
    try:
        yield gateway
    finally:
        await gateway.aclose()
        await client.aclose()
