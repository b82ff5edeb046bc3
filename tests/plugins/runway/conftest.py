"""Fixtures of the Runway plugin's tests: a gateway on an emulator whose clock they drive."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from runway_support import BASE_URL, INSTANCE, JOB_SECONDS, KEY, KEY_ENV, START, Clock, fast_retry

import reelgate_runway
from reelgate.gateway import Gateway
from reelgate.testing import gateway_for
from reelgate_runway.emulator import RunwayEmulator, create_app


@pytest.fixture(name="clock")
def _clock() -> Clock:
    return Clock(START)


@pytest.fixture(name="emulator")
def _emulator(clock: Clock) -> RunwayEmulator:
    return create_app(job_seconds=JOB_SECONDS, clock=clock, cancel_window=30.0, url_ttl=600.0)


@pytest.fixture(name="gateway")
async def _gateway(emulator: RunwayEmulator) -> AsyncIterator[Gateway]:
    async with gateway_for(
        "runway",
        plugin=reelgate_runway,
        app=emulator,
        base_url=BASE_URL,
        settings={"poll_interval": 0.01, "retry": fast_retry()},
        keys={KEY_ENV: KEY},
        instance=INSTANCE,
    ) as gateway:
        yield gateway


@pytest.fixture(name="provider")
def _provider(gateway: Gateway) -> reelgate_runway.RunwayProvider:
    provider = gateway.instance(INSTANCE).provider
    assert isinstance(provider, reelgate_runway.RunwayProvider)
    return provider
