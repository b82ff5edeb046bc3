"""What the ByteDance plugin's tests share besides fixtures: the test instance and a clock."""

from __future__ import annotations

from typing import Any

import reelgate
from reelgate.config import Secret

KEY = "ark-test-0123456789abcdef"
KEY_ENV = "REELGATE_ARK_TEST_KEY"
INSTANCE = "ark"
BASE_URL = "http://api.emulator.test/api/v3"
JOB_SECONDS = 10.0
START = 1_795_000_000.0
FAST_RETRY = {"attempts": 3, "timeout": 10.0, "wait_initial": 0.01, "wait_max": 0.02}


class Clock:
    """The emulator's time, moved by the test."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Let `seconds` pass."""
        self.now += seconds


def make_call(operation: str, model: str | None = None, **kwargs: Any) -> reelgate.Call:
    """A provider call of the test instance, with the test key."""
    key = Secret(KEY, name=KEY_ENV)
    return reelgate.Call(instance=INSTANCE, operation=operation, key=key, model=model, **kwargs)
