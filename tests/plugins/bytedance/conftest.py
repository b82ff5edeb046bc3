"""Fixtures of the ByteDance plugin's tests: a gateway on an emulator whose clock they drive."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from bytedance_support import BASE_URL, FAST_RETRY, INSTANCE, JOB_SECONDS, KEY, KEY_ENV, Clock

import reelgate_bytedance
from reelgate.gateway import Gateway
from reelgate.testing import gateway_for
from reelgate_bytedance.emulator import BytedanceEmulator, create_app


@pytest.fixture(name="clock")
def _clock() -> Clock:
    return Clock()


@pytest.fixture(name="emulator")
def _emulator(clock: Clock) -> BytedanceEmulator:
    return create_app(job_seconds=JOB_SECONDS, clock=clock)


@pytest.fixture(name="gateway")
async def _gateway(emulator: BytedanceEmulator) -> AsyncIterator[Gateway]:
    async with gateway_for(
        "bytedance",
        plugin=reelgate_bytedance,
        app=emulator,
        base_url=BASE_URL,
        settings={"poll_interval": 0.01, "retry": dict(FAST_RETRY)},
        keys={KEY_ENV: KEY},
        instance=INSTANCE,
    ) as gateway:
        yield gateway
