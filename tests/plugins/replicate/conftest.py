"""Fixtures of the Replicate plugin's tests: a gateway on an emulator whose clock they drive."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from replicate_support import INSTANCE, JOB_SECONDS, KEY, KEY_ENV, START, Clock

import reelgate_replicate
from reelgate.gateway import Gateway
from reelgate.testing import gateway_for
from reelgate_replicate.emulator import ReplicateEmulator, create_app


@pytest.fixture(name="clock")
def _clock() -> Clock:
    return Clock(START)


@pytest.fixture(name="emulator")
def _emulator(clock: Clock) -> ReplicateEmulator:
    return create_app(job_seconds=JOB_SECONDS, clock=clock, page_size=2)


@pytest.fixture(name="gateway")
async def _gateway(emulator: ReplicateEmulator) -> AsyncIterator[Gateway]:
    retry = {"attempts": 2, "wait_initial": 0.01, "wait_max": 0.02, "wait_jitter": 0.0}
    async with gateway_for(
        "replicate",
        plugin=reelgate_replicate,
        app=emulator,
        base_url="http://api.emulator.test",
        settings={"poll_interval": 0.01, "retry": retry},
        keys={KEY_ENV: KEY},
        instance=INSTANCE,
    ) as gateway:
        yield gateway


@pytest.fixture(name="provider")
def _provider(gateway: Gateway) -> reelgate_replicate.ReplicateProvider:
    provider = gateway.instance(INSTANCE).provider
    assert isinstance(provider, reelgate_replicate.ReplicateProvider)
    return provider
