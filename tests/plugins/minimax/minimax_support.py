"""What the MiniMax plugin's tests share besides fixtures: the test instance, a clock, calls."""

from __future__ import annotations

from typing import Any

import httpx2

import reelgate
import reelgate_minimax
from reelgate.config import RetryPolicy, Secret
from reelgate.http import Upstream, make_client

KEY = "sk-minimax-test-0123456789abcdef"
KEY_ENV = "REELGATE_MINIMAX_TEST_KEY"
INSTANCE = "mm"
BASE_URL = "http://api.emulator.test/v1"
JOB_SECONDS = 10.0
FAST_RETRY = {"attempts": 3, "timeout": 10.0, "wait_initial": 0.01, "wait_max": 0.02}


class Clock:
    """The emulator's time, moved by the test."""

    def __init__(self) -> None:
        self.now = 1_795_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Let `seconds` pass."""
        self.now += seconds


def make_call(operation: str, model: str | None = None, **kwargs: Any) -> reelgate.Call:
    """A provider call of the test instance, with the test key."""
    key = Secret(KEY, name=KEY_ENV)
    return reelgate.Call(instance=INSTANCE, operation=operation, key=key, model=model, **kwargs)


def provider_on(
    transport: httpx2.AsyncBaseTransport | None, *, base_url: str = BASE_URL
) -> reelgate_minimax.MinimaxProvider:
    """A provider whose upstream is `transport` (an emulator, a canned answer, or sockets)."""
    upstream = Upstream(
        make_client(transport=transport),
        base_url,
        INSTANCE,
        retry=RetryPolicy(**FAST_RETRY),
        parse_error=reelgate_minimax.parse_error,
    )
    return reelgate_minimax.MinimaxProvider(upstream)


def answering(body: dict[str, Any], status: int = 200) -> httpx2.MockTransport:
    """A transport that answers every request with `body`."""
    return httpx2.MockTransport(lambda _request: httpx2.Response(status, json=body))
