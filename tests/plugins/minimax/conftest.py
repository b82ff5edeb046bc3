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
from reelgate.gateway import Gateway
from reelgate.http import emulator_transport
from reelgate.testing import gateway_for
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
async def _gateway(emulator: MinimaxEmulator) -> AsyncIterator[Gateway]:
    async with gateway_for(
        "minimax",
        plugin=reelgate_minimax,
        app=emulator,
        base_url=BASE_URL,
        settings={"poll_interval": 0.01, "retry": dict(FAST_RETRY)},
        keys={KEY_ENV: KEY},
        instance=INSTANCE,
    ) as gateway:
        yield gateway
