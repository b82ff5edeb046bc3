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
from reelgate.emulation import FaultMiddleware
from reelgate.gateway import Gateway
from reelgate.testing import gateway_for
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
    # The secret is a setting naming its variable, not a key in rotation: only the access
    # key goes to `keys`.
    monkeypatch.setenv(SECRET_ENV, SECRET)
    retry = {"attempts": 3, "timeout": 5.0, "wait_initial": 0.01, "wait_max": 0.02}
    async with gateway_for(
        "kling",
        plugin=reelgate_kling,
        app=emulator,
        base_url=BASE_URL,
        settings={"poll_interval": 0.01, "retry": retry, "secret_key_env": SECRET_ENV},
        keys={ACCESS_ENV: ACCESS},
        instance=INSTANCE,
    ) as gateway:
        provider = gateway.instance(INSTANCE).provider
        assert isinstance(provider, reelgate_kling.KlingProvider)
        provider.auth.clock = clock
        yield gateway
