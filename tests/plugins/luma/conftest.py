"""Fixtures of the Luma plugin's tests: a gateway on an emulator whose clock they drive."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from luma_support import BASE_URL, INSTANCE, JOB_SECONDS, KEY, KEY_ENV, Clock

import reelgate_luma
from reelgate.emulation import FaultMiddleware
from reelgate.gateway import Gateway
from reelgate.testing import gateway_for
from reelgate_luma.emulator import create_app


@pytest.fixture(name="clock")
def _clock() -> Clock:
    return Clock()


@pytest.fixture(name="emulator")
def _emulator(clock: Clock) -> FaultMiddleware:
    return create_app(job_seconds=JOB_SECONDS, clock=clock)


@pytest.fixture(name="gateway")
async def _gateway(emulator: FaultMiddleware) -> AsyncIterator[Gateway]:
    retry = {"attempts": 3, "timeout": 5.0, "wait_initial": 0.01, "wait_max": 0.02}
    async with gateway_for(
        "luma",
        plugin=reelgate_luma,
        app=emulator,
        base_url=BASE_URL,
        settings={"poll_interval": 0.01, "retry": retry},
        keys={KEY_ENV: KEY},
        instance=INSTANCE,
    ) as gateway:
        yield gateway
